//! A member's data: export, and forgetting by anonymisation (aggregates stay right: every
//! record keeps counting, under an id that no longer points to the person).

use serde_json::{json, Value};
use sqlx::Row;

use super::{to_sql_id, Pool};

/// A fresh id for a forgotten member: the top bit is set, which no Discord snowflake has.
pub fn anonymous_id() -> u64 {
    rand::random::<u64>() | (1 << 63)
}

/// Whether an id is one `anonymous_id` gave.
pub fn is_anonymous(user_id: u64) -> bool {
    user_id >> 63 == 1
}

/// Everything stored about a member in a guild (or in every guild with `None`).
pub async fn export(pool: &Pool, guild_id: Option<u64>, user_id: u64) -> sqlx::Result<Value> {
    let guild = guild_id.map(to_sql_id);
    let user = to_sql_id(user_id);
    let activity = sqlx::query(
        "SELECT guild_id, at, kind, channel_id, target_id, reply_to, in_thread FROM activity
         WHERE user_id = $1 AND ($2 IS NULL OR guild_id = $2) ORDER BY at",
    )
    .bind(user)
    .bind(guild)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| {
        json!({
            "guild_id": r.get::<i64, _>(0).to_string(),
            "at": r.get::<i64, _>(1),
            "kind": match r.get::<i64, _>(2) { 1 => "message", 2 => "thread", 3 => "reaction", _ => "voice" },
            "channel_id": r.get::<i64, _>(3).to_string(),
            "target_id": r.get::<i64, _>(4).to_string(),
            "reply_to": r.get::<Option<i64>, _>(5).map(|x| x.to_string()),
            "in_thread": r.get::<i64, _>(6) != 0,
        })
    })
    .collect::<Vec<_>>();
    let member = sqlx::query(
        "SELECT guild_id, first_joined_at, last_joined_at, left_at, first_message_at, intro_thread_id FROM members
         WHERE user_id = $1 AND ($2 IS NULL OR guild_id = $2)",
    )
    .bind(user)
    .bind(guild)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| {
        json!({
            "guild_id": r.get::<i64, _>(0).to_string(),
            "first_joined_at": r.get::<Option<i64>, _>(1),
            "last_joined_at": r.get::<Option<i64>, _>(2),
            "left_at": r.get::<Option<i64>, _>(3),
            "first_message_at": r.get::<Option<i64>, _>(4),
            "intro_thread_id": r.get::<Option<i64>, _>(5).map(|x| x.to_string()),
        })
    })
    .collect::<Vec<_>>();
    let interests: Vec<(i64, String)> =
        sqlx::query_as("SELECT guild_id, interests FROM member_interests WHERE user_id = $1 AND ($2 IS NULL OR guild_id = $2)")
            .bind(user)
            .bind(guild)
            .fetch_all(pool)
            .await?;
    let joins: Vec<(i64, i64)> =
        sqlx::query_as("SELECT guild_id, joined_at FROM member_joins WHERE user_id = $1 AND ($2 IS NULL OR guild_id = $2)")
            .bind(user)
            .bind(guild)
            .fetch_all(pool)
            .await?;
    let optouts: Vec<(i64, i64)> =
        sqlx::query_as("SELECT guild_id, since FROM tracking_optouts WHERE user_id = $1 AND ($2 IS NULL OR guild_id = $2)")
            .bind(user)
            .bind(guild)
            .fetch_all(pool)
            .await?;
    let rsvps: Vec<(i64, i64, String, String, i64)> = sqlx::query_as(
        "SELECT e.guild_id, r.event_id, r.status, r.offsets, r.dm FROM event_rsvps r
         JOIN events e ON e.id = r.event_id
         WHERE r.user_id = $1 AND ($2 IS NULL OR e.guild_id = $2) ORDER BY r.event_id",
    )
    .bind(user)
    .bind(guild)
    .fetch_all(pool)
    .await?;
    let presence: Vec<(i64, i64, i64, Option<i64>, String)> = sqlx::query_as(
        "SELECT e.guild_id, p.event_id, p.joined_at, p.left_at, p.source FROM event_presence p
         JOIN events e ON e.id = p.event_id
         WHERE p.user_id = $1 AND ($2 IS NULL OR e.guild_id = $2) ORDER BY p.event_id, p.joined_at",
    )
    .bind(user)
    .bind(guild)
    .fetch_all(pool)
    .await?;
    let series: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT s.guild_id, m.series_id FROM event_series_members m
         JOIN event_series s ON s.id = m.series_id
         WHERE m.user_id = $1 AND ($2 IS NULL OR s.guild_id = $2) ORDER BY m.series_id",
    )
    .bind(user)
    .bind(guild)
    .fetch_all(pool)
    .await?;
    // Anonymous survey answers are found only through an open wave's salt; closed waves' answers
    // lead to nobody any more, the member included.
    // guild, interests, time zone, frequency, group size, status
    type ConnectRow = (i64, Option<String>, Option<String>, String, i64, String);
    let connect: Vec<ConnectRow> = sqlx::query_as(
        "SELECT guild_id, interests, timezone, frequency, group_size, status FROM connect_members
         WHERE user_id = $1 AND ($2 IS NULL OR guild_id = $2) ORDER BY guild_id",
    )
    .bind(user)
    .bind(guild)
    .fetch_all(pool)
    .await?;
    let matches = super::connections::history(pool, guild_id, user_id).await?;
    let flags: Vec<(i64, i64, String, i64)> = sqlx::query_as(
        "SELECT f.guild_id, f.id, r.reason, r.created_at FROM flag_reports r
         JOIN flags f ON f.id = r.flag_id
         WHERE r.flagger_id = $1 AND ($2 IS NULL OR f.guild_id = $2) ORDER BY r.created_at",
    )
    .bind(user)
    .bind(guild)
    .fetch_all(pool)
    .await?;
    // Answers the member signed are theirs in any wave.
    let mut survey_answers = Vec::new();
    let mut found = std::collections::HashSet::new();
    for a in super::surveys::signed_by(pool, guild_id, user_id).await? {
        survey_answers.push(json!({"survey_id": a.survey_id, "wave": a.number, "score": a.score, "comment": a.comment, "answers": a.answers, "signed": true}));
        found.insert((a.wave_id, a.respondent_key));
    }
    for wave in super::surveys::open_waves(pool, guild_id).await? {
        let Some(salt) = &wave.salt else { continue };
        let key = crate::domain::surveys::respondent_key(salt, user_id);
        if found.contains(&(wave.id, key.clone())) {
            continue;
        }
        if let Some(answer) = super::surveys::answer_of(pool, wave.id, &key).await? {
            survey_answers.push(json!({"survey_id": wave.survey_id, "wave": wave.number, "score": answer.score, "comment": answer.comment, "answers": answer.answers, "signed": false}));
        }
    }
    let settings_changes = super::settings_changes::made_by(pool, guild_id, user_id).await?;
    Ok(json!({
        "user_id": user_id.to_string(),
        "note": "Hearth stores ids, times, channels and counts; never the content of your messages.",
        "memberships": member,
        "joins": joins.iter().map(|(g, t)| json!({"guild_id": g.to_string(), "joined_at": t})).collect::<Vec<_>>(),
        "activity": activity,
        "interests": interests.iter().map(|(g, i)| json!({"guild_id": g.to_string(), "interests": i})).collect::<Vec<_>>(),
        "event_rsvps": rsvps.iter().map(|(g, e, status, offsets, dm)| json!({"guild_id": g.to_string(), "event_id": e, "status": status, "reminder_offsets_secs": offsets, "dm": *dm != 0})).collect::<Vec<_>>(),
        "event_attendance": presence.iter().map(|(g, e, from, to, source)| json!({"guild_id": g.to_string(), "event_id": e, "from": from, "to": to, "source": source})).collect::<Vec<_>>(),
        "event_series_going": series.iter().map(|(g, s)| json!({"guild_id": g.to_string(), "series_id": s})).collect::<Vec<_>>(),
        "survey_answers": survey_answers,
        "connections": connect.iter().map(|(g, interests, tz, frequency, group_size, status)| json!({"guild_id": g.to_string(), "interests": interests, "timezone": tz, "frequency": frequency, "group_size": group_size, "status": status})).collect::<Vec<_>>(),
        "flags_raised": flags.iter().map(|(g, id, reason, at)| json!({"guild_id": g.to_string(), "flag": id, "reason": reason, "at": at})).collect::<Vec<_>>(),
        "connection_matches": matches.iter().map(|m| json!({"guild_id": m.guild_id.to_string(), "round": m.round_number, "at": m.ran_at, "with": m.members.iter().filter(|(u, _)| *u != user_id).map(|(u, _)| u.to_string()).collect::<Vec<_>>(), "met": m.members.iter().find(|(u, _)| *u == user_id).and_then(|(_, met)| *met)})).collect::<Vec<_>>(),
        "settings_changes": settings_changes.iter().map(|(g, c)| json!({"guild_id": g.to_string(), "at": c.changed_at, "source": c.source.as_str(), "setting": c.setting, "detail": c.detail})).collect::<Vec<_>>(),
        "tracking_opt_outs": optouts.iter().map(|(g, t)| json!({"guild_id": g.to_string(), "since": t})).collect::<Vec<_>>(),
    }))
}

