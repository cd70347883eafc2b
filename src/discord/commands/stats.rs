//! `/stats overview` and `/privacy optout|optin` (product §6 and §8; more views follow).

use poise::CreateReply;

use crate::db;
use crate::discord::checks::guild_id;
use crate::discord::{checks, embeds, Command, Context, Error};
use crate::domain::analytics::CohortPeriod;
use crate::domain::clock::{unix_now, Clock, SystemClock};

pub fn commands() -> Vec<Command> {
    vec![stats(), privacy(), report()]
}

/// Leadership reports
#[poise::command(
    slash_command,
    guild_only,
    default_member_permissions = "MANAGE_GUILD",
    check = "checks::manager",
    subcommands("monthly"),
    subcommand_required
)]
pub async fn report(_: Context<'_>) -> Result<(), Error> {
    Ok(())
}

/// Post the monthly report (this month so far, or YYYY-MM) to the reports channel
#[poise::command(slash_command, ephemeral)]
async fn monthly(
    ctx: Context<'_>,
    #[description = "Month as YYYY-MM (default: the current month)"] month: Option<String>,
) -> Result<(), Error> {
    let guild_id = guild_id(ctx)?;
    let name = ctx
        .guild()
        .map_or_else(|| "the community".to_owned(), |g| g.name.clone());
    let data = ctx.data();
    let day = crate::features::reports::post_now(
        &data.pool,
        &data.config,
        &data.outbox,
        guild_id,
        &name,
        month.as_deref(),
        ctx.id(),
        SystemClock.now(),
    )
    .await?;
    ctx.say(format!(
        "The report for {} is on its way to the reports channel.",
        day.format("%B %Y")
    ))
    .await?;
    Ok(())
}

/// Community health: active members, retention, activation
#[poise::command(
    slash_command,
    guild_only,
    default_member_permissions = "MANAGE_GUILD",
    check = "checks::manager",
    subcommands("overview", "retention", "top", "quiet_experts", "export", "events"),
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
    let (pool, config) = (&ctx.data().pool, &ctx.data().config);
    let days = i64::from(days.unwrap_or(30).clamp(1, 365));
    let (tz, from, to) =
        crate::features::stats::last_days(pool, config, guild_id, days, SystemClock.now()).await?;
    let managers = managers(ctx, guild_id).await?;
    let (report, talk) =
        crate::features::stats::overview(&ctx.data().pool, guild_id, tz, from, to, &managers)
            .await?;
    // The chart is drawn on a blocking thread while connected members are counted.
    let chart_of = report.clone();
    let (connected, png) = tokio::try_join!(
        crate::features::connections::connected(
            pool,
            guild_id,
            (from, to),
            report.active_over_period()
        ),
        async {
            tokio::task::spawn_blocking(move || {
                crate::features::stats::chart::activity_png(&chart_of)
            })
            .await?
        }
    )?;
    let embed =
        embeds::overview_embed(&report, &talk, &connected).image("attachment://activity.png");
    ctx.send(CreateReply::default().embed(embed).attachment(
        poise::serenity_prelude::CreateAttachment::bytes(png, "activity.png"),
    ))
    .await?;
    Ok(())
}

/// Retention of join cohorts: share active 30-59 and 90-119 days after joining
#[poise::command(slash_command, ephemeral)]
async fn retention(
    ctx: Context<'_>,
    #[description = "Cohorts by month (default) or week"] by: Option<CohortChoice>,
) -> Result<(), Error> {
    let period = match by {
        Some(CohortChoice::Week) => CohortPeriod::IsoWeek,
        _ => CohortPeriod::Month,
    };
    let report = period_report(ctx, 365, period).await?;
    let png = crate::features::stats::chart::retention_png(&report)?;
    ctx.send(
        CreateReply::default()
            .embed(embeds::retention_embed(&report).image("attachment://retention.png"))
            .attachment(poise::serenity_prelude::CreateAttachment::bytes(
                png,
                "retention.png",
            )),
    )
    .await?;
    Ok(())
}

/// Cohort grouping.
#[derive(Debug, Clone, Copy, poise::ChoiceParameter)]
enum CohortChoice {
    #[name = "month"]
    Month,
    #[name = "week"]
    Week,
}

/// Events: RSVPs, show-up and no-shows, and whether events keep newcomers
#[poise::command(slash_command, ephemeral)]
async fn events(
    ctx: Context<'_>,
    #[description = "How many days (default 30)"] days: Option<u32>,
) -> Result<(), Error> {
    let data = ctx.data();
    let text = crate::features::events::stats(
        &data.pool,
        &data.config,
        crate::discord::checks::guild_id(ctx)?,
        i64::from(days.unwrap_or(30).clamp(1, 365)),
        crate::domain::clock::unix_now(),
    )
    .await?;
    ctx.say(text).await?;
    Ok(())
}

