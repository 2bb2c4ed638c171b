//! From a program and its replayed journal to a [`Report`]: per-step timings, sessions, the
//! critical path and the run's totals.

use std::collections::HashSet;

use super::timing::{between, display, earlier, later, millis, not_before};
use super::{
    CriticalPath, CriticalStep, Report, RunStatus, SessionReport, SessionStatus, StepReport,
    StepState,
};
use crate::journal::{RunMeta, RunState, SessionEnd, StepRecord, UnitRecord, UnitStatus};
use crate::program::Program;

impl Report {
    pub fn build(program: &Program, meta: &RunMeta, state: &RunState, status: RunStatus) -> Report {
        let started = state
            .first_at
            .clone()
            .unwrap_or_else(|| meta.started_at.clone());
        let order = display_order(program);
        let mut steps: Vec<StepReport> = order
            .iter()
            .map(|&i| step_report(program, state, i))
            .collect();
        // A journal can name steps the runbook no longer has (it was edited after the run):
        // they happened, so they are reported, after the runbook's own steps.
        let known: HashSet<&str> = program.keys().collect();
        for (key, record) in &state.steps {
            if !known.contains(key.as_str()) {
                steps.push(recorded_step(state, key.clone(), key.clone(), None, record));
            }
        }
        let by_index: Vec<Option<&StepReport>> = {
            let mut slots = vec![None; program.steps.len()];
            for (report, &index) in steps.iter().zip(&order) {
                slots[index] = Some(report);
            }
            slots
        };
        let critical_path = critical_path(program, &by_index);
        let last_step_end = steps
            .iter()
            .filter_map(|s| s.ended.as_deref())
            .reduce(later);
        let total_ms = last_step_end
            .and_then(|end| between(&started, end))
            .map(millis);
        let sessions = session_reports(state);
        // A refused session (a resume without the confirmation it needed, say) changed nothing:
        // the run stands as the last session that acted left it.
        let last_session = state
            .sessions
            .iter()
            .rev()
            .find(|s| s.status != Some(SessionEnd::Refused))
            .or(state.sessions.last());
        Report {
            run_id: meta.run_id.clone(),
            runbook: meta.runbook.clone(),
            runbook_path: meta.runbook_path.clone(),
            started: display(&started),
            ended: last_session.and_then(|s| s.ended.as_deref()).map(display),
            status,
            total_ms,
            active_ms: sessions.iter().map(|s| s.duration_ms).sum(),
            sessions,
            steps,
            critical_path,
        }
    }
}

fn status_of(end: Option<SessionEnd>) -> SessionStatus {
    match end {
        Some(SessionEnd::Succeeded) => SessionStatus::Succeeded,
        Some(SessionEnd::Failed) => SessionStatus::Failed,
        Some(SessionEnd::Interrupted) => SessionStatus::Interrupted,
        Some(SessionEnd::Refused) => SessionStatus::Refused,
        None => SessionStatus::NeverEnded,
    }
}

/// Program steps as a reader expects them: in the order the runbook lists them, each include
/// step followed by the steps of the runbook it includes (the program itself appends those
/// after all of the including runbook's steps).
fn display_order(program: &Program) -> Vec<usize> {
    fn push_frame(program: &Program, frame: usize, order: &mut Vec<usize>) {
        for (index, step) in program.steps.iter().enumerate() {
            if step.frame == frame {
                order.push(index);
                if let Some(child) = step.child_frame {
                    push_frame(program, child, order);
                }
            }
        }
    }
    let mut order = Vec::with_capacity(program.steps.len());
    push_frame(program, 0, &mut order);
    debug_assert_eq!(
        order.len(),
        program.steps.len(),
        "every step sits in exactly one frame"
    );
    order
}

