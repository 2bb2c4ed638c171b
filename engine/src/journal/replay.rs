use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::record::{Event, Record, SessionEnd};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitStatus {
    /// Started, no result yet: running now, or interrupted if no process drives the run.
    Started,
    Succeeded,
    Failed,
    Interrupted,
    SkippedByOperator,
    /// Reset by `--from`: to run again.
    Pending,
}

/// One execution unit: a step, or one `for_each` item of it.
#[derive(Debug, Clone, Serialize)]
pub struct UnitRecord {
    pub index: Option<usize>,
    pub status: UnitStatus,
    /// Attempts over the whole run, across resumes.
    pub attempts: u32,
    pub first_started: Option<String>,
    pub last_started: Option<String>,
    pub ended: Option<String>,
    pub outputs: Option<Value>,
    pub error: Option<String>,
}

impl UnitRecord {
    fn new(index: Option<usize>) -> Self {
        UnitRecord {
            index,
            status: UnitStatus::Pending,
            attempts: 0,
            first_started: None,
            last_started: None,
            ended: None,
            outputs: None,
            error: None,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct StepRecord {
    pub items: Option<usize>,
    pub skipped: Option<String>,
    pub units: BTreeMap<Option<usize>, UnitRecord>,
}

impl StepRecord {
    pub fn unit(&self, index: Option<usize>) -> Option<&UnitRecord> {
        self.units.get(&index)
    }
    pub fn attempts(&self) -> u32 {
        self.units.values().map(|u| u.attempts).max().unwrap_or(0)
    }
    pub fn first_started(&self) -> Option<&str> {
        self.units
            .values()
            .filter_map(|u| u.first_started.as_deref())
            .min()
    }
    pub fn last_ended(&self) -> Option<&str> {
        self.units.values().filter_map(|u| u.ended.as_deref()).max()
    }
    /// Every expected unit succeeded (or was done by hand).
    pub fn succeeded(&self) -> bool {
        let expected = self.items.unwrap_or(1);
        let done = self
            .units
            .values()
            .filter(|u| {
                matches!(
                    u.status,
                    UnitStatus::Succeeded | UnitStatus::SkippedByOperator
                )
            })
            .count();
        self.skipped.is_none()
            && done == expected
            && (self.items.is_some() || self.units.contains_key(&None))
    }
    pub fn failed(&self) -> bool {
        self.units.values().any(|u| u.status == UnitStatus::Failed)
    }
    /// Outputs as steps read them: the unit's, or the list of items' in order.
    pub fn outputs(&self) -> Value {
        match self.items {
            None => self
                .units
                .get(&None)
                .and_then(|u| u.outputs.clone())
                .unwrap_or(Value::Null),
            Some(n) => Value::Array(
                (0..n)
                    .map(|i| {
                        self.units
                            .get(&Some(i))
                            .and_then(|u| u.outputs.clone())
                            .unwrap_or(Value::Null)
                    })
                    .collect(),
            ),
        }
    }
    /// The step's state in the one vocabulary.
    pub fn state(&self) -> super::StepState {
        super::StepState::of(Some(self))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Session {
    pub session: u32,
    pub started: String,
    pub ended: Option<String>,
    /// Its last record: where a session that never recorded its end stopped, at the latest.
    pub last_at: String,
    pub status: Option<SessionEnd>,
    pub command: String,
}

/// A run's state in one word, the same for `status`, `report` and `resume`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// A live process drives it.
    Running,
    /// Every step finished well, or the last session that acted ended well.
    Succeeded,
    Failed,
    /// Stopped before it finished (Ctrl-C, SIGTERM, a kill, a crash, a lost laptop): resumable.
    Interrupted,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// The run as the journal tells it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunState {
    pub steps: BTreeMap<String, StepRecord>,
    pub sessions: Vec<Session>,
    pub last_seq: u64,
    pub first_at: Option<String>,
    pub last_at: Option<String>,
}

impl RunState {
    pub fn replay(records: &[Record]) -> RunState {
        let mut state = RunState::default();
        for record in records {
            state.apply(record);
        }
        state
    }

    pub fn step(&self, key: &str) -> Option<&StepRecord> {
        self.steps.get(key)
    }

    /// The status of the last session, or `None` if it never ended (a crash, a kill, or still running).
    pub fn last_end(&self) -> Option<SessionEnd> {
        self.sessions.last().and_then(|s| s.status)
    }

    /// Every one of `steps` finished well: succeeded, skipped, or done by hand.
    pub fn all_finished<'a>(&self, mut steps: impl Iterator<Item = &'a str>) -> bool {
        steps.all(|key| {
            self.step(key)
                .is_some_and(|r| r.succeeded() || r.skipped.is_some())
        })
    }

    /// The one reading of a run's state. A run whose steps all finished has succeeded, whether or
    /// not its last session lived to record its end (killed after its last step, or its end
    /// record torn); otherwise it stands as the last session that acted left it (a refused
    /// session changed nothing), and one that never recorded an end was interrupted.
    pub fn status<'a>(&self, steps: impl Iterator<Item = &'a str>, driven: bool) -> RunStatus {
        if driven {
            return RunStatus::Running;
        }
        if !self.sessions.is_empty() && self.all_finished(steps) {
            return RunStatus::Succeeded;
        }
        let acted = self
            .sessions
            .iter()
            .rev()
            .find(|s| s.status != Some(SessionEnd::Refused));
        match acted.and_then(|s| s.status) {
            // Steps that failed with `continue_on_error` leave a run that succeeded.
            Some(SessionEnd::Succeeded) => RunStatus::Succeeded,
            Some(SessionEnd::Failed) => RunStatus::Failed,
            _ => RunStatus::Interrupted,
        }
    }

    /// The time between two instants during which a session drove the run: the gaps between
    /// sessions (from one's end, or last record, to the next one's start) do not count, so a
    /// step resumed the next morning did not take all night.
    pub fn active_between(&self, start: &str, end: &str) -> Option<std::time::Duration> {
        use crate::report::timing::{between, earlier, later};
        let total = between(start, end)?;
        let idle: std::time::Duration = self
            .sessions
            .windows(2)
            .filter_map(|pair| {
                let stopped = pair[0].ended.as_deref().unwrap_or(&pair[0].last_at);
                let from = later(stopped, start);
                let to = earlier(&pair[1].started, end);
                between(from, to)
            })
            .sum();
        Some(total.saturating_sub(idle))
    }

    /// With no process driving the run, what is still marked started was cut off.
    pub fn mark_started_as_interrupted(&mut self) {
        for step in self.steps.values_mut() {
            for unit in step.units.values_mut() {
                if unit.status == UnitStatus::Started {
                    unit.status = UnitStatus::Interrupted;
                }
            }
        }
    }

    fn unit(&mut self, step: &str, index: Option<usize>) -> &mut UnitRecord {
        self.steps
            .entry(step.to_string())
            .or_default()
            .units
            .entry(index)
            .or_insert_with(|| UnitRecord::new(index))
    }

    fn apply(&mut self, record: &Record) {
        self.last_seq = record.seq;
        // (A session's start belongs to the new session, not to the last one.)
        if !matches!(record.event, Event::SessionStarted { .. })
            && let Some(session) = self.sessions.last_mut()
        {
            session.last_at = record.at.clone();
        }
        self.first_at.get_or_insert_with(|| record.at.clone());
        self.last_at = Some(record.at.clone());
        let at = Some(record.at.clone());
        match &record.event {
            Event::SessionStarted {
                session, command, ..
            } => {
                // Whatever was still marked started when a new session begins was interrupted.
                self.mark_started_as_interrupted();
                self.sessions.push(Session {
                    session: *session,
                    started: record.at.clone(),
                    ended: None,
                    last_at: record.at.clone(),
                    status: None,
                    command: command.clone(),
                });
            }
            Event::SessionEnded { status, .. } => {
                if let Some(s) = self.sessions.last_mut() {
                    s.ended = at;
                    s.status = Some(*status);
                }
            }
            Event::StepExpanded { step, items } => {
                self.steps.entry(step.clone()).or_default().items = Some(*items)
            }
            Event::StepStarted {
                step,
                index,
                attempt,
                ..
            } => {
                let unit = self.unit(step, *index);
                unit.status = UnitStatus::Started;
                unit.attempts = unit.attempts.max(*attempt);
                unit.first_started.get_or_insert_with(|| record.at.clone());
                unit.last_started = at;
                unit.error = None;
            }
            Event::StepSucceeded {
                step,
                index,
                attempt,
                outputs,
            } => {
                let unit = self.unit(step, *index);
                unit.status = UnitStatus::Succeeded;
                unit.attempts = unit.attempts.max(*attempt);
                unit.outputs = Some(outputs.clone());
                unit.ended = at;
            }
            Event::StepFailed {
                step,
                index,
                attempt,
                error,
                ..
            } => {
                let unit = self.unit(step, *index);
                unit.status = UnitStatus::Failed;
                unit.attempts = unit.attempts.max(*attempt);
                unit.error = Some(error.clone());
                unit.ended = at;
            }
            Event::StepInterrupted { step, index, .. } => {
                let unit = self.unit(step, *index);
                unit.status = UnitStatus::Interrupted;
                unit.ended = at;
            }
            Event::StepSkipped { step, reason } => {
                let entry = self.steps.entry(step.clone()).or_default();
                entry.skipped = Some(reason.clone());
            }
            Event::StepSkippedByOperator { step, index } => {
                let unit = self.unit(step, *index);
                unit.status = UnitStatus::SkippedByOperator;
                unit.ended = at;
            }
            Event::StepReset { step } => {
                let entry = self.steps.entry(step.clone()).or_default();
                entry.skipped = None;
                entry.items = None;
                for unit in entry.units.values_mut() {
                    unit.status = UnitStatus::Pending;
                    unit.outputs = None;
                    unit.error = None;
                }
            }
        }
    }
}
