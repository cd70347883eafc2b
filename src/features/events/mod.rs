//! Events (product §9): a Discord scheduled event plus an RSVP card; members' answers with
//! capacity, an ordered waitlist and offers; reminders at each member's offsets; attendance
//! from voice presence during the event; following edits made in Discord; the report.
//!
//! The rules live in `domain::events`; this module loads, saves and queues posts. The Discord
//! calls that are not posts (creating the scheduled event) stay in the command.

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use serde_json::{json, Value};
use tracing::{info, warn};

use crate::config::Config;
use crate::db::{self, events::Event, outbox::NewPost, Pool};
use crate::domain::events::{
    self as rules, Choice, Notice, ReminderKind, ReminderWish, Roster, Status,
};
use crate::domain::settings::ChannelPurpose;
use crate::error::{OrUser, UserError};
use crate::features::{settings, surveys};
use crate::outbox::{self, posts, Action};

mod attendance;
mod feedback;
mod reminders;
mod report;
mod rsvp;
mod series;

pub use attendance::{attendees, check_in, mark_attended, voice_moved};
pub use feedback::{may_answer, may_rate, rating_wave, request_feedback};
pub use reminders::{run_reminders, set_reminders};
pub use report::{
    month_field, report, report_json, reports_between, stats, upcoming_reports, EventReport,
};
pub use rsvp::{answer, confirm, run_offers, set_capacity};
pub use series::{end_series, roll_series, toggle_series};

use reminders::reschedule_reminders;
use rsvp::attendee_role_post;

/// Custom id prefixes. Posts carry them, so they must never change.
/// `hearth:event:rsvp:{id}:{going|maybe|cant}`.
pub const RSVP: &str = "hearth:event:rsvp:";
/// `hearth:event:confirm:{id}`: take an offered spot.
pub const CONFIRM: &str = "hearth:event:confirm:";
/// `hearth:event:checkin:{id}`: attendance at an external event.
pub const CHECK_IN: &str = "hearth:event:checkin:";

/// `hearth:event:series:{series_id}`: Going to every occurrence of a series (a toggle).
pub const SERIES: &str = "hearth:event:series:";
/// `hearth:event:rate:{id}`: the feedback button of posts made before feedback moved onto the
/// survey engine (whose `hearth:survey:open:{wave}` newer posts carry).
pub const RATE: &str = "hearth:event:rate:";

/// Scheduler job kinds, each targeting an event id.
pub const REMINDER_JOB: &str = "event-reminders";
pub const OFFER_JOB: &str = "event-offers";
/// At the event's end: asks attendees for feedback.
pub const FEEDBACK_JOB: &str = "event-feedback";
/// Creates a series' next occurrences (target: the series id).
pub const SERIES_JOB: &str = "event-series";

/// A manager's `/event create`, as typed.
#[derive(Clone, Debug, Default)]
pub struct NewEvent<'a> {
    pub title: &'a str,
    /// "YYYY-MM-DD HH:MM" (server time) or "in 2h".
    pub start: &'a str,
    /// "90m", "2h"; default 1 hour.
    pub duration: Option<&'a str>,
    /// A voice or stage channel, or else an external `location`.
    pub voice_channel: Option<u64>,
    pub stage: bool,
    pub location: Option<&'a str>,
    pub capacity: Option<u32>,
    pub description: Option<&'a str>,
    /// How long before the start answers close ("2h").
    pub cutoff: Option<&'a str>,
    /// Only members with this role may answer.
    pub required_role: Option<u64>,
    /// Repeat on a schedule in the server's time zone (`weekly`, `thu 19:00`, `cron ...`).
    pub repeat: Option<&'a str>,
    /// Given to Going members until the event ends.
    pub attendee_role: Option<u64>,
}

/// Why Discord did not create the scheduled event: the whole error for the log, a short
/// reason for the manager.
#[derive(Clone, Debug)]
pub struct EventError {
    pub error: String,
    pub reason: String,
    /// Discord's JSON error code (30038: the guild has 100 events; 50013: a missing permission).
    pub code: Option<u64>,
    /// The HTTP status (429: rate limited).
    pub status: Option<u16>,
}

/// An event's length: between 1 minute and 7 days.
fn length_secs(text: &str) -> Result<i64, UserError> {
    let length = rules::parse_duration(text).map_err(|e| UserError(format!("duration: {e}")))?;
    if !(60..=7 * 86_400).contains(&length) {
        return Err(UserError(
            "duration: an event lasts between 1 minute and 7 days.".into(),
        ));
    }
    Ok(length)
}

