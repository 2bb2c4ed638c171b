//! How a run shows itself: live progress on a terminal, one plain line per event otherwise,
//! JSON lines for machines. Everything shown has been through the redactor.

pub mod echo;
pub mod json;
mod plain;
mod prompt;
mod terminal;

use std::io::IsTerminal;
use std::sync::Arc;

use runbook_engine::execute::Observer;
use runbook_engine::interaction::{AssumeYes, Interaction, NoTerminal};

pub use json::JsonObserver;
pub use plain::PlainObserver;
pub use terminal::TerminalObserver;

use crate::args::OutputFormat;

/// Ctrl-C, SIGTERM and SIGHUP received so far: a prompt that is waiting for an answer gives up
/// when this changes.
pub static INTERRUPTIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Colour only on a terminal, and never when `NO_COLOR` is set (https://no-color.org).
pub fn use_color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

pub struct Ui {
    pub observer: Arc<dyn Observer>,
    pub interaction: Arc<dyn Interaction>,
}

impl Ui {
    pub fn new(format: OutputFormat, assume_yes: bool) -> Ui {
        let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
        let (observer, bars): (Arc<dyn Observer>, Option<indicatif::MultiProgress>) = match format {
            OutputFormat::Json => (Arc::new(JsonObserver), None),
            OutputFormat::Human if std::io::stdout().is_terminal() => {
                echo::hide_control_characters();
                let t = TerminalObserver::new(use_color());
                let bars = t.bars();
                (Arc::new(t), Some(bars))
            }
            OutputFormat::Human => (Arc::new(PlainObserver::default()), None),
        };
        let interaction: Arc<dyn Interaction> = if assume_yes {
            Arc::new(AssumeYes)
        } else if interactive {
            Arc::new(prompt::TerminalPrompt::new(bars))
        } else {
            Arc::new(NoTerminal)
        };
        Ui {
            observer,
            interaction,
        }
    }
}

/// `step[2]` for a `for_each` item, `step` otherwise.
pub fn unit_name(step: &str, index: Option<usize>) -> String {
    match index {
        Some(i) => format!("{step}[{i}]"),
        None => step.to_string(),
    }
}

/// The first line of a description, marked when more follows: one event, one line.
pub fn one_line(text: &str) -> String {
    let mut lines = text.trim().lines();
    let first = lines.next().unwrap_or_default();
    if lines.next().is_some() {
        format!("{first} …")
    } else {
        first.to_string()
    }
}
