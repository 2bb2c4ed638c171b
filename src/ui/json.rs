use std::io::Write;

use runbook_engine::execute::Observer;
use runbook_engine::journal::Record;
use runbook_engine::progress::ProgressUpdate;
use serde_json::json;

/// One JSON object per line on stdout: journal records as written, plus `progress` and `notice`.
#[derive(Default)]
pub struct JsonObserver;

pub fn emit(value: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{value}");
}

impl Observer for JsonObserver {
    fn record(&self, record: &Record) {
        emit(&serde_json::to_value(record).unwrap_or_default());
    }
    fn progress(&self, update: &ProgressUpdate) {
        emit(
            &json!({"event": "progress", "step": update.step, "index": update.index, "message": update.message,
            "done": update.position.map(|p| p.0), "total": update.position.and_then(|p| p.1)}),
        );
    }
    fn notice(&self, text: &str) {
        emit(&json!({"event": "notice", "message": text}));
    }
}