/// The start and end of a Discord scheduled event (the part `/event edit` changes).
pub fn times_body(start_at: i64, end_at: i64) -> Value {
    let time = |v: i64| {
        DateTime::<Utc>::from_timestamp(v, 0)
            .unwrap_or_default()
            .to_rfc3339()
    };
    json!({ "scheduled_start_time": time(start_at), "scheduled_end_time": time(end_at) })
}

/// An event's new start and end from `/event edit`'s `start` and `duration` (each kept when
/// not given), read like `/event create`'s.
pub async fn new_times(
    pool: &Pool,
    config: &Config,
    event: &Event,
    start: Option<&str>,
    duration: Option<&str>,
    now: i64,
) -> anyhow::Result<(i64, i64)> {
    let timezone = settings::timezone(pool, config, event.guild()).await?;
    let start_at = match start {
        Some(text) => parse_start(text, timezone, now)?,
        None => event.start_at,
    };
    let length = match duration {
        Some(text) => length_secs(text)?,
        None => event.end_at - event.start_at,
    };
    Ok((start_at, start_at + length))
}

/// Reads an event start: a date and time in the server's time zone, or `in <duration>`.
pub fn parse_start(text: &str, timezone: Tz, now: i64) -> Result<i64, UserError> {
    let text = text.trim();
    let start = if let Some(after) = text.strip_prefix("in ") {
        now + rules::parse_duration(after).map_err(|e| UserError(format!("start: {e}")))?
    } else {
        let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").map_err(|_| {
            UserError(format!(
                "start: `{text}` is not a date and time like 2026-12-01 18:00 (server time, {}) or a delay like `in 2h`.",
                timezone.name()
            ))
        })?;
        crate::domain::schedule::resolve(local, timezone).timestamp()
    };
    if start <= now {
        return Err(UserError(
            "start: that time has passed; Discord events must start in the future.".into(),
        ));
    }
    Ok(start)
}

/// Stores a new event; refuses (as a [`UserError`]) without an events channel, with a start or
/// length that cannot be read, or with a cutoff after the start.
pub async fn create(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    created_by: u64,
    new: &NewEvent<'_>,
    now: i64,
) -> anyhow::Result<Event> {
    let settings = settings::resolve(pool, config, guild_id).await?;
    let card_channel = settings
        .channel(ChannelPurpose::Events)
        .or_user("There is no events channel: `/config channel purpose:events` sets one.")?;
    let start_at = parse_start(new.start, settings.timezone, now)?;
    let length = length_secs(new.duration.unwrap_or("1h"))?;
    let cutoff_at = match new.cutoff {
        Some(text) => Some(
            start_at
                - rules::parse_duration(text).map_err(|e| UserError(format!("cutoff: {e}")))?,
        ),
        None => None,
    };
    if new.capacity == Some(0) {
        return Err(UserError("capacity: at least 1 (leave it out for no limit).".into()).into());
    }
    let location = match (new.voice_channel, new.location) {
        (Some(_), _) => None,
        (None, Some(place)) if !place.trim().is_empty() => Some(place.trim()),
        (None, _) => Some("On Discord"),
    };
    let series_id = match new.repeat.map(str::trim).filter(|r| !r.is_empty()) {
        Some(repeat) => {
            let first_local = DateTime::<Utc>::from_timestamp(start_at, 0)
                .unwrap_or_default()
                .with_timezone(&settings.timezone)
                .naive_local();
            let schedule = rules::normalise_repeat(repeat, first_local)
                .map_err(|e| UserError(format!("repeat: {e}")))?;
            let series = db::events::Series {
                id: 0,
                guild_id: db::to_sql_id(guild_id),
                title: new.title.to_owned(),
                description: new.description.map(str::to_owned),
                length_secs: length,
                voice_channel_id: new.voice_channel.map(db::to_sql_id),
                stage: new.stage,
                location: location.map(str::to_owned),
                capacity: new.capacity.map(i64::from),
                cutoff_secs: cutoff_at.map(|c| start_at - c),
                required_role_id: new.required_role.map(db::to_sql_id),
                attendee_role_id: new.attendee_role.map(db::to_sql_id),
                card_channel_id: db::to_sql_id(card_channel),
                schedule,
                status: "active".into(),
                created_by: db::to_sql_id(created_by),
            };
            Some(db::events::create_series(pool, &series, now).await?)
        }
        None => None,
    };
    let id = db::events::create(
        pool,
        &db::events::NewEvent {
            guild_id,
            title: new.title,
            description: new.description,
            start_at,
            end_at: start_at + length,
            voice_channel: new.voice_channel,
            location,
            capacity: new.capacity,
            cutoff_at,
            required_role: new.required_role,
            attendee_role: new.attendee_role,
            card_channel,
            series_id,
            created_by,
        },
        now,
    )
    .await?;
    db::events::by_id(pool, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("event {id} vanished after its creation"))
}

