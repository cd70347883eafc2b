//! The outbox table: posts written before they are sent.

use sqlx::AnyExecutor;

use super::{from_sql_id, to_sql_id, Backend, Pool};

/// A post to make, as queued by a feature.
#[derive(Clone, Debug)]
pub struct NewPost {
    pub guild_id: u64,
    /// The channel it goes to (the parent channel for threads, 0 for direct messages).
    pub channel_id: u64,
    /// What produced it (`greeting`, `welcome`, `prompt`, ...), for logs and `/config doctor`.
    pub kind: String,
    /// Identifies the event the post is for, so that queuing it twice queues it once.
    pub dedup_key: String,
    /// What to do, as JSON (see `outbox::Action`).
    pub body: serde_json::Value,
    /// Not before this unix time in ms (throttling); `None` means now.
    pub not_before_ms: Option<i64>,
}

/// A queued post that is due or pending.
#[derive(Clone, Debug)]
pub struct QueuedPost {
    pub id: i64,
    pub guild_id: i64,
    pub channel_id: i64,
    pub kind: String,
    pub nonce: String,
    pub body: String,
    pub attempts: i64,
    pub next_attempt_ms: i64,
    /// Unix seconds.
    pub created_at: i64,
}

super::from_row!(QueuedPost {
    id,
    guild_id,
    channel_id,
    kind,
    nonce,
    body,
    attempts,
    next_attempt_ms,
    created_at
});

impl QueuedPost {
    pub fn channel(&self) -> u64 {
        from_sql_id(self.channel_id)
    }
    pub fn guild(&self) -> u64 {
        from_sql_id(self.guild_id)
    }
}

/// Queues a post; returns its id, or `None` when a post with the same dedup key already exists.
pub async fn enqueue(
    db: impl AnyExecutor<'_>,
    post: &NewPost,
    nonce: &str,
    now_ms: i64,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "INSERT INTO outbox (guild_id, channel_id, kind, dedup_key, nonce, body, next_attempt_ms, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (dedup_key) DO NOTHING
         RETURNING id",
    )
    .bind(to_sql_id(post.guild_id))
    .bind(to_sql_id(post.channel_id))
    .bind(&post.kind)
    .bind(&post.dedup_key)
    .bind(nonce)
    .bind(post.body.to_string())
    .bind(post.not_before_ms.unwrap_or(now_ms).max(now_ms))
    .bind(now_ms / 1000)
    .fetch_optional(db)
    .await
}

/// Claims up to `limit` pending posts due at `now_ms` that nobody holds, until `claimed_until_ms`,
/// and returns them oldest first. One statement, so two workers (or processes) never get the
/// same post: SQLite runs one writer at a time; on PostgreSQL the rows chosen are locked and
/// those another worker has locked are skipped (without it, a concurrent claim would choose the
/// same rows from its snapshot and take them again once the first committed).
pub async fn claim_due(
    pool: &Pool,
    now_ms: i64,
    claimed_until_ms: i64,
    limit: i64,
) -> sqlx::Result<Vec<QueuedPost>> {
    claim_due_for(pool, 0, now_ms, claimed_until_ms, limit).await
}

/// [`claim_due`] for the process `owner` (see [`release_claims_of_the_gone`]).
pub async fn claim_due_for(
    pool: &Pool,
    owner: i64,
    now_ms: i64,
    claimed_until_ms: i64,
    limit: i64,
) -> sqlx::Result<Vec<QueuedPost>> {
    const SQLITE: &str = "UPDATE outbox SET claimed_until_ms = $2, claimed_by = $4
         WHERE id IN (SELECT id FROM outbox
                      WHERE status = 'pending' AND next_attempt_ms <= $1
                        AND (claimed_until_ms IS NULL OR claimed_until_ms <= $1)
                      ORDER BY next_attempt_ms, id LIMIT $3)
         RETURNING id, guild_id, channel_id, kind, nonce, body, attempts, next_attempt_ms, created_at";
    const POSTGRES: &str = "UPDATE outbox SET claimed_until_ms = $2, claimed_by = $4
         WHERE id IN (SELECT id FROM outbox
                      WHERE status = 'pending' AND next_attempt_ms <= $1
                        AND (claimed_until_ms IS NULL OR claimed_until_ms <= $1)
                      ORDER BY next_attempt_ms, id LIMIT $3
                      FOR UPDATE SKIP LOCKED)
         RETURNING id, guild_id, channel_id, kind, nonce, body, attempts, next_attempt_ms, created_at";
    let sql = match Backend::of_pool(pool) {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    };
    let mut posts: Vec<QueuedPost> = sqlx::query_as(sql)
        .bind(now_ms)
        .bind(claimed_until_ms)
        .bind(limit)
        .bind(owner)
        .fetch_all(pool)
        .await?;
    posts.sort_by_key(|p| (p.next_attempt_ms, p.id));
    Ok(posts)
}

