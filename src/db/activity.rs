//! Activity records (IDs, times, channels, reply links; never content) and what the metrics read.

use std::collections::{HashMap, HashSet};

use sqlx::{AnyConnection, AnyExecutor, Connection as _};

use super::deferred_indexes::DeferredIndexes;
use super::{from_sql_id, to_sql_id, Pool};

/// What kind of activity a record is (product §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Message = 1,
    ThreadCreated = 2,
    Reaction = 3,
    VoiceJoin = 4,
}

/// One activity record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    pub guild_id: u64,
    pub user_id: u64,
    /// Unix seconds.
    pub at: i64,
    pub kind: Kind,
    pub channel_id: u64,
    /// The message, thread, or reacted-to message; unique per kind and member.
    pub target_id: u64,
    pub reply_to: Option<u64>,
    pub in_thread: bool,
}

/// Inserts records, any number; duplicates (replays, re-imports) are ignored. Returns how many
/// were new.
pub async fn insert(conn: &mut AnyConnection, records: &[Record]) -> sqlx::Result<u64> {
    let mut added = 0;
    for rows in super::statements::statements(records) {
        added += insert_rows(&mut *conn, rows).await?;
    }
    Ok(added)
}

async fn insert_rows(conn: &mut AnyConnection, records: &[Record]) -> sqlx::Result<u64> {
    // `OR IGNORE` (PostgreSQL: `ON CONFLICT DO NOTHING`) rather than `ON CONFLICT (...) DO
    // NOTHING`: a multi-row statement that may abort halfway makes SQLite copy every page it
    // touches to a statement journal on disk first: a quarter of the ingest's writes (issue 7).
    // One that ignores every conflict cannot abort, so it needs none. Records have no nullable
    // columns left unset and no checks, so nothing else is ignored.
    const COLUMNS: &str =
        "activity (guild_id, user_id, at, kind, channel_id, target_id, reply_to, in_thread)";
    let backend = super::Backend::of_connection(conn);
    let sql = match backend {
        super::Backend::Sqlite => super::statements::values(
            backend,
            &format!("INSERT OR IGNORE INTO {COLUMNS}"),
            records.len(),
            8,
        ),
        super::Backend::Postgres => {
            super::statements::values(backend, &format!("INSERT INTO {COLUMNS}"), records.len(), 8)
                + " ON CONFLICT DO NOTHING"
        }
    };
    let mut query = sqlx::query(&sql);
    for r in records {
        query = query
            .bind(to_sql_id(r.guild_id))
            .bind(to_sql_id(r.user_id))
            .bind(r.at)
            .bind(r.kind as i64)
            .bind(to_sql_id(r.channel_id))
            .bind(to_sql_id(r.target_id))
            .bind(r.reply_to.map(to_sql_id))
            .bind(super::sql_flag(r.in_thread));
    }
    Ok(query.execute(conn).await?.rows_affected())
}

/// A store holding fewer records than this takes a large load with its record indexes built
/// once at the end ([`BulkLoad`]); building them costs ~2 µs a record held (PostgreSQL, 542k
/// records: 1.1-1.3 s), so a larger store keeps them and takes the load a chunk at a time.
pub const BULK_LOAD_MAX_RECORDS: i64 = 1_000_000;

/// A load of many records into a nearly empty PostgreSQL store (`hearth import` of a
/// community's history after installing): on a connection of its own, in one transaction, the
/// records' constraints and indexes are dropped, the records copied in (`COPY`), and the
/// indexes built once they are in. Keeping the indexes costs PostgreSQL ~10 µs a record (the
/// real export's 542k records: 5.2-8.6 s with its seven indexes; 0.8 s copied into the bare
/// table, then 1.2 s to build them), and `COPY` reads rows at a third of an `INSERT`'s cost.
///
/// The table stays locked until the load ends: other processes' reads and writes of activity
/// wait meanwhile. A load that does not finish is rolled back with its connection: nothing of
/// it is kept, and the indexes are as they were.
pub struct BulkLoad {
    conn: sqlx::PgConnection,
    indexes: DeferredIndexes,
}