/// The Discord scheduled event for a Hearth event: in its voice (or stage) channel, else
/// external at its location (Discord requires an end time for external events).
pub fn scheduled_event_body(event: &Event, stage: bool) -> Value {
    let mut body = times_body(event.start_at, event.end_at);
    body["name"] = json!(posts::truncate(&event.title, 100));
    body["privacy_level"] = json!(2);
    body["description"] = json!(posts::truncate(
        event.description.as_deref().unwrap_or_default(),
        1000
    ));
    match event.voice_channel() {
        Some(channel) => {
            body["entity_type"] = json!(if stage { 1 } else { 2 });
            body["channel_id"] = json!(channel.to_string());
        }
        None => {
            body["entity_type"] = json!(3);
            body["entity_metadata"] =
                json!({ "location": event.location.clone().unwrap_or_default() });
        }
    }
    body
}

/// The card's outbox key; its delivered message is also the event thread.
fn card_key(event_id: i64) -> String {
    format!("event:{event_id}:card")
}

/// After the scheduled event was (or was not) created: remembers it and queues the RSVP card
/// with its thread. Without the Discord event (a missing permission, the 100-event limit) the
/// Hearth event is cancelled, and the answer says why and what fixes it.
pub async fn announce(
    pool: &Pool,
    outbox: &outbox::Outbox,
    event: &Event,
    discord: Result<u64, EventError>,
    now: i64,
) -> anyhow::Result<String> {
    match discord {
        Ok(discord_id) => {
            db::events::set_discord_event(pool, event.id, discord_id).await?;
            db::jobs::upsert(
                pool,
                event.guild(),
                FEEDBACK_JOB,
                event.id,
                Some(event.end_at),
            )
            .await?;
        }
        Err(err) => {
            warn!(guild.id = event.guild(), error = %err.error, "could not create the event's Discord scheduled event");
            db::events::cancel(pool, event.id).await?;
            let fix = match (err.status, err.code) {
                (_, Some(30038)) => "The server has Discord's maximum of 100 scheduled events: end or delete some first.",
                (_, Some(50013 | 50001)) => "Give the bot **Create Events** (and View Channel and Connect in a voice channel); `/config doctor` lists what is missing.",
                (Some(429), _) => "Discord is rate limiting the bot right now: try again in a few seconds.",
                _ => "Try again in a moment; if it keeps failing, `/config doctor` checks the bot's permissions.",
            };
            return Err(UserError(format!(
                "Discord refused to create the event ({}). {fix}",
                err.reason
            ))
            .into());
        }
    }
    outbox.enqueue(card_post(event)).await?;
    if let Some(series) = event.series_id {
        // The next occurrences are created by the series job, starting now.
        db::jobs::upsert(pool, event.guild(), SERIES_JOB, series, Some(now)).await?;
    }
    Ok(format!(
        "Event #{} is created: <t:{}:F>. Its RSVP card is on its way to <#{}>.",
        event.id,
        event.start_at,
        db::from_sql_id(event.card_channel_id)
    ))
}

/// The RSVP card of an event, with its thread, as an outbox post.
fn card_post(event: &Event) -> NewPost {
    let place = match event.voice_channel() {
        Some(channel) => format!("<#{channel}>"),
        None => event.location.clone().unwrap_or_default(),
    };
    let rsvp_prefix = format!("{RSVP}{}:", event.id);
    let check_in = event
        .voice_channel()
        .is_none()
        .then(|| format!("{CHECK_IN}{}", event.id));
    let series = event.series_id.map(|s| format!("{SERIES}{s}"));
    let body = posts::event_card(&posts::EventCard {
        id: event.id,
        title: &event.title,
        start: event.start_at,
        end: event.end_at,
        place: &place,
        capacity: event.capacity(),
        description: event.description.as_deref(),
        role: event.required_role(),
        rsvp_prefix: &rsvp_prefix,
        check_in: check_in.as_deref(),
        series: series.as_deref(),
    });
    NewPost {
        guild_id: event.guild(),
        channel_id: db::from_sql_id(event.card_channel_id),
        kind: "event-card".into(),
        dedup_key: card_key(event.id),
        body: outbox::action_json(&Action::Message {
            body,
            thread: Some(posts::truncate(&event.title, 100)),
        }),
        not_before_ms: None,
    }
}

