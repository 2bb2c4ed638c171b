//! Activating a step: its `for_each` items are evaluated (journaled as the step's expansion), and
//! each item becomes a unit that resumes from its own checkpoint.

use serde_json::Value;

use super::Execution;
use super::state::{StepStatus, Unit, UnitState};
use crate::error::StateError;
use crate::error::TemplateError;
use crate::journal::{Event, UnitStatus};
use crate::model::ForEach;
use crate::template::{expression_text, to_json_value};

impl Execution<'_> {
    /// Give a ready step its units: one, or one per `for_each` item. A unit that succeeded (or
    /// was done by hand) in an earlier session keeps its outputs and does not run again.
    pub(super) fn activate(&mut self, step: usize) -> Result<(), StateError> {
        let items = match self.def(step).for_each.clone() {
            None => None,
            Some(for_each) => match self.expand(step, &for_each) {
                Ok(items) => Some(items),
                Err(e) => return self.fail_before_start(step, format!("for_each: {e}")),
            },
        };
        let count = items.as_ref().map_or(1, Vec::len);
        if let Some(items) = &items {
            let known = self.steps[step].prior.as_ref().and_then(|p| p.items);
            if known != Some(items.len()) {
                self.append(Event::StepExpanded {
                    step: self.key(step),
                    items: items.len(),
                })?;
            }
        }
        let prior = self.steps[step].prior.clone();
        let units = (0..count)
            .map(|i| {
                let index = items.as_ref().map(|_| i);
                let record = prior.as_ref().and_then(|p| p.unit(index));
                let state = match record.map(|r| r.status) {
                    Some(UnitStatus::Succeeded) => UnitState::Succeeded,
                    Some(UnitStatus::SkippedByOperator) => UnitState::DoneByHand,
                    _ => UnitState::Pending,
                };
                Unit {
                    state,
                    attempt: record.map_or(0, |r| r.attempts),
                    session_attempts: 0,
                    outputs: record.and_then(|r| r.outputs.clone()),
                    error: None,
                }
            })
            .collect();
        let run = &mut self.steps[step];
        run.items = items;
        run.units = units;
        run.status = StepStatus::Active;
        self.settle(step)
    }

    /// The items of a `for_each`: a list, or a map as `{key, value}` pairs.
    pub(super) fn expand(
        &self,
        step: usize,
        for_each: &ForEach,
    ) -> Result<Vec<Value>, TemplateError> {
        let scope = self.scope(step, None);
        let value = match for_each {
            ForEach::Expr(expr) => {
                let v = self.templates.eval(expression_text(&expr.text), &scope)?;
                to_json_value(&v)
            }
            ForEach::List(node, _) => self.templates.render_value(&node.to_json(), &scope)?,
        };
        match value {
            Value::Array(items) => Ok(items),
            Value::Object(map) => Ok(map
                .into_iter()
                .map(|(k, v)| serde_json::json!({"key": k, "value": v}))
                .collect()),
            other => Err(format!("expected a list, got {other}").into()),
        }
    }
}