/// The most active members (managers only; opted-out members never appear)
#[poise::command(slash_command, ephemeral)]
async fn top(
    ctx: Context<'_>,
    #[description = "How many days (default 30)"] days: Option<u32>,
) -> Result<(), Error> {
    let report = period_report(
        ctx,
        i64::from(days.unwrap_or(30).clamp(1, 365)),
        CohortPeriod::Month,
    )
    .await?;
    let lines: Vec<String> = report
        .top_contributors
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{}. <@{}>: {} activities", i + 1, c.user_id, c.activity))
        .collect();
    let text = if lines.is_empty() {
        "No activity recorded in this period yet.".to_owned()
    } else {
        lines.join("\n")
    };
    ctx.say(format!(
        "**Top contributors, {} to {}**\n{text}",
        report.from, report.to
    ))
    .await?;
    Ok(())
}

/// Members whose messages draw the most replies and reactions (managers only, never public)
#[poise::command(slash_command, ephemeral, rename = "quiet-experts")]
async fn quiet_experts(
    ctx: Context<'_>,
    #[description = "How many days (default 30)"] days: Option<u32>,
    #[description = "Least messages to be considered (default 5)"] min_messages: Option<u32>,
) -> Result<(), Error> {
    let guild_id = guild_id(ctx)?;
    let pool = &ctx.data().pool;
    let days = i64::from(days.unwrap_or(30).clamp(1, 365));
    let (tz, from, to) = crate::features::stats::last_days(
        pool,
        &ctx.data().config,
        guild_id,
        days,
        SystemClock.now(),
    )
    .await?;
    let min_messages = u64::from(min_messages.unwrap_or(5));
    let experts =
        crate::features::stats::quiet_experts(pool, guild_id, tz, from, to, min_messages).await?;
    ctx.say(crate::features::stats::quiet_experts_text(
        &experts, from, to,
    ))
    .await?;
    Ok(())
}

/// Members who count as managers: Manage Server, Administrator or the manager role.
async fn managers(
    ctx: Context<'_>,
    guild_id: u64,
) -> Result<std::collections::HashSet<u64>, Error> {
    let settings = ctx.data().settings(guild_id).await?;
    let Some(guild) = ctx.guild() else {
        return Ok(std::collections::HashSet::new());
    };
    Ok(crate::discord::directory::managers_in(&guild, &settings))
}

/// The statistics as a CSV file (daily numbers, cohorts, activation, top contributors)
#[poise::command(slash_command, ephemeral)]
async fn export(
    ctx: Context<'_>,
    #[description = "How many days (default 30)"] days: Option<u32>,
) -> Result<(), Error> {
    let report = period_report(
        ctx,
        i64::from(days.unwrap_or(30).clamp(1, 3650)),
        CohortPeriod::Month,
    )
    .await?;
    let csv = crate::features::stats::render_csv(&report);
    let name = format!("hearth-stats-{}-{}.csv", report.from, report.to);
    ctx.send(
        CreateReply::default()
            .content(format!("Statistics from {} to {}.", report.from, report.to))
            .attachment(poise::serenity_prelude::CreateAttachment::bytes(
                csv.into_bytes(),
                name,
            )),
    )
    .await?;
    Ok(())
}

/// The report for the last `days` days (today included) in the guild's time zone.
async fn period_report(
    ctx: Context<'_>,
    days: i64,
    period: CohortPeriod,
) -> Result<crate::domain::analytics::Report, Error> {
    let guild_id = guild_id(ctx)?;
    let (pool, config) = (&ctx.data().pool, &ctx.data().config);
    let (tz, from, to) =
        crate::features::stats::last_days(pool, config, guild_id, days, SystemClock.now()).await?;
    crate::features::stats::report(&ctx.data().pool, guild_id, tz, from, to, period).await
}

/// Your data in Hearth
#[poise::command(
    slash_command,
    guild_only,
    subcommands("optout", "optin", "export_mine", "forget"),
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

/// Everything Hearth stores about you here, as a JSON file only you see
#[poise::command(slash_command, ephemeral, rename = "export")]
async fn export_mine(ctx: Context<'_>) -> Result<(), Error> {
    let data = db::privacy::export(
        &ctx.data().pool,
        Some(guild_id(ctx)?),
        ctx.author().id.get(),
    )
    .await?;
    let file = serde_json::to_vec_pretty(&data)?;
    ctx.send(
        CreateReply::default()
            .content("Here is everything Hearth stores about you in this server.")
            .attachment(poise::serenity_prelude::CreateAttachment::bytes(
                file,
                "my-hearth-data.json",
            )),
    )
    .await?;
    Ok(())
}

/// Delete your records here (totals stay right: your past activity counts anonymously)
#[poise::command(slash_command, ephemeral)]
async fn forget(
    ctx: Context<'_>,
    #[description = "Set to true to confirm: this cannot be undone"] confirm: bool,
) -> Result<(), Error> {
    if !confirm {
        ctx.say("Nothing was deleted. Run `/privacy forget confirm:true` to delete your records.")
            .await?;
        return Ok(());
    }
    let moved = db::privacy::forget(
        &ctx.data().pool,
        Some(guild_id(ctx)?),
        ctx.author().id.get(),
        db::privacy::anonymous_id(),
    )
    .await?;
    ctx.say(format!(
        "Done: {moved} activity record(s) no longer point to you, and your interests and intro-thread link are deleted. Use `/privacy optout` to stop future tracking."
    ))
    .await?;
    Ok(())
}
