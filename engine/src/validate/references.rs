//! Validating templates: each compiles, and every variable it reads exists where it is read
//! (a declared param or var, a step the reader runs after, a config key or secret that is set).

use serde_json::Value;

use super::*;
use crate::diagnostic::Diagnostic;
use crate::model::Runbook;
use crate::source::Loc;
use crate::suggest::did_you_mean;
use crate::template::expression_text;
use crate::yaml::Node;

impl Validator<'_> {
    pub(super) fn templates_in(&mut self, node: &Node, runbook: &Runbook, site: Site) {
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

    pub(super) fn expression(
        &mut self,
        text: &str,
        loc: Loc,
        runbook: &Runbook,
        site: Site,
        field: &str,
    ) {
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
    pub(super) fn reference(&mut self, reference: &str, loc: Loc, runbook: &Runbook, site: Site) {
        let mut parts = reference.split('.');
        let root = parts.next().unwrap_or_default();
        let second = parts.next();
        let rest: Vec<&str> = reference.split('.').skip(1).collect();
        if BUILTIN_GLOBALS.contains(&root) {
            return;
        }
        let in_var = matches!(
            site,
            Site::Var { .. } | Site::Connection | Site::IncludeParams | Site::Requirement
        );
        let refused = self.refused_by_config.contains(&runbook.file);
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
                        Site::Requirement => Vec::new(),
                        _ => runbook.vars.iter().map(|v| v.name.as_str()).collect(),
                    };
                    if matches!(site, Site::Requirement) {
                        self.diags.push(
                            Diagnostic::new(loc, format!("`vars.{name}` cannot be read in `requires`: requirements are checked before vars are computed"))
                                .help("read the params, config or secrets the var is computed from"),
                        );
                    } else if !visible.contains(&name) {
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
                    && !refused
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
                    && !refused
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

    pub(super) fn step_reference(
        &mut self,
        target: Option<&str>,
        loc: Loc,
        site: Site,
        in_var: bool,
    ) {
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

pub(super) fn list_or_none(names: &[&str]) -> String {
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
