//! Folding activity records into the materialised days: member days as records arrive, guild
//! days when a day is finished, and the recounts when a late join time moves a member's join.

use sqlx::{Any, Transaction};

use super::{set_state, GuildDay};
use crate::db::{flag, from_sql_id, to_sql_id, Pool};
use crate::domain::analytics::{RETAINED_30, RETAINED_90};

/// The earlier first activity and first message of a member's row and the new values (either
/// of the two times may be NULL; a CASE, as PostgreSQL has no two-argument MIN).
macro_rules! earlier_firsts {
    () => {
        "first_active_at = CASE WHEN members.first_active_at IS NULL
                                  OR excluded.first_active_at < members.first_active_at
                                THEN excluded.first_active_at ELSE members.first_active_at END,
         first_message_at = CASE WHEN members.first_message_at IS NULL
                                   OR excluded.first_message_at < members.first_message_at
                                 THEN excluded.first_message_at ELSE members.first_message_at END"
    };
}

/// How a member's first activity and first message update their row: the earlier ones.
pub(super) const EARLIER_FIRSTS: &str = concat!(
    "ON CONFLICT (guild_id, user_id) DO UPDATE SET ",
    earlier_firsts!()
);

/// How new activity updates a member's row: the earlier firsts, and the activity added to the
/// total.
pub(super) const ADD_TO_MEMBER: &str = concat!(
    "ON CONFLICT (guild_id, user_id) DO UPDATE SET ",
    earlier_firsts!(),
    ", activity_total = members.activity_total + excluded.activity_total"
);

