//! From a validated program and its inputs to a [`Plan`]: each step's inputs rendered with what
//! is known before the run, run-time values shown as placeholders, connections with their TLS
//! choices.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::connection::Connection;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::error::TemplateError;
use crate::kind::Registry;
use crate::model::ForEach;
use crate::program::Program;
use crate::redact::Redactor;
use crate::scope::{FrameScope, Inputs, RunInfo, resolve_frames};
use crate::template::{Templates, expression_text, map_strings};

use super::{Plan, PlannedConnection, PlannedStep};

pub fn build_plan(
    program: &Program,
    registry: &Registry,
    inputs: &Inputs,
) -> Result<Plan, Diagnostics> {
    let redactor = Arc::new(Redactor::new());
    let templates = Templates::new();
    let run = RunInfo {
        id: "⟨run.id⟩".into(),
        started_at: "⟨run.started_at⟩".into(),
    };
    let frames = resolve_frames(program, inputs, &run, &templates, &redactor, true)?;
    let mut diags = Diagnostics::default();
    let mut waves = Vec::new();
    let mut destructive = Vec::new();
    for wave in program.dag.waves() {
        let mut planned = Vec::new();
        for step in wave {
            let p = plan_step(
                program, registry, &frames, &templates, &redactor, step, &mut diags,
            );
            if p.destructive {
                destructive.push(p.id.clone());
            }
            planned.push(p);
        }
        waves.push(planned);
    }
    if !diags.is_empty() {
        return Err(diags.redacted(&redactor));
    }
    let connections = frames
        .iter()
        .flat_map(|f| f.connections.0.iter())
        .map(|c| planned_connection(c, inputs, &redactor))
        .collect();
    Ok(Plan {
        runbook: program.root().name.clone(),
        path: program.root().path.display().to_string(),
        params: redacted_map(&redactor, &frames[0].params),
        vars: redacted_map(&redactor, &frames[0].vars),
        requires: program
            .root()
            .requires
            .iter()
            .map(|r| expression_text(&r.that.text).to_string())
            .collect(),
        connections,
        waves,
        destructive,
    })
}

