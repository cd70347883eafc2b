//! Materialised days (`member_days` for every day, `guild_days` for finished ones, `rollups`):
//! what reports read instead of activity records. Days are day numbers (days since
//! 1970-01-01, local).

use sqlx::{Sqlite, SqliteExecutor, Transaction};

use super::{from_sql_id, to_sql_id, Pool};

/// How far a guild's days are materialised, and in which time zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    pub timezone: String,
    /// The first day that is not finished.
    pub done_until: i64,
    /// The highest record id folded into `member_days`; `None` while the days from
    /// `done_until` on must be rebuilt from raw records.
    pub live_until_id: Option<i64>,
}

/// One day's figures: final for a finished day, so far for a live one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GuildDay {
    pub day: i64,
    pub dau: i64,
    pub wau: i64,
    pub mau: i64,
    pub messages: i64,
    /// Message replies and messages inside threads.
    pub replies: i64,
    /// Threads and forum posts started.
    pub threads: i64,
    /// Joins (events, or first activity where no join is known).
    pub joins: i64,
    /// Of the day's joins, (how many, how many posted a first message within 7 days): set once
    /// final, when the day 8 days later is finished.
    pub activation: Option<(i64, i64)>,
    /// Members active in the 6 and 29 days up to this one: the next day's WAU and MAU before
    /// its own activity.
    pub carry_wau: i64,
    pub carry_mau: i64,
}

