//! Nominations and spotlights.

use sqlx::AnyExecutor;

use super::{from_sql_id, to_sql_id};

pub async fn nominate(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    nominee: u64,
    nominator: u64,
    reason: &str,
    now: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO nominations (guild_id, nominee_id, nominator_id, reason, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(to_sql_id(guild_id))
    .bind(to_sql_id(nominee))
    .bind(to_sql_id(nominator))
    .bind(reason)
    .bind(now)
    .fetch_one(db)
    .await
}

/// Nominations since `since`: (nominee, count, latest reason).
pub async fn nominations_since(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    since: i64,
) -> sqlx::Result<Vec<(u64, u64, String)>> {
    let rows: Vec<(i64, i64, String)> = sqlx::query_as(
        "SELECT nominee_id, COUNT(*), (SELECT reason FROM nominations n2 WHERE n2.guild_id = n.guild_id AND n2.nominee_id = n.nominee_id ORDER BY created_at DESC, id DESC LIMIT 1)
         FROM nominations n WHERE guild_id = $1 AND created_at >= $2 GROUP BY guild_id, nominee_id",
    )
    .bind(to_sql_id(guild_id))
    .bind(since)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(u, n, r)| (from_sql_id(u), u64::try_from(n).unwrap_or(0), r))
        .collect())
}

pub async fn record_spotlight(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    member: u64,
    by: u64,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO spotlights (guild_id, member_id, posted_by, posted_at) VALUES ($1, $2, $3, $4)")
        .bind(to_sql_id(guild_id))
        .bind(to_sql_id(member))
        .bind(to_sql_id(by))
        .bind(now)
        .execute(db)
        .await?;
    Ok(())
}

/// Spotlights, newest first: (member, posted by, when).
pub async fn spotlights(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    since: i64,
) -> sqlx::Result<Vec<(u64, u64, i64)>> {
    let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT member_id, posted_by, posted_at FROM spotlights WHERE guild_id = $1 AND posted_at >= $2 ORDER BY posted_at DESC, id DESC",
    )
    .bind(to_sql_id(guild_id))
    .bind(since)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(m, b, t)| (from_sql_id(m), from_sql_id(b), t))
        .collect())
}

/// When a guild's monthly shout-out recurs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shoutout {
    pub day: i64,
    pub time_of_day: String,
}

super::from_row!(Shoutout { day, time_of_day });

pub async fn set_shoutout(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    shoutout: &Shoutout,
    author: u64,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO shoutouts (guild_id, day, time_of_day, author_id, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (guild_id) DO UPDATE SET day = excluded.day, time_of_day = excluded.time_of_day,
           author_id = excluded.author_id",
    )
    .bind(to_sql_id(guild_id))
    .bind(shoutout.day)
    .bind(&shoutout.time_of_day)
    .bind(to_sql_id(author))
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn shoutout(db: impl AnyExecutor<'_>, guild_id: u64) -> sqlx::Result<Option<Shoutout>> {
    sqlx::query_as("SELECT day, time_of_day FROM shoutouts WHERE guild_id = $1")
        .bind(to_sql_id(guild_id))
        .fetch_optional(db)
        .await
}

/// Stops the shout-out; returns whether there was one.
pub async fn remove_shoutout(db: impl AnyExecutor<'_>, guild_id: u64) -> sqlx::Result<bool> {
    Ok(sqlx::query("DELETE FROM shoutouts WHERE guild_id = $1")
        .bind(to_sql_id(guild_id))
        .execute(db)
        .await?
        .rows_affected()
        > 0)
}
