//! The executor in-process: a probe kind records what ran when, so scheduling order, fail-fast,
//! `always`, `for_each` checkpoints, retries and interruption are checked without the binary.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use tokio::sync::{Barrier, mpsc};

use super::{ExecOptions, Execution, Outcome, Silent};
use crate::interaction::AssumeYes;
use crate::journal::{Event, JournalWriter, Record, RunDir, RunState, SessionEnd, StepState};
use crate::kind::{Registry, StepContext, StepError, StepKind};
use crate::program::Program;
use crate::redact::Redactor;
use crate::scope::{Inputs, RunInfo, resolve_frames};
use crate::template::Templates;

/// `probe`: logs `start <id>` and `end <id>`; `fail: N` fails the first N attempts of each unit,
/// `fail_on: ITEM` the first attempt of the unit whose `item` it is (`permanent: true` makes
/// failures not retryable); `sleep_ms` holds the unit; `meet` waits at a
/// barrier shared by every unit that names it.
#[derive(Clone, Default)]
struct Probe {
    log: Arc<Mutex<Vec<String>>>,
    attempts: Arc<Mutex<HashMap<String, u32>>>,
    barrier: Arc<Mutex<Option<Arc<Barrier>>>>,
}

impl Probe {
    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
    fn starts(&self) -> Vec<String> {
        self.log()
            .iter()
            .filter_map(|l| l.strip_prefix("start ").map(str::to_string))
            .collect()
    }
}

#[async_trait]
impl StepKind for Probe {
    fn name(&self) -> &'static str {
        "probe"
    }
    fn about(&self) -> &'static str {
        "records what ran"
    }
    fn input_schema(&self) -> Value {
        json!({"type": "object"})
    }
    fn describe(&self, _with: &Value) -> String {
        "probe".into()
    }
    async fn run(&self, ctx: &StepContext, with: Value) -> Result<Value, StepError> {
        let unit = match ctx.index {
            Some(i) => format!("{}[{i}]", ctx.step_id),
            None => ctx.step_id.clone(),
        };
        self.log.lock().unwrap().push(format!("start {unit}"));
        let attempt = {
            let mut attempts = self.attempts.lock().unwrap();
            let n = attempts.entry(unit.clone()).or_default();
            *n += 1;
            *n
        };
        if let Some(parties) = with.get("meet").and_then(Value::as_u64) {
            let barrier = self
                .barrier
                .lock()
                .unwrap()
                .get_or_insert_with(|| Arc::new(Barrier::new(parties as usize)))
                .clone();
            tokio::time::timeout(Duration::from_secs(5), barrier.wait())
                .await
                .map_err(|_| StepError::permanent("no one else came to the meeting"))?;
        }
        if let Some(ms) = with.get("sleep_ms").and_then(Value::as_u64) {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        self.log.lock().unwrap().push(format!("end {unit}"));
        let fail_on_item = with.get("fail_on").is_some() && with.get("fail_on") == with.get("item");
        let fail = with
            .get("fail")
            .and_then(Value::as_u64)
            .unwrap_or(u64::from(fail_on_item));
        if u64::from(attempt) <= fail {
            let message = format!("{unit} failed on attempt {attempt}");
            return Err(if with.get("permanent") == Some(&Value::Bool(true)) {
                StepError::permanent(message)
            } else {
                StepError::new(message)
            });
        }
        Ok(json!({"unit": unit, "item": with.get("item").cloned().unwrap_or(Value::Null)}))
    }
}

struct World {
    _dir: tempfile::TempDir,
    run_dir: RunDir,
    probe: Probe,
    registry: Registry,
    program: Program,
}

