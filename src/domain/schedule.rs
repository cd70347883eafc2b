//! Schedules in a guild's IANA time zone, exact across daylight saving changes.
//!
//! Rules (product §4): a 09:00 schedule fires at 09:00 local time on both sides of a change; a
//! wall-clock time that does not exist that day (spring forward) fires at the first valid instant
//! after the gap; a time that occurs twice (fall back) fires once, at its first occurrence.

use std::fmt;
use std::str::FromStr;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc,
    Weekday,
};
use chrono_tz::Tz;

/// When a job runs, in wall-clock terms of the guild's time zone.
#[derive(Clone, Debug, PartialEq)]
pub enum Schedule {
    /// On these weekdays at this local time.
    Weekly { days: Vec<Weekday>, time: NaiveTime },
    /// A 5-field crontab expression (minute hour day-of-month month day-of-week).
    Cron {
        expression: String,
        parsed: Box<cron::Schedule>,
    },
}

/// Why a schedule was refused, naming the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("`{0}` is not a time of day; use HH:MM, for example 09:00 or 18:30")]
    Time(String),
    #[error("`{0}` is not a weekday; use mon, tue, wed, thu, fri, sat, sun (comma-separated) or daily/weekdays")]
    Weekday(String),
    #[error("cron `{expression}`: {problem}. Use 5 fields: minute hour day-of-month month day-of-week, e.g. `0 9 * * MON`")]
    Cron { expression: String, problem: String },
}

impl Schedule {
    /// Weekday list (`mon,wed`, `daily`, `weekdays`, `weekends`) and `HH:MM`.
    pub fn weekly(days: &str, time: &str) -> Result<Self, ScheduleError> {
        let time = NaiveTime::parse_from_str(time.trim(), "%H:%M")
            .map_err(|_| ScheduleError::Time(time.to_owned()))?;
        let days = parse_days(days)?;
        Ok(Self::Weekly { days, time })
    }

    /// A schedule written in one line: `<days> <HH:MM>` (`thu 19:00`, `mon,wed 18:30`,
    /// `daily 09:00`) or `cron <5 fields>`.
    pub fn from_text(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Some(expression) = text.strip_prefix("cron ") {
            return Self::cron(expression).map_err(|e| e.to_string());
        }
        let (days, time) = text.rsplit_once(' ').ok_or_else(|| {
            format!("`{text}` is not a schedule like `thu 19:00`, `mon,wed 18:30` or `cron 0 19 * * 5`.")
        })?;
        Self::weekly(days, time).map_err(|e| e.to_string())
    }

    /// A 5-field crontab expression.
    pub fn cron(expression: &str) -> Result<Self, ScheduleError> {
        let fields: Vec<&str> = expression.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(ScheduleError::Cron {
                expression: expression.to_owned(),
                problem: format!("{} field(s) given", fields.len()),
            });
        }
        // The cron crate wants seconds first (and accepts a year last).
        let parsed =
            cron::Schedule::from_str(&format!("0 {}", fields.join(" "))).map_err(|err| {
                ScheduleError::Cron {
                    expression: expression.to_owned(),
                    problem: err.to_string(),
                }
            })?;
        Ok(Self::Cron {
            expression: fields.join(" "),
            parsed: Box::new(parsed),
        })
    }

    /// The first run strictly after `after`, or `None` if the schedule never fires again.
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let local_after = after.with_timezone(&tz).naive_local();
        // Wall-clock candidates from a little before `after`: a fall-back change can put the
        // next real instant at an earlier wall-clock time.
        let start = local_after - Duration::hours(3);
        self.wall_clock_times_after(start)
            .take(10_000)
            .map(|wall| resolve(wall, tz))
            .find(|instant| *instant > after)
    }

    /// Wall-clock times at which the schedule fires, strictly after `start`, in order.
    fn wall_clock_times_after(
        &self,
        start: NaiveDateTime,
    ) -> Box<dyn Iterator<Item = NaiveDateTime> + '_> {
        match self {
            Self::Weekly { days, time } => {
                let time = *time;
                let first = start.date();
                Box::new(
                    (0..)
                        .map_while(move |n| first.checked_add_signed(Duration::days(n)))
                        .filter(move |d| days.contains(&d.weekday()))
                        .map(move |d| d.and_time(time))
                        .filter(move |t| *t > start),
                )
            }
            // The cron crate iterates in a time zone; running it in UTC makes it iterate plain
            // wall-clock times, which `resolve` then maps to real instants.
            Self::Cron { parsed, .. } => Box::new(
                parsed
                    .after(&Utc.from_utc_datetime(&start))
                    .map(|t| t.naive_utc()),
            ),
        }
    }

    /// An RFC 5545 RRULE for calendar exports, where one exists.
    pub fn rrule(&self) -> Option<String> {
        match self {
            Self::Weekly { days, time } => {
                let byday: Vec<&str> = days.iter().map(|d| ical_day(*d)).collect();
                Some(format!(
                    "FREQ=WEEKLY;BYDAY={};BYHOUR={};BYMINUTE={}",
                    byday.join(","),
                    time.format("%-H"),
                    time.format("%-M")
                ))
            }
            Self::Cron { .. } => None,
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Weekly { days, time } => {
                let names: Vec<String> = days.iter().map(|d| format!("{d}")).collect();
                write!(f, "{} at {}", names.join(", "), time.format("%H:%M"))
            }
            Self::Cron { expression, .. } => write!(f, "cron `{expression}`"),
        }
    }
}