pub async fn state(db: impl SqliteExecutor<'_>, guild_id: u64) -> sqlx::Result<Option<State>> {
    let row: Option<(String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT timezone, done_until, live_until_id FROM rollups WHERE guild_id = $1",
    )
    .bind(to_sql_id(guild_id))
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(timezone, done_until, live_until_id)| State {
        timezone,
        done_until,
        live_until_id,
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
        "UPDATE members SET last_done_day = NULL, join_day = NULL, activity_total = 0,
                            retained_30 = 0, retained_90 = 0
         WHERE guild_id = $1",
        "UPDATE rollups SET live_until_id = NULL WHERE guild_id = $1",
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

/// Starts a rebuild from `day`: drops the member days from it on (and their activity from the
/// members' totals) and takes each member's last finished day back to before it.
pub async fn start_rebuild(pool: &Pool, guild_id: u64, day: i64) -> sqlx::Result<()> {
    let guild = to_sql_id(guild_id);
    let mut tx = pool.begin().await?;
    sqlx::query(
        "UPDATE members SET activity_total = members.activity_total - dropped.activity
         FROM (SELECT user_id, SUM(activity) AS activity FROM member_days
               WHERE guild_id = $1 AND day >= $2 GROUP BY user_id) AS dropped
         WHERE members.guild_id = $1 AND members.user_id = dropped.user_id",
    )
    .bind(guild)
    .bind(day)
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
    // Retention windows reaching the rebuilt days: what the days kept say, and the rebuilt days
    // add theirs as they are finished.
    let window = |flag: &str, start: i64, end: i64| {
        format!(
            "UPDATE members SET {flag} = CASE WHEN EXISTS (
                 SELECT 1 FROM member_days d
                 WHERE d.guild_id = members.guild_id AND d.user_id = members.user_id
                   AND d.day >= members.join_day + {start} AND d.day <= members.join_day + {end})
               THEN 1 ELSE 0 END
             WHERE guild_id = $1 AND join_day >= $2 - {end}"
        )
    };
    for statement in [
        window("retained_30", 30, 59),
        window("retained_90", 90, 119),
    ] {
        sqlx::query(&statement)
            .bind(guild)
            .bind(day)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

/// The highest record id (read under the write lock, it is where a rebuild of the live days
/// stops and the catch-up starts).
pub async fn highest_id(tx: &mut Transaction<'_, Sqlite>) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM activity")
        .fetch_one(&mut **tx)
        .await
}

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
pub async fn latest_activity(
    db: impl SqliteExecutor<'_>,
    guild_id: u64,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT MAX(at) FROM activity WHERE guild_id = $1")
        .bind(to_sql_id(guild_id))
        .fetch_one(db)
        .await
}

/// How new activity updates a member's row: the earlier first activity and first message
/// (MIN(COALESCE(a, b), COALESCE(b, a)) is the smaller of two times, either of which may be
/// NULL), and the activity added to the total.
const ADD_TO_MEMBER: &str = "ON CONFLICT (guild_id, user_id) DO UPDATE SET
           first_active_at = MIN(COALESCE(members.first_active_at, excluded.first_active_at),
                                 COALESCE(excluded.first_active_at, members.first_active_at)),
           first_message_at = MIN(COALESCE(members.first_message_at, excluded.first_message_at),
                                  COALESCE(excluded.first_message_at, members.first_message_at)),
           activity_total = members.activity_total + excluded.activity_total";

/// Builds one day (`[start, end)` in unix seconds) of `member_days` from the raw records up to
/// `until_id`, and each active member's first activity and first message.
pub async fn rebuild_day(
    tx: &mut Transaction<'_, Sqlite>,
    guild_id: u64,
    day: i64,
    start: i64,
    end: i64,
    until_id: i64,
) -> sqlx::Result<()> {
    let guild = to_sql_id(guild_id);
    sqlx::query(
        "UPDATE members SET activity_total = members.activity_total - d.activity
         FROM member_days d
         WHERE d.guild_id = $1 AND d.day = $2 AND members.guild_id = $1 AND members.user_id = d.user_id",
    )
    .bind(guild)
    .bind(day)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM member_days WHERE guild_id = $1 AND day = $2")
        .bind(guild)
        .bind(day)
        .execute(&mut **tx)
        .await?;
    // Days are built in order, so each member's previous active day is already there.
    sqlx::query(
        "INSERT INTO member_days (guild_id, day, user_id, activity, messages, replies, threads, prev_day)
         SELECT a.guild_id, $2, a.user_id, COUNT(*),
                SUM(CASE WHEN a.kind = 1 THEN 1 ELSE 0 END),
                SUM(CASE WHEN a.kind = 1 AND (a.reply_to IS NOT NULL OR a.in_thread = 1) THEN 1 ELSE 0 END),
                SUM(CASE WHEN a.kind = 2 THEN 1 ELSE 0 END),
                (SELECT MAX(p.day) FROM member_days p
                 WHERE p.guild_id = a.guild_id AND p.user_id = a.user_id AND p.day < $2)
         FROM activity a WHERE a.guild_id = $1 AND a.at >= $3 AND a.at < $4 AND a.id <= $5
         GROUP BY a.guild_id, a.user_id",
    )
    .bind(guild)
    .bind(day)
    .bind(start)
    .bind(end)
    .bind(until_id)
    .execute(&mut **tx)
    .await?;
    sqlx::query(&format!(
        "INSERT INTO members (guild_id, user_id, first_active_at, first_message_at, activity_total)
         SELECT guild_id, user_id, MIN(at), MIN(CASE WHEN kind = 1 THEN at END), COUNT(*)
         FROM activity WHERE guild_id = $1 AND at >= $2 AND at < $3 AND id <= $4
         GROUP BY guild_id, user_id
         {ADD_TO_MEMBER}"
    ))
    .bind(guild)
    .bind(start)
    .bind(end)
    .bind(until_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// One record not folded yet (the catch-up's input).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewRecord {
    pub id: i64,
    pub user_id: u64,
    pub at: i64,
    pub kind: i64,
    /// A message reply or a message inside a thread.
    pub is_reply: bool,
}

/// Up to `limit` of a guild's records with an id above `after_id`, in id order.
pub async fn records_after(
    tx: &mut Transaction<'_, Sqlite>,
    guild_id: u64,
    after_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<NewRecord>> {
    // `+guild_id` keeps SQLite on the id range: the guild's time index would read every record.
    let rows: Vec<(i64, i64, i64, i64, bool)> = sqlx::query_as(
        "SELECT id, user_id, at, kind, (reply_to IS NOT NULL OR in_thread = 1) FROM activity
         WHERE id > $2 AND +guild_id = $1 ORDER BY id LIMIT $3",
    )
    .bind(to_sql_id(guild_id))
    .bind(after_id)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, user, at, kind, is_reply)| NewRecord {
            id,
            user_id: from_sql_id(user),
            at,
            kind,
            is_reply,
        })
        .collect())
}

/// Counts to add to one member's day.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DayCounts {
    pub activity: i64,
    pub messages: i64,
    pub replies: i64,
    pub threads: i64,
}

/// Adds counts to a member's (live) day; a new day gets the member's previous active day, and
/// the member's next day gets this one as its previous if it is closer.
pub async fn add_to_member_day(
    tx: &mut Transaction<'_, Sqlite>,
    guild_id: u64,
    user_id: u64,
    day: i64,
    counts: DayCounts,
) -> sqlx::Result<()> {
    let (guild, user) = (to_sql_id(guild_id), to_sql_id(user_id));
    sqlx::query(
        "INSERT INTO member_days (guild_id, day, user_id, activity, messages, replies, threads, prev_day)
         VALUES ($1, $2, $3, $4, $5, $6, $7, (SELECT MAX(p.day) FROM member_days p
                                              WHERE p.guild_id = $1 AND p.user_id = $3 AND p.day < $2))
         ON CONFLICT (guild_id, day, user_id) DO UPDATE SET
           activity = member_days.activity + excluded.activity,
           messages = member_days.messages + excluded.messages,
           replies = member_days.replies + excluded.replies,
           threads = member_days.threads + excluded.threads",
    )
    .bind(guild)
    .bind(day)
    .bind(user)
    .bind(counts.activity)
    .bind(counts.messages)
    .bind(counts.replies)
    .bind(counts.threads)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE member_days SET prev_day = $2
         WHERE guild_id = $1 AND user_id = $3
           AND day = (SELECT MIN(n.day) FROM member_days n WHERE n.guild_id = $1 AND n.user_id = $3 AND n.day > $2)
           AND (prev_day IS NULL OR prev_day < $2)",
    )
    .bind(guild)
    .bind(day)
    .bind(user)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Folds new records into a member's row: first activity, first message, activity total.
pub async fn add_to_member(
    tx: &mut Transaction<'_, Sqlite>,
    guild_id: u64,
    user_id: u64,
    first_active_at: i64,
    first_message_at: Option<i64>,
    activity: i64,
) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "INSERT INTO members (guild_id, user_id, first_active_at, first_message_at, activity_total)
         VALUES ($1, $2, $3, $4, $5)
         {ADD_TO_MEMBER}"
    ))
    .bind(to_sql_id(guild_id))
    .bind(to_sql_id(user_id))
    .bind(first_active_at)
    .bind(first_message_at)
    .bind(activity)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Moves the live mark to `id`: every record up to it is folded into `member_days`.
