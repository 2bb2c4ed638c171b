//! `report`: the recovery report of the run so far, as a step. It ends a restore with the
//! numbers an incident write-up needs (the time to recovery, each step's duration, the critical
//! path), kept in the run's outputs and, when asked, written to a file. `runbook report` gives the
//! same report at any time afterwards.

use async_trait::async_trait;
use runbook_engine::duration::format_duration;
use runbook_engine::journal::{RunDir, StoredRun};
use runbook_engine::kind::{Kind, StepContext, StepError};
use runbook_engine::report::Report as RunReport;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

pub struct Report;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportInput {
    /// Also write the report to this file (relative to where `runbook` was started).
    pub to: Option<String>,
    /// The file's format: `markdown` (default) or `json`.
    #[serde(default)]
    pub format: Format,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Markdown,
    Json,
}

fn ms(d: Option<u64>) -> String {
    d.map(|ms| format_duration(std::time::Duration::from_millis(ms)))
        .unwrap_or_else(|| "-".into())
}

/// What a step reads of the run it belongs to: the same report `runbook report` gives.
fn build(ctx: &StepContext) -> Result<RunReport, StepError> {
    let dir = ctx.run_dir.clone().ok_or_else(|| {
        StepError::permanent("a report needs a recorded run (this step ran outside one)")
    })?;
    let run = StoredRun::read(RunDir { path: dir })
        .map_err(|e| StepError::permanent(format!("reading the run: {e}")))?;
    run.report(&crate::registry()).map_err(|gone| {
        StepError::permanent(format!(
            "reloading the runbook: {}",
            gone.diagnostics.render(&gone.sources)
        ))
    })
}

#[async_trait]
impl Kind for Report {
    type Input = ReportInput;
    fn name(&self) -> &'static str {
        "report"
    }
    fn about(&self) -> &'static str {
        "The recovery report of the run so far: time to recovery, each step's duration, the critical path; optionally written to a file (`to`)."
    }
    fn outputs(&self) -> &'static [&'static str] {
        &[
            "recovery_time",
            "recovery_ms",
            "active_time",
            "sessions",
            "critical_path",
            "steps",
            "path",
        ]
    }
    fn idempotent(&self, _input: &ReportInput) -> bool {
        true
    }
    fn describe(&self, input: &ReportInput) -> String {
        match &input.to {
            Some(to) => format!("report the recovery so far, written to {to}"),
            None => "report the recovery so far".into(),
        }
    }
    async fn run(&self, ctx: &StepContext, input: ReportInput) -> Result<Value, StepError> {
        let report = build(ctx)?;
        let own = ctx.step_id.as_str();
        let steps: Vec<Value> = report
            .steps
            .iter()
            .filter(|s| s.id != own)
            .map(|s| {
                json!({"id": s.id, "state": s.state, "duration": ms(s.duration_ms),
                       "duration_ms": s.duration_ms, "attempts": s.attempts})
            })
            .collect();
        let critical: Vec<String> = report
            .critical_path
            .steps
            .iter()
            .map(|s| format!("{} ({})", s.id, ms(Some(s.duration_ms))))
            .collect();
        let mut outputs = json!({
            "recovery_time": ms(report.total_ms),
            "recovery_ms": report.total_ms,
            "active_time": ms(Some(report.active_ms)),
            "sessions": report.sessions.len(),
            "critical_path": critical,
            "steps": steps,
        });
        if let Some(to) = &input.to {
            let text = match input.format {
                Format::Markdown => report.to_markdown(),
                Format::Json => serde_json::to_string_pretty(&report.to_json()).unwrap_or_default(),
            };
            let text = ctx.redactor.redact(&text);
            if let Some(parent) = std::path::Path::new(to).parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent).map_err(|e| {
                    StepError::permanent(format!("creating {}: {e}", parent.display()))
                })?;
            }
            std::fs::write(to, text)
                .map_err(|e| StepError::permanent(format!("writing {to}: {e}")))?;
            outputs["path"] = json!(to);
        }
        Ok(outputs)
    }
}