/// The event's thread (started on the card, so with the card's id), once the card is out.
async fn thread_of(pool: &Pool, event: &Event) -> anyhow::Result<Option<u64>> {
    if let Some(thread) = event.thread() {
        return Ok(Some(thread));
    }
    let delivered = db::outbox::delivered_message_id(pool, &card_key(event.id)).await?;
    if let Some(message) = delivered {
        db::events::set_card(pool, event.id, message).await?;
    }
    Ok(delivered)
}

/// A post to one member about an event: a DM when they asked for DMs (falling back to the
/// event thread when DMs are closed), else a mention in the event thread.
fn to_member(
    event: &Event,
    thread: Option<u64>,
    user: u64,
    dm: bool,
    kind: &str,
    key: String,
    body: Value,
) -> NewPost {
    let channel = thread.unwrap_or(db::from_sql_id(event.card_channel_id));
    let action = if dm {
        Action::DirectMessage {
            user_id: user,
            body,
            fallback_to_thread: false,
            fallback_channel: Some(channel),
        }
    } else {
        Action::Message { body, thread: None }
    };
    NewPost {
        guild_id: event.guild(),
        channel_id: channel,
        kind: kind.to_owned(),
        dedup_key: key,
        body: outbox::action_json(&action),
        not_before_ms: None,
    }
}

/// The guild's event `id`, in any state; a [`UserError`] when there is none.
pub async fn event(pool: &Pool, guild_id: u64, id: i64) -> anyhow::Result<Event> {
    db::events::get(pool, guild_id, id)
        .await?
        .or_user(format!("There is no event #{id} in this server."))
}

/// The guild's event `id` while it is scheduled; a [`UserError`] otherwise.
pub async fn scheduled_event(pool: &Pool, guild_id: u64, id: i64) -> anyhow::Result<Event> {
    let event = event(pool, guild_id, id).await?;
    if !event.is_scheduled() {
        return Err(UserError(format!("Event #{id} is {}.", event.status)).into());
    }
    Ok(event)
}

/// Going (and offered) members, to tell them of a change.
fn going_members(rows: &[db::events::RsvpRow]) -> Vec<u64> {
    rows.iter()
        .filter(|r| matches!(r.rsvp().status, Status::Going | Status::Offered))
        .map(db::events::RsvpRow::user)
        .collect()
}

/// Tells Going members of a change once (the key names the change), 50 mentions per post.
async fn announce_change(
    pool: &Pool,
    outbox: &outbox::Outbox,
    event: &Event,
    change: &str,
    text: &str,
) -> anyhow::Result<()> {
    let rows = db::events::rsvps(pool, event.id).await?;
    let thread = thread_of(pool, event).await?;
    let channel = thread.unwrap_or(db::from_sql_id(event.card_channel_id));
    for (i, users) in going_members(&rows).chunks(50).enumerate() {
        outbox
            .message(
                event.guild(),
                channel,
                "event-change",
                format!("event:{}:{change}:{i}", event.id),
                posts::event_announcement(users, text),
            )
            .await?;
    }
    Ok(())
}

/// A manager moves an event (or Discord tells us it was moved in its UI): reminders move with
/// it and Going members are told once per new time.
pub async fn moved(
    pool: &Pool,
    config: &Config,
    outbox: &outbox::Outbox,
    event: &Event,
    start_at: i64,
    end_at: i64,
    now: i64,
) -> anyhow::Result<bool> {
    if (event.start_at, event.end_at) == (start_at, end_at) || !event.is_scheduled() {
        return Ok(false);
    }
    db::events::set_times(pool, event.id, start_at, end_at).await?;
    db::jobs::upsert(pool, event.guild(), FEEDBACK_JOB, event.id, Some(end_at)).await?;
    let moved = Event {
        start_at,
        end_at,
        ..event.clone()
    };
    reschedule_reminders(pool, config, &moved, now).await?;
    if start_at != event.start_at {
        announce_change(
            pool,
            outbox,
            &moved,
            &format!("moved:{start_at}"),
            &format!("**{}** moved: it now starts <t:{start_at}:F> (<t:{start_at}:R>). Your reminders moved with it.", event.title),
        )
        .await?;
    }
    Ok(true)
}

