use std::path::Path;

use runbook_engine::plan::build_plan;

use super::{input_error, load_program_with_params, print_diagnostics};
use crate::args::{InputArgs, OutputFormat};
use crate::exit;

pub fn run(file: &Path, args: &InputArgs, output: OutputFormat) -> i32 {
    let mut loaded = match crate::inputs::load(args, None) {
        Ok(l) => l,
        Err(e) => return input_error(&e, output),
    };
    // Reading `config` without a config directory is one clear error here.
    loaded.known.config_required = true;
    let Some(program) =
        load_program_with_params(file, &loaded.known, args.params.as_deref(), output)
    else {
        return exit::INVALID;
    };
    match build_plan(&program, &runbook_steps::registry(), &loaded.inputs) {
        Ok(plan) => {
            match output {
                OutputFormat::Human => print!("{}", plan.to_text(crate::ui::use_color())),
                OutputFormat::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&plan).unwrap_or_default()
                ),
            }
            exit::OK
        }
        Err(diags) => {
            print_diagnostics(&diags, &program.sources, output);
            exit::INVALID
        }
    }
}
