//! `/prompts` and `/calendar`: the content calendar (product §4).

use chrono::Utc;
use poise::serenity_prelude::{ChannelId, CreateAttachment};
use poise::CreateReply;

use crate::db::{self, prompts::NewPrompt};
use crate::discord::checks::guild_id;
use crate::discord::{checks, Command, Context, Error};
use crate::domain::clock::{unix_now, Clock, SystemClock};
use crate::domain::prompt::CLASSIC_WEEK;
use crate::error::{OrUser, UserError};
use crate::features::calendar;
use crate::features::prompts as feature;
use crate::outbox::posts;

pub fn commands() -> Vec<Command> {
    vec![prompts(), calendar()]
}

/// Themed-day prompts posted on a schedule
#[poise::command(
    slash_command,
    guild_only,
    default_member_permissions = "MANAGE_GUILD",
    check = "checks::manager",
    subcommands(
        "add", "list", "remove", "pause", "resume", "run_now", "bank", "preset"
    ),
    subcommand_required
)]
pub async fn prompts(_: Context<'_>) -> Result<(), Error> {
    Ok(())
}

/// Schedule a prompt: weekdays + time, or a cron expression, in the server's time zone
#[poise::command(slash_command, ephemeral)]
#[allow(clippy::too_many_arguments)]
async fn add(
    ctx: Context<'_>,
    #[description = "Theme, e.g. Tool-Tip Tuesday"] theme: String,
    #[description = "Where to post"]
    #[channel_types("Text", "News")]
    channel: ChannelId,
    #[description = "Weekdays: mon,tue… or daily/weekdays/weekends"] days: Option<String>,
    #[description = "Local time HH:MM (server time zone)"] time: Option<String>,
    #[description = "Or a 5-field cron, e.g. 0 9 * * MON"] cron: Option<String>,
    #[description = "The text (leave empty to use a rotating bank: /prompts bank add)"]
    text: Option<String>,
    #[description = "Open a thread on each post"] thread: Option<bool>,
    #[description = "Native poll question"] poll_question: Option<String>,
    #[description = "Poll answers separated by |, up to 10"] poll_answers: Option<String>,
    #[description = "Poll duration in hours (default 24)"] poll_hours: Option<u32>,
    #[description = "Missed runs after downtime: skip, or how late is still fine (default 1h)"]
    catch_up: Option<String>,
) -> Result<(), Error> {
    let request = feature::PromptRequest {
        theme,
        channel_id: channel.get(),
        days,
        time,
        cron,
        text,
        thread,
        poll_question,
        poll_answers,
        poll_hours,
        catch_up,
    };
    let (data, author) = (ctx.data(), ctx.author().id.get());
    let (guild, now) = (guild_id(ctx)?, SystemClock.now());
    let added = feature::add(&data.pool, &data.config, guild, author, request, now).await?;
    data.scheduler.wake();
    let (row, schedule, next) = (&added.row, &added.schedule, next_text(added.next));
    ctx.say(format!(
        "Prompt #{} **{}** in <#{}>: {schedule}. {next}",
        row.id,
        row.theme,
        row.channel()
    ))
    .await?;
    Ok(())
}

/// Recomputes a prompt's next run and wakes the scheduler.
async fn reschedule(ctx: Context<'_>, id: i64) -> Result<Option<chrono::DateTime<Utc>>, Error> {
    let row = own_prompt(ctx, id).await?;
    let next = feature::reschedule(
        &ctx.data().pool,
        &ctx.data().config,
        &row,
        SystemClock.now(),
    )
    .await?;
    ctx.data().scheduler.wake();
    Ok(next)
}

fn next_text(next: Option<chrono::DateTime<Utc>>) -> String {
    match next {
        Some(t) => format!("Next post <t:{0}:F> (<t:{0}:R>).", t.timestamp()),
        None => "Paused: `/prompts resume` starts it.".to_owned(),
    }
}

/// List the prompts and when each posts next
#[poise::command(slash_command, ephemeral)]
async fn list(ctx: Context<'_>) -> Result<(), Error> {
    let guild_id = guild_id(ctx)?;
    let rows = db::prompts::prompts(&ctx.data().pool, guild_id).await?;
    if rows.is_empty() {
        ctx.say("No prompts yet: `/prompts add`, or `/prompts preset` for the classic week.")
            .await?;
        return Ok(());
    }
    let mut lines = Vec::new();
    for row in &rows {
        let schedule =
            feature::schedule_of(row).map_or_else(|e| format!("invalid ({e})"), |s| s.to_string());
        let next = db::jobs::get(&ctx.data().pool, feature::JOB, row.id)
            .await?
            .and_then(|j| j.next_run_at);
        let when = match (row.paused, next) {
            (true, _) => "⏸ paused".to_owned(),
            (false, Some(t)) => format!("next <t:{t}:R>"),
            (false, None) => "not scheduled".to_owned(),
        };
        let source = match &row.text {
            Some(_) => "fixed text".to_owned(),
            None => format!(
                "bank of {}",
                db::prompts::bank(&ctx.data().pool, row.id).await?.len()
            ),
        };
        lines.push(format!(
            "**#{}** {} in <#{}>: {schedule}; {source}; {when}",
            row.id,
            row.theme,
            row.channel()
        ));
    }
    ctx.say(posts::truncate(&lines.join("\n"), posts::MESSAGE_LIMIT))
        .await?;
    Ok(())
}

