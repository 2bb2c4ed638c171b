//! The resume policy, one case per journal state a resume can meet.

use super::*;
use crate::report::fixture::{Journal, build};
use async_trait::async_trait;
use serde_json::{Value, json};

/// `once` is not idempotent; `again` is.
struct Kind(&'static str, bool);

#[async_trait]
impl crate::kind::StepKind for Kind {
    fn name(&self) -> &'static str {
        self.0
    }
    fn about(&self) -> &'static str {
        "test"
    }
    fn input_schema(&self) -> Value {
        json!({"type": "object"})
    }
    fn idempotent(&self, _with: &Value) -> bool {
        self.1
    }
    fn describe(&self, _with: &Value) -> String {
        String::new()
    }
    async fn run(
        &self,
        _ctx: &crate::kind::StepContext,
        _with: Value,
    ) -> Result<Value, crate::kind::StepError> {
        Ok(Value::Null)
    }
}

fn registry() -> Registry {
    let mut r = Registry::new();
    r.register(Kind("once", false))
        .register(Kind("again", true));
    r
}

/// fetch -> restore -> verify, with `cleanup` (always) after restore, and `each` over two
/// items beside them.
fn program() -> Program {
    build(
        "apiVersion: runbook/v1\nkind: Runbook\nname: t\nsteps:\n\
         - {id: fetch, uses: again}\n\
         - {id: restore, uses: once, needs: [fetch]}\n\
         - {id: verify, uses: again, needs: [restore], resume_from: restore}\n\
         - {id: cleanup, uses: again, needs: [restore], always: true}\n\
         - {id: each, uses: once, for_each: [a, b]}\n",
        std::path::Path::new("/tmp/t.yaml"),
    )
}

struct Story(Journal, f64);

impl Story {
    fn new() -> Story {
        let mut j = Journal::default();
        j.session(0.0, 1, "runbook run t.yaml");
        Story(j, 0.0)
    }
    fn at(&mut self) -> f64 {
        self.1 += 1.0;
        self.1
    }
    fn started(mut self, step: &str, index: Option<usize>) -> Story {
        let t = self.at();
        self.0.push(
            t,
            Event::StepStarted {
                step: step.into(),
                index,
                attempt: 1,
                description: None,
            },
        );
        self
    }
    fn succeeded(mut self, step: &str, index: Option<usize>) -> Story {
        self = self.started(step, index);
        let t = self.at();
        self.0.push(
            t,
            Event::StepSucceeded {
                step: step.into(),
                index,
                attempt: 1,
                outputs: json!({}),
            },
        );
        self
    }
    fn failed(mut self, step: &str) -> Story {
        self = self.started(step, None);
        let t = self.at();
        self.0.push(
            t,
            Event::StepFailed {
                step: step.into(),
                index: None,
                attempt: 1,
                error: "boom".into(),
                retry_in_ms: None,
            },
        );
        self
    }
    fn expanded(mut self, step: &str, items: usize) -> Story {
        let t = self.at();
        self.0.push(
            t,
            Event::StepExpanded {
                step: step.into(),
                items,
            },
        );
        self
    }
    fn ended(mut self, status: SessionEnd) -> Story {
        let t = self.at();
        self.0.end(t, 1, status);
        self
    }
    fn state(&self) -> RunState {
        RunState::replay(&self.0.records)
    }
}

fn decide_with(story: &Story, choices: ResumeChoices) -> Result<ResumeDecision, Refusal> {
    decide(&program(), &registry(), &story.state(), &choices)
}

fn keys(program: &Program, steps: &[usize]) -> Vec<String> {
    steps
        .iter()
        .map(|&s| program.steps[s].key.clone())
        .collect()
}

fn all_done() -> Story {
    Story::new()
        .succeeded("fetch", None)
        .succeeded("restore", None)
        .succeeded("verify", None)
        .succeeded("cleanup", None)
        .expanded("each", 2)
        .succeeded("each", Some(0))
        .succeeded("each", Some(1))
}

#[test]
fn a_run_that_never_started_a_step_runs_them_all() {
    let decision = decide_with(&Story::new(), ResumeChoices::default()).unwrap();
    assert!(decision.events.is_empty());
    assert_eq!(decision.to_run, [0, 1, 2, 3, 4]);
}

