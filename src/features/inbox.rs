//! The manager's inbox (product §12): `/today` and the morning digest in the reports channel,
//! "the 24-hour download": new members and who has not posted yet, newcomers' first messages
//! and threads nobody answered, open flags, applications and feedback waiting, today's
//! schedule, and yesterday's figures against the same weekday a week before.

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::db::{self, Pool};
use crate::domain::analytics::day_number;
use crate::domain::feedback::ItemFacts;
use crate::domain::inbox::{self as rules, DayFigures, Digest};
use crate::domain::schedule::{local_date, Schedule};
use crate::domain::settings::ChannelPurpose;
use crate::error::UserError;
use crate::features::{calendar, moderation, settings};
use crate::outbox::{self, posts};

/// Scheduler job kind of the digest (target: the guild id).
pub const DIGEST_JOB: &str = "digest";

/// A newcomer: joined less than this long ago.
const NEWCOMER_SECS: i64 = 30 * 86_400;
/// Unanswered items older than this are left out (the digest is about the last days).
const LOOK_BACK_SECS: i64 = 7 * 86_400;
/// Default hours before a newcomer's message or a thread counts as unanswered.
pub const DEFAULT_UNANSWERED_HOURS: i64 = 4;

/// Builds the digest at `now`.
pub async fn build(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    now: DateTime<Utc>,
) -> anyhow::Result<Digest> {
    let at = now.timestamp();
    let hours = db::inbox::digest(pool, guild_id)
        .await?
        .map_or(DEFAULT_UNANSWERED_HOURS, |(_, h)| h);
    let settings = settings::resolve(pool, config, guild_id).await?;
    let tz = settings.timezone;
    let window = (at - LOOK_BACK_SECS, at - hours * 3600);
    let new_members = db::inbox::new_members(pool, guild_id, at - 86_400)
        .await?
        .into_iter()
        .map(|(user, _, first_message)| (user, first_message.is_some()))
        .collect();
    let unanswered_messages =
        db::inbox::unanswered_first_messages(pool, guild_id, at - NEWCOMER_SECS, window).await?;
    let unanswered_threads =
        db::inbox::unanswered_newcomer_threads(pool, guild_id, at - NEWCOMER_SECS, window).await?;
    let open_flags = db::moderation::open_flags(pool, guild_id)
        .await?
        .iter()
        .map(moderation::flag_line)
        .collect();
    let facts: Vec<ItemFacts> = db::feedback::list(pool, guild_id, Some("new"), None, 0)
        .await?
        .iter()
        .filter_map(|i| {
            Some(ItemFacts {
                category: i.category.clone(),
                status: i.status.parse().ok()?,
                created_at: i.created_at,
                acknowledged_at: i.acknowledged_at,
            })
        })
        .collect();
    let sla = i64::from(config.feedback.sla_days) * 86_400;
    let feedback_past_sla = crate::domain::feedback::report(&facts, at, sla).past_sla;
    let today_end =
        crate::domain::schedule::days_span(local_date(at, tz), local_date(at, tz), tz).1;
    let today = calendar::scheduled(pool, config, guild_id, now)
        .await?
        .occurrences(DateTime::<Utc>::from_timestamp(today_end - 1, 0).unwrap_or(now))
        .into_iter()
        .map(|(t, what)| format!("<t:{}:t> {what}", t.timestamp()))
        .collect();
    let yesterday = day_number(local_date(at, tz)) - 1;
    let days = db::rollup::guild_days(pool, guild_id, yesterday - 7, yesterday).await?;
    let figures = |day: i64| {
        days.iter().find(|d| d.day == day).map(|d| DayFigures {
            dau: d.dau,
            messages: d.messages,
            joins: d.joins,
        })
    };
    Ok(Digest {
        guild_id,
        new_members,
        unanswered_messages,
        unanswered_threads,
        unanswered_hours: hours,
        open_flags,
        pending_applications: db::inbox::pending_applications(pool, guild_id).await?,
        feedback_past_sla,
        today,
        yesterday: figures(yesterday),
        week_before: figures(yesterday - 7),
    })
}

