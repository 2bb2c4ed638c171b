//! Asking the operator: confirmations of destructive steps and `approve` steps.

use crate::error::Declined;

/// How an approval was given, recorded in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approval {
    /// A person answered yes at the prompt.
    Operator,
    /// `--yes` was given.
    AssumeYes,
}

impl Approval {
    pub fn as_str(self) -> &'static str {
        match self {
            Approval::Operator => "operator",
            Approval::AssumeYes => "--yes",
        }
    }
}

pub trait Interaction: Send + Sync {
    /// Ask a yes/no question. `Err` carries why no answer could be had (no terminal, refused).
    fn confirm(&self, question: &str) -> Result<Approval, Declined>;
    /// Whether a question can be answered at all (a terminal, or `--yes`).
    fn can_ask(&self) -> bool {
        true
    }
}

/// For `--yes` and for tests.
pub struct AssumeYes;

impl Interaction for AssumeYes {
    fn confirm(&self, _question: &str) -> Result<Approval, Declined> {
        Ok(Approval::AssumeYes)
    }
}

/// Without a terminal and without `--yes`, nothing can be confirmed.
pub struct NoTerminal;

impl Interaction for NoTerminal {
    fn can_ask(&self) -> bool {
        false
    }

    fn confirm(&self, question: &str) -> Result<Approval, Declined> {
        Err(Declined(format!(
            "`{question}` needs confirmation, but there is no terminal to ask on; pass --yes to confirm in scripts"
        )))
    }
}
