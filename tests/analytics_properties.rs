//! Invariants of the analytics over random activity and ranges (property tests): DAU ≤ WAU ≤ MAU
//! on every day, retention and activation shares within [0, 1], every day of the range present,
//! and cohorts whole: every cohort period that intersects the range, with all of its members,
//! even where the range cuts the period (product §6). Some members were there before Hearth
//! (issue 22): Discord reports when they joined, often before the first record; they sit in the
//! cohort of that join, and count as joins (new members, activation) only where Hearth could see
//! the join, after the guild's first record.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use hearth::domain::analytics::{cohort_key, report, CohortPeriod, Inputs};
use proptest::prelude::*;

fn inputs_strategy() -> impl Strategy<Value = Inputs> {
    let event = (0u64..40, 0i64..(400 * 86_400));
    // Join times Discord reports, from 300 days before the first possible record on: members
    // 0..40 may also be active or have join events, 40..50 only lurk.
    let known = (0u64..50, (-300 * 86_400i64)..(400 * 86_400));
    (
        prop::collection::vec(event.clone(), 0..300),
        prop::collection::vec(event, 0..60),
        prop::collection::vec(known, 0..40),
        0i64..(200 * 86_400),
    )
        .prop_map(|(activity, joins, known_joins, quiet)| {
            let base = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
            let at = |secs: i64| base + Duration::seconds(secs);
            // Hearth's first record comes `quiet` seconds later than the generated range starts
            // (a bot installed late): records before it are dropped.
            let activity: Vec<(u64, i64)> =
                activity.into_iter().filter(|(_, s)| *s >= quiet).collect();
            let joins: Vec<(u64, i64)> = joins.into_iter().filter(|(_, s)| *s >= quiet).collect();
            let mut first_messages: HashMap<u64, DateTime<Utc>> = HashMap::new();
            for (user, secs) in &activity {
                let t = at(*secs);
                first_messages
                    .entry(*user)
                    .and_modify(|f| *f = (*f).min(t))
                    .or_insert(t);
            }
            Inputs {
                activity: activity.iter().map(|(u, s)| (*u, at(*s))).collect(),
                messages: activity.iter().map(|(_, s)| at(*s)).collect(),
                joins: joins.iter().map(|(u, s)| (*u, at(*s))).collect(),
                known_joins: known_joins.iter().map(|(u, s)| (*u, at(*s))).collect(),
                leaves: Vec::new(),
                first_messages,
                activity_counts: HashMap::new(),
            }
        })
}

/// Each member's first join: join events and join times known from Discord alike.
fn first_joins(inputs: &Inputs) -> HashMap<u64, DateTime<Utc>> {
    let mut first: HashMap<u64, DateTime<Utc>> = HashMap::new();
    for (user, at) in inputs.joins.iter().chain(&inputs.known_joins) {
        first
            .entry(*user)
            .and_modify(|e| *e = (*e).min(*at))
            .or_insert(*at);
    }
    first
}