fn redacted_map(redactor: &Redactor, map: &Map<String, Value>) -> Map<String, Value> {
    match redactor.redact_value(&Value::Object(map.clone())) {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn planned_connection(c: &Connection, inputs: &Inputs, redactor: &Redactor) -> PlannedConnection {
    let endpoint = ["url", "endpoint", "kubeconfig"]
        .iter()
        .find_map(|f| c.str(f))
        .map(|s| redactor.redact(s));
    PlannedConnection {
        name: c.name.clone(),
        kind: c.kind.clone(),
        endpoint,
        insecure: c.insecure(),
        plain_http: c
            .str("url")
            .or_else(|| c.str("endpoint"))
            .is_some_and(|u| u.trim_start().to_ascii_lowercase().starts_with("http://")),
        ca_file: c.str("ca_file").map(str::to_string),
        problem: (c.kind == "kubernetes")
            .then(|| inputs.missing_kubeconfig(&c.fields))
            .flatten()
            .map(|why| format!("{why}; `run` refuses to start")),
    }
}

/// Whether an expression or template reads step outputs (then it can only be decided at run time).
fn reads_steps(templates: &Templates, text: &str, expression: bool) -> bool {
    let refs = if expression {
        templates.expression_references(expression_text(text))
    } else {
        templates.template_references(text)
    };
    refs.map(|r| r.iter().any(|v| v == "steps" || v.starts_with("steps.")))
        .unwrap_or(false)
}

/// Render a step's `with` for the plan. A value computed from what earlier steps output (say
/// `{{ steps.count.outputs.stdout | int }}`) can only be computed at run time: filters applied to
/// a placeholder may fail, so such a value is shown as its expression, `⟨…⟩`, instead of failing
/// the plan. Any other rendering error is a real problem in the runbook and is reported.
fn render_planned(
    templates: &Templates,
    value: &Value,
    scope: &minijinja::Value,
    item_is_placeholder: bool,
) -> Result<Value, TemplateError> {
    map_strings(value, &|s| {
        let run_time = || reads_run_time_values(templates, s, item_is_placeholder);
        match templates.render_str(s, scope) {
            // Computed from a placeholder (a comparison, a count): the value shown would be made
            // up, so the plan shows what will be computed.
            Ok(v) if !v.to_string().contains('⟨') && run_time() => {
                Ok(Value::String(format!("⟨{}⟩", expression_text(s))))
            }
            Ok(v) => Ok(v),
            Err(_) if run_time() => Ok(Value::String(format!("⟨{}⟩", expression_text(s)))),
            Err(e) => Err(e),
        }
    })
}

fn reads_run_time_values(templates: &Templates, text: &str, item_is_placeholder: bool) -> bool {
    reads_steps(templates, text, false)
        || (item_is_placeholder
            && templates.template_references(text).is_ok_and(|refs| {
                refs.iter()
                    .any(|r| ["item", "index"].contains(&r.split('.').next().unwrap_or("")))
            }))
}

fn plan_step(
    program: &Program,
    registry: &Registry,
    frames: &[FrameScope],
    templates: &Templates,
    redactor: &Redactor,
    step: usize,
    diags: &mut Diagnostics,
) -> PlannedStep {
    let ps = &program.steps[step];
    let def = &ps.def;
    let frame = &frames[ps.frame];
    let mut planned = PlannedStep {
        id: ps.key.clone(),
        title: def.title().to_string(),
        uses: def.uses.clone(),
        needs: program
            .dag
            .needs(step)
            .map(|n| program.steps[n].key.clone())
            .collect(),
        destructive: program.is_destructive(registry, step),
        idempotent: program.is_idempotent(registry, step),
        always: def.always,
        continue_on_error: def.continue_on_error,
        resume_from: def
            .resume_from
            .as_ref()
            .and_then(|(id, _)| program.local(ps.frame, id))
            .map(|s| program.steps[s].key.clone()),
        when: None,
        skipped: None,
        for_each: None,
        actions: Vec::new(),
        with: Vec::new(),
        retry: (def.retry.attempts > 1).then(|| {
            format!(
                "{} attempts, {} apart (x{} each time)",
                def.retry.attempts,
                crate::duration::format_duration(def.retry.delay),
                def.retry.backoff
            )
        }),
        timeout: def.timeout.map(crate::duration::format_duration),
    };
    planned.needs.sort();
    if let Some(when) = &def.when {
        if reads_steps(templates, &when.text, true) {
            planned.when = Some(expression_text(&when.text).to_string());
        } else {
            match templates.eval_bool(&when.text, &frame.value(None)) {
                Ok(true) => {}
                Ok(false) => {
                    planned.skipped =
                        Some(format!("`when: {}` is false", expression_text(&when.text)))
                }
                Err(e) => diags.push(Diagnostic::new(when.loc, format!("when: {e}"))),
            }
        }
    }
    if let Some(child) = ps.child_frame {
        let included = &program.runbooks[program.frames[child].runbook];
        planned.actions.push(format!(
            "run {} ({} steps, listed as {}.*)",
            included.path.display(),
            included.steps.len(),
            ps.key
        ));
        return planned;
    }
    let items: Option<Vec<Value>> = match &def.for_each {
        None => None,
        Some(ForEach::Expr(e)) if reads_steps(templates, &e.text, true) => {
            planned.for_each = Some(Value::String(expression_text(&e.text).to_string()));
            Some(vec![Value::String(format!(
                "⟨{}⟩",
                expression_text(&e.text)
            ))])
        }
        Some(ForEach::Expr(e)) => {
            match templates.eval(expression_text(&e.text), &frame.value(None)) {
                Ok(v) => match crate::template::to_json_value(&v) {
                    Value::Array(items) => Some(items),
                    other => {
                        diags.push(Diagnostic::new(
                            e.loc,
                            format!("for_each must yield a list, got {other}"),
                        ));
                        None
                    }
                },
                Err(err) => {
                    diags.push(Diagnostic::new(e.loc, format!("for_each: {err}")));
                    None
                }
            }
        }
        Some(ForEach::List(node, loc)) => {
            match templates.render_value(&node.to_json(), &frame.value(None)) {
                Ok(Value::Array(items)) => Some(items),
                Ok(_) => None,
                Err(err) => {
                    diags.push(Diagnostic::new(*loc, format!("for_each: {err}")));
                    None
                }
            }
        }
    };
    if let (Some(items), None) = (&items, &planned.for_each) {
        planned.for_each = Some(redactor.redact_value(&Value::Array(items.clone())));
    }
    let Some(kind) = registry.get(&def.uses) else {
        return planned;
    };
    let with = def
        .with
        .as_ref()
        .map(|n| n.to_json())
        .unwrap_or(Value::Object(Map::new()));
    let units: Vec<Option<(&Value, usize)>> = match &items {
        None => vec![None],
        Some(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| Some((v, i)))
            .collect(),
    };
    let placeholder_item = match &def.for_each {
        Some(ForEach::Expr(e)) if reads_steps(templates, &e.text, true) => Some("item"),
        _ => None,
    };
    for unit in units {
        let scope = match placeholder_item {
            Some(text) => frame.value_with_placeholder_item(text),
            None => frame.value(unit),
        };
        match render_planned(templates, &with, &scope, placeholder_item.is_some()) {
            Ok(rendered) => {
                planned
                    .actions
                    .push(redactor.redact(&kind.describe(&rendered)));
                planned.with.push(redactor.redact_value(&rendered));
            }
            Err(e) => {
                diags.push(Diagnostic::new(
                    def.with_loc,
                    format!("step `{}`: {e}", def.id),
                ));
                break;
            }
        }
    }
    planned
}
