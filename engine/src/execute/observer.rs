//! What a front end (the CLI's progress display, a test) is told while a run executes. Everything
//! passed here has been through the redactor.

use crate::journal::Record;
use crate::progress::ProgressUpdate;

pub trait Observer: Send + Sync {
    /// A journal record, as written.
    fn record(&self, record: &Record);
    /// Live progress of a running step (not journaled).
    fn progress(&self, _update: &ProgressUpdate) {}
    /// Something the operator should know that is not a state change ("draining: ...").
    fn notice(&self, _text: &str) {}
}

/// Observes nothing, for benchmarks and tests.
pub struct Silent;

impl Observer for Silent {
    fn record(&self, _record: &Record) {}
}
