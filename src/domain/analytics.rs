//! Community health metrics, exactly as product.md §6 defines them. Pure: the store hands over
//! activity as (member, instant) pairs and join/leave/first-message instants; days are calendar
//! days in the guild's time zone.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;

/// Retention windows (product §6): a member is retained at 30 (90) days if active on a day
/// 30-59 (90-119) days after their join day; first and last day after it.
pub const RETAINED_30: (i64, i64) = (30, 59);
pub const RETAINED_90: (i64, i64) = (90, 119);

/// Raw records, for [`report`]: the definitions applied to every record, as they read in
/// product.md. The store computes the same figures from materialised counts ([`Counts`],
/// [`assemble`]); tests hold the two equal.
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    /// (member, when) of every activity, all of it: WAU/MAU look back before `from`, and the
    /// first record bounds what Hearth observed (retention windows, joins known from Discord).
    pub activity: Vec<(u64, DateTime<Utc>)>,
    /// Message instants (non-bot, not opted out) in the range.
    pub messages: Vec<DateTime<Utc>>,
    /// Join events (member, when); for a member with no join known at all (imported history:
    /// neither an event nor a time in `known_joins`), first activity. All of them: the cohorts
    /// a range lists reach outside it.
    pub joins: Vec<(u64, DateTime<Utc>)>,
    /// Join times Discord reported on member objects (`joined_at`), not join events: members who
    /// were there before Hearth (issue 22). See `observed_joins` for what they count in.
    pub known_joins: Vec<(u64, DateTime<Utc>)>,
    pub leaves: Vec<DateTime<Utc>>,
    /// First message instant per member.
    pub first_messages: HashMap<u64, DateTime<Utc>>,
    /// Activity count per member within the range.
    pub activity_counts: HashMap<u64, u64>,
}

/// Active members and messages of one day, as materialised.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DayFigures {
    pub dau: usize,
    pub wau: usize,
    pub mau: usize,
    pub messages: usize,
}

/// Active members per local day.
type ActiveByDay = BTreeMap<NaiveDate, HashSet<u64>>;

/// DAU, WAU and MAU of `d` (§6) from the active members of `d - 29..=d`.
fn window_counts(active: &ActiveByDay, d: NaiveDate) -> (usize, usize, usize) {
    (
        distinct_between(active, d, d),
        distinct_between(active, d - Duration::days(6), d),
        distinct_between(active, d - Duration::days(29), d),
    )
}

/// One day of the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Daily {
    pub date: NaiveDate,
    pub dau: usize,
    pub wau: usize,
    pub mau: usize,
    pub messages: usize,
    pub joins: usize,
    pub leaves: usize,
}

impl Daily {
    fn of(date: NaiveDate, figures: DayFigures, joins: usize, leaves: usize) -> Self {
        Self {
            date,
            dau: figures.dau,
            wau: figures.wau,
            mau: figures.mau,
            messages: figures.messages,
            joins,
            leaves,
        }
    }
}

/// Retention of one join cohort.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cohort {
    pub cohort: String,
    pub size: usize,
    pub d30: Option<f64>,
    pub d90: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Activation {
    pub joined: usize,
    pub activated: usize,
    pub rate: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Contributor {
    pub user_id: String,
    pub activity: u64,
}

/// The report of `hearth report --format json` (product §6, exact schema).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub guild_id: String,
    pub timezone: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub daily: Vec<Daily>,
    pub retention: Vec<Cohort>,
    pub activation: Activation,
    pub top_contributors: Vec<Contributor>,
}

impl Report {
    /// Distinct active members over the whole period, when the daily figures already hold it:
    /// the last day's DAU, WAU or MAU for a period of 1, 7 or 30 days.
    pub fn active_over_period(&self) -> Option<usize> {
        let last = self.daily.last().filter(|d| d.date == self.to)?;
        match (self.to - self.from).num_days() + 1 {
            1 => Some(last.dau),
            7 => Some(last.wau),
            30 => Some(last.mau),
            _ => None,
        }
    }
}

/// How cohorts are grouped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CohortPeriod {
    Month,
    IsoWeek,
}

fn day(t: DateTime<Utc>, tz: Tz) -> NaiveDate {
    t.with_timezone(&tz).date_naive()
}

