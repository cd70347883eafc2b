//! Welcome settings, templates, members and join events.

use std::collections::BTreeMap;

use sqlx::{AnyConnection, AnyExecutor};

use super::statements::values;
use super::{from_sql_id, sql_flag, to_sql_id, Backend, Pool};

/// The welcome switches of a guild.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WelcomeSettings {
    pub enabled: bool,
    pub dm: bool,
    pub intro_thread: bool,
    pub burst_started_at: Option<i64>,
    pub burst_until: Option<i64>,
}

super::from_row!(WelcomeSettings {
    enabled,
    dm,
    intro_thread,
    burst_started_at,
    burst_until
});

impl Default for WelcomeSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            dm: false,
            intro_thread: true,
            burst_started_at: None,
            burst_until: None,
        }
    }
}

/// Reads the welcome switches (defaults when the guild was never configured).
pub async fn settings(db: impl AnyExecutor<'_>, guild_id: u64) -> sqlx::Result<WelcomeSettings> {
    let row: Option<WelcomeSettings> = sqlx::query_as(
        "SELECT welcome_enabled AS enabled, welcome_dm AS dm, welcome_intro_thread AS intro_thread,
                burst_started_at, burst_until
         FROM guilds WHERE guild_id = $1",
    )
    .bind(to_sql_id(guild_id))
    .fetch_optional(db)
    .await?;
    Ok(row.unwrap_or_default())
}

/// Sets the welcome switches (the guild row must exist: see `guilds::ensure`).
pub async fn set_switches(
    pool: &Pool,
    guild_id: u64,
    enabled: bool,
    dm: bool,
    intro_thread: bool,
    now: i64,
) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    super::guilds::ensure(&mut *tx, guild_id, now).await?;
    put_switches(&mut *tx, guild_id, enabled, dm, intro_thread).await?;
    tx.commit().await
}

/// Records the raid guard's current burst.
pub async fn set_burst(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    started_at: i64,
    until: i64,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE guilds SET burst_started_at = $2, burst_until = $3 WHERE guild_id = $1")
        .bind(to_sql_id(guild_id))
        .bind(started_at)
        .bind(until)
        .execute(db)
        .await?;
    Ok(())
}

/// A saved welcome template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredTemplate {
    pub id: i64,
    pub body: String,
    pub created_by: i64,
}

super::from_row!(StoredTemplate {
    id,
    body,
    created_by
});

pub async fn templates(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
) -> sqlx::Result<Vec<StoredTemplate>> {
    sqlx::query_as(
        "SELECT id, body, created_by FROM welcome_templates WHERE guild_id = $1 ORDER BY id",
    )
    .bind(to_sql_id(guild_id))
    .fetch_all(db)
    .await
}

pub async fn add_template(
    pool: &Pool,
    guild_id: u64,
    body: &str,
    author: u64,
    now: i64,
) -> sqlx::Result<i64> {
    let mut tx = pool.begin().await?;
    super::guilds::ensure(&mut *tx, guild_id, now).await?;
    let id = insert_template(&mut *tx, guild_id, body, author, now).await?;
    tx.commit().await?;
    Ok(id)
}

/// Removes a template; false when the guild has no template with that id.
pub async fn remove_template(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    id: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM welcome_templates WHERE guild_id = $1 AND id = $2")
        .bind(to_sql_id(guild_id))
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A join as the gateway reported it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Join {
    pub guild_id: u64,
    pub user_id: u64,
    pub joined_at: i64,
    /// Still in membership screening.
    pub pending: bool,
    /// Nothing is left to do for it (set when the guild has no welcome to post).
    pub welcomed: bool,
}

/// A change of membership. The gateway's events reach the handlers in no set order (serenity
/// runs each in a task of its own), so the outcome rests on times, not on the order of writes:
/// a leave counts unless the member joined again later, and a join clears a leave only when it
/// came later. Within one second the leave wins: leaving and rejoining in a second is not
/// something people do, joining and leaving in one is what raid bots do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Membership {
    Joined(Join),
    /// Discord says when the member joined (a member object's `joined_at`), but Hearth saw no
    /// join: they were there before Hearth. Their join time, not a join event.
    Known {
        guild_id: u64,
        user_id: u64,
        joined_at: i64,
    },
    Left {
        guild_id: u64,
        user_id: u64,
        at: i64,
    },
}