pub async fn folded_until(
    tx: &mut Transaction<'_, Sqlite>,
    guild_id: u64,
    id: i64,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE rollups SET live_until_id = $2 WHERE guild_id = $1")
        .bind(to_sql_id(guild_id))
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Replies among the records `after_id < id <= until_id` to a member's first message: that
/// member's first reply is the earliest of them and the one known. One statement: each reply
/// finds the message it answers on the unique (guild, kind, target) key.
pub async fn note_first_replies(
    tx: &mut Transaction<'_, Sqlite>,
    guild_id: u64,
    after_id: i64,
    until_id: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE members
         SET first_reply_at = CASE WHEN first_reply_at < replies.at THEN first_reply_at ELSE replies.at END
         FROM (SELECT m.user_id AS author, m.at AS message_at, MIN(r.at) AS at
               FROM activity r CROSS JOIN activity m
               WHERE r.id > $2 AND r.id <= $3 AND +r.guild_id = $1 AND r.kind = 1
                 AND r.reply_to IS NOT NULL
                 AND m.guild_id = $1 AND m.kind = 1 AND m.target_id = r.reply_to
                 AND m.user_id <> r.user_id
               GROUP BY m.user_id, m.at) AS replies
         WHERE members.guild_id = $1 AND members.user_id = replies.author
           AND members.first_message_at = replies.message_at",
    )
    .bind(to_sql_id(guild_id))
    .bind(after_id)
    .bind(until_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Finds again the first reply to the first message of members whose first message is at or
/// after `since` (a rebuild: older history may have brought earlier messages or replies).
pub async fn find_first_replies(
    tx: &mut Transaction<'_, Sqlite>,
    guild_id: u64,
    since: i64,
) -> sqlx::Result<()> {
    // CROSS JOIN: the first message by its exact time on the time index, then its replies on
    // the reply index.
    sqlx::query(
        "UPDATE members SET first_reply_at = (
             SELECT MIN(r.at) FROM activity f CROSS JOIN activity r
             WHERE f.guild_id = $1 AND f.at = members.first_message_at AND f.user_id = members.user_id
               AND f.kind = 1 AND r.guild_id = $1 AND r.reply_to = f.target_id AND r.kind = 1
               AND r.user_id <> members.user_id)
         WHERE guild_id = $1 AND first_message_at >= $2",
    )
    .bind(to_sql_id(guild_id))
    .bind(since)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Takes the write lock first, so that two processes never fold the same records.
pub async fn begin_write(pool: &Pool, guild_id: u64) -> sqlx::Result<Transaction<'static, Sqlite>> {
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE rollups SET guild_id = guild_id WHERE guild_id = $1")
        .bind(to_sql_id(guild_id))
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// A member whose first join was moved by a join time known from Discord (issue 22).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StaleJoin {
    pub user_id: i64,
    /// The new first join.
    pub first_joined_at: i64,
    /// The cohort day the member had (of the old first join, or of the first activity when
    /// none was known), if that day is finished.
    pub old_join_day: Option<i64>,
}

/// Members whose join day is to be settled.
pub async fn stale_join_days(pool: &Pool, guild_id: u64) -> sqlx::Result<Vec<StaleJoin>> {
    let rows: Vec<(i64, i64, Option<i64>)> = sqlx::query_as(
        "SELECT user_id, first_joined_at, join_day FROM members
         WHERE guild_id = $1 AND join_day_stale = 1 AND first_joined_at IS NOT NULL",
    )
    .bind(to_sql_id(guild_id))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(user_id, first_joined_at, old_join_day)| StaleJoin {
            user_id,
            first_joined_at,
            old_join_day,
        })
        .collect())
}

