//! The manager's inbox (product §12): `/today`, `/digest` and the weekly `/recap`.

use crate::discord::checks::guild_id;
use crate::discord::{checks, Command, Context, Error};
use crate::domain::clock::unix_now;
use crate::features::inbox as feature;

pub fn commands() -> Vec<Command> {
    vec![today(), digest(), recap()]
}

/// The 24-hour download: who joined, what waits for an answer, flags, today (managers)
#[poise::command(
    slash_command,
    guild_only,
    ephemeral,
    default_member_permissions = "MANAGE_GUILD",
    check = "checks::manager"
)]
async fn today(ctx: Context<'_>) -> Result<(), Error> {
    let data = ctx.data();
    let text = feature::today(
        &data.pool,
        &data.config,
        guild_id(ctx)?,
        crate::domain::clock::now(),
    )
    .await?;
    ctx.say(text).await?;
    Ok(())
}

/// Post the 24-hour download every morning in the reports channel (managers)
#[poise::command(
    slash_command,
    guild_only,
    ephemeral,
    default_member_permissions = "MANAGE_GUILD",
    check = "checks::manager"
)]
async fn digest(
    ctx: Context<'_>,
    #[description = "When, server time (08:30), or off"]
    #[max_length = 5]
    at: String,
    #[description = "A message or thread counts as unanswered after this many hours (default 4)"]
    #[min = 1]
    #[max = 72]
    unanswered_hours: Option<u32>,
) -> Result<(), Error> {
    let data = ctx.data();
    let said = feature::set_digest(
        &data.pool,
        &data.config,
        guild_id(ctx)?,
        &at,
        unanswered_hours,
        unix_now(),
    )
    .await?;
    data.scheduler.wake();
    ctx.say(said).await?;
    Ok(())
}

/// A public recap every week: spotlight, most-replied threads, what is coming (managers)
#[poise::command(
    slash_command,
    guild_only,
    ephemeral,
    default_member_permissions = "MANAGE_GUILD",
    check = "checks::manager"
)]
async fn recap(
    ctx: Context<'_>,
    #[description = "When, server time: `mon 09:00`, or off"]
    #[max_length = 40]
    at: String,
    #[description = "Where (default: here)"]
    #[channel_types("Text", "News")]
    channel: Option<poise::serenity_prelude::GuildChannel>,
) -> Result<(), Error> {
    let data = ctx.data();
    let channel = channel.map_or(ctx.channel_id().get(), |c| c.id.get());
    let said = feature::set_recap(
        &data.pool,
        &data.config,
        guild_id(ctx)?,
        Some(channel),
        &at,
        unix_now(),
    )
    .await?;
    data.scheduler.wake();
    ctx.say(said).await?;
    Ok(())
}
