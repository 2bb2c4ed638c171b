//! What can go wrong with a run's state on disk: it cannot be read or written (permissions, a
//! full disk), or what is there is not a journal the engine wrote. Either way nothing runs: a
//! journal that is wrong would re-run succeeded steps or repeat ones that half happened.

use std::path::PathBuf;

use thiserror::Error;

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
            StateError::NoSuchRun { .. } => crate::exit::INVALID,
            _ => crate::exit::STATE,
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