/// `/today`: the digest now, for the manager who asks.
pub async fn today(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    let digest = build(pool, config, guild_id, now).await?;
    Ok(posts::truncate(&digest.text(), posts::MESSAGE_LIMIT))
}

/// `/digest`: the morning digest at `at` (HH:MM server time) with items unanswered after
/// `hours`, or off (`at` = "off"). Returns the answer.
pub async fn set_digest(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    at: &str,
    hours: Option<u32>,
    now: i64,
) -> anyhow::Result<String> {
    let at = at.trim();
    if at.eq_ignore_ascii_case("off") {
        db::inbox::clear_digest(pool, guild_id).await?;
        db::jobs::upsert(pool, guild_id, DIGEST_JOB, db::to_sql_id(guild_id), None).await?;
        return Ok("The morning digest is off; `/today` still shows it on demand.".into());
    }
    let schedule = daily(at)?;
    let hours = hours.map_or(DEFAULT_UNANSWERED_HOURS, i64::from);
    db::inbox::set_digest(pool, guild_id, at, hours).await?;
    let next = schedule_next(pool, config, guild_id, &schedule, now).await?;
    let channel = settings::resolve(pool, config, guild_id)
        .await?
        .channel(ChannelPurpose::Reports);
    Ok(format!(
        "The morning digest is on: every day at {at} server time{}{}; messages and threads count as unanswered after {hours} h.",
        next.map(|t| format!(" (next <t:{t}:F>)")).unwrap_or_default(),
        match channel {
            Some(c) => format!(" in <#{c}>"),
            None => " — choose where with `/config channel purpose:reports`".into(),
        }
    ))
}

/// Every day at `HH:MM`.
fn daily(at: &str) -> Result<Schedule, UserError> {
    Schedule::from_text(&format!("daily {at}")).map_err(|_| {
        UserError(format!(
            "at: `{at}` is not a time like 08:30 (24-hour, server time), or `off`."
        ))
    })
}

/// The next digest after `now`, in the server's time zone.
async fn next_at(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    schedule: &Schedule,
    now: i64,
) -> anyhow::Result<Option<i64>> {
    let tz = settings::timezone(pool, config, guild_id).await?;
    Ok(DateTime::<Utc>::from_timestamp(now, 0)
        .and_then(|t| schedule.next_after(t, tz))
        .map(|t| t.timestamp()))
}

async fn schedule_next(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    schedule: &Schedule,
    now: i64,
) -> anyhow::Result<Option<i64>> {
    let next = next_at(pool, config, guild_id, schedule, now).await?;
    db::jobs::upsert(pool, guild_id, DIGEST_JOB, db::to_sql_id(guild_id), next).await?;
    Ok(next)
}

/// The digest is due: posted in the reports channel (once per local day). Returns whether it
/// was queued and when the next one is due.
pub async fn post_digest(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    now: DateTime<Utc>,
) -> anyhow::Result<(bool, Option<i64>)> {
    let Some((at, _)) = db::inbox::digest(pool, guild_id).await? else {
        return Ok((false, None));
    };
    let next = match daily(&at) {
        Ok(schedule) => next_at(pool, config, guild_id, &schedule, now.timestamp()).await?,
        Err(_) => None,
    };
    let settings = settings::resolve(pool, config, guild_id).await?;
    let Some(channel) = settings.channel(ChannelPurpose::Reports) else {
        tracing::info!(guild.id = guild_id, "no reports channel; digest not posted");
        return Ok((false, next));
    };
    let digest = build(pool, config, guild_id, now).await?;
    let day = local_date(now.timestamp(), settings.timezone);
    let post = outbox::message_post(
        guild_id,
        channel,
        "digest",
        format!("digest:{guild_id}:{day}"),
        posts::text_post(&posts::truncate(&digest.text(), posts::MESSAGE_LIMIT), &[]),
    );
    let queued = outbox::enqueue_in(pool, &post).await?.is_some();
    Ok((queued, next))
}