/// Delete a prompt
#[poise::command(slash_command, ephemeral)]
async fn remove(ctx: Context<'_>, #[description = "Prompt number"] id: i64) -> Result<(), Error> {
    if !db::prompts::remove_prompt(&ctx.data().pool, guild_id(ctx)?, id).await? {
        return Err(UserError(format!(
            "There is no prompt #{id}; `/prompts list` shows them."
        ))
        .into());
    }
    ctx.data().scheduler.wake();
    ctx.say(format!("Prompt #{id} deleted.")).await?;
    Ok(())
}

/// Pause a prompt (it keeps its settings)
#[poise::command(slash_command, ephemeral)]
async fn pause(ctx: Context<'_>, #[description = "Prompt number"] id: i64) -> Result<(), Error> {
    set_paused(ctx, id, true).await
}

/// Resume a paused prompt
#[poise::command(slash_command, ephemeral)]
async fn resume(ctx: Context<'_>, #[description = "Prompt number"] id: i64) -> Result<(), Error> {
    set_paused(ctx, id, false).await
}

async fn set_paused(ctx: Context<'_>, id: i64, paused: bool) -> Result<(), Error> {
    let guild_id = guild_id(ctx)?;
    if !db::prompts::set_paused(&ctx.data().pool, guild_id, id, paused).await? {
        return Err(UserError(format!(
            "There is no prompt #{id}; `/prompts list` shows them."
        ))
        .into());
    }
    let next = reschedule(ctx, id).await?;
    let state = if paused { "paused" } else { "resumed" };
    ctx.say(format!("Prompt #{id} {state}. {}", next_text(next)))
        .await?;
    Ok(())
}

/// Post a prompt now, outside its schedule
#[poise::command(slash_command, ephemeral, rename = "run-now")]
async fn run_now(ctx: Context<'_>, #[description = "Prompt number"] id: i64) -> Result<(), Error> {
    let row = own_prompt(ctx, id).await?;
    let key = format!("prompt-now:{id}:{}", ctx.id());
    feature::post_now(
        &ctx.data().pool,
        &ctx.data().outbox,
        &row,
        SystemClock.now(),
        &key,
    )
    .await?;
    ctx.say(format!(
        "Posting **{}** in <#{}> now.",
        row.theme,
        row.channel()
    ))
    .await?;
    Ok(())
}

/// The rotating bank of texts of a prompt (no repeats until every text was used)
#[poise::command(
    slash_command,
    subcommands("bank_add", "bank_list", "bank_remove"),
    subcommand_required
)]
async fn bank(_: Context<'_>) -> Result<(), Error> {
    Ok(())
}

async fn own_prompt(ctx: Context<'_>, id: i64) -> Result<db::prompts::PromptRow, Error> {
    db::prompts::prompt(&ctx.data().pool, guild_id(ctx)?, id)
        .await?
        .or_user(format!(
            "There is no prompt #{id}; `/prompts list` shows them."
        ))
}

/// Add a text to a prompt's bank
#[poise::command(slash_command, ephemeral, rename = "add")]
async fn bank_add(
    ctx: Context<'_>,
    #[description = "Prompt number"] prompt: i64,
    #[description = "The text"] text: String,
) -> Result<(), Error> {
    let row = own_prompt(ctx, prompt).await?;
    if text.chars().count() > 1800 {
        return Err(UserError(
            "text: at most 1800 characters, so the post fits Discord's 2000.".into(),
        )
        .into());
    }
    let id = db::prompts::add_bank_text(&ctx.data().pool, row.id, &text).await?;
    let note = if row.text.is_some() {
        " (this prompt has a fixed text, which wins; remove and re-add it without text to rotate)"
    } else {
        ""
    };
    ctx.say(format!("Text #{id} added to **{}**{note}.", row.theme))
        .await?;
    Ok(())
}

