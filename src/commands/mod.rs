//! One module per command.

mod config_show;
mod graph;
mod plan;
mod report;
mod resume;
mod run;
mod schema;
mod status;
mod validate;

use std::path::Path;

use runbook_engine::diagnostic::Diagnostics;
use runbook_engine::kind::Registry;
use runbook_engine::program::Program;
use runbook_engine::source::Sources;
use runbook_engine::validate::{KnownInputs, validate_program};
use runbook_engine::{expand, load};
use serde_json::json;

use crate::args::{Cli, Command, ConfigCommand, OutputFormat, StateArgs};
use crate::exit;
use crate::ui::json::emit;

pub fn dispatch(cli: Cli) -> i32 {
    let runs = |state: &StateArgs| runbook_engine::journal::StateDir::new(state.state_dir.clone());
    match cli.command {
        Command::Validate {
            files,
            inputs,
            output,
        } => validate::run(&files, &inputs, output.output),
        Command::Plan {
            file,
            inputs,
            output,
        } => plan::run(&file, &inputs, output.output),
        Command::Run {
            file,
            inputs,
            exec,
            state,
            output,
        } => run::run(&file, &inputs, &exec, &runs(&state), output.output),
        Command::Resume {
            run_id,
            exec,
            rerun_interrupted,
            from,
            skip,
            inputs,
            state,
            output,
        } => resume::run(
            &run_id,
            &exec,
            rerun_interrupted,
            from,
            skip,
            &inputs,
            &runs(&state),
            output.output,
        ),
        Command::Status {
            run_id,
            state,
            output,
        } => status::run(run_id.as_deref(), &runs(&state), output.output),
        Command::Graph {
            file,
            format,
            output,
        } => graph::run(&file, format, output.output),
        // `--output json` asks for the machine form: the JSON report.
        Command::Report {
            run_id,
            format,
            state,
            output,
        } => match output.output {
            OutputFormat::Json => report::run(
                &run_id,
                crate::args::ReportFormat::Json,
                &runs(&state),
                output.output,
            ),
            OutputFormat::Human => report::run(&run_id, format, &runs(&state), output.output),
        },
        Command::Schema => schema::run(),
        Command::Config(ConfigCommand::Show { inputs, output }) => {
            config_show::run(&inputs, output.output)
        }
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "runbook", &mut std::io::stdout());
            exit::OK
        }
        Command::Man => {
            let command = <Cli as clap::CommandFactory>::command();
            match clap_mangen::Man::new(command).render(&mut std::io::stdout()) {
                Ok(()) => exit::OK,
                Err(e) => input_error(
                    &format!("writing the manual page: {e}"),
                    OutputFormat::Human,
                ),
            }
        }
    }
}

/// The pipeline up to a program that can be planned and run: load, expand, validate.
pub fn checked_program(
    file: &Path,
    registry: &Registry,
    known: &KnownInputs,
    sources: &Sources,
) -> Result<Program, Diagnostics> {
    let runbook = load::load_file(file, sources)?;
    let program = expand::expand(runbook, sources)?;
    validate_program(&program, registry, known).into_result(program)
}

/// Load and validate, printing every problem. `None` means the caller exits with code 2.
pub fn load_program(file: &Path, known: &KnownInputs, output: OutputFormat) -> Option<Program> {
    let sources = Sources::new();
    match checked_program(file, &runbook_steps::registry(), known, &sources) {
        Ok(program) => Some(program),
        Err(diags) => {
            print_diagnostics(&diags, &sources, output);
            None
        }
    }
}

pub fn print_diagnostics(diags: &Diagnostics, sources: &Sources, output: OutputFormat) {
    match output {
        OutputFormat::Human => eprintln!("{}", diags.render(sources)),
        OutputFormat::Json => {
            for d in &diags.0 {
                let mut value = d.to_json(sources);
                value["event"] = json!("problem");
                emit(&value);
            }
        }
    }
}

/// Load a program for `plan` or `run`, and check that a `--params` file names only params the
/// runbook declares, each problem at its line in that file. `None`: exit 2, problems printed.
pub fn load_program_with_params(
    file: &Path,
    known: &KnownInputs,
    params_file: Option<&Path>,
    output: OutputFormat,
) -> Option<Program> {
    let program = load_program(file, known, output)?;
    let Some(params_file) = params_file else {
        return Some(program);
    };
    let diags = unknown_params_in(&program, params_file);
    if diags.is_empty() {
        Some(program)
    } else {
        print_diagnostics(&diags, &program.sources, output);
        None
    }
}

fn unknown_params_in(program: &Program, params_file: &Path) -> Diagnostics {
    use runbook_engine::scope::unknown_param;
    use runbook_engine::source::Loc;
    let mut diags = Diagnostics::default();
    // Read errors were reported when the inputs were loaded.
    let Ok(text) = runbook_engine::input_file::read_text(params_file) else {
        return diags;
    };
    let id = program.sources.add(params_file, text.as_str());
    let Ok(root) = runbook_engine::yaml::parse(&text, id) else {
        return diags;
    };
    let runbook = program.root();
    let name = runbook.path.display().to_string();
    for (key, _) in root.as_map().unwrap_or_default() {
        if !runbook.params.iter().any(|p| p.name == key.name) {
            let loc = Loc::new(id, key.line, key.column);
            diags.0.push(unknown_param(runbook, &key.name, loc, &name));
        }
    }
    diags
}

/// A run's state that cannot be read, is damaged, or does not exist.
pub fn state_error(error: &runbook_engine::error::StateError, output: OutputFormat) -> i32 {
    let code = error.exit_code();
    match output {
        OutputFormat::Human => eprintln!("error: {error}"),
        OutputFormat::Json => {
            emit(&json!({"event": "problem", "message": error.to_string(), "exit_code": code}))
        }
    }
    code
}

/// An input error that is not tied to a runbook position (unreadable file, bad flag).
pub fn input_error(message: &(impl std::fmt::Display + ?Sized), output: OutputFormat) -> i32 {
    match output {
        OutputFormat::Human => eprintln!("error: {message}"),
        OutputFormat::Json => emit(&json!({"event": "problem", "message": message.to_string()})),
    }
    exit::INVALID
}
