use std::path::PathBuf;

use runbook_engine::journal::{StateDir, StoredRun};
use runbook_engine::report::Report;
use runbook_engine::source::Sources;
use runbook_engine::validate::KnownInputs;

use super::{input_error, state_error};
use crate::args::{OutputFormat, ReportFormat};
use crate::exit;

pub fn run(run_id: &str, format: ReportFormat, state_dir: &StateDir, output: OutputFormat) -> i32 {
    let stored = match StoredRun::open(state_dir, run_id) {
        Ok(found) => found,
        Err(e) => return state_error(&e, output),
    };
    let meta = &stored.meta;
    let sources = Sources::new();
    let program = match runbook_engine::validate::validate_file(
        &PathBuf::from(&meta.runbook_path),
        &runbook_steps::registry(),
        &KnownInputs::default(),
        &sources,
    ) {
        Ok(p) => p,
        Err(diags) => {
            eprintln!("{}", diags.render(&sources));
            return input_error(
                &format!(
                    "the runbook {} no longer loads; the report needs it for the step graph",
                    meta.runbook_path
                ),
                output,
            );
        }
    };
    let report = Report::of(&program, &stored);
    match format {
        ReportFormat::Md => print!("{}", report.to_markdown()),
        ReportFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report.to_json()).unwrap_or_default()
        ),
        ReportFormat::Junit => print!("{}", report.to_junit()),
    }
    exit::OK
}
