use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::redact::Redactor;

/// One line of `journal.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub seq: u64,
    /// RFC 3339 with milliseconds, UTC.
    pub at: String,
    #[serde(flatten)]
    pub event: Event,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionEnd {
    Succeeded,
    Failed,
    Interrupted,
    Refused,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A `run` or `resume` process took over the run.
    SessionStarted {
        session: u32,
        host: String,
        pid: u32,
        user: String,
        command: String,
    },
    SessionEnded {
        session: u32,
        status: SessionEnd,
    },
    /// `for_each` evaluated to this many items.
    StepExpanded {
        step: String,
        items: usize,
    },
    StepStarted {
        step: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        index: Option<usize>,
        attempt: u32,
        /// What the step does, as its kind describes it with the rendered inputs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
    StepSucceeded {
        step: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        index: Option<usize>,
        attempt: u32,
        outputs: Value,
    },
    StepFailed {
        step: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        index: Option<usize>,
        attempt: u32,
        error: String,
        /// Set when another attempt follows after this delay.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_in_ms: Option<u64>,
    },
    /// The step was aborted (second Ctrl-C) while running.
    StepInterrupted {
        step: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        index: Option<usize>,
        attempt: u32,
    },
    /// `when` was false (or an enclosing include's was).
    StepSkipped {
        step: String,
        reason: String,
    },
    /// `resume --skip`: an operator did this step by hand.
    StepSkippedByOperator {
        step: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        index: Option<usize>,
    },
    /// `resume --from`: the step will run again; its earlier result no longer counts.
    StepReset {
        step: String,
    },
}

impl Event {
    /// The event with every secret masked in what it carries (outputs, errors, descriptions,
    /// reasons, the command line). Its own numbers and names are the engine's, never masked.
    pub fn redacted(self, redactor: &Redactor) -> Event {
        let text = |s: String| redactor.redact(&s);
        match self {
            Event::SessionStarted {
                session,
                host,
                pid,
                user,
                command,
            } => Event::SessionStarted {
                session,
                host,
                pid,
                user,
                command: text(command),
            },
            Event::StepStarted {
                step,
                index,
                attempt,
                description,
            } => Event::StepStarted {
                step,
                index,
                attempt,
                description: description.map(text),
            },
            Event::StepSucceeded {
                step,
                index,
                attempt,
                outputs,
            } => Event::StepSucceeded {
                step,
                index,
                attempt,
                outputs: redactor.redact_value(&outputs),
            },
            Event::StepFailed {
                step,
                index,
                attempt,
                error,
                retry_in_ms,
            } => Event::StepFailed {
                step,
                index,
                attempt,
                error: text(error),
                retry_in_ms,
            },
            Event::StepSkipped { step, reason } => Event::StepSkipped {
                step,
                reason: text(reason),
            },
            other => other,
        }
    }

    pub fn step(&self) -> Option<&str> {
        match self {
            Event::StepExpanded { step, .. }
            | Event::StepStarted { step, .. }
            | Event::StepSucceeded { step, .. }
            | Event::StepFailed { step, .. }
            | Event::StepInterrupted { step, .. }
            | Event::StepSkipped { step, .. }
            | Event::StepSkippedByOperator { step, .. }
            | Event::StepReset { step } => Some(step),
            _ => None,
        }
    }
}
