//! Peer connections (product §11): `/connect join|pause|leave|history` for members,
//! `/connect setup|run-now|stats` for managers, and the "did you meet?" buttons.

use poise::serenity_prelude::{self as serenity, ComponentInteraction};

use crate::discord::checks::guild_id;
use crate::discord::components::ephemeral;
use crate::discord::{checks, Command, Context, Data, Error};
use crate::domain::clock::unix_now;
use crate::error::UserError;
use crate::features::connections::{self as feature, MET};

pub fn commands() -> Vec<Command> {
    vec![connect()]
}

/// Meet other members: opt-in introductions by shared interest
#[poise::command(
    slash_command,
    guild_only,
    subcommands("join", "pause", "leave", "history", "setup", "run_now", "stats"),
    subcommand_required
)]
pub async fn connect(_: Context<'_>) -> Result<(), Error> {
    Ok(())
}

#[derive(Debug, Clone, Copy, poise::ChoiceParameter)]
enum GroupSize {
    #[name = "2: one other member"]
    Pair,
    #[name = "3: a small group"]
    Trio,
}

#[derive(Debug, Clone, Copy, poise::ChoiceParameter)]
enum Frequency {
    #[name = "every round"]
    Every,
    #[name = "every other round"]
    EveryOther,
}

/// Opt in to be matched with other members (or change your interests)
#[poise::command(slash_command, ephemeral)]
async fn join(
    ctx: Context<'_>,
    #[description = "What you'd like to talk about, separated by commas (default: your /intro interests)"]
    #[max_length = 300]
    interests: Option<String>,
    #[description = "How often to be matched (default: every round)"] frequency: Option<Frequency>,
    #[description = "Your time zone, like Europe/Berlin, to suggest times that suit you both"]
    #[max_length = 60]
    timezone: Option<String>,
    #[description = "Meet one member at a time (default) or a group of three"] group_size: Option<
        GroupSize,
    >,
) -> Result<(), Error> {
    let wish = feature::Join {
        interests: interests.as_deref(),
        timezone: timezone.as_deref(),
        every_other: matches!(frequency, Some(Frequency::EveryOther)),
        group_size: group_size.map(|g| match g {
            GroupSize::Pair => 2,
            GroupSize::Trio => 3,
        }),
    };
    let reply = feature::join(
        &ctx.data().pool,
        &ctx.data().config,
        guild_id(ctx)?,
        ctx.author().id.get(),
        &wish,
        unix_now(),
    )
    .await?;
    ctx.say(reply).await?;
    Ok(())
}

/// Stop being matched for now (`/connect join` resumes)
#[poise::command(slash_command, ephemeral)]
async fn pause(ctx: Context<'_>) -> Result<(), Error> {
    let reply = feature::stop(
        &ctx.data().pool,
        guild_id(ctx)?,
        ctx.author().id.get(),
        false,
    )
    .await?;
    ctx.say(reply).await?;
    Ok(())
}

/// Leave connections
#[poise::command(slash_command, ephemeral)]
async fn leave(ctx: Context<'_>) -> Result<(), Error> {
    let reply = feature::stop(
        &ctx.data().pool,
        guild_id(ctx)?,
        ctx.author().id.get(),
        true,
    )
    .await?;
    ctx.say(reply).await?;
    Ok(())
}

/// Who you were matched with, and whether you met
#[poise::command(slash_command, ephemeral)]
async fn history(ctx: Context<'_>) -> Result<(), Error> {
    let reply = feature::history(&ctx.data().pool, guild_id(ctx)?, ctx.author().id.get()).await?;
    ctx.say(reply).await?;
    Ok(())
}

/// Set up rounds of connections in a channel (managers)
#[poise::command(slash_command, ephemeral, check = "checks::manager")]
async fn setup(
    ctx: Context<'_>,
    #[description = "Where the private threads are made"]
    #[channel_types("Text")]
    channel: serenity::GuildChannel,
    #[description = "When rounds run: `mon 10:00`, `every 2 weeks`, monthly, `cron 0 10 * * 1`"]
    every: String,
    #[description = "A pair never meets again within this many rounds (default 6)"]
    #[min = 1]
    #[max = 52]
    avoid_repeats: Option<u32>,
    #[description = "Ask \"did you meet?\" this long after a round (default 4d)"] follow_up: Option<
        String,
    >,
) -> Result<(), Error> {
    let data = ctx.data();
    let new = feature::Setup {
        guild_id: guild_id(ctx)?,
        channel: channel.id.get(),
        every: &every,
        repeat_rounds: avoid_repeats,
        follow_up: follow_up.as_deref(),
        by: ctx.author().id.get(),
    };
    let reply = feature::setup(&data.pool, &data.config, &new, unix_now()).await?;
    data.settings_changed(new.guild_id);
    data.scheduler.wake();
    ctx.say(reply).await?;
    Ok(())
}

/// Run a round now (managers)
#[poise::command(
    slash_command,
    ephemeral,
    check = "checks::manager",
    rename = "run-now"
)]
async fn run_now(ctx: Context<'_>) -> Result<(), Error> {
    let data = ctx.data();
    let outcome = feature::run_round(
        &data.pool,
        &data.config,
        &data.outbox,
        guild_id(ctx)?,
        unix_now(),
    )
    .await?;
    data.scheduler.wake();
    ctx.say(outcome.text()).await?;
    Ok(())
}

/// Matches, met rate and the retention of newcomers who met someone (managers)
#[poise::command(slash_command, ephemeral, check = "checks::manager")]
async fn stats(
    ctx: Context<'_>,
    #[description = "How many days (default 90)"]
    #[min = 1]
    #[max = 3650]
    days: Option<u32>,
) -> Result<(), Error> {
    let data = ctx.data();
    let reply = feature::stats(
        &data.pool,
        &data.config,
        guild_id(ctx)?,
        i64::from(days.unwrap_or(90)),
        unix_now(),
    )
    .await?;
    ctx.say(reply).await?;
    Ok(())
}

/// "Did you meet?": Yes / Not yet / Don't pair us again.
pub async fn on_button(
    ctx: &serenity::Context,
    data: &Data,
    interaction: &ComponentInteraction,
) -> Result<bool, Error> {
    let Some(rest) = interaction.data.custom_id.strip_prefix(MET) else {
        return Ok(false);
    };
    let Some((match_id, choice)) = rest
        .split_once(':')
        .and_then(|(m, c)| Some((m.parse::<i64>().ok()?, c)))
    else {
        return Ok(false);
    };
    let Some(guild_id) = interaction.guild_id.map(|g| g.get()) else {
        return Ok(true);
    };
    let answer = feature::answer_met(
        &data.pool,
        guild_id,
        match_id,
        interaction.user.id.get(),
        choice,
        unix_now(),
    )
    .await;
    let text = match answer {
        Ok(text) => text,
        Err(err) => err.downcast::<UserError>()?.0,
    };
    ephemeral(ctx, interaction, &text).await?;
    Ok(true)
}
