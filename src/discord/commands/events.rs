//! Events (product §9): `/event create|edit|cancel|list|report|remind|attendance`, and the RSVP
//! card's buttons (Going / Maybe / Can't go, the waitlist's confirm, check-in). Buttons are
//! handled from their custom ids, so they keep working after a restart.

use poise::serenity_prelude::{self as serenity, ComponentInteraction};

use crate::db;
use crate::discord::checks::guild_id;
use crate::discord::components::{ephemeral, id_after};
use crate::discord::errors::short_reason;
use crate::discord::{checks, Command, Context, Data, Error};
use crate::domain::clock::{unix_now, unix_now_ms};
use crate::error::UserError;
use crate::features::events::{self as feature, CHECK_IN, CONFIRM, RATE, RSVP, SERIES};
use crate::features::surveys;

pub fn commands() -> Vec<Command> {
    vec![event()]
}

/// Events with RSVPs, reminders and attendance
#[poise::command(
    slash_command,
    guild_only,
    subcommands("create", "edit", "cancel", "list", "report", "remind", "attendance"),
    subcommand_required
)]
pub async fn event(_: Context<'_>) -> Result<(), Error> {
    Ok(())
}

/// Schedule an event: a Discord event and an RSVP card in the events channel
#[allow(clippy::too_many_arguments)]
#[poise::command(slash_command, ephemeral, check = "checks::manager")]
async fn create(
    ctx: Context<'_>,
    #[description = "Title"]
    #[max_length = 100]
    title: String,
    #[description = "Start, server time: YYYY-MM-DD HH:MM, or a delay like `in 2h`"] start: String,
    #[description = "Length, like 90m or 2h (default 1h)"] duration: Option<String>,
    #[description = "Voice or stage channel it takes place in"]
    #[channel_types("Voice", "Stage")]
    channel: Option<serenity::GuildChannel>,
    #[description = "Where it takes place, if not in a voice channel"]
    #[max_length = 100]
    location: Option<String>,
    #[description = "Spots for Going (default: no limit)"]
    #[min = 1]
    capacity: Option<u32>,
    #[description = "What it is about"]
    #[max_length = 1000]
    description: Option<String>,
    #[description = "Close RSVPs this long before the start, like 2h"] cutoff: Option<String>,
    #[description = "Only members with this role may answer"] role: Option<serenity::Role>,
    #[description = "Repeat, server time: weekly, `thu 19:00`, `mon,wed 18:30` or `cron 0 19 * * 5`"]
    repeat: Option<String>,
    #[description = "A role Going members get until the event ends"] attendee_role: Option<
        serenity::Role,
    >,
) -> Result<(), Error> {
    let guild_id = guild_id(ctx)?;
    let data = ctx.data();
    let stage = channel
        .as_ref()
        .is_some_and(|c| c.kind == serenity::ChannelType::Stage);
    let new = feature::NewEvent {
        title: &title,
        start: &start,
        duration: duration.as_deref(),
        voice_channel: channel.as_ref().map(|c| c.id.get()),
        stage,
        location: location.as_deref(),
        capacity,
        description: description.as_deref(),
        cutoff: cutoff.as_deref(),
        required_role: role.as_ref().map(|r| r.id.get()),
        repeat: repeat.as_deref(),
        attendee_role: attendee_role.as_ref().map(|r| r.id.get()),
    };
    let event = feature::create(
        &data.pool,
        &data.config,
        guild_id,
        ctx.author().id.get(),
        &new,
        unix_now(),
    )
    .await?;
    let discord = ctx
        .http()
        .create_scheduled_event(
            guild_id.into(),
            &feature::scheduled_event_body(&event, stage),
            Some("Event created with /event create"),
        )
        .await
        .map(|e| e.id.get())
        .map_err(|err| feature::EventError {
            code: match &err {
                serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(r)) => {
                    u64::try_from(r.error.code).ok()
                }
                _ => None,
            },
            status: match &err {
                serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(r)) => {
                    Some(r.status_code.as_u16())
                }
                _ => None,
            },
            error: err.to_string(),
            reason: short_reason(&err),
        });
    let reply = feature::announce(&data.pool, &data.outbox, &event, discord, unix_now()).await?;
    // A series' next occurrences are created by its job.
    data.scheduler.wake();
    ctx.say(reply).await?;
    Ok(())
}