/// The event is cancelled (by `/event cancel` or in Discord's UI): reminders stop and Going
/// members are told once.
pub async fn cancelled(
    pool: &Pool,
    outbox: &outbox::Outbox,
    event: &Event,
) -> anyhow::Result<bool> {
    if !db::events::cancel(pool, event.id).await? {
        return Ok(false);
    }
    db::jobs::delete(pool, REMINDER_JOB, event.id).await?;
    db::jobs::delete(pool, OFFER_JOB, event.id).await?;
    db::jobs::delete(pool, FEEDBACK_JOB, event.id).await?;
    let now_ms = crate::domain::clock::unix_now_ms();
    for row in db::events::rsvps(pool, event.id).await? {
        if row.rsvp().status == Status::Going {
            if let Some(post) = attendee_role_post(event, row.user(), false, now_ms) {
                outbox.enqueue(post).await?;
            }
        }
    }
    announce_change(
        pool,
        outbox,
        event,
        "cancelled",
        &format!(
            "**{}** (<t:{}:F>) is cancelled.",
            event.title, event.start_at
        ),
    )
    .await?;
    Ok(true)
}

/// A Discord scheduled event changed (GUILD_SCHEDULED_EVENT_UPDATE): follows a new time or a
/// cancellation made in Discord's UI.
#[allow(clippy::too_many_arguments)]
pub async fn discord_event_updated(
    pool: &Pool,
    config: &Config,
    outbox: &outbox::Outbox,
    discord_event_id: u64,
    start_at: Option<i64>,
    end_at: Option<i64>,
    status: u8,
    now: i64,
) -> anyhow::Result<()> {
    let Some(event) = db::events::by_discord_event(pool, discord_event_id).await? else {
        return Ok(());
    };
    // 4: CANCELED (a completed event, 3, keeps its figures).
    if status == 4 {
        cancelled(pool, outbox, &event).await?;
        return Ok(());
    }
    if let Some(start_at) = start_at {
        let end_at = end_at.unwrap_or(start_at + (event.end_at - event.start_at));
        moved(pool, config, outbox, &event, start_at, end_at, now).await?;
    }
    Ok(())
}

/// A Discord scheduled event was deleted in Discord: the Hearth event is cancelled.
pub async fn discord_event_deleted(
    pool: &Pool,
    outbox: &outbox::Outbox,
    discord_event_id: u64,
) -> anyhow::Result<()> {
    if let Some(event) = db::events::by_discord_event(pool, discord_event_id).await? {
        cancelled(pool, outbox, &event).await?;
    }
    Ok(())
}

/// A member clicked (or took back) "Interested" in Discord: a soft count, never Going.
pub async fn interested(pool: &Pool, discord_event_id: u64, delta: i64) -> anyhow::Result<()> {
    if let Some(event) = db::events::by_discord_event(pool, discord_event_id).await? {
        db::events::set_interested(pool, event.id, delta).await?;
    }
    Ok(())
}

/// `/event list`: the guild's coming events with their answers.
pub async fn list(pool: &Pool, guild_id: u64, now: i64) -> anyhow::Result<String> {
    let mut lines = Vec::new();
    for event in db::events::upcoming(pool, guild_id, now).await? {
        if !event.is_scheduled() {
            continue;
        }
        let rows = db::events::rsvps(pool, event.id).await?;
        let count = |s: Status| rows.iter().filter(|r| r.rsvp().status == s).count();
        let spots = event
            .capacity()
            .map_or_else(String::new, |c| format!("/{c}"));
        lines.push(format!(
            "**#{}** {} · <t:{}:F> · Going {}{spots} · Maybe {} · Waitlist {}",
            event.id,
            event.title,
            event.start_at,
            count(Status::Going),
            count(Status::Maybe),
            count(Status::Waitlisted) + count(Status::Offered),
        ));
    }
    Ok(if lines.is_empty() {
        "No events coming up. `/event create` schedules one.".to_owned()
    } else {
        posts::truncate(&lines.join("\n"), posts::MESSAGE_LIMIT)
    })
}

/// Parses a button's custom id after [`RSVP`]: the event id and the answer.
pub fn parse_rsvp(rest: &str) -> Option<(i64, Choice)> {
    let (id, choice) = rest.split_once(':')?;
    Some((id.parse().ok()?, Choice::parse(choice)?))
}
