//! A rebuild's reads and writes (see `domain::rollup`): the raw records of a chunk of days read
//! once, the folded chunk written as multi-row statements ([`insert_integers`]), or on
//! PostgreSQL, when every day of a guild is rebuilt, copied into tables without their indexes
//! ([`BulkRebuild`]).
//!
//! On SQLite the records are read through rusqlite on a read-only connection of its own:
//! sqlx's SQLite driver hands each row from its connection thread to the caller and decodes it
//! into owned values, ~5 µs a row (measured on 2M records: 9.3 s through `SqliteConnection`,
//! 13.3 s through `Any`), which alone would put a year of 20M records past a minute; rusqlite
//! steps the statement in place (0.4 µs a row, SQLite's own scan speed). PostgreSQL's are read
//! on a connection of its own too, as PostgreSQL rows; an in-memory SQLite store (which a
//! second connection cannot see) through the pool.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use sqlx::{Any, Connection as _, Transaction};

use super::{ADD_TO_MEMBER, EARLIER_FIRSTS};
use crate::db::deferred_indexes::DeferredIndexes;
use crate::db::statements::{copy_integers, insert_integers, positional};
use crate::db::{from_sql_id, to_sql_id, Backend, Pool};
use crate::domain::analytics::{RETAINED_30, RETAINED_90};
use crate::domain::rollup::{
    Carried, Cohort, Deferred, FoldedChunk, MemberChange, MemberDay, MemberTotals, StoredCohort,
    StoredRecord,
};

/// Where a rebuild reads raw records from.
pub enum RecordReader {
    Sqlite(Arc<Mutex<rusqlite::Connection>>),
    /// A connection of its own, rows decoded as PostgreSQL's: through `Any` each row is
    /// converted once more (a year's 20M records: 24.7 s in the reads).
    Postgres(tokio::sync::Mutex<sqlx::PgConnection>),
    /// An in-memory SQLite store, which a second connection cannot see.
    Pool(Pool),
}

/// [`RECORDS`] for PostgreSQL: ties in time come in any order and are put in id order here (an
/// incremental sort there cost ~0.25 s of each million records).
const RECORDS_BY_TIME: &str =
    "SELECT id, user_id, at, kind, channel_id, target_id, reply_to, in_thread
     FROM activity WHERE guild_id = $1 AND at >= $2 AND at < $3 AND id <= $4 ORDER BY at";

const RECORDS: &str = "SELECT id, user_id, at, kind, channel_id, target_id, reply_to, in_thread
                       FROM activity WHERE guild_id = $1 AND at >= $2 AND at < $3 AND id <= $4
                       ORDER BY at, id";

type RecordRow = (i64, i64, i64, i64, i64, i64, Option<i64>, i64);

fn record((id, user, at, kind, channel, target, reply_to, in_thread): RecordRow) -> StoredRecord {
    StoredRecord {
        id,
        user_id: from_sql_id(user),
        at,
        kind,
        channel_id: from_sql_id(channel),
        target_id: from_sql_id(target),
        reply_to: reply_to.map(from_sql_id),
        in_thread: in_thread != 0,
    }
}

impl RecordReader {
    /// A reader for the store behind `pool`.
    pub async fn open(pool: &Pool) -> anyhow::Result<Self> {
        use sqlx::ConnectOptions as _;
        let url = pool.connect_options().database_url.clone();
        let path: Option<PathBuf> = match Backend::of_pool(pool) {
            Backend::Sqlite => crate::db::database_path(url.as_str())?,
            Backend::Postgres => {
                let mut conn = sqlx::postgres::PgConnectOptions::from_url(&url)?
                    .connect()
                    .await?;
                // Compiling a plan for each chunk's read took ~80 ms and saved nothing.
                sqlx::query("SET jit = off").execute(&mut conn).await?;
                return Ok(Self::Postgres(tokio::sync::Mutex::new(conn)));
            }
        };
        let Some(path) = path else {
            return Ok(Self::Pool(pool.clone()));
        };
        let connection = rusqlite::Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .with_context(|| format!("cannot read the database {}", path.display()))?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(Self::Sqlite(Arc::new(Mutex::new(connection))))
    }

