//! An include step completes when the steps of the runbook it includes have all finished: it
//! collects their outputs as its own.

use serde_json::{Map, Value};

use super::Execution;
use super::state::StepStatus;
use crate::error::StateError;
use crate::journal::{Event, StepRecord};

impl Execution<'_> {
    /// An included runbook's steps have all finished: the include step collects their outputs.
    pub(super) fn complete_include(&mut self, step: usize) -> Result<(), StateError> {
        let child_frame = self.program.steps[step].child_frame.expect("include step");
        let mut outputs = Map::new();
        for (index, child) in self.program.steps.iter().enumerate() {
            if child.frame == child_frame {
                let value = self.unit_outputs(index).unwrap_or(Value::Null);
                outputs.insert(child.def.id.clone(), value);
            }
        }
        let outputs = Value::Object(outputs);
        let key = self.key(step);
        let attempt = self.next_whole_attempt(step);
        self.append(Event::StepStarted {
            step: key.clone(),
            index: None,
            attempt,
            description: None,
        })?;
        self.append(Event::StepSucceeded {
            step: key,
            index: None,
            attempt,
            outputs: outputs.clone(),
        })?;
        self.steps[step].status = StepStatus::Succeeded;
        self.publish(step, "succeeded", Some(&outputs));
        Ok(())
    }

    pub(super) fn unit_outputs(&self, step: usize) -> Option<Value> {
        let run = &self.steps[step];
        if run.status == StepStatus::Succeeded && run.units.is_empty() {
            return run.prior.as_ref().map(StepRecord::outputs);
        }
        match &run.items {
            None => run.units.first().and_then(|u| u.outputs.clone()),
            Some(_) => Some(Value::Array(
                run.units
                    .iter()
                    .map(|u| u.outputs.clone().unwrap_or(Value::Null))
                    .collect(),
            )),
        }
    }
}
