//! A session: one `run` or `resume` process driving a run. Prepares the journal and the lock,
//! asks for confirmation of destructive steps, applies the operator's resume choices, and hands
//! over to the executor.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use thiserror::Error;
use tokio::sync::mpsc;

use crate::diagnostic::Diagnostics;
use crate::exec::{ExecOptions, Execution, Observer, Outcome};
use crate::exit;
use crate::interaction::Interaction;
use crate::journal::{
    Event, JournalRead, JournalWriter, LockHolder, RunDir, RunLock, RunMeta, RunState, SessionEnd,
    StateDir, StateError, StoredRun, UnitStatus, new_run_id, now_rfc3339, step_fingerprints,
};
use crate::kind::Registry;
use crate::program::Program;
use crate::redact::Redactor;
use crate::scope::{Inputs, RunInfo, resolve_frames};
use crate::template::Templates;

#[derive(Debug, Error)]
pub enum SessionError {
    #[error("invalid input")]
    Invalid(Diagnostics),
    #[error("{0}")]
    Refused(String),
    #[error(
        "run {run_id} is driven by {}; wait for it to finish, or stop that process first",
        holder_text(holder)
    )]
    LockHeld {
        run_id: String,
        holder: Option<Box<LockHolder>>,
    },
    /// The run's state could not be read or written, or is damaged.
    #[error(transparent)]
    State(#[from] StateError),
}

fn holder_text(holder: &Option<Box<LockHolder>>) -> String {
    match holder {
        Some(h) => h.to_string(),
        None => "another process that has just taken the lock".into(),
    }
}

impl SessionError {
    /// The CLI's exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            SessionError::Invalid(_) => exit::INVALID,
            SessionError::Refused(_) | SessionError::LockHeld { .. } => exit::REFUSED,
            SessionError::State(e) => e.exit_code(),
        }
    }
}

/// What every session needs besides the program.
pub struct SessionOptions {
    pub state_dir: StateDir,
    pub parallel: usize,
    pub interaction: Arc<dyn Interaction>,
    pub observer: Arc<dyn Observer>,
    /// `run` or `resume ...`, for the journal and the lock.
    pub command: String,
    /// What a `runbook resume RUN_ID` line must add to reach this run again (`--state-dir DIR`),
    /// with its leading space; empty when nothing is needed.
    pub resume_flags: String,
}

/// What the operator chose for a resume.
#[derive(Debug, Clone, Default)]
pub struct ResumeChoices {
    pub rerun_interrupted: bool,
    pub from: Vec<String>,
    pub skip: Vec<String>,
}

pub struct Finished {
    pub run_id: String,
    pub outcome: Outcome,
}

impl Finished {
    pub fn exit_code(&self) -> i32 {
        match self.outcome.status {
            SessionEnd::Succeeded => exit::OK,
            SessionEnd::Failed => exit::STEP_FAILED,
            SessionEnd::Interrupted => exit::INTERRUPTED,
            SessionEnd::Refused => exit::REFUSED,
        }
    }
}

/// Whether a step deletes, drops or overwrites: its kind says so for these inputs, or the runbook does.
pub fn is_destructive(program: &Program, registry: &Registry, step: usize) -> bool {
    let def = &program.steps[step].def;
    def.destructive == Some(true)
        || registry.get(&def.uses).is_some_and(|k| {
            k.destructive(&def.with.as_ref().map(|n| n.to_json()).unwrap_or_default())
        })
}

/// Whether a step interrupted mid-way may simply run again.
pub fn is_idempotent(program: &Program, registry: &Registry, step: usize) -> bool {
    let def = &program.steps[step].def;
    if program.is_include(step) {
        return true;
    }
    def.idempotent.unwrap_or_else(|| {
        registry.get(&def.uses).is_some_and(|k| {
            k.idempotent(&def.with.as_ref().map(|n| n.to_json()).unwrap_or_default())
        })
    })
}