    /// A guild's records with `since <= at < until` and an id up to `until_id`, in time order.
    pub async fn records(
        &self,
        guild_id: u64,
        (since, until): (i64, i64),
        until_id: i64,
    ) -> anyhow::Result<Vec<StoredRecord>> {
        match self {
            Self::Sqlite(connection) => {
                let connection = connection.clone();
                let guild = to_sql_id(guild_id);
                tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<StoredRecord>> {
                    let connection = connection
                        .lock()
                        .map_err(|_| anyhow::anyhow!("the record reader panicked"))?;
                    let mut statement = connection.prepare_cached(RECORDS)?;
                    let rows = statement.query_map((guild, since, until, until_id), |row| {
                        Ok(record((
                            row.get(0)?,
                            row.get(1)?,
                            row.get(2)?,
                            row.get(3)?,
                            row.get(4)?,
                            row.get(5)?,
                            row.get(6)?,
                            row.get(7)?,
                        )))
                    })?;
                    Ok(rows.collect::<Result<Vec<_>, _>>()?)
                })
                .await?
            }
            Self::Postgres(conn) => {
                let mut rows: Vec<RecordRow> = sqlx::query_as(RECORDS_BY_TIME)
                    .bind(to_sql_id(guild_id))
                    .bind(since)
                    .bind(until)
                    .bind(until_id)
                    .fetch_all(&mut *conn.lock().await)
                    .await?;
                // Nearly sorted already: one pass over runs.
                rows.sort_by_key(|(id, _, at, ..)| (*at, *id));
                Ok(rows.into_iter().map(record).collect())
            }
            Self::Pool(pool) => {
                let rows: Vec<RecordRow> = sqlx::query_as(RECORDS)
                    .bind(to_sql_id(guild_id))
                    .bind(since)
                    .bind(until)
                    .bind(until_id)
                    .fetch_all(pool)
                    .await?;
                Ok(rows.into_iter().map(record).collect())
            }
        }
    }

    /// The messages (kind 1) with these targets and an id up to `until_id`: target → (author,
    /// time).
    pub async fn messages(
        &self,
        guild_id: u64,
        targets: &BTreeSet<u64>,
        until_id: i64,
    ) -> anyhow::Result<HashMap<u64, (u64, i64)>> {
        const ONE: &str = "SELECT target_id, user_id, at FROM activity
                           WHERE guild_id = $1 AND kind = 1 AND target_id = $2 AND +id <= $3";
        let guild = to_sql_id(guild_id);
        let targets: Vec<i64> = targets.iter().map(|t| to_sql_id(*t)).collect();
        let rows: Vec<(i64, i64, i64)> = match self {
            Self::Sqlite(connection) => {
                let connection = connection.clone();
                tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<(i64, i64, i64)>> {
                    let connection = connection
                        .lock()
                        .map_err(|_| anyhow::anyhow!("the record reader panicked"))?;
                    let mut statement = connection.prepare_cached(ONE)?;
                    let mut found = Vec::new();
                    for target in targets {
                        let mut rows = statement.query((guild, target, until_id))?;
                        while let Some(row) = rows.next()? {
                            found.push((row.get(0)?, row.get(1)?, row.get(2)?));
                        }
                    }
                    Ok(found)
                })
                .await??
            }
            Self::Postgres(conn) => {
                sqlx::query_as(
                    "SELECT target_id, user_id, at FROM activity
                     WHERE guild_id = $1 AND kind = 1 AND id + 0 <= $2 AND target_id = ANY($3)",
                )
                .bind(guild)
                .bind(until_id)
                .bind(&targets)
                .fetch_all(&mut *conn.lock().await)
                .await?
            }
            Self::Pool(pool) => {
                let backend = Backend::of_pool(pool);
                let mut found = Vec::new();
                for chunk in targets.chunks(500) {
                    let sql = positional(
                        backend,
                        &format!(
                            "SELECT target_id, user_id, at FROM activity
                             WHERE guild_id = ? AND kind = 1 AND +id <= ? AND target_id IN ({})",
                            vec!["?"; chunk.len()].join(", ")
                        ),
                    );
                    let mut query = sqlx::query_as::<_, (i64, i64, i64)>(&sql)
                        .bind(guild)
                        .bind(until_id);
                    for target in chunk {
                        query = query.bind(*target);
                    }
                    found.extend(query.fetch_all(pool).await?);
                }
                found
            }
        };
        Ok(rows
            .into_iter()
            .map(|(target, user, at)| (from_sql_id(target), (from_sql_id(user), at)))
            .collect())
    }
}

