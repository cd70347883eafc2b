//! Feedback items.

use sqlx::AnyExecutor;

use super::{from_sql_id, to_sql_id};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub id: i64,
    pub guild_id: i64,
    pub submitter_id: i64,
    pub title: String,
    pub category: String,
    pub status: String,
    pub outbox_id: Option<i64>,
    pub created_at: i64,
    pub acknowledged_at: Option<i64>,
    pub notify_dm: bool,
}

super::from_row!(Item {
    id,
    guild_id,
    submitter_id,
    title,
    category,
    status,
    outbox_id,
    created_at,
    acknowledged_at,
    notify_dm
});

impl Item {
    pub fn submitter(&self) -> u64 {
        from_sql_id(self.submitter_id)
    }
}

const COLUMNS: &str =
    "id, guild_id, submitter_id, title, category, status, outbox_id, created_at, acknowledged_at, notify_dm";

#[allow(clippy::too_many_arguments)]
pub async fn create(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    submitter: u64,
    title: &str,
    category: &str,
    source: Option<(u64, u64)>,
    now: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO feedback_items (guild_id, submitter_id, title, category, source_channel_id, source_message_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
    )
    .bind(to_sql_id(guild_id))
    .bind(to_sql_id(submitter))
    .bind(title)
    .bind(category)
    .bind(source.map(|(c, _)| to_sql_id(c)))
    .bind(source.map(|(_, m)| to_sql_id(m)))
    .bind(now)
    .fetch_one(db)
    .await
}

/// The submitter wants status changes by DM too.
pub async fn set_notify_dm(db: impl AnyExecutor<'_>, id: i64, on: bool) -> sqlx::Result<()> {
    sqlx::query("UPDATE feedback_items SET notify_dm = $2 WHERE id = $1")
        .bind(id)
        .bind(super::sql_flag(on))
        .execute(db)
        .await?;
    Ok(())
}

pub async fn set_outbox(db: impl AnyExecutor<'_>, id: i64, outbox_id: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE feedback_items SET outbox_id = $2 WHERE id = $1")
        .bind(id)
        .bind(outbox_id)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn get(db: impl AnyExecutor<'_>, guild_id: u64, id: i64) -> sqlx::Result<Option<Item>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM feedback_items WHERE guild_id = $1 AND id = $2"
    ))
    .bind(to_sql_id(guild_id))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Items, newest first, optionally filtered.
pub async fn list(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    status: Option<&str>,
    category: Option<&str>,
    since: i64,
) -> sqlx::Result<Vec<Item>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM feedback_items WHERE guild_id = $1 AND ($2 IS NULL OR status = $2) AND ($3 IS NULL OR category = $3)
         AND created_at >= $4 ORDER BY created_at DESC, id DESC"
    ))
    .bind(to_sql_id(guild_id))
    .bind(status)
    .bind(category)
    .bind(since)
    .fetch_all(db)
    .await
}

pub async fn set_status(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    id: i64,
    status: &str,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE feedback_items SET status = $3, updated_at = $4,
         acknowledged_at = COALESCE(acknowledged_at, CASE WHEN $3 <> 'new' THEN $4 END)
         WHERE guild_id = $1 AND id = $2",
    )
    .bind(to_sql_id(guild_id))
    .bind(id)
    .bind(status)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

/// The thread of an item once its post was delivered (the outbox row's message id).
pub async fn thread_of(db: impl AnyExecutor<'_>, outbox_id: i64) -> sqlx::Result<Option<u64>> {
    let id: Option<Option<i64>> =
        sqlx::query_scalar("SELECT message_id FROM outbox WHERE id = $1 AND status = 'delivered'")
            .bind(outbox_id)
            .fetch_optional(db)
            .await?;
    Ok(id.flatten().map(from_sql_id))
}
