//! Surveys, their waves and anonymous answers (product §10).

use sqlx::AnyExecutor;

use super::{from_sql_id, to_sql_id};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Survey {
    pub id: i64,
    pub guild_id: i64,
    pub kind: String,
    pub title: String,
    pub channel_id: i64,
    pub every: Option<String>,
    pub sample: Option<i64>,
    /// A custom survey's questions (JSON); `None` for NPS.
    pub questions: Option<String>,
    /// An event's feedback survey: its event.
    pub event_id: Option<i64>,
}

super::from_row!(Survey {
    id,
    guild_id,
    kind,
    title,
    channel_id,
    every,
    sample,
    questions,
    event_id
});

impl Survey {
    pub fn guild(&self) -> u64 {
        from_sql_id(self.guild_id)
    }

    pub fn channel(&self) -> u64 {
        from_sql_id(self.channel_id)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wave {
    pub id: i64,
    pub survey_id: i64,
    pub number: i64,
    pub opened_at: i64,
    pub closed_at: Option<i64>,
    /// `None` once the wave is closed.
    pub salt: Option<String>,
    pub reached: i64,
    /// Members sent a DM; 0 for a wave posted in a channel.
    pub sampled: i64,
    /// When it closes by itself (an event's feedback).
    pub closes_at: Option<i64>,
}

super::from_row!(Wave {
    id,
    survey_id,
    number,
    opened_at,
    closed_at,
    salt,
    reached,
    sampled,
    closes_at
});

impl Wave {
    /// Open: not closed, and not past the time it closes by itself.
    pub fn is_open_at(&self, now: i64) -> bool {
        self.closed_at.is_none() && self.closes_at.is_none_or(|at| now < at)
    }

    /// Not closed yet (the job that closes it may be late: see [`Wave::is_open_at`]).
    pub fn is_open(&self) -> bool {
        self.closed_at.is_none()
    }
}

/// One anonymous answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// NPS: 0-10.
    pub score: Option<i64>,
    pub comment: Option<String>,
    pub newcomer: bool,
    /// A custom survey: a JSON array with a value (or null) per question.
    pub answers: Option<String>,
}

super::from_row!(Answer {
    score,
    comment,
    newcomer,
    answers
});

const WAVE: &str = "SELECT id, survey_id, number, opened_at, closed_at, salt, reached, sampled,
     closes_at FROM survey_waves";
const SURVEY: &str =
    "SELECT id, guild_id, kind, title, channel_id, every, sample, questions, event_id FROM surveys";

/// A new survey as the manager set it up.
#[derive(Clone, Debug)]
pub struct NewSurvey<'a> {
    pub guild_id: u64,
    pub kind: &'a str,
    pub title: &'a str,
    pub channel_id: u64,
    pub every: Option<&'a str>,
    pub sample: Option<u32>,
    pub questions: Option<&'a str>,
    pub created_by: u64,
    pub event_id: Option<i64>,
}

pub async fn create(db: impl AnyExecutor<'_>, new: &NewSurvey<'_>, now: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO surveys (guild_id, kind, title, channel_id, every, sample, questions,
         created_by, created_at, event_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         RETURNING id",
    )
    .bind(to_sql_id(new.guild_id))
    .bind(new.kind)
    .bind(new.title)
    .bind(to_sql_id(new.channel_id))
    .bind(new.every)
    .bind(new.sample.map(i64::from))
    .bind(new.questions)
    .bind(to_sql_id(new.created_by))
    .bind(now)
    .bind(new.event_id)
    .fetch_one(db)
    .await
}