/// How many records a guild has with `since <= at < until` (on the time index alone).
pub async fn records_between(
    tx: &mut Transaction<'_, Any>,
    guild_id: u64,
    (since, until): (i64, i64),
) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM activity WHERE guild_id = $1 AND at >= $2 AND at < $3")
        .bind(to_sql_id(guild_id))
        .bind(since)
        .bind(until)
        .fetch_one(&mut **tx)
        .await
}

/// What a rebuild starts from, read from members' rows (after `start_rebuild` took them back to
/// the kept days): their last finished active day and last connected day, carried from chunk to
/// chunk, and the firsts the store has, which the rebuild's totals start from.
pub async fn members_at_start(
    tx: &mut Transaction<'_, Any>,
    guild_id: u64,
) -> sqlx::Result<(Carried, MemberTotals)> {
    type Row = (i64, Option<i64>, Option<i64>, Option<i64>, Option<i64>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT user_id, last_done_day, last_connected_day, first_active_at, first_message_at
         FROM members
         WHERE guild_id = $1 AND (last_done_day IS NOT NULL OR last_connected_day IS NOT NULL
                                  OR first_active_at IS NOT NULL OR first_message_at IS NOT NULL)",
    )
    .bind(to_sql_id(guild_id))
    .fetch_all(&mut **tx)
    .await?;
    let mut last_active = HashMap::new();
    let mut last_connected = HashMap::new();
    let mut firsts = HashMap::new();
    for (user, done, connected, first_active, first_message) in rows {
        let user = from_sql_id(user);
        if let Some(day) = done {
            last_active.insert(user, day);
        }
        if let Some(day) = connected {
            last_connected.insert(user, day);
        }
        if first_active.is_some() || first_message.is_some() {
            firsts.insert(user, (first_active, first_message));
        }
    }
    Ok((
        Carried::new(last_active, last_connected),
        MemberTotals::new(firsts),
    ))
}

/// Writes what a folded chunk changes in members' rows: the firsts it moves earlier
/// (`new_firsts`, see [`MemberTotals`]); the first chunk of a rebuild also marks members'
/// totals as behind from its first day, until [`add_member_totals`].
pub async fn write_chunk_members(
    tx: &mut Transaction<'_, Any>,
    guild_id: u64,
    chunk: &FoldedChunk,
    new_firsts: &[MemberChange],
) -> sqlx::Result<()> {
    let guild = Some(to_sql_id(guild_id));
    if let Some(first_day) = chunk.figures.first().map(|f| f.day) {
        sqlx::query(
            "UPDATE rollups SET members_behind_from = COALESCE(members_behind_from, $2)
             WHERE guild_id = $1",
        )
        .bind(to_sql_id(guild_id))
        .bind(first_day)
        .execute(&mut **tx)
        .await?;
    }
    let new_firsts: Vec<[Option<i64>; 4]> = new_firsts
        .iter()
        .map(|m| {
            [
                guild,
                Some(to_sql_id(m.user_id)),
                Some(m.first_active_at),
                m.first_message_at,
            ]
        })
        .collect();
    insert_integers(
        tx,
        "INSERT INTO members (guild_id, user_id, first_active_at, first_message_at)",
        EARLIER_FIRSTS,
        &new_firsts,
    )
    .await
}

