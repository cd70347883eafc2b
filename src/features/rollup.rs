//! Materialised days (product §6: reports over years of history stay fast, today included).
//! Every record is folded into its member's local day (`member_days`) soon after it is written:
//! the catch-up reads the records above a live mark, so no report reads raw records. A day that
//! has ended and settled is finished: its DAU/WAU/MAU and counts go to `guild_days`, each day
//! in one transaction with the progress mark, so an interrupted run resumes where it stopped.
//! Older history arriving (an import) or a time zone change rebuilds from raw records.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use sqlx::Connection as _;
use tokio::sync::Mutex;
use tracing::{debug, info};

use crate::db::activity::Kind;
use crate::db::rollup::{DayCounts, NewRecord};
use crate::db::{self, Pool};
use crate::domain::analytics::{self, date_of, day_number};
use crate::domain::connectedness::THREAD_WINDOW_SECS;
use crate::domain::rollup::{self, DayBounds, FoldedChunk};

/// A day is final this long after it ends: the activity writer holds records for at most a
/// fraction of a second, and a Discord event can arrive a little after its timestamp.
pub const SETTLE_SECS: i64 = 300;

/// One refresh at a time in this process (the scheduler and a report may both ask).
static REFRESH: Mutex<()> = Mutex::const_new(());

/// The first instant of a local day.
pub fn start_of(day: NaiveDate, tz: Tz) -> i64 {
    crate::domain::schedule::resolve(day.and_hms_opt(0, 0, 0).unwrap_or_default(), tz).timestamp()
}

/// The last local day that has ended and settled at `now`.
pub fn last_final_day(now: DateTime<Utc>, tz: Tz) -> NaiveDate {
    let today = now.with_timezone(&tz).date_naive();
    if now.timestamp() >= start_of(today, tz) + SETTLE_SECS {
        today - Duration::days(1)
    } else {
        today - Duration::days(2)
    }
}

/// Brings a guild's materialised days up to date and returns the first day that is not
/// finished (from it on, reports read live member days):
/// - new records are folded into `member_days` (the catch-up), so live days need no raw reads;
/// - each settled day gets its final figures;
/// - after an import of older history or a time zone change, the days concerned are rebuilt
///   from raw records first.
pub async fn refresh(
    pool: &Pool,
    guild_id: u64,
    tz: Tz,
    now: DateTime<Utc>,
) -> anyhow::Result<NaiveDate> {
    refresh_in_chunks(pool, guild_id, tz, now, REBUILD_CHUNK_RECORDS).await
}

/// [`refresh`], rebuilding finished days in chunks of about `chunk_records` records (tests
/// take small chunks to interrupt a rebuild between them).
pub async fn refresh_in_chunks(
    pool: &Pool,
    guild_id: u64,
    tz: Tz,
    now: DateTime<Utc>,
    chunk_records: i64,
) -> anyhow::Result<NaiveDate> {
    let _only_one = REFRESH.lock().await;
    let last = last_final_day(now, tz);
    let state = match db::rollup::state(pool, guild_id).await? {
        Some(state) if state.timezone == tz.name() => state,
        previous => {
            // New, or the time zone changed: every day boundary moved.
            let first = match db::rollup::earliest_activity(pool, guild_id).await? {
                Some(at) => crate::domain::schedule::local_date(at, tz),
                None => last + Duration::days(1),
            };
            if previous.is_some() {
                info!(
                    guild_id,
                    timezone = tz.name(),
                    "time zone changed; materialising days again"
                );
            }
            db::rollup::reset(pool, guild_id, tz.name(), day_number(first)).await?;
            db::rollup::State {
                timezone: tz.name().to_owned(),
                done_until: day_number(first),
                live_until_id: None,
                members_behind_from: None,
            }
        }
    };
    let started = std::time::Instant::now();
    // An interrupted rebuild whose members' totals were not added yet starts over from its
    // first day (its member days are dropped again).
    let mut first = date_of(
        state
            .members_behind_from
            .map_or(state.done_until, |day| day.min(state.done_until)),
    );
    if state.live_until_id.is_none() {
        rebuild(pool, guild_id, tz, (first, last), chunk_records).await?;
        info!(
            guild_id,
            from = %first,
            ms = started.elapsed().as_millis() as u64,
            "days rebuilt from raw records"
        );
        first = first.max(last + Duration::days(1));
    }
    catch_up(pool, guild_id, tz).await?;
    settle_known_joins(pool, guild_id, tz, first).await?;
    for d in analytics::days(first, last) {
        let mut tx = pool.begin().await?;
        finish(&mut tx, guild_id, tz, d).await?;
        tx.commit().await?;
    }
    if first <= last {
        let days = (last - first).num_days() + 1;
        info!(
            guild_id,
            days,
            ms = started.elapsed().as_millis() as u64,
            "days materialised"
        );
    }
    Ok(last + Duration::days(1))
}