impl World {
    fn new(steps: &str) -> World {
        let dir = tempfile::tempdir().unwrap();
        let text = format!("apiVersion: runbook/v1\nkind: Runbook\nname: t\nsteps:\n{steps}");
        let program = crate::report::fixture::build(&text, &dir.path().join("t.yaml"));
        let probe = Probe::default();
        let mut registry = Registry::new();
        registry.register(probe.clone());
        let run_dir = RunDir {
            path: dir.path().join("run-1"),
        };
        run_dir.create().unwrap();
        World {
            _dir: dir,
            run_dir,
            probe,
            registry,
            program,
        }
    }

    fn records(&self) -> Vec<Record> {
        self.run_dir.read_journal().unwrap().records
    }

    fn state(&self) -> RunState {
        RunState::replay(&self.records())
    }

    /// One session over what the journal holds so far; `interrupt_after` sends Ctrl-Cs.
    async fn session(&self, parallel: usize, interrupts: &[Duration]) -> Outcome {
        let redactor = Arc::new(Redactor::new());
        let run = RunInfo {
            id: "run-1".into(),
            started_at: "2026-12-02T00:00:00Z".into(),
        };
        let frames = resolve_frames(
            &self.program,
            &Inputs::default(),
            &run,
            &Templates::new(),
            &redactor,
            false,
        )
        .unwrap();
        let read = self.run_dir.read_journal().unwrap();
        let prior = RunState::replay(&read.records);
        let session = prior.sessions.len() as u32 + 1;
        let mut journal = JournalWriter::open(&self.run_dir, &read, redactor.clone()).unwrap();
        journal
            .append(Event::SessionStarted {
                session,
                host: "test".into(),
                pid: 0,
                user: "test".into(),
                command: "test".into(),
            })
            .unwrap();
        let options = ExecOptions {
            session,
            parallel,
            interaction: Arc::new(AssumeYes),
            observer: Arc::new(Silent),
            run_dir: None,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        for &after in interrupts {
            let tx = tx.clone();
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                let _ = tx.send(());
            });
        }
        let execution = Execution::new(
            &self.program,
            &self.registry,
            frames,
            redactor,
            journal,
            "run-1".into(),
            &prior,
            options,
        );
        let outcome = execution.run(rx).await.unwrap();
        drop(tx);
        outcome
    }
}

fn position(log: &[String], line: &str) -> usize {
    log.iter()
        .position(|l| l == line)
        .unwrap_or_else(|| panic!("`{line}` not in {log:?}"))
}

#[tokio::test]
async fn a_step_starts_only_after_everything_it_needs_has_ended() {
    let w = World::new(
        "  - {id: a, uses: probe}\n  - {id: b, uses: probe, needs: [a], with: {sleep_ms: 20}}\n  - {id: c, uses: probe, needs: [a]}\n  - {id: d, uses: probe, needs: [b, c]}\n",
    );
    let outcome = w.session(4, &[]).await;
    assert_eq!(outcome.status, SessionEnd::Succeeded);
    assert_eq!(outcome.succeeded, 4);
    let log = w.probe.log();
    assert!(
        position(&log, "end a") < position(&log, "start b"),
        "{log:?}"
    );
    assert!(
        position(&log, "end a") < position(&log, "start c"),
        "{log:?}"
    );
    assert!(
        position(&log, "end b") < position(&log, "start d"),
        "{log:?}"
    );
    assert!(
        position(&log, "end c") < position(&log, "start d"),
        "{log:?}"
    );
}

#[tokio::test]
async fn independent_steps_run_at_once_up_to_the_parallel_limit() {
    // Both must be running at the same time to pass the barrier.
    let steps = "  - {id: left, uses: probe, with: {meet: 2}}\n  - {id: right, uses: probe, with: {meet: 2}}\n";
    let w = World::new(steps);
    assert_eq!(w.session(2, &[]).await.status, SessionEnd::Succeeded);

    // With one at a time the first waits alone and gives up.
    let w = World::new(steps);
    let outcome = w.session(1, &[]).await;
    assert_eq!(outcome.status, SessionEnd::Failed);
    assert_eq!(w.probe.starts().len(), 1, "the second never started");
}

