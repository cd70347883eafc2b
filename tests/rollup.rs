//! Materialised days give exactly the numbers of the definitions: `stats::report` (finished days
//! materialised, today live) against `analytics::report` computed from every raw record, across a
//! time zone change and an import of older history.

mod support;

use std::collections::{BTreeMap, HashMap, HashSet};

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

/// (member, when) of join events, and of join times known from Discord.
type Joins<'a> = (&'a [(u64, i64)], &'a [(u64, i64)]);

/// When the guild's first record is from: its earliest activity or join event.
fn first_record(records: &[Record], joins: &[(u64, i64)]) -> i64 {
    records
        .iter()
        .map(|r| r.at)
        .chain(joins.iter().map(|(_, at)| *at))
        .min()
        .unwrap()
}

/// Join times Discord reports for members (issue 22), none of them a join event: members 26-30
/// joined 1 to 300 days before the guild's first record (they were there before Hearth); 31-33
/// after it, two days before their first activity (while Hearth was down); 34 a week after its
/// first activity (it left and came back: Discord says the latest join), 35 a minute ago
/// (likewise, on a day not finished); 70-74 never did
/// anything (two joined before Hearth, three after, one of them today); member 3, who has join
/// events, first joined 20 days before the first of them. Split in two: the times Discord
/// reports at once, and those it reports only after days have been materialised (the members
/// post later, or a member chunk comes late).
fn known_joins(records: &[Record], joins: &[(u64, i64)], now: i64) -> [Vec<(u64, i64)>; 2] {
    let first = first_record(records, joins);
    let first_active = |user: u64| {
        records
            .iter()
            .filter(|r| r.user_id == user)
            .map(|r| r.at)
            .min()
            .unwrap()
    };
    let day = 86_400;
    let before = |user: u64, days: i64| (user, first - days * day - 7);
    let early = vec![
        before(26, 1),
        before(27, 40),
        before(28, 100),
        (31, first_active(31) - 2 * day),
        (70, first - 10 * day),
        (71, first - 50 * day),
        (72, first + 5 * day),
        (3, joins.iter().find(|(u, _)| *u == 3).unwrap().1 - 20 * day),
    ];
    let late = vec![
        before(29, 200),
        before(30, 300),
        (32, first_active(32) - 2 * day),
        (33, first_active(33) - 2 * day),
        (34, (first_active(34) + 7 * day).min(now - 3_600)),
        (73, now - 20 * day),
        (74, now - 7_200),
        (35, now - 60),
    ];
    [early, late]
}

/// Stores activity records and join events.
async fn store_history(pool: &db::Pool, records: &[Record], joins: &[(u64, i64)]) {
    db::activity::insert(&mut pool.acquire().await.unwrap(), records)
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
}

/// Records join times known from Discord, as the activity writer does.
async fn record_known(pool: &db::Pool, known: &[(u64, i64)]) {
    let rows: Vec<(u64, u64, i64)> = known.iter().map(|(u, at)| (GUILD, *u, *at)).collect();
    db::welcome::record_known_joins(&mut pool.acquire().await.unwrap(), &rows)
        .await
        .unwrap();
}

/// The definitions applied to every raw record.
fn reference(
    records: &[Record],
    (joins, known): Joins<'_>,
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
        known_joins: known.iter().map(|(u, t)| (*u, instant(*t))).collect(),
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
    // First activity is the join only where no join is known at all.
    for (user, at) in first_active {
        if !joins.iter().chain(known).any(|(u, _)| *u == user) {
            inputs.joins.push((user, instant(at)));
        }
    }
    analytics::report(GUILD, tz, from, to, &inputs, period)
}