#[test]
fn what_succeeded_is_not_run_again() {
    let story = Story::new()
        .succeeded("fetch", None)
        .failed("restore")
        .ended(SessionEnd::Failed);
    let decision = decide_with(&story, ResumeChoices::default()).unwrap();
    assert_eq!(
        keys(&program(), &decision.to_run),
        ["restore", "verify", "cleanup", "each"]
    );
}

#[test]
fn a_non_idempotent_step_cut_off_mid_way_needs_the_operators_word() {
    let story = Story::new()
        .succeeded("fetch", None)
        .started("restore", None);
    assert_eq!(
        decide_with(&story, ResumeChoices::default()),
        Err(Refusal::NotIdempotent(vec!["restore".into()]))
    );
    let rerun = decide_with(
        &story,
        ResumeChoices {
            rerun_interrupted: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(rerun.to_run.contains(&1));
    let skip = decide_with(
        &story,
        ResumeChoices {
            skip: vec!["restore".into()],
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        skip.events,
        [Event::StepSkippedByOperator {
            step: "restore".into(),
            index: None
        }]
    );
    assert!(!skip.to_run.contains(&1));
}

#[test]
fn an_idempotent_step_cut_off_mid_way_simply_runs_again() {
    let story = Story::new().started("fetch", None);
    let decision = decide_with(&story, ResumeChoices::default()).unwrap();
    assert_eq!(decision.to_run[0], 0);
}

#[test]
fn skipping_a_for_each_step_marks_only_its_unfinished_items() {
    let story = Story::new()
        .expanded("each", 2)
        .succeeded("each", Some(0))
        .ended(SessionEnd::Failed);
    let decision = decide_with(
        &story,
        ResumeChoices {
            skip: vec!["each".into()],
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        decision.events,
        [Event::StepSkippedByOperator {
            step: "each".into(),
            index: Some(1)
        }]
    );
}

#[test]
fn from_resets_the_step_what_depends_on_it_and_the_clean_up_after_it() {
    let decision = decide_with(
        &all_done().ended(SessionEnd::Succeeded),
        ResumeChoices {
            from: vec!["restore".into()],
            ..Default::default()
        },
    )
    .unwrap();
    let reset: Vec<&Event> = decision.events.iter().collect();
    let reset_keys: Vec<String> = reset
        .iter()
        .map(|e| e.step().unwrap().to_string())
        .collect();
    assert_eq!(reset_keys, ["restore", "verify", "cleanup"]);
    assert_eq!(
        keys(&program(), &decision.to_run),
        ["restore", "verify", "cleanup"]
    );
}

#[test]
fn a_failed_step_with_resume_from_starts_over_from_there() {
    let story = Story::new()
        .succeeded("fetch", None)
        .succeeded("restore", None)
        .succeeded("cleanup", None)
        .failed("verify")
        .ended(SessionEnd::Failed);
    let decision = decide_with(&story, ResumeChoices::default()).unwrap();
    assert_eq!(
        keys(&program(), &decision.to_run),
        ["restore", "verify", "cleanup", "each"]
    );
}

#[test]
fn a_finished_run_is_refused_or_closed() {
    assert_eq!(
        decide_with(
            &all_done().ended(SessionEnd::Succeeded),
            ResumeChoices::default()
        ),
        Err(Refusal::AlreadyFinished)
    );
    // Killed after its last step: nothing to run, the run is only to be closed.
    let closing = decide_with(&all_done(), ResumeChoices::default()).unwrap();
    assert!(closing.nothing_to_do());
}

#[test]
fn an_unknown_step_is_named_with_a_suggestion() {
    let refusal = decide_with(
        &Story::new(),
        ResumeChoices {
            from: vec!["restor".into()],
            ..Default::default()
        },
    )
    .unwrap_err();
    match refusal {
        Refusal::UnknownStep { key, help } => {
            assert_eq!(key, "restor");
            assert!(help.contains("restore"), "{help}");
        }
        other => panic!("{other:?}"),
    }
}
