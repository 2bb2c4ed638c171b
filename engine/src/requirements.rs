//! A runbook's `requires:`: what must hold of the inputs for it to apply at all, such as the
//! releases it supports. They are checked before anything runs, before the runbook's vars are
//! computed (a var of an unsupported release may not even compute), and a runbook that does not
//! apply is refused with its own message rather than with the missing keys it would trip over.

use minijinja::Value as MjValue;

use crate::diagnostic::Diagnostic;
use crate::model::Runbook;
use crate::template::{Templates, expression_text};

/// The refusals of every requirement of `runbook` that does not hold in `scope` (params,
/// config, secrets, env). A requirement that cannot be evaluated is reported as such.
pub fn unmet(runbook: &Runbook, scope: &MjValue, templates: &Templates) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for requirement in &runbook.requires {
        let that = &requirement.that;
        match templates.eval_bool(&that.text, scope) {
            Ok(true) => {}
            Ok(false) => {
                let message = templates
                    .render_str(&requirement.message, scope)
                    .map(|v| match v {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    })
                    .unwrap_or_else(|_| requirement.message.clone());
                out.push(
                    Diagnostic::new(
                        that.loc,
                        format!("`{}` does not apply here: {message}", runbook.name),
                    )
                    .expected(format!("`{}` to hold", expression_text(&that.text))),
                );
            }
            Err(e) => out.push(
                Diagnostic::new(that.loc, format!("requirement `{}`: {e}", that.text)).help(
                    "a requirement reads params, config, secrets and env; guard a key that may be missing with `is defined`",
                ),
            ),
        }
    }
    out
}

/// Whether a requirement that reads only the config and secrets already fails with these:
/// validation then leaves the runbook's missing config keys to the refusal, which explains them.
pub fn refused_by_config(runbook: &Runbook, scope: &MjValue, templates: &Templates) -> bool {
    runbook.requires.iter().any(|requirement| {
        let text = expression_text(&requirement.that.text);
        let reads_only_inputs = templates.expression_references(text).is_ok_and(|refs| {
            refs.iter().all(|r| {
                let root = r.split('.').next().unwrap_or_default();
                matches!(root, "config" | "secrets")
            })
        });
        reads_only_inputs && matches!(templates.eval_bool(text, scope), Ok(false))
    })
}
