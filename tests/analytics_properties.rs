//! Invariants of the analytics over random activity (property tests): DAU ≤ WAU ≤ MAU on every
//! day, retention and activation shares within [0, 1], every day of the range present.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use hearth::domain::analytics::{report, CohortPeriod, Inputs};
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
    fn dau_wau_mau_are_ordered_and_shares_are_fractions(inputs in inputs_strategy(), tz_index in 0usize..3, weekly in any::<bool>()) {
        let tz = [chrono_tz::UTC, chrono_tz::Europe::Berlin, chrono_tz::Australia::Lord_Howe][tz_index];
        let from = NaiveDate::from_ymd_opt(2025, 2, 1).unwrap();
        let to = NaiveDate::from_ymd_opt(2025, 12, 31).unwrap();
        let period = if weekly { CohortPeriod::IsoWeek } else { CohortPeriod::Month };
        let r = report(1, tz, from, to, &inputs, period);
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
