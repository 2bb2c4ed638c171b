//! `runbook report`: what a run did, read back from its journal. Timings per step, the sessions
//! that drove the run, the critical path through the DAG, and how long the recovery took, rendered
//! as Markdown (for the incident write-up), JSON (for machines) or JUnit XML (for CI dashboards).
//!
//! [`Report::build`] does every computation; the renderers only format what it found, so that the
//! three formats always agree.

mod build;
#[cfg(test)]
pub(crate) mod fixture;
mod junit;
mod markdown;
mod of_run;
pub mod timing;

use serde::Serialize;

pub use crate::journal::{RunStatus, StepState};

/// How one session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Succeeded,
    Failed,
    Interrupted,
    /// The session refused to act (lock held, confirmation missing).
    Refused,
    /// No session end was recorded: the process crashed or was killed, or it is still running.
    NeverEnded,
}

impl SessionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Succeeded => "succeeded",
            SessionStatus::Failed => "failed",
            SessionStatus::Interrupted => "interrupted",
            SessionStatus::Refused => "refused",
            SessionStatus::NeverEnded => "never ended",
        }
    }
}

/// One `run` or `resume` process that drove the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionReport {
    pub session: u32,
    /// The command line, e.g. `runbook resume 20261123-154401-a3f9 --yes`.
    pub command: String,
    pub started: String,
    pub ended: Option<String>,
    /// Until its end, or, for a session that never ended, until the last of its events the
    /// replayed state still knows (a lower bound: the state keeps each unit's first and last start).
    pub duration_ms: u64,
    pub status: SessionStatus,
}

/// One step of the program (steps of included runbooks under their full ids).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepReport {
    /// The full id: `restore-influx.drop-databases`.
    pub id: String,
    /// The step's `name`, or its id.
    pub title: String,
    /// `uses`; `None` for a step the journal has but the runbook no longer does.
    pub kind: Option<String>,
    pub state: StepState,
    /// Whether this step runs another runbook; its timings span the steps it includes.
    pub include: bool,
    pub started: Option<String>,
    /// Set once the step's last attempt ended.
    pub ended: Option<String>,
    /// From `started` to `ended`: retries and waits between sessions included.
    pub duration_ms: Option<u64>,
    /// The most attempts any of its units took, over all sessions.
    pub attempts: u32,
    /// How many items `for_each` gave.
    pub items: Option<usize>,
    /// Why it failed (per item for a `for_each` step).
    pub error: Option<String>,
    /// Why it was skipped.
    pub skip_reason: Option<String>,
}

/// One step on the critical path and the time it contributed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CriticalStep {
    pub id: String,
    pub duration_ms: u64,
}

/// The chain of dependent steps that took longest: shortening anything else would not have made
/// the recovery faster.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct CriticalPath {
    pub steps: Vec<CriticalStep>,
    pub total_ms: u64,
}

/// A run as its journal tells it. Build with [`Report::build`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub run_id: String,
    pub runbook: String,
    pub runbook_path: String,
    /// The first record of the journal (the run's start when the journal is empty).
    pub started: String,
    /// When the session that decided `status` ended, if it did.
    pub ended: Option<String>,
    /// The run's state as `status` and `resume` read it ([`crate::journal::RunState::status`]).
    pub status: RunStatus,
    /// From the first record to the end of the last step that ended: the time to recovery when
    /// the run succeeded.
    pub total_ms: Option<u64>,
    /// The time processes spent driving the run: the sum of the sessions' durations.
    pub active_ms: u64,
    pub sessions: Vec<SessionReport>,
    /// Every step exactly once, each include step followed by the steps it includes.
    pub steps: Vec<StepReport>,
    pub critical_path: CriticalPath,
}

impl Report {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a report serializes")
    }

    pub fn step(&self, id: &str) -> Option<&StepReport> {
        self.steps.iter().find(|s| s.id == id)
    }
}
