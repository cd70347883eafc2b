//! Materialised days give exactly the numbers of the definitions: `stats::report` (finished days
//! materialised, today live) against `analytics::report` computed from every raw record, across a
//! time zone change and an import of older history.

mod support;

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use hearth::db::{
    self,
    activity::{Kind, Record},
};
use hearth::domain::analytics::{self, CohortPeriod, Inputs};
use rand::{rngs::StdRng, Rng, SeedableRng};

const GUILD: u64 = 77;

fn instant(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap()
}

/// Activity of 40 members over `days` days before now (today included); members 1..=25 have
/// join events (member 3 joins twice), the others only imported-style history.
fn history(rng: &mut StdRng, now: i64, days: i64, first_target: u64) -> Vec<Record> {
    let mut records = Vec::new();
    let mut target = first_target;
    for user in 1..=40u64 {
        let n = rng.gen_range(1..60);
        for _ in 0..n {
            target += 1;
            let at = now - rng.gen_range(0..days * 86_400);
            let kind = match rng.gen_range(0..10) {
                0 => Kind::ThreadCreated,
                1 => Kind::Reaction,
                2 => Kind::VoiceJoin,
                _ => Kind::Message,
            };
            records.push(Record {
                guild_id: GUILD,
                user_id: user,
                at,
                kind,
                channel_id: 5,
                target_id: target,
                reply_to: rng.gen_bool(0.3).then_some(target - 1),
                in_thread: rng.gen_bool(0.2),
            });
        }
    }
    // Retention window edges: first active at noon UTC (the same date in the zones tested) on
    // day J, then only on day J + k, just inside or just outside a window.
    if days > 140 {
        // 135 days ago: a cohort inside the longest range checked, its windows finished.
        let day0 = (now / 86_400 - 135) * 86_400 + 43_200;
        for (user, k) in [
            (41, 29),
            (42, 30),
            (43, 59),
            (44, 60),
            (45, 89),
            (46, 90),
            (47, 119),
            (48, 120),
        ] {
            for at in [day0, day0 + k * 86_400] {
                target += 1;
                records.push(Record {
                    guild_id: GUILD,
                    user_id: user,
                    at,
                    kind: Kind::Message,
                    channel_id: 5,
                    target_id: target,
                    reply_to: None,
                    in_thread: false,
                });
            }
        }
    }
    records
}

fn joins(records: &[Record]) -> Vec<(u64, i64)> {
    let mut joins = Vec::new();
    for user in 1..=25u64 {
        let first = records
            .iter()
            .filter(|r| r.user_id == user)
            .map(|r| r.at)
            .min()
            .unwrap();
        joins.push((user, first - 3_600));
        if user == 3 {
            joins.push((user, first + 86_400 * 5));
        }
    }
    joins
}

/// The definitions applied to every raw record.
fn reference(
    records: &[Record],
    joins: &[(u64, i64)],
    tz: Tz,
    from: NaiveDate,
    to: NaiveDate,
    period: CohortPeriod,
) -> analytics::Report {
    let start = hearth::features::rollup::start_of(from, tz);
    let until = hearth::features::rollup::start_of(to + Duration::days(1), tz);
    let mut inputs = Inputs {
        activity: records.iter().map(|r| (r.user_id, instant(r.at))).collect(),
        messages: records
            .iter()
            .filter(|r| r.kind == Kind::Message && r.at >= start && r.at < until)
            .map(|r| instant(r.at))
            .collect(),
        joins: joins.iter().map(|(u, t)| (*u, instant(*t))).collect(),
        ..Inputs::default()
    };
    let mut first_active: HashMap<u64, i64> = HashMap::new();
    for r in records {
        let e = first_active.entry(r.user_id).or_insert(r.at);
        *e = (*e).min(r.at);
        if r.kind == Kind::Message {
            let m = inputs
                .first_messages
                .entry(r.user_id)
                .or_insert(instant(r.at));
            *m = (*m).min(instant(r.at));
        }
        if r.at >= start && r.at < until {
            *inputs.activity_counts.entry(r.user_id).or_default() += 1;
        }
    }
    for (user, at) in first_active {
        if !joins.iter().any(|(u, _)| *u == user) {
            inputs.joins.push((user, instant(at)));
        }
    }
    analytics::report(GUILD, tz, from, to, &inputs, period)
}

