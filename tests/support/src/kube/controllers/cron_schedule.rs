//! A CronJob's schedule as the CronJob controller reads it: `spec.schedule` in the grammar of
//! `cron.ParseStandard` (robfig/cron v3: five fields, `@yearly`-style descriptors, an optional
//! `TZ=`/`CRON_TZ=` prefix), in the zone `spec.timeZone` names, and the controller's one
//! question of it: the most recent schedule time in `(earliest, now]`.
//!
//! Matching and the search for times are croner's; what is checked here is only what robfig's
//! grammar refuses and croner would accept (its `L`, `W`, `#` and `+` extensions, a day of week
//! 7, six or seven fields), so that a schedule the real controller ignores is ignored here too.
//! Zones are read from the system tz database (as Go's `time.LoadLocation` does first).
//!
//! Not emulated: `@every <duration>` (robfig's constant-delay schedule) is refused as
//! unparseable; robfig counts a `*/n` day field as `*` when choosing between OR and AND of day of
//! month and day of week, croner only a bare `*`.

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use jiff::Timestamp;
use jiff::tz::{Offset, TimeZone};

/// Where Go's `time.LoadLocation` looks for zone files on Linux, in its order.
const ZONEINFO_DIRS: &[&str] = &[
    "/usr/share/zoneinfo/",
    "/usr/share/lib/zoneinfo/",
    "/usr/lib/locale/TZ/",
    "/etc/zoneinfo/",
];

const MONTHS: &[&str] = &[
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// A parsed schedule and the zone its fields are read in.
pub struct Schedule {
    cron: Cron,
    zone: TimeZone,
}

/// `time.LoadLocation`: "" and "UTC" are UTC; other names are files of the tz database.
/// "Local" is UTC too: the controller manager runs with UTC as its local zone (and the apiserver
/// refuses "Local" as a `timeZone`).
pub fn load_zone(name: &str) -> Result<TimeZone, String> {
    if name.is_empty() || name == "UTC" || name == "Local" {
        return Ok(TimeZone::UTC);
    }
    // Go refuses names that could leave the zoneinfo directory.
    if name.starts_with('/') || name.contains("..") || name.contains('\\') {
        return Err(format!("invalid time zone name: {name}"));
    }
    ZONEINFO_DIRS
        .iter()
        .find_map(|dir| std::fs::read(format!("{dir}{name}")).ok())
        .and_then(|data| TimeZone::tzif(name, &data).ok())
        .ok_or_else(|| format!("unknown time zone {name}"))
}

/// The schedule the controller parses (`formatSchedule`): a schedule naming its own zone is taken
/// as it is; otherwise `spec.timeZone`, when set, becomes its `TZ=` prefix.
pub fn formatted(schedule: &str, time_zone: Option<&str>) -> String {
    match time_zone {
        Some(tz) if !schedule.contains("TZ") && load_zone(tz).is_ok() => {
            format!("TZ={tz} {schedule}")
        }
        _ => schedule.to_string(),
    }
}

impl Schedule {
    /// `cron.ParseStandard`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let spec = spec.trim();
        let (zone, fields) = match spec
            .strip_prefix("CRON_TZ=")
            .or_else(|| spec.strip_prefix("TZ="))
        {
            Some(rest) => {
                let (name, fields) = rest.split_once(' ').unwrap_or((rest, ""));
                let zone =
                    load_zone(name).map_err(|e| format!("provided bad location {name}: {e}"))?;
                (zone, fields.trim())
            }
            None => (TimeZone::UTC, spec),
        };
        if fields.is_empty() {
            return Err("empty spec string".into());
        }
        let fields = match fields {
            // robfig knows `@midnight`, croner does not; `@every` is a delay, not a pattern.
            "@midnight" => "0 0 * * *",
            f if f.starts_with("@every") => return Err(format!("unsupported spec: {f}")),
            f => f,
        };
        if !fields.starts_with('@') {
            check_standard_fields(fields)?;
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(fields)
            .map_err(|e| e.to_string())?;
        Ok(Self { cron, zone })
    }

    /// `mostRecentScheduleTime`: the latest schedule time in `(earliest, now]`, or `None` when
    /// the first one after `earliest` is still to come. An error means the schedule names no
    /// time at all (February 30th), which the controller reports as an invalid schedule.
    pub fn most_recent(
        &self,
        earliest: Timestamp,
        now: Timestamp,
    ) -> Result<Option<Timestamp>, String> {
        let first = self
            .cron
            .find_next_occurrence(&earliest.to_zoned(self.zone.clone()), false)
            .map_err(|e| e.to_string())?;
        if first.timestamp() > now {
            return Ok(None);
        }
        let last = self
            .cron
            .find_previous_occurrence(&now.to_zoned(self.zone.clone()), true)
            .map_err(|e| e.to_string())?;
        Ok(Some(last.timestamp()))
    }
}

/// What robfig's standard parser accepts field by field: numbers, `*`, `?`, lists, ranges and
/// steps, month and weekday names, weekdays 0 to 6.
fn check_standard_fields(fields: &str) -> Result<(), String> {
    let parts: Vec<&str> = fields.split_whitespace().collect();
    if parts.len() != 5 {
        return Err(format!(
            "expected exactly 5 fields, found {}: {fields}",
            parts.len()
        ));
    }
    for (index, part) in parts.iter().enumerate() {
        let names: &[&str] = match index {
            3 => MONTHS,
            4 => WEEKDAYS,
            _ => &[],
        };
        for token in part.split([',', '-', '/']) {
            let upper = token.to_ascii_uppercase();
            let ok = match token.parse::<u32>() {
                Ok(n) => index != 4 || n <= 6,
                Err(_) => token == "*" || token == "?" || names.contains(&upper.as_str()),
            };
            if !ok {
                return Err(format!("failed to parse field {part:?} of {fields:?}"));
            }
        }
    }
    Ok(())
}

/// A time as Go's `time.RFC3339` layout prints it in a zone: `Z` for a zero offset, else `±hh:mm`.
pub fn rfc3339_in(t: Timestamp, zone: &TimeZone) -> String {
    let zoned = t.to_zoned(zone.clone());
    if zoned.offset() == Offset::UTC {
        return t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    }
    zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
}
