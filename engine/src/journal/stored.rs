//! A run as its state directory holds it, read and checked: where `status`, `report`, the
//! `report` step and `resume` all start, so they can never disagree about what happened.

use super::lock::{LockHolder, RunLock};
use super::meta::RunMeta;
use super::replay::{RunState, RunStatus};
use super::store::{JournalRead, RunDir, StateDir};
use crate::error::StateError;

#[derive(Debug, Clone)]
pub struct StoredRun {
    pub dir: RunDir,
    pub meta: RunMeta,
    pub journal: JournalRead,
    pub state: RunState,
}

impl StoredRun {
    /// Open a run by id. A run is `run.json` and a journal with at least its first record: the
    /// journal's first record is written before `run.json`, so one without the other is damage,
    /// never a run that merely had not started.
    pub fn open(state_dir: &StateDir, run_id: &str) -> Result<StoredRun, StateError> {
        let dir = state_dir.run(run_id);
        if !dir.exists() {
            return Err(StateError::NoSuchRun {
                run_id: run_id.to_string(),
                runs_dir: state_dir.runs_dir(),
            });
        }
        StoredRun::read(dir)
    }

    /// Read a run's directory.
    pub fn read(dir: RunDir) -> Result<StoredRun, StateError> {
        let damaged = |reason: String| StateError::Damaged {
            run_id: dir.id(),
            dir: dir.path.clone(),
            reason,
        };
        let journal = dir.read_journal()?;
        if !dir.meta_path().exists() {
            let steps = journal
                .records
                .iter()
                .filter(|r| r.event.step().is_some())
                .count();
            return Err(damaged(if steps == 0 {
                "run.json is missing; the run was never fully created (no step started)".into()
            } else {
                format!(
                    "run.json is missing but the journal records {steps} step events; without it the run cannot be rebuilt"
                )
            }));
        }
        let meta = dir.read_meta()?;
        if journal.records.is_empty() {
            return Err(damaged(format!(
                "the journal {} is empty or missing, although the run was created at {}: what its steps did is lost, and resuming would run every step again",
                dir.journal_path().display(),
                meta.started_at
            )));
        }
        let state = RunState::replay(&journal.records);
        Ok(StoredRun {
            dir,
            meta,
            journal,
            state,
        })
    }

    /// The live process that drives the run, if any.
    pub fn holder(&self) -> Option<LockHolder> {
        RunLock::holder(&self.dir)
    }

    pub fn status(&self) -> RunStatus {
        self.state
            .status(self.meta.step_keys(), self.holder().is_some())
    }
}
