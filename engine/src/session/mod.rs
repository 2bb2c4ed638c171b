//! A session: one `run` or `resume` process driving a run. [`start`] creates the run, [`resume`]
//! continues it as [`resume_policy`] decides; both take the run's lock, confirm destructive steps
//! ([`confirm`]) and hand over to the executor.

mod confirm;
mod resume;
mod resume_policy;
mod start;
mod unchanged;

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::error::StateError;
use crate::execute::{ExecOptions, Execution, Observer, Outcome};
use crate::exit;
use crate::interaction::Interaction;
use crate::journal::{
    Event, JournalWriter, LockHolder, Record, RunDir, RunState, SessionEnd, StateDir,
};
use crate::kind::Registry;
use crate::program::Program;
use crate::redact::Redactor;
use crate::scope::FrameScope;

pub use crate::error::SessionError;
pub use resume::resume;
pub use resume_policy::{Refusal, ResumeChoices, ResumeDecision, decide};
pub use start::start;

/// What every session needs besides the program.
pub struct SessionOptions {
    pub state_dir: StateDir,
    pub parallel: usize,
    pub interaction: Arc<dyn Interaction>,
    pub observer: Arc<dyn Observer>,
    /// `run` or `resume ...`, for the journal and the lock.
    pub command: String,
    /// What a `runbook resume RUN_ID` line must add to reach this run again (`--state-dir DIR`),
    /// with its leading space; empty when nothing is needed.
    pub resume_flags: String,
}

pub struct Finished {
    pub run_id: String,
    pub outcome: Outcome,
}

impl Finished {
    pub fn exit_code(&self) -> i32 {
        match self.outcome.status {
            SessionEnd::Succeeded => exit::OK,
            SessionEnd::Failed => exit::STEP_FAILED,
            SessionEnd::Interrupted => exit::INTERRUPTED,
            SessionEnd::Refused => exit::REFUSED,
        }
    }
}

/// The journal's record that a session began, naming who drives it.
fn session_started(
    journal: &mut JournalWriter,
    session: u32,
    command: &str,
) -> Result<Record, StateError> {
    let holder = LockHolder::current(command);
    journal.append(Event::SessionStarted {
        session,
        host: holder.host,
        pid: holder.pid,
        user: holder.user,
        command: command.to_string(),
    })
}

/// What the executor needs of a session that has its journal open and its lock held.
struct Drive<'p> {
    program: &'p Program,
    registry: &'p Registry,
    frames: Vec<FrameScope>,
    redactor: Arc<Redactor>,
    journal: JournalWriter,
    run_dir: &'p RunDir,
    session: u32,
}

impl Drive<'_> {
    async fn run(
        self,
        prior: &RunState,
        options: SessionOptions,
        interrupts: mpsc::UnboundedReceiver<()>,
    ) -> Result<Finished, SessionError> {
        let run_id = self.run_dir.id();
        let exec_options = ExecOptions {
            session: self.session,
            parallel: options.parallel,
            interaction: options.interaction,
            observer: options.observer,
            run_dir: Some(self.run_dir.path.clone()),
        };
        let execution = Execution::new(
            self.program,
            self.registry,
            self.frames,
            self.redactor,
            self.journal,
            run_id.clone(),
            prior,
            exec_options,
        );
        let outcome = execution.run(interrupts).await?;
        Ok(Finished { run_id, outcome })
    }
}
