//! Whether a ready step runs: every enclosing include's `when` (each evaluated once per session)
//! and the step's own `when`; and recording the skip when one is false.

use super::Execution;
use super::state::StepStatus;
use crate::error::StateError;
use crate::journal::Event;
use crate::template::expression_text;

/// What a ready step's gates say.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Gate {
    Open,
    /// Skipped, for this reason.
    Closed(String),
    /// Its `when` does not evaluate: the step fails before it starts.
    Broken(String),
}

impl Execution<'_> {
    pub(super) fn gate(&mut self, step: usize) -> Result<Gate, StateError> {
        if let Some(include) = self.closed_include(step) {
            return Ok(Gate::Closed(format!(
                "the runbook step `{}` is skipped",
                self.key(include)
            )));
        }
        let Some(when) = self.def(step).when.clone() else {
            return Ok(Gate::Open);
        };
        Ok(
            match self
                .templates
                .eval_bool(&when.text, &self.scope(step, None))
            {
                Ok(true) => Gate::Open,
                Ok(false) => {
                    Gate::Closed(format!("`when: {}` is false", expression_text(&when.text)))
                }
                Err(e) => Gate::Broken(format!("when: {e}")),
            },
        )
    }

    /// The first enclosing include whose `when` is false, if any. An include's `when` that does
    /// not evaluate counts as false here: the include step itself reports the error.
    fn closed_include(&mut self, step: usize) -> Option<usize> {
        for include in self.program.steps[step].gates.clone() {
            let open = match self.gates[include] {
                Some(open) => open,
                None => {
                    let open = match &self.def(include).when {
                        None => true,
                        Some(when) => self
                            .templates
                            .eval_bool(&when.text, &self.scope(include, None))
                            .unwrap_or(false),
                    };
                    self.gates[include] = Some(open);
                    open
                }
            };
            if !open {
                return Some(include);
            }
        }
        None
    }

    pub(super) fn skip(&mut self, step: usize, reason: String) -> Result<(), StateError> {
        self.append(Event::StepSkipped {
            step: self.key(step),
            reason,
        })?;
        self.steps[step].status = StepStatus::Skipped;
        self.publish(step, "skipped", None);
        Ok(())
    }
}