/// Members who were there before Hearth (their join time known from Discord, no join event)
/// go into the cohort of the day they really joined, with their retention windows worked out
/// from the days kept, when that day is finished (before `first_unfinished`; later days settle
/// them as they are finished). Finished days their first join moved out of or into have their
/// joins and activation counted again (a first activity stops counting as a join, a join after
/// the guild's first record starts).
async fn settle_known_joins(
    pool: &Pool,
    guild_id: u64,
    tz: Tz,
    first_unfinished: NaiveDate,
) -> anyhow::Result<()> {
    let stale = db::rollup::stale_join_days(pool, guild_id).await?;
    if stale.is_empty() {
        return Ok(());
    }
    let finished = |day: NaiveDate| (day < first_unfinished).then(|| day_number(day));
    let settled: Vec<(i64, Option<i64>)> = stale
        .iter()
        .map(|s| {
            (
                s.user_id,
                finished(crate::domain::schedule::local_date(s.first_joined_at, tz)),
            )
        })
        .collect();
    let recount: std::collections::BTreeSet<i64> = stale
        .iter()
        .filter_map(|s| s.old_join_day)
        .chain(settled.iter().filter_map(|(_, day)| *day))
        .filter(|day| date_of(*day) < first_unfinished)
        .collect();
    let mut tx = db::rollup::begin_write(pool, guild_id).await?;
    db::rollup::settle_join_days(&mut tx, guild_id, &settled).await?;
    for day in &recount {
        let d = date_of(*day);
        let bounds = (*day, start_of(d, tz), start_of(d + Duration::days(1), tz));
        db::rollup::recount_joins(&mut tx, guild_id, bounds).await?;
    }
    tx.commit().await?;
    debug!(
        guild_id,
        members = settled.len(),
        days = recount.len(),
        "join days settled from Discord's join times"
    );
    Ok(())
}

/// Rebuilds `member_days` from raw records, from `first` on: the settled days a chunk at a time
/// (see [`rebuild_finished_days`]; an interrupted rebuild starts over from its first day, whose
/// members' totals were not added yet), then the live days in one transaction under the write
/// lock, which also sets the live mark.
async fn rebuild(
    pool: &Pool,
    guild_id: u64,
    tz: Tz,
    (first, last): (NaiveDate, NaiveDate),
    chunk_records: i64,
) -> anyhow::Result<()> {
    db::rollup::start_rebuild(pool, guild_id, day_number(first)).await?;
    rebuild_finished_days(pool, guild_id, tz, (first, last), chunk_records).await?;
    let bounds = |d: NaiveDate| (start_of(d, tz), start_of(d + Duration::days(1), tz));
    let mut tx = db::rollup::begin_write(pool, guild_id).await?;
    if db::rollup::state(&mut *tx, guild_id)
        .await?
        .is_some_and(|s| s.live_until_id.is_none())
    {
        let until_id = db::rollup::highest_id(&mut tx).await?;
        let latest = db::rollup::latest_activity(&mut *tx, guild_id).await?;
        let live_last = latest
            .map_or(last, |at| crate::domain::schedule::local_date(at, tz))
            .max(last);
        for d in analytics::days(last + Duration::days(1), live_last) {
            let (start, end) = bounds(d);
            db::rollup::rebuild_day(&mut tx, guild_id, day_number(d), start, end, until_id).await?;
        }
        db::rollup::find_first_replies(&mut tx, guild_id, start_of(first, tz)).await?;
        db::rollup::folded_until(&mut tx, guild_id, until_id).await?;
    }
    tx.commit().await?;
    // Millions of member days, members and pairs just written (members' rows last, by the
    // first replies): reports' plans need to know, and counts to read indexes alone.
    db::after_bulk_write(pool, &ROLLUP_TABLES, true).await?;
    Ok(())
}