/// Conversation health by the definitions, from every raw record; member 2 is a manager.
/// Newcomers are members whose first join is in the range and after the guild's first record.
fn reference_conversations(
    records: &[Record],
    (joins, known): Joins<'_>,
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
    for (user, at) in joins.iter().chain(known) {
        let e = first_joins.entry(*user).or_insert(*at);
        *e = (*e).min(*at);
    }
    let observed = first_record(records, joins);
    let delays: Vec<Option<i64>> = first_joins
        .iter()
        .filter(|(_, at)| **at >= since && **at > observed && **at < until)
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
    joins: Joins<'_>,
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
    store_history(&pool, &records, &joins).await;
    let [early, late] = known_joins(&records, &joins, now);
    record_known(&pool, &early).await;
    let mut known = early;
    let paris: Tz = "Europe/Paris".parse().unwrap();
    // (1, -1) reaches tomorrow: a second day not finished, counted without a carried figure;
    // (500, 0) reaches the joins of members who were there long before Hearth.
    let ranges = [
        (140, 0),
        (60, 0),
        (0, 0),
        (30, 8),
        (100, 31),
        (1, -1),
        (500, 0),
    ];
    check(&pool, &records, (&joins, &known), paris, &ranges).await;
    let state = db::rollup::state(&pool, GUILD).await.unwrap().unwrap();
    assert_eq!(state.timezone, "Europe/Paris");

    // Discord reports more join times once the days are materialised: members whose first
    // activity counted as their join, on a finished day, now have a real join (and members
    // who never did anything, one of them today).
    record_known(&pool, &late).await;
    known.extend(late);
    check(&pool, &records, (&joins, &known), paris, &ranges).await;

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
        check(
            &pool,
            &records,
            (&joins, &known),
            paris,
            &[(140, 0), (0, 0)],
        )
        .await;
    }

    // Another zone moves every day boundary: everything is materialised again.
    let new_york: Tz = "America/New_York".parse().unwrap();
    check(&pool, &records, (&joins, &known), new_york, &ranges).await;

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
    check(&pool, &records, (&joins, &known), new_york, &ranges).await;

    // History from long before Hearth came (an import a year back): the guild's first record
    // moves back, and the joins of members who were there before Hearth that it now covers
    // are joins Hearth could have seen (new members of their days, activation).
    let before = first_record(&records, &joins);
    let mut oldest = history(&mut rng, now - 380 * 86_400, 30, 950_000);
    oldest.retain(|r| (26..=30).contains(&r.user_id) || r.user_id > 34);
    db::activity::insert(&mut pool.acquire().await.unwrap(), &oldest)
        .await
        .unwrap();
    hearth::features::rollup::rewind(&pool, GUILD, oldest.iter().map(|r| r.at).min().unwrap())
        .await
        .unwrap();
    records.extend(oldest);
    let after = first_record(&records, &joins);
    assert!(
        known.iter().any(|(_, at)| *at < before && *at >= after),
        "the import covers a join from before Hearth"
    );
    check(&pool, &records, (&joins, &known), new_york, &ranges).await;
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
    store_history(&pool, &records, &joins).await;
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
        let want = reference(&records, (&joins, &[]), utc, from, to, CohortPeriod::Month);
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

