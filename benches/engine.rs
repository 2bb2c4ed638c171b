//! The engine's performance targets, measured with the journal on disk:
//! - 1,000 no-op steps planned and run, in a wide DAG and in a chain: under 1 ms of engine overhead per step;
//! - resume of a 1,000-step run (journal read, state replayed, plan rebuilt): under 50 ms;
//! - `validate` of every shipped runbook: under 100 ms; CLI start to first output: under 30 ms.
//!
//! Run: `cargo bench --bench engine`. Prints one line per figure.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use runbook_engine::execute::{ExecOptions, Execution, Silent};
use runbook_engine::interaction::AssumeYes;
use runbook_engine::journal::{Event, JournalWriter, RunDir, RunState, StateDir};
use runbook_engine::kind::{Registry, StepContext, StepError, StepKind};
use runbook_engine::plan::build_plan;
use runbook_engine::program::Program;
use runbook_engine::redact::Redactor;
use runbook_engine::scope::{Inputs, RunInfo, resolve_frames};
use runbook_engine::source::Sources;
use runbook_engine::template::Templates;
use runbook_engine::validate::KnownInputs;
use serde_json::{Value, json};

struct Noop;

#[async_trait]
impl StepKind for Noop {
    fn name(&self) -> &'static str {
        "noop"
    }
    fn about(&self) -> &'static str {
        "does nothing"
    }
    fn input_schema(&self) -> Value {
        json!({"type": "object", "properties": {"value": {"type": "string"}}, "additionalProperties": false})
    }
    fn describe(&self, _with: &Value) -> String {
        "nothing".into()
    }
    async fn run(&self, _ctx: &StepContext, with: Value) -> Result<Value, StepError> {
        Ok(with)
    }
}

fn registry() -> Registry {
    let mut r = runbook_steps::registry();
    r.register(Noop);
    r
}