/// Counts a finished day's joins (and their activation, once final) again: a join time known
/// from Discord moved a member's first join into or out of it.
pub async fn recount_joins(
    tx: &mut Transaction<'_, Sqlite>,
    guild_id: u64,
    (day, start, end): (i64, i64, i64),
) -> sqlx::Result<()> {
    let joins = super::activity::join_instants(&mut **tx, guild_id, start, end)
        .await?
        .len() as i64;
    let (joined, activated) = super::activity::activation(&mut **tx, guild_id, start, end).await?;
    sqlx::query(
        "UPDATE guild_days SET joins = $3,
           activation_joined = CASE WHEN activation_joined IS NULL THEN NULL ELSE $4 END,
           activated = CASE WHEN activation_joined IS NULL THEN NULL ELSE $5 END
         WHERE guild_id = $1 AND day = $2",
    )
    .bind(to_sql_id(guild_id))
    .bind(day)
    .bind(joins)
    .bind(joined)
    .bind(activated)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Settles join days: a member whose join falls on a finished day gets that join day and their
/// retention windows from the member days kept; `None` (the day is not finished yet) leaves it
/// to `finish_day`, and meanwhile the member's cohort instant is live.
pub async fn settle_join_days(
    tx: &mut Transaction<'_, Sqlite>,
    guild_id: u64,
    settled: &[(i64, Option<i64>)],
) -> sqlx::Result<()> {
    let window = |start: i64, end: i64| {
        format!(
            "CASE WHEN EXISTS (SELECT 1 FROM member_days d
                               WHERE d.guild_id = $1 AND d.user_id = $2
                                 AND d.day >= $3 + {start} AND d.day <= $3 + {end})
                  THEN 1 ELSE 0 END"
        )
    };
    let set_day = format!(
        "UPDATE members SET join_day = $3, join_day_stale = 0,
           retained_30 = {}, retained_90 = {}
         WHERE guild_id = $1 AND user_id = $2",
        window(30, 59),
        window(90, 119)
    );
    for &(user_id, day) in settled {
        match day {
            Some(day) => {
                sqlx::query(&set_day)
                    .bind(to_sql_id(guild_id))
                    .bind(user_id)
                    .bind(day)
                    .execute(&mut **tx)
                    .await?;
            }
            None => {
                sqlx::query(
                    "UPDATE members SET join_day_stale = 0, join_day = NULL, retained_30 = 0, retained_90 = 0
                     WHERE guild_id = $1 AND user_id = $2",
                )
                .bind(to_sql_id(guild_id))
                .bind(user_id)
                .execute(&mut **tx)
                .await?;
            }
        }
    }
    Ok(())
}

