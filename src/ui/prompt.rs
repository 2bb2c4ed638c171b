use std::io::{BufRead, Write};
use std::sync::atomic::Ordering;
use std::time::Duration;

use indicatif::MultiProgress;
use runbook_engine::error::Declined;
use runbook_engine::interaction::{Approval, Interaction};

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
    fn ask(question: &str) -> Result<Approval, String> {
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
                        _ => Err("the operator answered no".into()),
                    };
                }
                Ok(Err(e)) => return Err(format!("could not read the answer: {e}")),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    return Err("could not read the answer".into());
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if super::INTERRUPTIONS.load(Ordering::SeqCst) != before {
                        eprintln!();
                        return Err(
                            "interrupted at the prompt (Ctrl-C): no answer was taken".into()
                        );
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
        .map_err(Declined)
    }
}