/// Move an event or change its capacity
#[poise::command(slash_command, ephemeral, check = "checks::manager")]
async fn edit(
    ctx: Context<'_>,
    #[description = "Event number"] id: i64,
    #[description = "New start, server time: YYYY-MM-DD HH:MM, or `in 2h`"] start: Option<String>,
    #[description = "New length, like 90m"] duration: Option<String>,
    #[description = "New capacity (raising it promotes the waitlist in order)"]
    #[min = 1]
    capacity: Option<u32>,
) -> Result<(), Error> {
    let guild_id = guild_id(ctx)?;
    let data = ctx.data();
    let event = feature::scheduled_event(&data.pool, guild_id, id).await?;
    let mut done = Vec::new();
    if let Some(capacity) = capacity {
        let promoted = feature::set_capacity(
            &data.pool,
            &data.config,
            &data.outbox,
            guild_id,
            id,
            Some(capacity),
            unix_now_ms(),
        )
        .await?;
        done.push(format!(
            "Capacity is {capacity}; {promoted} member(s) moved from the waitlist."
        ));
    }
    if start.is_some() || duration.is_some() {
        let (start_at, end_at) = feature::new_times(
            &data.pool,
            &data.config,
            &event,
            start.as_deref(),
            duration.as_deref(),
            unix_now(),
        )
        .await?;
        if let Some(discord_id) = event.discord_event_id {
            ctx.http()
                .edit_scheduled_event(
                    guild_id.into(),
                    db::from_sql_id(discord_id).into(),
                    &feature::times_body(start_at, end_at),
                    Some("Event moved with /event edit"),
                )
                .await
                .map_err(|err| {
                    UserError(format!(
                        "Discord refused to move the event ({}).",
                        short_reason(&err)
                    ))
                })?;
        }
        feature::moved(
            &data.pool,
            &data.config,
            &data.outbox,
            &event,
            start_at,
            end_at,
            unix_now(),
        )
        .await?;
        done.push(format!(
            "It now starts <t:{start_at}:F>; reminders moved and Going members are told."
        ));
    }
    if done.is_empty() {
        return Err(
            UserError("Nothing to change: give a start, a length or a capacity.".into()).into(),
        );
    }
    data.scheduler.wake();
    ctx.say(done.join("\n")).await?;
    Ok(())
}

/// Cancel an event (or its whole series): Going members are told, reminders stop
#[poise::command(slash_command, ephemeral, check = "checks::manager")]
async fn cancel(
    ctx: Context<'_>,
    #[description = "Event number"] id: i64,
    #[description = "End the whole series this event belongs to (coming occurrences too)"]
    series: Option<bool>,
) -> Result<(), Error> {
    let guild_id = guild_id(ctx)?;
    let data = ctx.data();
    let event = feature::event(&data.pool, guild_id, id).await?;
    let cancelled = match (series.unwrap_or(false), event.series_id) {
        (true, Some(series_id)) => {
            feature::end_series(&data.pool, &data.outbox, guild_id, series_id, unix_now()).await?
        }
        (true, None) => {
            return Err(UserError(format!("Event #{id} is not part of a series.")).into())
        }
        (false, _) => {
            if !feature::cancelled(&data.pool, &data.outbox, &event).await? {
                return Err(UserError(format!("Event #{id} is already {}.", event.status)).into());
            }
            vec![event]
        }
    };
    // Hearth's own records are cancelled either way; a failure here only leaves Discord's.
    let mut left = Vec::new();
    for event in &cancelled {
        if let Some(discord_id) = event.discord_event_id {
            if let Err(err) = ctx
                .http()
                .delete_scheduled_event(guild_id.into(), db::from_sql_id(discord_id).into())
                .await
            {
                left.push(format!("#{} ({})", event.id, short_reason(&err)));
            }
        }
    }
    let done = match cancelled.len() {
        1 => format!(
            "Event #{} is cancelled; Going members are told.",
            cancelled[0].id
        ),
        n => {
            format!("The series is ended; {n} coming occurrence(s) cancelled, Going members told.")
        }
    };
    if left.is_empty() {
        ctx.say(done).await?;
    } else {
        ctx.say(format!(
            "{done} Discord's events could not be deleted for {}.",
            left.join(", ")
        ))
        .await?;
    }
    data.scheduler.wake();
    Ok(())
}

/// Coming events with their RSVPs
#[poise::command(slash_command, ephemeral)]
async fn list(ctx: Context<'_>) -> Result<(), Error> {
    let text = feature::list(&ctx.data().pool, guild_id(ctx)?, unix_now()).await?;
    ctx.say(text).await?;
    Ok(())
}