/// Computes the report for `from..=to` (inclusive days in `tz`).
pub fn report(
    guild_id: u64,
    tz: Tz,
    from: NaiveDate,
    to: NaiveDate,
    inputs: &Inputs,
    period: CohortPeriod,
) -> Report {
    let mut active = ActiveByDay::new();
    for (user, at) in &inputs.activity {
        active.entry(day(*at, tz)).or_default().insert(*user);
    }
    let count_by_day = |instants: &mut dyn Iterator<Item = DateTime<Utc>>| {
        let mut counts: HashMap<NaiveDate, usize> = HashMap::new();
        for t in instants {
            *counts.entry(day(t, tz)).or_default() += 1;
        }
        counts
    };
    let messages = count_by_day(&mut inputs.messages.iter().copied());
    let first_joins = first_joins(&inputs.joins, &inputs.known_joins);
    let observed = observed_joins(&inputs.activity, &inputs.joins, &first_joins);
    let joins = count_by_day(&mut observed.iter().map(|(_, t)| *t));
    let leaves = count_by_day(&mut inputs.leaves.iter().copied());

    let daily = days(from, to)
        .map(|d| {
            let (dau, wau, mau) = window_counts(&active, d);
            let figures = DayFigures {
                dau,
                wau,
                mau,
                messages: messages.get(&d).copied().unwrap_or(0),
            };
            Daily::of(
                d,
                figures,
                joins.get(&d).copied().unwrap_or(0),
                leaves.get(&d).copied().unwrap_or(0),
            )
        })
        .collect();

    Report {
        guild_id: guild_id.to_string(),
        timezone: tz.name().to_owned(),
        from,
        to,
        daily,
        retention: retention(&active, &inputs.joins, &first_joins, tz, from, to, period),
        activation: activation(&observed, &inputs.first_messages, tz, from, to),
        top_contributors: top_contributors(&inputs.activity_counts, 10),
    }
}

/// What the store hands a report: counts, not records. [`assemble`] turns them into the same
/// [`Report`] as [`report`] computes from every raw record (`tests/rollup.rs` holds the two
/// equal on a store with materialised, live and rebuilt days).
#[derive(Clone, Debug, Default)]
pub struct Counts {
    /// Figures of the days of the range; a day missing here had no activity.
    pub days: HashMap<NaiveDate, DayFigures>,
    /// Joins per finished day (as `observed_joins`: join events, first joins known from
    /// Discord that came after the guild's first record, and first activity where no join is
    /// known).
    pub joins_by_day: HashMap<NaiveDate, usize>,
    /// The same as instants, for days not finished.
    pub joins: Vec<DateTime<Utc>>,
    pub leaves: Vec<DateTime<Utc>>,
    /// Retention counts per join day, for members whose first join (a join time known from
    /// Discord included, however early) is in a cohort period that intersects the range (see
    /// [`cohort_days`]).
    pub join_days: Vec<JoinDayCounts>,
    /// The first day with a record in the store (activity or a join event): a retention window
    /// that starts before it was not observed (members who joined before Hearth came, issue 22).
    pub observed_since: Option<NaiveDate>,
    /// Joins (as `joins_by_day`) up to 7 days before the end of the range, and those followed
    /// by a first message within 7 days.
    pub activation: (usize, usize),
    /// Activity per member in the range: at least everyone who can make the top 10.
    pub activity_counts: HashMap<u64, u64>,
}

/// Members whose cohort day is `day`, and how many were active in days 30-59 and 90-119 after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JoinDayCounts {
    pub day: NaiveDate,
    pub size: usize,
    pub retained_30: usize,
    pub retained_90: usize,
}

/// The report for `from..=to` from counts (see [`Counts`]).
pub fn assemble(
    guild_id: u64,
    tz: Tz,
    from: NaiveDate,
    to: NaiveDate,
    counts: &Counts,
    period: CohortPeriod,
) -> Report {
    let by_day = |instants: &[DateTime<Utc>]| {
        let mut per_day: HashMap<NaiveDate, usize> = HashMap::new();
        for t in instants {
            *per_day.entry(day(*t, tz)).or_default() += 1;
        }
        per_day
    };
    let (joins, leaves) = (by_day(&counts.joins), by_day(&counts.leaves));
    let daily = days(from, to)
        .map(|d| {
            let figures = counts.days.get(&d).copied().unwrap_or_default();
            Daily::of(
                d,
                figures,
                joins.get(&d).copied().unwrap_or(0)
                    + counts.joins_by_day.get(&d).copied().unwrap_or(0),
                leaves.get(&d).copied().unwrap_or(0),
            )
        })
        .collect();
    let (joined, activated) = counts.activation;
    Report {
        guild_id: guild_id.to_string(),
        timezone: tz.name().to_owned(),
        from,
        to,
        daily,
        retention: retention_of(&counts.join_days, from, to, period, counts.observed_since),
        activation: Activation {
            joined,
            activated,
            rate: (joined > 0).then(|| activated as f64 / joined as f64),
        },
        top_contributors: top_contributors(&counts.activity_counts, 10),
    }
}

