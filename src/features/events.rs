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
use crate::features::settings;
use crate::outbox::{self, posts, Action};

/// Custom id prefixes. Posts carry them, so they must never change.
/// `hearth:event:rsvp:{id}:{going|maybe|cant}`.
pub const RSVP: &str = "hearth:event:rsvp:";
/// `hearth:event:confirm:{id}`: take an offered spot.
pub const CONFIRM: &str = "hearth:event:confirm:";
/// `hearth:event:checkin:{id}`: attendance at an external event.
pub const CHECK_IN: &str = "hearth:event:checkin:";

/// `hearth:event:series:{series_id}`: Going to every occurrence of a series (a toggle).
pub const SERIES: &str = "hearth:event:series:";
/// `hearth:event:rate:{id}`: opens the feedback form (attendees only).
pub const RATE: &str = "hearth:event:rate:";
/// `hearth:event:feedback:{id}`: the feedback form's submission.
pub const FEEDBACK: &str = "hearth:event:feedback:";

/// Scheduler job kinds, each targeting an event id.
pub const REMINDER_JOB: &str = "event-reminders";
pub const OFFER_JOB: &str = "event-offers";
/// At the event's end: asks attendees for feedback.
pub const FEEDBACK_JOB: &str = "event-feedback";
/// Creates a series' next occurrences (target: the series id).
pub const SERIES_JOB: &str = "event-series";

/// How many occurrences of a series exist ahead of time, each its own Discord event.
const OCCURRENCES_AHEAD: usize = 3;

/// Feedback closes this long after the event's end.
const FEEDBACK_WINDOW_SECS: i64 = 72 * 3600;

