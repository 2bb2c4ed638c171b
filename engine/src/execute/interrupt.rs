//! Draining: after a failure nothing new starts but `always` steps; after Ctrl-C nothing new
//! starts at all, and a second Ctrl-C aborts the running units, journaled as interrupted.

use tokio::task::JoinSet;

use super::Execution;
use super::state::{TaskDone, UnitState};
use crate::error::StateError;
use crate::journal::Event;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Drain {
    None,
    /// A step failed: nothing new starts but `always` steps.
    Failure,
    /// Ctrl-C: nothing new starts at all; the run is to be resumed.
    Interrupt,
}

/// What an interruption did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Interrupted {
    /// The first: the run drains.
    Draining,
    /// The second: the running units were aborted.
    Aborted,
}

impl Execution<'_> {
    /// One Ctrl-C (or SIGTERM): the first drains the run, the second aborts what runs.
    pub(super) async fn interrupt(
        &mut self,
        tasks: &mut JoinSet<TaskDone>,
    ) -> Result<Interrupted, StateError> {
        if self.drain == Drain::Interrupt {
            self.notice("Aborting the running steps; the run can be resumed.");
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
            self.record_aborted()?;
            return Ok(Interrupted::Aborted);
        }
        self.drain = Drain::Interrupt;
        // Nothing waits out a retry delay once the run is interrupted.
        for wait in self.retry_waits.drain(..) {
            wait.abort();
        }
        let (steps, them) = if self.running == 1 {
            ("step", "it")
        } else {
            ("steps", "them")
        };
        self.notice(&format!(
            "Interrupted: no new steps start; waiting for {} running {steps} to finish. Press Ctrl-C again to abort {them}.",
            self.running
        ));
        Ok(Interrupted::Draining)
    }

    pub(super) fn drain_for(&mut self, step: usize) {
        self.drain = Drain::Failure;
        if self.running > 0 {
            self.notice(&format!(
                "`{}` failed: no new steps start; waiting for {} running step{} to finish",
                self.key(step),
                self.running,
                if self.running == 1 { "" } else { "s" }
            ));
        }
    }

    /// After a second Ctrl-C: the running units were aborted.
    fn record_aborted(&mut self) -> Result<(), StateError> {
        for step in 0..self.steps.len() {
            for unit in 0..self.steps[step].units.len() {
                if self.steps[step].units[unit].state == UnitState::Running {
                    let index = self.steps[step].items.as_ref().map(|_| unit);
                    let attempt = self.steps[step].units[unit].attempt;
                    self.append(Event::StepInterrupted {
                        step: self.key(step),
                        index,
                        attempt,
                    })?;
                    self.steps[step].units[unit].state = UnitState::Pending;
                }
            }
        }
        Ok(())
    }
}