impl BulkLoad {
    /// Starts a bulk load when the store is PostgreSQL and holds fewer than `max_records`
    /// records; `None` otherwise (records are then written with their indexes, by [`insert`]).
    pub async fn begin(pool: &super::Pool, max_records: i64) -> sqlx::Result<Option<BulkLoad>> {
        use sqlx::ConnectOptions as _;
        if super::Backend::of_pool(pool) != super::Backend::Postgres {
            return Ok(None);
        }
        let url = pool.connect_options().database_url.clone();
        let mut conn = sqlx::postgres::PgConnectOptions::from_url(&url)?
            .connect()
            .await?;
        // Counted before the lock: a store too large for a bulk load is never held up.
        let held: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM (SELECT 1 FROM activity LIMIT $1) AS held")
                .bind(max_records)
                .fetch_one(&mut conn)
                .await?;
        if held >= max_records {
            conn.close().await?;
            return Ok(None);
        }
        sqlx::query("BEGIN").execute(&mut conn).await?;
        sqlx::query("LOCK TABLE activity IN ACCESS EXCLUSIVE MODE")
            .execute(&mut conn)
            .await?;
        let mut indexes = DeferredIndexes::default();
        indexes
            .drop::<sqlx::Postgres>(&mut conn, "activity")
            .await?;
        Ok(Some(BulkLoad { conn, indexes }))
    }

    /// Adds records, any number, with no check: [`finish`](Self::finish) removes the doubles.
    pub async fn insert(&mut self, records: &[Record]) -> sqlx::Result<()> {
        let rows: Vec<[Option<i64>; 8]> = records
            .iter()
            .map(|r| {
                [
                    Some(to_sql_id(r.guild_id)),
                    Some(to_sql_id(r.user_id)),
                    Some(r.at),
                    Some(r.kind as i64),
                    Some(to_sql_id(r.channel_id)),
                    Some(to_sql_id(r.target_id)),
                    r.reply_to.map(to_sql_id),
                    Some(super::sql_flag(r.in_thread)),
                ]
            })
            .collect();
        super::statements::copy_integers(
            &mut self.conn,
            "activity (guild_id, user_id, at, kind, channel_id, target_id, reply_to, in_thread)",
            &rows,
        )
        .await
    }

    /// Builds the constraints and indexes again and commits. A record the store held already,
    /// or that the load brought twice (replays, re-imports), is kept once, as first written
    /// (what [`insert`] does). Returns how many were removed as doubles.
    pub async fn finish(mut self) -> sqlx::Result<u64> {
        // Doubles are rare (a re-import): the constraints are first built as they are, and
        // only when one fails are the doubles looked for (a self-join, as costly as a build).
        sqlx::query("SAVEPOINT build")
            .execute(&mut self.conn)
            .await?;
        let mut removed = 0;
        match self.build().await {
            Ok(()) => {}
            Err(sqlx::Error::Database(e))
                if e.kind() == sqlx::error::ErrorKind::UniqueViolation =>
            {
                sqlx::query("ROLLBACK TO SAVEPOINT build")
                    .execute(&mut self.conn)
                    .await?;
                removed = sqlx::query(
                    "DELETE FROM activity AS later USING activity AS earlier
                     WHERE earlier.guild_id = later.guild_id AND earlier.kind = later.kind
                       AND earlier.target_id = later.target_id
                       AND earlier.user_id = later.user_id AND earlier.id < later.id",
                )
                .execute(&mut self.conn)
                .await?
                .rows_affected();
                self.build().await?;
            }
            Err(e) => return Err(e),
        }
        sqlx::query("COMMIT").execute(&mut self.conn).await?;
        self.conn.close().await?;
        Ok(removed)
    }

    async fn build(&mut self) -> sqlx::Result<()> {
        self.indexes.build::<sqlx::Postgres>(&mut self.conn).await
    }
}

/// How far apart a join notice's time and the join event's may be and still be one join.
const SAME_JOIN_SECS: i64 = 60;

/// Records the joins of imported member-join notices, except those the store already holds as
/// join events (the gateway's join and its notice carry times a few milliseconds apart).
pub async fn record_imported_joins(
    conn: &mut AnyConnection,
    joins: &[super::welcome::Join],
) -> sqlx::Result<()> {
    let mut new = Vec::with_capacity(joins.len());
    for join in joins {
        let known: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM member_joins WHERE guild_id = $1 AND user_id = $2
               AND joined_at >= $3 AND joined_at <= $4 LIMIT 1",
        )
        .bind(to_sql_id(join.guild_id))
        .bind(to_sql_id(join.user_id))
        .bind(join.joined_at - SAME_JOIN_SECS)
        .bind(join.joined_at + SAME_JOIN_SECS)
        .fetch_optional(&mut *conn)
        .await?;
        if known.is_none() {
            new.push(*join);
        }
    }
    if new.is_empty() {
        return Ok(());
    }
    super::welcome::record_joins(conn, &new).await
}