/// Voice presence is recorded from this long before the start (members gather early) and
/// counted only inside the event's window.
const PRESENCE_LEAD_SECS: i64 = 15 * 60;

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
    /// Discord's JSON error code (30038: the guild has 100 events).
    pub code: Option<u64>,
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
    let length = match new.duration {
        Some(text) => {
            rules::parse_duration(text).map_err(|e| UserError(format!("duration: {e}")))?
        }
        None => 3600,
    };
    if !(60..=7 * 86_400).contains(&length) {
        return Err(
            UserError("duration: an event lasts between 1 minute and 7 days.".into()).into(),
        );
    }
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
    let times = |v: i64| {
        DateTime::<Utc>::from_timestamp(v, 0)
            .unwrap_or_default()
            .to_rfc3339()
    };
    let mut body = json!({
        "name": posts::truncate(&event.title, 100),
        "privacy_level": 2,
        "scheduled_start_time": times(event.start_at),
        "scheduled_end_time": times(event.end_at),
        "description": posts::truncate(event.description.as_deref().unwrap_or_default(), 1000),
    });
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
            let fix = if err.code == Some(30038) {
                "The server has Discord's maximum of 100 scheduled events: end or delete some first."
            } else {
                "Give the bot **Create Events** (and View Channel and Connect in a voice channel); `/config doctor` lists what is missing."
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

/// The roster of an event with `rsvps`.
fn roster(event: &Event, config: &Config, rsvps: Vec<rules::Rsvp>) -> Roster {
    Roster {
        capacity: event.capacity(),
        start_at: event.start_at,
        cutoff_at: event.cutoff_at,
        offer_window_secs: config.events.offer_window_secs,
        rsvps,
    }
}

/// The event's roster as stored.
async fn roster_of(pool: &Pool, config: &Config, event: &Event) -> anyhow::Result<Roster> {
    let rows = db::events::rsvps(pool, event.id).await?;
    Ok(roster(
        event,
        config,
        rows.iter().map(db::events::RsvpRow::rsvp).collect(),
    ))
}

fn offsets_text(offsets: &[i64]) -> String {
    offsets
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Loads the event's roster, applies `change` (a refusal becomes the member's answer) and
/// commits the result: the roster after the change and who is to be told what.
async fn change_roster(
    pool: &Pool,
    config: &Config,
    outbox: &outbox::Outbox,
    event: &Event,
    actor: Option<u64>,
    now_ms: i64,
    change: impl FnOnce(&mut Roster) -> Result<Vec<Notice>, rules::Refusal>,
) -> anyhow::Result<(Roster, Vec<Notice>)> {
    let before = roster_of(pool, config, event).await?;
    let mut after = before.clone();
    let notices = change(&mut after).map_err(|refusal| UserError(refusal.to_string()))?;
    let now = now_ms.div_euclid(1000);
    commit(
        pool, config, outbox, event, &before, &after, &notices, actor, now,
    )
    .await?;
    Ok((after, notices))
}

/// Saves what changed in the roster, queues the notices to other members, and moves the
/// event's offer and reminder jobs: one transaction, so a crash leaves all of it or none.
#[allow(clippy::too_many_arguments)]
async fn commit(
    pool: &Pool,
    config: &Config,
    outbox: &outbox::Outbox,
    event: &Event,
    before: &Roster,
    after: &Roster,
    notices: &[Notice],
    actor: Option<u64>,
    now: i64,
) -> anyhow::Result<()> {
    let thread = thread_of(pool, event).await?;
    let dm_of: std::collections::HashMap<u64, bool> = db::events::rsvps(pool, event.id)
        .await?
        .iter()
        .map(|r| (r.user(), r.dm))
        .collect();
    let defaults = offsets_text(&config.events.default_offsets());
    let mut tx = pool.begin().await?;
    for rsvp in after.changed_since(before) {
        db::events::save_rsvp(&mut *tx, event.id, rsvp, &defaults).await?;
        let was_going = before.status_of(rsvp.user) == Some(Status::Going);
        let is_going = rsvp.status == Status::Going;
        if was_going != is_going {
            if let Some(post) = attendee_role_post(event, rsvp.user, is_going, rsvp.queued_ms) {
                outbox::enqueue_in(&mut *tx, &post).await?;
            }
        }
    }
    for notice in notices {
        let (user, kind, body) = match notice {
            Notice::Offered { user, expires_at } => (
                *user,
                "event-offer",
                posts::event_offer(&event.title, *user, *expires_at, &format!("{CONFIRM}{}", event.id)),
            ),
            Notice::OfferExpired { user } => (
                *user,
                "event-notice",
                posts::event_notice(*user, &format!("the spot held for you at **{}** went to the next member: you did not confirm in time. You are marked as Maybe.", event.title)),
            ),
            Notice::Promoted { user } => (
                *user,
                "event-notice",
                posts::event_notice(*user, &format!("more spots opened for **{}**: you are now Going (<t:{}:F>).", event.title, event.start_at)),
            ),
            // The member who clicked is answered in the interaction itself.
            Notice::Going { user } | Notice::Waitlisted { user, .. } if Some(*user) == actor => continue,
            Notice::Going { user } | Notice::Waitlisted { user, .. } => (
                *user,
                "event-notice",
                posts::event_notice(*user, &format!("your RSVP for **{}** changed.", event.title)),
            ),
        };
        let key = format!("event:{}:{kind}:{user}:{now}", event.id);
        let post = to_member(
            event,
            thread,
            user,
            dm_of.get(&user).copied().unwrap_or(false),
            kind,
            key,
            body,
        );
        outbox::enqueue_in(&mut *tx, &post).await?;
    }
    db::jobs::upsert(
        &mut *tx,
        event.guild(),
        OFFER_JOB,
        event.id,
        after.next_offer_expiry(),
    )
    .await?;
    tx.commit().await?;
    reschedule_reminders(pool, config, event, now).await?;
    outbox.wake();
    Ok(())
}

/// Gives (or takes back) the event's temporary attendee role, if it has one; keyed by the
/// change's time so a member who leaves and comes back gets it again.
fn attendee_role_post(event: &Event, user: u64, add: bool, at_ms: i64) -> Option<NewPost> {
    let role_id = event.attendee_role()?;
    Some(NewPost {
        guild_id: event.guild(),
        channel_id: db::from_sql_id(event.card_channel_id),
        kind: "event-role".into(),
        dedup_key: format!(
            "event:{}:role:{user}:{}:{at_ms}",
            event.id,
            if add { "add" } else { "remove" }
        ),
        body: outbox::action_json(&Action::MemberRole {
            user_id: user,
            role_id,
            add,
        }),
        not_before_ms: None,
    })
}

/// A member's click on Going, Maybe or Can't go; returns the ephemeral answer.
#[allow(clippy::too_many_arguments)]
pub async fn answer(
    pool: &Pool,
    config: &Config,
    outbox: &outbox::Outbox,
    guild_id: u64,
    event_id: i64,
    user: u64,
    roles: &[u64],
    choice: Choice,
    now_ms: i64,
) -> anyhow::Result<String> {
    let event = scheduled_event(pool, guild_id, event_id).await?;
    if let Some(role) = event.required_role() {
        if !roles.contains(&role) && choice != Choice::Cant {
            return Err(UserError(format!(
                "**{}** is for members with the <@&{role}> role.",
                event.title
            ))
            .into());
        }
    }
    let rows = db::events::rsvps(pool, event.id).await?;
    let (after, _) = change_roster(pool, config, outbox, &event, Some(user), now_ms, |r| {
        r.answer(user, choice, now_ms)
    })
    .await?;
    let offsets = rows.iter().find(|r| r.user() == user).map_or_else(
        || config.events.default_offsets(),
        db::events::RsvpRow::offsets_secs,
    );
    let reminders = rules::format_offsets(&offsets);
    Ok(match after.status_of(user) {
        Some(Status::Going) => format!(
            "You're going to **{}** (<t:{}:F>). Reminders: {reminders} before; change them with `/event remind`.",
            event.title, event.start_at
        ),
        Some(Status::Waitlisted) => {
            let position = after.waitlist().iter().position(|u| *u == user).map_or(0, |p| p + 1);
            format!(
                "**{}** is full: you are #{position} on the waitlist. If a spot opens, it is offered to you in the event thread.",
                event.title
            )
        }
        Some(Status::Offered) => "A spot is held for you: confirm it with the button in the event thread.".into(),
        Some(Status::Maybe) => format!(
            "Marked as maybe for **{}**: you will get one reminder asking whether you are still coming.",
            event.title
        ),
        _ => format!("Marked as can't go for **{}**: no reminders.", event.title),
    })
}

/// The member takes the spot offered to them.
pub async fn confirm(
    pool: &Pool,
    config: &Config,
    outbox: &outbox::Outbox,
    guild_id: u64,
    event_id: i64,
    user: u64,
    now_ms: i64,
) -> anyhow::Result<String> {
    let event = scheduled_event(pool, guild_id, event_id).await?;
    change_roster(pool, config, outbox, &event, Some(user), now_ms, |r| {
        r.confirm(user, now_ms)
    })
    .await?;
    Ok(format!(
        "The spot is yours: you're going to **{}** (<t:{}:F>).",
        event.title, event.start_at
    ))
}

/// A member's reminder choice for one event (`/event remind`).
#[allow(clippy::too_many_arguments)]
pub async fn set_reminders(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    event_id: i64,
    user: u64,
    offsets: &str,
    dm: bool,
    now: i64,
) -> anyhow::Result<String> {
    let event = scheduled_event(pool, guild_id, event_id).await?;
    let offsets =
        rules::parse_offsets(offsets).map_err(|e| UserError(format!("reminders: {e}")))?;
    if !db::events::set_reminders(pool, event.id, user, &offsets_text(&offsets), dm).await? {
        return Err(UserError(format!(
            "Answer event #{event_id} first (Going or Maybe on its card), then choose your reminders."
        ))
        .into());
    }
    reschedule_reminders(pool, config, &event, now).await?;
    let place = if dm {
        "by DM (in the event thread if your DMs are closed)"
    } else {
        "in the event thread"
    };
    Ok(format!(
        "Reminders for **{}**: {} before, {place}.",
        event.title,
        rules::format_offsets(&offsets)
    ))
}

/// The event's reminders by due time, from the RSVPs as they are now.
async fn plan_of(
    pool: &Pool,
    event: &Event,
) -> anyhow::Result<(
    std::collections::BTreeMap<i64, Vec<(u64, ReminderKind)>>,
    Vec<db::events::RsvpRow>,
)> {
    let rows = db::events::rsvps(pool, event.id).await?;
    let wishes: Vec<ReminderWish> = rows
        .iter()
        .map(|r| ReminderWish {
            user: r.user(),
            status: r.rsvp().status,
            offsets_secs: r.offsets_secs(),
        })
        .collect();
    Ok((rules::reminder_plan(event.start_at, &wishes), rows))
}

/// Points the event's reminder job at its next due time from `now` (one wake-up per due
/// time, whatever the number of members).
async fn reschedule_reminders(
    pool: &Pool,
    _config: &Config,
    event: &Event,
    now: i64,
) -> anyhow::Result<()> {
    let (plan, _) = plan_of(pool, event).await?;
    let next = event
        .is_scheduled()
        .then(|| rules::next_reminder_after(&plan, now - 1))
        .flatten();
    db::jobs::upsert(pool, event.guild(), REMINDER_JOB, event.id, next).await?;
    Ok(())
}

/// Runs one due reminder time of an event: queues each member's reminder (keyed by member and
/// due time, so none is sent twice) unless the time passed while the bot was down, and moves
/// the job on, all in one transaction. Returns whether anything was queued.
pub async fn run_reminders(
    pool: &Pool,
    config: &Config,
    job_id: i64,
    event_id: i64,
    due: i64,
    now: i64,
) -> anyhow::Result<(bool, Option<i64>)> {
    let Some(event) = db::events::by_id(pool, event_id).await? else {
        db::jobs::delete(pool, REMINDER_JOB, event_id).await?;
        return Ok((false, None));
    };
    let (plan, rows) = plan_of(pool, &event).await?;
    let next = event
        .is_scheduled()
        .then(|| rules::next_reminder_after(&plan, due))
        .flatten();
    let thread = thread_of(pool, &event).await?;
    let timely = rules::reminder_is_timely(due, now, config.events.reminder_grace_secs);
    let mut tx = pool.begin().await?;
    if !db::jobs::advance(&mut *tx, job_id, due, next).await? {
        return Ok((false, next));
    }
    let mut queued = false;
    if event.is_scheduled() && timely {
        for (user, kind) in plan.get(&due).into_iter().flatten() {
            let dm = rows
                .iter()
                .find(|r| r.user() == *user)
                .is_some_and(|r| r.dm);
            let text = match kind {
                ReminderKind::Reminder { .. } => format!(
                    "reminder: **{}** starts <t:{}:R> (<t:{}:F>).",
                    event.title, event.start_at, event.start_at
                ),
                ReminderKind::StillComing => format!(
                    "still coming to **{}** (<t:{}:R>)? Answer Going or Can't go on the event card.",
                    event.title, event.start_at
                ),
            };
            let key = format!("event:{}:remind:{user}:{due}", event.id);
            let post = to_member(
                &event,
                thread,
                *user,
                dm,
                "event-reminder",
                key,
                posts::event_notice(*user, &text),
            );
            queued |= outbox::enqueue_in(&mut *tx, &post).await?.is_some();
        }
    } else if !timely {
        info!(
            event.id = event.id,
            due,
            late_secs = now - due,
            "event reminders skipped: their time passed while Hearth was down"
        );
    }
    tx.commit().await?;
    Ok((queued, next))
}

/// Expires the offers of an event that ran out at `now` and offers the spots to the next in line.
pub async fn run_offers(
    pool: &Pool,
    config: &Config,
    outbox: &outbox::Outbox,
    event_id: i64,
    now: i64,
) -> anyhow::Result<bool> {
    let Some(event) = db::events::by_id(pool, event_id)
        .await?
        .filter(Event::is_scheduled)
    else {
        db::jobs::delete(pool, OFFER_JOB, event_id).await?;
        return Ok(false);
    };
    let (_, notices) = change_roster(pool, config, outbox, &event, None, now * 1000, |r| {
        Ok(r.expire_offers(now * 1000))
    })
    .await?;
    Ok(!notices.is_empty())
}

/// A manager's new capacity: raising it promotes the waitlist in order.
pub async fn set_capacity(
    pool: &Pool,
    config: &Config,
    outbox: &outbox::Outbox,
    guild_id: u64,
    event_id: i64,
    capacity: Option<u32>,
    now_ms: i64,
) -> anyhow::Result<usize> {
    let event = scheduled_event(pool, guild_id, event_id).await?;
    db::events::set_capacity(pool, event.id, capacity).await?;
    let (_, notices) = change_roster(pool, config, outbox, &event, None, now_ms, |r| {
        Ok(r.set_capacity(capacity, now_ms))
    })
    .await?;
    Ok(notices.len())
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

/// A member's voice state changed (VOICE_STATE_UPDATE, or the GUILD_CREATE snapshot with
/// `channel` set): their stays close, and a new one opens if the channel holds an event now.
/// Nothing is recorded outside events' windows.
pub async fn voice_moved(
    pool: &Pool,
    guild_id: u64,
    user: u64,
    channel: Option<u64>,
    now: i64,
) -> anyhow::Result<()> {
    db::events::leave(pool, guild_id, user, now).await?;
    if let Some(channel) = channel {
        for event in db::events::live_in_channel(pool, channel, now, PRESENCE_LEAD_SECS).await? {
            if event.guild() == guild_id {
                db::events::arrive(pool, event.id, user, now, "voice").await?;
            }
        }
    }
    Ok(())
}

/// A member checks in at an external event (during it, or up to 15 minutes before).
pub async fn check_in(
    pool: &Pool,
    guild_id: u64,
    event_id: i64,
    user: u64,
    now: i64,
) -> anyhow::Result<String> {
    let event = scheduled_event(pool, guild_id, event_id).await?;
    if now < event.start_at - PRESENCE_LEAD_SECS || now > event.end_at {
        return Err(UserError(format!(
            "Check-in opens 15 minutes before **{}** and closes at its end (<t:{}:F> to <t:{}:t>).",
            event.title, event.start_at, event.end_at
        ))
        .into());
    }
    db::events::arrive(pool, event.id, user, now.max(event.start_at), "checkin").await?;
    Ok(format!("Checked in at **{}**. Enjoy!", event.title))
}

/// The host marks a member as there (`/event attendance`).
pub async fn mark_attended(
    pool: &Pool,
    guild_id: u64,
    event_id: i64,
    user: u64,
) -> anyhow::Result<String> {
    let event = event(pool, guild_id, event_id).await?;
    db::events::arrive(pool, event.id, user, event.start_at, "host").await?;
    Ok(format!(
        "<@{user}> is marked as having attended **{}**.",
        event.title
    ))
}

/// Members who attended: voice presence over the threshold, check-ins and the host's marks.
pub async fn attendees(
    pool: &Pool,
    config: &Config,
    event: &Event,
    now: i64,
) -> anyhow::Result<Vec<u64>> {
    let stays = db::events::stays(pool, event.id).await?;
    let threshold = config
        .events
        .attendance()
        .threshold(event.start_at, event.end_at);
    let mut users: Vec<u64> = stays.iter().map(|s| db::from_sql_id(s.user_id)).collect();
    users.sort_unstable();
    users.dedup();
    Ok(users
        .into_iter()
        .filter(|&user| {
            let mine: Vec<&db::events::Stay> = stays
                .iter()
                .filter(|s| db::from_sql_id(s.user_id) == user)
                .collect();
            if mine.iter().any(|s| s.source != "voice") {
                return true;
            }
            let voice: Vec<(i64, Option<i64>)> =
                mine.iter().map(|s| (s.joined_at, s.left_at)).collect();
            rules::presence_secs(&voice, event.start_at, event.end_at, now) >= threshold
        })
        .collect())
}

/// An event's figures for `/event report` and `hearth report`.
#[derive(Clone, Debug)]
pub struct EventReport {
    pub event: Event,
    pub figures: rules::EventFigures,
    /// Attendees' ratings.
    pub feedback: Vec<db::events::Feedback>,
    /// Attendees with no stay at an earlier event of the server.
    pub first_timers: usize,
    /// Attendees who joined the server less than 30 days before the event.
    pub newcomers: usize,
}

pub async fn report_of(
    pool: &Pool,
    config: &Config,
    event: Event,
    now: i64,
) -> anyhow::Result<EventReport> {
    let rows = db::events::rsvps(pool, event.id).await?;
    let rsvps: Vec<rules::Rsvp> = rows.iter().map(db::events::RsvpRow::rsvp).collect();
    let attendees = attendees(pool, config, &event, now).await?;
    let earlier = db::events::earlier_attendees(pool, event.guild(), event.start_at).await?;
    let recent =
        db::events::joined_since(pool, event.guild(), event.start_at - 30 * 86_400).await?;
    Ok(EventReport {
        figures: rules::figures(&rsvps, &attendees),
        feedback: db::events::feedback(pool, event.id).await?,
        first_timers: attendees.iter().filter(|u| !earlier.contains(u)).count(),
        newcomers: attendees.iter().filter(|u| recent.contains(u)).count(),
        event,
    })
}

pub async fn report(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    event_id: i64,
    now: i64,
) -> anyhow::Result<EventReport> {
    let event = event(pool, guild_id, event_id).await?;
    report_of(pool, config, event, now).await
}

/// Every event of a guild that started in `[from, to)`, with its figures.
pub async fn reports_between(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    from: i64,
    to: i64,
    now: i64,
) -> anyhow::Result<Vec<EventReport>> {
    let mut reports = Vec::new();
    for event in db::events::started_between(pool, guild_id, from, to).await? {
        if event.status == "cancelled" {
            continue;
        }
        reports.push(report_of(pool, config, event, now).await?);
    }
    Ok(reports)
}

impl EventReport {
    /// The entry of `hearth report`'s `events` array.
    pub fn json(&self) -> Value {
        let f = &self.figures;
        json!({
            "id": self.event.id,
            "title": self.event.title,
            "start": DateTime::<Utc>::from_timestamp(self.event.start_at, 0).map(|t| t.to_rfc3339()),
            "going": f.going,
            "maybe": f.maybe,
            "cant": f.cant,
            "attended": f.attended,
            "no_shows": f.no_shows,
            "walk_ins": f.walk_ins,
            "score": self.average_score().map(|s| (s * 100.0).round() / 100.0),
            "responses": self.feedback.len(),
        })
    }

    /// The attendees' average rating (1-5).
    pub fn average_score(&self) -> Option<f64> {
        #[allow(clippy::cast_precision_loss)]
        (!self.feedback.is_empty()).then(|| {
            self.feedback.iter().map(|f| f.score).sum::<i64>() as f64 / self.feedback.len() as f64
        })
    }

    /// Ratings and comments: an anonymous one never names its author, to anyone.
    fn feedback_text(&self) -> String {
        let responses = self.feedback.len();
        if responses == 0 {
            return "\nNo feedback yet.".to_owned();
        }
        let rate = if self.figures.attended > 0 {
            #[allow(clippy::cast_precision_loss)]
            let r = responses as f64 / self.figures.attended as f64;
            format!("{:.0}%", r * 100.0)
        } else {
            "n/a".to_owned()
        };
        let comments: Vec<String> = self
            .feedback
            .iter()
            .filter_map(|f| {
                let comment = f.comment.as_deref().filter(|c| !c.trim().is_empty())?;
                let who = if f.anonymous {
                    "anonymous".to_owned()
                } else {
                    format!("<@{}>", db::from_sql_id(f.user_id))
                };
                Some(format!(
                    "> {} ({}/5, {who})",
                    comment.replace('\n', " "),
                    f.score
                ))
            })
            .collect();
        format!(
            "\nFeedback: average {:.1}/5 from {responses} response(s) · response rate {rate}{}{}",
            self.average_score().unwrap_or(0.0),
            if comments.is_empty() { "" } else { "\n" },
            comments.join("\n")
        )
    }

    /// The text of `/event report`.
    pub fn text(&self) -> String {
        let f = &self.figures;
        let e = &self.event;
        let rate = f.show_up_rate.map_or_else(
            || "n/a (nobody was Going)".to_owned(),
            |r| format!("{:.0}%", r * 100.0),
        );
        format!(
            "**Event #{}: {}** · <t:{}:F> · {}\nGoing {} · Maybe {} · Can't go {} · Waitlist {} · Interested in Discord {}\nAttended {} · show-up rate {rate} · no-shows {} · walk-ins {} · first-time attendees {} · newcomers (joined < 30 days) {}",
            e.id, e.title, e.start_at, e.status, f.going, f.maybe, f.cant, f.waitlist, e.interested, f.attended, f.no_shows, f.walk_ins, self.first_timers, self.newcomers
        ) + &self.feedback_text()
    }
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

/// `hearth report`'s `events` array: the events that started on the report's days (in the
/// server's time zone), with their figures.
pub async fn report_json(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    timezone: Tz,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    now: i64,
) -> anyhow::Result<Value> {
    let midnight = |day: chrono::NaiveDate| {
        crate::domain::schedule::resolve(day.and_time(chrono::NaiveTime::MIN), timezone).timestamp()
    };
    let (start, end) = (midnight(from), midnight(to + chrono::Duration::days(1)));
    let reports = reports_between(pool, config, guild_id, start, end, now).await?;
    Ok(Value::Array(
        reports.iter().map(EventReport::json).collect(),
    ))
}

/// `/stats events [days]`: each event that started in the last `days` with its figures, and
/// the retention of newcomers who attended an event in their first 30 days against those of
/// the same join weeks who did not (over the last year of joins).
pub async fn stats(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    days: i64,
    now: i64,
) -> anyhow::Result<String> {
    let tz = settings::timezone(pool, config, guild_id).await?;
    let recent = reports_between(pool, config, guild_id, now - days * 86_400, now + 1, now).await?;
    let mut lines = vec![format!("**Events, last {days} days**")];
    if recent.is_empty() {
        lines.push("No events in this period.".into());
    }
    for report in &recent {
        let f = &report.figures;
        let rate = f
            .show_up_rate
            .map_or_else(|| "n/a".to_owned(), |r| format!("{:.0}%", r * 100.0));
        lines.push(format!(
            "#{} {} · <t:{}:d> · Going {} · attended {} · show-up {rate} · no-shows {} · walk-ins {}",
            report.event.id, report.event.title, report.event.start_at, f.going, f.attended, f.no_shows, f.walk_ins
        ));
    }
    let mut series: std::collections::BTreeMap<i64, Vec<&EventReport>> =
        std::collections::BTreeMap::new();
    for report in &recent {
        if let Some(id) = report.event.series_id {
            series.entry(id).or_default().push(report);
        }
    }
    for (id, occurrences) in &series {
        let total = |f: fn(&rules::EventFigures) -> usize| {
            occurrences.iter().map(|r| f(&r.figures)).sum::<usize>()
        };
        let (going, attended, no_shows) = (
            total(|f| f.going),
            total(|f| f.attended),
            total(|f| f.no_shows),
        );
        #[allow(clippy::cast_precision_loss)]
        let rate = if going > 0 {
            format!("{:.0}%", (going - no_shows) as f64 / going as f64 * 100.0)
        } else {
            "n/a".to_owned()
        };
        lines.push(format!(
            "Series #{id} {} · {} occurrence(s) · Going {going} · attended {attended} · show-up {rate}",
            occurrences[0].event.title,
            occurrences.len()
        ));
    }
    let local_day = |ts: i64| {
        DateTime::<Utc>::from_timestamp(ts, 0)
            .map(|t| crate::domain::analytics::day_number(t.with_timezone(&tz).date_naive()))
            .unwrap_or(0)
    };
    let today = local_day(now);
    let year = reports_between(pool, config, guild_id, now - 400 * 86_400, now + 1, now).await?;
    let mut first_attended: std::collections::HashMap<u64, i64> = std::collections::HashMap::new();
    for report in &year {
        for user in attendees(pool, config, &report.event, now).await? {
            let day = local_day(report.event.start_at);
            first_attended
                .entry(user)
                .and_modify(|d| *d = (*d).min(day))
                .or_insert(day);
        }
    }
    let newcomers: Vec<rules::Newcomer> = db::events::newcomers(pool, guild_id, today - 400)
        .await?
        .into_iter()
        .map(|(user, join_day, r30, r90)| rules::Newcomer {
            join_day,
            retained_30: r30,
            retained_90: r90,
            first_attended_day: first_attended.get(&db::from_sql_id(user)).copied(),
        })
        .collect();
    let (went, did_not) = rules::attendee_retention(&newcomers, today);
    let pct = |r: Option<f64>| r.map_or_else(|| "n/a".to_owned(), |r| format!("{:.0}%", r * 100.0));
    lines.push(String::new());
    lines.push("**Do events keep newcomers?** (joined in the last year; attended in their first 30 days vs the same join weeks who did not)".into());
    lines.push(format!(
        "30-day retention: attended {} of {} · did not {} of {}",
        pct(went.rate_30()),
        went.members_30,
        pct(did_not.rate_30()),
        did_not.members_30
    ));
    lines.push(format!(
        "90-day retention: attended {} of {} · did not {} of {}",
        pct(went.rate_90()),
        went.members_90,
        pct(did_not.rate_90()),
        did_not.members_90
    ));
    Ok(posts::truncate(&lines.join("\n"), posts::MESSAGE_LIMIT))
}

/// The monthly report's "Events" field from `report_json`'s array; none in a month without
/// events.
pub fn month_field(events: &Value) -> Option<Value> {
    let events = events.as_array().filter(|e| !e.is_empty())?;
    let sum = |key: &str| events.iter().filter_map(|e| e[key].as_u64()).sum::<u64>();
    let (going, attended, no_shows) = (sum("going"), sum("attended"), sum("no_shows"));
    let show_up = if going > 0 {
        #[allow(clippy::cast_precision_loss)]
        let rate = (going - no_shows) as f64 / going as f64;
        format!("{:.0}%", rate * 100.0)
    } else {
        "n/a".to_owned()
    };
    Some(json!({
        "name": "Events",
        "value": format!("{} held · {going} going · {attended} attended · show-up {show_up}", events.len()),
        "inline": true,
    }))
}

/// At the event's end: takes back the temporary attendee role and asks the attendees
/// (mentioned, 50 per post) to rate it in the event thread. Returns whether anything was queued.
pub async fn request_feedback(
    pool: &Pool,
    config: &Config,
    event_id: i64,
    now: i64,
) -> anyhow::Result<bool> {
    let Some(event) = db::events::by_id(pool, event_id)
        .await?
        .filter(Event::is_scheduled)
    else {
        return Ok(false);
    };
    let mut queued = false;
    // The temporary attendee role ends with the event.
    for row in db::events::rsvps(pool, event.id).await? {
        if row.rsvp().status == Status::Going {
            if let Some(post) = attendee_role_post(&event, row.user(), false, event.end_at * 1000) {
                queued |= outbox::enqueue_in(pool, &post).await?.is_some();
            }
        }
    }
    let attendees = attendees(pool, config, &event, now).await?;
    let channel = thread_of(pool, &event)
        .await?
        .unwrap_or(db::from_sql_id(event.card_channel_id));
    for (i, users) in attendees.chunks(50).enumerate() {
        let post = outbox::message_post(
            event.guild(),
            channel,
            "event-feedback",
            format!("event:{}:rate:{i}", event.id),
            posts::event_feedback_request(
                &event.title,
                users,
                &format!("{RATE}{}", event.id),
                event.end_at + FEEDBACK_WINDOW_SECS,
            ),
        );
        queued |= outbox::enqueue_in(pool, &post).await?.is_some();
    }
    Ok(queued)
}

/// Whether `user` may rate the event now: they attended, it has ended, and feedback has not
/// closed (72 hours after the end).
pub async fn may_rate(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    event_id: i64,
    user: u64,
    now: i64,
) -> anyhow::Result<Event> {
    let event = event(pool, guild_id, event_id).await?;
    if now < event.end_at {
        return Err(UserError(format!(
            "**{}** has not ended yet: rate it afterwards.",
            event.title
        ))
        .into());
    }
    if now > event.end_at + FEEDBACK_WINDOW_SECS {
        return Err(UserError(format!(
            "Feedback on **{}** closed 72 hours after it ended.",
            event.title
        ))
        .into());
    }
    if !attendees(pool, config, &event, now).await?.contains(&user) {
        return Err(UserError(format!(
            "Only members who attended **{}** can rate it (attendance comes from the voice channel, check-ins and the host's marks).",
            event.title
        ))
        .into());
    }
    Ok(event)
}

/// An attendee's rating from the feedback form: a score from 1 to 5, an optional comment, and
/// whether it is anonymous (the default).
#[allow(clippy::too_many_arguments)]
pub async fn rate(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    event_id: i64,
    user: u64,
    score: &str,
    comment: Option<&str>,
    anonymous: &str,
    now: i64,
) -> anyhow::Result<String> {
    let event = may_rate(pool, config, guild_id, event_id, user, now).await?;
    let score: i64 = score
        .trim()
        .parse()
        .ok()
        .filter(|s| (1..=5).contains(s))
        .or_user(format!(
            "score: `{}` is not a number from 1 to 5.",
            score.trim()
        ))?;
    let anonymous = !matches!(
        anonymous.trim().to_lowercase().as_str(),
        "no" | "n" | "false"
    );
    let comment = comment.map(str::trim).filter(|c| !c.is_empty());
    db::events::save_feedback(pool, event.id, user, (score, comment, anonymous), now).await?;
    Ok(format!(
        "Thank you! Your {score}/5 for **{}** is saved{}. Submitting again replaces it.",
        event.title,
        if anonymous {
            ", anonymously: nobody will see it is yours"
        } else {
            ""
        }
    ))
}

/// Creates the next occurrences of a series so that [`OCCURRENCES_AHEAD`] are coming, each with
/// its Discord event (through the outbox) and its card; members Going to the whole series are
/// Going (or waitlisted) on each. Returns whether anything was queued and when to run again
/// (when the earliest coming occurrence starts).
pub async fn roll_series(
    pool: &Pool,
    config: &Config,
    series_id: i64,
    now: i64,
) -> anyhow::Result<(bool, Option<i64>)> {
    let Some(series) = db::events::series(pool, series_id).await? else {
        return Ok((false, None));
    };
    if series.status != "active" {
        return Ok((false, None));
    }
    let tz = settings::timezone(pool, config, series.guild()).await?;
    let schedule = rules::repeat_schedule(&series.schedule)
        .map_err(|e| anyhow::anyhow!("series {series_id}: {e}"))?;
    let occurrences = db::events::occurrences(pool, series_id).await?;
    let mut coming = occurrences
        .iter()
        .filter(|e| e.is_scheduled() && e.start_at > now)
        .count();
    let mut last = occurrences.iter().map(|e| e.start_at).max().unwrap_or(now);
    let members = db::events::series_members(pool, series_id).await?;
    let mut queued = false;
    // Bounded: a year of missed weekly occurrences after a long downtime is 52 steps.
    for _ in 0..1000 {
        if coming >= OCCURRENCES_AHEAD {
            break;
        }
        let Some(next) =
            DateTime::<Utc>::from_timestamp(last, 0).and_then(|t| schedule.next_after(t, tz))
        else {
            break;
        };
        last = next.timestamp();
        if last <= now {
            continue;
        }
        let event = occurrence(pool, config, &series, last, &members, now).await?;
        info!(
            event.id = event.id,
            series.id = series_id,
            start = last,
            "series occurrence created"
        );
        queued = true;
        coming += 1;
    }
    let next_run = db::events::occurrences(pool, series_id)
        .await?
        .iter()
        .filter(|e| e.is_scheduled() && e.start_at > now)
        .map(|e| e.start_at)
        .min();
    Ok((queued, next_run))
}

/// One new occurrence of a series starting at `start_at`: the event, its Discord event and card
/// (through the outbox), its feedback job and the series' Going members, in one transaction so
/// that a crash leaves all of it or none.
async fn occurrence(
    pool: &Pool,
    config: &Config,
    series: &db::events::Series,
    start_at: i64,
    members: &[u64],
    now: i64,
) -> anyhow::Result<Event> {
    let mut tx = pool.begin().await?;
    let id = db::events::create(
        &mut *tx,
        &db::events::NewEvent {
            guild_id: series.guild(),
            title: &series.title,
            description: series.description.as_deref(),
            start_at,
            end_at: start_at + series.length_secs,
            voice_channel: series.voice_channel_id.map(db::from_sql_id),
            location: series.location.as_deref(),
            capacity: series.capacity.and_then(|c| u32::try_from(c).ok()),
            cutoff_at: series.cutoff_secs.map(|c| start_at - c),
            required_role: series.required_role_id.map(db::from_sql_id),
            attendee_role: series.attendee_role_id.map(db::from_sql_id),
            card_channel: db::from_sql_id(series.card_channel_id),
            series_id: Some(series.id),
            created_by: db::from_sql_id(series.created_by),
        },
        now,
    )
    .await?;
    let event = db::events::by_id(&mut *tx, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("event {id} vanished after its creation"))?;
    let discord = NewPost {
        guild_id: event.guild(),
        channel_id: db::from_sql_id(event.card_channel_id),
        kind: "event-discord".into(),
        dedup_key: format!("event:{id}:discord"),
        body: outbox::action_json(&Action::ScheduledEvent {
            event_id: id,
            body: scheduled_event_body(&event, series.stage),
        }),
        not_before_ms: None,
    };
    outbox::enqueue_in(&mut *tx, &discord).await?;
    outbox::enqueue_in(&mut *tx, &card_post(&event)).await?;
    db::jobs::upsert(
        &mut *tx,
        event.guild(),
        FEEDBACK_JOB,
        id,
        Some(event.end_at),
    )
    .await?;
    // Going to the whole series: Going here too (or on the waitlist when it is full).
    let mut roster = roster(&event, config, Vec::new());
    for (i, user) in members.iter().enumerate() {
        let _ = roster.answer(
            *user,
            Choice::Going,
            now * 1000 + i64::try_from(i).unwrap_or(0),
        );
    }
    let defaults = offsets_text(&config.events.default_offsets());
    for rsvp in &roster.rsvps {
        db::events::save_rsvp(&mut *tx, id, rsvp, &defaults).await?;
        if rsvp.status == Status::Going {
            if let Some(post) = attendee_role_post(&event, rsvp.user, true, rsvp.queued_ms) {
                outbox::enqueue_in(&mut *tx, &post).await?;
            }
        }
    }
    tx.commit().await?;
    reschedule_reminders(pool, config, &event, now).await?;
    Ok(event)
}

/// A member's "Going to all" on a series card: toggles their place on the series' Going list,
/// and when joining answers Going on every coming occurrence.
#[allow(clippy::too_many_arguments)]
pub async fn toggle_series(
    pool: &Pool,
    config: &Config,
    outbox: &outbox::Outbox,
    guild_id: u64,
    series_id: i64,
    user: u64,
    roles: &[u64],
    now_ms: i64,
) -> anyhow::Result<String> {
    let series = db::events::series(pool, series_id)
        .await?
        .filter(|s| s.guild() == guild_id && s.status == "active")
        .or_user("This series has ended.")?;
    if let Some(role) = series.required_role_id.map(db::from_sql_id) {
        if !roles.contains(&role) {
            return Err(UserError(format!(
                "**{}** is for members with the <@&{role}> role.",
                series.title
            ))
            .into());
        }
    }
    if !db::events::toggle_series_member(pool, series_id, user).await? {
        return Ok(format!(
            "You left the **{}** series: new occurrences will not add you. Your answers on the ones already listed stay; change them on their cards.",
            series.title
        ));
    }
    let now = now_ms.div_euclid(1000);
    let mut going = 0;
    for event in db::events::occurrences(pool, series_id).await? {
        if !event.is_scheduled() || event.start_at <= now {
            continue;
        }
        if answer(
            pool,
            config,
            outbox,
            guild_id,
            event.id,
            user,
            roles,
            Choice::Going,
            now_ms,
        )
        .await
        .is_ok()
        {
            going += 1;
        }
    }
    Ok(format!(
        "You're going to every **{}** (answered Going on the {going} listed; new ones add you as they are created). Click again to leave the series.",
        series.title
    ))
}

/// Ends a series: no more occurrences; coming ones are cancelled (Going members told once).
/// Returns the coming occurrences cancelled, for the command to delete their Discord events.
pub async fn end_series(
    pool: &Pool,
    outbox: &outbox::Outbox,
    guild_id: u64,
    series_id: i64,
    now: i64,
) -> anyhow::Result<Vec<Event>> {
    let series = db::events::series(pool, series_id)
        .await?
        .filter(|s| s.guild() == guild_id)
        .or_user(format!("There is no series #{series_id} in this server."))?;
    db::events::end_series(pool, series.id).await?;
    db::jobs::delete(pool, SERIES_JOB, series.id).await?;
    let mut cancelled_events = Vec::new();
    for event in db::events::occurrences(pool, series.id).await? {
        if event.start_at > now && cancelled(pool, outbox, &event).await? {
            cancelled_events.push(event);
        }
    }
    Ok(cancelled_events)
}
