//! Materialised finished days (`member_days`, `guild_days`, `rollups`): what reports read
//! instead of every activity record. Days are day numbers (days since 1970-01-01, local).

use std::collections::HashMap;

use sqlx::{Sqlite, Transaction};

use super::{from_sql_id, to_sql_id, Pool};

/// How far a guild's days are materialised, and in which time zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    pub timezone: String,
    /// The first day that is not materialised.
    pub done_until: i64,
}

/// One finished day's figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuildDay {
    pub day: i64,
    pub dau: i64,
    pub wau: i64,
    pub mau: i64,
    pub messages: i64,
}

pub async fn state(pool: &Pool, guild_id: u64) -> sqlx::Result<Option<State>> {
    let row: Option<(String, i64)> =
        sqlx::query_as("SELECT timezone, done_until FROM rollups WHERE guild_id = $1")
            .bind(to_sql_id(guild_id))
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|(timezone, done_until)| State {
        timezone,
        done_until,
    }))
}

/// Forgets every materialised day of a guild and starts over at `done_until` in `timezone`.
pub async fn reset(
    pool: &Pool,
    guild_id: u64,
    timezone: &str,
    done_until: i64,
) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    for statement in [
        "DELETE FROM member_days WHERE guild_id = $1",
        "DELETE FROM guild_days WHERE guild_id = $1",
    ] {
        sqlx::query(statement)
            .bind(to_sql_id(guild_id))
            .execute(&mut *tx)
            .await?;
    }
    set_state(&mut tx, guild_id, timezone, done_until).await?;
    tx.commit().await
}

async fn set_state(
    tx: &mut Transaction<'_, Sqlite>,
    guild_id: u64,
    timezone: &str,
    done_until: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO rollups (guild_id, timezone, done_until) VALUES ($1, $2, $3)
         ON CONFLICT (guild_id) DO UPDATE SET timezone = excluded.timezone, done_until = excluded.done_until",
    )
    .bind(to_sql_id(guild_id))
    .bind(timezone)
    .bind(done_until)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Moves `done_until` back to `day` (older history arrived); later days are materialised again.
pub async fn rewind(pool: &Pool, guild_id: u64, day: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE rollups SET done_until = $2 WHERE guild_id = $1 AND done_until > $2")
        .bind(to_sql_id(guild_id))
        .bind(day)
        .execute(pool)
        .await?;
    Ok(())
}

/// The earliest activity record or join of a guild, if any.
pub async fn earliest_activity(pool: &Pool, guild_id: u64) -> sqlx::Result<Option<i64>> {
    // Joins count too: a member who joined before the first activity needs that day's join day.
    sqlx::query_scalar(
        "SELECT MIN(t) FROM (SELECT MIN(at) AS t FROM activity WHERE guild_id = $1
                             UNION ALL SELECT MIN(first_joined_at) FROM members WHERE guild_id = $1) AS firsts",
    )
        .bind(to_sql_id(guild_id))
        .fetch_one(pool)
        .await
}

