//! Saved replies and flags (product §12).

use sqlx::AnyExecutor;

use super::{from_sql_id, to_sql_id};

/// A saved reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedReply {
    pub id: i64,
    pub name: String,
    pub body: String,
}

super::from_row!(SavedReply { id, name, body });

/// Saves a new reply and its first version; `None` when the name is taken.
pub async fn add_reply(
    db: &mut sqlx::AnyConnection,
    guild_id: u64,
    name: &str,
    body: &str,
    by: u64,
    now: i64,
) -> sqlx::Result<Option<i64>> {
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO saved_replies (guild_id, name, body, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (guild_id, name) DO NOTHING RETURNING id",
    )
    .bind(to_sql_id(guild_id))
    .bind(name)
    .bind(body)
    .bind(to_sql_id(by))
    .bind(now)
    .fetch_optional(&mut *db)
    .await?;
    if let Some(id) = id {
        add_edit(&mut *db, id, body, by, now).await?;
    }
    Ok(id)
}

async fn add_edit(
    db: impl AnyExecutor<'_>,
    reply_id: i64,
    body: &str,
    by: u64,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO saved_reply_edits (reply_id, body, edited_by, edited_at)
         VALUES ($1, $2, $3, $4)",
    )
    .bind(reply_id)
    .bind(body)
    .bind(to_sql_id(by))
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

/// Replaces a reply's text, keeping the version in its history; false when there is no such
/// reply.
pub async fn edit_reply(
    db: &mut sqlx::AnyConnection,
    guild_id: u64,
    name: &str,
    body: &str,
    by: u64,
    now: i64,
) -> sqlx::Result<bool> {
    let id: Option<i64> = sqlx::query_scalar(
        "UPDATE saved_replies SET body = $3 WHERE guild_id = $1 AND name = $2 RETURNING id",
    )
    .bind(to_sql_id(guild_id))
    .bind(name)
    .bind(body)
    .fetch_optional(&mut *db)
    .await?;
    if let Some(id) = id {
        add_edit(&mut *db, id, body, by, now).await?;
    }
    Ok(id.is_some())
}

pub async fn remove_reply(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    name: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM saved_replies WHERE guild_id = $1 AND name = $2")
        .bind(to_sql_id(guild_id))
        .bind(name)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn reply(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    name: &str,
) -> sqlx::Result<Option<SavedReply>> {
    sqlx::query_as("SELECT id, name, body FROM saved_replies WHERE guild_id = $1 AND name = $2")
        .bind(to_sql_id(guild_id))
        .bind(name)
        .fetch_optional(db)
        .await
}

/// A guild's replies by name.
pub async fn replies(db: impl AnyExecutor<'_>, guild_id: u64) -> sqlx::Result<Vec<SavedReply>> {
    sqlx::query_as("SELECT id, name, body FROM saved_replies WHERE guild_id = $1 ORDER BY name")
        .bind(to_sql_id(guild_id))
        .fetch_all(db)
        .await
}

/// Versions of a reply, newest first: `(body, by, at)`.
pub async fn reply_history(
    db: impl AnyExecutor<'_>,
    reply_id: i64,
) -> sqlx::Result<Vec<(String, u64, i64)>> {
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT body, edited_by, edited_at FROM saved_reply_edits WHERE reply_id = $1
         ORDER BY edited_at DESC, rowid DESC",
    )
    .bind(reply_id)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(body, by, at)| (body, from_sql_id(by), at))
        .collect())
}

pub async fn record_use(
    db: impl AnyExecutor<'_>,
    reply_id: i64,
    guild_id: u64,
    by: u64,
    channel_id: u64,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO saved_reply_uses (reply_id, guild_id, used_by, channel_id, used_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(reply_id)
    .bind(to_sql_id(guild_id))
    .bind(to_sql_id(by))
    .bind(to_sql_id(channel_id))
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

/// Uses since `since` per reply and moderator: `(reply name, moderator, uses)`, most used first.
pub async fn reply_uses(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    since: i64,
) -> sqlx::Result<Vec<(String, u64, i64)>> {
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT r.name, u.used_by, COUNT(*) FROM saved_reply_uses u
         JOIN saved_replies r ON r.id = u.reply_id
         WHERE u.guild_id = $1 AND u.used_at >= $2
         GROUP BY r.name, u.used_by ORDER BY COUNT(*) DESC, r.name, u.used_by",
    )
    .bind(to_sql_id(guild_id))
    .bind(since)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(name, by, n)| (name, from_sql_id(by), n))
        .collect())
}

/// A flagged message (its queue thread is the delivered post `flag:{id}:thread`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flag {
    pub id: i64,
    pub guild_id: i64,
    pub channel_id: i64,
    pub message_id: i64,
    pub author_id: i64,
    pub status: String,
    pub created_at: i64,
    /// Members who flagged it.
    pub reports: i64,
}

super::from_row!(Flag {
    id,
    guild_id,
    channel_id,
    message_id,
    author_id,
    status,
    created_at,
    reports
});