/// The joins Hearth counts, by the words of issue 22: every join event, and a member's first
/// join known from Discord if it came after the guild's first record (activity or join).
fn counted_joins(inputs: &Inputs) -> BTreeSet<(u64, DateTime<Utc>)> {
    let first_record = inputs
        .activity
        .iter()
        .chain(&inputs.joins)
        .map(|(_, at)| *at)
        .min();
    let mut joins: BTreeSet<(u64, DateTime<Utc>)> = inputs.joins.iter().copied().collect();
    for (user, at) in first_joins(inputs) {
        if first_record.is_some_and(|first| at > first) {
            joins.insert((user, at));
        }
    }
    joins
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn dau_wau_mau_are_ordered_and_shares_are_fractions(inputs in inputs_strategy(), tz_index in 0usize..3, weekly in any::<bool>(), start in -200i64..300, length in 0i64..200) {
        let tz = [chrono_tz::UTC, chrono_tz::Europe::Berlin, chrono_tz::Australia::Lord_Howe][tz_index];
        // Ranges start and end on any day, so they cut cohort months and weeks; some start
        // before Hearth's first record.
        let from = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap() + Duration::days(start);
        let to = from + Duration::days(length);
        let period = if weekly { CohortPeriod::IsoWeek } else { CohortPeriod::Month };
        let r = report(1, tz, from, to, &inputs, period);
        let local = |at: &DateTime<Utc>| at.with_timezone(&tz).date_naive();
        // Cohorts by the definition: each member's first join day (however long before Hearth),
        // grouped by period; a period is listed when any of its days lies in the range.
        let mut sizes: BTreeMap<String, usize> = BTreeMap::new();
        for at in first_joins(&inputs).values() {
            *sizes.entry(cohort_key(local(at), period)).or_default() += 1;
        }
        let listed: Vec<String> = from.iter_days().take_while(|d| *d <= to).map(|d| cohort_key(d, period)).collect();
        sizes.retain(|key, _| listed.contains(key));
        let got: BTreeMap<String, usize> = r.retention.iter().map(|c| (c.cohort.clone(), c.size)).collect();
        prop_assert_eq!(got, sizes);
        // Windows are observed from the first day with a record (activity or join event) on;
        // a join time Discord reported is no record.
        let observed = inputs.activity.iter().chain(&inputs.joins).map(|(_, at)| local(at)).min();
        for c in &r.retention {
            // A cohort's windows end 59 and 119 days after its period's last day, and begin 30
            // and 90 days after its first.
            let in_period: Vec<NaiveDate> = (from - Duration::days(40)).iter_days()
                .take_while(|d| *d <= to + Duration::days(40))
                .filter(|d| cohort_key(*d, period) == c.cohort).collect();
            let (first_day, last_day) = (in_period[0], *in_period.last().unwrap());
            let seen = |start: i64| observed.is_some_and(|o| first_day + Duration::days(start) >= o);
            prop_assert_eq!(c.d30.is_some(), last_day + Duration::days(59) <= to && seen(30), "{:?}", c);
            prop_assert_eq!(c.d90.is_some(), last_day + Duration::days(119) <= to && seen(90), "{:?}", c);
        }
        // New members: the joins counted, per day; a member who was there before Hearth is not
        // a new member, neither on the day of a first post nor on the day they really joined.
        let counted = counted_joins(&inputs);
        for d in &r.daily {
            let joins = counted.iter().filter(|(_, at)| local(at) == d.date).count();
            prop_assert_eq!(d.joins, joins, "{:?}", d);
        }
        // Activation: the joins counted from `from` to 7 days before `to`, and those whose
        // member's first message came within 7×24 hours.
        let cutoff = to - Duration::days(7);
        let joined: Vec<&(u64, DateTime<Utc>)> = counted.iter().filter(|(_, at)| local(at) >= from && local(at) <= cutoff).collect();
        let activated = joined.iter().filter(|(user, at)| {
            inputs.first_messages.get(user).is_some_and(|m| m >= at && *m - *at <= Duration::days(7))
        }).count();
        prop_assert_eq!((r.activation.joined, r.activation.activated), (joined.len(), activated));
        prop_assert_eq!(r.daily.len() as i64, (to - from).num_days() + 1);
        for d in &r.daily {
            prop_assert!(d.dau <= d.wau && d.wau <= d.mau, "{:?}", d);
        }
        for c in &r.retention {
            for share in [c.d30, c.d90].into_iter().flatten() {
                prop_assert!((0.0..=1.0).contains(&share), "{:?}", c);
            }
        }
        if let Some(rate) = r.activation.rate {
            prop_assert!((0.0..=1.0).contains(&rate));
        }
        prop_assert!(r.activation.activated <= r.activation.joined);
    }

    /// Join times of members who were there before Hearth (before the guild's first record)
    /// change the cohorts only: the daily figures, joins and activation are those of a guild
    /// where Discord never said when they joined and they never posted.
    #[test]
    fn members_from_before_hearth_are_never_new_members(inputs in inputs_strategy(), start in -200i64..300, length in 0i64..200) {
        let tz = chrono_tz::Europe::Berlin;
        let from = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap() + Duration::days(start);
        let to = from + Duration::days(length);
        let first_record = inputs.activity.iter().chain(&inputs.joins).map(|(_, at)| *at).min();
        let before_hearth = |at: &DateTime<Utc>| first_record.is_none_or(|first| *at <= first);
        // Members whose only join is a time from before Hearth.
        let mut veterans: BTreeSet<u64> = inputs.known_joins.iter().filter(|(_, at)| before_hearth(at)).map(|(u, _)| *u).collect();
        veterans.retain(|user| !inputs.joins.iter().any(|(u, _)| u == user));
        let without = Inputs {
            known_joins: inputs.known_joins.iter().filter(|(u, _)| !veterans.contains(u)).copied().collect(),
            ..inputs.clone()
        };
        let with = report(1, tz, from, to, &inputs, CohortPeriod::Month);
        let plain = report(1, tz, from, to, &without, CohortPeriod::Month);
        prop_assert_eq!(&with.daily, &plain.daily);
        prop_assert_eq!(&with.activation, &plain.activation);
    }
}
