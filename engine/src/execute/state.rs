//! The coordinator's picture of each step and unit during one session, and what a finished task
//! reports back.

use serde_json::Value;

use crate::journal::StepRecord;
use crate::kind::StepError;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum StepStatus {
    Waiting,
    Active,
    Succeeded,
    /// Failed with `continue_on_error`: counts as finished for what needs it.
    Tolerated,
    Failed,
    Skipped,
    /// Will not start in this session: something it needs failed, or the run is draining.
    Blocked,
}

impl StepStatus {
    pub(super) fn satisfied(self) -> bool {
        matches!(
            self,
            StepStatus::Succeeded | StepStatus::Skipped | StepStatus::Tolerated
        )
    }
    pub(super) fn terminal(self) -> bool {
        !matches!(self, StepStatus::Waiting | StepStatus::Active)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum UnitState {
    Pending,
    Running,
    RetryWait,
    Succeeded,
    Failed,
    DoneByHand,
}

#[derive(Debug, Clone)]
pub(super) struct Unit {
    pub(super) state: UnitState,
    /// Attempts over the whole run.
    pub(super) attempt: u32,
    /// Attempts in this session: the retry budget is per session, so a resumed run retries afresh.
    pub(super) session_attempts: u32,
    pub(super) outputs: Option<Value>,
    pub(super) error: Option<String>,
}

pub(super) struct StepRun {
    pub(super) status: StepStatus,
    pub(super) items: Option<Vec<Value>>,
    pub(super) units: Vec<Unit>,
    /// What the journal knew of this step when the session started (resume).
    pub(super) prior: Option<StepRecord>,
}

pub(super) enum TaskDone {
    Finished {
        step: usize,
        unit: usize,
        result: Result<Value, StepError>,
    },
    RetryDue {
        step: usize,
        unit: usize,
    },
}