/// Retention of the cohorts that intersect `from..=to` from per-join-day counts, with
/// [`retention`]'s rule for windows that have not ended by `to`.
fn retention_of(
    join_days: &[JoinDayCounts],
    from: NaiveDate,
    to: NaiveDate,
    period: CohortPeriod,
    observed_since: Option<NaiveDate>,
) -> Vec<Cohort> {
    let mut cohorts: BTreeMap<String, (NaiveDate, usize, usize, usize)> = BTreeMap::new();
    let (first, last) = cohort_days(from, to, period);
    for j in join_days.iter().filter(|j| j.day >= first && j.day <= last) {
        let entry = cohorts.entry(cohort_key(j.day, period)).or_insert((
            cohort_end(j.day, period),
            0,
            0,
            0,
        ));
        entry.1 += j.size;
        entry.2 += j.retained_30;
        entry.3 += j.retained_90;
    }
    let share = |retained: usize, size: usize, (start, end): (i64, i64), period_end: NaiveDate| {
        (period_end + Duration::days(end) <= to
            && observed(period_end, period, start, observed_since)
            && size > 0)
            .then(|| retained as f64 / size as f64)
    };
    cohorts
        .into_iter()
        .map(|(key, (end, size, r30, r90))| Cohort {
            cohort: key,
            size,
            d30: share(r30, size, RETAINED_30, end),
            d90: share(r90, size, RETAINED_90, end),
        })
        .collect()
}

/// Whether a cohort's window (`start` days after each join) was observed: it may not begin
/// before the first day with a record (activity or join event), for any member of the period that
/// ends on `period_end`. A cohort of members who joined before Hearth came has no figure for
/// windows Hearth could not see ("not measured", not 0%).
fn observed(
    period_end: NaiveDate,
    period: CohortPeriod,
    start: i64,
    observed_since: Option<NaiveDate>,
) -> bool {
    observed_since
        .is_some_and(|first| cohort_start(period_end, period) + Duration::days(start) >= first)
}

/// A date as a day number (days since 1970-01-01), the form materialised days are stored in.
pub fn day_number(d: NaiveDate) -> i64 {
    (d - NaiveDate::default()).num_days()
}

/// The inverse of [`day_number`].
pub fn date_of(day_number: i64) -> NaiveDate {
    NaiveDate::default() + Duration::days(day_number)
}

/// Every day from `from` to `to` inclusive.
pub fn days(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    from.iter_days().take_while(move |d| *d <= to)
}

fn distinct_between(active: &ActiveByDay, first: NaiveDate, last: NaiveDate) -> usize {
    let mut users: HashSet<u64> = HashSet::new();
    for (_, set) in active.range(first..=last) {
        users.extend(set.iter().copied());
    }
    users.len()
}

/// The cohort key of a join day: `YYYY-MM` or ISO `YYYY-Www`.
pub fn cohort_key(d: NaiveDate, period: CohortPeriod) -> String {
    match period {
        CohortPeriod::Month => format!("{:04}-{:02}", d.year(), d.month()),
        CohortPeriod::IsoWeek => {
            let w = d.iso_week();
            format!("{:04}-W{:02}", w.year(), w.week())
        }
    }
}

/// The first day of the cohort period containing `d`.
fn cohort_start(d: NaiveDate, period: CohortPeriod) -> NaiveDate {
    match period {
        CohortPeriod::Month => d.with_day(1).unwrap_or(d),
        CohortPeriod::IsoWeek => d - Duration::days(i64::from(d.weekday().num_days_from_monday())),
    }
}

/// The join days whose cohorts a report of `from..=to` lists: every cohort period that
/// intersects the range, whole (product §6: a cohort belongs to the member, not to the range).
pub fn cohort_days(from: NaiveDate, to: NaiveDate, period: CohortPeriod) -> (NaiveDate, NaiveDate) {
    (cohort_start(from, period), cohort_end(to, period))
}

