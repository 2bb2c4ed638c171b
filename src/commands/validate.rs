use std::path::PathBuf;

use runbook_engine::source::Sources;
use serde_json::json;

use super::{checked_program, input_error, print_diagnostics};
use crate::args::{InputArgs, OutputFormat};
use crate::exit;
use crate::ui::json::emit;

pub fn run(files: &[PathBuf], args: &InputArgs, output: OutputFormat) -> i32 {
    let loaded = match crate::inputs::load(args, None) {
        Ok(l) => l,
        Err(e) => return input_error(&e, output),
    };
    let registry = runbook_steps::registry();
    let mut code = exit::OK;
    for file in files {
        let sources = Sources::new();
        match checked_program(file, &registry, &loaded.known, &sources) {
            Ok(program) => match output {
                OutputFormat::Human => {
                    println!("ok: {} ({} steps)", file.display(), program.steps.len())
                }
                OutputFormat::Json => emit(
                    &json!({"event": "valid", "file": file.display().to_string(), "steps": program.steps.len()}),
                ),
            },
            Err(diags) => {
                print_diagnostics(&diags, &sources, output);
                code = exit::INVALID;
            }
        }
    }
    code
}
