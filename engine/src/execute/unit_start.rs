//! Starting one attempt of a unit: its inputs rendered now, its start journaled, the kind run as
//! a task under the step's timeout. A step that fails before any unit can start (its `when` or
//! `for_each` does not evaluate) is recorded here too.

use std::sync::Arc;

use serde_json::{Map, Value};
use tokio::task::JoinSet;

use super::Execution;
use super::state::{StepStatus, TaskDone, Unit, UnitState};
use crate::duration::format_duration;
use crate::error::StateError;
use crate::journal::Event;
use crate::kind::{StepContext, StepError, StepKind};
use crate::progress::ProgressSink;

impl Execution<'_> {
    pub(super) fn start_unit(
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

    pub(super) fn fail_before_start(
        &mut self,
        step: usize,
        error: String,
    ) -> Result<(), StateError> {
        let attempt = self.next_whole_attempt(step);
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
}
