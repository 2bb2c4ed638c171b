//! Validate: everything that can be checked without contacting anything. Step kinds and their
//! inputs, connections, every template (compiles, and every variable it reads exists: a declared
//! param or var, a step the reader needs, a config key or secret that is set when those are given).

use serde_json::Value;

use crate::connection::CONNECTION_KINDS;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::kind::Registry;
use crate::model::{ForEach, INCLUDE_KIND, Runbook};
use crate::program::Program;
use crate::schema_check::SchemaChecker;
use crate::source::Loc;
use crate::suggest::did_you_mean;
use crate::template::{Templates, expression_text};
use crate::yaml::Node;

/// The names a template can start with.
pub const SCOPE_ROOTS: &[&str] = &[
    "params", "vars", "config", "secrets", "env", "steps", "item", "index", "run",
];
/// Globals minijinja provides.
const BUILTIN_GLOBALS: &[&str] = &[
    "range",
    "dict",
    "namespace",
    "debug",
    "loop",
    "true",
    "false",
    "none",
];

/// Values outside the runbook that references can be checked against, when they are given.
#[derive(Debug, Clone, Default)]
pub struct KnownInputs {
    pub config: Option<Value>,
    /// For "looked in: ..." in messages.
    pub config_files: Vec<String>,
    pub secrets: Option<Value>,
    /// For "not set in ..." in messages.
    pub secrets_source: Option<String>,
    /// A config is needed (`plan`, `run`, `resume`), so reading `config` without one is one
    /// error that says to give it, rather than an "undefined" error at every template.
    pub config_required: bool,
}

impl Drop for KnownInputs {
    fn drop(&mut self) {
        if let Some(secrets) = &mut self.secrets {
            crate::wipe::wipe_value(secrets);
        }
    }
}

/// Validate an expanded program against the registered kinds and what is known of the inputs.
pub fn validate_program(
    program: &Program,
    registry: &Registry,
    known: &KnownInputs,
) -> Diagnostics {
    let mut v = Validator {
        program,
        registry,
        known,
        templates: Templates::new(),
        diags: Diagnostics::default(),
        missing_config_reported: false,
    };
    for runbook in &program.runbooks {
        v.runbook_level(runbook);
    }
    for step in 0..program.steps.len() {
        v.step(step);
    }
    v.diags
}

struct Validator<'a> {
    program: &'a Program,
    registry: &'a Registry,
    known: &'a KnownInputs,
    templates: Templates,
    diags: Diagnostics,
    missing_config_reported: bool,
}

/// Where a template sits, which decides what it may read.
#[derive(Clone, Copy)]
enum Site {
    /// A var: params, config, secrets, env, vars declared before it.
    Var { position: usize },
    /// A connection: like a var, and any var.
    Connection,
    /// A step's `with`, `when` or `for_each`.
    Step { step: usize, for_each: bool },
    /// An include step's `params`: evaluated in the including runbook before its steps run.
    IncludeParams,
}