/// Scheduler job kind of the weekly recap (target: the guild id).
pub const RECAP_JOB: &str = "recap";

/// `/recap`: a public recap every week in `channel` at `at` (`mon 09:00`, server time), or off.
pub async fn set_recap(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    channel: Option<u64>,
    at: &str,
    now: i64,
) -> anyhow::Result<String> {
    let at = at.trim();
    let Some(channel) = channel.filter(|_| !at.eq_ignore_ascii_case("off")) else {
        db::inbox::clear_recap(pool, guild_id).await?;
        db::jobs::upsert(pool, guild_id, RECAP_JOB, db::to_sql_id(guild_id), None).await?;
        return Ok("The weekly recap is off.".into());
    };
    let schedule = Schedule::from_text(at).map_err(|e| UserError(format!("at: {e}")))?;
    db::inbox::set_recap(pool, guild_id, channel, at).await?;
    let next = next_at(pool, config, guild_id, &schedule, now).await?;
    db::jobs::upsert(pool, guild_id, RECAP_JOB, db::to_sql_id(guild_id), next).await?;
    Ok(format!(
        "The weekly recap goes to <#{channel}> `{at}` server time{}: last week's spotlight, its most-replied threads (links only) and what is coming. Opted-out members are never named.",
        next.map(|t| format!(" (next <t:{t}:F>)")).unwrap_or_default()
    ))
}

/// The recap of the week before `now`.
pub async fn build_recap(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    now: DateTime<Utc>,
) -> anyhow::Result<rules::Recap> {
    let at = now.timestamp();
    let week = (at - 7 * 86_400, at);
    let opted_out = db::activity::optouts_in(pool, guild_id).await?;
    let spotlight = db::recognition::spotlights(pool, guild_id, week.0)
        .await?
        .into_iter()
        .map(|(member, _, _)| member)
        .find(|m| !opted_out.contains(m));
    let mut counts = Vec::new();
    for (thread, messages) in db::inbox::thread_messages(pool, guild_id, week).await? {
        let starter = db::inbox::thread_starter(pool, guild_id, thread)
            .await?
            .filter(|s| !opted_out.contains(s));
        counts.push((thread, starter, messages));
    }
    let upcoming = calendar::scheduled(pool, config, guild_id, now)
        .await?
        .occurrences(now + chrono::Duration::days(7))
        .into_iter()
        .map(|(t, what)| format!("<t:{}:f> {what}", t.timestamp()))
        .take(10)
        .collect();
    Ok(rules::Recap {
        spotlight,
        threads: rules::top_threads(&counts, 3),
        upcoming,
    })
}

/// The recap is due: posted (once per local day) and the next one computed.
pub async fn post_recap(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    now: DateTime<Utc>,
) -> anyhow::Result<(bool, Option<i64>)> {
    let Some((channel, at)) = db::inbox::recap(pool, guild_id).await? else {
        return Ok((false, None));
    };
    let next = match Schedule::from_text(&at) {
        Ok(schedule) => next_at(pool, config, guild_id, &schedule, now.timestamp()).await?,
        Err(_) => None,
    };
    let recap = build_recap(pool, config, guild_id, now).await?;
    let tz = settings::timezone(pool, config, guild_id).await?;
    let day = local_date(now.timestamp(), tz);
    // Public: the spotlighted member is named, nobody is pinged.
    let post = outbox::message_post(
        guild_id,
        channel,
        "recap",
        format!("recap:{guild_id}:{day}"),
        posts::text_post(&posts::truncate(&recap.text(), posts::MESSAGE_LIMIT), &[]),
    );
    Ok((outbox::enqueue_in(pool, &post).await?.is_some(), next))
}