/// An event's RSVPs, attendance, show-up rate, no-shows and walk-ins (managers)
#[poise::command(slash_command, ephemeral, check = "checks::manager")]
async fn report(ctx: Context<'_>, #[description = "Event number"] id: i64) -> Result<(), Error> {
    let data = ctx.data();
    let report = feature::report(&data.pool, &data.config, guild_id(ctx)?, id, unix_now()).await?;
    ctx.say(report.text()).await?;
    Ok(())
}

/// Choose when you are reminded of an event you answered
#[poise::command(slash_command, ephemeral)]
async fn remind(
    ctx: Context<'_>,
    #[description = "Event number"] id: i64,
    #[description = "Before the start, like `24h, 1h`, or `none`"] reminders: String,
    #[description = "By DM instead of a mention in the event thread"] dm: Option<bool>,
) -> Result<(), Error> {
    let data = ctx.data();
    let text = feature::set_reminders(
        &data.pool,
        &data.config,
        guild_id(ctx)?,
        id,
        ctx.author().id.get(),
        &reminders,
        dm.unwrap_or(false),
        unix_now(),
    )
    .await?;
    data.scheduler.wake();
    ctx.say(text).await?;
    Ok(())
}

/// Mark a member as having attended (host or managers)
#[poise::command(slash_command, ephemeral)]
async fn attendance(
    ctx: Context<'_>,
    #[description = "Event number"] id: i64,
    #[description = "Who was there"] member: serenity::User,
) -> Result<(), Error> {
    let guild_id = guild_id(ctx)?;
    let data = ctx.data();
    let event = feature::event(&data.pool, guild_id, id).await?;
    if db::from_sql_id(event.created_by) != ctx.author().id.get() {
        checks::manager(ctx).await?;
    }
    let text = feature::mark_attended(&data.pool, guild_id, id, member.id.get()).await?;
    ctx.say(text).await?;
    Ok(())
}

/// The RSVP card's buttons.
pub async fn on_button(
    ctx: &serenity::Context,
    data: &Data,
    interaction: &ComponentInteraction,
) -> Result<bool, Error> {
    let custom_id = interaction.data.custom_id.as_str();
    let Some(guild_id) = interaction.guild_id.map(|g| g.get()) else {
        return Ok(false);
    };
    let user = interaction.user.id.get();
    let roles: Vec<u64> = interaction
        .member
        .as_ref()
        .map(|m| m.roles.iter().map(|r| r.get()).collect())
        .unwrap_or_default();
    let answer = if let Some(rest) = custom_id.strip_prefix(RSVP) {
        let Some((id, choice)) = feature::parse_rsvp(rest) else {
            return Ok(false);
        };
        feature::answer(
            &data.pool,
            &data.config,
            &data.outbox,
            guild_id,
            id,
            user,
            &roles,
            choice,
            unix_now_ms(),
        )
        .await
    } else if let Some(id) = id_after(custom_id, CONFIRM) {
        feature::confirm(
            &data.pool,
            &data.config,
            &data.outbox,
            guild_id,
            id,
            user,
            unix_now_ms(),
        )
        .await
    } else if let Some(id) = id_after(custom_id, CHECK_IN) {
        feature::check_in(&data.pool, guild_id, id, user, unix_now()).await
    } else if let Some(series) = id_after(custom_id, SERIES) {
        feature::toggle_series(
            &data.pool,
            &data.config,
            &data.outbox,
            guild_id,
            series,
            user,
            &roles,
            unix_now_ms(),
        )
        .await
    } else if let Some(id) = id_after(custom_id, RATE) {
        let wave =
            feature::rating_wave(&data.pool, &data.config, guild_id, id, user, unix_now()).await;
        match wave {
            Ok(wave) => {
                super::surveys::answer_menus(ctx, interaction, wave, &surveys::event_questions())
                    .await?;
                return Ok(true);
            }
            Err(err) => Err(err),
        }
    } else {
        return Ok(false);
    };
    // Answers move the event's offer and reminder jobs.
    data.scheduler.wake();
    let text = match answer {
        Ok(text) => text,
        Err(err) => match err.downcast::<UserError>() {
            Ok(user_error) => user_error.0,
            Err(other) => return Err(other),
        },
    };
    ephemeral(ctx, interaction, &text).await?;
    Ok(true)
}
