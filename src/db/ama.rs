//! AMAs, their questions and votes.

use sqlx::AnyExecutor;

use super::{from_sql_id, to_sql_id, Pool};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ama {
    pub id: i64,
    pub guild_id: i64,
    pub title: String,
    pub host_id: i64,
    pub channel_id: i64,
    pub start_at: i64,
    pub end_at: i64,
    pub event_id: Option<i64>,
    pub status: String,
}

super::from_row!(Ama {
    id,
    guild_id,
    title,
    host_id,
    channel_id,
    start_at,
    end_at,
    event_id,
    status
});

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    pub id: i64,
    pub ama_id: i64,
    pub author_id: i64,
    pub anonymous: bool,
    pub text: String,
    pub answer: Option<String>,
    pub answered_at: Option<i64>,
    pub votes: i64,
}

super::from_row!(Question {
    id,
    ama_id,
    author_id,
    anonymous,
    text,
    answer,
    answered_at,
    votes
});

impl Question {
    pub fn author(&self) -> u64 {
        from_sql_id(self.author_id)
    }
}

#[allow(clippy::too_many_arguments)]
pub async fn create(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    title: &str,
    host: u64,
    channel: u64,
    start_at: i64,
    end_at: i64,
    now: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO amas (guild_id, title, host_id, channel_id, start_at, end_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(to_sql_id(guild_id))
    .bind(title)
    .bind(to_sql_id(host))
    .bind(to_sql_id(channel))
    .bind(start_at)
    .bind(end_at)
    .bind(now)
    .fetch_one(db)
    .await
}

pub async fn set_event(db: impl AnyExecutor<'_>, id: i64, event_id: u64) -> sqlx::Result<()> {
    sqlx::query("UPDATE amas SET event_id = $2 WHERE id = $1")
        .bind(id)
        .bind(to_sql_id(event_id))
        .execute(db)
        .await?;
    Ok(())
}

pub async fn get(db: impl AnyExecutor<'_>, guild_id: u64, id: i64) -> sqlx::Result<Option<Ama>> {
    sqlx::query_as("SELECT id, guild_id, title, host_id, channel_id, start_at, end_at, event_id, status FROM amas WHERE guild_id = $1 AND id = $2")
        .bind(to_sql_id(guild_id))
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn list(db: impl AnyExecutor<'_>, guild_id: u64) -> sqlx::Result<Vec<Ama>> {
    sqlx::query_as("SELECT id, guild_id, title, host_id, channel_id, start_at, end_at, event_id, status FROM amas WHERE guild_id = $1 ORDER BY start_at DESC, id DESC")
        .bind(to_sql_id(guild_id))
        .fetch_all(db)
        .await
}

pub async fn close(db: impl AnyExecutor<'_>, id: i64) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE amas SET status = 'closed' WHERE id = $1 AND status = 'open'")
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn ask(
    db: impl AnyExecutor<'_>,
    ama_id: i64,
    author: u64,
    anonymous: bool,
    text: &str,
    now: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar("INSERT INTO ama_questions (ama_id, author_id, anonymous, text, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id")
        .bind(ama_id)
        .bind(to_sql_id(author))
        .bind(super::sql_flag(anonymous))
        .bind(text)
        .bind(now)
        .fetch_one(db)
        .await
}

const QUESTION: &str =
    "SELECT q.id, q.ama_id, q.author_id, q.anonymous, q.text, q.answer, q.answered_at,
    (SELECT COUNT(*) FROM ama_votes v WHERE v.question_id = q.id) AS votes FROM ama_questions q";

pub async fn questions(db: impl AnyExecutor<'_>, ama_id: i64) -> sqlx::Result<Vec<Question>> {
    sqlx::query_as(&format!(
        "{QUESTION} WHERE q.ama_id = $1 ORDER BY votes DESC, q.id"
    ))
    .bind(ama_id)
    .fetch_all(db)
    .await
}

/// A question of a guild's AMA.
pub async fn question(
    pool: &Pool,
    guild_id: u64,
    id: i64,
) -> sqlx::Result<Option<(Ama, Question)>> {
    let q: Option<Question> = sqlx::query_as(&format!("{QUESTION} WHERE q.id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    let Some(q) = q else { return Ok(None) };
    Ok(get(pool, guild_id, q.ama_id).await?.map(|a| (a, q)))
}

/// Toggles a member's vote; returns (voted now, total votes).
pub async fn toggle_vote(pool: &Pool, question_id: i64, user: u64) -> sqlx::Result<(bool, i64)> {
    let mut tx = pool.begin().await?;
    let removed = sqlx::query("DELETE FROM ama_votes WHERE question_id = $1 AND user_id = $2")
        .bind(question_id)
        .bind(to_sql_id(user))
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 1;
    if !removed {
        sqlx::query("INSERT INTO ama_votes (question_id, user_id) VALUES ($1, $2)")
            .bind(question_id)
            .bind(to_sql_id(user))
            .execute(&mut *tx)
            .await?;
    }
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ama_votes WHERE question_id = $1")
        .bind(question_id)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok((!removed, total))
}

pub async fn answer(
    db: impl AnyExecutor<'_>,
    question_id: i64,
    answer: Option<&str>,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE ama_questions SET answer = $2, answered_at = $3 WHERE id = $1")
        .bind(question_id)
        .bind(answer)
        .bind(now)
        .execute(db)
        .await?;
    Ok(())
}
