use std::path::Path;

use runbook_engine::journal::StateDir;
use runbook_engine::session::{self, Finished, SessionError, SessionOptions};
use serde_json::json;
use tokio::sync::mpsc;

use super::{input_error, print_diagnostics};
use crate::args::{ExecArgs, InputArgs, OutputFormat};
use crate::exit;
use crate::ui::Ui;
use crate::ui::json::emit;

pub fn run(
    file: &Path,
    args: &InputArgs,
    exec: &ExecArgs,
    state_dir: &StateDir,
    output: OutputFormat,
) -> i32 {
    let mut loaded = match crate::inputs::load(args, None) {
        Ok(l) => l,
        Err(e) => return input_error(&e, output),
    };
    // Reading `config` without a config directory is one clear error here.
    loaded.known.config_required = true;
    let Some(program) =
        super::load_program_with_params(file, &loaded.known, args.params.as_deref(), output)
    else {
        return exit::INVALID;
    };
    let registry = runbook_steps::registry();
    let ui = Ui::new(output, exec.yes);
    let line = ResumeLine::new(state_dir, given_secret_params(&program, &loaded.inputs));
    let options = SessionOptions {
        state_dir: state_dir.clone(),
        parallel: exec.parallel,
        interaction: ui.interaction.clone(),
        observer: ui.observer.clone(),
        command: format!("run {}", file.display()),
        resume_flags: line.flags.clone(),
    };
    let steps = program.steps.len();
    let name = program.root().name.clone();
    let result = runtime().block_on(async {
        let interrupts = interrupts();
        session::start(
            &program,
            &registry,
            &loaded.inputs,
            loaded.paths.clone(),
            options,
            |id| announce(id, &name, steps, state_dir, output),
            interrupts,
        )
        .await
    });
    finish(result, &program.sources, output, &line)
}

/// The root runbook's secret params that this session was given.
pub fn given_secret_params(
    program: &runbook_engine::program::Program,
    inputs: &runbook_engine::scope::Inputs,
) -> Vec<String> {
    program
        .root()
        .params
        .iter()
        .filter(|p| p.secret && inputs.params.contains_key(&p.name))
        .map(|p| p.name.clone())
        .collect()
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts")
}

/// Ctrl-C, SIGTERM and SIGHUP as messages: the first drains the run, the second aborts running
/// steps. SIGHUP is how a run is lost with its terminal or SSH session: it drains like SIGTERM, so
/// the interruption is recorded and the lock released, with output sent nowhere from then on,
/// since the terminal it went to is gone.
pub fn interrupts() -> mpsc::UnboundedReceiver<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let (tx, rx) = mpsc::unbounded_channel();
    let on_term = tx.clone();
    let on_hangup = tx.clone();
    tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            counted();
            if tx.send(()).is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            while term.recv().await.is_some() {
                counted();
                if on_term.send(()).is_err() {
                    break;
                }
            }
        }
    });
    tokio::spawn(async move {
        if let Ok(mut hangup) = signal(SignalKind::hangup()) {
            while hangup.recv().await.is_some() {
                detach_from_terminal();
                counted();
                if on_hangup.send(()).is_err() {
                    break;
                }
            }
        }
    });
    rx
}

fn counted() {
    crate::ui::INTERRUPTIONS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

/// Point stdout and stderr at /dev/null: writing to a hung-up terminal fails (and to a closed
/// pipe kills), which must not stop the drain that records the interruption.
fn detach_from_terminal() {
    let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") else {
        return;
    };
    use std::os::fd::AsRawFd;
    // SAFETY: dup2 onto the standard descriptors; `null` stays open until both are replaced.
    unsafe {
        libc::dup2(null.as_raw_fd(), libc::STDOUT_FILENO);
        libc::dup2(null.as_raw_fd(), libc::STDERR_FILENO);
    }
}

fn announce(run_id: &str, name: &str, steps: usize, state_dir: &StateDir, output: OutputFormat) {
    match output {
        OutputFormat::Human => {
            println!(
                "Run {run_id}: {name}, {steps} step{} (state in {})",
                if steps == 1 { "" } else { "s" },
                state_dir.run(run_id).path.display()
            )
        }
        OutputFormat::Json => {
            emit(&json!({"event": "run", "run_id": run_id, "runbook": name, "steps": steps}))
        }
    }
}