/// Activity count per member in `[since, until)`.
pub async fn counts(
    pool: &Pool,
    guild_id: u64,
    since: i64,
    until: i64,
) -> sqlx::Result<HashMap<u64, u64>> {
    let rows: Vec<(i64, i64)> =
        sqlx::query_as("SELECT user_id, COUNT(*) FROM activity WHERE guild_id = $1 AND at >= $2 AND at < $3 GROUP BY user_id")
            .bind(to_sql_id(guild_id))
            .bind(since)
            .bind(until)
            .fetch_all(pool)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(u, n)| (from_sql_id(u), u64::try_from(n).unwrap_or(0)))
        .collect())
}

/// When the guild `$1`'s first record is from, activity or join event: Hearth saw nothing
/// before (join times Discord reported are no record of what it saw).
const FIRST_RECORD: &str = "(SELECT MIN(t) FROM (SELECT MIN(at) AS t FROM activity WHERE guild_id = $1
                               UNION ALL SELECT MIN(joined_at) FROM member_joins WHERE guild_id = $1) AS firsts)";

/// The joins in `[$2, $3)` that reports count, as `(user_id, at)` rows (see
/// `domain::analytics::observed_joins`): join events; each member's first join known from
/// Discord (`first_joined_at`, the earliest of events and `joined_at` times) if it came after
/// the guild's first record (not members who were there before Hearth, issue 22); first
/// activity where no join is known (imported history). UNION: a first join that is a join event
/// is one.
fn observed_joins() -> String {
    format!(
        "SELECT user_id, joined_at AS at FROM member_joins
         WHERE guild_id = $1 AND joined_at >= $2 AND joined_at < $3
         UNION
         SELECT user_id, first_joined_at FROM members
         WHERE guild_id = $1 AND first_joined_at >= $2 AND first_joined_at < $3
           AND first_joined_at > {FIRST_RECORD}
         UNION
         SELECT user_id, first_active_at FROM members
         WHERE guild_id = $1 AND first_active_at >= $2 AND first_active_at < $3 AND first_joined_at IS NULL"
    )
}

/// Join instants in `[since, until)` (new members, product §6; see `observed_joins`).
pub async fn join_instants(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    since: i64,
    until: i64,
) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar(&format!("SELECT at FROM ({}) AS j", observed_joins()))
        .bind(to_sql_id(guild_id))
        .bind(since)
        .bind(until)
        .fetch_all(db)
        .await
}

/// Activation (product §6) of the joins in `[since, until)` (as [`join_instants`]): how many,
/// and how many were followed by the member's first message within 7 days.
pub async fn activation(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    since: i64,
    until: i64,
) -> sqlx::Result<(i64, i64)> {
    // Each joiner's first message looked up by key: as a join, PostgreSQL hashed every member
    // of the guild for a few hundred joins (48 ms against 2.8 ms on 100k members).
    let (joined, activated): (i64, Option<i64>) = sqlx::query_as(&format!(
        "SELECT COUNT(*), CAST(SUM(CASE WHEN j.first_message_at >= j.at
                                          AND j.first_message_at <= j.at + 604800
                                   THEN 1 ELSE 0 END) AS BIGINT)
         FROM (SELECT o.at, (SELECT m.first_message_at FROM members m
                             WHERE m.guild_id = $1 AND m.user_id = o.user_id) AS first_message_at
               FROM ({}) AS o) AS j",
        observed_joins()
    ))
    .bind(to_sql_id(guild_id))
    .bind(since)
    .bind(until)
    .fetch_one(db)
    .await?;
    Ok((joined, activated.unwrap_or(0)))
}

/// Leave times in `[since, until)`.
pub async fn leaves(pool: &Pool, guild_id: u64, since: i64, until: i64) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar(
        "SELECT left_at FROM members WHERE guild_id = $1 AND left_at >= $2 AND left_at < $3",
    )
    .bind(to_sql_id(guild_id))
    .bind(since)
    .bind(until)
    .fetch_all(pool)
    .await
}

/// Members of one guild who opted out of tracking.
pub async fn optouts_in(pool: &Pool, guild_id: u64) -> sqlx::Result<HashSet<u64>> {
    let rows: Vec<i64> =
        sqlx::query_scalar("SELECT user_id FROM tracking_optouts WHERE guild_id = $1")
            .bind(to_sql_id(guild_id))
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().map(from_sql_id).collect())
}

