//! A step's state in one word: the one vocabulary of `status`, `report` (all its formats), the
//! `report` step and the JSON outputs.

use serde::Serialize;

use super::replay::{StepRecord, UnitStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum StepState {
    #[serde(rename = "succeeded")]
    Succeeded,
    /// Succeeded because the operator did it by hand (`resume --skip`).
    #[serde(rename = "done-by-hand")]
    DoneByHand,
    #[serde(rename = "skipped")]
    Skipped,
    #[serde(rename = "failed")]
    Failed,
    /// Its last attempt was cut off (Ctrl-C, a kill, a crash).
    #[serde(rename = "interrupted")]
    Interrupted,
    /// Running now (or, read while no process drives the run, see [`StepState::Interrupted`]).
    #[serde(rename = "started")]
    Started,
    /// Reset by `resume --from`: it ran before and is to run again.
    #[serde(rename = "pending")]
    Pending,
    /// The journal never mentions it.
    #[serde(rename = "not run")]
    NotRun,
}

impl StepState {
    pub fn as_str(self) -> &'static str {
        match self {
            StepState::Succeeded => "succeeded",
            StepState::DoneByHand => "done-by-hand",
            StepState::Skipped => "skipped",
            StepState::Failed => "failed",
            StepState::Interrupted => "interrupted",
            StepState::Started => "started",
            StepState::Pending => "pending",
            StepState::NotRun => "not run",
        }
    }

    /// What a step's record says, or [`StepState::NotRun`] without one.
    pub fn of(record: Option<&StepRecord>) -> StepState {
        let Some(record) = record else {
            return StepState::NotRun;
        };
        let any = |status: UnitStatus| record.units.values().any(|u| u.status == status);
        if record.skipped.is_some() {
            StepState::Skipped
        } else if record.succeeded() {
            if any(UnitStatus::SkippedByOperator) {
                StepState::DoneByHand
            } else {
                StepState::Succeeded
            }
        } else if record.failed() {
            StepState::Failed
        } else if any(UnitStatus::Interrupted) {
            StepState::Interrupted
        } else if any(UnitStatus::Started) {
            StepState::Started
        } else {
            StepState::Pending
        }
    }
}

impl std::fmt::Display for StepState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::RunStatus;

    /// Tables (`status`) align these words with `{:<12}`: Display must honour the width.
    #[test]
    fn states_fill_their_column() {
        assert_eq!(format!("{:<12}|", StepState::NotRun), "not run     |");
        assert_eq!(format!("{:<12}|", RunStatus::Failed), "failed      |");
    }
}