/// What a resume line must say besides the run id to work from another terminal.
pub struct ResumeLine {
    /// ` --state-dir DIR` when the state is not in the default place, else empty.
    pub flags: String,
    /// Secret params the run was given: never stored, so they must be given again.
    pub secret_params: Vec<String>,
}

impl ResumeLine {
    pub fn new(state_dir: &StateDir, secret_params: Vec<String>) -> ResumeLine {
        let flags = if state_dir.root == std::path::Path::new(crate::args::DEFAULT_STATE_DIR) {
            String::new()
        } else {
            let absolute = std::path::absolute(&state_dir.root).unwrap_or(state_dir.root.clone());
            format!(
                " --state-dir {}",
                shell_word(&absolute.display().to_string())
            )
        };
        ResumeLine {
            flags,
            secret_params,
        }
    }

    fn command(&self, run_id: &str) -> String {
        let secrets: String = self
            .secret_params
            .iter()
            .map(|p| format!(" --set {p}=…"))
            .collect();
        format!("runbook resume {run_id}{}{secrets}", self.flags)
    }

    fn note(&self) -> String {
        if self.secret_params.is_empty() {
            String::new()
        } else {
            "\n(secret params are never stored: give their values again where it says …)".into()
        }
    }
}

/// A path as one shell word.
fn shell_word(text: &str) -> String {
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:@".contains(c))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// The first lines of an error, the first beside its step and the rest indented under it: the
/// line that says why is usually the second (`... exited with code 7:`, then the command's own
/// message).
fn cause(error: &str) -> String {
    let lines: Vec<&str> = error.trim_end().lines().collect();
    let mut shown: Vec<String> = lines.iter().take(4).map(|l| l.to_string()).collect();
    if lines.len() > 4 {
        shown.push(format!(
            "… ({} more lines in `runbook status`)",
            lines.len() - 4
        ));
    }
    shown.join("\n      ")
}

/// Print how the session ended and what to do next; returns the exit code.
pub fn finish(
    result: Result<Finished, SessionError>,
    sources: &runbook_engine::source::Sources,
    output: OutputFormat,
    line: &ResumeLine,
) -> i32 {
    match result {
        Ok(finished) => {
            let code = finished.exit_code();
            let o = &finished.outcome;
            let resume = line.command(&finished.run_id);
            let note = line.note();
            match output {
                OutputFormat::Json => emit(&json!({
                    "event": "finished", "run_id": finished.run_id, "status": o.status, "exit_code": code,
                    "succeeded": o.succeeded, "skipped": o.skipped,
                    "failed": o.failed.iter().map(|(s, e)| json!({"step": s, "error": e})).collect::<Vec<_>>(),
                    "not_run": o.not_run, "resume": (code != exit::OK).then_some(resume),
                })),
                OutputFormat::Human => {
                    let summary = format!(
                        "{} succeeded, {} skipped, {} failed, {} not run",
                        o.succeeded,
                        o.skipped,
                        o.failed.len(),
                        o.not_run.len()
                    );
                    match code {
                        exit::OK => println!("Run {} succeeded ({summary}).", finished.run_id),
                        exit::INTERRUPTED => {
                            println!(
                                "Run {} interrupted ({summary}).\nContinue it with:\n  {resume}{note}",
                                finished.run_id
                            )
                        }
                        _ => {
                            println!("Run {} failed ({summary}).", finished.run_id);
                            for (step, error) in &o.failed {
                                println!("  {step}: {}", cause(error));
                            }
                            println!("Fix the cause, then continue with:\n  {resume}{note}");
                        }
                    }
                }
            }
            code
        }
        Err(SessionError::Invalid(diags)) => {
            print_diagnostics(&diags, sources, output);
            exit::INVALID
        }
        Err(e) => {
            let code = e.exit_code();
            match output {
                OutputFormat::Human if code == exit::STATE => eprintln!(
                    "error: {e}\nThe run's state could not be read or written, so nothing further ran. Fix the cause (free space, permissions), then `runbook status` shows where the run stands and `runbook resume RUN_ID` continues it."
                ),
                OutputFormat::Human => eprintln!("error: {e}"),
                OutputFormat::Json => {
                    emit(&json!({"event": "error", "message": e.to_string(), "exit_code": code}))
                }
            }
            code
        }
    }
}
