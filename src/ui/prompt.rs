use std::io::{BufRead, Write};

use indicatif::MultiProgress;
use runbook_engine::interaction::{Approval, Interaction};

/// Asks on the terminal, pausing the progress display while it does.
pub struct TerminalPrompt {
    bars: Option<MultiProgress>,
}

impl TerminalPrompt {
    pub fn new(bars: Option<MultiProgress>) -> Self {
        TerminalPrompt { bars }
    }

    fn ask(question: &str) -> Result<Approval, String> {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "{question} [y/N] ");
        let _ = err.flush();
        let mut answer = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .map_err(|e| format!("could not read the answer: {e}"))?;
        match answer.trim().to_ascii_lowercase().as_str() {
            "y" | "yes" => Ok(Approval::Operator),
            _ => Err("the operator answered no".into()),
        }
    }
}

impl Interaction for TerminalPrompt {
    fn confirm(&self, question: &str) -> Result<Approval, String> {
        match &self.bars {
            Some(bars) => bars.suspend(|| Self::ask(question)),
            None => Self::ask(question),
        }
    }
}