/// The date in `tz` of the instant `at` (unix seconds).
pub fn local_date(at: i64, tz: Tz) -> chrono::NaiveDate {
    DateTime::from_timestamp(at, 0)
        .unwrap_or_default()
        .with_timezone(&tz)
        .date_naive()
}

/// The instants (unix seconds) `[start, end)` of the days `from..=to` in `tz`: local midnight to
/// local midnight, whatever daylight saving does in between.
pub fn days_span(from: chrono::NaiveDate, to: chrono::NaiveDate, tz: Tz) -> (i64, i64) {
    let midnight = |day: chrono::NaiveDate| resolve(day.and_time(NaiveTime::MIN), tz).timestamp();
    (midnight(from), midnight(to + Duration::days(1)))
}

/// Maps a wall-clock time to the instant it denotes: the first occurrence when it happens
/// twice, the first valid instant after the gap when it does not exist.
pub fn resolve(wall: NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    match tz.from_local_datetime(&wall) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(first, second) => first.min(second).with_timezone(&Utc),
        LocalResult::None => {
            // Gaps are at most a few hours (30 minutes on Lord Howe Island); walk forward by the
            // minute to the first wall-clock time that exists.
            let mut probe = wall;
            for _ in 0..(24 * 60) {
                probe += Duration::minutes(1);
                let probe_start = probe.with_second(0).unwrap_or(probe);
                if let Some(t) = tz.from_local_datetime(&probe_start).earliest() {
                    return t.with_timezone(&Utc);
                }
            }
            // No time zone has a day-long gap; fall back to reading the time as UTC.
            Utc.from_utc_datetime(&wall)
        }
    }
}

fn parse_days(text: &str) -> Result<Vec<Weekday>, ScheduleError> {
    use Weekday::*;
    let text = text.trim().to_lowercase();
    let days = match text.as_str() {
        "daily" | "every day" | "everyday" => vec![Mon, Tue, Wed, Thu, Fri, Sat, Sun],
        "weekdays" => vec![Mon, Tue, Wed, Thu, Fri],
        "weekends" => vec![Sat, Sun],
        _ => {
            let mut days = Vec::new();
            for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let day =
                    Weekday::from_str(part).map_err(|_| ScheduleError::Weekday(part.to_owned()))?;
                if !days.contains(&day) {
                    days.push(day);
                }
            }
            if days.is_empty() {
                return Err(ScheduleError::Weekday(text.clone()));
            }
            days.sort_by_key(Weekday::num_days_from_monday);
            days
        }
    };
    Ok(days)
}

