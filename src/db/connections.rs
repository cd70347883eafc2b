//! Peer connections (product §11): the programme, opted-in members, rounds, matches and the
//! answers to "did you meet?".

use sqlx::AnyExecutor;

use super::{from_sql_id, to_sql_id};

/// A server's connections programme (`/connect setup`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    pub id: i64,
    pub guild_id: i64,
    pub every: String,
    pub repeat_rounds: i64,
    pub follow_up_secs: i64,
}

super::from_row!(Program {
    id,
    guild_id,
    every,
    repeat_rounds,
    follow_up_secs
});

impl Program {
    pub fn guild(&self) -> u64 {
        from_sql_id(self.guild_id)
    }
}

const PROGRAM: &str =
    "SELECT id, guild_id, every, repeat_rounds, follow_up_secs FROM connect_programs";

/// Creates or updates a server's programme; returns its id.
#[allow(clippy::too_many_arguments)]
pub async fn set_program(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    every: &str,
    repeat_rounds: i64,
    follow_up_secs: i64,
    created_by: u64,
    now: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO connect_programs (guild_id, every, repeat_rounds, follow_up_secs,
         created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (guild_id) DO UPDATE SET
         every = excluded.every, repeat_rounds = excluded.repeat_rounds,
         follow_up_secs = excluded.follow_up_secs RETURNING id",
    )
    .bind(to_sql_id(guild_id))
    .bind(every)
    .bind(repeat_rounds)
    .bind(follow_up_secs)
    .bind(to_sql_id(created_by))
    .bind(now)
    .fetch_one(db)
    .await
}

pub async fn program(db: impl AnyExecutor<'_>, guild_id: u64) -> sqlx::Result<Option<Program>> {
    sqlx::query_as(&format!("{PROGRAM} WHERE guild_id = $1"))
        .bind(to_sql_id(guild_id))
        .fetch_optional(db)
        .await
}

