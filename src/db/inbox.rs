//! The manager's inbox (product §12): what the digest and `/today` read. Every query is bounded
//! by time on an index, so the digest stays fast on a year of records.

use sqlx::SqliteExecutor;

use super::{from_sql_id, to_sql_id};
use crate::domain::inbox::Post;

/// The digest's schedule: `(HH:MM, unanswered hours)`.
pub async fn digest(
    db: impl SqliteExecutor<'_>,
    guild_id: u64,
) -> sqlx::Result<Option<(String, i64)>> {
    sqlx::query_as("SELECT at, unanswered_hours FROM digests WHERE guild_id = $1")
        .bind(to_sql_id(guild_id))
        .fetch_optional(db)
        .await
}

pub async fn set_digest(
    db: impl SqliteExecutor<'_>,
    guild_id: u64,
    at: &str,
    unanswered_hours: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO digests (guild_id, at, unanswered_hours) VALUES ($1, $2, $3)
         ON CONFLICT (guild_id) DO UPDATE SET at = excluded.at,
         unanswered_hours = excluded.unanswered_hours",
    )
    .bind(to_sql_id(guild_id))
    .bind(at)
    .bind(unanswered_hours)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn clear_digest(db: impl SqliteExecutor<'_>, guild_id: u64) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM digests WHERE guild_id = $1")
        .bind(to_sql_id(guild_id))
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Members who joined since `since` (a join event, or the join time Discord gave) and are still
/// here: `(member, joined at, first message
/// at)`, first joined first.
pub async fn new_members(
    db: impl SqliteExecutor<'_>,
    guild_id: u64,
    since: i64,
) -> sqlx::Result<Vec<(u64, i64, Option<i64>)>> {
    let rows: Vec<(i64, i64, Option<i64>)> = sqlx::query_as(
        "SELECT user_id, COALESCE(last_joined_at, first_joined_at) AS joined, first_message_at
         FROM members
         WHERE guild_id = $1 AND COALESCE(last_joined_at, first_joined_at) >= $2
           AND (left_at IS NULL OR left_at < COALESCE(last_joined_at, first_joined_at))
         ORDER BY joined, user_id",
    )
    .bind(to_sql_id(guild_id))
    .bind(since)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(u, j, m)| (from_sql_id(u), j, m))
        .collect())
}

/// First messages of newcomers (first joined since `joined_since`) posted in `[from, until)`
/// that nobody else answered with a reply.
pub async fn unanswered_first_messages(
    db: impl SqliteExecutor<'_>,
    guild_id: u64,
    joined_since: i64,
    (from, until): (i64, i64),
) -> sqlx::Result<Vec<Post>> {
    let rows: Vec<(i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT f.user_id, f.channel_id, f.target_id, f.at FROM members m CROSS JOIN activity f
         WHERE m.guild_id = $1 AND m.first_joined_at >= $2
           AND m.first_message_at >= $3 AND m.first_message_at < $4
           AND f.guild_id = $1 AND f.user_id = m.user_id AND f.at = m.first_message_at
           AND f.kind = 1
           AND NOT EXISTS (SELECT 1 FROM activity r WHERE r.guild_id = $1
                           AND r.reply_to = f.target_id AND r.user_id <> f.user_id)
         ORDER BY f.at, f.target_id",
    )
    .bind(to_sql_id(guild_id))
    .bind(joined_since)
    .bind(from)
    .bind(until)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(u, c, t, at)| Post {
            user: from_sql_id(u),
            channel: from_sql_id(c),
            target: from_sql_id(t),
            at,
        })
        .collect())
}

/// Threads and forum posts started in `[from, until)`.
pub async fn threads_started(
    db: impl SqliteExecutor<'_>,
    guild_id: u64,
    (from, until): (i64, i64),
) -> sqlx::Result<Vec<Post>> {
    let rows: Vec<(i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT user_id, channel_id, target_id, at FROM activity
         WHERE guild_id = $1 AND at >= $2 AND at < $3 AND kind = 2 ORDER BY at, target_id",
    )
    .bind(to_sql_id(guild_id))
    .bind(from)
    .bind(until)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(u, c, t, at)| Post {
            user: from_sql_id(u),
            channel: from_sql_id(c),
            target: from_sql_id(t),
            at,
        })
        .collect())
}

/// Who posted in which thread since `since`: `(thread, member)` pairs.
pub async fn thread_posters(
    db: impl SqliteExecutor<'_>,
    guild_id: u64,
    since: i64,
) -> sqlx::Result<Vec<(u64, u64)>> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT DISTINCT channel_id, user_id FROM activity
         WHERE guild_id = $1 AND at >= $2 AND kind = 1 AND in_thread = 1",
    )
    .bind(to_sql_id(guild_id))
    .bind(since)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(c, u)| (from_sql_id(c), from_sql_id(u)))
        .collect())
}

pub async fn pending_applications(db: impl SqliteExecutor<'_>, guild_id: u64) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM applications WHERE guild_id = $1 AND status = 'pending'",
    )
    .bind(to_sql_id(guild_id))
    .fetch_one(db)
    .await
}