/// A member whose join time no source gives (no join event, no `joined_at` from Discord) joins
/// at their first activity, as in imported history; when Discord says later when they really
/// joined, that time replaces it, on days already finished too. A member who was there before
/// Hearth is no new member on the day of a first post (issue 22).
#[tokio::test]
async fn without_a_known_join_time_the_first_activity_is_the_join() {
    let (_dir, pool) = support::temp_store().await;
    let utc: Tz = "UTC".parse().unwrap();
    let today = hearth::domain::clock::now().date_naive();
    let noon =
        |back: i64| hearth::features::rollup::start_of(today - Duration::days(back), utc) + 43_200;
    // Member 3 joined 30 days ago (Hearth's first record); member 1 was there 200 days before
    // that; member 2's join time is known from no source. Members 1, 2 and 4 first post 20 days
    // ago.
    let joins = [(3u64, noon(30))];
    let known = [(1u64, noon(230))];
    let message = |i: u64, user: u64, at: i64| Record {
        guild_id: GUILD,
        user_id: user,
        at,
        kind: Kind::Message,
        channel_id: 5,
        target_id: 10 + i,
        reply_to: None,
        in_thread: false,
    };
    let records = [
        message(0, 3, noon(29)),
        message(1, 1, noon(20)),
        message(2, 2, noon(20) + 60),
        message(3, 1, noon(19)),
        message(4, 2, noon(18)),
        message(5, 4, noon(20) + 120),
    ];
    db::activity::insert(&mut pool.acquire().await.unwrap(), &records)
        .await
        .unwrap();
    let stored = db::welcome::Join {
        guild_id: GUILD,
        user_id: 3,
        joined_at: joins[0].1,
        pending: false,
        welcomed: true,
    };
    db::welcome::record_joins(&mut pool.acquire().await.unwrap(), &[stored])
        .await
        .unwrap();
    record_known(&pool, &known).await;
    // Days materialised three days ago; then Discord says member 4 joined two days ago (they
    // left and came back): their first post, on a day finished then, is no join any more, and
    // the day of the new join is finished after.
    hearth::features::rollup::refresh(
        &pool,
        GUILD,
        utc,
        hearth::domain::clock::now() - Duration::days(3),
    )
    .await
    .unwrap();
    let known = [(1u64, noon(230)), (4, noon(2))];
    record_known(&pool, &known[1..]).await;
    let (from, to) = (today - Duration::days(40), today);
    let joins_on = |r: &analytics::Report, back: i64| {
        r.daily
            .iter()
            .find(|d| d.date == today - Duration::days(back))
            .unwrap()
            .joins
    };
    let got = hearth::features::stats::report(&pool, GUILD, utc, from, to, CohortPeriod::IsoWeek)
        .await
        .unwrap();
    assert_eq!(
        got,
        reference(
            &records,
            (&joins, &known),
            utc,
            from,
            to,
            CohortPeriod::IsoWeek
        )
    );
    assert_eq!(
        (joins_on(&got, 30), joins_on(&got, 20), joins_on(&got, 2)),
        (1, 1, 1),
        "members 3, 2 and 4"
    );
    assert_eq!(got.daily.iter().map(|d| d.joins).sum::<usize>(), 3);
    // Members 3 and 2 posted within 7 days of joining (member 2's join is their first post);
    // member 4 joined less than 7 days ago.
    assert_eq!((got.activation.joined, got.activation.activated), (2, 2));
    let week =
        |back: i64| analytics::cohort_key(today - Duration::days(back), CohortPeriod::IsoWeek);
    let size = |r: &analytics::Report, key: &str| {
        r.retention
            .iter()
            .find(|c| c.cohort == key)
            .map_or(0, |c| c.size)
    };
    assert_eq!(size(&got, &week(20)), 1, "member 2, by first activity");

    // Discord now says member 2 joined 28 days ago, after Hearth's first record: that is their
    // join (new member of that day, not activated: their first message came 8 days later),
    // and their first post is no join any more. Those days were materialised before.
    let known = [(1u64, noon(230)), (4, noon(2)), (2, noon(28))];
    record_known(&pool, &known[2..]).await;
    let got = hearth::features::stats::report(&pool, GUILD, utc, from, to, CohortPeriod::IsoWeek)
        .await
        .unwrap();
    assert_eq!(
        got,
        reference(
            &records,
            (&joins, &known),
            utc,
            from,
            to,
            CohortPeriod::IsoWeek
        )
    );
    assert_eq!(
        (joins_on(&got, 30), joins_on(&got, 28), joins_on(&got, 20)),
        (1, 1, 0)
    );
    assert_eq!(got.daily.iter().map(|d| d.joins).sum::<usize>(), 3);
    assert_eq!((got.activation.joined, got.activation.activated), (2, 1));
    assert_eq!(
        size(&got, &week(28)),
        if week(28) == week(30) { 2 } else { 1 }
    );
}