/// Materialises one day (`[start, end)` in unix seconds) and returns its active members with
/// their message counts. Replaces what an earlier run wrote for the day; the caller commits
/// the day's figures and the new `done_until` in the same transaction.
pub async fn materialise_day(
    tx: &mut Transaction<'_, Sqlite>,
    guild_id: u64,
    day: i64,
    start: i64,
    end: i64,
) -> sqlx::Result<Vec<(u64, i64)>> {
    let guild = to_sql_id(guild_id);
    sqlx::query("DELETE FROM member_days WHERE guild_id = $1 AND day = $2")
        .bind(guild)
        .bind(day)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO member_days (guild_id, day, user_id, activity, messages, replies, threads)
         SELECT guild_id, $2, user_id, COUNT(*),
                SUM(CASE WHEN kind = 1 THEN 1 ELSE 0 END),
                SUM(CASE WHEN kind = 1 AND (reply_to IS NOT NULL OR in_thread = 1) THEN 1 ELSE 0 END),
                SUM(CASE WHEN kind = 2 THEN 1 ELSE 0 END)
         FROM activity WHERE guild_id = $1 AND at >= $3 AND at < $4
         GROUP BY guild_id, user_id",
    )
    .bind(guild)
    .bind(day)
    .bind(start)
    .bind(end)
    .execute(&mut **tx)
    .await?;
    // MIN(COALESCE(a, b), COALESCE(b, a)) is the smaller of two times, either of which may be NULL.
    sqlx::query(
        "INSERT INTO members (guild_id, user_id, first_active_at, first_message_at)
         SELECT guild_id, user_id, MIN(at), MIN(CASE WHEN kind = 1 THEN at END)
         FROM activity WHERE guild_id = $1 AND at >= $2 AND at < $3
         GROUP BY guild_id, user_id
         ON CONFLICT (guild_id, user_id) DO UPDATE SET
           first_active_at = MIN(COALESCE(members.first_active_at, excluded.first_active_at),
                                 COALESCE(excluded.first_active_at, members.first_active_at)),
           first_message_at = MIN(COALESCE(members.first_message_at, excluded.first_message_at),
                                  COALESCE(excluded.first_message_at, members.first_message_at))",
    )
    .bind(guild)
    .bind(start)
    .bind(end)
    .execute(&mut **tx)
    .await?;
    // The cohort instant's day; written as two range conditions so each uses its index.
    sqlx::query(
        "UPDATE members SET join_day = $2
         WHERE guild_id = $1
           AND ((first_joined_at >= $3 AND first_joined_at < $4)
                OR (first_joined_at IS NULL AND first_active_at >= $3 AND first_active_at < $4))",
    )
    .bind(guild)
    .bind(day)
    .bind(start)
    .bind(end)
    .execute(&mut **tx)
    .await?;
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT user_id, messages FROM member_days WHERE guild_id = $1 AND day = $2",
    )
    .bind(guild)
    .bind(day)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(|(u, m)| (from_sql_id(u), m)).collect())
}

/// Stores a finished day's figures and advances `done_until` past it.
pub async fn finish_day(
    tx: &mut Transaction<'_, Sqlite>,
    guild_id: u64,
    timezone: &str,
    figures: GuildDay,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO guild_days (guild_id, day, dau, wau, mau, messages) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (guild_id, day) DO UPDATE SET dau = excluded.dau, wau = excluded.wau,
           mau = excluded.mau, messages = excluded.messages",
    )
    .bind(to_sql_id(guild_id))
    .bind(figures.day)
    .bind(figures.dau)
    .bind(figures.wau)
    .bind(figures.mau)
    .bind(figures.messages)
    .execute(&mut **tx)
    .await?;
    set_state(tx, guild_id, timezone, figures.day + 1).await
}

/// Figures of the finished days in `first..=last`.
pub async fn guild_days(
    pool: &Pool,
    guild_id: u64,
    first: i64,
    last: i64,
) -> sqlx::Result<Vec<GuildDay>> {
    let rows: Vec<(i64, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT day, dau, wau, mau, messages FROM guild_days WHERE guild_id = $1 AND day >= $2 AND day <= $3",
    )
    .bind(to_sql_id(guild_id))
    .bind(first)
    .bind(last)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(day, dau, wau, mau, messages)| GuildDay {
            day,
            dau,
            wau,
            mau,
            messages,
        })
        .collect())
}

/// (member, day) pairs of materialised days in `first..=last`.
pub async fn active_days(
    pool: &Pool,
    guild_id: u64,
    first: i64,
    last: i64,
) -> sqlx::Result<Vec<(u64, i64)>> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT user_id, day FROM member_days WHERE guild_id = $1 AND day >= $2 AND day <= $3",
    )
    .bind(to_sql_id(guild_id))
    .bind(first)
    .bind(last)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|(u, d)| (from_sql_id(u), d)).collect())
}

/// Each member's last materialised active day in `first..=last`: all that WAU and MAU of the
/// days after `last` need from those days (a window reaching any of them reaches the last).
pub async fn last_active_days(
    pool: &Pool,
    guild_id: u64,
    first: i64,
    last: i64,
) -> sqlx::Result<Vec<(u64, i64)>> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT user_id, MAX(day) FROM member_days WHERE guild_id = $1 AND day >= $2 AND day <= $3
         GROUP BY user_id",
    )
    .bind(to_sql_id(guild_id))
    .bind(first)
    .bind(last)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|(u, d)| (from_sql_id(u), d)).collect())
}

