//! Connected members (issue 18) as the rollup folds them: records written as tracking writes
//! them (`db::activity::insert`), days materialised by `features::rollup::refresh`, figures read
//! by `db::connectedness`; the same figures after a catch-up, a full rebuild, and from the
//! definition applied to raw records.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use hearth::db::{
    self,
    activity::{Kind, Record},
    Pool,
};
use hearth::domain::connectedness::{self as connectedness, Connected};
use rand::{rngs::StdRng, Rng, SeedableRng};

const GUILD: u64 = 88;
const DAY: i64 = 86_400;

/// Noon UTC `back` days before today.
fn noon(back: i64) -> i64 {
    (hearth::domain::clock::unix_now() / DAY - back) * DAY + 43_200
}

fn day(at: i64) -> i64 {
    at.div_euclid(DAY)
}

fn message(user_id: u64, at: i64, target_id: u64) -> Record {
    Record {
        guild_id: GUILD,
        user_id,
        at,
        kind: Kind::Message,
        channel_id: 5,
        target_id,
        reply_to: None,
        in_thread: false,
    }
}

fn reply(user_id: u64, at: i64, target_id: u64, to: u64) -> Record {
    Record {
        reply_to: Some(to),
        ..message(user_id, at, target_id)
    }
}

fn in_thread(user_id: u64, at: i64, target_id: u64, thread: u64) -> Record {
    Record {
        channel_id: thread,
        in_thread: true,
        ..message(user_id, at, target_id)
    }
}

async fn write(pool: &Pool, records: &[Record]) {
    db::activity::insert(&mut pool.acquire().await.unwrap(), records)
        .await
        .unwrap();
}

/// The rollup as a report runs it, at `now`.
async fn refresh_at(pool: &Pool, now: DateTime<Utc>) {
    hearth::features::rollup::refresh(pool, GUILD, Tz::UTC, now)
        .await
        .unwrap();
}

async fn refresh(pool: &Pool) {
    refresh_at(pool, hearth::domain::clock::now()).await;
}

async fn figures(pool: &Pool, from: i64, to: i64) -> Connected {
    db::connectedness::figures(pool, GUILD, from, to)
        .await
        .unwrap()
}

/// Everything materialised again from raw records.
async fn rebuild(pool: &Pool, first_day: i64) {
    db::rollup::reset(pool, GUILD, "UTC", first_day)
        .await
        .unwrap();
    refresh(pool).await;
}

fn connected(connected: u64, active: u64, new_pairs: u64) -> Connected {
    Connected {
        connected,
        active,
        new_pairs,
    }
}

#[tokio::test]
async fn a_reply_connects_both_members_and_a_self_reply_nobody() {
    let (_dir, pool) = support::temp_store().await;
    let d = noon(5);
    write(
        &pool,
        &[
            message(1, d, 100),
            reply(2, d + 600, 101, 100),
            // Member 3 answers themself; member 4 only reacts.
            message(3, d + 60, 102),
            reply(3, d + 120, 103, 102),
            Record {
                kind: Kind::Reaction,
                ..message(4, d, 100)
            },
        ],
    )
    .await;
    refresh(&pool).await;
    let got = figures(&pool, day(d), day(d)).await;
    assert_eq!(got, connected(2, 4, 1));
    assert_eq!(got.rate(), Some(0.5));
    // Nothing the day before or after.
    assert_eq!(
        figures(&pool, day(d) + 1, day(d) + 3).await,
        connected(0, 0, 0)
    );
    rebuild(&pool, day(d)).await;
    assert_eq!(figures(&pool, day(d), day(d)).await, connected(2, 4, 1));
}

#[tokio::test]
async fn thread_messages_within_an_hour_connect_and_two_hours_apart_do_not() {
    let (_dir, pool) = support::temp_store().await;
    let d = noon(4);
    write(
        &pool,
        &[
            in_thread(1, d, 200, 900),
            in_thread(2, d + 1_800, 201, 900),
            // Another thread: two hours apart.
            in_thread(3, d, 202, 901),
            in_thread(4, d + 7_200, 203, 901),
            // Same time as member 1, in the channel, not the thread.
            message(5, d + 60, 204),
        ],
    )
    .await;
    refresh(&pool).await;
    assert_eq!(figures(&pool, day(d), day(d)).await, connected(2, 5, 1));
    rebuild(&pool, day(d)).await;
    assert_eq!(figures(&pool, day(d), day(d)).await, connected(2, 5, 1));
}

