//! Starting a run: its id, its inputs resolved, destructive steps confirmed, then its directory,
//! lock, first journal record and run.json, in that order, before the first step.

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::confirm::confirm_destructive;
use super::{Drive, Finished, SessionError, SessionOptions, session_started};
use crate::journal::{
    JournalRead, JournalWriter, LockHolder, RunInputs, RunLock, RunMeta, RunState, new_run_id,
    now_rfc3339, step_fingerprints,
};
use crate::kind::Registry;
use crate::program::Program;
use crate::redact::Redactor;
use crate::scope::{Inputs, RunInfo, resolve_frames};
use crate::template::Templates;

/// Start a new run of a validated program.
pub async fn start(
    program: &Program,
    registry: &Registry,
    inputs: &Inputs,
    input_paths: RunInputs,
    options: SessionOptions,
    on_run_id: impl FnOnce(&str),
    interrupts: mpsc::UnboundedReceiver<()>,
) -> Result<Finished, SessionError> {
    let run_id = new_run_id();
    let started_at = now_rfc3339();
    let redactor = Arc::new(Redactor::new());
    let templates = Templates::new();
    let run = RunInfo {
        id: run_id.clone(),
        started_at: started_at.clone(),
    };
    let frames = resolve_frames(program, inputs, &run, &templates, &redactor, false)
        .map_err(SessionError::Invalid)?;
    let all: Vec<usize> = (0..program.steps.len()).collect();
    confirm_destructive(program, registry, &all, options.interaction.as_ref())?;

    let secret_params: BTreeSet<&str> = program
        .root()
        .params
        .iter()
        .filter(|p| p.secret)
        .map(|p| p.name.as_str())
        .collect();
    let params = inputs
        .params
        .iter()
        .filter(|(k, _)| !secret_params.contains(k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let holder = LockHolder::current(&options.command);
    let meta = RunMeta {
        run_id: run_id.clone(),
        runbook: program.root().name.clone(),
        runbook_path: absolute(&program.root().path),
        started_at,
        host: holder.host.clone(),
        user: holder.user.clone(),
        engine_version: env!("CARGO_PKG_VERSION").into(),
        params,
        inputs: input_paths,
        parallel: options.parallel,
        steps: step_fingerprints(program),
    };
    let run_dir = options.state_dir.run(&run_id);
    run_dir.create()?;
    let (_lock, _) = RunLock::acquire(&run_dir, &options.command)
        .map_err(|e| SessionError::from_lock(e, &run_dir))?;
    // The journal's first record comes before run.json: run.json without a journal is damage.
    let mut journal = JournalWriter::open(&run_dir, &JournalRead::default(), redactor.clone())?;
    let record = session_started(&mut journal, 1, &options.command)?;
    run_dir.write_meta(&meta)?;
    on_run_id(&run_id);
    options.observer.record(&record);
    let drive = Drive {
        program,
        registry,
        frames,
        redactor,
        journal,
        run_dir: &run_dir,
        session: 1,
    };
    drive.run(&RunState::default(), options, interrupts).await
}

fn absolute(path: &std::path::Path) -> String {
    std::fs::canonicalize(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}
