//! What reports read: materialised guild days, the live day, cohorts and top lists.

use sqlx::AnyExecutor;

use crate::db::{from_sql_id, to_sql_id, Pool};
use crate::domain::analytics::{RETAINED_30, RETAINED_90};

pub use crate::domain::rollup::GuildDay;

/// When the guild's first record is from, activity or join event, if it has one (known join
/// times of members who were there before Hearth are no record of what Hearth saw).
pub async fn first_record_at(pool: &Pool, guild_id: u64) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "SELECT MIN(t) FROM (SELECT MIN(at) AS t FROM activity WHERE guild_id = $1
                             UNION ALL SELECT MIN(joined_at) FROM member_joins WHERE guild_id = $1) AS firsts",
    )
        .bind(to_sql_id(guild_id))
        .fetch_one(pool)
        .await
}

/// The earliest activity record or first join of a guild's members, if any.
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

/// The latest activity record of a guild, if any (how far live days reach).
pub async fn latest_activity(db: impl AnyExecutor<'_>, guild_id: u64) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT MAX(at) FROM activity WHERE guild_id = $1")
        .bind(to_sql_id(guild_id))
        .fetch_one(db)
        .await
}

/// The figures so far of a day that is not finished (`day >= done_until`). A member counts in
/// WAU/MAU through their last finished day, or else once, on their first live day in the
/// window (the one whose previous active day lies before it).
pub async fn live_day(
    pool: &Pool,
    guild_id: u64,
    done_until: i64,
    day: i64,
) -> sqlx::Result<GuildDay> {
    let guild = to_sql_id(guild_id);
    type Row = (
        i64,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
    );
    let (dau, messages, replies, threads, new_in_week, new_in_month): Row = sqlx::query_as(
        "SELECT COUNT(*), CAST(SUM(messages) AS BIGINT), CAST(SUM(replies) AS BIGINT), CAST(SUM(threads) AS BIGINT),
                CAST(SUM(CASE WHEN prev_day IS NULL OR prev_day < $2 - 6 THEN 1 ELSE 0 END) AS BIGINT),
                CAST(SUM(CASE WHEN prev_day IS NULL OR prev_day < $2 - 29 THEN 1 ELSE 0 END) AS BIGINT)
         FROM member_days WHERE guild_id = $1 AND day = $2",
    )
    .bind(guild)
    .bind(day)
    .fetch_one(pool)
    .await?;
    // The usual case, today after a finished yesterday: the finished part of the windows was
    // counted when yesterday was finished.
    let carried: Option<(i64, i64)> = if day == done_until {
        sqlx::query_as(
            "SELECT carry_wau, carry_mau FROM guild_days WHERE guild_id = $1 AND day = $2",
        )
        .bind(guild)
        .bind(day - 1)
        .fetch_optional(pool)
        .await?
    } else {
        None
    };
    let (wau, mau) = match carried {
        Some((week, month)) => (
            week + new_in_week.unwrap_or(0),
            month + new_in_month.unwrap_or(0),
        ),
        None => {
            let window = |length: i64| {
                let first = day - length + 1;
                sqlx::query_scalar::<_, i64>(
                    "SELECT (SELECT COUNT(*) FROM members WHERE guild_id = $1 AND last_done_day >= $2)
                          + (SELECT COUNT(*) FROM member_days
                             WHERE guild_id = $1 AND day >= $3 AND day <= $4
                               AND (prev_day IS NULL OR prev_day < $2))",
                )
                .bind(guild)
                .bind(first)
                .bind(first.max(done_until))
                .bind(day)
                .fetch_one(pool)
            };
            (window(7).await?, window(30).await?)
        }
    };
    Ok(GuildDay {
        day,
        dau,
        wau,
        mau,
        messages: messages.unwrap_or(0),
        replies: replies.unwrap_or(0),
        threads: threads.unwrap_or(0),
        ..GuildDay::default()
    })
}

/// Figures of the finished days in `first..=last`.
pub async fn guild_days(
    pool: &Pool,
    guild_id: u64,
    first: i64,
    last: i64,
) -> sqlx::Result<Vec<GuildDay>> {
    type Row = (
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        Option<i64>,
        Option<i64>,
        i64,
        i64,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT day, dau, wau, mau, messages, replies, threads, joins, activation_joined, activated,
                carry_wau, carry_mau
         FROM guild_days WHERE guild_id = $1 AND day >= $2 AND day <= $3",
    )
    .bind(to_sql_id(guild_id))
    .bind(first)
    .bind(last)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| GuildDay {
            day: row.0,
            dau: row.1,
            wau: row.2,
            mau: row.3,
            messages: row.4,
            replies: row.5,
            threads: row.6,
            joins: row.7,
            activation: row.8.zip(row.9),
            carry_wau: row.10,
            carry_mau: row.11,
        })
        .collect())
}

/// Retention counts of one join day: members whose cohort day it is, and how many of them were
/// active in days 30-59 and 90-119 after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JoinDay {
    pub day: i64,
    pub size: i64,
    pub retained_30: i64,
    pub retained_90: i64,
}