#[tokio::test]
async fn a_failure_stops_new_steps_but_always_steps_still_run() {
    let w = World::new(
        "  - {id: a, uses: probe, with: {fail: 1, permanent: true}}\n  - {id: after-a, uses: probe, needs: [a]}\n  - {id: slow, uses: probe, with: {sleep_ms: 200}}\n  - {id: other, uses: probe, needs: [slow]}\n  - {id: cleanup, uses: probe, needs: [after-a], always: true}\n",
    );
    let outcome = w.session(2, &[]).await;
    assert_eq!(outcome.status, SessionEnd::Failed);
    assert_eq!(outcome.failed.len(), 1);
    assert_eq!(outcome.failed[0].0, "a");
    assert!(outcome.failed[0].1.contains("a failed on attempt 1"));
    assert_eq!(outcome.not_run, ["after-a", "other"]);
    let mut starts = w.probe.starts();
    starts.sort();
    assert_eq!(
        starts,
        ["a", "cleanup", "slow"],
        "what ran when `a` failed finished"
    );
    assert_eq!(
        w.state().step("slow").unwrap().state(),
        StepState::Succeeded
    );
    let state = w.state();
    assert_eq!(state.step("cleanup").unwrap().state(), StepState::Succeeded);
    assert_eq!(StepState::of(state.step("other")), StepState::NotRun);
}

#[tokio::test]
async fn for_each_items_are_checkpointed_one_by_one() {
    let w = World::new(
        "  - id: each\n    uses: probe\n    for_each: [x, w, z]\n    with: {item: \"{{ item }}\", fail_on: w, permanent: true}\n",
    );
    let first = w.session(1, &[]).await;
    assert_eq!(first.status, SessionEnd::Failed);
    assert_eq!(
        w.probe.starts(),
        ["each[0]", "each[1]"],
        "z waits: the run drains"
    );

    // The next session runs what did not succeed, and only that.
    let second = w.session(1, &[]).await;
    assert_eq!(second.status, SessionEnd::Succeeded);
    assert_eq!(
        w.probe.starts(),
        ["each[0]", "each[1]", "each[1]", "each[2]"]
    );
    let record = w.state().step("each").cloned().unwrap();
    assert_eq!(record.items, Some(3));
    assert_eq!(
        record.outputs(),
        json!([
            {"unit": "each[0]", "item": "x"},
            {"unit": "each[1]", "item": "w"},
            {"unit": "each[2]", "item": "z"}
        ])
    );
}

#[tokio::test]
async fn a_retried_step_waits_its_delay_and_records_each_attempt() {
    let w = World::new(
        "  - id: flaky\n    uses: probe\n    with: {fail: 2}\n    retry: {attempts: 3, delay: 100ms, backoff: 2}\n",
    );
    let outcome = w.session(1, &[]).await;
    assert_eq!(outcome.status, SessionEnd::Succeeded);
    let records = w.records();
    let failures: Vec<(u32, Option<u64>)> = records
        .iter()
        .filter_map(|r| match &r.event {
            Event::StepFailed {
                attempt,
                retry_in_ms,
                ..
            } => Some((*attempt, *retry_in_ms)),
            _ => None,
        })
        .collect();
    assert_eq!(failures, [(1, Some(100)), (2, Some(200))]);
    let starts: Vec<time::OffsetDateTime> = records
        .iter()
        .filter(|r| matches!(r.event, Event::StepStarted { .. }))
        .map(|r| crate::report::timing::parse(&r.at).unwrap())
        .collect();
    assert_eq!(starts.len(), 3);
    assert!(starts[1] - starts[0] >= time::Duration::milliseconds(100));
    assert!(starts[2] - starts[1] >= time::Duration::milliseconds(200));
    assert_eq!(w.state().step("flaky").unwrap().attempts(), 3);
}

