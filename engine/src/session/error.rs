//! Why a session did not run: invalid input, a refusal, a lock another process holds, or run
//! state that could not be read or written. Each maps to one exit code.

use thiserror::Error;

use crate::diagnostic::Diagnostics;
use crate::exit;
use crate::journal::{LockError, LockHolder, RunDir, StateError};

#[derive(Debug, Error)]
pub enum SessionError {
    #[error("invalid input")]
    Invalid(Diagnostics),
    #[error("{0}")]
    Refused(String),
    #[error(
        "run {run_id} is driven by {}; wait for it to finish, or stop that process first",
        holder_text(holder)
    )]
    LockHeld {
        run_id: String,
        holder: Option<Box<LockHolder>>,
    },
    /// The run's state could not be read or written, or is damaged.
    #[error(transparent)]
    State(#[from] StateError),
}

fn holder_text(holder: &Option<Box<LockHolder>>) -> String {
    match holder {
        Some(h) => h.to_string(),
        None => "another process that has just taken the lock".into(),
    }
}

impl SessionError {
    /// The CLI's exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            SessionError::Invalid(_) => exit::INVALID,
            SessionError::Refused(_) | SessionError::LockHeld { .. } => exit::REFUSED,
            SessionError::State(e) => e.exit_code(),
        }
    }
}

pub(super) fn lock_error(error: LockError, run: &RunDir) -> SessionError {
    match error {
        LockError::Held(holder) => SessionError::LockHeld {
            run_id: run.id(),
            holder,
        },
        LockError::Io(source) => SessionError::State(StateError::Io {
            action: "taking the run lock",
            path: run.lock_path(),
            source,
        }),
    }
}
