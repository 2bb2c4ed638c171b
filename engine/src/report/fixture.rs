//! A small program (with an included runbook) and journals with known timestamps, shared by the
//! report's tests.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use time::format_description::well_known::Rfc3339;
use time::macros::datetime;

use super::Report;
use crate::journal::{Event, Record, RunMeta, RunState, SessionEnd};
use crate::program::Program;
use crate::source::Sources;

pub const RUN_ID: &str = "20261123-100000-abcd";
pub const VERIFY_ERROR: &str = "expected <ok> & got \"bad\"";

const ROOT: &str = r#"
apiVersion: runbook/v1
kind: Runbook
name: influxdb-restore
params:
  dashboards: {default: false}
steps:
  - id: fetch
    name: Find the latest backup
    uses: s3.latest
  - id: drop-databases
    uses: influxdb.query
    needs: [fetch]
    for_each: [service_cluster, workload_cluster]
  - id: restore-influx
    uses: runbook
    needs: fetch
    with: {file: restore.yaml}
  - id: verify
    uses: command
    needs: [drop-databases, restore-influx]
  - id: notify
    uses: http.request
    needs: [verify]
  - id: cleanup
    uses: command
    needs: [verify]
    always: true
  - id: dashboards
    uses: command
    when: params.dashboards
"#;

const INCLUDED: &str = r#"
apiVersion: runbook/v1
kind: Runbook
name: restore
steps:
  - id: apply
    uses: k8s.apply
  - id: wait
    uses: k8s.wait
    needs: [apply]
"#;

/// The root runbook (`influxdb-restore`) with `restore-influx` including `restore.yaml`. Its steps
/// in program order: fetch, drop-databases, restore-influx, verify, notify, cleanup, dashboards,
/// restore-influx.apply, restore-influx.wait.
pub fn program() -> Program {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "runbook-report-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("restore.yaml"), INCLUDED).expect("write the included runbook");
    let program = build(ROOT, &dir.join("influx.yaml"));
    // The program holds what it read; the files are no longer needed.
    let _ = std::fs::remove_dir_all(&dir);
    program
}

/// A program from one inline runbook (no includes).
pub fn build(text: &str, path: &Path) -> Program {
    let sources = Sources::new();
    let file = sources.add(path, text);
    let runbook = crate::load::load_str(text, path, file).expect("the fixture runbook loads");
    crate::expand::expand(runbook, &sources).expect("the fixture program builds")
}

pub fn meta() -> RunMeta {
    RunMeta {
        run_id: RUN_ID.into(),
        runbook: "influxdb-restore".into(),
        runbook_path: "/srv/runbooks/influx.yaml".into(),
        started_at: at(0.0),
        host: "bastion".into(),
        user: "operator".into(),
        engine_version: "0.1.0".into(),
        params: Default::default(),
        inputs: Default::default(),
        parallel: 4,
        steps: crate::journal::step_fingerprints(&program()),
    }
}

/// `seconds` after 2026-11-23 10:00:00 UTC as the journal writes it (`10:00:05.1Z`).
pub fn at(seconds: f64) -> String {
    let offset = time::Duration::milliseconds((seconds * 1000.0).round() as i64);
    (datetime!(2026-11-23 10:00:00 UTC) + offset)
        .format(&Rfc3339)
        .expect("formats")
}

/// The same instant as the report shows it (`10:00:05.100Z`).
pub fn shown(seconds: f64) -> String {
    super::timing::display(&at(seconds))
}

#[derive(Default)]
pub struct Journal {
    pub records: Vec<Record>,
}

impl Journal {
    pub fn push(&mut self, seconds: f64, event: Event) {
        let seq = self.records.len() as u64;
        self.records.push(Record {
            seq,
            at: at(seconds),
            event,
        });
    }

    pub fn session(&mut self, seconds: f64, session: u32, command: &str) {
        self.push(
            seconds,
            Event::SessionStarted {
                session,
                host: "bastion".into(),
                pid: 4242,
                user: "operator".into(),
                command: command.into(),
            },
        );
    }