/// Writes a folded chunk's member days and pairs, and marks the member-days before the chunk
/// its contacts connect (a bulk rebuild copies them instead: [`BulkRebuild::copy_chunk`]).
pub async fn write_chunk_days(
    tx: &mut Transaction<'_, Any>,
    guild_id: u64,
    chunk: &FoldedChunk,
) -> sqlx::Result<()> {
    insert_integers(
        tx,
        &format!("INSERT INTO {MEMBER_DAYS}"),
        "",
        &member_day_rows(guild_id, chunk),
    )
    .await?;
    let pairs: BTreeMap<(u64, u64), i64> = chunk
        .pairs
        .iter()
        .map(|(pair, day)| (*pair, *day))
        .collect();
    crate::db::connectedness::add_pairs(tx, guild_id, &pairs).await?;
    mark_earlier_connected(tx, guild_id, &chunk.earlier_connected).await
}

/// A chunk's member days as rows for [`MEMBER_DAYS`], by member: the index by member takes
/// each member's rows together, visiting its pages in order (the key by day only spans the
/// chunk's days, new pages at the end of the table).
fn member_day_rows(guild_id: u64, chunk: &FoldedChunk) -> Vec<[Option<i64>; 10]> {
    let guild = Some(to_sql_id(guild_id));
    let mut member_days: Vec<&MemberDay> = chunk.member_days.iter().collect();
    member_days.sort_unstable_by_key(|r| (r.user_id, r.day));
    member_days
        .iter()
        .map(|r| {
            [
                guild,
                Some(r.day),
                Some(to_sql_id(r.user_id)),
                Some(r.activity),
                Some(r.messages),
                Some(r.replies),
                Some(r.threads),
                r.prev_day,
                Some(i64::from(r.connected)),
                r.prev_connected,
            ]
        })
        .collect()
}

/// Member days' columns, as [`member_day_rows`] gives them.
const MEMBER_DAYS: &str = "member_days (guild_id, day, user_id, activity, messages, replies,
                                        threads, prev_day, connected, prev_connected)";

/// Marks member-days connected by contacts of a later chunk.
pub async fn mark_earlier_connected(
    tx: &mut Transaction<'_, Any>,
    guild_id: u64,
    earlier_connected: &BTreeMap<i64, BTreeSet<u64>>,
) -> sqlx::Result<()> {
    for (day, users) in earlier_connected {
        let users: Vec<u64> = users.iter().copied().collect();
        crate::db::connectedness::mark_connected(tx, guild_id, *day, &users).await?;
    }
    Ok(())
}

/// A store whose member days and pairs hold fewer rows than this (the guild's own rows dropped
/// by the rebuild's start) takes a rebuild of a guild's every day as a [`BulkRebuild`]; building
/// the indexes again costs ~2 µs a row held.
pub const BULK_REBUILD_MAX_ROWS: i64 = 1_000_000;

/// A rebuild of a guild's every day on PostgreSQL (the first report after an import, an
/// upgrade or a time zone change) into member days and pairs tables without their indexes,
/// which are built once at the end: PostgreSQL keeping them up cost ~80 s of a year's 170 s
/// (4.5M member days, 2.8M pairs). On a connection of its own, in one transaction that holds
/// both tables locked, rows are copied in (`COPY`); the rest of each chunk is written and
/// committed as in any rebuild. Nothing reads these tables meanwhile, so what a rebuild looked
/// up in them as it went is kept in memory instead ([`Deferred`]: the pairs met so far, the
/// marks on earlier chunks' member-days, each member's active days), and made after
/// [`finish`](Self::finish): the marks, then members' join days and retention flags with their
/// totals ([`add_member_totals_and_cohorts`]). Other processes' reads of these tables wait
/// until it ends. A rebuild that does not finish rolls its rows back with its connection: its
/// committed chunks say members' totals are behind, so the next report starts it over.
pub struct BulkRebuild {
    conn: sqlx::PgConnection,
    indexes: DeferredIndexes,
    deferred: Deferred,
    /// Time spent copying rows in (the debug log).
    copying: std::time::Duration,
}