/// A rebuild that fails half way (the disk fills while a day is finished) leaves that day
/// unfinished; the next report resumes from the first day not finished, and the figures are
/// those of the definitions, as if nothing had happened.
/// A rebuild in several chunks that fails half way keeps the chunks it finished, with members'
/// totals marked as behind (they are added once, at the end); the next report starts over from
/// the rebuild's first day, and every member's total is their records, counted once. (On
/// PostgreSQL a rebuild of every day copies member days in a transaction of its own,
/// `BulkRebuild`, which rolls back: they are not kept.)
#[tokio::test]
async fn a_rebuild_interrupted_between_chunks_starts_over_and_counts_members_once() {
    let (_dir, pool) = support::temp_store().await;
    let mut rng = StdRng::seed_from_u64(30);
    let now = hearth::domain::clock::now().timestamp();
    let records = history(&mut rng, now, 120, 1_000);
    let joins = joins(&records);
    store_history(&pool, &records, &joins).await;
    let tz: Tz = "Europe/Paris".parse().unwrap();
    let today = hearth::domain::clock::now().with_timezone(&tz).date_naive();
    let failing_day = analytics::day_number(today - Duration::days(60));
    support::refuse_inserts(&pool, "guild_days", &format!("NEW.day = {failing_day}")).await;
    // About ten days a chunk.
    let chunk_records = records.len() as i64 / 12;
    let clock = hearth::domain::clock::now();
    let failed =
        hearth::features::rollup::refresh_in_chunks(&pool, GUILD, tz, clock, chunk_records).await;
    assert!(failed.is_err(), "the refused day stops the rebuild");
    let state = db::rollup::state(&pool, GUILD).await.unwrap().unwrap();
    let first_day = state
        .members_behind_from
        .expect("members' totals are behind");
    assert!(
        first_day < state.done_until && state.done_until <= failing_day,
        "chunks before the refused day are kept ({first_day} < {} <= {failing_day})",
        state.done_until
    );
    if db::Backend::of_pool(&pool) == db::Backend::Postgres {
        // Their member days were copied by the bulk rebuild's own transaction, rolled back.
        let kept: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM member_days")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(kept, 0);
    }
    support::allow_inserts(&pool, "guild_days").await;
    let clock = hearth::domain::clock::now();
    hearth::features::rollup::refresh_in_chunks(&pool, GUILD, tz, clock, chunk_records)
        .await
        .unwrap();
    let state = db::rollup::state(&pool, GUILD).await.unwrap().unwrap();
    assert_eq!(state.members_behind_from, None);
    let totals: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT user_id, activity_total FROM members
         WHERE guild_id = $1 AND activity_total > 0 ORDER BY user_id",
    )
    .bind(GUILD as i64)
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut want: BTreeMap<i64, i64> = BTreeMap::new();
    for r in &records {
        *want.entry(r.user_id as i64).or_default() += 1;
    }
    assert_eq!(totals, want.into_iter().collect::<Vec<_>>());
    check(&pool, &records, (&joins, &[]), tz, &[(119, 0), (70, 50)]).await;
}

#[tokio::test]
async fn an_interrupted_rebuild_resumes_and_gives_the_same_figures() {
    let (_dir, pool) = support::temp_store().await;
    let mut rng = StdRng::seed_from_u64(21);
    let now = hearth::domain::clock::now().timestamp();
    let records = history(&mut rng, now, 120, 1_000);
    let joins = joins(&records);
    store_history(&pool, &records, &joins).await;
    let [known, _] = known_joins(&records, &joins, now);
    record_known(&pool, &known).await;
    let tz: Tz = "Europe/Paris".parse().unwrap();
    let today = hearth::domain::clock::now().with_timezone(&tz).date_naive();
    let failing_day = analytics::day_number(today - Duration::days(60));
    support::refuse_inserts(&pool, "guild_days", &format!("NEW.day = {failing_day}")).await;
    let failed =
        hearth::features::rollup::refresh(&pool, GUILD, tz, hearth::domain::clock::now()).await;
    assert!(failed.is_err(), "the refused day stops the rebuild");
    // (This store is one chunk of the rebuild, ~1M records: nothing of it is kept.)
    let state = db::rollup::state(&pool, GUILD).await.unwrap().unwrap();
    assert!(
        state.done_until <= failing_day,
        "the refused day is not finished ({} > {failing_day})",
        state.done_until
    );
    support::allow_inserts(&pool, "guild_days").await;
    check(
        &pool,
        &records,
        (&joins, &known),
        tz,
        &[(119, 0), (70, 50), (30, 0)],
    )
    .await;
}

/// (day, user, activity, connected, previous day, previous connected day)
type MemberDayRow = (i64, i64, i64, i64, Option<i64>, Option<i64>);
/// (user, activity, last day, last connected day, join day, retained at 30 and 90 days)
type MemberRow = (
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    i64,
    i64,
);

