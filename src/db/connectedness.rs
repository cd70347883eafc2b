//! Connected members (product §11, issue 18), folded into the rollup as records are: the
//! `connected` member-days and the pairs of members who ever connected (`member_pairs`), from
//! reply links and thread co-activity (see `domain::connectedness`). Reports read counts over
//! index ranges, never raw records.
//!
//! Two ways in, both from the rollup (`db::rollup`), in its transactions:
//! - the catch-up folds records by id ([`fold_new`], as the live mark moves): replies among the
//!   new records and the messages they answer, new messages that replies folded earlier answer
//!   (a reply may be stored before the message), new thread messages and their neighbours;
//! - a rebuild folds a day of raw records ([`fold_day`], days in order): the day's replies and
//!   the messages they answer (on that day or before), the day's thread messages and their
//!   neighbours up to an hour either side.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use sqlx::{Any, Transaction};

use crate::db::statements::{insert_integers, positional};
use crate::db::{from_sql_id, to_sql_id, Backend, Pool};
use crate::domain::analytics::day_number;
use crate::domain::connectedness::{
    self as domain, Connected, Contact, ThreadPost, Touch, THREAD_WINDOW_SECS,
};
use crate::domain::schedule::local_date;

/// The guild's rollup time zone (days are its local days).
async fn timezone(tx: &mut Transaction<'_, Any>, guild_id: u64) -> sqlx::Result<Tz> {
    let name: Option<String> =
        sqlx::query_scalar("SELECT timezone FROM rollups WHERE guild_id = $1")
            .bind(to_sql_id(guild_id))
            .fetch_optional(&mut **tx)
            .await?;
    Ok(name.and_then(|n| n.parse().ok()).unwrap_or(Tz::UTC))
}

/// (replier, reply's time, author, message's time) rows as contacts.
fn reply_contacts(rows: Vec<(i64, i64, i64, i64)>) -> impl Iterator<Item = Contact> {
    rows.into_iter()
        .filter_map(|(replier, reply_at, author, message_at)| {
            Contact::new(
                Touch {
                    user_id: from_sql_id(replier),
                    at: reply_at,
                },
                Touch {
                    user_id: from_sql_id(author),
                    at: message_at,
                },
            )
        })
}

fn thread_posts(rows: Vec<(i64, i64, i64, i64)>) -> impl Iterator<Item = ThreadPost> {
    rows.into_iter().map(|(id, thread, user, at)| ThreadPost {
        id,
        thread: from_sql_id(thread),
        user_id: from_sql_id(user),
        at,
    })
}

/// Thread messages with `since <= at <= until` and an id up to `until_id`.
async fn thread_posts_between(
    tx: &mut Transaction<'_, Any>,
    guild_id: u64,
    (since, until): (i64, i64),
    until_id: i64,
) -> sqlx::Result<Vec<ThreadPost>> {
    let rows: Vec<(i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT id, channel_id, user_id, at FROM activity
         WHERE guild_id = $1 AND at >= $2 AND at <= $3 AND kind = 1 AND in_thread = 1 AND id <= $4",
    )
    .bind(to_sql_id(guild_id))
    .bind(since)
    .bind(until)
    .bind(until_id)
    .fetch_all(&mut **tx)
    .await?;
    Ok(thread_posts(rows).collect())
}

