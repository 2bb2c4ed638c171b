//! Execute: run a program's steps as a DAG. One coordinator owns every step's state and writes the
//! journal; each unit (a step, or one `for_each` item) runs as a tokio task. A unit starts when
//! everything its step needs has finished well and its `when` holds; its templates are rendered
//! just before it starts; its result is journaled (and synced) before anything acts on it.
//!
//! The coordinator is one struct, [`Execution`]; each concept of its work is its own file:
//! [`schedule`] (what may start), [`gates`] (`when` and includes' `when`), [`for_each`] (items and
//! their checkpoints), [`include`] (an included runbook's completion), [`unit_start`] and
//! [`unit_end`] (one attempt of one unit), [`retry`] (the retry policy), [`interrupt`] (Ctrl-C and
//! draining) and [`outcome`] (how the session ended).

mod for_each;
mod gates;
mod include;
mod interrupt;
mod observer;
mod outcome;
mod retry;
mod schedule;
mod state;
mod unit_end;
mod unit_start;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};

pub use observer::{Observer, Silent};
pub use outcome::Outcome;

use crate::error::StateError;
use crate::interaction::Interaction;
use crate::journal::{Event, JournalWriter, Record, RunState, StepRecord};
use crate::kind::Registry;
use crate::program::Program;
use crate::progress::ProgressUpdate;
use crate::redact::Redactor;
use crate::scope::FrameScope;
use crate::template::Templates;
use interrupt::{Drain, Interrupted};
use state::{StepRun, StepStatus, TaskDone};

pub struct ExecOptions {
    /// The number of this session (the `run`, then each `resume`), as journaled when it started.
    pub session: u32,
    /// At most this many units run at once.
    pub parallel: usize,
    pub interaction: Arc<dyn Interaction>,
    pub observer: Arc<dyn Observer>,
    /// The run's directory (journal and run.json), for steps that read the run so far.
    pub run_dir: Option<std::path::PathBuf>,
}

pub struct Execution<'p> {
    program: &'p Program,
    registry: &'p Registry,
    frames: Vec<FrameScope>,
    templates: Templates,
    redactor: Arc<Redactor>,
    journal: JournalWriter,
    run_id: String,
    options: ExecOptions,
    steps: Vec<StepRun>,
    order: Vec<usize>,
    gates: Vec<Option<bool>>,
    running: usize,
    drain: Drain,
    /// Which unit each step task runs, so a task that panics fails its own unit, not the run.
    unit_tasks: HashMap<tokio::task::Id, (usize, usize)>,
    /// Tasks that only wait out a retry delay: an interruption cancels them at once.
    retry_waits: Vec<AbortHandle>,
    progress_tx: mpsc::UnboundedSender<ProgressUpdate>,
    progress_rx: Option<mpsc::UnboundedReceiver<ProgressUpdate>>,
}

impl<'p> Execution<'p> {
    /// Prepare a session. `prior` is the journal's view (empty for a new run); steps it records
    /// as succeeded or skipped are not run again and their outputs are restored.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        program: &'p Program,
        registry: &'p Registry,
        frames: Vec<FrameScope>,
        redactor: Arc<Redactor>,
        journal: JournalWriter,
        run_id: String,
        prior: &RunState,
        options: ExecOptions,
    ) -> Self {
        let (progress_tx, progress_rx) = mpsc::unbounded_channel();
        let mut steps: Vec<StepRun> = Vec::with_capacity(program.steps.len());
        for step in &program.steps {
            let record = prior.step(&step.key).cloned();
            let status = match &record {
                Some(r) if r.skipped.is_some() => StepStatus::Skipped,
                Some(r) if r.succeeded() => StepStatus::Succeeded,
                _ => StepStatus::Waiting,
            };
            steps.push(StepRun {
                status,
                items: None,
                units: Vec::new(),
                prior: record,
            });
        }
        let execution = Execution {
            program,
            registry,
            frames,
            templates: Templates::new(),
            redactor,
            journal,
            run_id,
            options,
            steps,
            order: program.dag.topological(),
            gates: vec![None; program.steps.len()],
            running: 0,
            drain: Drain::None,
            unit_tasks: HashMap::new(),
            retry_waits: Vec::new(),
            progress_tx,
            progress_rx: Some(progress_rx),
        };
        for index in 0..program.steps.len() {
            match execution.steps[index].status {
                StepStatus::Succeeded => {
                    let outputs = execution.steps[index]
                        .prior
                        .as_ref()
                        .map(StepRecord::outputs);
                    execution.publish(index, "succeeded", outputs.as_ref());
                }
                StepStatus::Skipped => execution.publish(index, "skipped", None),
                _ => {}
            }
        }
        execution
    }

    /// Run until every step has finished, a failure has drained the run, or it is interrupted.
    /// Each message on `interrupts` is one Ctrl-C: the first drains, the second aborts.
    pub async fn run(
        mut self,
        mut interrupts: mpsc::UnboundedReceiver<()>,
    ) -> Result<Outcome, StateError> {
        let mut tasks: JoinSet<TaskDone> = JoinSet::new();
        let mut progress_rx = self.progress_rx.take().expect("run once");
        loop {
            self.schedule(&mut tasks)?;
            if tasks.is_empty() {
                break;
            }
            tokio::select! {
                Some(done) = tasks.join_next_with_id() => match done {
                    Ok((id, done)) => {
                        self.unit_tasks.remove(&id);
                        self.handle(done, &mut tasks)?
                    }
                    Err(e) if e.is_cancelled() => {}
                    Err(e) => self.task_panicked(e, &mut tasks)?,
                },
                Some(()) = interrupts.recv() => {
                    if self.interrupt(&mut tasks).await? == Interrupted::Aborted {
                        break;
                    }
                }
                Some(update) = progress_rx.recv() => {
                    let mut update = update;
                    update.message = self.redactor.redact(&update.message);
                    self.options.observer.progress(&update);
                }
            }
        }
        self.finish()
    }

    fn notice(&self, text: &str) {
        self.options.observer.notice(&self.redactor.redact(text));
    }

    fn append(&mut self, event: Event) -> Result<Record, StateError> {
        let record = self.journal.append(event)?;
        self.options.observer.record(&record);
        Ok(record)
    }

    fn def(&self, step: usize) -> &crate::model::StepDef {
        &self.program.steps[step].def
    }

    /// The attempt number of a step recorded as a whole (an include completing, a step failing
    /// before any unit starts): one more than the journal knew.
    fn next_whole_attempt(&self, step: usize) -> u32 {
        self.steps[step]
            .prior
            .as_ref()
            .map_or(0, StepRecord::attempts)
            + 1
    }

    fn key(&self, step: usize) -> String {
        self.program.steps[step].key.clone()
    }

    /// Tell the steps after this one (in its frame) what it produced.
    fn publish(&self, step: usize, status: &str, outputs: Option<&Value>) {
        let ps = &self.program.steps[step];
        self.frames[ps.frame].set_step(&ps.def.id, status, outputs);
    }

    fn scope(&self, step: usize, item: Option<(&Value, usize)>) -> minijinja::Value {
        self.frames[self.program.steps[step].frame].value(item)
    }
}
