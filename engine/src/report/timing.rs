//! Time arithmetic on journal timestamps (RFC 3339 strings with milliseconds, UTC).
//!
//! The journal keeps timestamps as text so that an operator can read it; the report parses them
//! only to subtract. A timestamp that does not parse counts as unknown rather than failing the
//! whole report: a report is most needed when something already went wrong.

use std::time::Duration;

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

pub fn parse(timestamp: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(timestamp, &Rfc3339).ok()
}

/// A timestamp as reports show it: UTC with exactly three fraction digits, so that columns of
/// them line up (the journal's writer drops trailing zeros: `10:00:05.1Z`). Text that does not
/// parse is shown as it is.
pub fn display(timestamp: &str) -> String {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    parse(timestamp)
        .and_then(|t| t.to_offset(UtcOffset::UTC).format(&format).ok())
        .unwrap_or_else(|| timestamp.to_string())
}

/// The time from `start` to `end`; zero when the clock went backwards between two records.
pub fn between(start: &str, end: &str) -> Option<Duration> {
    let elapsed = parse(end)? - parse(start)?;
    Some(Duration::try_from(elapsed).unwrap_or(Duration::ZERO))
}

/// Whole milliseconds, the unit the JSON report uses.
pub fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The later of two timestamps, compared as instants (not as text: offsets may differ).
pub fn later<'a>(a: &'a str, b: &'a str) -> &'a str {
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) if y > x => b,
        (Some(_), _) => a,
        (None, _) => b,
    }
}

/// The earlier of two timestamps, compared as instants.
pub fn earlier<'a>(a: &'a str, b: &'a str) -> &'a str {
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) if y < x => b,
        (Some(_), _) => a,
        (None, _) => b,
    }
}

/// Whether `a` is at or after `b`.
pub fn not_before(a: &str, b: &str) -> bool {
    matches!((parse(a), parse(b)), (Some(x), Some(y)) if x >= y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtracts_with_milliseconds_across_offsets() {
        let d = between("2026-11-23T15:44:01.250Z", "2026-11-23T15:45:02.000Z").unwrap();
        assert_eq!(millis(d), 60_750);
        // The same instant written with another offset.
        let d = between("2026-11-23T15:44:01.000Z", "2026-11-23T16:44:02.000+01:00").unwrap();
        assert_eq!(millis(d), 1_000);
    }

    #[test]
    fn backwards_clock_is_zero_and_garbage_is_unknown() {
        assert_eq!(
            between("2026-11-23T15:45:00.000Z", "2026-11-23T15:44:00.000Z"),
            Some(Duration::ZERO)
        );
        assert_eq!(between("yesterday", "2026-11-23T15:44:00.000Z"), None);
    }

    #[test]
    fn displays_utc_with_milliseconds() {
        assert_eq!(
            display("2026-11-23T10:00:05.1Z"),
            "2026-11-23T10:00:05.100Z"
        );
        assert_eq!(
            display("2026-11-23T11:00:00+01:00"),
            "2026-11-23T10:00:00.000Z"
        );
        assert_eq!(display("not a time"), "not a time");
    }

    #[test]
    fn orders_instants_not_text() {
        // As text "16:..+01:00" sorts after "15:30Z", but it is the earlier instant.
        let (a, b) = ("2026-11-23T15:30:00.000Z", "2026-11-23T16:00:00.000+01:00");
        assert_eq!(later(a, b), a);
        assert_eq!(earlier(a, b), b);
        assert!(not_before(a, b));
        assert!(!not_before(b, a));
    }
}