/// Conversation health by the definitions, from every raw record; member 2 is a manager.
fn reference_conversations(
    records: &[Record],
    joins: &[(u64, i64)],
    since: i64,
    until: i64,
) -> analytics::Conversations {
    let in_range: Vec<&Record> = records
        .iter()
        .filter(|r| r.at >= since && r.at < until)
        .collect();
    let messages = in_range.iter().filter(|r| r.kind == Kind::Message);
    let replies = messages
        .clone()
        .filter(|r| r.reply_to.is_some() || r.in_thread)
        .count() as u64;
    let threads = in_range.iter().filter(|r| r.kind == Kind::ThreadCreated);
    let mut first_joins: HashMap<u64, i64> = HashMap::new();
    for (user, at) in joins {
        let e = first_joins.entry(*user).or_insert(*at);
        *e = (*e).min(*at);
    }
    let delays: Vec<Option<i64>> = first_joins
        .iter()
        .filter(|(_, at)| **at >= since && **at < until)
        .filter_map(|(user, _)| {
            let first = records
                .iter()
                .filter(|r| r.user_id == *user && r.kind == Kind::Message)
                .min_by_key(|r| r.at)?;
            Some(
                records
                    .iter()
                    .filter(|r| {
                        r.kind == Kind::Message
                            && r.reply_to == Some(first.target_id)
                            && r.user_id != *user
                    })
                    .map(|r| r.at - first.at)
                    .min(),
            )
        })
        .collect();
    analytics::conversations(
        replies,
        messages.count() as u64 - replies,
        threads.clone().count() as u64,
        threads.filter(|r| r.user_id == 2).count() as u64,
        &delays,
    )
}

async fn check(
    pool: &db::Pool,
    records: &[Record],
    joins: &[(u64, i64)],
    tz: Tz,
    ranges: &[(i64, i64)],
) {
    let today = hearth::domain::clock::now().with_timezone(&tz).date_naive();
    for (back_from, back_to) in ranges {
        let (from, to) = (
            today - Duration::days(*back_from),
            today - Duration::days(*back_to),
        );
        for period in [CohortPeriod::Month, CohortPeriod::IsoWeek] {
            let got = hearth::features::stats::report(pool, GUILD, tz, from, to, period)
                .await
                .unwrap();
            let want = reference(records, joins, tz, from, to, period);
            assert_eq!(got, want, "{} {from}..={to} {period:?}", tz.name());
        }
        let talk =
            hearth::features::stats::conversations(pool, GUILD, tz, from, to, &HashSet::from([2]))
                .await
                .unwrap();
        let (since, until) = (
            hearth::features::rollup::start_of(from, tz),
            hearth::features::rollup::start_of(to + Duration::days(1), tz),
        );
        assert_eq!(
            talk,
            reference_conversations(records, joins, since, until),
            "conversations {} {from}..={to}",
            tz.name()
        );
    }
}

#[tokio::test]
async fn materialised_days_match_the_definitions_on_raw_records() {
    let (_dir, pool) = support::temp_store().await;
    let mut rng = StdRng::seed_from_u64(7);
    let now = hearth::domain::clock::now().timestamp();
    let mut records = history(&mut rng, now, 150, 1_000);
    let joins = joins(&records);
    db::activity::insert(&mut pool.acquire().await.unwrap(), &records)
        .await
        .unwrap();
    let stored: Vec<db::welcome::Join> = joins
        .iter()
        .map(|(user, at)| db::welcome::Join {
            guild_id: GUILD,
            user_id: *user,
            joined_at: *at,
            pending: false,
            welcomed: true,
        })
        .collect();
    db::welcome::record_joins(&mut pool.acquire().await.unwrap(), &stored)
        .await
        .unwrap();
    let paris: Tz = "Europe/Paris".parse().unwrap();
    // (1, -1) reaches tomorrow: a second day not finished, counted without a carried figure.
    let ranges = [(140, 0), (60, 0), (0, 0), (30, 8), (100, 31), (1, -1)];
    check(&pool, &records, &joins, paris, &ranges).await;
    let state = db::rollup::state(&pool, GUILD).await.unwrap().unwrap();
    assert_eq!(state.timezone, "Europe/Paris");

    // Records written after the days were materialised are folded in by the catch-up: today's
    // activity in two batches (members already active today, returning after weeks, and new),
    // each followed by reports.
    let midnight = hearth::features::rollup::start_of(
        hearth::domain::clock::now()
            .with_timezone(&paris)
            .date_naive(),
        paris,
    );
    for batch in 0..2u64 {
        // Replies to joined members' first messages (time to first reply).
        let first_message = |user: u64| {
            records
                .iter()
                .filter(|r| r.user_id == user && r.kind == Kind::Message)
                .min_by_key(|r| r.at)
                .map(|r| r.target_id)
        };
        let firsts: Vec<Option<u64>> = (1..=25).map(first_message).collect();
        let today: Vec<Record> = (0..30u64)
            .map(|i| Record {
                guild_id: GUILD,
                user_id: [3, 30, 41, 60 + batch][(i % 4) as usize],
                at: (now - rng.gen_range(0..3_600)).max(midnight),
                kind: if i % 5 == 0 {
                    Kind::ThreadCreated
                } else {
                    Kind::Message
                },
                channel_id: 5,
                target_id: 500_000 + batch * 100 + i,
                reply_to: if i % 3 == 0 {
                    firsts[(i % 25) as usize]
                } else {
                    None
                },
                in_thread: false,
            })
            .collect();
        db::activity::insert(&mut pool.acquire().await.unwrap(), &today)
            .await
            .unwrap();
        records.extend(today);
        check(&pool, &records, &joins, paris, &[(140, 0), (0, 0)]).await;
    }

    // Another zone moves every day boundary: everything is materialised again.
    let new_york: Tz = "America/New_York".parse().unwrap();
    check(&pool, &records, &joins, new_york, &ranges).await;

    // Older history arrives (an import): the days it touches are materialised again.
    let mut older = history(&mut rng, now - 40 * 86_400, 20, 900_000);
    older.retain(|r| r.user_id > 25);
    db::activity::insert(&mut pool.acquire().await.unwrap(), &older)
        .await
        .unwrap();
    hearth::features::rollup::rewind(&pool, GUILD, older.iter().map(|r| r.at).min().unwrap())
        .await
        .unwrap();
    records.extend(older);
    check(&pool, &records, &joins, new_york, &ranges).await;
}

