//! `/spotlight`: nominations by anyone; suggestions, posts and history for managers (§5).

use poise::serenity_prelude::Member;

use crate::db;
use crate::discord::checks::guild_id;
use crate::discord::{checks, Command, Context, Error};
use crate::domain::clock::{unix_now, Clock, SystemClock};
use crate::error::UserError;
use crate::features::recognition;
use crate::outbox::posts;

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
    let (pool, config) = (&ctx.data().pool, &ctx.data().config);
    let bot_id = ctx.framework().bot_id().get();
    let weeks = weeks.unwrap_or(12);
    let now = SystemClock.now();
    let ranked = recognition::candidates(pool, config, guild_id(ctx)?, bot_id, weeks, now).await?;
    ctx.say(posts::truncate(
        &recognition::candidates_text(&ranked),
        posts::MESSAGE_LIMIT,
    ))
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
    let spotlight = recognition::Spotlight {
        guild_id: guild_id(ctx)?,
        user_id: member.user.id.get(),
        name: member.display_name().to_owned(),
        avatar_url: member.user.face(),
        joined_at: member.joined_at.map(|t| t.unix_timestamp()),
        story,
        posted_by: ctx.author().id.get(),
        request_id: ctx.id(),
    };
    let data = ctx.data();
    let channel = recognition::post_spotlight(
        &data.pool,
        &data.config,
        &data.outbox,
        &data.tracker,
        &spotlight,
        SystemClock.now(),
    )
    .await?;
    ctx.say(format!(
        "Spotlight on {} is being posted in <#{channel}>.",
        spotlight.name
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
        let had = recognition::stop_shoutout(pool, config, guild_id, clock_now).await?;
        ctx.say(if had {
            "The monthly shout-out is stopped."
        } else {
            "There was no monthly shout-out scheduled."
        })
        .await?;
        return Ok(());
    }
    let (day, time) = (day.unwrap_or(1), time.as_deref().unwrap_or("10:00"));
    let author = ctx.author().id.get();
    let scheduled =
        recognition::start_shoutout(pool, config, guild_id, day, time, author, clock_now).await?;
    let mut reply = scheduled.text();
    if now.unwrap_or(false) {
        let outbox = &ctx.data().outbox;
        let queued =
            recognition::post_last_month(pool, config, outbox, guild_id, clock_now).await?;
        reply.push_str(if queued {
            " Last month's shout-out is on its way."
        } else {
            " Last month's shout-out was not posted: no spotlight channel, or nobody was active."
        });
    }
    ctx.say(reply).await?;
    Ok(())
}
