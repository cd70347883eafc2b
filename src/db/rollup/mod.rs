//! Materialised days (`member_days` for every day, `guild_days` for finished ones, `rollups`):
//! what reports read instead of activity records. Days are day numbers (days since
//! 1970-01-01, local).

use sqlx::{Any, AnyExecutor, Connection as _, Transaction};

use super::{to_sql_id, Pool};

mod bulk;
mod fold;
mod read;

pub use bulk::*;
pub use fold::*;
pub use read::*;

/// How far a guild's days are materialised, and in which time zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    pub timezone: String,
    /// The first day that is not finished.
    pub done_until: i64,
    /// The highest record id folded into `member_days`; `None` while the days from
    /// `done_until` on must be rebuilt from raw records.
    pub live_until_id: Option<i64>,
    /// While a rebuild of finished days runs: members' activity totals and last active and
    /// connected days leave out the member days from this day on (they are added at its end).
    pub members_behind_from: Option<i64>,
}

pub async fn state(db: impl AnyExecutor<'_>, guild_id: u64) -> sqlx::Result<Option<State>> {
    let row: Option<(String, i64, Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT timezone, done_until, live_until_id, members_behind_from
         FROM rollups WHERE guild_id = $1",
    )
    .bind(to_sql_id(guild_id))
    .fetch_optional(db)
    .await?;
    Ok(row.map(
        |(timezone, done_until, live_until_id, members_behind_from)| State {
            timezone,
            done_until,
            live_until_id,
            members_behind_from,
        },
    ))
}

/// Forgets every materialised day of a guild and starts over at `done_until` in `timezone`.
pub async fn reset(
    pool: &Pool,
    guild_id: u64,
    timezone: &str,
    done_until: i64,
) -> sqlx::Result<()> {
    let mut conn = crate::db::counts_connection(pool).await?;
    let mut tx = conn.begin().await?;
    for statement in [
        "DELETE FROM member_days WHERE guild_id = $1",
        "DELETE FROM guild_days WHERE guild_id = $1",
        // Only rows that change: a row written again writes each of its indexes again.
        "UPDATE members SET last_done_day = NULL, join_day = NULL, activity_total = 0,
                            retained_30 = 0, retained_90 = 0
         WHERE guild_id = $1
           AND (last_done_day IS NOT NULL OR join_day IS NOT NULL OR activity_total <> 0
                OR retained_30 <> 0 OR retained_90 <> 0)",
        "UPDATE rollups SET live_until_id = NULL, members_behind_from = NULL WHERE guild_id = $1",
    ] {
        sqlx::query(statement)
            .bind(to_sql_id(guild_id))
            .execute(&mut *tx)
            .await?;
    }
    crate::db::connectedness::reset(&mut tx, guild_id).await?;
    set_state(&mut tx, guild_id, timezone, done_until).await?;
    tx.commit().await
}

async fn set_state(
    tx: &mut Transaction<'_, Any>,
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

/// Older history arrived: days from `day` on are materialised again, and the live days are
/// rebuilt from raw records.
pub async fn rewind(pool: &Pool, guild_id: u64, day: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE rollups SET done_until = CASE WHEN done_until > $2 THEN $2 ELSE done_until END,
                            live_until_id = NULL
         WHERE guild_id = $1",
    )
    .bind(to_sql_id(guild_id))
    .bind(day)
    .execute(pool)
    .await?;
    Ok(())
}

/// A last day beyond any: retention windows over every member day kept.
const EVERY_DAY_KEPT: i64 = i64::MAX / 4;

/// Starts a rebuild from `day` (at or before the state's `members_behind_from`): drops the
/// member days from it on (and their activity from the members' totals, where it was added) and
/// takes each member's last finished day back to before it.
pub async fn start_rebuild(pool: &Pool, guild_id: u64, day: i64) -> sqlx::Result<()> {
    let guild = to_sql_id(guild_id);
    let mut conn = crate::db::counts_connection(pool).await?;
    let mut tx = conn.begin().await?;
    let behind_from = state(&mut *tx, guild_id)
        .await?
        .and_then(|s| s.members_behind_from)
        .unwrap_or(i64::MAX);
    sqlx::query(
        "UPDATE members SET activity_total = members.activity_total - dropped.activity
         FROM (SELECT user_id, CAST(SUM(activity) AS BIGINT) AS activity FROM member_days
               WHERE guild_id = $1 AND day >= $2 AND day < $3 GROUP BY user_id) AS dropped
         WHERE members.guild_id = $1 AND members.user_id = dropped.user_id",
    )
    .bind(guild)
    .bind(day)
    .bind(behind_from)
    .execute(&mut *tx)
    .await?;
    // Members now count every member day kept.
    sqlx::query("UPDATE rollups SET members_behind_from = NULL WHERE guild_id = $1")
        .bind(guild)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM member_days WHERE guild_id = $1 AND day >= $2")
        .bind(guild)
        .bind(day)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE members SET last_done_day = (SELECT MAX(d.day) FROM member_days d
                                             WHERE d.guild_id = members.guild_id AND d.user_id = members.user_id)
         WHERE guild_id = $1 AND last_done_day >= $2",
    )
    .bind(guild)
    .bind(day)
    .execute(&mut *tx)
    .await?;
    crate::db::connectedness::start_rebuild(&mut tx, guild_id, day).await?;
    // Retention windows reaching the rebuilt days: what the days kept say, and the rebuilt days
    // add theirs as they are finished.
    retention_windows(&mut tx, guild_id, day, EVERY_DAY_KEPT).await?;
    tx.commit().await
}

/// The highest record id (read under the write lock, it is where a rebuild of the live days
/// stops and the catch-up starts).
pub async fn highest_id(tx: &mut Transaction<'_, Any>) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM activity")
        .fetch_one(&mut **tx)
        .await
}

/// Moves the live mark to `id`: every record up to it is folded into `member_days`. Moving it
/// from an earlier mark (the catch-up, after the records' member days are added) folds the
/// records' connections too; a rebuild folded them day by day.
pub async fn folded_until(
    tx: &mut Transaction<'_, Any>,
    guild_id: u64,
    id: i64,
) -> sqlx::Result<()> {
    if let Some(mark) = state(&mut **tx, guild_id)
        .await?
        .and_then(|s| s.live_until_id)
        .filter(|mark| *mark < id)
    {
        crate::db::connectedness::fold_new(tx, guild_id, mark, id).await?;
    }
    sqlx::query("UPDATE rollups SET live_until_id = $2 WHERE guild_id = $1")
        .bind(to_sql_id(guild_id))
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Takes the write lock first, so that two processes never fold the same records.
pub async fn begin_write(pool: &Pool, guild_id: u64) -> sqlx::Result<Transaction<'static, Any>> {
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE rollups SET guild_id = guild_id WHERE guild_id = $1")
        .bind(to_sql_id(guild_id))
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}