/// Applies membership changes in few statements: each run of joins together, a leave on its
/// own (leaves are rare).
pub async fn apply(conn: &mut AnyConnection, changes: &[Membership]) -> sqlx::Result<()> {
    let mut rest = changes;
    while let Some(change) = rest.first() {
        match *change {
            Membership::Left {
                guild_id,
                user_id,
                at,
            } => {
                record_leave(&mut *conn, guild_id, user_id, at).await?;
                rest = &rest[1..];
            }
            Membership::Known { .. } => {
                let known: Vec<(u64, u64, i64)> = rest
                    .iter()
                    .map_while(|c| match *c {
                        Membership::Known {
                            guild_id,
                            user_id,
                            joined_at,
                        } => Some((guild_id, user_id, joined_at)),
                        _ => None,
                    })
                    .collect();
                record_known_joins(conn, &known).await?;
                rest = &rest[known.len()..];
            }
            Membership::Joined(_) => {
                let joins: Vec<Join> = rest
                    .iter()
                    .map_while(|c| match c {
                        Membership::Joined(join) => Some(*join),
                        _ => None,
                    })
                    .collect();
                record_joins(conn, &joins).await?;
                rest = &rest[joins.len()..];
            }
        }
    }
    Ok(())
}

/// Records join events; a replayed one is ignored and keeps its welcome state.
pub async fn record_joins(conn: &mut AnyConnection, joins: &[Join]) -> sqlx::Result<()> {
    for rows in super::statements::statements(joins) {
        let sql = values(
            Backend::of_connection(conn),
            "INSERT INTO member_joins (guild_id, user_id, joined_at, pending, welcomed)",
            rows.len(),
            5,
        ) + " ON CONFLICT (guild_id, user_id, joined_at) DO NOTHING";
        let mut query = sqlx::query(&sql);
        for join in rows {
            query = query
                .bind(to_sql_id(join.guild_id))
                .bind(to_sql_id(join.user_id))
                .bind(join.joined_at)
                .bind(sql_flag(join.pending))
                .bind(sql_flag(join.welcomed));
        }
        query.execute(&mut *conn).await?;
    }
    // One row per member: PostgreSQL refuses to update a row twice in one statement.
    let mut spans: BTreeMap<(u64, u64), (i64, i64)> = BTreeMap::new();
    for join in joins {
        let span = spans
            .entry((join.guild_id, join.user_id))
            .or_insert((join.joined_at, join.joined_at));
        *span = (span.0.min(join.joined_at), span.1.max(join.joined_at));
    }
    let spans: Vec<_> = spans.into_iter().collect();
    for rows in super::statements::statements(&spans) {
        let mut sql = values(
            Backend::of_connection(conn),
            "INSERT INTO members (guild_id, user_id, first_joined_at, last_joined_at)",
            rows.len(),
            4,
        );
        sql.push_str(
            " ON CONFLICT (guild_id, user_id) DO UPDATE SET
               first_joined_at = CASE WHEN members.first_joined_at IS NULL
                                        OR excluded.first_joined_at < members.first_joined_at
                                      THEN excluded.first_joined_at ELSE members.first_joined_at END,
               last_joined_at = CASE WHEN members.last_joined_at IS NULL
                                       OR excluded.last_joined_at > members.last_joined_at
                                     THEN excluded.last_joined_at ELSE members.last_joined_at END,
               left_at = CASE WHEN members.left_at >= excluded.last_joined_at THEN members.left_at END",
        );
        let mut query = sqlx::query(&sql);
        for ((guild_id, user_id), (first, last)) in rows {
            query = query
                .bind(to_sql_id(*guild_id))
                .bind(to_sql_id(*user_id))
                .bind(*first)
                .bind(*last);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The earliest time of each member among `(guild, user, time)` rows: one row per member, since
/// PostgreSQL refuses to update a row twice in one statement.
fn earliest_per_member(rows: &[(u64, u64, i64)]) -> Vec<((u64, u64), i64)> {
    let mut earliest: BTreeMap<(u64, u64), i64> = BTreeMap::new();
    for &(guild_id, user_id, at) in rows {
        let first = earliest.entry((guild_id, user_id)).or_insert(at);
        *first = (*first).min(at);
    }
    earliest.into_iter().collect()
}

/// Records members' join times known from Discord (not join events): the store keeps the
/// earliest, and a time that moves a member's first join marks their join day for settling.
pub async fn record_known_joins(
    conn: &mut AnyConnection,
    known: &[(u64, u64, i64)],
) -> sqlx::Result<()> {
    let earliest = earliest_per_member(known);
    for rows in super::statements::statements(&earliest) {
        let mut sql = values(
            Backend::of_connection(conn),
            "INSERT INTO members (guild_id, user_id, first_joined_at, join_day_stale)",
            rows.len(),
            4,
        );
        sql.push_str(
            " ON CONFLICT (guild_id, user_id) DO UPDATE SET
               join_day_stale = CASE WHEN members.first_joined_at IS NULL
                                       OR excluded.first_joined_at < members.first_joined_at
                                     THEN 1 ELSE members.join_day_stale END,
               first_joined_at = CASE WHEN members.first_joined_at IS NULL
                                        OR excluded.first_joined_at < members.first_joined_at
                                      THEN excluded.first_joined_at ELSE members.first_joined_at END",
        );
        let mut query = sqlx::query(&sql);
        for ((guild_id, user_id), at) in rows {
            query = query
                .bind(to_sql_id(*guild_id))
                .bind(to_sql_id(*user_id))
                .bind(*at)
                .bind(1_i64);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Records members' first message times (activation, §6): the store keeps the earliest.
pub async fn record_first_messages(
    conn: &mut AnyConnection,
    firsts: &[(u64, u64, i64)],
) -> sqlx::Result<()> {
    let earliest = earliest_per_member(firsts);
    for rows in super::statements::statements(&earliest) {
        let mut sql = values(
            Backend::of_connection(conn),
            "INSERT INTO members (guild_id, user_id, first_message_at)",
            rows.len(),
            3,
        );
        sql.push_str(
            " ON CONFLICT (guild_id, user_id) DO UPDATE SET
               first_message_at = CASE WHEN members.first_message_at IS NULL
                                         OR excluded.first_message_at < members.first_message_at
                                       THEN excluded.first_message_at ELSE members.first_message_at END",
        );
        let mut query = sqlx::query(&sql);
        for ((guild_id, user_id), at) in rows {
            query = query
                .bind(to_sql_id(*guild_id))
                .bind(to_sql_id(*user_id))
                .bind(*at);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// A member's most recent join, if recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JoinRow {
    pub joined_at: i64,
    pub pending: bool,
    pub welcomed: bool,
}

super::from_row!(JoinRow {
    joined_at,
    pending,
    welcomed
});

pub async fn latest_join(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    user_id: u64,
) -> sqlx::Result<Option<JoinRow>> {
    sqlx::query_as(
        "SELECT joined_at, pending, welcomed FROM member_joins WHERE guild_id = $1 AND user_id = $2
         ORDER BY joined_at DESC LIMIT 1",
    )
    .bind(to_sql_id(guild_id))
    .bind(to_sql_id(user_id))
    .fetch_optional(db)
    .await
}

/// One join of a member, if recorded.
pub async fn join_row(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    user_id: u64,
    joined_at: i64,
) -> sqlx::Result<Option<JoinRow>> {
    sqlx::query_as(
        "SELECT joined_at, pending, welcomed FROM member_joins
         WHERE guild_id = $1 AND user_id = $2 AND joined_at = $3",
    )
    .bind(to_sql_id(guild_id))
    .bind(to_sql_id(user_id))
    .bind(joined_at)
    .fetch_optional(db)
    .await
}

/// A member's welcome, written as one step: the join (if not stored yet), every post of the
/// welcome, the raid guard's burst and the join's "welcomed" mark. A crash before the commit
/// leaves nothing of it, so the welcome is made again at the next start; after the commit the
/// outbox delivers it.
pub struct WelcomeStep<'a> {
    pub join: Join,
    /// Posts with their nonces.
    pub posts: &'a [(super::outbox::NewPost, String)],
    /// The raid guard's burst (started at, until), when this join starts or extends one.
    pub burst: Option<(i64, i64)>,
}

pub async fn commit_welcome(pool: &Pool, step: &WelcomeStep<'_>, now_ms: i64) -> sqlx::Result<()> {
    let join = step.join;
    let mut tx = pool.begin().await?;
    record_joins(&mut tx, &[join]).await?;
    mark_join(
        &mut *tx,
        join.guild_id,
        join.user_id,
        join.joined_at,
        false,
        true,
    )
    .await?;
    if let Some((started_at, until)) = step.burst {
        set_burst(&mut *tx, join.guild_id, started_at, until).await?;
    }
    for (post, nonce) in step.posts {
        super::outbox::enqueue(&mut *tx, post, nonce, now_ms).await?;
    }
    tx.commit().await
}

/// Marks a join as past screening / welcomed.
pub async fn mark_join(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    user_id: u64,
    joined_at: i64,
    pending: bool,
    welcomed: bool,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE member_joins SET pending = $4, welcomed = $5 WHERE guild_id = $1 AND user_id = $2 AND joined_at = $3")
        .bind(to_sql_id(guild_id))
        .bind(to_sql_id(user_id))
        .bind(joined_at)
        .bind(super::sql_flag(pending))
        .bind(super::sql_flag(welcomed))
        .execute(db)
        .await?;
    Ok(())
}

/// Joins in `(since, until]`, for the raid guard.
pub async fn joins_between(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    since: i64,
    until: i64,
) -> sqlx::Result<u32> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM member_joins WHERE guild_id = $1 AND joined_at > $2 AND joined_at <= $3")
        .bind(to_sql_id(guild_id))
        .bind(since)
        .bind(until)
        .fetch_one(db)
        .await?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// Records that a member left, unless they joined again after `now` (see `Membership`).
async fn record_leave(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    user_id: u64,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO members (guild_id, user_id, left_at) VALUES ($1, $2, $3)
         ON CONFLICT (guild_id, user_id) DO UPDATE SET left_at = CASE
           WHEN COALESCE(members.last_joined_at, 0) <= excluded.left_at THEN excluded.left_at
           ELSE members.left_at END",
    )
    .bind(to_sql_id(guild_id))
    .bind(to_sql_id(user_id))
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

/// Activation data of one member: (first join, first message).
pub async fn activation(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    user_id: u64,
) -> sqlx::Result<Option<(Option<i64>, Option<i64>)>> {
    sqlx::query_as("SELECT first_joined_at, first_message_at FROM members WHERE guild_id = $1 AND user_id = $2")
        .bind(to_sql_id(guild_id))
        .bind(to_sql_id(user_id))
        .fetch_optional(db)
        .await
}

/// The member's intro thread, kept for life.
pub async fn intro_thread(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    user_id: u64,
) -> sqlx::Result<Option<u64>> {
    let id: Option<Option<i64>> = sqlx::query_scalar(
        "SELECT intro_thread_id FROM members WHERE guild_id = $1 AND user_id = $2",
    )
    .bind(to_sql_id(guild_id))
    .bind(to_sql_id(user_id))
    .fetch_optional(db)
    .await?;
    Ok(id.flatten().map(from_sql_id))
}

pub async fn set_intro_thread(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    user_id: u64,
    thread_id: u64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO members (guild_id, user_id, intro_thread_id) VALUES ($1, $2, $3)
         ON CONFLICT (guild_id, user_id) DO UPDATE SET intro_thread_id = excluded.intro_thread_id",
    )
    .bind(to_sql_id(guild_id))
    .bind(to_sql_id(user_id))
    .bind(to_sql_id(thread_id))
    .execute(db)
    .await?;
    Ok(())
}

/// Stores a member's interests (only called with their opt-in) or, with `None`, forgets them.
pub async fn set_interests(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    user_id: u64,
    interests: Option<&str>,
    now: i64,
) -> sqlx::Result<()> {
    match interests {
        Some(interests) => {
            sqlx::query(
                "INSERT INTO member_interests (guild_id, user_id, interests, updated_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (guild_id, user_id) DO UPDATE SET interests = excluded.interests, updated_at = excluded.updated_at",
            )
            .bind(to_sql_id(guild_id))
            .bind(to_sql_id(user_id))
            .bind(interests)
            .bind(now)
            .execute(db)
            .await?;
        }
        None => {
            sqlx::query("DELETE FROM member_interests WHERE guild_id = $1 AND user_id = $2")
                .bind(to_sql_id(guild_id))
                .bind(to_sql_id(user_id))
                .execute(db)
                .await?;
        }
    }
    Ok(())
}

/// A member's stored interests, if they opted in.
pub async fn interests(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    user_id: u64,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "SELECT interests FROM member_interests WHERE guild_id = $1 AND user_id = $2",
    )
    .bind(to_sql_id(guild_id))
    .bind(to_sql_id(user_id))
    .fetch_optional(db)
    .await
}

/// [`set_switches`] in the caller's transaction (the guild row must exist: see `guilds::ensure`).
pub async fn put_switches(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    enabled: bool,
    dm: bool,
    intro_thread: bool,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE guilds SET welcome_enabled = $2, welcome_dm = $3, welcome_intro_thread = $4 WHERE guild_id = $1")
        .bind(to_sql_id(guild_id))
        .bind(super::sql_flag(enabled))
        .bind(super::sql_flag(dm))
        .bind(super::sql_flag(intro_thread))
        .execute(db)
        .await?;
    Ok(())
}

/// [`add_template`] in the caller's transaction (the guild row must exist: see `guilds::ensure`).
pub async fn insert_template(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    body: &str,
    author: u64,
    now: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO welcome_templates (guild_id, body, created_by, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(to_sql_id(guild_id))
    .bind(body)
    .bind(to_sql_id(author))
    .bind(now)
    .fetch_one(db)
    .await
}
