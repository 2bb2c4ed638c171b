//! Validate: everything that can be checked without contacting anything. Step kinds and their
//! inputs, connections, every template (compiles, and every variable it reads exists: a declared
//! param or var, a step the reader needs, a config key or secret that is set when those are given).

use serde_json::Value;

use crate::connection::CONNECTION_KINDS;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::kind::Registry;
use crate::model::Runbook;
use crate::program::Program;
use crate::schema_check::SchemaChecker;
use crate::source::{FileId, Loc};
use crate::suggest::did_you_mean;
use crate::template::Templates;

mod references;
mod step;

pub use references::lookup;

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
    let templates = Templates::new();
    let refused_by_config = refused_by_config(program, known, &templates);
    let mut v = Validator {
        program,
        registry,
        known,
        templates,
        diags: Diagnostics::default(),
        missing_config_reported: false,
        refused_by_config,
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
    /// Runbooks whose `requires:` already fail on the loaded config: their missing config keys
    /// are not reported, the refusal (when the runbook is planned or run) explains them.
    refused_by_config: Vec<FileId>,
}

fn refused_by_config(program: &Program, known: &KnownInputs, templates: &Templates) -> Vec<FileId> {
    let Some(config) = &known.config else {
        return Vec::new();
    };
    let empty = Value::Object(Default::default());
    let scope = crate::template::from_json(&serde_json::json!({
        "config": config,
        "secrets": known.secrets.as_ref().unwrap_or(&empty),
    }));
    program
        .runbooks
        .iter()
        .filter(|r| crate::requirements::refused_by_config(r, &scope, templates))
        .map(|r| r.file)
        .collect()
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
    /// A `requires:` entry: params, config, secrets and env, before any var is computed.
    Requirement,
}

impl Validator<'_> {
    fn runbook_level(&mut self, runbook: &Runbook) {
        for (position, var) in runbook.vars.iter().enumerate() {
            self.templates_in(&var.value, runbook, Site::Var { position });
        }
        // Requirements are checked once the vars are known, before anything runs.
        for requirement in &runbook.requires {
            let that = &requirement.that;
            self.expression(&that.text, that.loc, runbook, Site::Requirement, "that");
            let message = crate::yaml::Node {
                line: requirement.message_loc.line,
                column: requirement.message_loc.column,
                value: crate::yaml::NodeValue::Str(requirement.message.clone()),
            };
            self.templates_in(&message, runbook, Site::Requirement);
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
}
