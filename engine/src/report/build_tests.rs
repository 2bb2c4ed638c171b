//! The report built from journals written by hand: timings, sessions, includes, the critical path.

use super::super::fixture::{self, shown};
use super::*;
use crate::journal::Event;

fn ids(report: &Report) -> Vec<&str> {
    report.steps.iter().map(|s| s.id.as_str()).collect()
}

#[test]
fn every_step_once_includes_after_their_include_step() {
    let report = fixture::failed_report();
    assert_eq!(
        ids(&report),
        [
            "fetch",
            "drop-databases",
            "restore-influx",
            "restore-influx.apply",
            "restore-influx.wait",
            "verify",
            "notify",
            "cleanup",
            "dashboards",
        ]
    );
    let notify = report.step("notify").unwrap();
    assert_eq!(
        (notify.state, notify.started.as_deref(), notify.attempts),
        (StepState::NotRun, None, 0)
    );
    assert_eq!(
        report.step("fetch").unwrap().title,
        "Find the latest backup"
    );
    assert_eq!(
        report.step("restore-influx.wait").unwrap().kind.as_deref(),
        Some("k8s.wait")
    );
}

#[test]
fn timings_attempts_and_items_per_step() {
    let report = fixture::failed_report();
    let step = |id: &str| report.step(id).unwrap();
    // Two attempts, the retry wait included.
    assert_eq!(
        (step("fetch").duration_ms, step("fetch").attempts),
        (Some(4500), 2)
    );
    assert_eq!(step("fetch").started.as_deref(), Some(shown(0.5).as_str()));
    // Two items run side by side: first start to last end.
    assert_eq!(
        (
            step("drop-databases").duration_ms,
            step("drop-databases").items
        ),
        (Some(2000), Some(2))
    );
    // Interrupted by the end of session 1, finished in session 2.
    let wait = step("restore-influx.wait");
    assert_eq!(
        (wait.state, wait.duration_ms, wait.attempts),
        // 115.2 s from first start to end, less the 80 s between the sessions.
        (StepState::Succeeded, Some(35_200), 2)
    );
    // The include step spans the steps it includes.
    let include = step("restore-influx");
    assert!(include.include);
    assert_eq!(
        (include.started.as_deref(), include.ended.as_deref()),
        (Some(shown(5.2).as_str()), Some(shown(130.6).as_str()))
    );
    assert_eq!(include.duration_ms, Some(45_400));
    let verify = step("verify");
    assert_eq!(
        (verify.state, verify.duration_ms),
        (StepState::Failed, Some(1000))
    );
    assert_eq!(verify.error.as_deref(), Some(fixture::VERIFY_ERROR));
    let skipped = step("dashboards");
    assert_eq!(skipped.state, StepState::Skipped);
    assert_eq!(
        skipped.skip_reason.as_deref(),
        Some("`when: params.dashboards` is false")
    );
    assert_eq!(skipped.duration_ms, None);
}

#[test]
fn critical_path_follows_the_longest_chain() {
    let report = fixture::failed_report();
    let path: Vec<(&str, u64)> = report
        .critical_path
        .steps
        .iter()
        .map(|s| (s.id.as_str(), s.duration_ms))
        .collect();
    assert_eq!(
        path,
        [
            ("fetch", 4500),
            ("restore-influx.apply", 10_000),
            ("restore-influx.wait", 35_200),
            ("verify", 1000),
            ("cleanup", 500),
        ]
    );
    assert_eq!(report.critical_path.total_ms, 51_200);
}

#[test]
fn run_totals_and_sessions() {
    let report = fixture::failed_report();
    assert_eq!(report.status, RunStatus::Failed);
    assert_eq!(report.started, shown(0.0));
    assert_eq!(report.ended.as_deref(), Some(shown(133.5).as_str()));
    // First record to the end of the last step (cleanup), not to the session's end.
    assert_eq!(report.total_ms, Some(133_000));
    assert_eq!(report.active_ms, 20_000 + 33_500);
    let sessions: Vec<(u32, &str, SessionStatus, u64)> = report
        .sessions
        .iter()
        .map(|s| (s.session, s.command.as_str(), s.status, s.duration_ms))
        .collect();
    assert_eq!(
        sessions,
        [
            (
                1,
                "runbook run influx.yaml",
                SessionStatus::Interrupted,
                20_000
            ),
            (
                2,
                "runbook resume 20261123-100000-abcd --yes",
                SessionStatus::Failed,
                33_500
            ),
        ]
    );
}