/// The last day of the cohort period containing `d`.
fn cohort_end(d: NaiveDate, period: CohortPeriod) -> NaiveDate {
    match period {
        CohortPeriod::Month => {
            let (y, m) = if d.month() == 12 {
                (d.year() + 1, 1)
            } else {
                (d.year(), d.month() + 1)
            };
            NaiveDate::from_ymd_opt(y, m, 1).map_or(d, |first| first - Duration::days(1))
        }
        CohortPeriod::IsoWeek => {
            d + Duration::days(6 - i64::from(d.weekday().num_days_from_monday()))
        }
    }
}

/// Each member's first join: the earliest of their join events and the join times Discord
/// reported (or, in `joins`, their first activity when neither is known).
fn first_joins(
    joins: &[(u64, DateTime<Utc>)],
    known_joins: &[(u64, DateTime<Utc>)],
) -> HashMap<u64, DateTime<Utc>> {
    let mut first: HashMap<u64, DateTime<Utc>> = HashMap::new();
    for (user, at) in joins.iter().chain(known_joins) {
        first
            .entry(*user)
            .and_modify(|e| *e = (*e).min(*at))
            .or_insert(*at);
    }
    first
}

/// The joins a report counts (new members per day, activation): every join event (and first
/// activity where no join is known), and each member's first join known from Discord if it
/// came after the guild's first record (activity or join event). A join before that was not
/// observed: the member was there before Hearth, and their first messages are unknown to it
/// (issue 22); they still belong to the cohort of their real join ([`retention`]). Times are
/// whole seconds, and a member who was there before Hearth can have joined in the second of
/// its first record: a join in that second counts only as a join event.
fn observed_joins(
    activity: &[(u64, DateTime<Utc>)],
    joins: &[(u64, DateTime<Utc>)],
    first_joins: &HashMap<u64, DateTime<Utc>>,
) -> BTreeSet<(u64, DateTime<Utc>)> {
    let first_record = activity.iter().chain(joins).map(|(_, at)| *at).min();
    let mut observed: BTreeSet<(u64, DateTime<Utc>)> = joins.iter().copied().collect();
    observed.extend(
        first_joins
            .iter()
            .filter(|(_, at)| first_record.is_some_and(|first| **at > first))
            .map(|(user, at)| (*user, *at)),
    );
    observed
}

fn retention(
    active: &ActiveByDay,
    joins: &[(u64, DateTime<Utc>)],
    first_joins: &HashMap<u64, DateTime<Utc>>,
    tz: Tz,
    from: NaiveDate,
    to: NaiveDate,
    period: CohortPeriod,
) -> Vec<Cohort> {
    // A member's cohort is their first join (a rejoin does not start a new life), also when
    // it came before Hearth.
    let first_join: HashMap<u64, NaiveDate> = first_joins
        .iter()
        .map(|(user, at)| (*user, day(*at, tz)))
        .collect();
    let mut cohorts: BTreeMap<String, (NaiveDate, Vec<(u64, NaiveDate)>)> = BTreeMap::new();
    // Every cohort period that intersects the range, with all of its members.
    let intersects = |d: NaiveDate| cohort_start(d, period) <= to && cohort_end(d, period) >= from;
    for (user, d) in first_join.into_iter().filter(|(_, d)| intersects(*d)) {
        let entry = cohorts
            .entry(cohort_key(d, period))
            .or_insert((cohort_end(d, period), Vec::new()));
        entry.1.push((user, d));
    }
    // Hearth observed from its first record: an activity or a join event.
    let observed_since = active
        .keys()
        .next()
        .copied()
        .into_iter()
        .chain(joins.iter().map(|(_, at)| day(*at, tz)))
        .min();
    let share = |members: &[(u64, NaiveDate)],
                 (start, end): (i64, i64),
                 period_end: NaiveDate|
     -> Option<f64> {
        // Null while the window of the cohort's last possible member has not ended by `to`,
        // and where it began before any activity was recorded.
        if period_end + Duration::days(end) > to
            || !observed(period_end, period, start, observed_since)
            || members.is_empty()
        {
            return None;
        }
        let retained = members
            .iter()
            .filter(|(user, joined)| {
                active
                    .range(*joined + Duration::days(start)..=*joined + Duration::days(end))
                    .any(|(_, set)| set.contains(user))
            })
            .count();
        Some(retained as f64 / members.len() as f64)
    };
    cohorts
        .into_iter()
        .map(|(key, (end, members))| Cohort {
            cohort: key,
            size: members.len(),
            d30: share(&members, RETAINED_30, end),
            d90: share(&members, RETAINED_90, end),
        })
        .collect()
}