/// Ask once for every destructive step that may run; refuse at once if an approval will be
/// needed that no one can give.
fn confirm_destructive(
    program: &Program,
    registry: &Registry,
    steps: &[usize],
    interaction: &dyn Interaction,
) -> Result<(), SessionError> {
    if !interaction.can_ask() {
        let asking: Vec<&str> = steps
            .iter()
            .filter(|&&s| {
                registry
                    .get(&program.steps[s].def.uses)
                    .is_some_and(|k| k.asks_operator())
            })
            .map(|&s| program.steps[s].key.as_str())
            .collect();
        if !asking.is_empty() {
            return Err(SessionError::Refused(format!(
                "{} ask{} the operator to approve, but there is no terminal to ask on; run on a terminal, or pass --yes to approve in scripts. Nothing ran.",
                asking
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if asking.len() == 1 { "s" } else { "" }
            )));
        }
    }
    let destructive: Vec<usize> = steps
        .iter()
        .copied()
        .filter(|&s| is_destructive(program, registry, s))
        .collect();
    if destructive.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = destructive
        .iter()
        .map(|&s| {
            let def = &program.steps[s].def;
            let condition = def
                .when
                .as_ref()
                .map(|w| format!(" (if {})", crate::template::expression_text(&w.text)))
                .unwrap_or_default();
            format!("  - {} ({}){condition}", program.steps[s].key, def.uses)
        })
        .collect();
    let question = format!(
        "This run includes destructive steps:\n{}\nRun them?",
        list.join("\n")
    );
    interaction.confirm(&question).map(|_| ()).map_err(|why| {
        SessionError::Refused(format!(
            "{why}\nDestructive steps: {}",
            destructive
                .iter()
                .map(|&s| program.steps[s].key.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// Start a new run of a validated program.
pub async fn start(
    program: &Program,
    registry: &Registry,
    inputs: &Inputs,
    input_paths: BTreeMap<String, String>,
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
    let (_lock, _) =
        RunLock::acquire(&run_dir, &options.command).map_err(|e| lock_error(e, &run_dir))?;
    // The journal's first record comes before run.json: run.json without a journal is damage.
    let mut journal = JournalWriter::open(&run_dir, &JournalRead::default(), redactor.clone())?;
    let record = journal.append(Event::SessionStarted {
        session: 1,
        host: holder.host,
        pid: holder.pid,
        user: holder.user,
        command: options.command.clone(),
    })?;
    run_dir.write_meta(&meta)?;
    on_run_id(&run_id);
    options.observer.record(&record);
    let exec_options = ExecOptions {
        session: 1,
        parallel: options.parallel,
        interaction: options.interaction,
        observer: options.observer,
        run_dir: Some(run_dir.path.clone()),
    };
    let execution = Execution::new(
        program,
        registry,
        frames,
        redactor,
        journal,
        run_id.clone(),
        &RunState::default(),
        exec_options,
    );
    let outcome = execution.run(interrupts).await?;
    Ok(Finished { run_id, outcome })
}

/// Continue a run where it stopped.
#[allow(clippy::too_many_arguments)]
pub async fn resume(
    program: &Program,
    registry: &Registry,
    inputs: &Inputs,
    run_dir: &RunDir,
    choices: &ResumeChoices,
    options: SessionOptions,
    interrupts: mpsc::UnboundedReceiver<()>,
) -> Result<Finished, SessionError> {
    let run_id = run_dir.id();
    let (_lock, previous) =
        RunLock::acquire(run_dir, &options.command).map_err(|e| lock_error(e, run_dir))?;
    // Read again under the lock: what was read before it may be out of date.
    let stored = StoredRun::read(run_dir.clone())?;
    let meta = &stored.meta;
    let state = &stored.state;
    check_unchanged(program, meta)?;
    if let Some(previous) = previous {
        options.observer.notice(&format!(
            "Took over the run lock left by {previous}, which no longer runs."
        ));
    }
    for key in choices.from.iter().chain(&choices.skip) {
        if program.index_of(key).is_none() {
            let help = crate::suggest::did_you_mean(key, program.keys()).unwrap_or_default();
            return Err(SessionError::Refused(format!(
                "`{key}` is not a step of this run. {help}"
            )));
        }
    }

    let redactor = Arc::new(Redactor::new());
    let templates = Templates::new();
    let run = RunInfo {
        id: run_id.clone(),
        started_at: meta.started_at.clone(),
    };
    let frames = resolve_frames(program, inputs, &run, &templates, &redactor, false)
        .map_err(SessionError::Invalid)?;

    let mut pending_events = Vec::new();
    // --from: the step, what depends on it and, for an include step, the runbook it includes.
    let mut reset: BTreeSet<usize> = BTreeSet::new();
    for key in &choices.from {
        let step = program.index_of(key).expect("checked");
        collect_from(program, step, &mut reset);
    }
    // A failed step with `resume_from`: its clean-up has undone what it worked on (a restore pod
    // deleted after it failed), so running it alone again would wait for nothing.
    for (step, ps) in program.steps.iter().enumerate() {
        if let Some((from, _)) = &ps.def.resume_from
            && !reset.contains(&step)
            && state.step(&ps.key).is_some_and(|r| r.failed())
            && let Some(from) = program.local(ps.frame, from)
        {
            collect_from(program, from, &mut reset);
        }
    }
    // `always` steps (clean-up) run again when anything before them runs again.
    let will_rerun = |s: usize, reset: &BTreeSet<usize>| {
        reset.contains(&s)
            || !state
                .step(&program.steps[s].key)
                .is_some_and(|r| r.succeeded() || r.skipped.is_some())
    };
    for step in 0..program.steps.len() {
        let def = &program.steps[step].def;
        if def.always
            && !reset.contains(&step)
            && (0..program.steps.len())
                .any(|a| program.dag.is_ancestor(a, step) && will_rerun(a, &reset))
            && state
                .step(&program.steps[step].key)
                .is_some_and(|r| r.succeeded())
        {
            reset.insert(step);
        }
    }
    for &step in &reset {
        pending_events.push(Event::StepReset {
            step: program.steps[step].key.clone(),
        });
    }
    // --skip: the operator did it by hand.
    let skipped: BTreeSet<usize> = choices
        .skip
        .iter()
        .map(|k| program.index_of(k).expect("checked"))
        .collect();
    for &step in &skipped {
        let key = program.steps[step].key.clone();
        match state.step(&key) {
            Some(record) if record.items.is_some() => {
                for i in 0..record.items.unwrap_or(0) {
                    if !record
                        .unit(Some(i))
                        .is_some_and(|u| u.status == UnitStatus::Succeeded)
                    {
                        pending_events.push(Event::StepSkippedByOperator {
                            step: key.clone(),
                            index: Some(i),
                        });
                    }
                }
            }
            _ if program.steps[step].def.for_each.is_some() => {
                pending_events.push(Event::StepSkipped {
                    step: key,
                    reason: "done by hand (resume --skip)".into(),
                });
            }
            _ => pending_events.push(Event::StepSkippedByOperator {
                step: key,
                index: None,
            }),
        }
    }
    // Interrupted units of non-idempotent steps need the operator's word.
    let mut unsure = Vec::new();
    for (step, ps) in program.steps.iter().enumerate() {
        if skipped.contains(&step) || reset.contains(&step) {
            continue;
        }
        if let Some(record) = state.step(&ps.key) {
            let interrupted = record
                .units
                .values()
                .any(|u| matches!(u.status, UnitStatus::Interrupted | UnitStatus::Started));
            if interrupted
                && !record.succeeded()
                && !is_idempotent(program, registry, step)
                && !choices.rerun_interrupted
            {
                unsure.push(ps.key.clone());
            }
        }
    }
    if !unsure.is_empty() {
        let list = unsure
            .iter()
            .map(|k| format!("  - {k}"))
            .collect::<Vec<_>>()
            .join("\n");
        return Err(SessionError::Refused(format!(
            "these steps were running when run {run_id} was interrupted and are not idempotent, so running them again could repeat their effect:\n{list}\n\
             Check whether each took effect, then either:\n  runbook resume {run_id} --rerun-interrupted{flags}      (run them again)\n  runbook resume {run_id} --skip {}{flags}      (you finished it by hand)",
            unsure[0],
            flags = options.resume_flags
        )));
    }
    let to_run: Vec<usize> = (0..program.steps.len())
        .filter(|s| {
            !skipped.contains(s)
                && (reset.contains(s)
                    || !state
                        .step(&program.steps[*s].key)
                        .is_some_and(|r| r.succeeded() || r.skipped.is_some()))
        })
        .collect();
    let nothing_to_do = to_run.is_empty() && pending_events.is_empty();
    if nothing_to_do && state.last_end() == Some(SessionEnd::Succeeded) {
        return Err(SessionError::Refused(format!(
            "run {run_id} already finished: every step succeeded or was skipped; nothing to resume"
        )));
    }
    if !nothing_to_do {
        confirm_destructive(program, registry, &to_run, options.interaction.as_ref())?;
    }

    let session = state.sessions.iter().map(|s| s.session).max().unwrap_or(0) + 1;
    let mut journal = JournalWriter::open(run_dir, &stored.journal, redactor.clone())?;
    if let Some(torn) = stored.journal.torn {
        options.observer.notice(&format!(
            "Repaired the journal: removed {torn}; the engine had not acted on it."
        ));
    }
    let holder = LockHolder::current(&options.command);
    let mut written = vec![journal.append(Event::SessionStarted {
        session,
        host: holder.host,
        pid: holder.pid,
        user: holder.user,
        command: options.command.clone(),
    })?];
    if nothing_to_do {
        // Every step had finished, but the session that finished them did not live to say so
        // (killed after its last step, or its end record torn): close the run.
        options.observer.record(&written[0]);
        options.observer.notice(&format!(
            "Every step of run {run_id} had finished; its last session ended before recording that. The run is now recorded as succeeded."
        ));
        let end = journal.append(Event::SessionEnded {
            session,
            status: SessionEnd::Succeeded,
        })?;
        options.observer.record(&end);
        let succeeded = meta.step_keys().count();
        return Ok(Finished {
            run_id,
            outcome: Outcome {
                status: SessionEnd::Succeeded,
                failed: Vec::new(),
                not_run: Vec::new(),
                succeeded,
                skipped: 0,
            },
        });
    }
    for event in pending_events {
        written.push(journal.append(event)?);
    }
    for record in &written {
        options.observer.record(record);
    }
    let mut records = stored.journal.records.clone();
    records.extend(written);
    let state = RunState::replay(&records);
    let exec_options = ExecOptions {
        session,
        parallel: options.parallel,
        interaction: options.interaction,
        observer: options.observer,
        run_dir: Some(run_dir.path.clone()),
    };
    let execution = Execution::new(
        program,
        registry,
        frames,
        redactor,
        journal,
        run_id.clone(),
        &state,
        exec_options,
    );
    let outcome = execution.run(interrupts).await?;
    Ok(Finished { run_id, outcome })
}

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

/// Resume runs the runbook that was started: an edit since then is refused, naming what changed.
fn check_unchanged(program: &Program, meta: &RunMeta) -> Result<(), SessionError> {
    let now = step_fingerprints(program);
    let mut changes = Vec::new();
    for (key, print) in &meta.steps {
        match now.get(key) {
            None => changes.push(format!("step `{key}` was removed")),
            Some(p) if p != print => {
                changes.push(match key.strip_suffix(crate::journal::HEADER_SUFFIX) {
                    Some("") => {
                        "the params, vars or connections of the runbook changed".to_string()
                    }
                    Some(prefix) => format!(
                        "the params, vars or connections of the runbook included by `{}` changed",
                        prefix.trim_end_matches('.')
                    ),
                    None => format!("step `{key}` changed"),
                })
            }
            _ => {}
        }
    }
    for key in now.keys() {
        if !meta.steps.contains_key(key) {
            changes.push(format!("step `{key}` was added"));
        }
    }
    if changes.is_empty() {
        return Ok(());
    }
    Err(SessionError::Refused(format!(
        "{} changed since run {} started:\n{}\nResume continues the runbook as it was when the run started. Revert the edit to resume, or start a new run with `runbook run`.",
        meta.runbook_path,
        meta.run_id,
        changes
            .iter()
            .map(|c| format!("  - {c}"))
            .collect::<Vec<_>>()
            .join("\n")
    )))
}

fn lock_error(error: crate::journal::LockError, run: &RunDir) -> SessionError {
    match error {
        crate::journal::LockError::Held(holder) => SessionError::LockHeld {
            run_id: run.id(),
            holder,
        },
        crate::journal::LockError::Io(source) => SessionError::State(StateError::Io {
            action: "taking the run lock",
            path: run.lock_path(),
            source,
        }),
    }
}

fn absolute(path: &std::path::Path) -> String {
    std::fs::canonicalize(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}