/// A survey by id, whatever its server (for its scheduled waves).
pub async fn by_id(db: impl AnyExecutor<'_>, id: i64) -> sqlx::Result<Option<Survey>> {
    sqlx::query_as(&format!("{SURVEY} WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn get(db: impl AnyExecutor<'_>, guild_id: u64, id: i64) -> sqlx::Result<Option<Survey>> {
    sqlx::query_as(&format!("{SURVEY} WHERE guild_id = $1 AND id = $2"))
        .bind(to_sql_id(guild_id))
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn list(db: impl AnyExecutor<'_>, guild_id: u64) -> sqlx::Result<Vec<Survey>> {
    sqlx::query_as(&format!("{SURVEY} WHERE guild_id = $1 ORDER BY id DESC"))
        .bind(to_sql_id(guild_id))
        .fetch_all(db)
        .await
}

/// Opens the next wave of a survey; returns its id.
pub async fn open_wave(
    db: impl AnyExecutor<'_>,
    survey_id: i64,
    salt: &str,
    (reached, sampled): (i64, i64),
    now: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO survey_waves (survey_id, number, opened_at, salt, reached, sampled)
         VALUES ($1, (SELECT COALESCE(MAX(number), 0) + 1 FROM survey_waves WHERE survey_id = $1),
                 $2, $3, $4, $5) RETURNING id",
    )
    .bind(survey_id)
    .bind(now)
    .bind(salt)
    .bind(reached)
    .bind(sampled)
    .fetch_one(db)
    .await
}

pub async fn wave(db: impl AnyExecutor<'_>, id: i64) -> sqlx::Result<Option<Wave>> {
    sqlx::query_as(&format!("{WAVE} WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// A survey's waves, first first.
pub async fn waves(db: impl AnyExecutor<'_>, survey_id: i64) -> sqlx::Result<Vec<Wave>> {
    sqlx::query_as(&format!("{WAVE} WHERE survey_id = $1 ORDER BY number"))
        .bind(survey_id)
        .fetch_all(db)
        .await
}

/// The waves of a guild's surveys opened in `[from, to)`, with their survey ids.
pub async fn waves_between(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    from: i64,
    to: i64,
) -> sqlx::Result<Vec<Wave>> {
    sqlx::query_as(
        "SELECT w.id, w.survey_id, w.number, w.opened_at, w.closed_at, w.salt, w.reached,
         w.sampled, w.closes_at FROM survey_waves w JOIN surveys s ON s.id = w.survey_id
         WHERE s.guild_id = $1 AND w.opened_at >= $2 AND w.opened_at < $3
         ORDER BY w.opened_at, w.id",
    )
    .bind(to_sql_id(guild_id))
    .bind(from)
    .bind(to)
    .fetch_all(db)
    .await
}

/// Closes a wave and deletes its salt; false when it was closed already.
pub async fn close_wave(db: impl AnyExecutor<'_>, id: i64, now: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE survey_waves SET closed_at = $2, salt = NULL WHERE id = $1 AND closed_at IS NULL",
    )
    .bind(id)
    .bind(now)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Stores an answer; the same respondent's second answer replaces the first.
pub async fn save_answer(
    db: impl AnyExecutor<'_>,
    wave_id: i64,
    respondent_key: &str,
    answer: &Answer,
    day: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO survey_answers (wave_id, respondent_key, score, comment, newcomer, answers,
         answered_day) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (wave_id, respondent_key) DO UPDATE SET score = excluded.score,
         comment = excluded.comment, newcomer = excluded.newcomer, answers = excluded.answers,
         answered_day = excluded.answered_day",
    )
    .bind(wave_id)
    .bind(respondent_key)
    .bind(answer.score)
    .bind(&answer.comment)
    .bind(super::sql_flag(answer.newcomer))
    .bind(&answer.answers)
    .bind(day)
    .execute(db)
    .await?;
    Ok(())
}

/// A wave's answers, in key order (which says nothing about who answered or when).
pub async fn answers(db: impl AnyExecutor<'_>, wave_id: i64) -> sqlx::Result<Vec<Answer>> {
    sqlx::query_as(
        "SELECT score, comment, newcomer, answers FROM survey_answers WHERE wave_id = $1
         ORDER BY respondent_key",
    )
    .bind(wave_id)
    .fetch_all(db)
    .await
}

/// The answer stored under a respondent key (a member's own, while the wave is open).
pub async fn answer_of(
    db: impl AnyExecutor<'_>,
    wave_id: i64,
    respondent_key: &str,
) -> sqlx::Result<Option<Answer>> {
    sqlx::query_as(
        "SELECT score, comment, newcomer, answers FROM survey_answers
         WHERE wave_id = $1 AND respondent_key = $2",
    )
    .bind(wave_id)
    .bind(respondent_key)
    .fetch_optional(db)
    .await
}

/// Moves an answer to a key that leads nowhere (a forgotten member's answer keeps counting).
pub async fn rekey(
    db: impl AnyExecutor<'_>,
    wave_id: i64,
    from_key: &str,
    to_key: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE survey_answers SET respondent_key = $3 WHERE wave_id = $1 AND respondent_key = $2",
    )
    .bind(wave_id)
    .bind(from_key)
    .bind(to_key)
    .execute(db)
    .await?;
    Ok(())
}

/// A respondent asked to be contacted (with the feedback item made of a detractor's comment).
pub async fn add_contact(
    db: impl AnyExecutor<'_>,
    wave_id: i64,
    user_id: u64,
    feedback_item: Option<i64>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO survey_contacts (wave_id, user_id, feedback_item) VALUES ($1, $2, $3)
         ON CONFLICT (wave_id, user_id) DO UPDATE SET
           feedback_item = COALESCE(excluded.feedback_item, survey_contacts.feedback_item)",
    )
    .bind(wave_id)
    .bind(to_sql_id(user_id))
    .bind(feedback_item)
    .execute(db)
    .await?;
    Ok(())
}

/// Open waves of a guild with their salts (to find or forget a member's own answers).
pub async fn open_waves(
    db: impl AnyExecutor<'_>,
    guild_id: Option<u64>,
) -> sqlx::Result<Vec<Wave>> {
    sqlx::query_as(
        "SELECT w.id, w.survey_id, w.number, w.opened_at, w.closed_at, w.salt, w.reached,
         w.sampled, w.closes_at FROM survey_waves w JOIN surveys s ON s.id = w.survey_id
         WHERE w.closed_at IS NULL AND ($1 IS NULL OR s.guild_id = $1) ORDER BY w.id",
    )
    .bind(guild_id.map(to_sql_id))
    .fetch_all(db)
    .await
}

/// Members with any activity since `since` (unix seconds): those a survey posted in the server
/// is put before. Forgotten members' anonymous ids (negative here) are not members.
pub async fn active_members(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    since: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(DISTINCT user_id) FROM activity WHERE guild_id = $1 AND at >= $2 AND user_id >= 0",
    )
    .bind(to_sql_id(guild_id))
    .bind(since)
    .fetch_one(db)
    .await
}

/// When a member first joined the guild, if known.
pub async fn first_joined_at(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    user_id: u64,
) -> sqlx::Result<Option<i64>> {
    let at: Option<Option<i64>> = sqlx::query_scalar(
        "SELECT first_joined_at FROM members WHERE guild_id = $1 AND user_id = $2",
    )
    .bind(to_sql_id(guild_id))
    .bind(to_sql_id(user_id))
    .fetch_optional(db)
    .await?;
    Ok(at.flatten())
}

/// Members with any activity since `since` who have not opted out: those a DM sample is drawn
/// from.
pub async fn active_member_ids(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    since: i64,
) -> sqlx::Result<Vec<u64>> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT DISTINCT user_id FROM activity WHERE guild_id = $1 AND at >= $2 AND user_id >= 0
         AND user_id NOT IN (SELECT user_id FROM tracking_optouts WHERE guild_id = $1)
         ORDER BY user_id",
    )
    .bind(to_sql_id(guild_id))
    .bind(since)
    .fetch_all(db)
    .await?;
    Ok(ids.into_iter().map(from_sql_id).collect())
}

