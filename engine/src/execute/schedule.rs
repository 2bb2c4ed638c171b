//! What may start now: a waiting step is blocked, skipped or activated once what it needs has
//! finished; an active step's pending units start while there is room under `--parallel`.

use tokio::task::JoinSet;

use super::Execution;
use super::gates::Gate;
use super::interrupt::Drain;
use super::state::{StepStatus, TaskDone, UnitState};
use crate::error::StateError;

impl Execution<'_> {
    /// Decide what can start, and start it.
    pub(super) fn schedule(&mut self, tasks: &mut JoinSet<TaskDone>) -> Result<(), StateError> {
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
        match self.gate(step)? {
            Gate::Open => {}
            Gate::Closed(reason) => return self.skip(step, reason),
            Gate::Broken(error) => return self.fail_before_start(step, error),
        }
        if self.program.is_include(step) {
            return self.complete_include(step);
        }
        self.activate(step)
    }
}