#[tokio::test]
async fn a_permanent_error_is_not_retried() {
    let w = World::new(
        "  - id: bad\n    uses: probe\n    with: {fail: 5, permanent: true}\n    retry: {attempts: 3, delay: 10ms}\n",
    );
    assert_eq!(w.session(1, &[]).await.status, SessionEnd::Failed);
    assert_eq!(w.probe.starts(), ["bad"]);
}

#[tokio::test]
async fn an_interruption_lets_running_steps_finish_and_starts_nothing_new() {
    let w = World::new(
        "  - {id: long, uses: probe, with: {sleep_ms: 300}}\n  - {id: next, uses: probe, needs: [long]}\n",
    );
    let outcome = w.session(1, &[Duration::from_millis(50)]).await;
    assert_eq!(outcome.status, SessionEnd::Interrupted);
    assert_eq!(outcome.not_run, ["next"]);
    assert_eq!(w.probe.log(), ["start long", "end long"]);
    assert_eq!(
        w.state().step("long").unwrap().state(),
        StepState::Succeeded
    );
}

#[tokio::test]
async fn a_second_interruption_aborts_and_journals_the_cut_off_step() {
    let w = World::new("  - {id: long, uses: probe, with: {sleep_ms: 5000}}\n");
    let outcome = w
        .session(1, &[Duration::from_millis(50), Duration::from_millis(100)])
        .await;
    assert_eq!(outcome.status, SessionEnd::Interrupted);
    assert_eq!(w.probe.log(), ["start long"], "it never ended");
    assert_eq!(
        w.state().step("long").unwrap().state(),
        StepState::Interrupted
    );
}

#[tokio::test]
async fn an_interruption_cancels_a_retry_wait() {
    let w = World::new(
        "  - id: flaky\n    uses: probe\n    with: {fail: 1}\n    retry: {attempts: 2, delay: 1h}\n",
    );
    let outcome = tokio::time::timeout(
        Duration::from_secs(5),
        w.session(1, &[Duration::from_millis(100)]),
    )
    .await
    .expect("the hour-long retry delay was not waited out");
    assert_eq!(outcome.status, SessionEnd::Interrupted);
    assert_eq!(w.probe.starts(), ["flaky"]);
}

#[tokio::test]
async fn a_false_when_skips_the_step_and_what_reads_it_sees_skipped() {
    let w = World::new(
        "  - {id: maybe, uses: probe, when: \"1 == 2\"}\n  - {id: then, uses: probe, needs: [maybe], with: {item: \"{{ steps.maybe.status }}\"}}\n",
    );
    assert_eq!(w.session(1, &[]).await.status, SessionEnd::Succeeded);
    assert_eq!(w.probe.starts(), ["then"]);
    let state = w.state();
    assert_eq!(state.step("maybe").unwrap().state(), StepState::Skipped);
    assert_eq!(
        state.step("then").unwrap().outputs()["item"],
        json!("skipped")
    );
}

#[tokio::test]
async fn a_panicking_kind_fails_its_own_step_only() {
    struct Panics;
    #[async_trait]
    impl StepKind for Panics {
        fn name(&self) -> &'static str {
            "panics"
        }
        fn about(&self) -> &'static str {
            "panics"
        }
        fn input_schema(&self) -> Value {
            json!({"type": "object"})
        }
        fn describe(&self, _with: &Value) -> String {
            "panics".into()
        }
        async fn run(&self, _ctx: &StepContext, _with: Value) -> Result<Value, StepError> {
            panic!("a bug in the kind")
        }
    }
    let mut w = World::new(
        "  - {id: buggy, uses: panics}\n  - {id: cleanup, uses: probe, needs: [buggy], always: true}\n",
    );
    w.registry.register(Panics);
    let outcome = w.session(1, &[]).await;
    assert_eq!(outcome.status, SessionEnd::Failed);
    assert!(
        outcome.failed[0].1.contains("a bug in the kind"),
        "{outcome:?}"
    );
    assert_eq!(w.probe.starts(), ["cleanup"]);
}
