//! Resuming a run: its lock taken, the run read again under it, the runbook checked unchanged,
//! the resume policy applied and journaled, destructive steps confirmed, then the executor
//! continues from the journal's checkpoints.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::confirm::confirm_destructive;
use super::resume_policy::{Refusal, ResumeChoices, decide};
use super::unchanged::check_unchanged;
use super::{Drive, Finished, SessionError, SessionOptions, session_started};
use crate::execute::Outcome;
use crate::journal::{Event, JournalWriter, RunDir, RunLock, RunState, SessionEnd, StoredRun};
use crate::kind::Registry;
use crate::program::Program;
use crate::redact::Redactor;
use crate::scope::{Inputs, RunInfo, resolve_frames};
use crate::template::Templates;

/// Continue a run where it stopped.
#[allow(clippy::too_many_arguments)]
pub async fn resume(
    program: &Program,
    registry: &Registry,
    inputs: &Inputs,
    run_dir: &RunDir,
    choices: &ResumeChoices,
    options: SessionOptions,
    interrupts: mpsc::UnboundedReceiver<()>,
) -> Result<Finished, SessionError> {
    let run_id = run_dir.id();
    let (_lock, previous) = RunLock::acquire(run_dir, &options.command)
        .map_err(|e| SessionError::from_lock(e, run_dir))?;
    // Read again under the lock: what was read before it may be out of date.
    let stored = StoredRun::read(run_dir.clone())?;
    check_unchanged(program, &stored.meta)?;
    if let Some(previous) = previous {
        options.observer.notice(&format!(
            "Took over the run lock left by {previous}, which no longer runs."
        ));
    }
    let decision = decide(program, registry, &stored.state, choices);
    if let Err(unknown @ Refusal::UnknownStep { .. }) = decision {
        return Err(refused(unknown, &run_id, &options.resume_flags));
    }

    let redactor = Arc::new(Redactor::new());
    let run = RunInfo {
        id: run_id.clone(),
        started_at: stored.meta.started_at.clone(),
    };
    let frames = resolve_frames(program, inputs, &run, &Templates::new(), &redactor, false)
        .map_err(SessionError::Invalid)?;
    let decision = decision.map_err(|refusal| refused(refusal, &run_id, &options.resume_flags))?;
    if !decision.nothing_to_do() {
        confirm_destructive(
            program,
            registry,
            &decision.to_run,
            options.interaction.as_ref(),
        )?;
    }

    let session = stored
        .state
        .sessions
        .iter()
        .map(|s| s.session)
        .max()
        .unwrap_or(0)
        + 1;
    let mut journal = JournalWriter::open(run_dir, &stored.journal, redactor.clone())?;
    if let Some(torn) = stored.journal.torn {
        options.observer.notice(&format!(
            "Repaired the journal: removed {torn}; the engine had not acted on it."
        ));
    }
    let mut written = vec![session_started(&mut journal, session, &options.command)?];
    if decision.nothing_to_do() {
        // Every step had finished, but the session that finished them did not live to say so
        // (killed after its last step, or its end record torn): close the run.
        options.observer.record(&written[0]);
        options.observer.notice(&format!(
            "Every step of run {run_id} had finished; its last session ended before recording that. The run is now recorded as succeeded."
        ));
        let end = journal.append(Event::SessionEnded {
            session,
            status: SessionEnd::Succeeded,
        })?;
        options.observer.record(&end);
        return Ok(Finished {
            run_id,
            outcome: Outcome {
                status: SessionEnd::Succeeded,
                failed: Vec::new(),
                not_run: Vec::new(),
                succeeded: stored.meta.step_keys().count(),
                skipped: 0,
            },
        });
    }
    for event in decision.events {
        written.push(journal.append(event)?);
    }
    for record in &written {
        options.observer.record(record);
    }
    let mut records = stored.journal.records.clone();
    records.extend(written);
    let drive = Drive {
        program,
        registry,
        frames,
        redactor,
        journal,
        run_dir,
        session,
    };
    drive
        .run(&RunState::replay(&records), options, interrupts)
        .await
}

/// The operator's message for a refused resume; `flags` is what the printed commands must add
/// to reach this run again.
fn refused(refusal: Refusal, run_id: &str, flags: &str) -> SessionError {
    SessionError::Refused(match refusal {
        Refusal::UnknownStep { key, help } => format!("`{key}` is not a step of this run. {help}"),
        Refusal::NotIdempotent(unsure) => {
            let list = unsure
                .iter()
                .map(|k| format!("  - {k}"))
                .collect::<Vec<_>>()
                .join("\n");
            format!(
                "these steps were running when run {run_id} was interrupted and are not idempotent, so running them again could repeat their effect:\n{list}\n\
                 Check whether each took effect, then either:\n  runbook resume {run_id} --rerun-interrupted{flags}      (run them again)\n  runbook resume {run_id} --skip {}{flags}      (you finished it by hand)",
                unsure[0]
            )
        }
        Refusal::AlreadyFinished => format!(
            "run {run_id} already finished: every step succeeded or was skipped; nothing to resume"
        ),
    })
}