fn step_report(program: &Program, state: &RunState, index: usize) -> StepReport {
    let step = &program.steps[index];
    let title = step.def.title().to_string();
    let kind = Some(step.def.uses.clone());
    let mut report = match state.step(&step.key) {
        Some(record) => recorded_step(state, step.key.clone(), title, kind, record),
        None => StepReport::not_run(step.key.clone(), title, kind),
    };
    if program.is_include(index) {
        include_span(program, state, index, &mut report);
    }
    report
}

impl StepReport {
    /// A step the journal never mentions.
    pub(super) fn not_run(id: String, title: String, kind: Option<String>) -> StepReport {
        StepReport {
            id,
            title,
            kind,
            state: StepState::NotRun,
            include: false,
            started: None,
            ended: None,
            duration_ms: None,
            attempts: 0,
            items: None,
            error: None,
            skip_reason: None,
        }
    }
}

/// A step as its record in the journal tells it; the runbook is not needed.
pub(super) fn recorded_step(
    state_of_run: &RunState,
    id: String,
    title: String,
    kind: Option<String>,
    record: &StepRecord,
) -> StepReport {
    let state = record.state();
    // A skipped step did nothing; a step reset by `--from` has not run again yet, and its
    // earlier attempts no longer count.
    let timed = !matches!(state, StepState::Skipped | StepState::Pending);
    let started = timed
        .then(|| {
            record
                .units
                .values()
                .filter_map(|u| u.first_started.as_deref())
                .reduce(earlier)
        })
        .flatten();
    let ended = (timed && !record.units.values().any(latest_attempt_unfinished))
        .then(|| {
            record
                .units
                .values()
                .filter_map(|u| u.ended.as_deref())
                .reduce(later)
        })
        .flatten();
    StepReport {
        id,
        title,
        kind,
        state,
        include: false,
        duration_ms: span(state_of_run, started, ended),
        started: started.map(display),
        ended: ended.map(display),
        attempts: record.attempts(),
        items: record.items,
        error: failure_text(record),
        skip_reason: record.skipped.clone(),
    }
}

/// A step's time: from its first start to its last end, less the time no session drove the run.
fn span(state: &RunState, started: Option<&str>, ended: Option<&str>) -> Option<u64> {
    state.active_between(started?, ended?).map(millis)
}

/// Whether a unit's last attempt has no end yet: it is running, or its process died under it
/// (an `ended` older than the last start belongs to an earlier attempt).
fn latest_attempt_unfinished(unit: &UnitRecord) -> bool {
    match unit.status {
        UnitStatus::Started | UnitStatus::Pending => true,
        UnitStatus::Interrupted => match (&unit.ended, &unit.last_started) {
            (Some(ended), Some(started)) => !not_before(ended, started),
            (Some(_), None) => false,
            (None, _) => true,
        },
        UnitStatus::Succeeded | UnitStatus::Failed | UnitStatus::SkippedByOperator => false,
    }
}

fn failure_text(record: &StepRecord) -> Option<String> {
    let failed: Vec<&UnitRecord> = record
        .units
        .values()
        .filter(|u| u.status == UnitStatus::Failed && u.error.is_some())
        .collect();
    match failed.as_slice() {
        [] => None,
        [only] if only.index.is_none() => only.error.clone(),
        many => Some(
            many.iter()
                .map(|u| {
                    let error = u.error.as_deref().unwrap_or_default();
                    match u.index {
                        Some(i) => format!("item {i}: {error}"),
                        None => error.to_string(),
                    }
                })
                .collect::<Vec<_>>()
                .join("\n"),
        ),
    }
}