#[tokio::test]
async fn a_reply_folded_in_a_later_catch_up_still_connects_both() {
    let (_dir, pool) = support::temp_store().await;
    let (old, today) = (noon(3), hearth::domain::clock::unix_now() - 60);
    write(&pool, &[message(1, old, 300), message(2, today - 600, 301)]).await;
    refresh(&pool).await;
    assert_eq!(
        figures(&pool, day(old), day(today)).await,
        connected(0, 2, 0)
    );
    // Member 2 answers member 1's message of three days ago (a finished day); and a reply
    // stored before the message it answers (member 4 to member 3) counts as well.
    write(
        &pool,
        &[
            reply(2, today - 300, 302, 300),
            reply(4, today - 200, 303, 304),
        ],
    )
    .await;
    refresh(&pool).await;
    write(&pool, &[message(3, today - 250, 304)]).await;
    refresh(&pool).await;
    let expect = |c, a, p| connected(c, a, p);
    assert_eq!(figures(&pool, day(old), day(today)).await, expect(4, 4, 2));
    // Member 1 is connected on the day of their message; the pair on the day of the reply.
    assert_eq!(figures(&pool, day(old), day(old)).await, expect(1, 1, 0));
    assert_eq!(
        figures(&pool, day(today), day(today)).await,
        expect(3, 3, 2)
    );
    rebuild(&pool, day(old)).await;
    assert_eq!(figures(&pool, day(old), day(today)).await, expect(4, 4, 2));
    assert_eq!(figures(&pool, day(old), day(old)).await, expect(1, 1, 0));
}

#[tokio::test]
async fn a_pair_is_new_only_in_the_week_it_first_connected() {
    let (_dir, pool) = support::temp_store().await;
    let monday = |at: i64| connectedness::week_of(day(at));
    // Members 1 and 2 connect three weeks ago and again a week ago, when 1 and 3 first do.
    let (first, again) = (noon(21), noon(7));
    write(
        &pool,
        &[
            message(1, first, 400),
            reply(2, first + 60, 401, 400),
            message(2, again, 402),
            reply(1, again + 60, 403, 402),
            message(3, again + 120, 404),
            reply(1, again + 180, 405, 404),
        ],
    )
    .await;
    refresh(&pool).await;
    let (from, to) = (day(first), day(again) + 6);
    let weeks = db::connectedness::new_pairs_per_week(&pool, GUILD, from, to)
        .await
        .unwrap();
    let week_pairs: BTreeMap<i64, u64> = weeks.iter().copied().collect();
    assert_eq!(week_pairs.get(&monday(first)), Some(&1));
    assert_eq!(week_pairs.get(&monday(again)), Some(&1), "only 1-3 is new");
    assert_eq!(week_pairs.values().sum::<u64>(), 2);
    let week_of = connectedness::week_of;
    assert_eq!(weeks.len() as i64, (week_of(to) - week_of(from)) / 7 + 1);
    let week = (monday(again), monday(again) + 6);
    assert_eq!(figures(&pool, week.0, week.1).await, connected(3, 3, 1));
    rebuild(&pool, day(first)).await;
    assert_eq!(
        db::connectedness::new_pairs_per_week(&pool, GUILD, from, to)
            .await
            .unwrap(),
        weeks
    );
}

