use std::time::Duration;

use runbook_engine::duration::format_duration;
use runbook_engine::journal::{RunStatus, StateDir, StepState, StoredRun};
use runbook_engine::report::StepReport;
use serde_json::json;

use super::state_error;
use crate::args::OutputFormat;
use crate::exit;
use crate::ui::json::emit;

pub fn run(run_id: Option<&str>, state_dir: &StateDir, output: OutputFormat) -> i32 {
    match run_id {
        None => list(state_dir, output),
        Some(id) => one(id, state_dir, output),
    }
}

/// Every run, newest first. A damaged run is listed as such (with why), not hidden: its exit code
/// is the state's, after the whole list.
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
    let mut code = exit::OK;
    for dir in runs {
        let id = dir.id();
        let run = match StoredRun::read(dir) {
            Ok(run) => run,
            Err(e) => {
                code = exit::STATE;
                let first = e.to_string().lines().next().unwrap_or_default().to_string();
                match output {
                    OutputFormat::Human => println!("{id:<22} {:<12} {first}", "damaged"),
                    OutputFormat::Json => {
                        emit(&json!({"run_id": id, "state": "damaged", "error": e.to_string()}))
                    }
                }
                continue;
            }
        };
        let meta = &run.meta;
        let status = run.status();
        let steps = run.steps(status);
        let done = steps
            .iter()
            .filter(|s| {
                matches!(
                    s.state,
                    StepState::Succeeded | StepState::DoneByHand | StepState::Skipped
                )
            })
            .count();
        let total = steps.len();
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
    code
}

fn one(run_id: &str, state_dir: &StateDir, output: OutputFormat) -> i32 {
    let run = match StoredRun::open(state_dir, run_id) {
        Ok(found) => found,
        Err(e) => return state_error(&e, output),
    };
    let holder = run.holder();
    let status = run.status();
    let steps = run.steps(status);
    let meta = &run.meta;
    let duration = |step: &StepReport| {
        step.duration_ms
            .map(|ms| format_duration(Duration::from_millis(ms)))
            .unwrap_or_default()
    };
    if output == OutputFormat::Json {
        emit(
            &json!({"run_id": meta.run_id, "state": status, "runbook": meta.runbook, "runbook_path": meta.runbook_path,
            "started_at": meta.started_at, "holder": holder, "torn_tail": run.journal.torn.map(|t| t.to_string()), "steps": steps.iter().map(|s| {
                json!({"step": s.id, "state": s.state, "attempts": s.attempts,
                    "started": s.started, "ended": s.ended, "duration_ms": s.duration_ms, "error": s.error})
            }).collect::<Vec<_>>()}),
        );
        return exit::OK;
    }
    println!(
        "Run {} of {} ({}): {status}",
        meta.run_id, meta.runbook, meta.runbook_path
    );
    if let Some(holder) = holder {
        println!("Driven by {holder}");
    }
    if let Some(torn) = run.journal.torn {
        println!("The journal ends with {torn}; `resume` repairs it.");
    }
    println!(
        "\n{:<36} {:<13} {:>8} {:>10}  ERROR",
        "STEP", "STATE", "ATTEMPTS", "DURATION"
    );
    for step in &steps {
        let error = step.error.as_deref().unwrap_or_default();
        println!(
            "{:<36} {:<13} {:>8} {:>10}  {}",
            step.id,
            step.state.as_str(),
            step.attempts,
            duration(step),
            error.lines().next().unwrap_or_default()
        );
    }
    if !matches!(status, RunStatus::Succeeded | RunStatus::Running) {
        println!("\nContinue with: runbook resume {}", meta.run_id);
    }
    exit::OK
}