/// The tables a bulk rebuild writes without their indexes.
const DEFERRED_TABLES: [&str; 2] = ["member_days", "member_pairs"];

impl BulkRebuild {
    /// Starts a bulk rebuild when the store is PostgreSQL, holds no member day or pair of the
    /// guild (every day is rebuilt) and fewer than `max_rows` of other guilds'.
    pub async fn begin(
        pool: &Pool,
        guild_id: u64,
        max_rows: i64,
    ) -> sqlx::Result<Option<BulkRebuild>> {
        use sqlx::ConnectOptions as _;
        if Backend::of_pool(pool) != Backend::Postgres {
            return Ok(None);
        }
        let url = pool.connect_options().database_url.clone();
        let mut conn = sqlx::postgres::PgConnectOptions::from_url(&url)?
            .connect()
            .await?;
        sqlx::query("BEGIN").execute(&mut conn).await?;
        sqlx::query("LOCK TABLE member_days, member_pairs IN ACCESS EXCLUSIVE MODE")
            .execute(&mut conn)
            .await?;
        for table in DEFERRED_TABLES {
            let (held, guilds): (i64, Option<i64>) = sqlx::query_as(&format!(
                "SELECT COUNT(*), CAST(SUM(CASE WHEN guild_id = $2 THEN 1 ELSE 0 END) AS BIGINT)
                 FROM (SELECT guild_id FROM {table} LIMIT $1) AS held"
            ))
            .bind(max_rows)
            .bind(to_sql_id(guild_id))
            .fetch_one(&mut conn)
            .await?;
            if held >= max_rows || guilds.unwrap_or(0) > 0 {
                conn.close().await?;
                return Ok(None);
            }
        }
        let mut indexes = DeferredIndexes::default();
        for table in DEFERRED_TABLES {
            indexes.drop::<sqlx::Postgres>(&mut conn, table).await?;
        }
        Ok(Some(BulkRebuild {
            conn,
            indexes,
            deferred: Deferred::default(),
            copying: std::time::Duration::ZERO,
        }))
    }

    /// How many pairs first connected on `day`, of the chunks copied so far (for
    /// `db::connectedness::finish_day`: the pairs have no index to count them by).
    pub fn new_pairs_on(&self, day: i64) -> i64 {
        self.deferred.new_pairs_on(day)
    }

    /// Copies a chunk's member days and its pairs met for the first time (chunks in day
    /// order); keeps its marks on earlier member-days for the end.
    pub async fn copy_chunk(&mut self, guild_id: u64, chunk: &FoldedChunk) -> sqlx::Result<()> {
        let new_pairs = self.deferred.add(chunk);
        let started = std::time::Instant::now();
        let member_days = member_day_rows(guild_id, chunk);
        copy_integers(&mut self.conn, MEMBER_DAYS, &member_days).await?;
        let guild = Some(to_sql_id(guild_id));
        let pairs: Vec<[Option<i64>; 4]> = new_pairs
            .iter()
            .map(|((a, b), day)| [guild, Some(to_sql_id(*a)), Some(to_sql_id(*b)), Some(*day)])
            .collect();
        copy_integers(
            &mut self.conn,
            "member_pairs (guild_id, user_a, user_b, first_day)",
            &pairs,
        )
        .await?;
        self.copying += started.elapsed();
        Ok(())
    }

