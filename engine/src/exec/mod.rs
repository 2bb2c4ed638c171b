//! Execute: run a program's steps as a DAG. One coordinator owns every step's state and writes the
//! journal; each unit (a step, or one `for_each` item) runs as a tokio task. A unit starts when
//! everything its step needs has finished well and its `when` holds; its templates are rendered
//! just before it starts; its result is journaled (and synced) before anything acts on it.

mod observer;

use std::sync::Arc;

use serde_json::{Map, Value};
use std::collections::HashMap;
use tokio::sync::mpsc;

use tokio::task::{AbortHandle, JoinSet};

pub use observer::{Observer, Silent};

use crate::duration::format_duration;
use crate::interaction::Interaction;
use crate::journal::{
    Event, JournalWriter, Record, RunState, SessionEnd, StateError, StepRecord, UnitStatus,
};
use crate::kind::{Registry, StepContext, StepError, StepKind};
use crate::model::ForEach;
use crate::program::Program;
use crate::progress::{ProgressSink, ProgressUpdate};
use crate::redact::Redactor;
use crate::scope::FrameScope;
use crate::template::{Templates, expression_text};

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

/// How a session of a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub status: SessionEnd,
    /// Steps that failed, with their last error.
    pub failed: Vec<(String, String)>,
    /// Steps that did not start because something they need failed or the run was interrupted.
    pub not_run: Vec<String>,
    pub succeeded: usize,
    pub skipped: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum StepStatus {
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
    fn satisfied(self) -> bool {
        matches!(
            self,
            StepStatus::Succeeded | StepStatus::Skipped | StepStatus::Tolerated
        )
    }
    fn terminal(self) -> bool {
        !matches!(self, StepStatus::Waiting | StepStatus::Active)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum UnitState {
    Pending,
    Running,
    RetryWait,
    Succeeded,
    Failed,
    DoneByHand,
}

#[derive(Debug, Clone)]
struct Unit {
    state: UnitState,
    /// Attempts over the whole run.
    attempt: u32,
    /// Attempts in this session: the retry budget is per session, so a resumed run retries afresh.
    session_attempts: u32,
    outputs: Option<Value>,
    error: Option<String>,
}

struct StepRun {
    status: StepStatus,
    items: Option<Vec<Value>>,
    units: Vec<Unit>,
    /// What the journal knew of this step when the session started (resume).
    prior: Option<StepRecord>,
}

enum TaskDone {
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

#[derive(Debug, Clone, Copy, PartialEq)]
enum Drain {
    None,
    /// A step failed: nothing new starts but `always` steps.
    Failure,
    /// Ctrl-C: nothing new starts at all; the run is to be resumed.
    Interrupt,
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
                Some(done) = tasks.join_next_with_id() => {
                    match done {
                        Ok((id, done)) => {
                            self.unit_tasks.remove(&id);
                            self.handle(done, &mut tasks)?
                        }
                        Err(e) if e.is_cancelled() => {}
                        Err(e) => {
                            // A kind's bug fails its own step, recorded like any failure.
                            let Some((step, unit)) = self.unit_tasks.remove(&e.id()) else {
                                continue;
                            };
                            let message = panic_message(e.into_panic());
                            let done = TaskDone::Finished {
                                step,
                                unit,
                                result: Err(StepError::permanent(format!("the step kind failed unexpectedly: {message}"))),
                            };
                            self.handle(done, &mut tasks)?
                        }
                    }
                }
                Some(()) = interrupts.recv() => {
                    if self.drain == Drain::Interrupt {
                        self.notice("Aborting the running steps; the run can be resumed.");
                        tasks.abort_all();
                        while tasks.join_next().await.is_some() {}
                        self.record_aborted()?;
                        break;
                    }
                    self.drain = Drain::Interrupt;
                    // Nothing waits out a retry delay once the run is interrupted.
                    for wait in self.retry_waits.drain(..) {
                        wait.abort();
                    }
                    self.notice(&format!(
                        "Interrupted: no new steps start; waiting for {} running step{} to finish. Press Ctrl-C again to abort {}.",
                        self.running, if self.running == 1 { "" } else { "s" }, if self.running == 1 { "it" } else { "them" }
                    ));
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

    /// Decide what can start, and start it.
    fn schedule(&mut self, tasks: &mut JoinSet<TaskDone>) -> Result<(), StateError> {
        for position in 0..self.order.len() {
            let step = self.order[position];
            if self.steps[step].status == StepStatus::Waiting {
                self.consider(step)?;
            }
        }
        for position in 0..self.order.len() {
            let step = self.order[position];
            if self.steps[step].status != StepStatus::Active {
                continue;
            }
            let always = self.def(step).always;
            for unit in 0..self.steps[step].units.len() {
                let startable = match self.drain {
                    Drain::None => true,
                    Drain::Failure => always,
                    Drain::Interrupt => false,
                };
                if self.steps[step].units[unit].state == UnitState::Pending
                    && startable
                    && self.running < self.options.parallel.max(1)
                {
                    self.start_unit(step, unit, tasks)?;
                }
            }
        }
        Ok(())
    }

    /// A waiting step: block it, skip it, or activate it.
    fn consider(&mut self, step: usize) -> Result<(), StateError> {
        let always = self.def(step).always;
        let needs: Vec<StepStatus> = self.program.steps[step]
            .needs
            .iter()
            .map(|&n| self.steps[n].status)
            .collect();
        let ready = if always {
            needs.iter().all(|s| s.terminal())
        } else {
            if needs
                .iter()
                .any(|s| matches!(s, StepStatus::Failed | StepStatus::Blocked))
            {
                self.steps[step].status = StepStatus::Blocked;
                return Ok(());
            }
            needs.iter().all(|s| s.satisfied())
        };
        if !ready {
            return Ok(());
        }
        match self.drain {
            Drain::Interrupt => return Ok(()),
            Drain::Failure if !always => {
                self.steps[step].status = StepStatus::Blocked;
                return Ok(());
            }
            _ => {}
        }
        if let Some(reason) = self.gate_closed(step)? {
            return self.skip(step, reason);
        }
        if let Some(when) = self.def(step).when.clone() {
            match self
                .templates
                .eval_bool(&when.text, &self.scope(step, None))
            {
                Ok(true) => {}
                Ok(false) => {
                    return self.skip(
                        step,
                        format!("`when: {}` is false", expression_text(&when.text)),
                    );
                }
                Err(e) => return self.fail_before_start(step, format!("when: {e}")),
            }
        }
        if self.program.is_include(step) {
            return self.complete_include(step);
        }
        let items = match self.def(step).for_each.clone() {
            None => None,
            Some(for_each) => match self.expand(step, &for_each) {
                Ok(items) => Some(items),
                Err(e) => return self.fail_before_start(step, format!("for_each: {e}")),
            },
        };
        let count = items.as_ref().map_or(1, Vec::len);
        if let Some(items) = &items {
            let known = self.steps[step].prior.as_ref().and_then(|p| p.items);
            if known != Some(items.len()) {
                self.append(Event::StepExpanded {
                    step: self.key(step),
                    items: items.len(),
                })?;
            }
        }
        let prior = self.steps[step].prior.clone();
        let units = (0..count)
            .map(|i| {
                let index = items.as_ref().map(|_| i);
                let record = prior.as_ref().and_then(|p| p.unit(index));
                let state = match record.map(|r| r.status) {
                    Some(UnitStatus::Succeeded) => UnitState::Succeeded,
                    Some(UnitStatus::SkippedByOperator) => UnitState::DoneByHand,
                    _ => UnitState::Pending,
                };
                Unit {
                    state,
                    attempt: record.map_or(0, |r| r.attempts),
                    session_attempts: 0,
                    outputs: record.and_then(|r| r.outputs.clone()),
                    error: None,
                }
            })
            .collect();
        let run = &mut self.steps[step];
        run.items = items;
        run.units = units;
        run.status = StepStatus::Active;
        self.settle(step)
    }

    fn expand(&self, step: usize, for_each: &ForEach) -> Result<Vec<Value>, String> {
        let scope = self.scope(step, None);
        let value = match for_each {
            ForEach::Expr(expr) => {
                let v = self.templates.eval(expression_text(&expr.text), &scope)?;
                crate::template::to_json_value(&v)
            }
            ForEach::List(node, _) => self.templates.render_value(&node.to_json(), &scope)?,
        };
        match value {
            Value::Array(items) => Ok(items),
            Value::Object(map) => Ok(map
                .into_iter()
                .map(|(k, v)| serde_json::json!({"key": k, "value": v}))
                .collect()),
            other => Err(format!("expected a list, got {other}")),
        }
    }

    /// The first enclosing include whose `when` is false, if any.
    fn gate_closed(&mut self, step: usize) -> Result<Option<String>, StateError> {
        for gate in self.program.steps[step].gates.clone() {
            let open = match self.gates[gate] {
                Some(open) => open,
                None => {
                    let open = match &self.def(gate).when {
                        None => true,
                        Some(when) => self
                            .templates
                            .eval_bool(&when.text, &self.scope(gate, None))
                            .unwrap_or(false),
                    };
                    self.gates[gate] = Some(open);
                    open
                }
            };
            if !open {
                return Ok(Some(format!(
                    "the runbook step `{}` is skipped",
                    self.key(gate)
                )));
            }
        }
        Ok(None)
    }

    fn skip(&mut self, step: usize, reason: String) -> Result<(), StateError> {
        self.append(Event::StepSkipped {
            step: self.key(step),
            reason,
        })?;
        self.steps[step].status = StepStatus::Skipped;
        self.publish(step, "skipped", None);
        Ok(())
    }

    fn fail_before_start(&mut self, step: usize, error: String) -> Result<(), StateError> {
        let attempt = self.steps[step]
            .prior
            .as_ref()
            .map_or(0, StepRecord::attempts)
            + 1;
        let key = self.key(step);
        self.append(Event::StepStarted {
            step: key.clone(),
            index: None,
            attempt,
            description: None,
        })?;
        self.append(Event::StepFailed {
            step: key,
            index: None,
            attempt,
            error: error.clone(),
            retry_in_ms: None,
        })?;
        let error = self.redactor.redact(&error);
        self.steps[step].units = vec![Unit {
            state: UnitState::Failed,
            attempt,
            session_attempts: 1,
            outputs: None,
            error: Some(error),
        }];
        self.steps[step].status = StepStatus::Active;
        self.settle(step)
    }

    /// An included runbook's steps have all finished: the include step collects their outputs.
    fn complete_include(&mut self, step: usize) -> Result<(), StateError> {
        let child_frame = self.program.steps[step].child_frame.expect("include step");
        let mut outputs = Map::new();
        for (index, child) in self.program.steps.iter().enumerate() {
            if child.frame == child_frame {
                let value = self.unit_outputs(index).unwrap_or(Value::Null);
                outputs.insert(child.def.id.clone(), value);
            }
        }
        let outputs = Value::Object(outputs);
        let key = self.key(step);
        let attempt = self.steps[step]
            .prior
            .as_ref()
            .map_or(0, StepRecord::attempts)
            + 1;
        self.append(Event::StepStarted {
            step: key.clone(),
            index: None,
            attempt,
            description: None,
        })?;
        self.append(Event::StepSucceeded {
            step: key,
            index: None,
            attempt,
            outputs: outputs.clone(),
        })?;
        self.steps[step].status = StepStatus::Succeeded;
        self.publish(step, "succeeded", Some(&outputs));
        Ok(())
    }

    fn unit_outputs(&self, step: usize) -> Option<Value> {
        let run = &self.steps[step];
        if run.status == StepStatus::Succeeded && run.units.is_empty() {
            return run.prior.as_ref().map(StepRecord::outputs);
        }
        match &run.items {
            None => run.units.first().and_then(|u| u.outputs.clone()),
            Some(_) => Some(Value::Array(
                run.units
                    .iter()
                    .map(|u| u.outputs.clone().unwrap_or(Value::Null))
                    .collect(),
            )),
        }
    }

    fn start_unit(
        &mut self,
        step: usize,
        unit: usize,
        tasks: &mut JoinSet<TaskDone>,
    ) -> Result<(), StateError> {
        let def = self.def(step).clone();
        let index = self.steps[step].items.as_ref().map(|_| unit);
        let item = self.steps[step]
            .items
            .as_ref()
            .map(|items| items[unit].clone());
        let scope = self.scope(step, item.as_ref().map(|v| (v, unit)));
        let key = self.key(step);
        let attempt = self.steps[step].units[unit].attempt + 1;
        {
            let u = &mut self.steps[step].units[unit];
            u.attempt = attempt;
            u.session_attempts += 1;
        }
        let kind: Arc<dyn StepKind> = self
            .registry
            .get(&def.uses)
            .expect("validated kind")
            .clone();
        let with = def
            .with
            .as_ref()
            .map(|n| n.to_json())
            .unwrap_or(Value::Object(Map::new()));
        let rendered = self.templates.render_value(&with, &scope);
        let description = rendered.as_ref().ok().map(|w| kind.describe(w));
        self.append(Event::StepStarted {
            step: key.clone(),
            index,
            attempt,
            description,
        })?;
        let with = match rendered {
            Ok(with) => with,
            Err(e) => {
                let done = TaskDone::Finished {
                    step,
                    unit,
                    result: Err(StepError::permanent(format!("rendering `with`: {e}"))),
                };
                self.running += 1;
                self.steps[step].units[unit].state = UnitState::Running;
                return self.handle(done, tasks);
            }
        };
        let idempotency_key = match index {
            Some(i) => format!("{}-{key}-{i}", self.run_id),
            None => format!("{}-{key}", self.run_id),
        };
        let frame = &self.frames[self.program.steps[step].frame];
        let ctx = StepContext {
            run_id: self.run_id.clone(),
            step_id: key.clone(),
            index,
            attempt,
            idempotency_key,
            runbook_dir: self.program.runbook_of(step).dir(),
            connections: frame.connections.clone(),
            progress: ProgressSink::new(key, index, Some(self.progress_tx.clone())),
            interaction: self.options.interaction.clone(),
            redactor: self.redactor.clone(),
            run_dir: self.options.run_dir.clone(),
        };
        let timeout = def.timeout;
        self.steps[step].units[unit].state = UnitState::Running;
        self.running += 1;
        let handle = tasks.spawn(async move {
            let work = kind.run(&ctx, with);
            let result = match timeout {
                Some(limit) => match tokio::time::timeout(limit, work).await {
                    Ok(result) => result,
                    Err(_) => Err(StepError::new(format!(
                        "timed out after {}",
                        format_duration(limit)
                    ))),
                },
                None => work.await,
            };
            TaskDone::Finished { step, unit, result }
        });
        self.unit_tasks.insert(handle.id(), (step, unit));
        Ok(())
    }

    fn handle(&mut self, done: TaskDone, tasks: &mut JoinSet<TaskDone>) -> Result<(), StateError> {
        match done {
            TaskDone::RetryDue { step, unit } => {
                self.steps[step].units[unit].state = UnitState::Pending;
                Ok(())
            }
            TaskDone::Finished { step, unit, result } => {
                self.running -= 1;
                let key = self.key(step);
                let index = self.steps[step].items.as_ref().map(|_| unit);
                let attempt = self.steps[step].units[unit].attempt;
                match result {
                    Ok(outputs) => {
                        if self.def(step).secret {
                            self.redactor.add_value(&outputs);
                        }
                        self.append(Event::StepSucceeded {
                            step: key,
                            index,
                            attempt,
                            outputs: outputs.clone(),
                        })?;
                        let u = &mut self.steps[step].units[unit];
                        u.state = UnitState::Succeeded;
                        u.outputs = Some(outputs);
                    }
                    Err(error) => {
                        let retry = self.def(step).retry;
                        let session_attempts = self.steps[step].units[unit].session_attempts;
                        let retrying = error.retryable
                            && session_attempts < retry.attempts
                            && self.drain != Drain::Interrupt;
                        let delay = retry.delay_before(session_attempts + 1);
                        self.append(Event::StepFailed {
                            step: key,
                            index,
                            attempt,
                            error: error.message.clone(),
                            retry_in_ms: retrying.then_some(delay.as_millis() as u64),
                        })?;
                        let message = self.redactor.redact(&error.message);
                        let u = &mut self.steps[step].units[unit];
                        u.error = Some(message);
                        if retrying {
                            u.state = UnitState::RetryWait;
                            let wait = tasks.spawn(async move {
                                tokio::time::sleep(delay).await;
                                TaskDone::RetryDue { step, unit }
                            });
                            self.retry_waits.retain(|w| !w.is_finished());
                            self.retry_waits.push(wait);
                        } else {
                            u.state = UnitState::Failed;
                        }
                    }
                }
                self.settle(step)
            }
        }
    }

    /// When every unit of a step has finished, the step has.
    fn settle(&mut self, step: usize) -> Result<(), StateError> {
        let units = &self.steps[step].units;
        if units.iter().any(|u| {
            matches!(
                u.state,
                UnitState::Pending | UnitState::Running | UnitState::RetryWait
            )
        }) {
            if units.iter().any(|u| u.state == UnitState::Failed)
                && !self.def(step).continue_on_error
                && self.drain == Drain::None
            {
                self.drain_for(step);
            }
            return Ok(());
        }
        if units.iter().any(|u| u.state == UnitState::Failed) {
            if self.def(step).continue_on_error {
                self.steps[step].status = StepStatus::Tolerated;
                let outputs = self.unit_outputs(step);
                self.publish(step, "failed", outputs.as_ref());
            } else {
                self.steps[step].status = StepStatus::Failed;
                if self.drain == Drain::None {
                    self.drain_for(step);
                }
            }
        } else {
            self.steps[step].status = StepStatus::Succeeded;
            let outputs = self.unit_outputs(step);
            self.publish(step, "succeeded", outputs.as_ref());
        }
        Ok(())
    }

    fn drain_for(&mut self, step: usize) {
        self.drain = Drain::Failure;
        if self.running > 0 {
            self.notice(&format!(
                "`{}` failed: no new steps start; waiting for {} running step{} to finish",
                self.key(step),
                self.running,
                if self.running == 1 { "" } else { "s" }
            ));
        }
    }

    /// After a second Ctrl-C: the running units were aborted.
    fn record_aborted(&mut self) -> Result<(), StateError> {
        for step in 0..self.steps.len() {
            for unit in 0..self.steps[step].units.len() {
                if self.steps[step].units[unit].state == UnitState::Running {
                    let index = self.steps[step].items.as_ref().map(|_| unit);
                    let attempt = self.steps[step].units[unit].attempt;
                    self.append(Event::StepInterrupted {
                        step: self.key(step),
                        index,
                        attempt,
                    })?;
                    self.steps[step].units[unit].state = UnitState::Pending;
                }
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Outcome, StateError> {
        let mut outcome = Outcome {
            status: SessionEnd::Succeeded,
            failed: Vec::new(),
            not_run: Vec::new(),
            succeeded: 0,
            skipped: 0,
        };
        for (index, run) in self.steps.iter().enumerate() {
            let key = self.program.steps[index].key.clone();
            match run.status {
                StepStatus::Succeeded | StepStatus::Tolerated => outcome.succeeded += 1,
                StepStatus::Skipped => outcome.skipped += 1,
                StepStatus::Failed => {
                    let error = run
                        .units
                        .iter()
                        .filter_map(|u| u.error.clone())
                        .next_back()
                        .unwrap_or_default();
                    outcome.failed.push((key, error));
                }
                StepStatus::Active if run.units.iter().any(|u| u.state == UnitState::Failed) => {
                    let error = run
                        .units
                        .iter()
                        .filter_map(|u| u.error.clone())
                        .next_back()
                        .unwrap_or_default();
                    outcome.failed.push((key, error));
                }
                _ => outcome.not_run.push(key),
            }
        }
        // A run whose every step finished is finished, even if an interruption came while its
        // last step was running.
        outcome.status = if outcome.failed.is_empty() && outcome.not_run.is_empty() {
            SessionEnd::Succeeded
        } else if self.drain == Drain::Interrupt {
            SessionEnd::Interrupted
        } else {
            SessionEnd::Failed
        };
        self.append(Event::SessionEnded {
            session: self.options.session,
            status: outcome.status,
        })?;
        Ok(outcome)
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}
