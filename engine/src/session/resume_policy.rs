//! The resume policy: from the replayed journal, the program and the operator's choices to what
//! this session does. A pure function, so every journal state has its answer tested in-process.
//!
//! - `--from STEP` resets the step, everything that depends on it, and for an include step the
//!   steps it includes.
//! - A failed step with `resume_from` resets from there: its clean-up undid what it worked on.
//! - An `always` step (clean-up) that succeeded runs again when anything before it runs again.
//! - `--skip STEP` records the step (or its unfinished items) as done by hand.
//! - A step interrupted mid-way that is not idempotent needs `--rerun-interrupted` or `--skip`.

use std::collections::BTreeSet;

use crate::journal::{Event, RunState, SessionEnd, UnitStatus};
use crate::kind::Registry;
use crate::program::Program;

/// What the operator chose for a resume.
#[derive(Debug, Clone, Default)]
pub struct ResumeChoices {
    pub rerun_interrupted: bool,
    pub from: Vec<String>,
    pub skip: Vec<String>,
}

/// What a resume session does.
#[derive(Debug, Clone, PartialEq)]
pub struct ResumeDecision {
    /// Journaled before the session runs: resets and steps done by hand, in that order.
    pub events: Vec<Event>,
    /// The steps this session may run, in the program's order.
    pub to_run: Vec<usize>,
}

impl ResumeDecision {
    /// Every step had finished; only the run's end was never recorded.
    pub fn nothing_to_do(&self) -> bool {
        self.to_run.is_empty() && self.events.is_empty()
    }
}

/// Why a resume does not go ahead.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// `--from` or `--skip` names no step of the run.
    UnknownStep { key: String, help: String },
    /// These steps were running when the run stopped, and running them again could repeat
    /// their effect.
    NotIdempotent(Vec<String>),
    /// The run already succeeded and nothing was asked of it.
    AlreadyFinished,
}

pub fn decide(
    program: &Program,
    registry: &Registry,
    state: &RunState,
    choices: &ResumeChoices,
) -> Result<ResumeDecision, Refusal> {
    for key in choices.from.iter().chain(&choices.skip) {
        if program.index_of(key).is_none() {
            let help = crate::suggest::did_you_mean(key, program.keys()).unwrap_or_default();
            return Err(Refusal::UnknownStep {
                key: key.clone(),
                help,
            });
        }
    }
    let step_of = |key: &String| program.index_of(key).expect("checked above");
    let reset = resets(program, state, choices.from.iter().map(step_of));
    let skipped: BTreeSet<usize> = choices.skip.iter().map(step_of).collect();

    let mut events: Vec<Event> = reset
        .iter()
        .map(|&step| Event::StepReset {
            step: program.steps[step].key.clone(),
        })
        .collect();
    for &step in &skipped {
        events.extend(done_by_hand(program, state, step));
    }

    let unsure: Vec<String> = (0..program.steps.len())
        .filter(|s| !skipped.contains(s) && !reset.contains(s))
        .filter(|&s| interrupted_mid_way(program, state, s))
        .filter(|&s| !program.is_idempotent(registry, s) && !choices.rerun_interrupted)
        .map(|s| program.steps[s].key.clone())
        .collect();
    if !unsure.is_empty() {
        return Err(Refusal::NotIdempotent(unsure));
    }

    let to_run: Vec<usize> = (0..program.steps.len())
        .filter(|s| !skipped.contains(s) && (reset.contains(s) || !finished(program, state, *s)))
        .collect();
    let decision = ResumeDecision { events, to_run };
    if decision.nothing_to_do() && state.last_end() == Some(SessionEnd::Succeeded) {
        return Err(Refusal::AlreadyFinished);
    }
    Ok(decision)
}

/// Succeeded or skipped: it does not run again unless reset.
fn finished(program: &Program, state: &RunState, step: usize) -> bool {
    state
        .step(&program.steps[step].key)
        .is_some_and(|r| r.succeeded() || r.skipped.is_some())
}

fn interrupted_mid_way(program: &Program, state: &RunState, step: usize) -> bool {
    state.step(&program.steps[step].key).is_some_and(|record| {
        !record.succeeded()
            && record
                .units
                .values()
                .any(|u| matches!(u.status, UnitStatus::Interrupted | UnitStatus::Started))
    })
}

/// The steps to run afresh: `--from`, `resume_from` of failed steps, and `always` steps after
/// anything that runs again.
fn resets(
    program: &Program,
    state: &RunState,
    from: impl Iterator<Item = usize>,
) -> BTreeSet<usize> {
    let mut reset = BTreeSet::new();
    for step in from {
        collect_from(program, step, &mut reset);
    }
    for (step, ps) in program.steps.iter().enumerate() {
        if let Some((from, _)) = &ps.def.resume_from
            && !reset.contains(&step)
            && state.step(&ps.key).is_some_and(|r| r.failed())
            && let Some(from) = program.local(ps.frame, from)
        {
            collect_from(program, from, &mut reset);
        }
    }
    for step in 0..program.steps.len() {
        let reruns_before = (0..program.steps.len()).any(|a| {
            program.dag.is_ancestor(a, step) && (reset.contains(&a) || !finished(program, state, a))
        });
        if program.steps[step].def.always
            && !reset.contains(&step)
            && reruns_before
            && state
                .step(&program.steps[step].key)
                .is_some_and(|r| r.succeeded())
        {
            reset.insert(step);
        }
    }
    reset
}

/// The step, what depends on it and, for an include step, the runbook it includes.
fn collect_from(program: &Program, step: usize, out: &mut BTreeSet<usize>) {
    if !out.insert(step) {
        return;
    }
    if let Some(child_frame) = program.steps[step].child_frame {
        for (i, s) in program.steps.iter().enumerate() {
            if s.frame == child_frame {
                collect_from(program, i, out);
            }
        }
    }
    for dependent in program.dag.dependents(step).collect::<Vec<_>>() {
        collect_from(program, dependent, out);
    }
}

/// `--skip`: the operator did it by hand; for a `for_each` step, the items that had not succeeded.
fn done_by_hand(program: &Program, state: &RunState, step: usize) -> Vec<Event> {
    let key = program.steps[step].key.clone();
    match state.step(&key) {
        Some(record) if record.items.is_some() => (0..record.items.unwrap_or(0))
            .filter(|&i| {
                !record
                    .unit(Some(i))
                    .is_some_and(|u| u.status == UnitStatus::Succeeded)
            })
            .map(|i| Event::StepSkippedByOperator {
                step: key.clone(),
                index: Some(i),
            })
            .collect(),
        _ if program.steps[step].def.for_each.is_some() => vec![Event::StepSkipped {
            step: key,
            reason: "done by hand (resume --skip)".into(),
        }],
        _ => vec![Event::StepSkippedByOperator {
            step: key,
            index: None,
        }],
    }
}

#[cfg(test)]
#[path = "resume_policy_tests.rs"]
mod tests;