/// `wide`: one root, 998 steps that need only it, one sink that needs them all. `chain`: each needs the previous.
fn runbook(shape: &str, n: usize) -> String {
    let mut text = format!(
        "apiVersion: runbook/v1\nkind: Runbook\nname: {shape}\nparams:\n  p: {{default: x}}\nsteps:\n"
    );
    for i in 0..n {
        let needs = match (shape, i) {
            (_, 0) => String::new(),
            ("wide", i) if i == n - 1 => format!(
                "    needs: [{}]\n",
                (1..n - 1)
                    .map(|j| format!("s{j}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            ("wide", _) => "    needs: [s0]\n".into(),
            _ => format!("    needs: [s{}]\n", i - 1),
        };
        text.push_str(&format!(
            "  - id: s{i}\n{needs}    uses: noop\n    with: {{value: \"{{{{ params.p }}}}-{i}\"}}\n"
        ));
    }
    text
}

fn load(path: &Path, registry: &Registry) -> Program {
    let sources = Sources::new();
    let runbook =
        runbook_engine::load::load_file(path, &sources).unwrap_or_else(|d| panic!("{d:?}"));
    let program =
        runbook_engine::expand::expand(runbook, &sources).unwrap_or_else(|d| panic!("{d:?}"));
    runbook_engine::validate::validate_program(&program, registry, &KnownInputs::default())
        .into_result(program)
        .unwrap_or_else(|d| panic!("{d:?}"))
}

fn execute(program: &Program, registry: &Registry, run_dir: &RunDir, prior: &RunState) -> Duration {
    let start = Instant::now();
    let redactor = Arc::new(Redactor::new());
    let run = RunInfo {
        id: run_dir.id(),
        started_at: "now".into(),
    };
    let frames = resolve_frames(
        program,
        &Inputs::default(),
        &run,
        &Templates::new(),
        &redactor,
        false,
    )
    .unwrap();
    let read = run_dir.read_journal().unwrap();
    let mut journal = JournalWriter::open(run_dir, &read, redactor.clone()).unwrap();
    journal
        .append(Event::SessionStarted {
            session: 1,
            host: "bench".into(),
            pid: 0,
            user: "bench".into(),
            command: "bench".into(),
        })
        .unwrap();
    let options = ExecOptions {
        run_dir: None,
        session: 1,
        parallel: 8,
        interaction: Arc::new(AssumeYes),
        observer: Arc::new(Silent),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let outcome = runtime.block_on(async {
        let (_tx, rx) = tokio::sync::mpsc::unbounded_channel();
        Execution::new(
            program,
            registry,
            frames,
            redactor,
            journal,
            run_dir.id(),
            prior,
            options,
        )
        .run(rx)
        .await
        .unwrap()
    });
    assert!(
        outcome.failed.is_empty() && outcome.not_run.is_empty(),
        "{outcome:?}"
    );
    start.elapsed()
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry();
    let n = 1000;
    for shape in ["wide", "chain"] {
        let path = dir.path().join(format!("{shape}.yaml"));
        std::fs::write(&path, runbook(shape, n)).unwrap();
        let start = Instant::now();
        let program = load(&path, &registry);
        let plan = build_plan(&program, &registry, &Inputs::default()).unwrap();
        let planned = start.elapsed();
        assert_eq!(plan.step_count(), n);
        let state = StateDir::new(dir.path().join(".runbook"));
        let run_dir = state.run(&format!("bench-{shape}"));
        std::fs::create_dir_all(&run_dir.path).unwrap();
        let ran = execute(&program, &registry, &run_dir, &RunState::default());
        println!(
            "{shape:>5} DAG, {n} no-op steps: load+validate+plan {:>6.1} ms; run with journal {:>7.1} ms = {:.3} ms per step; total {:.2} s",
            ms(planned),
            ms(ran),
            ms(ran) / n as f64,
            (planned + ran).as_secs_f64()
        );
        // Resume: what `runbook resume` does before executing: read, replay, rebuild the program and state.
        let start = Instant::now();
        let records = run_dir.read_journal().unwrap().records;
        let read = start.elapsed();
        let replayed = RunState::replay(&records);
        let replay = start.elapsed() - read;
        let sources = Sources::new();
        let runbook = runbook_engine::load::load_file(&path, &sources).unwrap();
        let parsed = start.elapsed() - read - replay;
        let program = runbook_engine::expand::expand(runbook, &sources).unwrap();
        let diags = runbook_engine::validate::validate_program(
            &program,
            &registry,
            &KnownInputs::default(),
        );
        assert!(diags.is_empty());
        let validated = start.elapsed() - read - replay - parsed;
        let redactor = Arc::new(Redactor::new());
        let run = RunInfo {
            id: run_dir.id(),
            started_at: "now".into(),
        };
        let _frames = resolve_frames(
            &program,
            &Inputs::default(),
            &run,
            &Templates::new(),
            &redactor,
            false,
        )
        .unwrap();
        let rebuilt = start.elapsed();
        assert_eq!(replayed.steps.len(), n);
        println!(
            "{shape:>5} DAG: resume of a {n}-step run: {:.1} ms (journal of {} records read {:.1} ms, replayed {:.1} ms; runbook parsed {:.1} ms, expanded and validated {:.1} ms)",
            ms(rebuilt),
            records.len(),
            ms(read),
            ms(replay),
            ms(parsed),
            ms(validated)
        );
    }

    let shipped: Vec<std::path::PathBuf> = walk(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("runbooks")
            .as_path(),
    );
    let steps_registry = runbook_steps::registry();
    let start = Instant::now();
    let mut steps = 0;
    for file in &shipped {
        steps += load(file, &steps_registry).steps.len();
    }
    println!(
        "validate of {} shipped runbooks ({steps} steps): {:.1} ms",
        shipped.len(),
        ms(start.elapsed())
    );

    let binary = env!("CARGO_BIN_EXE_runbook");
    let mut best = Duration::MAX;
    for _ in 0..20 {
        let start = Instant::now();
        let out = Command::new(binary).arg("--version").output().unwrap();
        assert!(out.status.success());
        best = best.min(start.elapsed());
    }
    println!(
        "CLI start to first output (`runbook --version`, best of 20): {:.1} ms",
        ms(best)
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "yaml")
            // Manifests that runbooks apply live beside them.
            && std::fs::read_to_string(&path).is_ok_and(|t| t.contains("\nkind: Runbook"))
        {
            out.push(path);
        }
    }
    out.sort();
    out
}