impl Validator<'_> {
    fn runbook_level(&mut self, runbook: &Runbook) {
        for (position, var) in runbook.vars.iter().enumerate() {
            self.templates_in(&var.value, runbook, Site::Var { position });
        }
        for connection in &runbook.connections {
            let kinds: Vec<&str> = CONNECTION_KINDS.iter().map(|(k, _)| *k).collect();
            match CONNECTION_KINDS.iter().find(|(k, _)| *k == connection.kind) {
                None => self.diags.push(
                    Diagnostic::new(
                        connection.kind_loc,
                        format!("unknown connection kind `{}`", connection.kind),
                    )
                    .expected(format!("one of: {}", kinds.join(", ")))
                    .help_opt(did_you_mean(&connection.kind, kinds.iter().copied())),
                ),
                Some((kind, fields)) => {
                    for (key, value) in connection.fields.as_map().unwrap_or_default() {
                        if key.name == "timeout"
                            && let Some(text) =
                                value.as_str().filter(|t| !crate::template::is_template(t))
                            && let Err(e) = crate::duration::parse_duration(text)
                        {
                            self.diags.push(
                                Diagnostic::new(
                                    value.loc(runbook.file),
                                    format!("`timeout` of connection `{}`: {e}", connection.name),
                                )
                                .expected(crate::duration::EXPECTED),
                            );
                        }
                        if !fields.contains(&key.name.as_str()) {
                            self.diags.push(
                                Diagnostic::new(
                                    Loc::new(runbook.file, key.line, key.column),
                                    format!(
                                        "unknown field `{}` in a `{kind}` connection",
                                        key.name
                                    ),
                                )
                                .expected(format!("fields among: {}", fields.join(", ")))
                                .help_opt(did_you_mean(&key.name, fields.iter().copied())),
                            );
                        }
                    }
                }
            }
            self.templates_in(&connection.fields, runbook, Site::Connection);
        }
    }

    fn step(&mut self, index: usize) {
        let step = &self.program.steps[index];
        let runbook = self.program.runbook_of(index);
        let def = &step.def;
        let for_each = def.for_each.is_some();
        let site = Site::Step {
            step: index,
            for_each,
        };

        if def.uses == INCLUDE_KIND {
            self.include(index, runbook);
        } else {
            match self.registry.get(&def.uses) {
                None => {
                    let mut names: Vec<&str> = self.registry.names().collect();
                    names.push(INCLUDE_KIND);
                    self.diags.push(
                        Diagnostic::new(def.uses_loc, format!("unknown step kind `{}`", def.uses))
                            .help_opt(did_you_mean(&def.uses, names.iter().copied()))
                            .expected(format!("one of: {}", names.join(", "))),
                    );
                }
                Some(kind) => {
                    let schema = kind.input_schema();
                    let empty = Node {
                        line: def.with_loc.line,
                        column: def.with_loc.column,
                        value: crate::yaml::NodeValue::Map(Vec::new()),
                    };
                    let with = def
                        .with
                        .as_ref()
                        .filter(|n| n.as_map().is_some())
                        .unwrap_or(&empty);
                    let checker = SchemaChecker {
                        root: &schema,
                        file: runbook.file,
                        kind: kind.name(),
                    };
                    let mut found = Vec::new();
                    checker.check(with, &schema, "", &mut found);
                    self.diags.0.extend(found);
                    let literal = with.to_json();
                    for problem in kind.check(&literal) {
                        self.diags.push(Diagnostic::new(
                            def.with_loc,
                            format!("step `{}`: {problem}", def.id),
                        ));
                    }
                    if def.destructive == Some(false) && kind.destructive(&literal) {
                        self.diags.push(
                            Diagnostic::new(def.loc, format!("step `{}` says `destructive: false`, but `{}` with these inputs is destructive", def.id, def.uses))
                                .help("a runbook may mark a step destructive, not unmark one; remove `destructive: false`"),
                        );
                    }
                    if let Some(name) = with.get("connection").and_then(Node::as_str)
                        && !crate::template::is_template(name)
                        && !runbook.connections.iter().any(|c| c.name == name)
                    {
                        let names: Vec<&str> = runbook
                            .connections
                            .iter()
                            .map(|c| c.name.as_str())
                            .collect();
                        let loc = with
                            .get("connection")
                            .map(|n| n.loc(runbook.file))
                            .unwrap_or(def.with_loc);
                        self.diags.push(
                            Diagnostic::new(
                                loc,
                                format!(
                                    "step `{}` uses connection `{name}`, which is not declared",
                                    def.id
                                ),
                            )
                            .help_opt(
                                did_you_mean(name, names.iter().copied()).or_else(|| {
                                    Some(format!(
                                        "declare it under `connections:` (declared: {})",
                                        if names.is_empty() {
                                            "none".into()
                                        } else {
                                            names.join(", ")
                                        }
                                    ))
                                }),
                            ),
                        );
                    }
                    self.templates_in(with, runbook, site);
                }
            }
        }
        if let Some(when) = &def.when {
            self.expression(
                &when.text,
                when.loc,
                runbook,
                Site::Step {
                    step: index,
                    for_each: false,
                },
                "when",
            );
        }
        match &def.for_each {
            Some(ForEach::Expr(e)) => self.expression(
                &e.text,
                e.loc,
                runbook,
                Site::Step {
                    step: index,
                    for_each: false,
                },
                "for_each",
            ),
            Some(ForEach::List(node, _)) => self.templates_in(
                node,
                runbook,
                Site::Step {
                    step: index,
                    for_each: false,
                },
            ),
            None => {}
        }
        if let Some((from, loc)) = &def.resume_from {
            self.resume_from(index, from, *loc);
        }
    }

    /// `resume_from` names a step that runs before this one, so running again from it also runs
    /// this step again.
    fn resume_from(&mut self, index: usize, from: &str, loc: Loc) {
        let step = &self.program.steps[index];
        let me = &step.def.id;
        let ids: Vec<&str> = self
            .program
            .runbook_of(index)
            .steps
            .iter()
            .map(|s| s.id.as_str())
            .collect();
        let target = ids
            .contains(&from)
            .then(|| self.program.local(step.frame, from))
            .flatten();
        match target {
            None => self.diags.push(
                Diagnostic::new(
                    loc,
                    format!(
                        "step `{me}` resumes from `{from}`, which is not a step of this runbook"
                    ),
                )
                .help_opt(did_you_mean(from, ids.iter().copied()))
                .expected(format!("one of: {}", ids.join(", "))),
            ),
            Some(other) if !self.program.dag.is_ancestor(other, index) => self.diags.push(
                Diagnostic::new(
                    loc,
                    format!("step `{me}` resumes from `{from}`, which does not run before it"),
                )
                .expected(format!(
                    "a step that `{me}` needs, directly or through their needs"
                ))
                .help(format!(
                    "name a step `{me}` runs after, or add `{from}` to its `needs`"
                )),
            ),
            Some(_) => {}
        }
    }

    fn include(&mut self, index: usize, runbook: &Runbook) {
        let Some(child_frame) = self.program.steps[index].child_frame else {
            return;
        };
        let frame = &self.program.frames[child_frame];
        let child = &self.program.runbooks[frame.runbook];
        let def = &self.program.steps[index].def;
        let given: Vec<(String, Loc)> = frame
            .params
            .as_ref()
            .and_then(|p| p.as_map())
            .map(|m| {
                m.iter()
                    .map(|(k, _)| (k.name.clone(), Loc::new(runbook.file, k.line, k.column)))
                    .collect()
            })
            .unwrap_or_default();
        let declared: Vec<&str> = child.params.iter().map(|p| p.name.as_str()).collect();
        for (name, loc) in &given {
            if !declared.contains(&name.as_str()) {
                self.diags.push(
                    Diagnostic::new(
                        *loc,
                        format!("`{}` has no param `{name}`", child.path.display()),
                    )
                    .help_opt(did_you_mean(name, declared.iter().copied()))
                    .expected(format!("params among: {}", declared.join(", "))),
                );
            }
        }
        for param in child.params.iter().filter(|p| p.required) {
            if !given.iter().any(|(n, _)| *n == param.name) {
                self.diags.push(
                    Diagnostic::new(
                        def.with_loc,
                        format!(
                            "step `{}` does not pass the required param `{}` of `{}`",
                            def.id,
                            param.name,
                            child.path.display()
                        ),
                    )
                    .help(format!("add `{}: ...` under `with.params`", param.name)),
                );
            }
        }
        if let Some(params) = frame.params.clone() {
            self.templates_in(&params, runbook, Site::IncludeParams);
        }
    }

    fn templates_in(&mut self, node: &Node, runbook: &Runbook, site: Site) {
        let mut strings = Vec::new();
        node.for_each_string(&mut |s, n| strings.push((s.to_string(), n.loc(runbook.file))));
        for (text, loc) in strings {
            if !crate::template::is_template(&text) {
                continue;
            }
            match self.templates.template_references(&text) {
                Err(e) => self.diags.push(
                    Diagnostic::new(loc, format!("the template does not compile: {e}"))
                        .help("check the `{{ }}` and `{% %}` pairs; to keep braces literal (Helm or Go templates) wrap them in `{% raw %}...{% endraw %}`"),
                ),
                Ok(refs) => refs.iter().for_each(|r| self.reference(r, loc, runbook, site)),
            }
        }
    }

    fn expression(&mut self, text: &str, loc: Loc, runbook: &Runbook, site: Site, field: &str) {
        match self.templates.expression_references(expression_text(text)) {
            Err(e) => self.diags.push(
                Diagnostic::new(loc, format!("`{field}` is not a valid expression: {e}")).help(
                    "write an expression such as `params.restore_dashboards` or `params.databases`",
                ),
            ),
            Ok(refs) => refs
                .iter()
                .for_each(|r| self.reference(r, loc, runbook, site)),
        }
    }

    /// Check one dotted reference (`params.x`, `steps.y.outputs.z`, `config.a.b`).
    fn reference(&mut self, reference: &str, loc: Loc, runbook: &Runbook, site: Site) {
        let mut parts = reference.split('.');
        let root = parts.next().unwrap_or_default();
        let second = parts.next();
        let rest: Vec<&str> = reference.split('.').skip(1).collect();
        if BUILTIN_GLOBALS.contains(&root) {
            return;
        }
        let in_var = matches!(
            site,
            Site::Var { .. } | Site::Connection | Site::IncludeParams
        );
        match root {
            "params" => {
                if let Some(name) = second
                    && runbook.param(name).is_none()
                {
                    let names: Vec<&str> = runbook.params.iter().map(|p| p.name.as_str()).collect();
                    self.diags.push(
                        Diagnostic::new(loc, format!("`params.{name}` is not a declared param"))
                            .help_opt(did_you_mean(name, names.iter().copied()).or_else(|| {
                                Some(format!(
                                    "declare it under `params:` (declared: {})",
                                    list_or_none(&names)
                                ))
                            })),
                    );
                }
            }
            "vars" => {
                if let Some(name) = second {
                    let visible: Vec<&str> = match site {
                        Site::Var { position, .. } => runbook.vars[..position]
                            .iter()
                            .map(|v| v.name.as_str())
                            .collect(),
                        _ => runbook.vars.iter().map(|v| v.name.as_str()).collect(),
                    };
                    if !visible.contains(&name) {
                        let later = runbook.vars.iter().any(|v| v.name == name);
                        let message = if later {
                            format!("`vars.{name}` is declared after the var that reads it")
                        } else {
                            format!("`vars.{name}` is not a declared var")
                        };
                        let help = if later {
                            Some(format!(
                                "move `{name}` above this var: vars are evaluated in order"
                            ))
                        } else {
                            let which = if matches!(site, Site::Var { .. }) {
                                "declared before it"
                            } else {
                                "declared"
                            };
                            did_you_mean(name, visible.iter().copied()).or_else(|| {
                                Some(format!(
                                    "declare it under `vars:` ({which}: {})",
                                    list_or_none(&visible)
                                ))
                            })
                        };
                        self.diags
                            .push(Diagnostic::new(loc, message).help_opt(help));
                    }
                }
            }
            "config" => {
                if self.known.config.is_none()
                    && self.known.config_required
                    && !self.missing_config_reported
                {
                    self.missing_config_reported = true;
                    self.diags.push(
                        Diagnostic::new(
                            loc,
                            format!(
                                "this runbook reads the config (`config.{}` here, and maybe elsewhere), but no config directory was given",
                                rest.join(".")
                            ),
                        )
                        .help("give it with `--config-dir DIR --cluster sc|wc`, or set CK8S_CONFIG_PATH"),
                    );
                }
                if let (Some(config), Some(_)) = (&self.known.config, second)
                    && lookup(config, &rest).is_none()
                {
                    let looked = if self.known.config_files.is_empty() {
                        "no config files found".to_string()
                    } else {
                        self.known.config_files.join(", ")
                    };
                    self.diags.push(
                            Diagnostic::new(loc, format!("config key {} is not set (looked in: {looked})", rest.join(".")))
                                .help("set it in the config directory, or check the spelling against `runbook config show`"),
                        );
                }
            }
            "secrets" => {
                if let (Some(secrets), Some(_)) = (&self.known.secrets, second)
                    && lookup(secrets, &rest).is_none()
                {
                    let source = self
                        .known
                        .secrets_source
                        .clone()
                        .unwrap_or_else(|| "the secrets".into());
                    self.diags.push(
                            Diagnostic::new(loc, format!("secret {} is not set in {source}", rest.join(".")))
                                .help("add it to the secrets file (with `sops` when it is encrypted), or fix the key path"),
                        );
                }
            }
            "env" | "run" => {}
            "item" | "index" => match site {
                Site::Step { for_each: true, .. } => {}
                _ => self.diags.push(
                    Diagnostic::new(
                        loc,
                        format!("`{root}` is only defined in a step with `for_each`"),
                    )
                    .help("add `for_each:` to the step, or read the value from `params` or `vars`"),
                ),
            },
            "steps" => self.step_reference(second, loc, site, in_var),
            other => {
                let hyphenated = self
                    .program
                    .steps
                    .iter()
                    .find(|s| s.def.id.contains(&format!("-{other}")))
                    .map(|s| s.def.id.clone());
                let help = match hyphenated {
                    Some(id) => Some(format!(
                        "in a template `-` is a minus sign: write `steps.{}` or `steps['{id}']`",
                        id.replace('-', "_")
                    )),
                    None => did_you_mean(other, SCOPE_ROOTS.iter().copied()),
                };
                self.diags.push(
                    Diagnostic::new(loc, format!("`{other}` is undefined"))
                        .expected(format!(
                            "a reference starting with one of: {}",
                            SCOPE_ROOTS.join(", ")
                        ))
                        .help_opt(help),
                )
            }
        }
    }

    fn step_reference(&mut self, target: Option<&str>, loc: Loc, site: Site, in_var: bool) {
        let Some(target) = target else { return };
        let Site::Step { step, .. } = site else {
            if in_var {
                self.diags.push(
                    Diagnostic::new(loc, format!("`steps.{target}` cannot be read here: vars, connections and included runbooks' params are evaluated before any step runs"))
                        .help("read the step's outputs in the `with` of a later step instead"),
                );
            }
            return;
        };
        let frame = self.program.steps[step].frame;
        let me = &self.program.steps[step].def.id;
        match self.program.local(frame, target) {
            None => {
                let runbook = self.program.runbook_of(step);
                let ids: Vec<&str> = runbook.steps.iter().map(|s| s.id.as_str()).collect();
                self.diags.push(
                    Diagnostic::new(
                        loc,
                        format!("`steps.{target}` is not a step of this runbook"),
                    )
                    .help_opt(did_you_mean(target, ids.iter().copied())),
                );
            }
            Some(other) if !self.program.dag.is_ancestor(other, step) => self.diags.push(
                Diagnostic::new(
                    loc,
                    format!("step `{me}` reads `steps.{target}` but does not run after it"),
                )
                .expected(format!(
                    "`{target}` among the steps that `{me}` needs, directly or through their needs"
                ))
                .help(format!("add `{target}` to the `needs` of `{me}`")),
            ),
            Some(_) => {}
        }
    }
}

fn list_or_none(names: &[&str]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// Follow a dotted path into a JSON value.
pub fn lookup<'v>(value: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter().try_fold(value, |v, key| match v {
        Value::Object(map) => map.get(*key),
        Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}
