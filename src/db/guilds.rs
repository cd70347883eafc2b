//! Guilds and their settings.

use std::str::FromStr;

use sqlx::AnyExecutor;

use super::{from_sql_id, to_sql_id};
use crate::domain::settings::{ChannelPurpose, StoredSettings};

/// Records that the bot is in a guild; returns true the first time it is ever seen.
pub async fn upsert_seen(pool: &super::Pool, guild_id: u64, now_ms: i64) -> sqlx::Result<bool> {
    let mut tx = pool.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO guilds (guild_id, first_seen_at, first_seen_ms) VALUES ($1, $2, $3)
         ON CONFLICT (guild_id) DO NOTHING",
    )
    .bind(to_sql_id(guild_id))
    .bind(now_ms.div_euclid(1000))
    .bind(now_ms)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    sqlx::query("UPDATE guilds SET left_at = NULL WHERE guild_id = $1")
        .bind(to_sql_id(guild_id))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(inserted)
}

/// When Hearth first saw the guild (unix ms), if it has. Guilds first seen before the
/// millisecond was kept count from the end of that second.
pub async fn first_seen_ms(db: impl AnyExecutor<'_>, guild_id: u64) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "SELECT COALESCE(first_seen_ms, first_seen_at * 1000 + 999) FROM guilds WHERE guild_id = $1",
    )
        .bind(to_sql_id(guild_id))
        .fetch_optional(db)
        .await
}

/// Ensures the guild row exists (settings rows reference it). A command can reach the bot
/// before the guild's GUILD_CREATE does, so this is first sight too, to the millisecond.
pub(crate) async fn ensure(db: impl AnyExecutor<'_>, guild_id: u64, now: i64) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO guilds (guild_id, first_seen_at, first_seen_ms) VALUES ($1, $2, $3)
         ON CONFLICT (guild_id) DO NOTHING",
    )
    .bind(to_sql_id(guild_id))
    .bind(now)
    .bind(crate::domain::clock::unix_now_ms().max(now.saturating_mul(1000)))
    .execute(db)
    .await?;
    Ok(())
}

/// Records that the bot was removed from a guild (its data is purged after a grace period).
pub async fn mark_left(db: impl AnyExecutor<'_>, guild_id: u64, now: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE guilds SET left_at = $2 WHERE guild_id = $1")
        .bind(to_sql_id(guild_id))
        .bind(now)
        .execute(db)
        .await?;
    Ok(())
}

/// Guilds the bot is in.
pub async fn present(pool: &super::Pool) -> sqlx::Result<Vec<u64>> {
    let rows: Vec<i64> = sqlx::query_scalar("SELECT guild_id FROM guilds WHERE left_at IS NULL")
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().map(super::from_sql_id).collect())
}

/// Reads a guild's stored settings (empty when never configured).
pub async fn settings(pool: &super::Pool, guild_id: u64) -> sqlx::Result<StoredSettings> {
    let row: Option<(Option<String>, Option<i64>)> =
        sqlx::query_as("SELECT timezone, manager_role_id FROM guilds WHERE guild_id = $1")
            .bind(to_sql_id(guild_id))
            .fetch_optional(pool)
            .await?;
    let (timezone, manager_role) = row.unwrap_or_default();
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT purpose, channel_id FROM guild_channels WHERE guild_id = $1")
            .bind(to_sql_id(guild_id))
            .fetch_all(pool)
            .await?;
    let channels = rows
        .into_iter()
        // A purpose renamed in a later version is ignored rather than failing every read.
        .filter_map(|(purpose, channel)| {
            Some((
                ChannelPurpose::from_str(&purpose).ok()?,
                from_sql_id(channel),
            ))
        })
        .collect();
    Ok(StoredSettings {
        timezone,
        manager_role: manager_role.map(from_sql_id),
        channels,
    })
}

/// Sets the guild's IANA time zone.
pub async fn set_timezone(
    pool: &super::Pool,
    guild_id: u64,
    timezone: &str,
    now: i64,
) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    ensure(&mut *tx, guild_id, now).await?;
    sqlx::query("UPDATE guilds SET timezone = $2 WHERE guild_id = $1")
        .bind(to_sql_id(guild_id))
        .bind(timezone)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Sets (or clears, with `None`) the manager role.
pub async fn set_manager_role(
    pool: &super::Pool,
    guild_id: u64,
    role: Option<u64>,
    now: i64,
) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    ensure(&mut *tx, guild_id, now).await?;
    sqlx::query("UPDATE guilds SET manager_role_id = $2 WHERE guild_id = $1")
        .bind(to_sql_id(guild_id))
        .bind(role.map(to_sql_id))
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Assigns the channel used for a purpose.
pub async fn set_channel(
    pool: &super::Pool,
    guild_id: u64,
    purpose: ChannelPurpose,
    channel_id: u64,
    now: i64,
) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    ensure(&mut *tx, guild_id, now).await?;
    put_channel(&mut *tx, guild_id, purpose, channel_id).await?;
    tx.commit().await
}

/// Remembers the server's name (shown in reports).
pub async fn set_name(db: impl AnyExecutor<'_>, guild_id: u64, name: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE guilds SET name = $2 WHERE guild_id = $1")
        .bind(to_sql_id(guild_id))
        .bind(name)
        .execute(db)
        .await?;
    Ok(())
}

/// The server's name, if known.
pub async fn name(db: impl AnyExecutor<'_>, guild_id: u64) -> sqlx::Result<Option<String>> {
    let name: Option<Option<String>> =
        sqlx::query_scalar("SELECT name FROM guilds WHERE guild_id = $1")
            .bind(to_sql_id(guild_id))
            .fetch_optional(db)
            .await?;
    Ok(name.flatten())
}

/// Sets the channel for a purpose in the caller's transaction (the guild row must exist: see
/// `ensure`).
pub async fn put_channel(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    purpose: ChannelPurpose,
    channel_id: u64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO guild_channels (guild_id, purpose, channel_id) VALUES ($1, $2, $3)
         ON CONFLICT (guild_id, purpose) DO UPDATE SET channel_id = excluded.channel_id",
    )
    .bind(to_sql_id(guild_id))
    .bind(purpose.name())
    .bind(to_sql_id(channel_id))
    .execute(db)
    .await?;
    Ok(())
}