/// List a prompt's bank
#[poise::command(slash_command, ephemeral, rename = "list")]
async fn bank_list(
    ctx: Context<'_>,
    #[description = "Prompt number"] prompt: i64,
) -> Result<(), Error> {
    let row = own_prompt(ctx, prompt).await?;
    let texts = db::prompts::bank(&ctx.data().pool, row.id).await?;
    let text = if texts.is_empty() {
        format!("**{}** has no bank texts yet.", row.theme)
    } else {
        texts
            .iter()
            .map(|t| {
                format!(
                    "**#{}**{} {}",
                    t.id,
                    if t.used { " (used this cycle)" } else { "" },
                    t.text
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    ctx.say(posts::truncate(&text, posts::MESSAGE_LIMIT))
        .await?;
    Ok(())
}

/// Remove a text from a prompt's bank
#[poise::command(slash_command, ephemeral, rename = "remove")]
async fn bank_remove(
    ctx: Context<'_>,
    #[description = "Prompt number"] prompt: i64,
    #[description = "Text number"] text: i64,
) -> Result<(), Error> {
    let row = own_prompt(ctx, prompt).await?;
    if !db::prompts::remove_bank_text(&ctx.data().pool, row.id, text).await? {
        return Err(UserError(format!("Prompt #{prompt} has no text #{text}.")).into());
    }
    ctx.say(format!("Text #{text} removed.")).await?;
    Ok(())
}

/// Install the classic week (Monday goals … Friday wins), paused, to edit and resume
#[poise::command(slash_command, ephemeral)]
async fn preset(
    ctx: Context<'_>,
    #[description = "Where the prompts post"]
    #[channel_types("Text", "News")]
    channel: ChannelId,
) -> Result<(), Error> {
    let guild_id = guild_id(ctx)?;
    let mut lines = Vec::new();
    for p in CLASSIC_WEEK {
        let poll = p.poll.map(|(q, answers)| {
            crate::outbox::posts::poll(
                q,
                &answers.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>(),
                24,
            )
            .to_string()
        });
        let row = NewPrompt {
            guild_id,
            theme: p.theme.into(),
            channel_id: channel.get(),
            schedule_kind: "weekly".into(),
            days: Some(p.days.into()),
            time_of_day: Some(p.time.into()),
            cron: None,
            late_within_secs: Some(3600),
            text: Some(p.text.into()),
            thread: p.thread,
            poll,
            author_id: ctx.author().id.get(),
            paused: true,
        };
        let id = db::prompts::insert_prompt(&ctx.data().pool, &row, unix_now()).await?;
        reschedule(ctx, id).await?;
        lines.push(format!("#{id} {} ({} {})", p.theme, p.days, p.time));
    }
    ctx.say(format!("Installed the classic week in <#{}>, paused:\n{}\nEdit with `/prompts bank`, start each with `/prompts resume`.", channel.get(), lines.join("\n")))
        .await?;
    Ok(())
}

/// How `/calendar` answers.
#[derive(Debug, Clone, Copy, poise::ChoiceParameter)]
enum CalendarFormat {
    #[name = "list"]
    List,
    #[name = "ical"]
    Ical,
}

/// Everything scheduled, in the server's time zone (format:ical gives an .ics file)
#[poise::command(slash_command, guild_only, ephemeral)]
pub async fn calendar(
    ctx: Context<'_>,
    #[description = "How many days ahead (default 14)"] days: Option<u32>,
    #[description = "list (default) or ical for your calendar app"] format: Option<CalendarFormat>,
) -> Result<(), Error> {
    // Discord does not allow a command with both options and subcommands, so the .ics export
    // (`/calendar ical` in the product contract) is `/calendar format:ical`.
    if matches!(format, Some(CalendarFormat::Ical)) {
        return calendar_ical(ctx).await;
    }
    let days = i64::from(days.unwrap_or(14).clamp(1, 90));
    let (pool, config) = (&ctx.data().pool, &ctx.data().config);
    let calendar = calendar::scheduled(pool, config, guild_id(ctx)?, SystemClock.now()).await?;
    ctx.say(posts::truncate(
        &calendar.listing(days),
        posts::MESSAGE_LIMIT,
    ))
    .await?;
    Ok(())
}

/// The calendar as an .ics file (RFC 5545) for calendar apps.
async fn calendar_ical(ctx: Context<'_>) -> Result<(), Error> {
    let guild_id = guild_id(ctx)?;
    let (pool, config) = (&ctx.data().pool, &ctx.data().config);
    let calendar = calendar::scheduled(pool, config, guild_id, SystemClock.now()).await?;
    let name = ctx
        .guild()
        .map_or_else(|| "Community".to_owned(), |g| g.name.clone());
    let (text, count) = calendar.ics(guild_id, &name);
    ctx.send(
        CreateReply::default()
            .content(format!(
                "{count} scheduled item(s). Import the file into your calendar app."
            ))
            .attachment(CreateAttachment::bytes(
                text.into_bytes(),
                "hearth-calendar.ics",
            )),
    )
    .await?;
    Ok(())
}