/// Forgets a member: their records move to `anonymous_id` (so totals, DAU and retention stay
/// right), and what only describes them (interests, intro thread, opt-out row) is deleted.
/// Returns how many activity records were anonymised.
pub async fn forget(
    pool: &Pool,
    guild_id: Option<u64>,
    user_id: u64,
    anonymous_id: u64,
) -> sqlx::Result<u64> {
    let guild = guild_id.map(to_sql_id);
    let (user, anon) = (to_sql_id(user_id), to_sql_id(anonymous_id));
    let mut tx = pool.begin().await?;
    let moved = sqlx::query(
        "UPDATE activity SET user_id = $3 WHERE user_id = $1 AND ($2 IS NULL OR guild_id = $2)",
    )
    .bind(user)
    .bind(guild)
    .bind(anon)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    for statement in [
        "UPDATE member_joins SET user_id = $3 WHERE user_id = $1 AND ($2 IS NULL OR guild_id = $2)",
        "UPDATE member_days SET user_id = $3 WHERE user_id = $1 AND ($2 IS NULL OR guild_id = $2)",
        // Pairs keep the smaller id first: an anonymous id (top bit set) is above every
        // snowflake.
        "UPDATE member_pairs SET user_a = user_b, user_b = $3 WHERE user_a = $1 AND ($2 IS NULL OR guild_id = $2)",
        "UPDATE member_pairs SET user_b = $3 WHERE user_b = $1 AND ($2 IS NULL OR guild_id = $2)",
        "UPDATE members SET user_id = $3, intro_thread_id = NULL WHERE user_id = $1 AND ($2 IS NULL OR guild_id = $2)",
        "UPDATE applications SET user_id = $3, decline_reason = NULL WHERE user_id = $1 AND ($2 IS NULL OR guild_id = $2)",
        // Event figures stay right: the answer and the presence remain, under the anonymous id.
        "UPDATE event_rsvps SET user_id = $3, dm = 0 WHERE user_id = $1 AND ($2 IS NULL OR event_id IN (SELECT id FROM events WHERE guild_id = $2))",
        "DELETE FROM event_series_members WHERE user_id = $1 AND ($2 IS NULL OR series_id IN (SELECT id FROM event_series WHERE guild_id = $2)) AND $3 = $3",
        "UPDATE event_presence SET user_id = $3 WHERE user_id = $1 AND ($2 IS NULL OR event_id IN (SELECT id FROM events WHERE guild_id = $2))",
        "DELETE FROM member_interests WHERE user_id = $1 AND ($2 IS NULL OR guild_id = $2) AND $3 = $3",
        // Out of future rounds; past groups keep their counts under the anonymous id.
        "DELETE FROM connect_members WHERE user_id = $1 AND ($2 IS NULL OR guild_id = $2) AND $3 = $3",
        "DELETE FROM connect_declines WHERE (user_id = $1 OR other_id = $1) AND ($2 IS NULL OR guild_id = $2) AND $3 = $3",
        "UPDATE connect_match_members SET user_id = $3 WHERE user_id = $1 AND ($2 IS NULL OR match_id IN (SELECT id FROM connect_matches WHERE guild_id = $2))",
        // Flags keep counting; neither the flagger nor the author can be found from them.
        "UPDATE flag_reports SET flagger_id = $3, reason = '(forgotten)' WHERE flagger_id = $1 AND ($2 IS NULL OR flag_id IN (SELECT id FROM flags WHERE guild_id = $2))",
        "UPDATE flags SET author_id = $3 WHERE author_id = $1 AND ($2 IS NULL OR guild_id = $2)",
        "UPDATE saved_reply_uses SET used_by = $3 WHERE used_by = $1 AND ($2 IS NULL OR guild_id = $2)",
        "DELETE FROM tracking_optouts WHERE user_id = $1 AND ($2 IS NULL OR guild_id = $2) AND $3 = $3",
        // The audit log keeps the change and its time; who made it is no longer known.
        "UPDATE settings_changes SET user_id = $3 WHERE user_id = $1 AND ($2 IS NULL OR guild_id = $2)",
        // Dashboard logins belong to no server: forgetting a member everywhere ends them.
        "DELETE FROM web_sessions WHERE user_id = $1 AND $2 IS NULL AND $3 = $3",
    ] {
        sqlx::query(statement).bind(user).bind(guild).bind(anon).execute(&mut *tx).await?;
    }
    // A forgotten member's survey answers keep counting under keys that lead nowhere: those
    // they signed (any wave) and those of open waves (found through the salt).
    let nowhere = || {
        crate::domain::surveys::respondent_key(
            &format!("{:x}", rand::random::<u128>()),
            anonymous_id,
        )
    };
    for signed in super::surveys::signed_by(&mut *tx, guild_id, user_id).await? {
        super::surveys::rekey(&mut *tx, signed.wave_id, &signed.respondent_key, &nowhere()).await?;
    }
    for wave in super::surveys::open_waves(&mut *tx, guild_id).await? {
        let Some(salt) = &wave.salt else { continue };
        let key = crate::domain::surveys::respondent_key(salt, user_id);
        super::surveys::rekey(&mut *tx, wave.id, &key, &nowhere()).await?;
    }
    sqlx::query(
        "DELETE FROM survey_contacts WHERE user_id = $1 AND ($2 IS NULL OR wave_id IN (SELECT w.id FROM survey_waves w JOIN surveys s ON s.id = w.survey_id WHERE s.guild_id = $2))",
    )
    .bind(user)
    .bind(guild)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(moved)
}

