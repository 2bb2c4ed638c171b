//! Durations as runbooks write them: `500ms`, `30s`, `10m`, `2h`, `1h30m`, and the input type
//! step kinds take them in.

use std::borrow::Cow;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;

pub use crate::error::DurationError;
use crate::kind::StepError;
use crate::schema_check::DURATION_FORMAT;

/// The longest duration a runbook may write: a year is beyond any wait, timeout or retry delay a
/// recovery has, and keeps every sum of durations far from overflowing.
pub const MAX: Duration = Duration::from_secs(366 * 86400);

pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DurationError("empty duration".into()));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(DurationError(format!("`{text}` is not a duration")));
        }
        let number: f64 = rest[..digits]
            .parse()
            .map_err(|_| DurationError(format!("`{text}` is not a duration")))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ms" => number / 1000.0,
            "s" => number,
            "m" => number * 60.0,
            "h" => number * 3600.0,
            "d" => number * 86400.0,
            "" => return Err(DurationError(format!("`{text}` has no unit"))),
            other => {
                return Err(DurationError(format!("`{other}` is not a duration unit")));
            }
        };
        total = Duration::try_from_secs_f64(seconds)
            .ok()
            .and_then(|d| total.checked_add(d))
            .filter(|d| *d <= MAX)
            .ok_or_else(|| {
                DurationError(format!(
                    "`{text}` is longer than the longest duration allowed, 366d"
                ))
            })?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// The inverse, for humans: `1h2m3s`, `4.2s`, `350ms`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let secs = d.as_secs();
    if secs < 60 {
        return format!("{:.1}s", d.as_secs_f64());
    }
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    match (h, m, s) {
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, s) => format!("{h}h{m:02}m{s:02}s"),
    }
}

pub const EXPECTED: &str = "a duration such as `30s`, `10m`, `2h` or `1h30m`";

/// A duration input of a step kind (`timeout: 10m`), as written. Its schema is a string of format
/// [`DURATION_FORMAT`], so `validate` checks a literal one at its line; one written as a template
/// is parsed when the step runs, once rendered.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct DurationInput(String);

impl DurationInput {
    /// The text as written (or rendered), for `describe`.
    pub fn text(&self) -> &str {
        &self.0
    }

    /// The duration of the input named `input`; a bad one fails the step at once.
    pub fn duration(&self, input: &str) -> Result<Duration, StepError> {
        parse_duration(&self.0)
            .map_err(|e| StepError::permanent(format!("invalid `{input}` {:?}: {e}", self.0)))
    }

    /// The duration of an optional `timeout` input, or `default` without one.
    pub fn timeout_or(timeout: Option<&Self>, default: Duration) -> Result<Duration, StepError> {
        timeout.map_or(Ok(default), |t| t.duration("timeout"))
    }
}

impl JsonSchema for DurationInput {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "format": DURATION_FORMAT})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_compounds() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("ten minutes").is_err());
        assert!(parse_duration("5y").is_err());
    }

    #[test]
    fn out_of_range_durations_are_errors_not_panics() {
        for text in ["99999999999999999999h", "367d", "1e400s", "366d1ms"] {
            let error = parse_duration(text).unwrap_err();
            let error = error.to_string();
            assert!(
                error.contains("366d") || error.contains("not a duration"),
                "{text}: {error}"
            );
        }
        assert_eq!(parse_duration("366d").unwrap(), MAX);
    }

    #[test]
    fn formats_for_humans() {
        assert_eq!(format_duration(Duration::from_millis(350)), "350ms");
        assert_eq!(format_duration(Duration::from_secs(61)), "1m01s");
        assert_eq!(format_duration(Duration::from_secs(3723)), "1h02m03s");
    }
}
