//! A unit's attempt has ended: its result journaled, a retry arranged or the unit settled, and
//! the step settled once all its units have. A kind that panics fails its own unit.

use tokio::task::{JoinError, JoinSet};

use super::Execution;
use super::interrupt::Drain;
use super::retry;
use super::state::{StepStatus, TaskDone, UnitState};
use crate::error::StateError;
use crate::journal::Event;
use crate::kind::StepError;

impl Execution<'_> {
    pub(super) fn handle(
        &mut self,
        done: TaskDone,
        tasks: &mut JoinSet<TaskDone>,
    ) -> Result<(), StateError> {
        match done {
            TaskDone::RetryDue { step, unit } => {
                self.steps[step].units[unit].state = UnitState::Pending;
                Ok(())
            }
            TaskDone::Finished { step, unit, result } => {
                self.running -= 1;
                let key = self.key(step);
                let index = self.steps[step].items.as_ref().map(|_| unit);
                let attempt = self.steps[step].units[unit].attempt;
                match result {
                    Ok(outputs) => {
                        if self.def(step).secret {
                            self.redactor.add_value(&outputs);
                        }
                        self.append(Event::StepSucceeded {
                            step: key,
                            index,
                            attempt,
                            outputs: outputs.clone(),
                        })?;
                        let u = &mut self.steps[step].units[unit];
                        u.state = UnitState::Succeeded;
                        u.outputs = Some(outputs);
                    }
                    Err(error) => {
                        let session_attempts = self.steps[step].units[unit].session_attempts;
                        let retry_in = retry::next_attempt(
                            &error,
                            &self.def(step).retry,
                            session_attempts,
                            self.drain == Drain::Interrupt,
                        );
                        self.append(Event::StepFailed {
                            step: key,
                            index,
                            attempt,
                            error: error.message.clone(),
                            retry_in_ms: retry_in.map(|delay| delay.as_millis() as u64),
                        })?;
                        let message = self.redactor.redact(&error.message);
                        let u = &mut self.steps[step].units[unit];
                        u.error = Some(message);
                        if let Some(delay) = retry_in {
                            u.state = UnitState::RetryWait;
                            let wait = tasks.spawn(async move {
                                tokio::time::sleep(delay).await;
                                TaskDone::RetryDue { step, unit }
                            });
                            self.retry_waits.retain(|w| !w.is_finished());
                            self.retry_waits.push(wait);
                        } else {
                            u.state = UnitState::Failed;
                        }
                    }
                }
                self.settle(step)
            }
        }
    }

    /// When every unit of a step has finished, the step has.
    pub(super) fn settle(&mut self, step: usize) -> Result<(), StateError> {
        let units = &self.steps[step].units;
        if units.iter().any(|u| {
            matches!(
                u.state,
                UnitState::Pending | UnitState::Running | UnitState::RetryWait
            )
        }) {
            if units.iter().any(|u| u.state == UnitState::Failed)
                && !self.def(step).continue_on_error
                && self.drain == Drain::None
            {
                self.drain_for(step);
            }
            return Ok(());
        }
        if units.iter().any(|u| u.state == UnitState::Failed) {
            if self.def(step).continue_on_error {
                self.steps[step].status = StepStatus::Tolerated;
                let outputs = self.unit_outputs(step);
                self.publish(step, "failed", outputs.as_ref());
            } else {
                self.steps[step].status = StepStatus::Failed;
                if self.drain == Drain::None {
                    self.drain_for(step);
                }
            }
        } else {
            self.steps[step].status = StepStatus::Succeeded;
            let outputs = self.unit_outputs(step);
            self.publish(step, "succeeded", outputs.as_ref());
        }
        Ok(())
    }

    /// A kind's bug fails its own unit, recorded like any failure, not the run.
    pub(super) fn task_panicked(
        &mut self,
        error: JoinError,
        tasks: &mut JoinSet<TaskDone>,
    ) -> Result<(), StateError> {
        let Some((step, unit)) = self.unit_tasks.remove(&error.id()) else {
            return Ok(());
        };
        let message = panic_message(error.into_panic());
        let done = TaskDone::Finished {
            step,
            unit,
            result: Err(StepError::permanent(format!(
                "the step kind failed unexpectedly: {message}"
            ))),
        };
        self.handle(done, tasks)
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}