/// Builds one day (`[start, end)` in unix seconds) of `member_days` from the raw records up to
/// `until_id`, each active member's first activity and first message, and the day's
/// connections (days are built in order).
pub async fn rebuild_day(
    tx: &mut Transaction<'_, Any>,
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
                CAST(SUM(CASE WHEN a.kind = 1 THEN 1 ELSE 0 END) AS BIGINT),
                CAST(SUM(CASE WHEN a.kind = 1 AND (a.reply_to IS NOT NULL OR a.in_thread = 1) THEN 1 ELSE 0 END) AS BIGINT),
                CAST(SUM(CASE WHEN a.kind = 2 THEN 1 ELSE 0 END) AS BIGINT),
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
    crate::db::connectedness::fold_day(tx, guild_id, (start, end), until_id).await?;
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
    tx: &mut Transaction<'_, Any>,
    guild_id: u64,
    after_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<NewRecord>> {
    // On the index by guild and id: the guild's new records only.
    let rows: Vec<(i64, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT id, user_id, at, kind, CASE WHEN reply_to IS NOT NULL OR in_thread = 1 THEN 1 ELSE 0 END
         FROM activity
         WHERE guild_id = $1 AND id > $2 ORDER BY id LIMIT $3",
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
            is_reply: flag(is_reply),
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
    tx: &mut Transaction<'_, Any>,
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
    tx: &mut Transaction<'_, Any>,
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

/// Replies among the records `after_id < id <= until_id` to a member's first message: that
/// member's first reply is the earliest of them and the one known. One statement: each reply
/// finds the message it answers on the unique (guild, kind, target) key.
pub async fn note_first_replies(
    tx: &mut Transaction<'_, Any>,
    guild_id: u64,
    after_id: i64,
    until_id: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE members
         SET first_reply_at = CASE WHEN first_reply_at < replies.at THEN first_reply_at ELSE replies.at END
         FROM (SELECT m.user_id AS author, m.at AS message_at, MIN(r.at) AS at
               FROM activity r CROSS JOIN activity m
               WHERE r.guild_id = $1 AND r.id > $2 AND r.id <= $3 AND r.kind = 1
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
    tx: &mut Transaction<'_, Any>,
    guild_id: u64,
    since: i64,
) -> sqlx::Result<()> {
    // CROSS JOIN: the first message by its exact time on the time index, then its replies on
    // the reply index. Only rows that change are written (most first messages have no reply,
    // and on PostgreSQL each row written writes its nine index entries again).
    sqlx::query(
        "UPDATE members SET first_reply_at = found.at
         FROM (SELECT m.user_id, (
                   SELECT MIN(r.at) FROM activity f CROSS JOIN activity r
                   WHERE f.guild_id = $1 AND f.at = m.first_message_at AND f.user_id = m.user_id
                     AND f.kind = 1 AND r.guild_id = $1 AND r.reply_to = f.target_id
                     AND r.kind = 1 AND r.user_id <> m.user_id) AS at
               FROM members m WHERE m.guild_id = $1 AND m.first_message_at >= $2) AS found
         WHERE members.guild_id = $1 AND members.user_id = found.user_id
           AND (members.first_reply_at <> found.at
                OR (members.first_reply_at IS NULL) <> (found.at IS NULL))",
    )
    .bind(to_sql_id(guild_id))
    .bind(since)
    .execute(&mut **tx)
    .await?;
    Ok(())
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
        // `+`: on the small partial index of stale rows, not on the first-join index (which
        // holds every member with a join).
        "SELECT user_id, first_joined_at, join_day FROM members
         WHERE guild_id = $1 AND join_day_stale = 1 AND +first_joined_at IS NOT NULL",
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
    tx: &mut Transaction<'_, Any>,
    guild_id: u64,
    (day, start, end): (i64, i64, i64),
) -> sqlx::Result<()> {
    let joins = crate::db::activity::join_instants(&mut **tx, guild_id, start, end)
        .await?
        .len() as i64;
    let (joined, activated) =
        crate::db::activity::activation(&mut **tx, guild_id, start, end).await?;
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
    tx: &mut Transaction<'_, Any>,
    guild_id: u64,
    settled: &[(i64, Option<i64>)],
) -> sqlx::Result<()> {
    let window = |(start, end): (i64, i64)| {
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
        window(RETAINED_30),
        window(RETAINED_90)
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
/// member's last finished day and retention windows, the day's activity figures counted from
/// them, then [`finish_counted_day`].
pub async fn finish_day(
    tx: &mut Transaction<'_, Any>,
    guild_id: u64,
    timezone: &str,
    (day, start, end): (i64, i64, i64),
    activation_day: (i64, i64, i64),
) -> sqlx::Result<GuildDay> {
    let guild = to_sql_id(guild_id);
    let ((from_30, to_30), (from_90, to_90)) = (RETAINED_30, RETAINED_90);
    sqlx::query(&format!(
        "UPDATE members SET last_done_day = $2,
           retained_30 = CASE WHEN $2 - join_day BETWEEN {from_30} AND {to_30} THEN 1 ELSE retained_30 END,
           retained_90 = CASE WHEN $2 - join_day BETWEEN {from_90} AND {to_90} THEN 1 ELSE retained_90 END
         WHERE guild_id = $1 AND user_id IN (SELECT user_id FROM member_days WHERE guild_id = $1 AND day = $2)",
    ))
    .bind(guild)
    .bind(day)
    .execute(&mut **tx)
    .await?;
    // Every member active on the day has a row (the catch-up and the rebuild both write one),
    // so after the update WAU and MAU are counts of last finished days.
    let (dau, messages, replies, threads): (i64, Option<i64>, Option<i64>, Option<i64>) =
        sqlx::query_as(
            "SELECT COUNT(*), CAST(SUM(messages) AS BIGINT), CAST(SUM(replies) AS BIGINT), CAST(SUM(threads) AS BIGINT) FROM member_days
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
    set_join_day(tx, guild_id, (day, start, end)).await?;
    let figures = GuildDay {
        day,
        dau,
        wau,
        mau,
        messages: messages.unwrap_or(0),
        replies: replies.unwrap_or(0),
        threads: threads.unwrap_or(0),
        joins: 0,
        activation: None,
        carry_wau,
        carry_mau,
    };
    finish_counted_day(
        tx,
        guild_id,
        timezone,
        (day, start, end),
        activation_day,
        figures,
        None,
    )
    .await
}

/// Sets the join day of members whose cohort instant falls in the day being finished (a
/// member first active before their first join moves to the join's day, and their windows
/// start over). A bulk rebuild settles them in memory instead (`domain::rollup::Deferred::
/// settle_cohorts`).
pub async fn set_join_day(
    tx: &mut Transaction<'_, Any>,
    guild_id: u64,
    (day, start, end): (i64, i64, i64),
) -> sqlx::Result<()> {
    // Two range conditions, each on its index. Rows on the day already are left as they are
    // (written again, their indexes would be too).
    sqlx::query(
        "UPDATE members SET join_day = $2,
           retained_30 = CASE WHEN join_day = $2 THEN retained_30 ELSE 0 END,
           retained_90 = CASE WHEN join_day = $2 THEN retained_90 ELSE 0 END
         WHERE guild_id = $1 AND (join_day IS NULL OR join_day <> $2)
           AND ((first_joined_at >= $3 AND first_joined_at < $4)
                OR (first_joined_at IS NULL AND first_active_at >= $3 AND first_active_at < $4))",
    )
    .bind(to_sql_id(guild_id))
    .bind(day)
    .bind(start)
    .bind(end)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// What finishing a day does once its activity figures are counted (here, or in memory by a
/// rebuild) and its members' join days are set ([`set_join_day`]): the day's joins and
/// figures, its new pairs (`new_pairs` when a bulk rebuild counted them), the activation of the
/// joins of `activation_day` (8 days before), and `done_until` past it.
pub async fn finish_counted_day(
    tx: &mut Transaction<'_, Any>,
    guild_id: u64,
    timezone: &str,
    (day, start, end): (i64, i64, i64),
    activation_day: (i64, i64, i64),
    counted: GuildDay,
    new_pairs: Option<i64>,
) -> sqlx::Result<GuildDay> {
    let guild = to_sql_id(guild_id);
    let joins = crate::db::activity::join_instants(&mut **tx, guild_id, start, end)
        .await?
        .len() as i64;
    let figures = GuildDay { joins, ..counted };
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
    crate::db::connectedness::finish_day(tx, guild_id, day, new_pairs).await?;
    // The joins of 8 days before have had their 7 days (a day longer, for a DST change).
    let (joined_day, joined_start, joined_end) = activation_day;
    let (joined, activated) =
        crate::db::activity::activation(&mut **tx, guild_id, joined_start, joined_end).await?;
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
