//! `/spotlight`: nominations by anyone; suggestions, posts and history for managers (§5).

use std::collections::HashSet;

use chrono::Duration;
use poise::serenity_prelude::Member;

use crate::db;
use crate::discord::checks::guild_id;
use crate::discord::{checks, Command, Context, Error};
use crate::domain::clock::{unix_now, Clock, SystemClock};
use crate::domain::recognition;
use crate::domain::settings::ChannelPurpose;
use crate::error::{OrUser, UserError};
use crate::outbox::posts;
use crate::outbox::{action_json, Action};

pub fn commands() -> Vec<Command> {
    vec![spotlight()]
}

/// Celebrate members: nominate someone, or (managers) suggest, post and review spotlights
#[poise::command(
    slash_command,
    guild_only,
    subcommands("nominate", "suggest", "post", "history", "shoutout"),
    subcommand_required
)]
pub async fn spotlight(_: Context<'_>) -> Result<(), Error> {
    Ok(())
}

/// Nominate a member for a spotlight (the community team reads every nomination)
#[poise::command(slash_command, ephemeral)]
async fn nominate(
    ctx: Context<'_>,
    #[description = "Who deserves a spotlight"] member: Member,
    #[description = "Why (what they did)"]
    #[max_length = 500]
    reason: String,
) -> Result<(), Error> {
    let guild_id = guild_id(ctx)?;
    if member.user.id == ctx.author().id {
        return Err(UserError(
            "Nominating yourself does not count, but thank you for the enthusiasm!".into(),
        )
        .into());
    }
    if member.user.bot {
        return Err(UserError("Bots cannot be nominated.".into()).into());
    }
    db::recognition::nominate(
        &ctx.data().pool,
        guild_id,
        member.user.id.get(),
        ctx.author().id.get(),
        reason.trim(),
        unix_now(),
    )
    .await?;
    ctx.say(format!(
        "Thanks! Your nomination of {} went to the community team.",
        member.display_name()
    ))
    .await?;
    Ok(())
}

/// Ranked spotlight candidates from activity, quiet experts and nominations
#[poise::command(slash_command, ephemeral, check = "checks::manager")]
async fn suggest(
    ctx: Context<'_>,
    #[description = "Skip members spotlighted in the last N weeks (default 12)"] weeks: Option<u32>,
) -> Result<(), Error> {
    let guild_id = guild_id(ctx)?;
    let pool = &ctx.data().pool;
    let tz = crate::features::settings::timezone(pool, &ctx.data().config, guild_id).await?;
    let to = SystemClock.now().with_timezone(&tz).date_naive();
    let from = to - Duration::days(29);
    let report = crate::features::stats::report(
        pool,
        guild_id,
        tz,
        from,
        to,
        crate::domain::analytics::CohortPeriod::Month,
    )
    .await?;
    let top: Vec<(u64, u64)> = report
        .top_contributors
        .iter()
        .filter_map(|c| Some((c.user_id.parse().ok()?, c.activity)))
        .collect();
    let experts: Vec<(u64, f64)> =
        crate::features::stats::quiet_experts(pool, guild_id, tz, from, to, 5)
            .await?
            .iter()
            .map(|e| (e.user_id, e.per_message()))
            .collect();
    let nominations =
        db::recognition::nominations_since(pool, guild_id, unix_now() - 30 * 86_400).await?;
    let since = unix_now() - i64::from(weeks.unwrap_or(12)) * 7 * 86_400;
    let mut exclude: HashSet<u64> = db::recognition::spotlights(pool, guild_id, since)
        .await?
        .into_iter()
        .map(|(m, _, _)| m)
        .collect();
    exclude.extend(
        db::activity::optouts(pool)
            .await?
            .into_iter()
            .filter(|(g, _)| *g == guild_id)
            .map(|(_, u)| u),
    );
    exclude.insert(ctx.framework().bot_id().get());
    let ranked = recognition::suggest(&top, &experts, &nominations, &exclude, 10);
    let text = if ranked.is_empty() {
        "No candidates yet: suggestions come from the last 30 days of activity and nominations."
            .to_owned()
    } else {
        ranked
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{}. <@{}>: {}", i + 1, c.user_id, c.reasons.join("; ")))
            .collect::<Vec<_>>()
            .join("\n")
    };
    ctx.say(posts::truncate(&format!("**Spotlight candidates** (opted-out and recently spotlighted members left out)\n{text}"), posts::MESSAGE_LIMIT))
        .await?;
    Ok(())
}