#[test]
fn a_refused_session_does_not_change_the_run_status() {
    let mut journal = fixture::failed_journal();
    journal.session(500.0, 3, "runbook resume 20261123-100000-abcd");
    journal.end(500.1, 3, SessionEnd::Refused);
    let report = journal.report();
    assert_eq!(report.status, RunStatus::Failed);
    assert_eq!(report.ended.as_deref(), Some(shown(133.5).as_str()));
    let last = report.sessions.last().unwrap();
    assert_eq!(
        (last.session, last.status, last.duration_ms),
        (3, SessionStatus::Refused, 100)
    );
}

#[test]
fn a_crashed_session_counts_until_its_last_event_and_unfinished_steps_have_no_end() {
    let mut journal = fixture::Journal::default();
    journal.session(0.0, 1, "runbook run influx.yaml");
    journal.push(
        1.0,
        Event::StepStarted {
            step: "fetch".into(),
            index: None,
            attempt: 1,
            description: None,
        },
    );
    journal.push(
        2.0,
        Event::StepFailed {
            step: "fetch".into(),
            index: None,
            attempt: 1,
            error: "timeout".into(),
            retry_in_ms: Some(1000),
        },
    );
    journal.push(
        2.5,
        Event::StepStarted {
            step: "fetch".into(),
            index: None,
            attempt: 2,
            description: None,
        },
    );
    journal.push(
        3.0,
        Event::StepStarted {
            step: "restore-influx.apply".into(),
            index: None,
            attempt: 1,
            description: None,
        },
    );
    // The process dies here; an operator resumes later.
    journal.session(50.0, 2, "runbook resume 20261123-100000-abcd");
    journal.push(
        51.0,
        Event::StepStarted {
            step: "fetch".into(),
            index: None,
            attempt: 3,
            description: None,
        },
    );
    journal.push(
        52.0,
        Event::StepStarted {
            step: "restore-influx.apply".into(),
            index: None,
            attempt: 2,
            description: None,
        },
    );
    // And dies again, for good.
    let report = journal.report();
    // Not driven, not finished, no end recorded: interrupted, as `status` says.
    assert_eq!(report.status, RunStatus::Interrupted);
    assert_eq!(report.ended, None);
    let durations: Vec<u64> = report.sessions.iter().map(|s| s.duration_ms).collect();
    assert_eq!(durations, [3000, 2000]);
    let fetch = report.step("fetch").unwrap();
    assert_eq!((fetch.state, fetch.attempts), (StepState::Started, 3));
    // Its `ended` belongs to attempt 1, not to the attempt still under way.
    assert_eq!(
        (
            fetch.ended.as_deref(),
            fetch.duration_ms,
            fetch.error.as_deref()
        ),
        (None, None, None)
    );
    // The include step has no record of its own: its state comes from its steps.
    let include = report.step("restore-influx").unwrap();
    assert_eq!(
        (include.state, include.started.as_deref()),
        (StepState::Started, Some(shown(3.0).as_str()))
    );
    assert_eq!(
        (include.ended.as_deref(), include.error.as_deref()),
        (None, None)
    );
    assert_eq!(report.total_ms, None);
    assert!(report.critical_path.steps.is_empty());
}

#[test]
fn for_each_errors_name_their_items_and_unknown_journal_steps_are_kept() {
    let mut journal = fixture::Journal::default();
    journal.session(0.0, 1, "runbook run influx.yaml");
    journal.push(
        0.1,
        Event::StepExpanded {
            step: "drop-databases".into(),
            items: 2,
        },
    );
    for i in 0..2 {
        journal.push(
            0.2,
            Event::StepStarted {
                step: "drop-databases".into(),
                index: Some(i),
                attempt: 1,
                description: None,
            },
        );
        journal.push(
            0.3,
            Event::StepFailed {
                step: "drop-databases".into(),
                index: Some(i),
                attempt: 1,
                error: format!("db{i} is locked"),
                retry_in_ms: None,
            },
        );
    }
    journal.push(
        0.4,
        Event::StepSkipped {
            step: "renamed-away".into(),
            reason: "`when: false` is false".into(),
        },
    );
    journal.end(0.5, 1, SessionEnd::Failed);
    let report = journal.report();
    let drop = report.step("drop-databases").unwrap();
    assert_eq!(
        drop.error.as_deref(),
        Some("item 0: db0 is locked\nitem 1: db1 is locked")
    );
    let gone = report.steps.last().unwrap();
    assert_eq!(
        (gone.id.as_str(), gone.kind.as_deref(), gone.state),
        ("renamed-away", None, StepState::Skipped)
    );
    assert_eq!(report.steps.len(), fixture::program().steps.len() + 1);
}
