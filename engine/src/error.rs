//! The engine's errors, in one place: each says what went wrong and what to do, and maps to one
//! exit code ([`crate::exit`]). Problems in a runbook or its inputs, with their file positions,
//! are [`crate::diagnostic::Diagnostics`]; a step's own failure is [`crate::kind::StepError`].

use std::path::PathBuf;

use thiserror::Error;

use crate::diagnostic::Diagnostics;
use crate::exit;
use crate::journal::{LockHolder, RunDir};
use crate::source::Sources;

/// What can go wrong with a run's state on disk: it cannot be read or written (permissions, a
/// full disk), or what is there is not a journal the engine wrote. Either way nothing runs: a
/// journal that is wrong would re-run succeeded steps or repeat ones that half happened.
#[derive(Debug, Error)]
pub enum StateError {
    #[error(
        "no run `{run_id}` in {}\n`runbook status` lists the runs there; a run started with another state directory is found with `--state-dir DIR` or `RUNBOOK_STATE_DIR`",
        runs_dir.display()
    )]
    NoSuchRun { run_id: String, runs_dir: PathBuf },
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{}:{line}: the journal is damaged: {reason}\n\
         Only the last line of a journal may be torn (a crash mid-write); this one is not the last, \
         so the records after it cannot be trusted and nothing was run.\n\
         Inspect it with `jq -c . {}` (each line is one JSON record, numbered by `seq`); \
         keep a copy of the run directory before you edit anything.",
        path.display(), path.display()
    )]
    Corrupt {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error(
        "run {run_id} is damaged: {reason}\nNothing was run. The run directory is {}; \
         inspect it, restore the missing file from a copy, or start a new run with `runbook run`.",
        dir.display()
    )]
    Damaged {
        run_id: String,
        dir: PathBuf,
        reason: String,
    },
}

impl StateError {
    /// No such run is a mistake in the input; anything else is the state itself.
    pub fn exit_code(&self) -> i32 {
        match self {
            StateError::NoSuchRun { .. } => exit::INVALID,
            _ => exit::STATE,
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> StateError {
        let path = path.into();
        move |source| StateError::Io {
            action,
            path,
            source,
        }
    }
}

/// The run lock could not be taken.
#[derive(Debug, Error)]
pub enum LockError {
    /// Another live process holds the lock; its name, if it has written it yet.
    #[error("the run lock is held")]
    Held(Option<Box<LockHolder>>),
    #[error(transparent)]
    Io(std::io::Error),
}

/// Why a session did not run: invalid input, a refusal, a lock another process holds, or run
/// state that could not be read or written.
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

impl SessionError {
    /// The lock of `run` could not be taken.
    pub(crate) fn from_lock(error: LockError, run: &RunDir) -> SessionError {
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
}

/// The runbook of a run no longer loads, so what needs its step graph (the report) cannot be had.
#[derive(Debug, Error)]
#[error("the runbook {runbook_path} no longer loads; the report needs it for the step graph")]
pub struct RunbookGone {
    pub runbook_path: String,
    pub diagnostics: Diagnostics,
    pub sources: Sources,
}

/// A template or expression that does not compile or does not evaluate, said the way an author
/// fixes it (what was undefined, and what exists).
#[derive(Debug, Clone, PartialEq, Error)]
#[error("{message}")]
pub struct TemplateError {
    pub message: String,
}

impl From<String> for TemplateError {
    fn from(message: String) -> Self {
        TemplateError { message }
    }
}

/// A `--set name=value` that cannot be read.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SetError {
    #[error("`--set {0}` has no `=`; write `--set name=value`")]
    NoEquals(String),
    #[error(
        "`--set {assignment}`: the value is not valid YAML ({reason}); fix it, or quote it to pass it as a string: --set '{key}=\"{quoted}\"'"
    )]
    NotYaml {
        assignment: String,
        reason: String,
        key: String,
        quoted: String,
    },
}

/// No answer could be had to a confirmation: no terminal, or the operator said no.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("{0}")]
pub struct Declined(pub String);

/// A step's failure. `retryable: false` skips the remaining attempts (bad input, a refusal).
#[derive(Debug, Clone, PartialEq, Error)]
#[error("{message}")]
pub struct StepError {
    pub message: String,
    pub retryable: bool,
}

impl StepError {
    pub fn new(message: impl Into<String>) -> Self {
        StepError {
            message: message.into(),
            retryable: true,
        }
    }
    pub fn permanent(message: impl Into<String>) -> Self {
        StepError {
            message: message.into(),
            retryable: false,
        }
    }
}

/// Why a text is not a duration; the message says what the text is.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct DurationError(pub(crate) String);

/// An input file that cannot be read as text.
#[derive(Debug, Error)]
pub enum InputFileError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{} is larger than {} MiB, the most runbook reads from one input file; check that it is the file you meant",
        path.display(), crate::input_file::MAX_BYTES / (1024 * 1024)
    )]
    TooLarge { path: PathBuf },
    #[error(
        "{}:{line}:{column}: not UTF-8 text (byte 0x{byte:02x}); save the file as UTF-8",
        path.display()
    )]
    NotUtf8 {
        path: PathBuf,
        line: usize,
        column: usize,
        byte: u8,
    },
}