/// Folds the connections of the records `after_id < id <= until_id` (the catch-up), against
/// every record up to `until_id`.
pub async fn fold_new(
    tx: &mut Transaction<'_, Any>,
    guild_id: u64,
    after_id: i64,
    until_id: i64,
) -> sqlx::Result<()> {
    let guild = to_sql_id(guild_id);
    // New replies, and the messages they answer (each on the unique (guild, kind, target) key).
    let mut rows: Vec<(i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT r.user_id, r.at, m.user_id, m.at FROM activity r CROSS JOIN activity m
         WHERE r.guild_id = $1 AND r.id > $2 AND r.id <= $3 AND r.kind = 1
           AND r.reply_to IS NOT NULL
           AND m.guild_id = $1 AND m.kind = 1 AND m.target_id = r.reply_to AND +m.id <= $3",
    )
    .bind(guild)
    .bind(after_id)
    .bind(until_id)
    .fetch_all(&mut **tx)
    .await?;
    // New messages answered by replies folded before them (on the reply index).
    rows.extend(
        sqlx::query_as::<_, (i64, i64, i64, i64)>(
            "SELECT r.user_id, r.at, m.user_id, m.at FROM activity m CROSS JOIN activity r
             WHERE m.guild_id = $1 AND m.id > $2 AND m.id <= $3 AND m.kind = 1
               AND r.guild_id = $1 AND r.reply_to = m.target_id AND r.kind = 1 AND r.id <= $2",
        )
        .bind(guild)
        .bind(after_id)
        .bind(until_id)
        .fetch_all(&mut **tx)
        .await?,
    );
    let mut contacts: Vec<Contact> = reply_contacts(rows).collect();
    let new_posts: Vec<(i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT id, channel_id, user_id, at FROM activity
         WHERE guild_id = $1 AND id > $2 AND id <= $3 AND kind = 1 AND in_thread = 1",
    )
    .bind(guild)
    .bind(after_id)
    .bind(until_id)
    .fetch_all(&mut **tx)
    .await?;
    let mut posts: Vec<ThreadPost> = thread_posts(new_posts).collect();
    // Their neighbours: the hour either side of each, overlapping windows read once.
    let mut times: Vec<i64> = posts.iter().map(|p| p.at).collect();
    times.sort_unstable();
    let mut windows: Vec<(i64, i64)> = Vec::new();
    for at in times {
        let (since, until) = (at - THREAD_WINDOW_SECS, at + THREAD_WINDOW_SECS);
        match windows.last_mut() {
            Some(last) if since <= last.1 => last.1 = until,
            _ => windows.push((since, until)),
        }
    }
    for window in windows {
        posts.extend(thread_posts_between(tx, guild_id, window, until_id).await?);
    }
    contacts.extend(domain::thread_contacts(&posts, |p| p.id > after_id));
    store(tx, guild_id, &contacts).await
}

/// Folds the connections of day `day` (`[start, end)` in unix seconds) from raw records up to
/// `until_id` (a rebuild, days in order): its replies and the messages they answer, and its
/// thread messages with their neighbours.
pub async fn fold_day(
    tx: &mut Transaction<'_, Any>,
    guild_id: u64,
    (start, end): (i64, i64),
    until_id: i64,
) -> sqlx::Result<()> {
    // CROSS JOIN: the day's replies on the time index, each message on its unique key.
    let rows: Vec<(i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT r.user_id, r.at, m.user_id, m.at FROM activity r CROSS JOIN activity m
         WHERE r.guild_id = $1 AND r.at >= $2 AND r.at < $3 AND r.id <= $4 AND r.kind = 1
           AND +r.reply_to IS NOT NULL
           AND m.guild_id = $1 AND m.kind = 1 AND m.target_id = r.reply_to AND +m.id <= $4",
    )
    .bind(to_sql_id(guild_id))
    .bind(start)
    .bind(end)
    .bind(until_id)
    .fetch_all(&mut **tx)
    .await?;
    let mut contacts: Vec<Contact> = reply_contacts(rows).collect();
    let posts = thread_posts_between(
        tx,
        guild_id,
        (start - THREAD_WINDOW_SECS, end - 1 + THREAD_WINDOW_SECS),
        until_id,
    )
    .await?;
    contacts.extend(domain::thread_contacts(&posts, |p| {
        p.at >= start && p.at < end
    }));
    store(tx, guild_id, &contacts).await
}

/// Marks the contacts' member-days connected and records their pairs.
async fn store(
    tx: &mut Transaction<'_, Any>,
    guild_id: u64,
    contacts: &[Contact],
) -> sqlx::Result<()> {
    if contacts.is_empty() {
        return Ok(());
    }
    let tz = timezone(tx, guild_id).await?;
    let folded = domain::fold(contacts, |at| day_number(local_date(at, tz)));
    let mut by_day: BTreeMap<i64, Vec<u64>> = BTreeMap::new();
    for (user, day) in folded.connected {
        by_day.entry(day).or_default().push(user);
    }
    for (day, users) in by_day {
        mark_connected(tx, guild_id, day, &users).await?;
    }
    add_pairs(tx, guild_id, &folded.pairs).await
}

/// Statement size: ids bound per statement.
const CHUNK: usize = 400;