/// Releases the claims of processes that are gone, so that their posts are sent without waiting
/// for the claims to expire. SQLite: one process runs on a store, so at its start every claim
/// is an earlier run's. PostgreSQL: several may; a live one holds the advisory lock keyed by its
/// owner number (db::advisory), which PostgreSQL drops when the process's session ends.
/// Advisory locks are per database: another database's Hearth on the same server is not one
/// of this store's processes.
pub async fn release_claims_of_the_gone(pool: &Pool) -> sqlx::Result<u64> {
    let query = match Backend::of_pool(pool) {
        Backend::Sqlite => sqlx::query(
            "UPDATE outbox SET claimed_until_ms = NULL, claimed_by = NULL
             WHERE status = 'pending' AND claimed_until_ms IS NOT NULL",
        ),
        Backend::Postgres => sqlx::query(
            "UPDATE outbox SET claimed_until_ms = NULL, claimed_by = NULL
             WHERE status = 'pending' AND claimed_until_ms IS NOT NULL
               AND (claimed_by IS NULL OR claimed_by NOT IN (
                   SELECT CAST(objid AS BIGINT) FROM pg_locks
                   WHERE locktype = 'advisory' AND granted AND objsubid = 2
                     AND CAST(classid AS BIGINT) = $1
                     AND database = (SELECT oid FROM pg_database
                                     WHERE datname = current_database())))",
        )
        .bind(i64::from(super::advisory::OWNER_SPACE)),
    };
    Ok(query.execute(pool).await?.rows_affected())
}

/// When the earliest pending post is due (unix ms), if any.
pub async fn next_due_ms(pool: &Pool) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT MIN(next_attempt_ms) FROM outbox WHERE status = 'pending'")
        .fetch_one(pool)
        .await
}

/// Number of posts not yet delivered nor given up.
pub async fn pending_count(pool: &Pool) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE status = 'pending'")
        .fetch_one(pool)
        .await
}

/// Records a successful delivery. The body is dropped: it may hold a member's own words (an
/// `/intro`), and nothing needs it once Discord has the post.
pub async fn mark_delivered(pool: &Pool, id: i64, message_id: u64, now: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE outbox SET status = 'delivered', attempts = attempts + 1, message_id = $2,
         finished_at = $3, last_error = NULL, body = '{}', claimed_until_ms = NULL WHERE id = $1",
    )
    .bind(id)
    .bind(to_sql_id(message_id))
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

/// Records a failed attempt that will be retried at `at_ms`.
pub async fn mark_retry(pool: &Pool, id: i64, at_ms: i64, error: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE outbox SET attempts = attempts + 1, next_attempt_ms = $2, last_error = $3,
         claimed_until_ms = NULL WHERE id = $1",
    )
    .bind(id)
    .bind(at_ms)
    .bind(error)
    .execute(pool)
    .await?;
    Ok(())
}

/// Puts a post back until `at_ms` without counting an attempt (rate limited, or waiting for
/// another post).
pub async fn mark_wait(pool: &Pool, id: i64, at_ms: i64, reason: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE outbox SET next_attempt_ms = $2, last_error = $3, claimed_until_ms = NULL WHERE id = $1",
    )
    .bind(id)
    .bind(at_ms)
    .bind(reason)
    .execute(pool)
    .await?;
    Ok(())
}

/// Records that a post was given up, with the reason.
pub async fn mark_failed(pool: &Pool, id: i64, reason: &str, now: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = $2, finished_at = $3,
         claimed_until_ms = NULL WHERE id = $1",
    )
    .bind(id)
    .bind(reason)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

/// When the last queued post of a kind in a guild is due, for spacing out bursts.
pub async fn last_due_ms(pool: &Pool, guild_id: u64, kind: &str) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT MAX(next_attempt_ms) FROM outbox WHERE guild_id = $1 AND kind = $2 AND status = 'pending'")
        .bind(to_sql_id(guild_id))
        .bind(kind)
        .fetch_one(pool)
        .await
}

/// When the member's intro thread, still queued, is due (unix ms): a DM falling back to that
/// thread waits for it.
pub async fn pending_intro_thread_due(
    pool: &Pool,
    guild_id: u64,
    user_id: u64,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "SELECT MIN(next_attempt_ms) FROM outbox
         WHERE kind = 'intro-thread' AND status = 'pending' AND guild_id = $1 AND dedup_key LIKE $2",
    )
    .bind(to_sql_id(guild_id))
    .bind(format!("intro:{guild_id}:{user_id}:%"))
    .fetch_one(pool)
    .await
}

/// A post's delivery state, for tests and `/config doctor`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostState {
    pub kind: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
}

super::from_row!(PostState {
    kind,
    status,
    attempts,
    last_error
});

/// Every post of a kind, oldest first (tests, diagnostics).
pub async fn states_of_kind(pool: &Pool, kind: &str) -> sqlx::Result<Vec<PostState>> {
    sqlx::query_as(
        "SELECT kind, status, attempts, last_error FROM outbox WHERE kind = $1 ORDER BY id",
    )
    .bind(kind)
    .fetch_all(pool)
    .await
}

/// Posts given up in a guild since `since` (unix seconds), newest first.
pub async fn recent_failures(
    pool: &Pool,
    guild_id: u64,
    since: i64,
) -> sqlx::Result<Vec<PostState>> {
    sqlx::query_as(
        "SELECT kind, status, attempts, last_error FROM outbox
         WHERE guild_id = $1 AND status = 'failed' AND finished_at >= $2
         ORDER BY finished_at DESC LIMIT 10",
    )
    .bind(to_sql_id(guild_id))
    .bind(since)
    .fetch_all(pool)
    .await
}

/// The message a delivered post created (for a thread started on it, also the thread's id).
pub async fn delivered_message_id(
    db: impl AnyExecutor<'_>,
    dedup_key: &str,
) -> sqlx::Result<Option<u64>> {
    let id: Option<Option<i64>> = sqlx::query_scalar(
        "SELECT message_id FROM outbox WHERE dedup_key = $1 AND status = 'delivered'",
    )
    .bind(dedup_key)
    .fetch_optional(db)
    .await?;
    Ok(id.flatten().map(super::from_sql_id))
}