fn ical_day(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "MO",
        Weekday::Tue => "TU",
        Weekday::Wed => "WE",
        Weekday::Thu => "TH",
        Weekday::Fri => "FR",
        Weekday::Sat => "SA",
        Weekday::Sun => "SU",
    }
}

/// What to do with runs missed while the bot was down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CatchUp {
    /// Missed runs are skipped.
    Skip,
    /// The latest missed run is posted once if it is at most this late.
    LateWithin(Duration),
}

impl Default for CatchUp {
    fn default() -> Self {
        Self::LateWithin(Duration::hours(1))
    }
}

/// The decision for a job found due at `now` whose run was scheduled at `due`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunDecision {
    /// Post now (on time, or late within the policy).
    Post { late_by: Duration },
    /// Too late under the policy: skip this run.
    Skip { late_by: Duration },
}

/// How late a run may be and still count as "on time" (scheduler wake-up jitter).
pub const ON_TIME: Duration = Duration::seconds(60);

/// Decides a due run. Runs are never posted twice: the caller records the next run in the same
/// transaction that claims this one.
pub fn decide_run(due: DateTime<Utc>, now: DateTime<Utc>, policy: CatchUp) -> RunDecision {
    let late_by = (now - due).max(Duration::zero());
    if late_by <= ON_TIME {
        return RunDecision::Post { late_by };
    }
    match policy {
        CatchUp::Skip => RunDecision::Skip { late_by },
        CatchUp::LateWithin(limit) if late_by <= limit => RunDecision::Post { late_by },
        CatchUp::LateWithin(_) => RunDecision::Skip { late_by },
    }
}

/// The longest catch-up accepted: a post more than a month late is stale, and a cap keeps the
/// arithmetic far from `Duration`'s limits (it panics beyond about 292 million years).
pub const MAX_CATCH_UP_DAYS: u64 = 30;

