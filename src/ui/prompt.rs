//! Confirmation on the terminal: a yes/no question that Ctrl-C interrupts.

use std::io::{BufRead, Write};
use std::sync::atomic::Ordering;
use std::time::Duration;

use indicatif::MultiProgress;
use runbook_engine::error::Declined;
use runbook_engine::interaction::{Approval, Interaction};

use crate::error::PromptError;

/// Asks on the terminal, pausing the progress display while it does.
pub struct TerminalPrompt {
    bars: Option<MultiProgress>,
}

impl TerminalPrompt {
    pub fn new(bars: Option<MultiProgress>) -> Self {
        TerminalPrompt { bars }
    }

    /// Ask and wait for a line, or for Ctrl-C (SIGTERM, SIGHUP): the signal handlers only count
    /// interruptions ([`super::INTERRUPTIONS`]), so the answer is read on a thread of its own
    /// while this one watches the count.
    fn ask(question: &str) -> Result<Approval, PromptError> {
        let before = super::INTERRUPTIONS.load(Ordering::SeqCst);
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "{question} [y/N] ");
        let _ = err.flush();
        drop(err);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut answer = String::new();
            let read = std::io::stdin()
                .lock()
                .read_line(&mut answer)
                .map(|_| answer);
            let _ = tx.send(read);
        });
        loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(Ok(answer)) => {
                    return match answer.trim().to_ascii_lowercase().as_str() {
                        "y" | "yes" => Ok(Approval::Operator),
                        _ => Err(PromptError::Declined),
                    };
                }
                Ok(Err(e)) => return Err(PromptError::Read(e)),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(PromptError::Closed);
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if super::INTERRUPTIONS.load(Ordering::SeqCst) != before {
                        eprintln!();
                        return Err(PromptError::Interrupted);
                    }
                }
            }
        }
    }
}

impl Interaction for TerminalPrompt {
    fn confirm(&self, question: &str) -> Result<Approval, Declined> {
        match &self.bars {
            Some(bars) => bars.suspend(|| Self::ask(question)),
            None => Self::ask(question),
        }
        .map_err(|error| Declined(error.to_string()))
    }
}
