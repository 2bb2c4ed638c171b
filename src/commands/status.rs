use runbook_engine::duration::format_duration;
use runbook_engine::journal::{RunDir, RunLock, RunState, SessionEnd, StateDir};
use runbook_engine::report::timing;
use serde_json::json;

use super::input_error;
use crate::args::OutputFormat;
use crate::exit;
use crate::ui::json::emit;

/// `running` while a live process holds the lock; otherwise how the last session ended, and
/// `interrupted` when it never recorded an end (killed, crashed, lost laptop).
pub fn run_state(run: &RunDir, state: &RunState) -> &'static str {
    if RunLock::holder(run).is_some() {
        return "running";
    }
    match state.last_end() {
        Some(SessionEnd::Succeeded) => "succeeded",
        Some(SessionEnd::Failed) => "failed",
        Some(SessionEnd::Interrupted) | None => "interrupted",
        Some(SessionEnd::Refused) => "refused",
    }
}

pub fn run(run_id: Option<&str>, state_dir: &StateDir, output: OutputFormat) -> i32 {
    match run_id {
        None => list(state_dir, output),
        Some(id) => one(id, state_dir, output),
    }
}

fn list(state_dir: &StateDir, output: OutputFormat) -> i32 {
    let runs = state_dir.list();
    if runs.is_empty() && output == OutputFormat::Human {
        println!("No runs in {}.", state_dir.runs_dir().display());
        return exit::OK;
    }
    if output == OutputFormat::Human {
        println!(
            "{:<22} {:<12} {:<28} {:<24} STEPS",
            "RUN", "STATE", "RUNBOOK", "STARTED"
        );
    }
    for run in runs {
        let Ok(meta) = run.read_meta() else { continue };
        let state = RunState::replay(&run.read_journal().unwrap_or_default());
        let done = state
            .steps
            .values()
            .filter(|s| s.succeeded() || s.skipped.is_some())
            .count();
        let total = meta.steps.keys().filter(|k| !k.ends_with(')')).count();
        let status = run_state(&run, &state);
        match output {
            OutputFormat::Human => println!(
                "{:<22} {:<12} {:<28} {:<24} {done}/{total}",
                meta.run_id, status, meta.runbook, meta.started_at
            ),
            OutputFormat::Json => emit(
                &json!({"run_id": meta.run_id, "state": status, "runbook": meta.runbook, "started_at": meta.started_at, "steps_done": done, "steps": total}),
            ),
        }
    }
    exit::OK
}

fn one(run_id: &str, state_dir: &StateDir, output: OutputFormat) -> i32 {
    let (run, meta) = match runbook_engine::session::open_run(state_dir, run_id) {
        Ok(found) => found,
        Err(e) => return input_error(&e.to_string(), output),
    };
    let mut state = RunState::replay(&run.read_journal().unwrap_or_default());
    let status = run_state(&run, &state);
    if status != "running" {
        state.mark_started_as_interrupted();
    }
    let keys: Vec<&String> = meta.steps.keys().filter(|k| !k.ends_with(')')).collect();
    if output == OutputFormat::Json {
        emit(
            &json!({"run_id": meta.run_id, "state": status, "runbook": meta.runbook, "runbook_path": meta.runbook_path,
            "started_at": meta.started_at, "holder": RunLock::holder(&run), "steps": keys.iter().map(|k| {
                let record = state.step(k);
                json!({"step": k, "state": record.map_or("pending", |r| r.state()), "attempts": record.map_or(0, |r| r.attempts()),
                    "started": record.and_then(|r| r.first_started()), "ended": record.and_then(|r| r.last_ended()),
                    "error": record.and_then(|r| r.units.values().find_map(|u| u.error.clone()))})
            }).collect::<Vec<_>>()}),
        );
        return exit::OK;
    }
    println!(
        "Run {} of {} ({}): {status}",
        meta.run_id, meta.runbook, meta.runbook_path
    );
    if let Some(holder) = RunLock::holder(&run) {
        println!("Driven by {holder}");
    }
    println!(
        "\n{:<36} {:<13} {:>8} {:>10}  ERROR",
        "STEP", "STATE", "ATTEMPTS", "DURATION"
    );
    for key in keys {
        let record = state.step(key);
        let duration = record
            .and_then(|r| timing::between(r.first_started()?, r.last_ended()?))
            .map(format_duration)
            .unwrap_or_default();
        let error = record
            .and_then(|r| r.units.values().find_map(|u| u.error.clone()))
            .unwrap_or_default();
        let error = error.lines().next().unwrap_or_default();
        println!(
            "{key:<36} {:<13} {:>8} {duration:>10}  {error}",
            record.map_or("pending", |r| r.state()),
            record.map_or(0, |r| r.attempts())
        );
    }
    if status != "succeeded" && status != "running" {
        println!("\nContinue with: runbook resume {}", meta.run_id);
    }
    exit::OK
}