/// A sampled wave's DMs that Discord accepted: the members it reached.
pub async fn delivered_dms(db: impl AnyExecutor<'_>, wave_id: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox WHERE kind = 'survey-dm' AND dedup_key LIKE $1 AND status = 'delivered'",
    )
    .bind(format!("survey:{wave_id}:dm:%"))
    .fetch_one(db)
    .await
}

/// The guild of a survey.
pub async fn guild_of(db: impl AnyExecutor<'_>, survey_id: i64) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT guild_id FROM surveys WHERE id = $1")
        .bind(survey_id)
        .fetch_optional(db)
        .await
}

/// An event's feedback survey.
pub async fn by_event(db: impl AnyExecutor<'_>, event_id: i64) -> sqlx::Result<Option<Survey>> {
    sqlx::query_as(&format!("{SURVEY} WHERE event_id = $1"))
        .bind(event_id)
        .fetch_optional(db)
        .await
}

/// Sets when a wave closes by itself.
pub async fn set_closes_at(
    db: impl AnyExecutor<'_>,
    wave_id: i64,
    closes_at: i64,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE survey_waves SET closes_at = $2 WHERE id = $1")
        .bind(wave_id)
        .bind(closes_at)
        .execute(db)
        .await?;
    Ok(())
}

/// A respondent puts their name to their answer (`Some(key)`) or takes it back (`None`).
pub async fn sign(
    db: impl AnyExecutor<'_>,
    wave_id: i64,
    user_id: u64,
    respondent_key: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO survey_contacts (wave_id, user_id, respondent_key) VALUES ($1, $2, $3)
         ON CONFLICT (wave_id, user_id) DO UPDATE SET respondent_key = excluded.respondent_key",
    )
    .bind(wave_id)
    .bind(to_sql_id(user_id))
    .bind(respondent_key)
    .execute(db)
    .await?;
    Ok(())
}

