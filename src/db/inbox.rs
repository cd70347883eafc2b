//! The manager's inbox (product §12): what the digest and `/today` read. Every query is bounded
//! by time on an index, so the digest stays fast on a year of records.

use sqlx::AnyExecutor;

use super::{from_sql_id, to_sql_id};
use crate::domain::inbox::Post;

/// The digest's schedule: `(HH:MM, unanswered hours)`.
pub async fn digest(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
) -> sqlx::Result<Option<(String, i64)>> {
    sqlx::query_as("SELECT at, unanswered_hours FROM digests WHERE guild_id = $1")
        .bind(to_sql_id(guild_id))
        .fetch_optional(db)
        .await
}

pub async fn set_digest(
    db: impl AnyExecutor<'_>,
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

pub async fn clear_digest(db: impl AnyExecutor<'_>, guild_id: u64) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM digests WHERE guild_id = $1")
        .bind(to_sql_id(guild_id))
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Members who first joined since `since` (a join event, or the join time Discord gave) and are
/// still here: `(member, joined at, first message
/// at)`, first joined first.
pub async fn new_members(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    since: i64,
) -> sqlx::Result<Vec<(u64, i64, Option<i64>)>> {
    let rows: Vec<(i64, i64, Option<i64>)> = sqlx::query_as(
        "SELECT user_id, first_joined_at, first_message_at FROM members
         WHERE guild_id = $1 AND first_joined_at >= $2
           AND (left_at IS NULL OR left_at < COALESCE(last_joined_at, first_joined_at))
         ORDER BY first_joined_at, user_id",
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
/// that nobody else answered with a reply. (The unary `+` keeps SQLite from carrying the time
/// range over to `f.at`, which would scan every record of the window per newcomer instead of
/// looking up one.)
pub async fn unanswered_first_messages(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    joined_since: i64,
    (from, until): (i64, i64),
) -> sqlx::Result<Vec<Post>> {
    let rows: Vec<(i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT f.user_id, f.channel_id, f.target_id, f.at FROM members m CROSS JOIN activity f
         WHERE m.guild_id = $1 AND m.first_joined_at >= $2
           AND +m.first_message_at >= $3 AND +m.first_message_at < $4
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

/// Threads and forum posts started by newcomers (first joined since `joined_since`) in
/// `[from, until)` in which nobody else has posted.
pub async fn unanswered_newcomer_threads(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    joined_since: i64,
    (from, until): (i64, i64),
) -> sqlx::Result<Vec<Post>> {
    let rows: Vec<(i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT t.user_id, t.channel_id, t.target_id, t.at FROM activity t
         WHERE t.guild_id = $1 AND t.kind = 2 AND t.at >= $3 AND t.at < $4
           AND t.user_id IN (SELECT user_id FROM members
                             WHERE guild_id = $1 AND first_joined_at >= $2)
           AND NOT EXISTS (SELECT 1 FROM activity m WHERE m.guild_id = $1
                           AND m.channel_id = t.target_id AND m.in_thread = 1
                           AND m.user_id <> t.user_id)
         ORDER BY t.at, t.target_id",
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

pub async fn pending_applications(db: impl AnyExecutor<'_>, guild_id: u64) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM applications WHERE guild_id = $1 AND status = 'pending'",
    )
    .bind(to_sql_id(guild_id))
    .fetch_one(db)
    .await
}

/// The weekly recap's channel and schedule.
pub async fn recap(db: impl AnyExecutor<'_>, guild_id: u64) -> sqlx::Result<Option<(u64, String)>> {
    let row: Option<(i64, String)> =
        sqlx::query_as("SELECT channel_id, at FROM recaps WHERE guild_id = $1")
            .bind(to_sql_id(guild_id))
            .fetch_optional(db)
            .await?;
    Ok(row.map(|(c, at)| (from_sql_id(c), at)))
}

pub async fn set_recap(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    channel: u64,
    at: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO recaps (guild_id, channel_id, at) VALUES ($1, $2, $3)
         ON CONFLICT (guild_id) DO UPDATE SET channel_id = excluded.channel_id, at = excluded.at",
    )
    .bind(to_sql_id(guild_id))
    .bind(to_sql_id(channel))
    .bind(at)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn clear_recap(db: impl AnyExecutor<'_>, guild_id: u64) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM recaps WHERE guild_id = $1")
        .bind(to_sql_id(guild_id))
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Messages posted in each thread in `[from, until)`: `(thread, messages)`.
pub async fn thread_messages(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    (from, until): (i64, i64),
) -> sqlx::Result<Vec<(u64, i64)>> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT channel_id, COUNT(*) FROM activity
         WHERE guild_id = $1 AND at >= $2 AND at < $3 AND kind = 1 AND in_thread = 1
         GROUP BY channel_id",
    )
    .bind(to_sql_id(guild_id))
    .bind(from)
    .bind(until)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|(c, n)| (from_sql_id(c), n)).collect())
}

/// Who started a thread (a member whose thread Hearth recorded; none for the bot's own threads
/// or an opted-out member's).
pub async fn thread_starter(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    thread: u64,
) -> sqlx::Result<Option<u64>> {
    let user: Option<i64> = sqlx::query_scalar(
        "SELECT user_id FROM activity WHERE guild_id = $1 AND kind = 2 AND target_id = $2 LIMIT 1",
    )
    .bind(to_sql_id(guild_id))
    .bind(to_sql_id(thread))
    .fetch_optional(db)
    .await?;
    Ok(user.map(from_sql_id))
}