/// Deletes everything of guilds the bot left before `cutoff` (unix seconds); returns them.
pub async fn purge_left_guilds(pool: &Pool, cutoff: i64) -> sqlx::Result<Vec<i64>> {
    let guilds: Vec<i64> = sqlx::query_scalar(
        "SELECT guild_id FROM guilds WHERE left_at IS NOT NULL AND left_at < $1",
    )
    .bind(cutoff)
    .fetch_all(pool)
    .await?;
    for guild in &guilds {
        let mut tx = pool.begin().await?;
        for table in [
            "activity",
            "member_days",
            "member_pairs",
            "connection_days",
            "guild_days",
            "rollups",
            "member_joins",
            "members",
            "member_interests",
            "tracking_optouts",
            "applications",
            "events",
            "event_series",
            "surveys",
            "connect_matches",
            "connect_rounds",
            "connect_members",
            "connect_declines",
            "connect_programs",
            "settings_changes",
            "saved_reply_uses",
            "saved_replies",
            "flags",
            "welcome_templates",
            "jobs",
            "prompts",
            "outbox",
            "guild_channels",
            "guilds",
        ] {
            // Table names come from the list above, never from input.
            sqlx::query(&format!("DELETE FROM {table} WHERE guild_id = $1"))
                .bind(guild)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    }
    Ok(guilds)
}
