use runbook_engine::journal::{StateDir, StoredRun};

use super::{input_error, state_error};
use crate::args::{OutputFormat, ReportFormat};
use crate::exit;

pub fn run(run_id: &str, format: ReportFormat, state_dir: &StateDir, output: OutputFormat) -> i32 {
    let stored = match StoredRun::open(state_dir, run_id) {
        Ok(found) => found,
        Err(e) => return state_error(&e, output),
    };
    let report = match stored.report(&runbook_steps::registry()) {
        Ok(report) => report,
        Err(gone) => {
            eprintln!("{}", gone.diagnostics.render(&gone.sources));
            return input_error(&gone.to_string(), output);
        }
    };
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