pub async fn program_by_id(db: impl AnyExecutor<'_>, id: i64) -> sqlx::Result<Option<Program>> {
    sqlx::query_as(&format!("{PROGRAM} WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// An opted-in member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Participant {
    pub user_id: i64,
    /// Their own interests, else those they shared in `/intro`.
    pub interests: Option<String>,
    pub timezone: Option<String>,
    pub frequency: String,
    /// 2 (pairs) or 3 (groups of three).
    pub group_size: i64,
    pub status: String,
    pub ignored: i64,
    /// The number of the last round they were matched in.
    pub last_round: Option<i64>,
}

super::from_row!(Participant {
    user_id,
    interests,
    timezone,
    frequency,
    group_size,
    status,
    ignored,
    last_round
});

impl Participant {
    pub fn user(&self) -> u64 {
        from_sql_id(self.user_id)
    }
}

const PARTICIPANT: &str = "SELECT c.user_id, COALESCE(c.interests, i.interests) AS interests,
     c.timezone, c.frequency, c.group_size, c.status, c.ignored,
     (SELECT MAX(r.number) FROM connect_match_members mm
      JOIN connect_matches m ON m.id = mm.match_id JOIN connect_rounds r ON r.id = m.round_id
      WHERE mm.user_id = c.user_id AND m.guild_id = c.guild_id) AS last_round
     FROM connect_members c
     LEFT JOIN member_interests i ON i.guild_id = c.guild_id AND i.user_id = c.user_id";

/// A member opts in (or changes their settings, or comes back from a pause).
pub async fn join(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    user_id: u64,
    (interests, timezone, frequency, group_size): (Option<&str>, Option<&str>, &str, Option<i64>),
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO connect_members (guild_id, user_id, interests, timezone, frequency,
         group_size, status, ignored, joined_at)
         VALUES ($1, $2, $3, $4, $5, COALESCE($7, 2), 'active', 0, $6)
         ON CONFLICT (guild_id, user_id) DO UPDATE SET
         interests = COALESCE(excluded.interests, connect_members.interests),
         timezone = COALESCE(excluded.timezone, connect_members.timezone),
         frequency = excluded.frequency,
         group_size = COALESCE($7, connect_members.group_size), status = 'active', ignored = 0",
    )
    .bind(to_sql_id(guild_id))
    .bind(to_sql_id(user_id))
    .bind(interests)
    .bind(timezone)
    .bind(frequency)
    .bind(now)
    .bind(group_size)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn participant(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    user_id: u64,
) -> sqlx::Result<Option<Participant>> {
    sqlx::query_as(&format!(
        "{PARTICIPANT} WHERE c.guild_id = $1 AND c.user_id = $2"
    ))
    .bind(to_sql_id(guild_id))
    .bind(to_sql_id(user_id))
    .fetch_optional(db)
    .await
}

/// Active members who may be matched: opted in, not paused, and not opted out of tracking.
pub async fn active_participants(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
) -> sqlx::Result<Vec<Participant>> {
    sqlx::query_as(&format!(
        "{PARTICIPANT} WHERE c.guild_id = $1 AND c.status = 'active'
         AND NOT EXISTS (SELECT 1 FROM tracking_optouts o
                         WHERE o.guild_id = c.guild_id AND o.user_id = c.user_id)
         ORDER BY c.user_id"
    ))
    .bind(to_sql_id(guild_id))
    .fetch_all(db)
    .await
}

/// Sets a member's status (`paused`, `left`, `active`); false when they never opted in.
pub async fn set_status(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    user_id: u64,
    status: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE connect_members SET status = $3, ignored = 0 WHERE guild_id = $1 AND user_id = $2",
    )
    .bind(to_sql_id(guild_id))
    .bind(to_sql_id(user_id))
    .bind(status)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_ignored(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    user_id: u64,
    ignored: i64,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE connect_members SET ignored = $3 WHERE guild_id = $1 AND user_id = $2")
        .bind(to_sql_id(guild_id))
        .bind(to_sql_id(user_id))
        .bind(ignored)
        .execute(db)
        .await?;
    Ok(())
}

/// Members by status: `(active, paused)`.
pub async fn counts(db: impl AnyExecutor<'_>, guild_id: u64) -> sqlx::Result<(i64, i64)> {
    sqlx::query_as(
        "SELECT COALESCE(CAST(SUM(CASE WHEN status = 'active' THEN 1 ELSE 0 END) AS BIGINT), 0),
                COALESCE(CAST(SUM(CASE WHEN status = 'paused' THEN 1 ELSE 0 END) AS BIGINT), 0)
         FROM connect_members WHERE guild_id = $1",
    )
    .bind(to_sql_id(guild_id))
    .fetch_one(db)
    .await
}

/// The latest round: `(id, number)`.
pub async fn last_round(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
) -> sqlx::Result<Option<(i64, i64)>> {
    sqlx::query_as(
        "SELECT id, number FROM connect_rounds WHERE guild_id = $1 ORDER BY number DESC LIMIT 1",
    )
    .bind(to_sql_id(guild_id))
    .fetch_optional(db)
    .await
}

/// Records a round; returns its id and number.
pub async fn add_round(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    members: usize,
    repeats: usize,
    now: i64,
) -> sqlx::Result<(i64, i64)> {
    sqlx::query_as(
        "INSERT INTO connect_rounds (guild_id, number, ran_at, members, repeats)
         VALUES ($1, (SELECT COALESCE(MAX(number), 0) + 1 FROM connect_rounds WHERE guild_id = $1),
                 $2, $3, $4) RETURNING id, number",
    )
    .bind(to_sql_id(guild_id))
    .bind(now)
    .bind(i64::try_from(members).unwrap_or(i64::MAX))
    .bind(i64::try_from(repeats).unwrap_or(i64::MAX))
    .fetch_one(db)
    .await
}

/// Records a group of a round; returns its id.
pub async fn add_match(
    db: &mut sqlx::AnyConnection,
    round_id: i64,
    guild_id: u64,
    members: &[u64],
    now: i64,
) -> sqlx::Result<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO connect_matches (round_id, guild_id, created_at) VALUES ($1, $2, $3)
         RETURNING id",
    )
    .bind(round_id)
    .bind(to_sql_id(guild_id))
    .bind(now)
    .fetch_one(&mut *db)
    .await?;
    for user in members {
        sqlx::query("INSERT INTO connect_match_members (match_id, user_id) VALUES ($1, $2)")
            .bind(id)
            .bind(to_sql_id(*user))
            .execute(&mut *db)
            .await?;
    }
    Ok(id)
}

/// A group of a round with its members and their answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Match {
    pub id: i64,
    pub guild_id: u64,
    pub round_number: i64,
    pub ran_at: i64,
    pub thread_id: Option<u64>,
    /// `(member, met)`: 1 yes, 0 not yet, `None` no answer.
    pub members: Vec<(u64, Option<i64>)>,
}

type MatchRow = (i64, i64, i64, i64, Option<i64>, i64, Option<i64>);

const MATCH_ROWS: &str = "SELECT m.id, m.guild_id, r.number, r.ran_at, m.thread_id, mm.user_id,
     mm.met FROM connect_matches m JOIN connect_rounds r ON r.id = m.round_id
     JOIN connect_match_members mm ON mm.match_id = m.id";

fn group(rows: Vec<MatchRow>) -> Vec<Match> {
    let mut matches: Vec<Match> = Vec::new();
    for (id, guild, number, ran_at, thread, user, met) in rows {
        if matches.last().is_none_or(|m| m.id != id) {
            matches.push(Match {
                id,
                guild_id: from_sql_id(guild),
                round_number: number,
                ran_at,
                thread_id: thread.map(from_sql_id),
                members: Vec::new(),
            });
        }
        if let Some(last) = matches.last_mut() {
            last.members.push((from_sql_id(user), met));
        }
    }
    matches
}

