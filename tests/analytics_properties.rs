//! Invariants of the analytics over random activity and ranges (property tests): DAU ≤ WAU ≤ MAU
//! on every day, retention and activation shares within [0, 1], every day of the range present,
//! and cohorts whole: every cohort period that intersects the range, with all of its members,
//! even where the range cuts the period (product §6).

use std::collections::{BTreeMap, HashMap};

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use hearth::domain::analytics::{cohort_key, report, CohortPeriod, Inputs};
use proptest::prelude::*;

fn inputs_strategy() -> impl Strategy<Value = Inputs> {
    let event = (0u64..40, 0i64..(400 * 86_400));
    (
        prop::collection::vec(event.clone(), 0..300),
        prop::collection::vec(event, 0..60),
    )
        .prop_map(|(activity, joins)| {
            let base = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
            let at = |secs: i64| base + Duration::seconds(secs);
            let mut first_messages: HashMap<u64, chrono::DateTime<Utc>> = HashMap::new();
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
                leaves: Vec::new(),
                first_messages,
                activity_counts: HashMap::new(),
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn dau_wau_mau_are_ordered_and_shares_are_fractions(inputs in inputs_strategy(), tz_index in 0usize..3, weekly in any::<bool>(), start in 0i64..300, length in 0i64..200) {
        let tz = [chrono_tz::UTC, chrono_tz::Europe::Berlin, chrono_tz::Australia::Lord_Howe][tz_index];
        // Ranges start and end on any day, so they cut cohort months and weeks.
        let from = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap() + Duration::days(start);
        let to = from + Duration::days(length);
        let period = if weekly { CohortPeriod::IsoWeek } else { CohortPeriod::Month };
        let r = report(1, tz, from, to, &inputs, period);
        // Cohorts by the definition: each member's first join day, grouped by period; a
        // period is listed when any of its days lies in the range.
        let mut first_join: HashMap<u64, NaiveDate> = HashMap::new();
        for (user, at) in &inputs.joins {
            let d = at.with_timezone(&tz).date_naive();
            first_join.entry(*user).and_modify(|e| *e = (*e).min(d)).or_insert(d);
        }
        let mut sizes: BTreeMap<String, usize> = BTreeMap::new();
        for d in first_join.values() {
            *sizes.entry(cohort_key(*d, period)).or_default() += 1;
        }
        let listed: Vec<String> = from.iter_days().take_while(|d| *d <= to).map(|d| cohort_key(d, period)).collect();
        sizes.retain(|key, _| listed.contains(key));
        let got: BTreeMap<String, usize> = r.retention.iter().map(|c| (c.cohort.clone(), c.size)).collect();
        prop_assert_eq!(got, sizes);
        // Windows are observed from the first day with a record (activity or join) on.
        let observed = inputs.activity.iter().chain(&inputs.joins).map(|(_, at)| at.with_timezone(&tz).date_naive()).min();
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
}
