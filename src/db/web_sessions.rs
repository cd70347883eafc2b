//! Dashboard logins (`web_sessions`): who holds a session and until when.

use sqlx::AnyExecutor;

use super::{from_sql_id, to_sql_id};

/// Records a session under the hash of its id.
pub async fn insert(
    db: impl AnyExecutor<'_>,
    id_hash: &str,
    user_id: u64,
    created_at: i64,
    expires_at: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO web_sessions (id_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(id_hash)
    .bind(to_sql_id(user_id))
    .bind(created_at)
    .bind(expires_at)
    .execute(db)
    .await?;
    Ok(())
}

/// The user of a session that has not expired at `now`.
pub async fn user_of(
    db: impl AnyExecutor<'_>,
    id_hash: &str,
    now: i64,
) -> sqlx::Result<Option<u64>> {
    let user: Option<i64> = sqlx::query_scalar(
        "SELECT user_id FROM web_sessions WHERE id_hash = $1 AND expires_at > $2",
    )
    .bind(id_hash)
    .bind(now)
    .fetch_optional(db)
    .await?;
    Ok(user.map(from_sql_id))
}

/// Ends a session (logout).
pub async fn delete(db: impl AnyExecutor<'_>, id_hash: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM web_sessions WHERE id_hash = $1")
        .bind(id_hash)
        .execute(db)
        .await?;
    Ok(())
}

/// Deletes sessions that expired before `now`; returns how many.
pub async fn delete_expired(db: impl AnyExecutor<'_>, now: i64) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM web_sessions WHERE expires_at <= $1")
        .bind(now)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}