/// A rebuild of every day in chunks gives the definitions' figures, contacts across chunks
/// included; on PostgreSQL it writes member days and pairs without their indexes
/// (`BulkRebuild`), and every index is there again afterwards, as it was.
#[tokio::test]
async fn a_rebuild_in_chunks_matches_the_definitions_and_keeps_every_index() {
    let (_dir, pool) = support::temp_store().await;
    let indexes = || async {
        match db::Backend::of_pool(&pool) {
            db::Backend::Sqlite => Vec::new(),
            db::Backend::Postgres => sqlx::query_as::<_, (String, String)>(
                "SELECT indexname::text, indexdef::text FROM pg_indexes
                 WHERE tablename IN ('member_days', 'member_pairs') ORDER BY indexname",
            )
            .fetch_all(&pool)
            .await
            .unwrap(),
        }
    };
    let before = indexes().await;
    let mut rng = StdRng::seed_from_u64(44);
    let now = hearth::domain::clock::now().timestamp();
    let mut records = history(&mut rng, now, 120, 1_000);
    // Replies to other members' messages up to ten days older: contacts that connect member
    // days of earlier chunks.
    let messages: Vec<(i64, u64, u64)> = records
        .iter()
        .filter(|r| r.kind == Kind::Message)
        .map(|r| (r.at, r.user_id, r.target_id))
        .collect();
    for r in records.iter_mut() {
        if r.kind != Kind::Message || r.reply_to.is_none() {
            continue;
        }
        let older: Vec<u64> = messages
            .iter()
            .filter(|(at, user, _)| *user != r.user_id && *at < r.at && *at >= r.at - 10 * 86_400)
            .map(|(_, _, target)| *target)
            .collect();
        if !older.is_empty() {
            r.reply_to = Some(older[rng.gen_range(0..older.len())]);
        }
    }
    // Two new members in a thread ten minutes either side of every local midnight: a pair
    // connected on the next day, at each chunk's end too.
    let tz: Tz = "Europe/Paris".parse().unwrap();
    let today = hearth::domain::clock::now().with_timezone(&tz).date_naive();
    for back in 1..119 {
        let midnight = hearth::features::rollup::start_of(today - Duration::days(back), tz);
        for (i, at) in [midnight - 600, midnight + 600].into_iter().enumerate() {
            records.push(Record {
                guild_id: GUILD,
                user_id: 1_000 + 2 * back as u64 + i as u64,
                at,
                kind: Kind::Message,
                channel_id: 7,
                target_id: 800_000 + 2 * back as u64 + i as u64,
                reply_to: None,
                in_thread: true,
            });
        }
    }
    let joins = joins(&records);
    store_history(&pool, &records, &joins).await;
    let [known, _] = known_joins(&records, &joins, now);
    record_known(&pool, &known).await;
    // About a week a chunk: replies and threads reach across chunk boundaries.
    let chunk_records = records.len() as i64 / 17;
    let clock = hearth::domain::clock::now();
    hearth::features::rollup::refresh_in_chunks(&pool, GUILD, tz, clock, chunk_records)
        .await
        .unwrap();
    assert_eq!(indexes().await, before);
    // What the store holds is what one chunk (no contact reaching an earlier chunk) builds.
    let materialised = || async {
        let days: Vec<MemberDayRow> = sqlx::query_as(
            "SELECT day, user_id, activity, connected, prev_day, prev_connected FROM member_days
             ORDER BY day, user_id",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let members: Vec<MemberRow> = sqlx::query_as(
            "SELECT user_id, activity_total, last_done_day, last_connected_day, join_day,
                    retained_30, retained_90
             FROM members ORDER BY user_id",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let pairs: Vec<(i64, i64, i64)> =
            sqlx::query_as("SELECT user_a, user_b, first_day FROM member_pairs ORDER BY 1, 2")
                .fetch_all(&pool)
                .await
                .unwrap();
        let figures: Vec<(i64, i64)> =
            sqlx::query_as("SELECT day, new_pairs FROM connection_days ORDER BY day")
                .fetch_all(&pool)
                .await
                .unwrap();
        (days, members, pairs, figures)
    };
    let chunked = materialised().await;
    assert!(
        chunked.0.iter().filter(|d| d.3 == 1).count() > 100,
        "contacts connect member days"
    );
    sqlx::query("DELETE FROM rollups")
        .execute(&pool)
        .await
        .unwrap();
    hearth::features::rollup::refresh_in_chunks(&pool, GUILD, tz, clock, 1_000_000_000)
        .await
        .unwrap();
    assert_eq!(chunked, materialised().await);
    check(
        &pool,
        &records,
        (&joins, &known),
        tz,
        &[(119, 0), (70, 50), (30, 0)],
    )
    .await;
}