/// Marks members' days connected (a member with no activity that day has no row: nothing to
/// mark). A newly connected day gets the member's previous connected day, the member's next
/// connected day gets it as its previous, and the member's last connected day moves up to it.
pub(crate) async fn mark_connected(
    tx: &mut Transaction<'_, Any>,
    guild_id: u64,
    day: i64,
    users: &[u64],
) -> sqlx::Result<()> {
    let guild = to_sql_id(guild_id);
    let backend = Backend::of_connection(tx);
    for chunk in users.chunks(CHUNK) {
        let list = vec!["?"; chunk.len()].join(", ");
        // Each `?` bound in order: guild, day, guild, day, then the members.
        let statements = [
            format!(
                "UPDATE member_days SET connected = 1, prev_connected = (
                     SELECT MAX(p.day) FROM member_days p
                     WHERE p.guild_id = ? AND p.user_id = member_days.user_id AND p.connected = 1
                       AND p.day < ?)
                 WHERE guild_id = ? AND day = ? AND connected = 0 AND user_id IN ({list})"
            ),
            format!(
                "UPDATE members SET last_connected_day = ?
                 WHERE guild_id = ? AND (last_connected_day IS NULL OR last_connected_day < ?)
                   AND EXISTS (SELECT 1 FROM member_days d
                               WHERE d.guild_id = ? AND d.day = ? AND d.user_id = members.user_id)
                   AND user_id IN ({list})"
            ),
        ];
        let fixed: [&[i64]; 2] = [&[guild, day, guild, day], &[day, guild, day, guild, day]];
        for (statement, fixed) in statements.iter().zip(fixed) {
            let sql = positional(backend, statement);
            let mut query = sqlx::query(&sql);
            for value in fixed {
                query = query.bind(*value);
            }
            for user in chunk {
                query = query.bind(to_sql_id(*user));
            }
            query.execute(&mut **tx).await?;
        }
    }
    // Days after this one (a late reply to an older message; never in a rebuild, which goes in
    // order): each member's next connected day now comes after this one.
    let later: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM member_days WHERE guild_id = $1 AND day > $2 AND connected = 1 LIMIT 1",
    )
    .bind(guild)
    .bind(day)
    .fetch_optional(&mut **tx)
    .await?;
    if later.is_some() {
        for user in users {
            sqlx::query(
                "UPDATE member_days SET prev_connected = $2
                 WHERE guild_id = $1 AND user_id = $3
                   AND day = (SELECT MIN(n.day) FROM member_days n
                              WHERE n.guild_id = $1 AND n.user_id = $3 AND n.connected = 1
                                AND n.day > $2)
                   AND (prev_connected IS NULL OR prev_connected < $2)",
            )
            .bind(guild)
            .bind(day)
            .bind(to_sql_id(*user))
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

/// Records pairs with the day they connected, keeping each pair's earliest day.
pub(crate) async fn add_pairs(
    tx: &mut Transaction<'_, Any>,
    guild_id: u64,
    pairs: &BTreeMap<(u64, u64), i64>,
) -> sqlx::Result<()> {
    let rows: Vec<[Option<i64>; 4]> = pairs
        .iter()
        .map(|((a, b), day)| {
            [
                Some(to_sql_id(guild_id)),
                Some(to_sql_id(*a)),
                Some(to_sql_id(*b)),
                Some(*day),
            ]
        })
        .collect();
    insert_integers(
        tx,
        "INSERT INTO member_pairs (guild_id, user_a, user_b, first_day)",
        "ON CONFLICT (guild_id, user_a, user_b) DO UPDATE SET first_day = excluded.first_day
         WHERE excluded.first_day < member_pairs.first_day",
        &rows,
    )
    .await?;
    Ok(())
}

/// A finished day: how many pairs first connected on it (final, like the day's figures).
/// `counted`: the count a bulk rebuild kept in memory (its pairs have no index to count by).
pub async fn finish_day(
    tx: &mut Transaction<'_, Any>,
    guild_id: u64,
    day: i64,
    counted: Option<i64>,
) -> sqlx::Result<()> {
    let query = match counted {
        Some(n) => sqlx::query(
            "INSERT INTO connection_days (guild_id, day, new_pairs) VALUES ($1, $2, $3)
             ON CONFLICT (guild_id, day) DO UPDATE SET new_pairs = excluded.new_pairs",
        )
        .bind(to_sql_id(guild_id))
        .bind(day)
        .bind(n),
        None => sqlx::query(
            "INSERT INTO connection_days (guild_id, day, new_pairs)
             SELECT $1, $2, COUNT(*) FROM member_pairs WHERE guild_id = $1 AND first_day = $2
             ON CONFLICT (guild_id, day) DO UPDATE SET new_pairs = excluded.new_pairs",
        )
        .bind(to_sql_id(guild_id))
        .bind(day),
    };
    query.execute(&mut **tx).await?;
    Ok(())
}

/// Forgets a guild's connections (the rollup starts over).
pub async fn reset(tx: &mut Transaction<'_, Any>, guild_id: u64) -> sqlx::Result<()> {
    for statement in [
        "DELETE FROM member_pairs WHERE guild_id = $1",
        "DELETE FROM connection_days WHERE guild_id = $1",
        "UPDATE members SET last_connected_day = NULL
         WHERE guild_id = $1 AND last_connected_day IS NOT NULL",
    ] {
        sqlx::query(statement)
            .bind(to_sql_id(guild_id))
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// A rebuild from `day` (its member days already dropped): pairs first connected from it on
/// are found again, and members' last connected day goes back to the days kept.
pub async fn start_rebuild(
    tx: &mut Transaction<'_, Any>,
    guild_id: u64,
    day: i64,
) -> sqlx::Result<()> {
    for statement in [
        "DELETE FROM member_pairs WHERE guild_id = $1 AND first_day >= $2",
        "DELETE FROM connection_days WHERE guild_id = $1 AND day >= $2",
        "UPDATE members SET last_connected_day = (
             SELECT MAX(d.day) FROM member_days d
             WHERE d.guild_id = members.guild_id AND d.user_id = members.user_id AND d.connected = 1)
         WHERE guild_id = $1 AND last_connected_day >= $2",
    ] {
        sqlx::query(statement)
            .bind(to_sql_id(guild_id))
            .bind(day)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Connected and active members, and new pairs, over local days `from..=to` (day numbers), as
/// materialised: call after the rollup's refresh, as reports do (new pairs of finished days are
/// final, as counted when each day was finished). Distinct members are counted
/// once each, on their first (connected) day in the period, over whichever index range is
/// shorter (see [`domain::count_directly`]).
pub async fn figures(pool: &Pool, guild_id: u64, from: i64, to: i64) -> sqlx::Result<Connected> {
    figures_knowing_active(pool, guild_id, (from, to), None).await
}

/// [`figures`], with the period's distinct active members given when the caller counted them
/// already (a report's MAU for 30 days): the longest count of the three is then skipped.
pub async fn figures_knowing_active(
    pool: &Pool,
    guild_id: u64,
    (from, to): (i64, i64),
    known_active: Option<u64>,
) -> sqlx::Result<Connected> {
    let guild = to_sql_id(guild_id);
    let Some(done_until) = done_until(pool, guild_id).await? else {
        return Ok(Connected::default());
    };
    let last: Option<i64> =
        sqlx::query_scalar("SELECT MAX(day) FROM member_days WHERE guild_id = $1")
            .bind(guild)
            .fetch_one(pool)
            .await?;
    let (Some(last), true) = (last, from <= to) else {
        return Ok(Connected::default());
    };
    let count = |sql: &'static str, a: i64, b: i64| {
        sqlx::query_scalar::<_, i64>(sql)
            .bind(guild)
            .bind(a)
            .bind(b)
            .fetch_one(pool)
    };
    let (active, connected) = if domain::count_directly(from, to, last) {
        let active = match known_active {
            Some(active) => i64::try_from(active).unwrap_or(i64::MAX),
            None => count(
            "SELECT COUNT(*) FROM member_days
             WHERE guild_id = $1 AND day >= $2 AND day <= $3 AND (prev_day IS NULL OR prev_day < $2)",
                from,
                to,
            )
            .await?,
        };
        let connected = count(
            "SELECT COUNT(*) FROM member_days
             WHERE guild_id = $1 AND day >= $2 AND day <= $3 AND connected = 1
               AND (prev_connected IS NULL OR prev_connected < $2)",
            from,
            to,
        )
        .await?;
        (active, connected)
    } else {
        let active = match known_active {
            Some(active) => i64::try_from(active).unwrap_or(i64::MAX),
            None => active_since(pool, guild_id, (from, to), done_until).await?,
        };
        let connected: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM members WHERE guild_id = $1 AND last_connected_day >= $2",
        )
        .bind(guild)
        .bind(from)
        .fetch_one(pool)
        .await?;
        let connected_after = count(
            "SELECT COUNT(*) FROM member_days
             WHERE guild_id = $1 AND day > $3 AND connected = 1
               AND (prev_connected IS NULL OR prev_connected < $2)",
            from,
            to,
        )
        .await?;
        (active, connected - connected_after)
    };
    let new_pairs = pairs_by_day(pool, guild_id, done_until, from, to)
        .await?
        .iter()
        .map(|(_, n)| n)
        .sum();
    let n = |x: i64| u64::try_from(x).unwrap_or(0);
    Ok(Connected {
        connected: n(connected),
        active: n(active),
        new_pairs,
    })
}

/// Distinct active members over `from..=to` when the period is long: everyone seen since
/// `from` (through their last finished day, or a live day whose previous active day lies before
/// `from`), less those first seen after `to`.
async fn active_since(
    pool: &Pool,
    guild_id: u64,
    (from, to): (i64, i64),
    done_until: i64,
) -> sqlx::Result<i64> {
    let guild = to_sql_id(guild_id);
    let seen: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM members WHERE guild_id = $1 AND last_done_day >= $2)
              + (SELECT COUNT(*) FROM member_days
                 WHERE guild_id = $1 AND day >= $3 AND (prev_day IS NULL OR prev_day < $2))",
    )
    .bind(guild)
    .bind(from)
    .bind(from.max(done_until))
    .fetch_one(pool)
    .await?;
    let seen_after: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM member_days
         WHERE guild_id = $1 AND day > $3 AND (prev_day IS NULL OR prev_day < $2)",
    )
    .bind(guild)
    .bind(from)
    .bind(to)
    .fetch_one(pool)
    .await?;
    Ok(seen - seen_after)
}