    /// Builds the indexes again and commits; returns what was kept in memory: the marks on
    /// earlier chunks' member-days, for [`mark_earlier_connected`], and members' active days,
    /// for their cohorts ([`add_member_totals_and_cohorts`]).
    pub async fn finish(mut self) -> sqlx::Result<Deferred> {
        let building = std::time::Instant::now();
        self.indexes.build::<sqlx::Postgres>(&mut self.conn).await?;
        // What follows reads both tables, which the planner last saw empty.
        sqlx::query(&format!("ANALYZE {}", DEFERRED_TABLES.join(", ")))
            .execute(&mut self.conn)
            .await?;
        sqlx::query("COMMIT").execute(&mut self.conn).await?;
        self.conn.close().await?;
        tracing::debug!(
            copied_ms = self.copying.as_millis() as u64,
            built_ms = building.elapsed().as_millis() as u64,
            "member days and pairs copied, their indexes built"
        );
        Ok(self.deferred)
    }
}

/// How a rebuild's totals update a member's row: the earlier firsts, the activity added, the
/// last active day (a bulk rebuild's cohort-only rows have none) and the later connected day.
fn add_totals() -> String {
    format!(
        "{ADD_TO_MEMBER},
           last_done_day = COALESCE(excluded.last_done_day, members.last_done_day),
           last_connected_day = CASE WHEN members.last_connected_day IS NULL
                                       OR excluded.last_connected_day > members.last_connected_day
                                     THEN excluded.last_connected_day
                                     ELSE members.last_connected_day END"
    )
}

/// A rebuild's totals of a member as the first columns of a members row.
fn totals_row(guild_id: u64, m: &MemberChange) -> [Option<i64>; 7] {
    [
        Some(to_sql_id(guild_id)),
        Some(to_sql_id(m.user_id)),
        Some(m.first_active_at),
        m.first_message_at,
        Some(m.activity),
        Some(m.last_done_day),
        m.last_connected_day,
    ]
}

const TOTALS_COLUMNS: &str = "guild_id, user_id, first_active_at, first_message_at,
                              activity_total, last_done_day, last_connected_day";

/// Adds a rebuild's activity totals and last active and connected days to members' rows, and
/// marks them as counting every member day again (the rebuild's last step).
pub async fn add_member_totals<'a>(
    tx: &mut Transaction<'_, Any>,
    guild_id: u64,
    totals: impl Iterator<Item = &'a MemberChange>,
) -> sqlx::Result<()> {
    let totals: Vec<[Option<i64>; 7]> = totals.map(|m| totals_row(guild_id, m)).collect();
    insert_integers(
        tx,
        &format!("INSERT INTO members ({TOTALS_COLUMNS})"),
        &add_totals(),
        &totals,
    )
    .await?;
    members_caught_up(tx, guild_id).await
}

/// A bulk rebuild's last step: [`add_member_totals`] with members' cohorts settled in memory
/// (`domain::rollup::Deferred::settle_cohorts`), each member's row written once (on PostgreSQL
/// each write of a row writes its nine index entries; the per-day path wrote each joiner's
/// row up to four times). `cohorts` holds every member read by [`stored_cohorts`]; a member
/// without totals is written only if their cohort changed.
pub async fn add_member_totals_and_cohorts<'a>(
    tx: &mut Transaction<'_, Any>,
    guild_id: u64,
    totals: impl Iterator<Item = &'a MemberChange>,
    stored: &[StoredCohort],
    cohorts: &HashMap<u64, Cohort>,
) -> sqlx::Result<()> {
    // A member's totals (none: a member only whose cohort changed) and cohort.
    let row = |user_id: u64, totals: Option<&MemberChange>, c: Cohort| {
        let [guild, user, first_active, first_message, activity, done, connected] = match totals {
            Some(m) => totals_row(guild_id, m),
            None => {
                let (guild, user) = (to_sql_id(guild_id), to_sql_id(user_id));
                [Some(guild), Some(user), None, None, Some(0), None, None]
            }
        };
        let (retained_30, retained_90) = (i64::from(c.retained_30), i64::from(c.retained_90));
        [
            guild,
            user,
            first_active,
            first_message,
            activity,
            done,
            connected,
            c.join_day,
            Some(retained_30),
            Some(retained_90),
        ]
    };
    let mut written = HashSet::new();
    let mut rows: Vec<[Option<i64>; 10]> = totals
        .map(|m| {
            written.insert(m.user_id);
            // A member not read has no join, first activity or join day: nothing to settle.
            let cohort = cohorts.get(&m.user_id).copied().unwrap_or_default();
            row(m.user_id, Some(m), cohort)
        })
        .collect();
    rows.extend(
        stored
            .iter()
            .filter(|m| !written.contains(&m.user_id))
            .filter_map(|m| {
                let cohort = cohorts.get(&m.user_id).filter(|c| **c != m.cohort)?;
                Some(row(m.user_id, None, *cohort))
            }),
    );
    insert_integers(
        tx,
        &format!("INSERT INTO members ({TOTALS_COLUMNS}, join_day, retained_30, retained_90)"),
        &format!(
            "{}, join_day = excluded.join_day, retained_30 = excluded.retained_30,
                 retained_90 = excluded.retained_90",
            add_totals()
        ),
        &rows,
    )
    .await?;
    members_caught_up(tx, guild_id).await
}