/// Activation of the `joins` (`observed_joins`) in `from..=to - 7 days`.
fn activation(
    joins: &BTreeSet<(u64, DateTime<Utc>)>,
    first_messages: &HashMap<u64, DateTime<Utc>>,
    tz: Tz,
    from: NaiveDate,
    to: NaiveDate,
) -> Activation {
    let cutoff = to - Duration::days(7);
    let joined: Vec<&(u64, DateTime<Utc>)> = joins
        .iter()
        .filter(|(_, at)| {
            let d = day(*at, tz);
            d >= from && d <= cutoff
        })
        .collect();
    let activated = joined
        .iter()
        .filter(|(user, at)| {
            first_messages
                .get(user)
                .is_some_and(|first| *first >= *at && *first - *at <= Duration::days(7))
        })
        .count();
    Activation {
        joined: joined.len(),
        activated,
        rate: (!joined.is_empty()).then(|| activated as f64 / joined.len() as f64),
    }
}

fn top_contributors(counts: &HashMap<u64, u64>, n: usize) -> Vec<Contributor> {
    let mut ranked: Vec<(u64, u64)> = counts.iter().map(|(u, c)| (*u, *c)).collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked
        .into_iter()
        .take(n)
        .map(|(user, activity)| Contributor {
            user_id: user.to_string(),
            activity,
        })
        .collect()
}

/// How conversations go (product §6): replies per post, who starts threads, how fast
/// newcomers hear back.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Conversations {
    /// Replies (message replies and thread messages) per top-level message.
    pub replies_per_post: Option<f64>,
    /// Share of threads and forum posts started by non-managers.
    pub member_initiated: Option<f64>,
    /// Median seconds from a newcomer's first message to its first reply.
    pub median_first_reply_secs: Option<i64>,
    /// Newcomers whose first message got no reply (yet).
    pub unanswered_newcomers: usize,
}

/// Computes [`Conversations`] from counts and per-newcomer reply delays (`None`: no reply).
pub fn conversations(
    replies: u64,
    top_level: u64,
    threads: u64,
    threads_by_managers: u64,
    first_reply_delays: &[Option<i64>],
) -> Conversations {
    let mut delays: Vec<i64> = first_reply_delays.iter().flatten().copied().collect();
    delays.sort_unstable();
    let median = match delays.len() {
        0 => None,
        n if n % 2 == 1 => Some(delays[n / 2]),
        n => Some((delays[n / 2 - 1] + delays[n / 2]) / 2),
    };
    Conversations {
        replies_per_post: (top_level > 0).then(|| replies as f64 / top_level as f64),
        member_initiated: (threads > 0)
            .then(|| threads.saturating_sub(threads_by_managers) as f64 / threads as f64),
        median_first_reply_secs: median,
        unanswered_newcomers: first_reply_delays.iter().filter(|d| d.is_none()).count(),
    }
}

/// A member whose messages draw many replies and reactions (manager-only view).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QuietExpert {
    pub user_id: u64,
    pub messages: u64,
    pub responses: u64,
}

impl QuietExpert {
    pub fn per_message(&self) -> f64 {
        if self.messages == 0 {
            0.0
        } else {
            self.responses as f64 / self.messages as f64
        }
    }
}