/// For members who first joined (or, with no join known, were first active) in
/// `[since, until)`: one active day in each retention window (days 30-59 and 90-119 after the
/// join day) within `first..=last`, which is all retention needs to know.
pub async fn cohort_active_days(
    pool: &Pool,
    guild_id: u64,
    first: i64,
    last: i64,
    since: i64,
    until: i64,
) -> sqlx::Result<Vec<(u64, i64)>> {
    // One range per member on (guild, user, day); bounds clamped with CASE so that SQLite does
    // not prefer the (guild, day) key and scan whole days instead.
    let window = |from: i64, to: i64| {
        format!(
            "(SELECT MIN(d.day) FROM member_days d
              WHERE d.guild_id = $1 AND d.user_id = m.user_id
                AND d.day >= CASE WHEN m.join_day + {from} > $2 THEN m.join_day + {from} ELSE $2 END
                AND d.day <= CASE WHEN m.join_day + {to} < $3 THEN m.join_day + {to} ELSE $3 END)"
        )
    };
    let query = format!(
        "SELECT m.user_id, {}, {} FROM members m
         WHERE m.guild_id = $1 AND m.join_day IS NOT NULL
           AND ((m.first_joined_at >= $4 AND m.first_joined_at < $5)
                OR (m.first_joined_at IS NULL AND m.first_active_at >= $4 AND m.first_active_at < $5))",
        window(30, 59),
        window(90, 119)
    );
    let rows: Vec<(i64, Option<i64>, Option<i64>)> = sqlx::query_as(&query)
        .bind(to_sql_id(guild_id))
        .bind(first)
        .bind(last)
        .bind(since)
        .bind(until)
        .fetch_all(pool)
        .await?;
    Ok(rows
        .into_iter()
        .flat_map(|(u, d30, d90)| {
            [d30, d90]
                .into_iter()
                .flatten()
                .map(move |d| (from_sql_id(u), d))
        })
        .collect())
}

/// The `limit` members with the most activity over materialised days `first..=last`
/// (ties: lower id first).
pub async fn top_activity(
    pool: &Pool,
    guild_id: u64,
    first: i64,
    last: i64,
    limit: i64,
) -> sqlx::Result<HashMap<u64, u64>> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT user_id, SUM(activity) AS total FROM member_days
         WHERE guild_id = $1 AND day >= $2 AND day <= $3
         GROUP BY user_id ORDER BY total DESC, user_id LIMIT $4",
    )
    .bind(to_sql_id(guild_id))
    .bind(first)
    .bind(last)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(totals(rows))
}

/// Activity over materialised days `first..=last` of members active in `[since, until)`.
pub async fn activity_of_recent(
    pool: &Pool,
    guild_id: u64,
    first: i64,
    last: i64,
    since: i64,
    until: i64,
) -> sqlx::Result<HashMap<u64, u64>> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT user_id, SUM(activity) FROM member_days
         WHERE guild_id = $1 AND day >= $2 AND day <= $3
           AND user_id IN (SELECT user_id FROM activity WHERE guild_id = $1 AND at >= $4 AND at < $5)
         GROUP BY user_id",
    )
    .bind(to_sql_id(guild_id))
    .bind(first)
    .bind(last)
    .bind(since)
    .bind(until)
    .fetch_all(pool)
    .await?;
    Ok(totals(rows))
}

fn totals(rows: Vec<(i64, i64)>) -> HashMap<u64, u64> {
    rows.into_iter()
        .map(|(u, n)| (from_sql_id(u), u64::try_from(n).unwrap_or(0)))
        .collect()
}

/// (replies, top-level messages, per-member threads started) over materialised days.
pub async fn conversation_counts(
    pool: &Pool,
    guild_id: u64,
    first: i64,
    last: i64,
) -> sqlx::Result<(u64, u64, Vec<(u64, u64)>)> {
    let (replies, messages): (Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT SUM(replies), SUM(messages) FROM member_days WHERE guild_id = $1 AND day >= $2 AND day <= $3",
    )
    .bind(to_sql_id(guild_id))
    .bind(first)
    .bind(last)
    .fetch_one(pool)
    .await?;
    let starters: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT user_id, SUM(threads) FROM member_days
         WHERE guild_id = $1 AND day >= $2 AND day <= $3 AND threads > 0 GROUP BY user_id",
    )
    .bind(to_sql_id(guild_id))
    .bind(first)
    .bind(last)
    .fetch_all(pool)
    .await?;
    let n = |x: Option<i64>| u64::try_from(x.unwrap_or(0)).unwrap_or(0);
    let replies = n(replies);
    Ok((
        replies,
        n(messages).saturating_sub(replies),
        starters
            .into_iter()
            .map(|(u, k)| (from_sql_id(u), u64::try_from(k).unwrap_or(0)))
            .collect(),
    ))
}
