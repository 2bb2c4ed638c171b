//! The read side of a stored run, one API for `status`, `runbook report` and the `report` step:
//! the run's state as read now, its steps in the one state vocabulary, the program as the
//! runbook is now (reloaded and revalidated) and its report.

use std::path::Path;

use super::build::recorded_step;
use super::{Report, StepReport};
use crate::error::RunbookGone;
use crate::journal::{RunState, RunStatus, StoredRun};
use crate::kind::Registry;
use crate::program::Program;
use crate::source::Sources;
use crate::validate::{KnownInputs, validate_program};
use crate::{expand, load};

impl StoredRun {
    /// The replayed state as a reader should see it: while no process drives the run, a step
    /// still marked started was cut off, so it reads as interrupted.
    pub fn state_now(&self, status: RunStatus) -> RunState {
        let mut state = self.state.clone();
        if status != RunStatus::Running {
            state.mark_started_as_interrupted();
        }
        state
    }

    /// Each step of the run, in the runbook's order as run.json keeps it, from the journal alone.
    pub fn steps(&self, status: RunStatus) -> Vec<StepReport> {
        let state = self.state_now(status);
        self.meta
            .step_keys()
            .map(|key| match state.step(key) {
                Some(record) => {
                    recorded_step(&state, key.to_string(), key.to_string(), None, record)
                }
                None => StepReport::not_run(key.to_string(), key.to_string(), None),
            })
            .collect()
    }

    /// The runbook the run was started from, as it is now: load, expand, validate.
    pub fn program(&self, registry: &Registry) -> Result<Program, RunbookGone> {
        let sources = Sources::new();
        let gone = |diagnostics| RunbookGone {
            runbook_path: self.meta.runbook_path.clone(),
            diagnostics,
            sources: sources.clone(),
        };
        let runbook =
            load::load_file(Path::new(&self.meta.runbook_path), &sources).map_err(gone)?;
        let program = expand::expand(runbook, &sources).map_err(gone)?;
        validate_program(&program, registry, &KnownInputs::default())
            .into_result(program)
            .map_err(gone)
    }

    /// The run's report, with its status read the way `status` and `resume` read it.
    pub fn report(&self, registry: &Registry) -> Result<Report, RunbookGone> {
        let program = self.program(registry)?;
        let status = self.status();
        Ok(Report::build(
            &program,
            &self.meta,
            &self.state_now(status),
            status,
        ))
    }
}
