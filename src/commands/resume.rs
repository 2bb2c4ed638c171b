use std::path::PathBuf;

use runbook_engine::journal::{StateDir, StoredRun};
use runbook_engine::session::{self, ResumeChoices, SessionOptions};

use super::{input_error, load_program, state_error};
use crate::args::{ExecArgs, InputArgs, OutputFormat};
use crate::commands::run::{ResumeLine, finish, given_secret_params, interrupts, runtime};
use crate::exit;
use crate::ui::Ui;

#[allow(clippy::too_many_arguments)]
pub fn run(
    run_id: &str,
    exec: &ExecArgs,
    rerun_interrupted: bool,
    from: Vec<String>,
    skip: Vec<String>,
    args: &InputArgs,
    state_dir: &StateDir,
    output: OutputFormat,
) -> i32 {
    let stored = match StoredRun::open(state_dir, run_id) {
        Ok(found) => found,
        Err(e) => return state_error(&e, output),
    };
    let (run_dir, meta) = (stored.dir, stored.meta);
    let mut loaded = match crate::inputs::for_resume(&meta.inputs, &meta.params, args) {
        Ok(l) => l,
        Err(e) => return input_error(&e, output),
    };
    // Reading `config` without a config directory is one clear error here.
    loaded.known.config_required = true;
    let Some(program) = load_program(&PathBuf::from(&meta.runbook_path), &loaded.known, output)
    else {
        return exit::INVALID;
    };
    let ui = Ui::new(output, exec.yes);
    let mut command = format!("resume {run_id}");
    if rerun_interrupted {
        command.push_str(" --rerun-interrupted");
    }
    for step in &from {
        command.push_str(&format!(" --from {step}"));
    }
    for step in &skip {
        command.push_str(&format!(" --skip {step}"));
    }
    let line = ResumeLine::new(state_dir, given_secret_params(&program, &loaded.inputs));
    let options = SessionOptions {
        state_dir: state_dir.clone(),
        parallel: exec.parallel,
        interaction: ui.interaction.clone(),
        observer: ui.observer.clone(),
        command,
        resume_flags: line.flags.clone(),
    };
    let choices = ResumeChoices {
        rerun_interrupted,
        from,
        skip,
    };
    if output == OutputFormat::Human {
        println!(
            "Resuming run {run_id}: {} ({})",
            meta.runbook, meta.runbook_path
        );
    }
    let result = runtime().block_on(async {
        session::resume(
            &program,
            &runbook_steps::registry(),
            &loaded.inputs,
            &run_dir,
            &choices,
            options,
            interrupts(),
        )
        .await
    });
    finish(result, &program.sources, output, &line)
}
