use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

use runbook_engine::duration::format_duration;
use runbook_engine::execute::Observer;
use runbook_engine::journal::{Event, Record};

use super::unit_name;

/// One line per event, for logs and CI.
#[derive(Default)]
pub struct PlainObserver {
    started: Mutex<HashMap<String, Instant>>,
}

impl PlainObserver {
    fn elapsed(&self, unit: &str) -> String {
        self.started
            .lock()
            .expect("lock")
            .remove(unit)
            .map(|t| format!(" ({})", format_duration(t.elapsed())))
            .unwrap_or_default()
    }
}

pub fn line_for(
    record: &Record,
    elapsed: impl FnOnce(&str) -> String,
    started: impl FnOnce(&str),
) -> Option<String> {
    let time = record.at.get(11..23).unwrap_or(&record.at);
    let text = match &record.event {
        Event::SessionStarted {
            session, command, ..
        } => format!("session {session} started: {command}"),
        Event::SessionEnded { status, .. } => format!(
            "session ended: {}",
            serde_json::to_value(status).ok()?.as_str()?
        ),
        Event::StepExpanded { step, items } => format!(
            "expand    {step}: {items} item{}",
            if *items == 1 { "" } else { "s" }
        ),
        Event::StepStarted {
            step,
            index,
            attempt,
            description,
        } => {
            let unit = unit_name(step, *index);
            started(&unit);
            let attempt = if *attempt > 1 {
                format!(" (attempt {attempt})")
            } else {
                String::new()
            };
            let what = description
                .as_ref()
                .map(|d| format!(": {}", super::one_line(d)))
                .unwrap_or_default();
            format!("start     {unit}{attempt}{what}")
        }
        Event::StepSucceeded { step, index, .. } => {
            let unit = unit_name(step, *index);
            format!("ok        {unit}{}", elapsed(&unit))
        }
        Event::StepFailed {
            step,
            index,
            error,
            retry_in_ms,
            attempt,
        } => {
            let unit = unit_name(step, *index);
            let retry = retry_in_ms
                .map(|ms| {
                    format!(
                        " (attempt {attempt}; retrying in {})",
                        format_duration(std::time::Duration::from_millis(ms))
                    )
                })
                .unwrap_or_default();
            format!(
                "FAILED    {unit}{}{retry}: {}",
                elapsed(&unit),
                error.replace('\n', "\n              ")
            )
        }
        Event::StepInterrupted { step, index, .. } => {
            format!("aborted   {}", unit_name(step, *index))
        }
        Event::StepSkipped { step, reason } => format!("skip      {step}: {reason}"),
        Event::StepSkippedByOperator { step, index } => {
            format!("by hand   {} (resume --skip)", unit_name(step, *index))
        }
        Event::StepReset { step } => format!("reset     {step} (will run again)"),
    };
    Some(format!("{time}  {text}"))
}

impl Observer for PlainObserver {
    fn record(&self, record: &Record) {
        let line = line_for(
            record,
            |u| self.elapsed(u),
            |u| {
                self.started
                    .lock()
                    .expect("lock")
                    .insert(u.to_string(), Instant::now());
            },
        );
        if let Some(line) = line {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
        }
    }

    fn notice(&self, text: &str) {
        eprintln!("{text}");
    }
}
