//! `/stats overview` and `/privacy optout|optin` (product §6 and §8; more views follow).

use chrono::Duration;
use poise::CreateReply;

use super::guild_id;
use crate::db;
use crate::discord::{checks, render, Command, Context, Error};
use crate::domain::analytics::CohortPeriod;
use crate::domain::clock::{unix_now, Clock, SystemClock};

pub fn commands() -> Vec<Command> {
    vec![stats(), privacy()]
}

/// Community health: active members, retention, activation
#[poise::command(
    slash_command,
    guild_only,
    default_member_permissions = "MANAGE_GUILD",
    check = "checks::manager",
    subcommands("overview"),
    subcommand_required
)]
pub async fn stats(_: Context<'_>) -> Result<(), Error> {
    Ok(())
}

/// DAU, WAU, MAU, stickiness, messages, new members and activation
#[poise::command(slash_command, ephemeral)]
async fn overview(
    ctx: Context<'_>,
    #[description = "How many days (default 30)"] days: Option<u32>,
) -> Result<(), Error> {
    let guild_id = guild_id(ctx)?;
    let days = i64::from(days.unwrap_or(30).clamp(1, 365));
    let tz =
        crate::scheduler::guild_timezone(&ctx.data().pool, &ctx.data().config, guild_id).await?;
    let to = SystemClock.now().with_timezone(&tz).date_naive();
    let from = to - Duration::days(days - 1);
    let report = crate::stats::report(
        &ctx.data().pool,
        guild_id,
        tz,
        from,
        to,
        CohortPeriod::Month,
    )
    .await?;
    let png = crate::charts::activity_png(&report)?;
    let embed = render::overview_embed(&report).image("attachment://activity.png");
    ctx.send(CreateReply::default().embed(embed).attachment(
        poise::serenity_prelude::CreateAttachment::bytes(png, "activity.png"),
    ))
    .await?;
    Ok(())
}

/// Your data in Hearth
#[poise::command(
    slash_command,
    guild_only,
    subcommands("optout", "optin"),
    subcommand_required
)]
pub async fn privacy(_: Context<'_>) -> Result<(), Error> {
    Ok(())
}

/// Stop tracking my activity here (and keep me off leaderboards and spotlights)
#[poise::command(slash_command, ephemeral)]
async fn optout(ctx: Context<'_>) -> Result<(), Error> {
    set_optout(ctx, true).await
}

/// Track my activity again
#[poise::command(slash_command, ephemeral)]
async fn optin(ctx: Context<'_>) -> Result<(), Error> {
    set_optout(ctx, false).await
}

async fn set_optout(ctx: Context<'_>, out: bool) -> Result<(), Error> {
    let guild_id = guild_id(ctx)?;
    let user_id = ctx.author().id.get();
    db::activity::set_optout(&ctx.data().pool, guild_id, user_id, out, unix_now()).await?;
    ctx.data().tracker.set_opted_out(guild_id, user_id, out);
    let text = if out {
        "Done: Hearth no longer records your activity here and keeps you off leaderboards. What was recorded before stays in the totals; `/privacy optin` undoes this."
    } else {
        "Done: your activity counts again in this server's statistics."
    };
    ctx.say(text).await?;
    Ok(())
}