/// About how many records one rebuild transaction folds by default (read at once, ~70 bytes
/// each): the days of a chunk are as many as hold that many on average. Fewer, larger
/// transactions write each page of the member days' indexes fewer times.
const REBUILD_CHUNK_RECORDS: i64 = 1_000_000;

/// What a rebuild writes.
const ROLLUP_TABLES: [&str; 5] = [
    "member_days",
    "members",
    "member_pairs",
    "guild_days",
    "connection_days",
];

/// How far back a chunk's messages are kept for the next chunk's replies.
const KEEP_MESSAGES_SECS: i64 = 2 * 86_400;

/// The rebuild's page cache on SQLite, in KiB.
const REBUILD_CACHE_KIB: u32 = 128 << 10;

/// Builds and finishes the settled days `first..=last` from raw records a chunk of days at a
/// time: each chunk's records read once and folded in memory (`domain::rollup`), written in
/// multi-row statements, and its days finished, in one transaction.
async fn rebuild_finished_days(
    pool: &Pool,
    guild_id: u64,
    tz: Tz,
    (first, last): (NaiveDate, NaiveDate),
    chunk_records: i64,
) -> anyhow::Result<()> {
    if first > last {
        return Ok(());
    }
    // The records may have just arrived in bulk (a copy, an import).
    db::after_bulk_write(pool, &["activity"], false).await?;
    let reader = db::rollup::RecordReader::open(pool).await?;
    // A connection of its own with a larger page cache (dropped with it, not handed back): the
    // member days' index by member takes rows at scattered places, and reading those pages
    // back cost ~15 µs a row with SQLite's default 2 MiB.
    let mut conn = db::counts_connection(pool).await?;
    db::set_cache_kib(&mut conn, REBUILD_CACHE_KIB).await?;
    db::defer_checkpoints(&mut conn).await?;
    let (carried, mut totals, chunk_days) = {
        let mut tx = conn.begin().await?;
        let (carried, totals) = db::rollup::members_at_start(&mut tx, guild_id).await?;
        let days = (last - first).num_days() + 1;
        let records = db::rollup::records_between(
            &mut tx,
            guild_id,
            (start_of(first, tz), start_of(last + Duration::days(1), tz)),
        )
        .await?;
        tx.commit().await?;
        let chunk_days = (chunk_records * days / records.max(1)).clamp(1, days);
        (carried, totals, chunk_days)
    };
    let mut chunks = Vec::new();
    let mut chunk_first = first;
    while chunk_first <= last {
        let chunk_last = (chunk_first + Duration::days(chunk_days - 1)).min(last);
        chunks.push(
            analytics::days(chunk_first, chunk_last)
                .map(|d| day_bounds(d, tz))
                .collect::<Vec<DayBounds>>(),
        );
        chunk_first = chunk_last + Duration::days(1);
    }
    let every_day: Vec<DayBounds> = chunks.concat();
    // On PostgreSQL, a rebuild of every day writes into tables without their indexes.
    let mut bulk =
        db::rollup::BulkRebuild::begin(pool, guild_id, db::rollup::BULK_REBUILD_MAX_ROWS).await?;
    // The next chunk is read and folded while this one is written (two cores: reading and
    // folding were a third of the time).
    let (sender, mut receiver) = tokio::sync::mpsc::channel(1);
    let folding = tokio::spawn(fold_chunks(reader, guild_id, tz, chunks, carried, sender));
    // Where the time goes (the slower side sets the pace): waiting for folded chunks, writing.
    let (mut waited, mut written) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
    let mut waiting = std::time::Instant::now();
    while let Some(folded) = receiver.recv().await {
        waited += waiting.elapsed();
        let writing = std::time::Instant::now();
        let (days, folded): (Vec<DayBounds>, FoldedChunk) = folded;
        let mut tx = conn.begin().await?;
        let new_firsts = totals.add(&folded.members);
        db::rollup::write_chunk_members(&mut tx, guild_id, &folded, &new_firsts).await?;
        match bulk.as_mut() {
            // Not beside the statements below: the two cores are busy reading and folding
            // the next chunk (side by side, the reads fell behind by 11 s).
            Some(bulk) => bulk.copy_chunk(guild_id, &folded).await?,
            None => db::rollup::write_chunk_days(&mut tx, guild_id, &folded).await?,
        }
        for (day, figures) in days.iter().zip(&folded.figures) {
            let activation = day_bounds(date_of(day.day) - Duration::days(8), tz);
            // (A bulk rebuild settles join days at its end, with the retention windows.)
            if bulk.is_none() {
                db::rollup::set_join_day(&mut tx, guild_id, (day.day, day.start, day.end)).await?;
            }
            db::rollup::finish_counted_day(
                &mut tx,
                guild_id,
                tz.name(),
                (day.day, day.start, day.end),
                (activation.day, activation.start, activation.end),
                *figures,
                bulk.as_ref().map(|bulk| bulk.new_pairs_on(day.day)),
            )
            .await?;
        }
        // (A bulk rebuild sets them at its end: they read member days.)
        if let (Some(first), Some(last), None) = (days.first(), days.last(), &bulk) {
            db::rollup::retention_windows(&mut tx, guild_id, first.day, last.day).await?;
        }
        tx.commit().await?;
        written += writing.elapsed();
        waiting = std::time::Instant::now();
    }
    let writing = std::time::Instant::now();
    let deferred = match bulk {
        Some(bulk) => Some(bulk.finish().await?),
        None => None,
    };
    let mut tx = conn.begin().await?;
    match deferred {
        Some(deferred) => {
            db::rollup::mark_earlier_connected(&mut tx, guild_id, &deferred.earlier_connected)
                .await?;
            let stored = db::rollup::stored_cohorts(&mut tx, guild_id).await?;
            let cohorts = deferred.settle_cohorts(&stored, &every_day);
            db::rollup::add_member_totals_and_cohorts(
                &mut tx,
                guild_id,
                totals.totals(),
                &stored,
                &cohorts,
            )
            .await?;
        }
        None => db::rollup::add_member_totals(&mut tx, guild_id, totals.totals()).await?,
    }
    tx.commit().await?;
    written += writing.elapsed();
    debug!(
        guild_id,
        chunk_days,
        waited_ms = waited.as_millis() as u64,
        written_ms = written.as_millis() as u64,
        "finished days rebuilt"
    );
    folding.await??;
    // The log the deferred checkpoints let grow (GBs on a large store) is copied into the file
    // once and emptied: until then every read looked its pages up in it.
    db::checkpoint(pool).await?;
    Ok(())
}