/// The definition applied to raw records: (connected, active, new pairs) over days
/// `from..=to`.
fn by_definition(records: &[Record], from: i64, to: i64) -> Connected {
    let messages: BTreeMap<u64, &Record> = records
        .iter()
        .filter(|r| r.kind == Kind::Message)
        .map(|r| (r.target_id, r))
        .collect();
    let mut contacts = Vec::new();
    for r in records.iter().filter(|r| r.kind == Kind::Message) {
        if let Some(m) = r.reply_to.and_then(|t| messages.get(&t)) {
            contacts.push((r, *m));
        }
        for q in records.iter().filter(|q| {
            q.kind == Kind::Message && q.in_thread && r.in_thread && q.channel_id == r.channel_id
        }) {
            if q.target_id > r.target_id && (q.at - r.at).abs() <= 3_600 {
                contacts.push((r, q));
            }
        }
    }
    let in_period = |at: i64| (from..=to).contains(&day(at));
    let mut connected = BTreeSet::new();
    let mut first_day: BTreeMap<(u64, u64), i64> = BTreeMap::new();
    for (x, y) in contacts.into_iter().filter(|(x, y)| x.user_id != y.user_id) {
        for r in [x, y] {
            if in_period(r.at) {
                connected.insert(r.user_id);
            }
        }
        let d = day(x.at.max(y.at));
        let e = first_day
            .entry(connectedness::pair(x.user_id, y.user_id))
            .or_insert(d);
        *e = (*e).min(d);
    }
    let active: BTreeSet<u64> = records
        .iter()
        .filter(|r| in_period(r.at))
        .map(|r| r.user_id)
        .collect();
    Connected {
        connected: connected.len() as u64,
        active: active.len() as u64,
        new_pairs: first_day
            .values()
            .filter(|d| (from..=to).contains(d))
            .count() as u64,
    }
}

#[tokio::test]
async fn figures_follow_the_definition_through_catch_ups_and_a_rebuild() {
    let (_dir, pool) = support::temp_store().await;
    let mut rng = StdRng::seed_from_u64(18);
    let now = hearth::domain::clock::unix_now();
    let start = now - 40 * DAY;
    let mut all: Vec<Record> = Vec::new();
    let mut target = 1_000;
    // Four batches in time order, each folded by a refresh at its end (as time passes), the
    // last one today; replies answer any earlier message, often of an earlier batch.
    let ends = [start + 12 * DAY, start + 25 * DAY, start + 37 * DAY, now];
    let mut since = start;
    for end in ends {
        let mut batch = Vec::new();
        for _ in 0..150 {
            target += 1;
            let user = rng.gen_range(1..=15u64);
            let at = rng.gen_range(since..end);
            let mut r = message(user, at, target);
            match rng.gen_range(0..10) {
                0..=2 => {
                    let earlier: Vec<u64> = all
                        .iter()
                        .chain(batch.iter())
                        .filter(|m: &&Record| m.kind == Kind::Message && m.at <= at)
                        .map(|m| m.target_id)
                        .collect();
                    if !earlier.is_empty() {
                        r.reply_to = Some(earlier[rng.gen_range(0..earlier.len())]);
                    }
                }
                3..=5 => {
                    r.in_thread = true;
                    r.channel_id = 700 + rng.gen_range(0..3);
                }
                6 => r.kind = Kind::Reaction,
                _ => {}
            }
            batch.push(r);
        }
        write(&pool, &batch).await;
        all.extend(batch);
        refresh_at(&pool, DateTime::from_timestamp(end, 0).unwrap()).await;
        since = end;
    }
    refresh(&pool).await;
    let today = day(now);
    let periods = [
        (day(start), today),
        (today - 6, today),
        (today - 29, today),
        (day(start) + 3, day(start) + 9),
        (day(start) + 10, day(start) + 31),
        (today, today),
        (today - 1, today - 1),
    ];
    for (from, to) in periods {
        assert_eq!(
            figures(&pool, from, to).await,
            by_definition(&all, from, to),
            "days {from}..={to} after catch-ups"
        );
    }
    // `/stats overview` takes the active members of 1, 7 and 30 days from the report's
    // DAU/WAU/MAU instead of counting them again: the same figures.
    let date = hearth::domain::analytics::date_of;
    for length in [1, 7, 30] {
        let (from, to) = (today - length + 1, today);
        let report = hearth::features::stats::report(
            &pool,
            GUILD,
            Tz::UTC,
            date(from),
            date(to),
            hearth::domain::analytics::CohortPeriod::Month,
        )
        .await
        .unwrap();
        let active = report.active_over_period();
        assert_eq!(
            active.map(|a| a as u64),
            Some(by_definition(&all, from, to).active),
            "{length} days"
        );
        let given =
            hearth::features::connections::connected(&pool, GUILD, (date(from), date(to)), active)
                .await
                .unwrap();
        assert_eq!(
            given,
            by_definition(&all, from, to),
            "{length} days, active given"
        );
    }
    rebuild(&pool, day(start)).await;
    for (from, to) in periods {
        assert_eq!(
            figures(&pool, from, to).await,
            by_definition(&all, from, to),
            "days {from}..={to} after a rebuild"
        );
    }
}