/// [`JoinDay`] counts of join days `first..=last` (cohort day: the local day of the first
/// join, or of the first activity when no join is known), with the cohort instants in
/// `[since, until)` of members whose join day is not finished yet. `done_until` is the first
/// day not finished: retention windows reaching it also look at live member days.
pub async fn cohorts(
    pool: &Pool,
    guild_id: u64,
    (first, last): (i64, i64),
    (since, until): (i64, i64),
    done_until: i64,
) -> sqlx::Result<(Vec<JoinDay>, Vec<i64>)> {
    let guild = to_sql_id(guild_id);
    let finished: Vec<(i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT join_day, COUNT(*), CAST(SUM(retained_30) AS BIGINT), CAST(SUM(retained_90) AS BIGINT) FROM members
         WHERE guild_id = $1 AND join_day >= $2 AND join_day <= $3 GROUP BY join_day",
    )
    .bind(guild)
    .bind(first)
    .bind(last)
    .fetch_all(pool)
    .await?;
    let mut days: std::collections::BTreeMap<i64, JoinDay> = finished
        .into_iter()
        .map(|(day, size, retained_30, retained_90)| {
            let counts = JoinDay {
                day,
                size,
                retained_30,
                retained_90,
            };
            (day, counts)
        })
        .collect();
    // The flags cover finished days; windows reaching live days (up to `last`, the end of the
    // range) get a look at those.
    for (flag, (start, end)) in [("retained_30", RETAINED_30), ("retained_90", RETAINED_90)] {
        let live: Vec<(i64, i64)> = sqlx::query_as(&format!(
            "SELECT m.join_day, COUNT(*) FROM members m
             WHERE m.guild_id = $1 AND m.join_day >= $2 AND m.join_day <= $3 AND m.{flag} = 0
               AND EXISTS (SELECT 1 FROM member_days d
                           WHERE d.guild_id = $1 AND d.user_id = m.user_id AND d.day >= $4
                             AND d.day >= m.join_day + {start} AND d.day <= m.join_day + {end})
             GROUP BY m.join_day"
        ))
        .bind(guild)
        .bind(first.max(done_until - end))
        .bind(last - start)
        .bind(done_until)
        .fetch_all(pool)
        .await?;
        for (day, n) in live {
            if let Some(counts) = days.get_mut(&day) {
                if start == 30 {
                    counts.retained_30 += n;
                } else {
                    counts.retained_90 += n;
                }
            }
        }
    }
    let live: Vec<i64> = sqlx::query_scalar(
        // As one COALESCE, the range cannot use the instants' indexes: SQLite reads the few
        // members without a join day instead.
        "SELECT COALESCE(first_joined_at, first_active_at) FROM members
         WHERE guild_id = $1 AND join_day IS NULL
           AND COALESCE(first_joined_at, first_active_at) >= $2
           AND COALESCE(first_joined_at, first_active_at) < $3",
    )
    .bind(guild)
    .bind(since)
    .bind(until)
    .fetch_all(pool)
    .await?;
    Ok((days.into_values().collect(), live))
}

/// Whether member days `first..=last` hold all of a guild's member days.
pub async fn spans_all_days(
    pool: &Pool,
    guild_id: u64,
    first: i64,
    last: i64,
) -> sqlx::Result<bool> {
    let outside: Option<i64> = sqlx::query_scalar(
        "SELECT 1 WHERE EXISTS (SELECT 1 FROM member_days WHERE guild_id = $1 AND day < $2)
                     OR EXISTS (SELECT 1 FROM member_days WHERE guild_id = $1 AND day > $3)",
    )
    .bind(to_sql_id(guild_id))
    .bind(first)
    .bind(last)
    .fetch_optional(pool)
    .await?;
    Ok(outside.is_none())
}

/// The `limit` members with the most activity over all member days (ties: lower id first).
pub async fn top_activity_ever(
    pool: &Pool,
    guild_id: u64,
    limit: i64,
) -> sqlx::Result<Vec<(u64, u64)>> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT user_id, activity_total FROM members
         WHERE guild_id = $1 AND activity_total > 0
         ORDER BY activity_total DESC, user_id LIMIT $2",
    )
    .bind(to_sql_id(guild_id))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(totals(rows))
}

/// The `limit` members with the most activity over member days `first..=last` (ties: lower id
/// first).
pub async fn top_activity(
    pool: &Pool,
    guild_id: u64,
    first: i64,
    last: i64,
    limit: i64,
) -> sqlx::Result<Vec<(u64, u64)>> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT user_id, CAST(SUM(activity) AS BIGINT) AS total FROM member_days
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

fn totals(rows: Vec<(i64, i64)>) -> Vec<(u64, u64)> {
    rows.into_iter()
        .map(|(u, n)| (from_sql_id(u), u64::try_from(n).unwrap_or(0)))
        .collect()
}

/// Threads and forum posts started by `members` over member days `first..=last`.
pub async fn threads_by(
    pool: &Pool,
    guild_id: u64,
    members: &[u64],
    first: i64,
    last: i64,
) -> sqlx::Result<u64> {
    let mut total = 0;
    for member in members {
        let n: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(SUM(threads) AS BIGINT) FROM member_days
             WHERE guild_id = $1 AND user_id = $2 AND day >= $3 AND day <= $4",
        )
        .bind(to_sql_id(guild_id))
        .bind(to_sql_id(*member))
        .bind(first)
        .bind(last)
        .fetch_one(pool)
        .await?;
        total += u64::try_from(n.unwrap_or(0)).unwrap_or(0);
    }
    Ok(total)
}