fn day_bounds(d: NaiveDate, tz: Tz) -> DayBounds {
    DayBounds {
        day: day_number(d),
        start: start_of(d, tz),
        end: start_of(d + Duration::days(1), tz),
    }
}

/// Reads and folds the chunks in order, handing each to `sender` (which stops when the writer
/// stops taking them).
async fn fold_chunks(
    reader: db::rollup::RecordReader,
    guild_id: u64,
    tz: Tz,
    chunks: Vec<Vec<DayBounds>>,
    mut carried: rollup::Carried,
    sender: tokio::sync::mpsc::Sender<(Vec<DayBounds>, FoldedChunk)>,
) -> anyhow::Result<()> {
    // The previous chunk's latest messages: replies near a chunk's start mostly answer them
    // (the others are looked up).
    let mut previous: HashMap<u64, (u64, i64)> = HashMap::new();
    for days in chunks {
        let (Some(start), Some(end)) = (days.first().map(|d| d.start), days.last().map(|d| d.end))
        else {
            continue;
        };
        let records = reader
            .records(
                guild_id,
                (start - THREAD_WINDOW_SECS, end + THREAD_WINDOW_SECS),
                i64::MAX,
            )
            .await?;
        let mut messages = std::mem::take(&mut previous);
        messages.extend(
            records
                .iter()
                .filter(|r| r.kind == Kind::Message as i64)
                .map(|r| (r.target_id, (r.user_id, r.at))),
        );
        let unknown: BTreeSet<u64> = records
            .iter()
            .filter(|r| r.at >= start && r.at < end && r.kind == Kind::Message as i64)
            .filter_map(|r| r.reply_to)
            .filter(|target| !messages.contains_key(target))
            .collect();
        messages.extend(reader.messages(guild_id, &unknown, i64::MAX).await?);
        // Folding takes a second or two of a core: off the async workers.
        let (folded, days, records, back) = tokio::task::spawn_blocking(move || {
            let day_of = |at: i64| day_number(crate::domain::schedule::local_date(at, tz));
            let folded = rollup::fold_chunk(&days, &records, &messages, &mut carried, day_of);
            (folded, days, records, carried)
        })
        .await?;
        carried = back;
        previous = records
            .iter()
            .filter(|r| r.kind == Kind::Message as i64 && r.at >= end - KEEP_MESSAGES_SECS)
            .map(|r| (r.target_id, (r.user_id, r.at)))
            .collect();
        drop(records);
        if sender.send((days, folded)).await.is_err() {
            break;
        }
    }
    Ok(())
}

