//! The scheduler's jobs: one row per scheduled thing (a prompt, a guild's monthly report, ...),
//! whose `next_run_at` is the truth about when it runs next.

use sqlx::AnyExecutor;

use super::to_sql_id;

/// A scheduled job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Job {
    pub id: i64,
    pub guild_id: i64,
    pub target_id: i64,
    pub next_run_at: Option<i64>,
}

super::from_row!(Job {
    id,
    guild_id,
    target_id,
    next_run_at
});

/// Creates or moves the job of a target.
pub async fn upsert(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    kind: &str,
    target_id: i64,
    next_run_at: Option<i64>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO jobs (guild_id, kind, target_id, next_run_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (kind, target_id) DO UPDATE SET next_run_at = excluded.next_run_at",
    )
    .bind(to_sql_id(guild_id))
    .bind(kind)
    .bind(target_id)
    .bind(next_run_at)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn get(
    db: impl AnyExecutor<'_>,
    kind: &str,
    target_id: i64,
) -> sqlx::Result<Option<Job>> {
    sqlx::query_as(
        "SELECT id, guild_id, target_id, next_run_at FROM jobs WHERE kind = $1 AND target_id = $2",
    )
    .bind(kind)
    .bind(target_id)
    .fetch_optional(db)
    .await
}

/// Jobs of a kind due at `now`.
pub async fn due(db: impl AnyExecutor<'_>, kind: &str, now: i64) -> sqlx::Result<Vec<Job>> {
    sqlx::query_as("SELECT id, guild_id, target_id, next_run_at FROM jobs WHERE kind = $1 AND next_run_at <= $2 ORDER BY next_run_at")
        .bind(kind)
        .bind(now)
        .fetch_all(db)
        .await
}

/// The earliest run of any job.
pub async fn next_run(db: impl AnyExecutor<'_>) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT MIN(next_run_at) FROM jobs")
        .fetch_one(db)
        .await
}

/// Moves a job from the run at `due` to `next`; false when someone else already did (the claim).
pub async fn advance(
    db: impl AnyExecutor<'_>,
    id: i64,
    due: i64,
    next: Option<i64>,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET next_run_at = $3, last_run_at = $2 WHERE id = $1 AND next_run_at = $2",
    )
    .bind(id)
    .bind(due)
    .bind(next)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Upcoming runs of a guild's jobs, for `/calendar`.
pub async fn of_guild(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
) -> sqlx::Result<Vec<(String, i64, Option<i64>)>> {
    sqlx::query_as(
        "SELECT kind, target_id, next_run_at FROM jobs WHERE guild_id = $1 ORDER BY next_run_at",
    )
    .bind(to_sql_id(guild_id))
    .fetch_all(db)
    .await
}

/// Creates a job unless the target already has one.
pub async fn insert_if_missing(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    kind: &str,
    target_id: i64,
    next_run_at: Option<i64>,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO jobs (guild_id, kind, target_id, next_run_at) VALUES ($1, $2, $3, $4) ON CONFLICT (kind, target_id) DO NOTHING")
        .bind(to_sql_id(guild_id))
        .bind(kind)
        .bind(target_id)
        .bind(next_run_at)
        .execute(db)
        .await?;
    Ok(())
}

/// Removes the job of a target.
pub async fn delete(db: impl AnyExecutor<'_>, kind: &str, target_id: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM jobs WHERE kind = $1 AND target_id = $2")
        .bind(kind)
        .bind(target_id)
        .execute(db)
        .await?;
    Ok(())
}