/// A range that starts or ends inside a cohort month still lists that cohort with all of its
/// members (product §6: a cohort belongs to the member, not to the range; issue 23: 2018-06 had
/// 213 members instead of 264 when `--from` cut the month).
#[tokio::test]
async fn a_range_that_cuts_a_cohort_month_counts_all_of_its_members() {
    let (_dir, pool) = support::temp_store().await;
    let utc: Tz = "UTC".parse().unwrap();
    let today = hearth::domain::clock::now().date_naive();
    // The month that began at least 150 days ago: its windows have ended by today.
    let month = {
        let d = today - Duration::days(150);
        NaiveDate::from_ymd_opt(chrono::Datelike::year(&d), chrono::Datelike::month(&d), 1).unwrap()
    };
    let noon = |d: NaiveDate| hearth::features::rollup::start_of(d, utc) + 43_200;
    let day = |n: i64| month + Duration::days(n);
    // Members 1-3 joined (events) on the 1st, 10th and 25th; members 4 and 5 are imported
    // history (first activity on the 3rd and the 27th). Member 1 is back 40 days later.
    let joins = [(1u64, noon(day(0))), (2, noon(day(9))), (3, noon(day(24)))];
    let active = [
        (1u64, noon(day(0))),
        (1, noon(day(40))),
        (2, noon(day(9))),
        (3, noon(day(24))),
        (4, noon(day(2))),
        (5, noon(day(26))),
    ];
    let records: Vec<Record> = active
        .iter()
        .enumerate()
        .map(|(i, (user, at))| Record {
            guild_id: GUILD,
            user_id: *user,
            at: *at,
            kind: Kind::Message,
            channel_id: 5,
            target_id: 10 + i as u64,
            reply_to: None,
            in_thread: false,
        })
        .collect();
    db::activity::insert(&mut pool.acquire().await.unwrap(), &records)
        .await
        .unwrap();
    let stored: Vec<db::welcome::Join> = joins
        .iter()
        .map(|(user, at)| db::welcome::Join {
            guild_id: GUILD,
            user_id: *user,
            joined_at: *at,
            pending: false,
            welcomed: true,
        })
        .collect();
    db::welcome::record_joins(&mut pool.acquire().await.unwrap(), &stored)
        .await
        .unwrap();
    let key = month.format("%Y-%m").to_string();
    // From the 15th (cuts the start), to the 20th (cuts both ends), and to today.
    for (from, to) in [(day(14), today), (day(14), day(19)), (day(-10), day(5))] {
        let got = hearth::features::stats::report(&pool, GUILD, utc, from, to, CohortPeriod::Month)
            .await
            .unwrap();
        let cohort = got.retention.iter().find(|c| c.cohort == key);
        assert_eq!(
            cohort.map(|c| c.size),
            Some(5),
            "{from}..={to}: {:?}",
            got.retention
        );
        let want = reference(&records, &joins, utc, from, to, CohortPeriod::Month);
        assert_eq!(got, want, "{from}..={to}");
    }
    let whole =
        hearth::features::stats::report(&pool, GUILD, utc, day(14), today, CohortPeriod::Month)
            .await
            .unwrap();
    let cohort = whole.retention.iter().find(|c| c.cohort == key).unwrap();
    assert_eq!(cohort.d30, Some(0.2), "member 1 was back on day 40");
    let cut =
        hearth::features::stats::report(&pool, GUILD, utc, day(14), day(19), CohortPeriod::Month)
            .await
            .unwrap();
    assert_eq!(cut.retention[0].d30, None, "the window ends after --to");
}