/// Finishes day `d` (see [`db::rollup::finish_day`]).
async fn finish(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    guild_id: u64,
    tz: Tz,
    d: NaiveDate,
) -> anyhow::Result<()> {
    let bounds = |d: NaiveDate| {
        (
            day_number(d),
            start_of(d, tz),
            start_of(d + Duration::days(1), tz),
        )
    };
    db::rollup::finish_day(
        tx,
        guild_id,
        tz.name(),
        bounds(d),
        bounds(d - Duration::days(8)),
    )
    .await?;
    Ok(())
}

/// How many records one catch-up transaction folds: the write lock is held for a bounded
/// time, so a backlog (after a burst of activity) does not stall the activity writer.
const CATCH_UP_CHUNK: i64 = 20_000;

/// Folds the records written since the last catch-up into live member days and members'
/// firsts, totals and first replies, a chunk at a time, each chunk in one transaction under the
/// write lock (so that a report in another process never folds the same records twice).
async fn catch_up(pool: &Pool, guild_id: u64, tz: Tz) -> anyhow::Result<()> {
    while catch_up_chunk(pool, guild_id, tz).await? == CATCH_UP_CHUNK as usize {}
    Ok(())
}

/// Folds up to [`CATCH_UP_CHUNK`] records; returns how many.
async fn catch_up_chunk(pool: &Pool, guild_id: u64, tz: Tz) -> anyhow::Result<usize> {
    let mut tx = db::rollup::begin_write(pool, guild_id).await?;
    let Some(state) = db::rollup::state(&mut *tx, guild_id).await? else {
        return Ok(0);
    };
    let Some(mark) = state.live_until_id else {
        return Ok(0);
    };
    let records = db::rollup::records_after(&mut tx, guild_id, mark, CATCH_UP_CHUNK).await?;
    let Some(highest) = records.iter().map(|r| r.id).max() else {
        return Ok(0);
    };
    let folded = fold(&records, tz, state.done_until);
    for ((user, day), counts) in folded.days {
        db::rollup::add_to_member_day(&mut tx, guild_id, user, day, counts).await?;
    }
    for (user, m) in folded.members {
        db::rollup::add_to_member(
            &mut tx,
            guild_id,
            user,
            m.first_active_at,
            m.first_message_at,
            m.activity,
        )
        .await?;
    }
    db::rollup::note_first_replies(&mut tx, guild_id, mark, highest).await?;
    db::rollup::folded_until(&mut tx, guild_id, highest).await?;
    tx.commit().await?;
    Ok(records.len())
}

