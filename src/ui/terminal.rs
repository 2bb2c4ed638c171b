use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use runbook_engine::duration::format_duration;
use runbook_engine::execute::Observer;
use runbook_engine::journal::{Event, Record};
use runbook_engine::progress::ProgressUpdate;

use super::unit_name;

/// Live progress: one spinner line per running step with its elapsed time and latest progress;
/// finished steps scroll above as plain lines.
pub struct TerminalObserver {
    bars: MultiProgress,
    running: Mutex<HashMap<String, ProgressBar>>,
    color: bool,
}

impl TerminalObserver {
    pub fn new(color: bool) -> Self {
        TerminalObserver {
            bars: MultiProgress::new(),
            running: Mutex::new(HashMap::new()),
            color,
        }
    }

    pub fn bars(&self) -> MultiProgress {
        self.bars.clone()
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn finish(&self, unit: &str) -> String {
        match self.running.lock().expect("lock").remove(unit) {
            Some(bar) => {
                let elapsed = format_duration(bar.elapsed());
                bar.finish_and_clear();
                self.bars.remove(&bar);
                format!(" ({elapsed})")
            }
            None => String::new(),
        }
    }

    fn println(&self, line: String) {
        let _ = self.bars.println(line);
    }
}

impl Observer for TerminalObserver {
    fn record(&self, record: &Record) {
        match &record.event {
            Event::StepStarted {
                step,
                index,
                attempt,
                description,
            } => {
                let unit = unit_name(step, *index);
                let style =
                    ProgressStyle::with_template("{spinner} {elapsed:>4} {prefix} {wide_msg}")
                        .expect("valid template")
                        .tick_strings(&["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏", "·"]);
                let bar = self.bars.add(ProgressBar::new_spinner().with_style(style));
                let attempt = if *attempt > 1 {
                    format!(" (attempt {attempt})")
                } else {
                    String::new()
                };
                bar.set_prefix(format!("{unit}{attempt}"));
                bar.set_message(
                    description
                        .as_deref()
                        .map(super::one_line)
                        .unwrap_or_default(),
                );
                bar.enable_steady_tick(Duration::from_millis(120));
                if let Some(old) = self.running.lock().expect("lock").insert(unit, bar) {
                    old.finish_and_clear();
                }
            }
            Event::StepSucceeded { step, index, .. } => {
                let unit = unit_name(step, *index);
                let elapsed = self.finish(&unit);
                self.println(format!("{} {unit}{elapsed}", self.paint("32", "✓")));
            }
            Event::StepFailed {
                step,
                index,
                error,
                retry_in_ms,
                ..
            } => {
                let unit = unit_name(step, *index);
                let elapsed = self.finish(&unit);
                let retry = retry_in_ms
                    .map(|ms| {
                        format!(
                            " — retrying in {}",
                            format_duration(Duration::from_millis(ms))
                        )
                    })
                    .unwrap_or_default();
                self.println(format!(
                    "{} {unit}{elapsed}{retry}\n    {}",
                    self.paint("31;1", "✗"),
                    error.replace('\n', "\n    ")
                ));
            }
            Event::StepInterrupted { step, index, .. } => {
                let unit = unit_name(step, *index);
                self.finish(&unit);
                self.println(format!("{} {unit} aborted", self.paint("33", "■")));
            }
            Event::StepSkipped { step, reason } => {
                self.println(format!("{} {step} skipped: {reason}", self.paint("2", "○")))
            }
            Event::StepSkippedByOperator { step, index } => self.println(format!(
                "{} {} done by hand",
                self.paint("2", "○"),
                unit_name(step, *index)
            )),
            Event::StepReset { step } => self.println(format!("↺ {step} will run again")),
            // No spinner outlives its session (a unit left waiting when the run was interrupted).
            Event::SessionEnded { .. } => {
                for (_, bar) in self.running.lock().expect("lock").drain() {
                    bar.finish_and_clear();
                }
            }
            Event::StepExpanded { .. } | Event::SessionStarted { .. } => {}
        }
    }

    fn progress(&self, update: &ProgressUpdate) {
        let unit = unit_name(&update.step, update.index);
        if let Some(bar) = self.running.lock().expect("lock").get(&unit) {
            let message = match update.position {
                Some((done, Some(total))) => format!("{} ({done}/{total})", update.message),
                Some((done, None)) => format!("{} ({done})", update.message),
                None => update.message.clone(),
            };
            bar.set_message(message);
        }
    }

    fn notice(&self, text: &str) {
        self.println(self.paint("33", text));
    }
}
