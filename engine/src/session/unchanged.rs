//! Resume runs the runbook that was started: the fingerprints in run.json are compared with the
//! runbook as it is now, and an edit is refused, naming what changed.

use super::SessionError;
use crate::journal::{FingerprintKey, RunMeta, step_fingerprints};
use crate::program::Program;

/// Resume runs the runbook that was started: an edit since then is refused, naming what changed.
pub(super) fn check_unchanged(program: &Program, meta: &RunMeta) -> Result<(), SessionError> {
    let now = step_fingerprints(program);
    let mut changes = Vec::new();
    for (key, print) in &meta.steps {
        let what = FingerprintKey::parse(key);
        match now.get(key) {
            None => changes.push(format!("{what} was removed")),
            Some(p) if p != print => changes.push(match what {
                FingerprintKey::Step(_) => format!("{what} changed"),
                FingerprintKey::Header { .. } => {
                    format!("the params, vars or connections of {what} changed")
                }
            }),
            _ => {}
        }
    }
    for key in now.keys() {
        if !meta.steps.contains_key(key) {
            changes.push(format!("{} was added", FingerprintKey::parse(key)));
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