/// What new records add to each member.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemberGains {
    pub first_active_at: i64,
    pub first_message_at: Option<i64>,
    /// Activity on days not finished (finished days are final; their totals do not change).
    pub activity: i64,
}

/// New records grouped by member and local day: counts for days from `done_until` on, and each
/// member's earliest activity and message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Folded {
    pub days: BTreeMap<(u64, i64), DayCounts>,
    pub members: BTreeMap<u64, MemberGains>,
}

pub fn fold(records: &[NewRecord], tz: Tz, done_until: i64) -> Folded {
    let mut folded = Folded::default();
    for r in records {
        let is_message = r.kind == Kind::Message as i64;
        let member = folded.members.entry(r.user_id).or_insert(MemberGains {
            first_active_at: r.at,
            ..MemberGains::default()
        });
        member.first_active_at = member.first_active_at.min(r.at);
        if is_message {
            member.first_message_at = Some(member.first_message_at.map_or(r.at, |t| t.min(r.at)));
        }
        let day = day_number(crate::domain::schedule::local_date(r.at, tz));
        if day < done_until {
            continue;
        }
        member.activity += 1;
        let counts = folded.days.entry((r.user_id, day)).or_default();
        counts.activity += 1;
        if is_message {
            counts.messages += 1;
            if r.is_reply {
                counts.replies += 1;
            }
        }
        if r.kind == Kind::ThreadCreated as i64 {
            counts.threads += 1;
        }
    }
    folded
}

/// Older records arrived (an import): days from the one holding `earliest` on are
/// materialised again at the next refresh.
pub async fn rewind(pool: &Pool, guild_id: u64, earliest: i64) -> anyhow::Result<()> {
    let _only_one = REFRESH.lock().await;
    if let Some(state) = db::rollup::state(pool, guild_id).await? {
        let tz: Tz = state.timezone.parse().unwrap_or(Tz::UTC);
        db::rollup::rewind(
            pool,
            guild_id,
            day_number(crate::domain::schedule::local_date(earliest, tz)),
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn new_records_fold_into_local_days_and_finished_days_stay_final() {
        let tz: Tz = "Europe/Paris".parse().unwrap();
        let at = |d, h| {
            tz.with_ymd_and_hms(2026, 3, d, h, 30, 0)
                .unwrap()
                .timestamp()
        };
        let day = |d| day_number(NaiveDate::from_ymd_opt(2026, 3, d).unwrap());
        let record = |id, user_id, at, kind: Kind, is_reply| NewRecord {
            id,
            user_id,
            at,
            kind: kind as i64,
            is_reply,
        };
        let records = [
            // Day 9 is finished: it only moves member 1's first activity.
            record(1, 1, at(9, 23), Kind::Reaction, false),
            // 00:30 in Paris is still the 10th's first hour, though it is the 9th in UTC.
            record(2, 1, at(10, 0), Kind::Message, true),
            record(3, 1, at(10, 12), Kind::ThreadCreated, false),
            record(4, 2, at(11, 8), Kind::Message, false),
        ];
        let folded = fold(&records, tz, day(10));
        assert_eq!(
            folded.days.get(&(1, day(10))),
            Some(&DayCounts {
                activity: 2,
                messages: 1,
                replies: 1,
                threads: 1
            })
        );
        assert_eq!(folded.days.len(), 2);
        assert_eq!(
            folded.members.get(&1),
            Some(&MemberGains {
                first_active_at: at(9, 23),
                first_message_at: Some(at(10, 0)),
                activity: 2,
            })
        );
        assert_eq!(folded.members.get(&2).map(|m| m.activity), Some(1));
    }

    #[test]
    fn a_day_is_final_once_it_has_settled() {
        let tz: Tz = "Europe/Paris".parse().unwrap();
        let at = |h, m| {
            tz.with_ymd_and_hms(2026, 3, 10, h, m, 0)
                .unwrap()
                .with_timezone(&Utc)
        };
        let day = |d| NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
        assert_eq!(last_final_day(at(0, 2), tz), day(8));
        assert_eq!(last_final_day(at(0, 5), tz), day(9));
        assert_eq!(last_final_day(at(23, 0), tz), day(9));
    }
}