/// Finishes a day (`day` from `start` to `end`) whose member days are complete: each active
/// member's last finished day and retention windows, the join day of members whose cohort
/// instant falls in the day, the day's figures, the activation of the joins of `activation_day`
/// (8 days before), and `done_until` past it.
pub async fn finish_day(
    tx: &mut Transaction<'_, Sqlite>,
    guild_id: u64,
    timezone: &str,
    (day, start, end): (i64, i64, i64),
    activation_day: (i64, i64, i64),
) -> sqlx::Result<GuildDay> {
    let guild = to_sql_id(guild_id);
    sqlx::query(
        "UPDATE members SET last_done_day = $2,
           retained_30 = CASE WHEN $2 - join_day BETWEEN 30 AND 59 THEN 1 ELSE retained_30 END,
           retained_90 = CASE WHEN $2 - join_day BETWEEN 90 AND 119 THEN 1 ELSE retained_90 END
         WHERE guild_id = $1 AND user_id IN (SELECT user_id FROM member_days WHERE guild_id = $1 AND day = $2)",
    )
    .bind(guild)
    .bind(day)
    .execute(&mut **tx)
    .await?;
    // The cohort instant's day (a member first active before their first join moves to the
    // join's day, and their windows start over); two range conditions, each on its index.
    sqlx::query(
        "UPDATE members SET join_day = $2,
           retained_30 = CASE WHEN join_day = $2 THEN retained_30 ELSE 0 END,
           retained_90 = CASE WHEN join_day = $2 THEN retained_90 ELSE 0 END
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
    // Every member active on the day has a row (the catch-up and the rebuild both write one),
    // so after the update WAU and MAU are counts of last finished days.
    let (dau, messages, replies, threads): (i64, Option<i64>, Option<i64>, Option<i64>) =
        sqlx::query_as(
            "SELECT COUNT(*), SUM(messages), SUM(replies), SUM(threads) FROM member_days
             WHERE guild_id = $1 AND day = $2",
        )
        .bind(guild)
        .bind(day)
        .fetch_one(&mut **tx)
        .await?;
    let (wau, mau, carry_wau, carry_mau): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM members WHERE guild_id = $1 AND last_done_day >= $2 - 6),
                (SELECT COUNT(*) FROM members WHERE guild_id = $1 AND last_done_day >= $2 - 29),
                (SELECT COUNT(*) FROM members WHERE guild_id = $1 AND last_done_day >= $2 - 5),
                (SELECT COUNT(*) FROM members WHERE guild_id = $1 AND last_done_day >= $2 - 28)",
    )
    .bind(guild)
    .bind(day)
    .fetch_one(&mut **tx)
    .await?;
    let joins = super::activity::join_instants(&mut **tx, guild_id, start, end)
        .await?
        .len() as i64;
    let figures = GuildDay {
        day,
        dau,
        wau,
        mau,
        messages: messages.unwrap_or(0),
        replies: replies.unwrap_or(0),
        threads: threads.unwrap_or(0),
        joins,
        activation: None,
        carry_wau,
        carry_mau,
    };
    sqlx::query(
        "INSERT INTO guild_days (guild_id, day, dau, wau, mau, messages, replies, threads, joins,
                                 carry_wau, carry_mau)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (guild_id, day) DO UPDATE SET dau = excluded.dau, wau = excluded.wau,
           mau = excluded.mau, messages = excluded.messages, replies = excluded.replies,
           threads = excluded.threads, joins = excluded.joins, carry_wau = excluded.carry_wau,
           carry_mau = excluded.carry_mau",
    )
    .bind(guild)
    .bind(day)
    .bind(figures.dau)
    .bind(figures.wau)
    .bind(figures.mau)
    .bind(figures.messages)
    .bind(figures.replies)
    .bind(figures.threads)
    .bind(figures.joins)
    .bind(figures.carry_wau)
    .bind(figures.carry_mau)
    .execute(&mut **tx)
    .await?;
    // The joins of 8 days before have had their 7 days (a day longer, for a DST change).
    let (joined_day, joined_start, joined_end) = activation_day;
    let (joined, activated) =
        super::activity::activation(&mut **tx, guild_id, joined_start, joined_end).await?;
    sqlx::query(
        "UPDATE guild_days SET activation_joined = $3, activated = $4 WHERE guild_id = $1 AND day = $2",
    )
    .bind(guild)
    .bind(joined_day)
    .bind(joined)
    .bind(activated)
    .execute(&mut **tx)
    .await?;
    set_state(tx, guild_id, timezone, day + 1).await?;
    Ok(figures)
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
        "SELECT COUNT(*), SUM(messages), SUM(replies), SUM(threads),
                SUM(CASE WHEN prev_day IS NULL OR prev_day < $2 - 6 THEN 1 ELSE 0 END),
                SUM(CASE WHEN prev_day IS NULL OR prev_day < $2 - 29 THEN 1 ELSE 0 END)
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
        "SELECT join_day, COUNT(*), SUM(retained_30), SUM(retained_90) FROM members
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
    for (start, end) in [(30, 59), (90, 119)] {
        let flag = if start == 30 {
            "retained_30"
        } else {
            "retained_90"
        };
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
            "SELECT SUM(threads) FROM member_days
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