/// An answer with its wave and, where the member signed it, its author.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedAnswer {
    pub survey_id: i64,
    pub number: i64,
    pub wave_id: i64,
    pub respondent_key: String,
    pub score: Option<i64>,
    pub comment: Option<String>,
    pub answers: Option<String>,
    pub signed_by: Option<i64>,
}

super::from_row!(SignedAnswer {
    survey_id,
    number,
    wave_id,
    respondent_key,
    score,
    comment,
    answers,
    signed_by
});

const SIGNED_ANSWER: &str = "SELECT w.survey_id, w.number, w.id AS wave_id, a.respondent_key,
     a.score, a.comment, a.answers, c.user_id AS signed_by FROM survey_answers a
     JOIN survey_waves w ON w.id = a.wave_id JOIN surveys s ON s.id = w.survey_id";

/// A wave's answers with their authors where they signed them, in key order.
pub async fn signed_answers(
    db: impl AnyExecutor<'_>,
    wave_id: i64,
) -> sqlx::Result<Vec<SignedAnswer>> {
    sqlx::query_as(&format!(
        "{SIGNED_ANSWER} LEFT JOIN survey_contacts c
           ON c.wave_id = a.wave_id AND c.respondent_key = a.respondent_key
         WHERE a.wave_id = $1 ORDER BY a.respondent_key"
    ))
    .bind(wave_id)
    .fetch_all(db)
    .await
}

/// A member's signed answers (found through their signature, open or closed waves).
pub async fn signed_by(
    db: impl AnyExecutor<'_>,
    guild_id: Option<u64>,
    user_id: u64,
) -> sqlx::Result<Vec<SignedAnswer>> {
    sqlx::query_as(&format!(
        "{SIGNED_ANSWER} JOIN survey_contacts c
           ON c.wave_id = a.wave_id AND c.respondent_key = a.respondent_key
         WHERE c.user_id = $1 AND ($2 IS NULL OR s.guild_id = $2) ORDER BY w.id"
    ))
    .bind(to_sql_id(user_id))
    .bind(guild_id.map(to_sql_id))
    .fetch_all(db)
    .await
}