/// Publish a spotlight in the spotlight channel
#[poise::command(slash_command, ephemeral, check = "checks::manager")]
async fn post(
    ctx: Context<'_>,
    #[description = "The member to celebrate"] member: Member,
    #[description = "Their story, in a few sentences"]
    #[max_length = 3000]
    story: String,
) -> Result<(), Error> {
    let guild_id = guild_id(ctx)?;
    let pool = &ctx.data().pool;
    let settings = ctx.data().settings(guild_id).await?;
    let channel = settings
        .channel(ChannelPurpose::Spotlight)
        .or_user("There is no spotlight channel: `/config channel purpose:spotlight` sets one.")?;
    let user_id = member.user.id.get();
    if ctx.data().tracker.is_opted_out(guild_id, user_id) {
        return Err(UserError(format!(
            "{} opted out of tracking and spotlights.",
            member.display_name()
        ))
        .into());
    }
    let joined = member.joined_at.map(|t| t.unix_timestamp());
    let thread = db::welcome::intro_thread(pool, guild_id, user_id).await?;
    let body = posts::spotlight_post(
        user_id,
        member.display_name(),
        &member.user.face(),
        &story,
        joined,
        thread,
    );
    let key = format!("spotlight:{guild_id}:{user_id}:{}", ctx.id());
    ctx.data()
        .outbox
        .enqueue(db::outbox::NewPost {
            guild_id,
            channel_id: channel,
            kind: "spotlight".into(),
            dedup_key: key,
            body: action_json(&Action::Message { body, thread: None }),
            not_before_ms: None,
        })
        .await?;
    db::recognition::record_spotlight(pool, guild_id, user_id, ctx.author().id.get(), unix_now())
        .await?;
    ctx.say(format!(
        "Spotlight on {} is being posted in <#{channel}>.",
        member.display_name()
    ))
    .await?;
    Ok(())
}

/// Past spotlights
#[poise::command(slash_command, ephemeral, check = "checks::manager")]
async fn history(ctx: Context<'_>) -> Result<(), Error> {
    let rows = db::recognition::spotlights(&ctx.data().pool, guild_id(ctx)?, 0).await?;
    let text = if rows.is_empty() {
        "No spotlights yet: `/spotlight suggest` finds candidates.".to_owned()
    } else {
        rows.iter()
            .take(25)
            .map(|(m, by, at)| format!("<t:{at}:D> <@{m}> (by <@{by}>)"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    ctx.say(text).await?;
    Ok(())
}

/// Schedule the monthly "top 3 contributors" shout-out in the spotlight channel
#[poise::command(slash_command, ephemeral, check = "checks::manager")]
async fn shoutout(
    ctx: Context<'_>,
    #[description = "Day of the month, 1-28 (default 1: the month that just ended)"]
    #[min = 1]
    #[max = 28]
    day: Option<u8>,
    #[description = "Time of day, HH:MM server time (default 10:00)"] time: Option<String>,
    #[description = "Stop the monthly shout-out"] stop: Option<bool>,
    #[description = "Also post last month's shout-out now"] now: Option<bool>,
) -> Result<(), Error> {
    let guild_id = guild_id(ctx)?;
    let (pool, config) = (&ctx.data().pool, &ctx.data().config);
    let clock_now = SystemClock.now();
    if stop.unwrap_or(false) {
        let had = db::recognition::remove_shoutout(pool, guild_id).await?;
        crate::features::recognition::schedule_shoutout(pool, config, guild_id, None, clock_now)
            .await?;
        ctx.say(if had {
            "The monthly shout-out is stopped."
        } else {
            "There was no monthly shout-out scheduled."
        })
        .await?;
        return Ok(());
    }
    let wanted =
        crate::features::recognition::parse(day.unwrap_or(1), time.as_deref().unwrap_or("10:00"))
            .map_err(UserError)?;
    db::recognition::set_shoutout(pool, guild_id, &wanted, ctx.author().id.get(), unix_now())
        .await?;
    let next = crate::features::recognition::schedule_shoutout(
        pool,
        config,
        guild_id,
        Some(&wanted),
        clock_now,
    )
    .await?;
    let settings = ctx.data().settings(guild_id).await?;
    let mut reply = match next {
        Some(next) => format!(
            "The top {} contributors of each month will be celebrated on day {} at {} server time; \
             next: <t:{}:F>.",
            crate::features::recognition::PLACES,
            wanted.day,
            wanted.time_of_day,
            next.timestamp()
        ),
        None => "The shout-out is saved but has no next run.".to_owned(),
    };
    match settings.channel(ChannelPurpose::Spotlight) {
        Some(channel) => reply.push_str(&format!(" It goes to <#{channel}>.")),
        None => reply.push_str(
            " There is no spotlight channel yet: `/config channel purpose:spotlight` sets one, \
             or the shout-out is skipped.",
        ),
    }
    if now.unwrap_or(false) {
        let tz = settings.timezone;
        let today = clock_now.with_timezone(&tz).date_naive();
        let queued = crate::features::recognition::queue(pool, config, guild_id, today).await?;
        ctx.data().outbox.wake();
        reply.push_str(if queued {
            " Last month's shout-out is on its way."
        } else {
            " Last month's shout-out was not posted: no spotlight channel, or nobody was active."
        });
    }
    ctx.say(reply).await?;
    Ok(())
}
