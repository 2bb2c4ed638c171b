//! Progress a step reports while it runs (bytes copied, items restored); shown live, not journaled.

use tokio::sync::mpsc::UnboundedSender;

#[derive(Debug, Clone)]
pub struct ProgressUpdate {
    pub step: String,
    pub index: Option<usize>,
    pub message: String,
    /// `(done, total)` when the step can count.
    pub position: Option<(u64, Option<u64>)>,
}

/// Handed to each running step.
#[derive(Debug, Clone)]
pub struct ProgressSink {
    step: String,
    index: Option<usize>,
    sender: Option<UnboundedSender<ProgressUpdate>>,
}

impl ProgressSink {
    pub fn new(
        step: String,
        index: Option<usize>,
        sender: Option<UnboundedSender<ProgressUpdate>>,
    ) -> Self {
        ProgressSink {
            step,
            index,
            sender,
        }
    }

    /// A sink that drops everything, for tests of single kinds.
    pub fn discard() -> Self {
        ProgressSink {
            step: String::new(),
            index: None,
            sender: None,
        }
    }

    pub fn message(&self, message: impl Into<String>) {
        self.send(message.into(), None);
    }

    pub fn position(&self, message: impl Into<String>, done: u64, total: Option<u64>) {
        self.send(message.into(), Some((done, total)));
    }

    fn send(&self, message: String, position: Option<(u64, Option<u64>)>) {
        if let Some(sender) = &self.sender {
            let _ = sender.send(ProgressUpdate {
                step: self.step.clone(),
                index: self.index,
                message,
                position,
            });
        }
    }
}