/// Parses a catch-up policy: `skip`, or a duration such as `90m`, `2h`, `1d` (at most 30 days).
pub fn parse_catch_up(text: &str) -> Result<CatchUp, String> {
    let text = text.trim().to_lowercase();
    if text == "skip" {
        return Ok(CatchUp::Skip);
    }
    let not_a_policy = || format!("`{text}` is not `skip` or a duration like 30m, 2h, 1d");
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    if number.is_empty() {
        return Err(not_a_policy());
    }
    let seconds_per_unit: u64 = match unit.trim() {
        "m" | "min" | "minutes" => 60,
        "h" | "hours" => 3600,
        "d" | "days" => 86_400,
        _ => return Err(not_a_policy()),
    };
    let max_seconds = MAX_CATCH_UP_DAYS * 86_400;
    // Digits only, so a parse failure is an overflow: too long either way.
    let seconds = number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(seconds_per_unit))
        .filter(|s| *s <= max_seconds)
        .ok_or_else(|| {
            format!(
                "`{text}` is longer than {MAX_CATCH_UP_DAYS}d, the most a missed run may be late; use `skip` or a duration up to {MAX_CATCH_UP_DAYS}d"
            )
        })?;
    let seconds = i64::try_from(seconds).map_err(|_| not_a_policy())?;
    Ok(CatchUp::LateWithin(Duration::seconds(seconds)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_in_berlin_spans_its_local_midnights_even_when_it_is_23_hours_long() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let day = chrono::NaiveDate::from_ymd_opt(2027, 3, 28).unwrap();
        let (start, end) = days_span(day, day, berlin);
        assert_eq!(end - start, 23 * 3600);
        assert_eq!(local_date(start, berlin), day);
        assert_eq!(local_date(end - 1, berlin), day);
        assert_eq!(local_date(end, berlin), day + Duration::days(1));
    }
    use chrono_tz::{America::New_York, Australia::Lord_Howe, Europe::Berlin};

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn local(t: DateTime<Utc>, tz: Tz) -> String {
        t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string()
    }

    fn runs(schedule: &Schedule, from: &str, tz: Tz, n: usize) -> Vec<String> {
        let mut at = utc(from);
        let mut out = Vec::new();
        for _ in 0..n {
            at = schedule.next_after(at, tz).unwrap();
            out.push(local(at, tz));
        }
        out
    }

    #[test]
    fn nine_oclock_berlin_stays_nine_oclock_across_both_changes() {
        let daily = Schedule::weekly("daily", "09:00").unwrap();
        // Spring forward: 2026-03-29.
        assert_eq!(
            runs(&daily, "2026-03-27T12:00:00Z", Berlin, 3),
            [
                "2026-03-28 09:00 CET",
                "2026-03-29 09:00 CEST",
                "2026-03-30 09:00 CEST"
            ]
        );
        // Fall back: 2026-10-25.
        assert_eq!(
            runs(&daily, "2026-10-23T12:00:00Z", Berlin, 3),
            [
                "2026-10-24 09:00 CEST",
                "2026-10-25 09:00 CET",
                "2026-10-26 09:00 CET"
            ]
        );
    }

    #[test]
    fn a_time_in_the_spring_gap_fires_at_the_first_valid_instant_after_it() {
        let daily = Schedule::weekly("daily", "02:30").unwrap();
        assert_eq!(
            runs(&daily, "2026-03-28T12:00:00Z", Berlin, 2),
            ["2026-03-29 03:00 CEST", "2026-03-30 02:30 CEST"]
        );
        assert_eq!(
            runs(&daily, "2026-03-07T12:00:00Z", New_York, 2),
            ["2026-03-08 03:00 EDT", "2026-03-09 02:30 EDT"]
        );
    }

    #[test]
    fn a_time_that_happens_twice_fires_once() {
        let daily = Schedule::weekly("daily", "02:30").unwrap();
        assert_eq!(
            runs(&daily, "2026-10-24T12:00:00Z", Berlin, 2),
            ["2026-10-25 02:30 CEST", "2026-10-26 02:30 CET"]
        );
        let daily = Schedule::weekly("daily", "01:30").unwrap();
        assert_eq!(
            runs(&daily, "2026-10-31T12:00:00Z", New_York, 2),
            ["2026-11-01 01:30 EDT", "2026-11-02 01:30 EST"]
        );
    }

    #[test]
    fn lord_howe_half_hour_changes() {
        // Lord Howe: +10:30 standard, +11 in summer; DST starts 2026-10-04 02:00 → 02:30 and
        // ends 2026-04-05 02:00 → 01:30.
        let daily = Schedule::weekly("daily", "02:15").unwrap();
        assert_eq!(
            runs(&daily, "2026-10-02T12:00:00Z", Lord_Howe, 3),
            [
                "2026-10-03 02:15 +1030",
                "2026-10-04 02:30 +11",
                "2026-10-05 02:15 +11"
            ]
        );
        let daily = Schedule::weekly("daily", "01:45").unwrap();
        assert_eq!(
            runs(&daily, "2026-04-03T12:00:00Z", Lord_Howe, 3),
            [
                "2026-04-04 01:45 +11",
                "2026-04-05 01:45 +11",
                "2026-04-06 01:45 +1030"
            ]
        );
    }

    #[test]
    fn cron_schedules_follow_the_same_rules() {
        let monday = Schedule::cron("0 9 * * MON").unwrap();
        assert_eq!(
            runs(&monday, "2026-03-25T00:00:00Z", Berlin, 2),
            ["2026-03-30 09:00 CEST", "2026-04-06 09:00 CEST"]
        );
        let gap = Schedule::cron("30 2 * * *").unwrap();
        assert_eq!(
            runs(&gap, "2026-03-28T12:00:00Z", Berlin, 1),
            ["2026-03-29 03:00 CEST"]
        );
        let twice = Schedule::cron("30 2 * * *").unwrap();
        assert_eq!(
            runs(&twice, "2026-10-24T12:00:00Z", Berlin, 2),
            ["2026-10-25 02:30 CEST", "2026-10-26 02:30 CET"]
        );
    }

    #[test]
    fn leap_days_and_month_ends() {
        let leap = Schedule::cron("0 12 29 2 *").unwrap();
        assert_eq!(
            runs(&leap, "2026-01-01T00:00:00Z", Berlin, 1),
            ["2028-02-29 12:00 CET"]
        );
        let month_end = Schedule::cron("0 8 31 * *").unwrap();
        assert_eq!(
            runs(&month_end, "2026-04-01T00:00:00Z", Berlin, 2),
            ["2026-05-31 08:00 CEST", "2026-07-31 08:00 CEST"]
        );
        let first = Schedule::cron("0 10 1 * *").unwrap();
        assert_eq!(
            runs(&first, "2026-12-15T00:00:00Z", New_York, 1),
            ["2027-01-01 10:00 EST"]
        );
    }

    #[test]
    fn bad_input_names_the_field() {
        assert_eq!(
            Schedule::weekly("mon", "25:00").unwrap_err(),
            ScheduleError::Time("25:00".into())
        );
        assert_eq!(
            Schedule::weekly("funday", "09:00").unwrap_err(),
            ScheduleError::Weekday("funday".into())
        );
        assert!(matches!(
            Schedule::cron("0 9 * *"),
            Err(ScheduleError::Cron { .. })
        ));
        assert!(matches!(
            Schedule::cron("0 25 * * *"),
            Err(ScheduleError::Cron { .. })
        ));
    }

    #[test]
    fn weekly_rrule() {
        let s = Schedule::weekly("fri, mon", "09:05").unwrap();
        assert_eq!(
            s.rrule().unwrap(),
            "FREQ=WEEKLY;BYDAY=MO,FR;BYHOUR=9;BYMINUTE=5"
        );
        assert_eq!(s.to_string(), "Mon, Fri at 09:05");
    }

    #[test]
    fn catch_up_policy() {
        let due = utc("2026-05-01T09:00:00Z");
        let hour = CatchUp::LateWithin(Duration::hours(1));
        assert!(matches!(
            decide_run(due, due + Duration::seconds(5), CatchUp::Skip),
            RunDecision::Post { .. }
        ));
        assert!(matches!(
            decide_run(due, due + Duration::minutes(30), CatchUp::Skip),
            RunDecision::Skip { .. }
        ));
        assert!(matches!(
            decide_run(due, due + Duration::minutes(30), hour),
            RunDecision::Post { .. }
        ));
        assert!(matches!(
            decide_run(due, due + Duration::minutes(90), hour),
            RunDecision::Skip { .. }
        ));
        assert_eq!(parse_catch_up("skip").unwrap(), CatchUp::Skip);
        assert_eq!(
            parse_catch_up("90m").unwrap(),
            CatchUp::LateWithin(Duration::minutes(90))
        );
        assert_eq!(
            parse_catch_up("2h").unwrap(),
            CatchUp::LateWithin(Duration::hours(2))
        );
        assert!(parse_catch_up("soon").is_err());
    }

    #[test]
    fn catch_up_durations_are_bounded_and_never_overflow() {
        assert_eq!(
            parse_catch_up("30d").unwrap(),
            CatchUp::LateWithin(Duration::days(30))
        );
        assert_eq!(
            parse_catch_up("43200m").unwrap(),
            CatchUp::LateWithin(Duration::days(30))
        );
        assert_eq!(
            parse_catch_up("0m").unwrap(),
            CatchUp::LateWithin(Duration::zero())
        );
        // Each of these panicked or wrapped before (issue 23, item 14).
        for text in [
            "31d",
            "43201m",
            "200000000000d",
            "9223372036854775807m",
            "99999999999999999999999999h",
        ] {
            let err = parse_catch_up(text).unwrap_err();
            assert!(err.contains("longer than 30d"), "{text}: {err}");
            assert!(err.contains("skip"), "{text}: {err}");
        }
        for text in ["d", "", "-5m", "5 weeks", "1.5h"] {
            let err = parse_catch_up(text).unwrap_err();
            assert!(err.contains("not `skip` or a duration"), "{text:?}: {err}");
        }
    }
}