const FLAG: &str = "SELECT f.id, f.guild_id, f.channel_id, f.message_id, f.author_id, f.status,
     f.created_at,
     (SELECT COUNT(*) FROM flag_reports r WHERE r.flag_id = f.id) AS reports FROM flags f";

/// Records a member's flag of a message (the message's flag is created on the first); returns
/// the flag and whether this member flagged it before (their reason is then replaced).
#[allow(clippy::too_many_arguments)]
pub async fn add_flag(
    db: &mut sqlx::AnyConnection,
    guild_id: u64,
    channel_id: u64,
    message_id: u64,
    author_id: u64,
    flagger: u64,
    reason: &str,
    now: i64,
) -> sqlx::Result<(Flag, bool)> {
    sqlx::query(
        "INSERT INTO flags (guild_id, channel_id, message_id, author_id, created_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (guild_id, message_id) DO UPDATE SET status = 'open', resolved_by = NULL,
         resolved_at = NULL",
    )
    .bind(to_sql_id(guild_id))
    .bind(to_sql_id(channel_id))
    .bind(to_sql_id(message_id))
    .bind(to_sql_id(author_id))
    .bind(now)
    .execute(&mut *db)
    .await?;
    let flag: Flag = sqlx::query_as(&format!(
        "{FLAG} WHERE f.guild_id = $1 AND f.message_id = $2"
    ))
    .bind(to_sql_id(guild_id))
    .bind(to_sql_id(message_id))
    .fetch_one(&mut *db)
    .await?;
    sqlx::query(
        "INSERT INTO flag_reports (flag_id, flagger_id, reason, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (flag_id, flagger_id) DO UPDATE SET reason = excluded.reason",
    )
    .bind(flag.id)
    .bind(to_sql_id(flagger))
    .bind(reason)
    .bind(now)
    .execute(&mut *db)
    .await?;
    let reports: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM flag_reports WHERE flag_id = $1")
        .bind(flag.id)
        .fetch_one(&mut *db)
        .await?;
    // The count did not grow: this member had flagged it before.
    let repeated = reports == flag.reports;
    Ok((Flag { reports, ..flag }, repeated))
}

pub async fn flag(db: impl AnyExecutor<'_>, guild_id: u64, id: i64) -> sqlx::Result<Option<Flag>> {
    sqlx::query_as(&format!("{FLAG} WHERE f.guild_id = $1 AND f.id = $2"))
        .bind(to_sql_id(guild_id))
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn flag_by_id(db: impl AnyExecutor<'_>, id: i64) -> sqlx::Result<Option<Flag>> {
    sqlx::query_as(&format!("{FLAG} WHERE f.id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Open flags, oldest first.
pub async fn open_flags(db: impl AnyExecutor<'_>, guild_id: u64) -> sqlx::Result<Vec<Flag>> {
    sqlx::query_as(&format!(
        "{FLAG} WHERE f.guild_id = $1 AND f.status = 'open' ORDER BY f.created_at, f.id"
    ))
    .bind(to_sql_id(guild_id))
    .fetch_all(db)
    .await
}

/// Resolves an open flag; false when it was not open.
pub async fn resolve_flag(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    id: i64,
    by: u64,
    now: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE flags SET status = 'resolved', resolved_by = $3, resolved_at = $4
         WHERE guild_id = $1 AND id = $2 AND status = 'open'",
    )
    .bind(to_sql_id(guild_id))
    .bind(id)
    .bind(to_sql_id(by))
    .bind(now)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The reasons given for a flag: `(flagger, reason)`, first first.
pub async fn flag_reasons(db: impl AnyExecutor<'_>, id: i64) -> sqlx::Result<Vec<(u64, String)>> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT flagger_id, reason FROM flag_reports WHERE flag_id = $1 ORDER BY created_at, flagger_id",
    )
    .bind(id)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|(u, r)| (from_sql_id(u), r)).collect())
}

/// Records a `/guidelines automod` request and the rules it made (none when Discord refused).
pub async fn set_automod(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    by: u64,
    rule_ids: &[u64],
    now: i64,
) -> sqlx::Result<()> {
    let ids: Vec<String> = rule_ids.iter().map(u64::to_string).collect();
    sqlx::query(
        "INSERT INTO automod_setups (guild_id, requested_by, requested_at, rule_ids)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (guild_id) DO UPDATE SET requested_by = excluded.requested_by,
         requested_at = excluded.requested_at,
         rule_ids = CASE WHEN excluded.rule_ids = '' THEN automod_setups.rule_ids
                         ELSE excluded.rule_ids END",
    )
    .bind(to_sql_id(guild_id))
    .bind(to_sql_id(by))
    .bind(now)
    .bind(ids.join(","))
    .execute(db)
    .await?;
    Ok(())
}

/// Whether AutoMod set-up was asked for in a guild.
pub async fn automod_wanted(db: impl AnyExecutor<'_>, guild_id: u64) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM automod_setups WHERE guild_id = $1")
        .bind(to_sql_id(guild_id))
        .fetch_one(db)
        .await?;
    Ok(n > 0)
}