/// Members now count every member day again.
async fn members_caught_up(tx: &mut Transaction<'_, Any>, guild_id: u64) -> sqlx::Result<()> {
    sqlx::query("UPDATE rollups SET members_behind_from = NULL WHERE guild_id = $1")
        .bind(to_sql_id(guild_id))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Members' first joins and activity and their cohorts as the store has them (every member
/// with one of them), for `domain::rollup::Deferred::settle_cohorts`.
pub async fn stored_cohorts(
    tx: &mut Transaction<'_, Any>,
    guild_id: u64,
) -> sqlx::Result<Vec<StoredCohort>> {
    type Row = (i64, Option<i64>, Option<i64>, Option<i64>, i64, i64);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT user_id, first_joined_at, first_active_at, join_day, retained_30, retained_90
         FROM members
         WHERE guild_id = $1 AND (first_joined_at IS NOT NULL OR first_active_at IS NOT NULL
                                  OR join_day IS NOT NULL)",
    )
    .bind(to_sql_id(guild_id))
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(user, first_joined_at, first_active_at, join_day, r30, r90)| StoredCohort {
                user_id: from_sql_id(user),
                first_joined_at,
                first_active_at,
                cohort: Cohort {
                    join_day,
                    retained_30: r30 != 0,
                    retained_90: r90 != 0,
                },
            },
        )
        .collect())
}

/// Sets the retention windows of members whose windows reach days `first..=last` (just
/// finished): a member is retained at 30 (90) days if they were active on a finished day 30-59
/// (90-119) days after their join day. What finishing each day one at a time sets. Only flags
/// that change are written: on PostgreSQL each write of a member's row writes its nine index
/// entries again, and most flags stay as they are.
pub async fn retention_windows(
    tx: &mut Transaction<'_, Any>,
    guild_id: u64,
    first: i64,
    last: i64,
) -> sqlx::Result<()> {
    for (flag, (start, end)) in [("retained_30", RETAINED_30), ("retained_90", RETAINED_90)] {
        let active_in_window = format!(
            "EXISTS (SELECT 1 FROM member_days d
                     WHERE d.guild_id = members.guild_id AND d.user_id = members.user_id
                       AND d.day >= members.join_day + {start}
                       AND d.day <= members.join_day + {end} AND d.day <= $3)"
        );
        for (to, from, condition) in [
            (1, 0, active_in_window.clone()),
            (0, 1, format!("NOT {active_in_window}")),
        ] {
            sqlx::query(&format!(
                "UPDATE members SET {flag} = {to}
                 WHERE guild_id = $1 AND join_day >= $2 - {end} AND join_day <= $3 - {start}
                   AND {flag} = {from} AND {condition}"
            ))
            .bind(to_sql_id(guild_id))
            .bind(first)
            .bind(last)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}
