//! Membership applications: who applied and what was decided.

use sqlx::AnyExecutor;

use super::{from_sql_id, to_sql_id, Pool};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Application {
    pub id: i64,
    pub guild_id: i64,
    pub user_id: i64,
    pub status: String,
    pub decline_reason: Option<String>,
}

super::from_row!(Application {
    id,
    guild_id,
    user_id,
    status,
    decline_reason
});

impl Application {
    pub fn user(&self) -> u64 {
        from_sql_id(self.user_id)
    }
    pub fn guild(&self) -> u64 {
        from_sql_id(self.guild_id)
    }
}

pub async fn create(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    user_id: u64,
    now: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO applications (guild_id, user_id, created_at) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(to_sql_id(guild_id))
    .bind(to_sql_id(user_id))
    .bind(now)
    .fetch_one(db)
    .await
}

pub async fn get(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    id: i64,
) -> sqlx::Result<Option<Application>> {
    sqlx::query_as("SELECT id, guild_id, user_id, status, decline_reason FROM applications WHERE guild_id = $1 AND id = $2")
        .bind(to_sql_id(guild_id))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Whether the member has an application waiting for a decision.
pub async fn has_pending(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    user_id: u64,
) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM applications WHERE guild_id = $1 AND user_id = $2 AND status = 'pending'")
        .bind(to_sql_id(guild_id))
        .bind(to_sql_id(user_id))
        .fetch_one(db)
        .await?;
    Ok(n > 0)
}

/// Records a decision; false when the application was already decided (a second click).
pub async fn decide(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    id: i64,
    status: &str,
    by: u64,
    reason: Option<&str>,
    now: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE applications SET status = $3, decided_by = $4, decline_reason = $5, decided_at = $6
         WHERE guild_id = $1 AND id = $2 AND status = 'pending'",
    )
    .bind(to_sql_id(guild_id))
    .bind(id)
    .bind(status)
    .bind(to_sql_id(by))
    .bind(reason)
    .bind(now)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The role granted on approval.
pub async fn role(pool: &Pool, guild_id: u64) -> sqlx::Result<Option<u64>> {
    let role: Option<Option<i64>> =
        sqlx::query_scalar("SELECT application_role_id FROM guilds WHERE guild_id = $1")
            .bind(to_sql_id(guild_id))
            .fetch_optional(pool)
            .await?;
    Ok(role.flatten().map(from_sql_id))
}

pub async fn set_role(pool: &Pool, guild_id: u64, role: Option<u64>, now: i64) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    super::guilds::ensure(&mut *tx, guild_id, now).await?;
    sqlx::query("UPDATE guilds SET application_role_id = $2 WHERE guild_id = $1")
        .bind(to_sql_id(guild_id))
        .bind(role.map(to_sql_id))
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}