pub async fn match_by_id(db: impl AnyExecutor<'_>, id: i64) -> sqlx::Result<Option<Match>> {
    let rows: Vec<MatchRow> =
        sqlx::query_as(&format!("{MATCH_ROWS} WHERE m.id = $1 ORDER BY mm.user_id"))
            .bind(id)
            .fetch_all(db)
            .await?;
    Ok(group(rows).pop())
}

/// The groups of a round.
pub async fn round_matches(db: impl AnyExecutor<'_>, round_id: i64) -> sqlx::Result<Vec<Match>> {
    let rows: Vec<MatchRow> = sqlx::query_as(&format!(
        "{MATCH_ROWS} WHERE m.round_id = $1 ORDER BY m.id, mm.user_id"
    ))
    .bind(round_id)
    .fetch_all(db)
    .await?;
    Ok(group(rows))
}

/// The groups of a guild's rounds numbered `from_number` or later (recent pairs).
pub async fn matches_since_round(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    from_number: i64,
) -> sqlx::Result<Vec<Match>> {
    let rows: Vec<MatchRow> = sqlx::query_as(&format!(
        "{MATCH_ROWS} WHERE m.guild_id = $1 AND r.number >= $2 ORDER BY m.id, mm.user_id"
    ))
    .bind(to_sql_id(guild_id))
    .bind(from_number)
    .fetch_all(db)
    .await?;
    Ok(group(rows))
}

/// The groups of a guild's rounds that ran in `[from, to)` (unix seconds).
pub async fn matches_between(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    from: i64,
    to: i64,
) -> sqlx::Result<Vec<Match>> {
    let rows: Vec<MatchRow> = sqlx::query_as(&format!(
        "{MATCH_ROWS} WHERE m.guild_id = $1 AND r.ran_at >= $2 AND r.ran_at < $3
         ORDER BY m.id, mm.user_id"
    ))
    .bind(to_sql_id(guild_id))
    .bind(from)
    .bind(to)
    .fetch_all(db)
    .await?;
    Ok(group(rows))
}

/// A member's groups, latest first.
pub async fn history(
    db: impl AnyExecutor<'_>,
    guild_id: Option<u64>,
    user_id: u64,
) -> sqlx::Result<Vec<Match>> {
    let rows: Vec<MatchRow> = sqlx::query_as(&format!(
        "{MATCH_ROWS} WHERE ($1 IS NULL OR m.guild_id = $1) AND m.id IN
           (SELECT match_id FROM connect_match_members WHERE user_id = $2)
         ORDER BY r.ran_at DESC, m.id DESC, mm.user_id"
    ))
    .bind(guild_id.map(to_sql_id))
    .bind(to_sql_id(user_id))
    .fetch_all(db)
    .await?;
    Ok(group(rows))
}

pub async fn set_thread(db: impl AnyExecutor<'_>, match_id: i64, thread: u64) -> sqlx::Result<()> {
    sqlx::query("UPDATE connect_matches SET thread_id = $2 WHERE id = $1")
        .bind(match_id)
        .bind(to_sql_id(thread))
        .execute(db)
        .await?;
    Ok(())
}

/// A member's answer to "did you meet?"; false when they are not in the group.
pub async fn answer(
    db: impl AnyExecutor<'_>,
    match_id: i64,
    user_id: u64,
    met: bool,
    now: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE connect_match_members SET met = $3, answered_at = $4
         WHERE match_id = $1 AND user_id = $2",
    )
    .bind(match_id)
    .bind(to_sql_id(user_id))
    .bind(i64::from(met))
    .bind(now)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// "Please don't pair us again".
pub async fn decline(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    user_id: u64,
    other_id: u64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO connect_declines (guild_id, user_id, other_id) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
    )
    .bind(to_sql_id(guild_id))
    .bind(to_sql_id(user_id))
    .bind(to_sql_id(other_id))
    .execute(db)
    .await?;
    Ok(())
}

pub async fn declines(db: impl AnyExecutor<'_>, guild_id: u64) -> sqlx::Result<Vec<(u64, u64)>> {
    let rows: Vec<(i64, i64)> =
        sqlx::query_as("SELECT user_id, other_id FROM connect_declines WHERE guild_id = $1")
            .bind(to_sql_id(guild_id))
            .fetch_all(db)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(a, b)| (from_sql_id(a), from_sql_id(b)))
        .collect())
}

/// Each member's first day (unix seconds) of a round in which they said they met someone.
pub async fn first_met(db: impl AnyExecutor<'_>, guild_id: u64) -> sqlx::Result<Vec<(u64, i64)>> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT mm.user_id, MIN(r.ran_at) FROM connect_match_members mm
         JOIN connect_matches m ON m.id = mm.match_id JOIN connect_rounds r ON r.id = m.round_id
         WHERE m.guild_id = $1 AND mm.met = 1 GROUP BY mm.user_id",
    )
    .bind(to_sql_id(guild_id))
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(u, at)| (from_sql_id(u), at))
        .collect())
}