/// Ranks members with at least `min_messages` by responses per message.
pub fn quiet_experts(
    mut candidates: Vec<QuietExpert>,
    min_messages: u64,
    n: usize,
) -> Vec<QuietExpert> {
    candidates.retain(|c| c.messages >= min_messages && c.responses > 0);
    candidates.sort_by(|a, b| {
        b.per_message()
            .total_cmp(&a.per_message())
            .then(b.messages.cmp(&a.messages))
            .then(a.user_id.cmp(&b.user_id))
    });
    candidates.truncate(n);
    candidates
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono_tz::{Europe::Berlin, UTC};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn dau_wau_mau_by_hand() {
        // Member 1 active on Jan 1 and Jan 8; member 2 on Jan 8; member 3 on Jan 31.
        let inputs = Inputs {
            activity: vec![
                (1, at("2026-01-01T10:00:00Z")),
                (1, at("2026-01-08T10:00:00Z")),
                (2, at("2026-01-08T11:00:00Z")),
                (3, at("2026-01-31T11:00:00Z")),
            ],
            ..Inputs::default()
        };
        let r = report(
            9,
            UTC,
            date("2026-01-01"),
            date("2026-01-31"),
            &inputs,
            CohortPeriod::Month,
        );
        assert_eq!(r.daily.len(), 31, "every day has a row");
        let d = |s: &str| r.daily.iter().find(|x| x.date == date(s)).unwrap();
        assert_eq!(
            (
                d("2026-01-01").dau,
                d("2026-01-01").wau,
                d("2026-01-01").mau
            ),
            (1, 1, 1)
        );
        assert_eq!(
            (d("2026-01-07").dau, d("2026-01-07").wau),
            (0, 1),
            "Jan 1 is within d-6..d"
        );
        assert_eq!(
            (d("2026-01-08").dau, d("2026-01-08").wau),
            (2, 2),
            "Jan 1 is outside d-6..d, member 1 came back"
        );
        assert_eq!(d("2026-01-14").wau, 2);
        assert_eq!(d("2026-01-15").wau, 0);
        assert_eq!(d("2026-01-30").mau, 2, "d-29 = Jan 1");
        assert_eq!(
            d("2026-01-31").mau,
            3,
            "Jan 1 drops out, member 1 still counted from Jan 8"
        );
        for day in &r.daily {
            assert!(day.dau <= day.wau && day.wau <= day.mau);
        }
    }

    #[test]
    fn days_are_calendar_days_in_the_guild_time_zone() {
        // 23:30 UTC on Mar 1 is 00:30 on Mar 2 in Berlin.
        let inputs = Inputs {
            activity: vec![(1, at("2026-03-01T23:30:00Z"))],
            messages: vec![at("2026-03-01T23:30:00Z")],
            ..Inputs::default()
        };
        let berlin = report(
            9,
            Berlin,
            date("2026-03-01"),
            date("2026-03-02"),
            &inputs,
            CohortPeriod::Month,
        );
        assert_eq!((berlin.daily[0].dau, berlin.daily[1].dau), (0, 1));
        assert_eq!((berlin.daily[0].messages, berlin.daily[1].messages), (0, 1));
        let utc = report(
            9,
            UTC,
            date("2026-03-01"),
            date("2026-03-02"),
            &inputs,
            CohortPeriod::Month,
        );
        assert_eq!((utc.daily[0].dau, utc.daily[1].dau), (1, 0));
    }

    #[test]
    fn retention_windows_and_unelapsed_cohorts() {
        // January cohort: members 1 and 2 join Jan 10; member 1 is active on day 30 (Feb 9),
        // member 2 on day 29 (Feb 8, outside the window) and day 95 (Apr 15).
        let joins = vec![
            (1, at("2026-01-10T12:00:00Z")),
            (2, at("2026-01-10T12:00:00Z")),
            (3, at("2026-03-05T12:00:00Z")),
        ];
        let activity = vec![
            (1, at("2026-02-09T12:00:00Z")),
            (2, at("2026-02-08T12:00:00Z")),
            (2, at("2026-04-15T12:00:00Z")),
        ];
        let inputs = Inputs {
            activity,
            joins,
            ..Inputs::default()
        };
        let r = report(
            9,
            UTC,
            date("2026-01-01"),
            date("2026-06-30"),
            &inputs,
            CohortPeriod::Month,
        );
        let jan = &r.retention[0];
        assert_eq!((jan.cohort.as_str(), jan.size), ("2026-01", 2));
        assert_eq!(jan.d30, Some(0.5));
        assert_eq!(jan.d90, Some(0.5));
        // March cohort: its 90-day window (Mar 31 + 119 days) ends after Jun 30.
        let mar = &r.retention[1];
        assert_eq!(mar.cohort, "2026-03");
        assert_eq!(mar.d30, Some(0.0));
        assert_eq!(mar.d90, None);
        let weekly = report(
            9,
            UTC,
            date("2026-01-01"),
            date("2026-06-30"),
            &inputs,
            CohortPeriod::IsoWeek,
        );
        assert_eq!(weekly.retention[0].cohort, "2026-W02");
    }

    #[test]
    fn a_range_that_cuts_a_cohort_period_lists_the_whole_cohort() {
        // June cohort: members join on the 2nd, the 20th and the 29th; the range starts on
        // the 15th and ends on the 25th, so it cuts the month at both ends.
        let joins = vec![
            (1, at("2026-06-02T12:00:00Z")),
            (2, at("2026-06-20T12:00:00Z")),
            (3, at("2026-06-29T12:00:00Z")),
            (4, at("2026-05-31T12:00:00Z")),
            (5, at("2026-07-01T12:00:00Z")),
        ];
        let inputs = Inputs {
            joins,
            ..Inputs::default()
        };
        let r = report(
            9,
            UTC,
            date("2026-06-15"),
            date("2026-06-25"),
            &inputs,
            CohortPeriod::Month,
        );
        assert_eq!(
            r.retention,
            [Cohort {
                cohort: "2026-06".into(),
                size: 3,
                d30: None,
                d90: None
            }]
        );
        // Weekly: the range starts on Sunday the 21st; its week (W25, from Monday the 15th)
        // holds member 2, who joined on Saturday the 20th.
        let weekly = report(
            9,
            UTC,
            date("2026-06-21"),
            date("2026-06-22"),
            &inputs,
            CohortPeriod::IsoWeek,
        );
        let keys: Vec<(&str, usize)> = weekly
            .retention
            .iter()
            .map(|c| (c.cohort.as_str(), c.size))
            .collect();
        assert_eq!(keys, [("2026-W25", 1)]);
        let join_days = [JoinDayCounts {
            day: date("2026-06-02"),
            size: 4,
            retained_30: 1,
            retained_90: 0,
        }];
        let counted = retention_of(
            &join_days,
            date("2026-06-15"),
            date("2026-12-31"),
            CohortPeriod::Month,
            Some(date("2026-01-01")),
        );
        assert_eq!((counted[0].size, counted[0].d30), (4, Some(0.25)));
    }

    #[test]
    fn activation_counts_joins_at_least_seven_days_before_the_end() {
        let joins = vec![
            (1, at("2026-05-01T10:00:00Z")),
            (2, at("2026-05-02T10:00:00Z")),
            (3, at("2026-05-28T10:00:00Z")),
        ];
        let first_messages = HashMap::from([
            (1, at("2026-05-03T10:00:00Z")),
            (2, at("2026-05-12T10:00:00Z")),
            (3, at("2026-05-28T11:00:00Z")),
        ]);
        let inputs = Inputs {
            joins,
            first_messages,
            ..Inputs::default()
        };
        let r = report(
            9,
            UTC,
            date("2026-05-01"),
            date("2026-05-31"),
            &inputs,
            CohortPeriod::Month,
        );
        assert_eq!(
            r.activation,
            Activation {
                joined: 2,
                activated: 1,
                rate: Some(0.5)
            }
        );
        assert_eq!(r.daily[0].joins, 1);
    }

    #[test]
    fn top_contributors_rank_by_activity_then_id() {
        let counts = HashMap::from([(5, 3), (4, 3), (9, 10)]);
        let top = top_contributors(&counts, 2);
        assert_eq!(
            top.iter().map(|c| c.user_id.as_str()).collect::<Vec<_>>(),
            ["9", "4"]
        );
    }

    #[test]
    fn retention_from_join_day_counts_by_hand() {
        let j = |d: &str, size, retained_30, retained_90| JoinDayCounts {
            day: date(d),
            size,
            retained_30,
            retained_90,
        };
        let join_days = [
            j("2025-12-31", 9, 9, 9),
            j("2026-01-05", 2, 1, 0),
            j("2026-01-20", 2, 2, 1),
            j("2026-02-03", 1, 0, 0),
        ];
        let got = retention_of(
            &join_days,
            date("2026-01-01"),
            date("2026-05-20"),
            CohortPeriod::Month,
            Some(date("2025-01-01")),
        );
        let cohort = |key: &str, size, d30, d90| Cohort {
            cohort: key.to_owned(),
            size,
            d30,
            d90,
        };
        // January's 90-day window ends May 30 (Jan 31 + 119 days): after the range, so null.
        assert_eq!(
            got,
            [
                cohort("2026-01", 4, Some(0.75), None),
                cohort("2026-02", 1, Some(0.0), None)
            ]
        );
    }

    #[test]
    fn conversation_metrics_by_hand() {
        // 4 threads, 1 of them started by a manager.
        let c = conversations(6, 4, 4, 1, &[Some(60), Some(300), Some(120), None]);
        assert_eq!(c.replies_per_post, Some(1.5));
        assert_eq!(c.member_initiated, Some(0.75));
        assert_eq!(c.median_first_reply_secs, Some(120));
        assert_eq!(c.unanswered_newcomers, 1);
        let even = conversations(0, 0, 0, 0, &[Some(10), Some(20)]);
        assert_eq!(
            (
                even.replies_per_post,
                even.member_initiated,
                even.median_first_reply_secs
            ),
            (None, None, Some(15))
        );
    }

    #[test]
    fn quiet_experts_need_enough_messages_and_rank_by_responses_per_message() {
        let e = |user_id, messages, responses| QuietExpert {
            user_id,
            messages,
            responses,
        };
        let ranked = quiet_experts(
            vec![e(1, 100, 120), e(2, 5, 20), e(3, 2, 50), e(4, 10, 0)],
            5,
            10,
        );
        assert_eq!(ranked.iter().map(|q| q.user_id).collect::<Vec<_>>(), [2, 1]);
    }

    #[test]
    fn json_shape_matches_the_contract() {
        let r = report(
            42,
            UTC,
            date("2026-01-01"),
            date("2026-01-01"),
            &Inputs::default(),
            CohortPeriod::Month,
        );
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["guild_id"], "42");
        assert_eq!(v["from"], "2026-01-01");
        assert_eq!(v["daily"][0]["date"], "2026-01-01");
        for key in ["dau", "wau", "mau", "messages", "joins", "leaves"] {
            assert!(v["daily"][0][key].is_number(), "{key}");
        }
        assert!(v["activation"]["rate"].is_null());
        let _ = Utc.timestamp_opt(0, 0);
    }

    #[test]
    fn join_times_from_discord_count_as_joins_only_where_hearth_could_see_them() {
        // Hearth's first record: member 9 joins on Mar 1. Discord says member 1 joined in
        // January and member 4 in February (before Hearth), member 5 in the second of Hearth's
        // first record (there before it, as far as anyone can tell), member 2 on Mar 5 (while
        // Hearth was down), member 3 on Mar 10, as its join event says.
        let inputs = Inputs {
            activity: vec![
                (9, at("2026-03-01T12:00:00Z")),
                (4, at("2026-03-02T12:00:00Z")),
                (2, at("2026-03-06T12:00:00Z")),
            ],
            joins: vec![
                (9, at("2026-03-01T10:00:00Z")),
                (3, at("2026-03-10T10:00:00Z")),
            ],
            known_joins: vec![
                (1, at("2026-01-10T10:00:00Z")),
                (4, at("2026-02-20T10:00:00Z")),
                (5, at("2026-03-01T10:00:00Z")),
                (2, at("2026-03-05T10:00:00Z")),
                (3, at("2026-03-10T10:00:00Z")),
            ],
            first_messages: HashMap::from([
                (9, at("2026-03-01T12:00:00Z")),
                (4, at("2026-03-02T12:00:00Z")),
                (2, at("2026-03-06T12:00:00Z")),
            ]),
            ..Inputs::default()
        };
        let r = report(
            9,
            UTC,
            date("2026-01-01"),
            date("2026-03-31"),
            &inputs,
            CohortPeriod::Month,
        );
        let joins: Vec<(String, usize)> = r
            .daily
            .iter()
            .filter(|d| d.joins > 0)
            .map(|d| (d.date.to_string(), d.joins))
            .collect();
        let day = |d: &str, n| (d.to_owned(), n);
        // Member 4's first post (Mar 2) is no join; member 3's join is one join.
        assert_eq!(
            joins,
            [
                day("2026-03-01", 1),
                day("2026-03-05", 1),
                day("2026-03-10", 1)
            ]
        );
        assert_eq!((r.activation.joined, r.activation.activated), (3, 2));
        let sizes: Vec<(&str, usize)> = r
            .retention
            .iter()
            .map(|c| (c.cohort.as_str(), c.size))
            .collect();
        assert_eq!(sizes, [("2026-01", 1), ("2026-02", 1), ("2026-03", 4)]);
    }

    #[test]
    fn windows_before_the_first_recorded_activity_are_not_measured() {
        // Members who joined in 2025-01, long before Hearth's first record (2025-06-10).
        let join_days = [JoinDayCounts {
            day: date("2025-01-12"),
            size: 4,
            retained_30: 0,
            retained_90: 0,
        }];
        let counted = |observed| {
            retention_of(
                &join_days,
                date("2025-01-01"),
                date("2026-01-01"),
                CohortPeriod::Month,
                observed,
            )
        };
        let unseen = counted(Some(date("2025-06-10")));
        assert_eq!(
            (unseen[0].size, unseen[0].d30, unseen[0].d90),
            (4, None, None)
        );
        // Recorded from the start of the cohort's month: 0% is a measured 0%.
        let seen = counted(Some(date("2025-01-01")));
        assert_eq!((seen[0].d30, seen[0].d90), (Some(0.0), Some(0.0)));
        // Between: the 30-day window began unseen, the 90-day one was seen.
        let half = counted(Some(date("2025-03-01")));
        assert_eq!((half[0].d30, half[0].d90), (None, Some(0.0)));
    }
}
