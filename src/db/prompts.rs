//! Prompts and their text banks (their runs are `jobs` rows).

use sqlx::AnyExecutor;

use super::{from_sql_id, to_sql_id, Pool};

/// A prompt as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PromptRow {
    pub id: i64,
    pub guild_id: i64,
    pub theme: String,
    pub channel_id: i64,
    pub schedule_kind: String,
    pub days: Option<String>,
    pub time_of_day: Option<String>,
    pub cron: Option<String>,
    pub late_within_secs: Option<i64>,
    pub text: Option<String>,
    pub thread: bool,
    pub poll: Option<String>,
    pub author_id: i64,
    pub paused: bool,
}

super::from_row!(PromptRow {
    id,
    guild_id,
    theme,
    channel_id,
    schedule_kind,
    days,
    time_of_day,
    cron,
    late_within_secs,
    text,
    thread,
    poll,
    author_id,
    paused
});

impl PromptRow {
    pub fn guild(&self) -> u64 {
        from_sql_id(self.guild_id)
    }
    pub fn channel(&self) -> u64 {
        from_sql_id(self.channel_id)
    }
    pub fn author(&self) -> u64 {
        from_sql_id(self.author_id)
    }
}

/// A new prompt.
#[derive(Clone, Debug)]
pub struct NewPrompt {
    pub guild_id: u64,
    pub theme: String,
    pub channel_id: u64,
    pub schedule_kind: String,
    pub days: Option<String>,
    pub time_of_day: Option<String>,
    pub cron: Option<String>,
    pub late_within_secs: Option<i64>,
    pub text: Option<String>,
    pub thread: bool,
    pub poll: Option<String>,
    pub author_id: u64,
    pub paused: bool,
}

const PROMPT_COLUMNS: &str = "id, guild_id, theme, channel_id, schedule_kind, days, time_of_day, cron, late_within_secs, text, thread, poll, author_id, paused";

pub async fn insert_prompt(db: impl AnyExecutor<'_>, p: &NewPrompt, now: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO prompts (guild_id, theme, channel_id, schedule_kind, days, time_of_day, cron, late_within_secs, text, thread, poll, author_id, paused, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
    )
    .bind(to_sql_id(p.guild_id))
    .bind(&p.theme)
    .bind(to_sql_id(p.channel_id))
    .bind(&p.schedule_kind)
    .bind(&p.days)
    .bind(&p.time_of_day)
    .bind(&p.cron)
    .bind(p.late_within_secs)
    .bind(&p.text)
    .bind(super::sql_flag(p.thread))
    .bind(&p.poll)
    .bind(to_sql_id(p.author_id))
    .bind(super::sql_flag(p.paused))
    .bind(now)
    .fetch_one(db)
    .await
}

pub async fn prompt(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    id: i64,
) -> sqlx::Result<Option<PromptRow>> {
    sqlx::query_as(&format!(
        "SELECT {PROMPT_COLUMNS} FROM prompts WHERE guild_id = $1 AND id = $2"
    ))
    .bind(to_sql_id(guild_id))
    .bind(id)
    .fetch_optional(db)
    .await
}

pub async fn prompts(db: impl AnyExecutor<'_>, guild_id: u64) -> sqlx::Result<Vec<PromptRow>> {
    sqlx::query_as(&format!(
        "SELECT {PROMPT_COLUMNS} FROM prompts WHERE guild_id = $1 ORDER BY id"
    ))
    .bind(to_sql_id(guild_id))
    .fetch_all(db)
    .await
}

/// Removes a prompt and its job; false when the guild has no such prompt (then nothing changes:
/// prompt ids are global, so another guild's id must not reach that guild's job).
pub async fn remove_prompt(pool: &Pool, guild_id: u64, id: i64) -> sqlx::Result<bool> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query("DELETE FROM prompts WHERE guild_id = $1 AND id = $2")
        .bind(to_sql_id(guild_id))
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 1;
    if done {
        super::jobs::delete(&mut *tx, "prompt", id).await?;
    }
    tx.commit().await?;
    Ok(done)
}

pub async fn set_paused(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    id: i64,
    paused: bool,
) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE prompts SET paused = $3 WHERE guild_id = $1 AND id = $2")
        .bind(to_sql_id(guild_id))
        .bind(id)
        .bind(super::sql_flag(paused))
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A text of a prompt's rotating bank.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BankText {
    pub id: i64,
    pub text: String,
    pub used: bool,
}

super::from_row!(BankText { id, text, used });

pub async fn bank(db: impl AnyExecutor<'_>, prompt_id: i64) -> sqlx::Result<Vec<BankText>> {
    sqlx::query_as("SELECT id, text, used FROM prompt_bank WHERE prompt_id = $1 ORDER BY id")
        .bind(prompt_id)
        .fetch_all(db)
        .await
}

pub async fn add_bank_text(
    db: impl AnyExecutor<'_>,
    prompt_id: i64,
    text: &str,
) -> sqlx::Result<i64> {
    sqlx::query_scalar("INSERT INTO prompt_bank (prompt_id, text) VALUES ($1, $2) RETURNING id")
        .bind(prompt_id)
        .bind(text)
        .fetch_one(db)
        .await
}

pub async fn remove_bank_text(
    db: impl AnyExecutor<'_>,
    prompt_id: i64,
    id: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM prompt_bank WHERE prompt_id = $1 AND id = $2")
        .bind(prompt_id)
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks the bank texts used in the current cycle (a new cycle starts when all were used).
pub async fn set_bank_used(
    db: impl AnyExecutor<'_>,
    prompt_id: i64,
    used_ids: &[i64],
) -> sqlx::Result<()> {
    let list = used_ids
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    // Ids are integers from the database, so building the list is safe; PostgreSQL refuses an
    // empty `IN ()`.
    let used = if list.is_empty() {
        "1 = 0".to_owned()
    } else {
        format!("id IN ({list})")
    };
    sqlx::query(&format!(
        "UPDATE prompt_bank SET used = CASE WHEN {used} THEN 1 ELSE 0 END WHERE prompt_id = $1"
    ))
    .bind(prompt_id)
    .execute(db)
    .await?;
    Ok(())
}