/// An include step is recorded only as it completes, in the same instant; what it stands for is
/// the work of the steps it includes. So its start is theirs, and its state, until it completes,
/// is derived from theirs.
fn include_span(program: &Program, state: &RunState, include: usize, report: &mut StepReport) {
    report.include = true;
    let inner: Vec<(&str, &StepRecord)> = program
        .steps
        .iter()
        .filter(|s| s.gates.contains(&include))
        .filter_map(|s| Some((s.key.as_str(), state.step(&s.key)?)))
        .collect();
    let inner_reports: Vec<StepReport> = inner
        .iter()
        .map(|(key, record)| recorded_step(state, key.to_string(), String::new(), None, record))
        .collect();
    let started = inner_reports
        .iter()
        .filter_map(|r| r.started.as_deref())
        .chain(report.started.as_deref())
        .reduce(earlier)
        .map(display);
    if report.state == StepState::Succeeded {
        report.ended = inner_reports
            .iter()
            .filter_map(|r| r.ended.as_deref())
            .chain(report.ended.as_deref())
            .reduce(later)
            .map(display);
    }
    if report.state == StepState::NotRun && !inner_reports.is_empty() {
        let ids_in = |state: StepState| -> Vec<&str> {
            inner_reports
                .iter()
                .filter(|r| r.state == state)
                .map(|r| r.id.as_str())
                .collect()
        };
        report.state = [
            StepState::Failed,
            StepState::Interrupted,
            StepState::Started,
        ]
        .into_iter()
        .find(|&state| !ids_in(state).is_empty())
        // Some of its steps ran, the rest are still to run.
        .unwrap_or(StepState::Pending);
        let failed = ids_in(StepState::Failed);
        if !failed.is_empty() {
            report.error = Some(format!(
                "steps of the included runbook failed: {}",
                failed.join(", ")
            ));
        }
    }
    report.started = started;
    report.duration_ms = span(state, report.started.as_deref(), report.ended.as_deref());
}

/// The heaviest chain of steps by duration. An include step weighs nothing: the steps it
/// includes are nodes of the same graph and already carry the time. It is left out of the listed
/// path for that reason, as are steps that never finished (skipped ones, say), which took no time.
fn critical_path(program: &Program, steps: &[Option<&StepReport>]) -> CriticalPath {
    let weight_ms = |index: usize| match steps[index] {
        Some(step) if !step.include => step.duration_ms.unwrap_or(0),
        _ => 0,
    };
    let path = program.dag.critical_path(|index| weight_ms(index) as f64);
    let listed: Vec<CriticalStep> = path
        .into_iter()
        .filter_map(|index| steps[index])
        .filter(|step| !step.include && step.ended.is_some())
        .map(|step| CriticalStep {
            id: step.id.clone(),
            duration_ms: step.duration_ms.unwrap_or(0),
        })
        .collect();
    CriticalPath {
        total_ms: listed.iter().map(|s| s.duration_ms).sum(),
        steps: listed,
    }
}

fn session_reports(state: &RunState) -> Vec<SessionReport> {
    let mut events: Vec<&str> = Vec::new();
    for unit in state.steps.values().flat_map(|s| s.units.values()) {
        events.extend(unit.first_started.as_deref());
        events.extend(unit.last_started.as_deref());
        events.extend(unit.ended.as_deref());
    }
    events.extend(state.last_at.as_deref());
    state
        .sessions
        .iter()
        .enumerate()
        .map(|(i, session)| {
            let next_start = state.sessions.get(i + 1).map(|s| s.started.as_str());
            // A session that never ended (a crash, a kill) ran at least until its last recorded
            // event: the latest one before the next session took over.
            let until = match &session.ended {
                Some(ended) => ended.as_str(),
                None => events
                    .iter()
                    .copied()
                    .filter(|at| not_before(at, &session.started))
                    .filter(|at| next_start.is_none_or(|next| !not_before(at, next)))
                    .fold(session.started.as_str(), later),
            };
            SessionReport {
                session: session.session,
                command: session.command.clone(),
                started: display(&session.started),
                ended: session.ended.as_deref().map(display),
                duration_ms: between(&session.started, until).map_or(0, millis),
                status: status_of(session.status),
            }
        })
        .collect()
}

#[cfg(test)]
#[path = "build_tests.rs"]
mod tests;
