//! How a session ended: which steps succeeded, failed or did not run, and the session's end
//! record.

use super::Execution;
use super::interrupt::Drain;
use super::state::{StepStatus, UnitState};
use crate::error::StateError;
use crate::journal::{Event, SessionEnd};

/// How a session of a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub status: SessionEnd,
    /// Steps that failed, with their last error.
    pub failed: Vec<(String, String)>,
    /// Steps that did not start because something they need failed or the run was interrupted.
    pub not_run: Vec<String>,
    pub succeeded: usize,
    pub skipped: usize,
}

impl Execution<'_> {
    pub(super) fn finish(mut self) -> Result<Outcome, StateError> {
        let mut outcome = Outcome {
            status: SessionEnd::Succeeded,
            failed: Vec::new(),
            not_run: Vec::new(),
            succeeded: 0,
            skipped: 0,
        };
        for (index, run) in self.steps.iter().enumerate() {
            let key = self.program.steps[index].key.clone();
            // A step that failed, or whose units failed while others were still to run when the
            // session drained.
            let failed = run.status == StepStatus::Failed
                || (run.status == StepStatus::Active
                    && run.units.iter().any(|u| u.state == UnitState::Failed));
            match run.status {
                StepStatus::Succeeded | StepStatus::Tolerated => outcome.succeeded += 1,
                StepStatus::Skipped => outcome.skipped += 1,
                _ if failed => {
                    let error = run
                        .units
                        .iter()
                        .filter_map(|u| u.error.clone())
                        .next_back()
                        .unwrap_or_default();
                    outcome.failed.push((key, error));
                }
                _ => outcome.not_run.push(key),
            }
        }
        // A run whose every step finished is finished, even if an interruption came while its
        // last step was running.
        outcome.status = if outcome.failed.is_empty() && outcome.not_run.is_empty() {
            SessionEnd::Succeeded
        } else if self.drain == Drain::Interrupt {
            SessionEnd::Interrupted
        } else {
            SessionEnd::Failed
        };
        self.append(Event::SessionEnded {
            session: self.options.session,
            status: outcome.status,
        })?;
        Ok(outcome)
    }
}