/// New pairs per day over `from..=to`: finished days as counted when finished, live days
/// (from `done_until` on) from the pairs.
async fn pairs_by_day(
    pool: &Pool,
    guild_id: u64,
    done_until: i64,
    from: i64,
    to: i64,
) -> sqlx::Result<Vec<(i64, u64)>> {
    let guild = to_sql_id(guild_id);
    let mut rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT day, new_pairs FROM connection_days WHERE guild_id = $1 AND day >= $2 AND day <= $3",
    )
    .bind(guild)
    .bind(from)
    .bind(to.min(done_until - 1))
    .fetch_all(pool)
    .await?;
    rows.extend(
        sqlx::query_as::<_, (i64, i64)>(
            "SELECT first_day, COUNT(*) FROM member_pairs
             WHERE guild_id = $1 AND first_day >= $2 AND first_day <= $3 GROUP BY first_day",
        )
        .bind(guild)
        .bind(from.max(done_until))
        .bind(to)
        .fetch_all(pool)
        .await?,
    );
    Ok(rows
        .into_iter()
        .map(|(day, n)| (day, u64::try_from(n).unwrap_or(0)))
        .collect())
}

/// The first day the rollup has not finished, if it materialised the guild (read here rather
/// than through `rollup::state`, which calls into this module).
async fn done_until(pool: &Pool, guild_id: u64) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT done_until FROM rollups WHERE guild_id = $1")
        .bind(to_sql_id(guild_id))
        .fetch_optional(pool)
        .await
}

/// New pairs per ISO week over local days `from..=to`: (the week's Monday as a day number,
/// pairs whose first connection falls in it and in the range), every week touching the range.
pub async fn new_pairs_per_week(
    pool: &Pool,
    guild_id: u64,
    from: i64,
    to: i64,
) -> sqlx::Result<Vec<(i64, u64)>> {
    let Some(done_until) = done_until(pool, guild_id).await? else {
        return Ok(domain::per_week(&[], from, to));
    };
    let by_day = pairs_by_day(pool, guild_id, done_until, from, to).await?;
    Ok(domain::per_week(&by_day, from, to))
}