    pub fn end(&mut self, seconds: f64, session: u32, status: SessionEnd) {
        self.push(seconds, Event::SessionEnded { session, status });
    }

    fn started(&mut self, seconds: f64, step: &str, index: Option<usize>, attempt: u32) {
        let step = step.into();
        self.push(
            seconds,
            Event::StepStarted {
                step,
                index,
                attempt,
                description: None,
            },
        );
    }

    fn succeeded(&mut self, seconds: f64, step: &str, index: Option<usize>, attempt: u32) {
        let (step, outputs) = (step.into(), serde_json::json!({}));
        self.push(
            seconds,
            Event::StepSucceeded {
                step,
                index,
                attempt,
                outputs,
            },
        );
    }

    pub fn report(&self) -> Report {
        let state = RunState::replay(&self.records);
        let meta = meta();
        let status = state.status(meta.step_keys(), false);
        Report::build(&program(), &meta, &state, status)
    }
}

/// Session 1 retries `fetch`, runs `drop-databases` over two items and the included `apply`, and
/// is interrupted while `restore-influx.wait` runs. Session 2, 80 s later, finishes `wait`, the
/// include completes, `verify` fails (with `<&">` in its error), `notify` never runs and the
/// `always` step `cleanup` does. `dashboards` is skipped from the start.
///
/// Durations: fetch 4.5 s (2 attempts), drop-databases 2 s, apply 10 s, wait 35.2 s (2 attempts:
/// 115.2 s from its first start to its end, less the 80 s between the sessions), verify 1 s, cleanup 0.5 s.
pub fn failed_journal() -> Journal {
    let mut j = Journal::default();
    j.session(0.0, 1, "runbook run influx.yaml");
    let reason = "`when: params.dashboards` is false".to_string();
    j.push(
        0.2,
        Event::StepSkipped {
            step: "dashboards".into(),
            reason,
        },
    );
    j.started(0.5, "fetch", None, 1);
    let error = "connection reset".to_string();
    j.push(
        2.0,
        Event::StepFailed {
            step: "fetch".into(),
            index: None,
            attempt: 1,
            error,
            retry_in_ms: Some(1000),
        },
    );
    j.started(3.0, "fetch", None, 2);
    j.succeeded(5.0, "fetch", None, 2);
    j.push(
        5.05,
        Event::StepExpanded {
            step: "drop-databases".into(),
            items: 2,
        },
    );
    j.started(5.1, "drop-databases", Some(0), 1);
    j.started(5.1, "drop-databases", Some(1), 1);
    j.started(5.2, "restore-influx.apply", None, 1);
    j.succeeded(6.1, "drop-databases", Some(0), 1);
    j.succeeded(7.1, "drop-databases", Some(1), 1);
    j.succeeded(15.2, "restore-influx.apply", None, 1);
    j.started(15.3, "restore-influx.wait", None, 1);
    j.end(20.0, 1, SessionEnd::Interrupted);

    j.session(100.0, 2, &format!("runbook resume {RUN_ID} --yes"));
    j.started(100.5, "restore-influx.wait", None, 2);
    j.succeeded(130.5, "restore-influx.wait", None, 2);
    j.started(130.6, "restore-influx", None, 1);
    j.succeeded(130.6, "restore-influx", None, 1);
    j.started(131.0, "verify", None, 1);
    let error = VERIFY_ERROR.to_string();
    j.push(
        132.0,
        Event::StepFailed {
            step: "verify".into(),
            index: None,
            attempt: 1,
            error,
            retry_in_ms: None,
        },
    );
    j.started(132.5, "cleanup", None, 1);
    j.succeeded(133.0, "cleanup", None, 1);
    j.end(133.5, 2, SessionEnd::Failed);
    j
}

pub fn failed_report() -> Report {
    failed_journal().report()
}