/// Members who opted out of tracking, across guilds.
pub async fn optouts(pool: &Pool) -> sqlx::Result<Vec<(u64, u64)>> {
    let rows: Vec<(i64, i64)> = sqlx::query_as("SELECT guild_id, user_id FROM tracking_optouts")
        .fetch_all(pool)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(g, u)| (from_sql_id(g), from_sql_id(u)))
        .collect())
}

pub async fn set_optout(
    pool: &Pool,
    guild_id: u64,
    user_id: u64,
    out: bool,
    now: i64,
) -> sqlx::Result<()> {
    let query = if out {
        "INSERT INTO tracking_optouts (guild_id, user_id, since) VALUES ($1, $2, $3) ON CONFLICT (guild_id, user_id) DO NOTHING"
    } else {
        "DELETE FROM tracking_optouts WHERE guild_id = $1 AND user_id = $2 AND $3 >= 0"
    };
    sqlx::query(query)
        .bind(to_sql_id(guild_id))
        .bind(to_sql_id(user_id))
        .bind(now)
        .execute(pool)
        .await?;
    Ok(())
}

/// Number of activity records of a member (tests; a scan, as raw records have no member index).
pub async fn count_for(pool: &Pool, guild_id: u64, user_id: u64) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM activity WHERE guild_id = $1 AND user_id = $2")
        .bind(to_sql_id(guild_id))
        .bind(to_sql_id(user_id))
        .fetch_one(pool)
        .await
}

/// For members who joined in `[since, until)`: seconds from their first message to its first
/// reply by someone else (`None` when unanswered), as the rollup keeps them. Members who never
/// posted are left out, and so are those who joined by the guild's first record (before
/// Hearth): the first message Hearth saw need not be theirs (issue 22).
pub async fn first_reply_delays(
    pool: &Pool,
    guild_id: u64,
    since: i64,
    until: i64,
) -> sqlx::Result<Vec<Option<i64>>> {
    sqlx::query_scalar(&format!(
        "SELECT first_reply_at - first_message_at FROM members
         WHERE guild_id = $1 AND first_joined_at >= $2 AND first_joined_at < $3
           AND first_joined_at > {FIRST_RECORD} AND first_message_at IS NOT NULL"
    ))
    .bind(to_sql_id(guild_id))
    .bind(since)
    .bind(until)
    .fetch_all(pool)
    .await
}

/// Per member with messages in `[since, until)`: (member, messages, replies and reactions from
/// others to those messages).
pub async fn response_counts(
    pool: &Pool,
    guild_id: u64,
    since: i64,
    until: i64,
) -> sqlx::Result<Vec<(u64, u64, u64)>> {
    let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
        // Two lookups per message, each on its own index (an OR in one join scans the guild's
        // replies for every message). A member's messages are distinct targets by the unique key.
        "SELECT m.user_id, COUNT(*),
                CAST(SUM((SELECT COUNT(*) FROM activity r WHERE r.guild_id = $1 AND r.reply_to = m.target_id
                        AND r.kind = 1 AND r.user_id <> m.user_id)
                  + (SELECT COUNT(*) FROM activity r WHERE r.guild_id = $1 AND r.kind = 3
                        AND r.target_id = m.target_id AND r.user_id <> m.user_id)) AS BIGINT)
         FROM activity m
         WHERE m.guild_id = $1 AND m.kind = 1 AND m.at >= $2 AND m.at < $3
         GROUP BY m.user_id",
    )
    .bind(to_sql_id(guild_id))
    .bind(since)
    .bind(until)
    .fetch_all(pool)
    .await?;
    let n = |x: i64| u64::try_from(x).unwrap_or(0);
    Ok(rows
        .into_iter()
        .map(|(u, m, r)| (from_sql_id(u), n(m), n(r)))
        .collect())
}

/// All activity records (the benchmark's loss check).
pub async fn total(pool: &Pool) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM activity")
        .fetch_one(pool)
        .await
}

/// The highest record id: a progress mark that costs one index step, where COUNT(*) scans
/// (the benchmark polls it while a replay is written; ids only grow).
pub async fn highest_id(pool: &Pool) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM activity")
        .fetch_one(pool)
        .await
}

/// Records per kind, over every guild (the benchmark's loss check).
pub async fn count_by_kind(pool: &Pool) -> sqlx::Result<Vec<(i64, i64)>> {
    sqlx::query_as("SELECT kind, COUNT(*) FROM activity GROUP BY kind ORDER BY kind")
        .fetch_all(pool)
        .await
}
