//! Events, their RSVPs and the voice presence that makes attendance (product §9).

use sqlx::AnyExecutor;

use super::{flag, from_sql_id, to_sql_id};
use crate::domain::events::{Rsvp, Status};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub id: i64,
    pub guild_id: i64,
    pub title: String,
    pub description: Option<String>,
    pub start_at: i64,
    pub end_at: i64,
    pub voice_channel_id: Option<i64>,
    pub location: Option<String>,
    pub capacity: Option<i64>,
    pub cutoff_at: Option<i64>,
    pub required_role_id: Option<i64>,
    pub attendee_role_id: Option<i64>,
    pub card_channel_id: i64,
    pub card_message_id: Option<i64>,
    pub discord_event_id: Option<i64>,
    pub interested: i64,
    pub status: String,
    pub series_id: Option<i64>,
    pub created_by: i64,
}

super::from_row!(Event {
    id,
    guild_id,
    title,
    description,
    start_at,
    end_at,
    voice_channel_id,
    location,
    capacity,
    cutoff_at,
    required_role_id,
    attendee_role_id,
    card_channel_id,
    card_message_id,
    discord_event_id,
    interested,
    status,
    series_id,
    created_by
});

const EVENT: &str = "SELECT id, guild_id, title, description, start_at, end_at, voice_channel_id,
    location, capacity, cutoff_at, required_role_id, attendee_role_id, card_channel_id, card_message_id, discord_event_id, interested,
    status, series_id, created_by FROM events";

impl Event {
    pub fn guild(&self) -> u64 {
        from_sql_id(self.guild_id)
    }

    pub fn voice_channel(&self) -> Option<u64> {
        self.voice_channel_id.map(from_sql_id)
    }

    /// The event's thread: started on the RSVP card, so it has the card's id.
    pub fn thread(&self) -> Option<u64> {
        self.card_message_id.map(from_sql_id)
    }

    pub fn capacity(&self) -> Option<u32> {
        self.capacity.and_then(|c| u32::try_from(c).ok())
    }

    pub fn required_role(&self) -> Option<u64> {
        self.required_role_id.map(from_sql_id)
    }

    pub fn attendee_role(&self) -> Option<u64> {
        self.attendee_role_id.map(from_sql_id)
    }

    pub fn is_scheduled(&self) -> bool {
        self.status == "scheduled"
    }
}

/// A new event as stored before Discord knows of it.
#[derive(Clone, Debug)]
pub struct NewEvent<'a> {
    pub guild_id: u64,
    pub title: &'a str,
    pub description: Option<&'a str>,
    pub start_at: i64,
    pub end_at: i64,
    pub voice_channel: Option<u64>,
    pub location: Option<&'a str>,
    pub capacity: Option<u32>,
    pub cutoff_at: Option<i64>,
    pub required_role: Option<u64>,
    pub attendee_role: Option<u64>,
    pub card_channel: u64,
    pub series_id: Option<i64>,
    pub created_by: u64,
}

pub async fn create(db: impl AnyExecutor<'_>, new: &NewEvent<'_>, now: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO events (guild_id, title, description, start_at, end_at, voice_channel_id,
         location, capacity, cutoff_at, required_role_id, attendee_role_id, card_channel_id,
         series_id, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id",
    )
    .bind(to_sql_id(new.guild_id))
    .bind(new.title)
    .bind(new.description)
    .bind(new.start_at)
    .bind(new.end_at)
    .bind(new.voice_channel.map(to_sql_id))
    .bind(new.location)
    .bind(new.capacity.map(i64::from))
    .bind(new.cutoff_at)
    .bind(new.required_role.map(to_sql_id))
    .bind(new.attendee_role.map(to_sql_id))
    .bind(to_sql_id(new.card_channel))
    .bind(new.series_id)
    .bind(to_sql_id(new.created_by))
    .bind(now)
    .fetch_one(db)
    .await
}

pub async fn get(db: impl AnyExecutor<'_>, guild_id: u64, id: i64) -> sqlx::Result<Option<Event>> {
    sqlx::query_as(&format!("{EVENT} WHERE guild_id = $1 AND id = $2"))
        .bind(to_sql_id(guild_id))
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn by_id(db: impl AnyExecutor<'_>, id: i64) -> sqlx::Result<Option<Event>> {
    sqlx::query_as(&format!("{EVENT} WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn by_discord_event(
    db: impl AnyExecutor<'_>,
    discord_event_id: u64,
) -> sqlx::Result<Option<Event>> {
    sqlx::query_as(&format!("{EVENT} WHERE discord_event_id = $1"))
        .bind(to_sql_id(discord_event_id))
        .fetch_optional(db)
        .await
}

/// A guild's events that end at or after `from`, soonest first.
pub async fn upcoming(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    from: i64,
) -> sqlx::Result<Vec<Event>> {
    sqlx::query_as(&format!(
        "{EVENT} WHERE guild_id = $1 AND end_at >= $2 ORDER BY start_at, id"
    ))
    .bind(to_sql_id(guild_id))
    .bind(from)
    .fetch_all(db)
    .await
}

/// A guild's events that started in `[from, to)`, for reports.
pub async fn started_between(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    from: i64,
    to: i64,
) -> sqlx::Result<Vec<Event>> {
    sqlx::query_as(&format!(
        "{EVENT} WHERE guild_id = $1 AND start_at >= $2 AND start_at < $3 ORDER BY start_at, id"
    ))
    .bind(to_sql_id(guild_id))
    .bind(from)
    .bind(to)
    .fetch_all(db)
    .await
}

/// Scheduled events held in a voice channel whose window (widened by `lead_secs` before the
/// start) contains `now`: the only times voice presence is recorded.
pub async fn live_in_channel(
    db: impl AnyExecutor<'_>,
    channel_id: u64,
    now: i64,
    lead_secs: i64,
) -> sqlx::Result<Vec<Event>> {
    sqlx::query_as(&format!(
        "{EVENT} WHERE voice_channel_id = $1 AND status = 'scheduled'
         AND start_at - $3 <= $2 AND end_at > $2"
    ))
    .bind(to_sql_id(channel_id))
    .bind(now)
    .bind(lead_secs)
    .fetch_all(db)
    .await
}

pub async fn set_card(db: impl AnyExecutor<'_>, id: i64, message_id: u64) -> sqlx::Result<()> {
    sqlx::query("UPDATE events SET card_message_id = $2 WHERE id = $1")
        .bind(id)
        .bind(to_sql_id(message_id))
        .execute(db)
        .await?;
    Ok(())
}

pub async fn set_discord_event(
    db: impl AnyExecutor<'_>,
    id: i64,
    discord_event_id: u64,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE events SET discord_event_id = $2 WHERE id = $1")
        .bind(id)
        .bind(to_sql_id(discord_event_id))
        .execute(db)
        .await?;
    Ok(())
}

/// Moves an event; false when it is not scheduled.
pub async fn set_times(
    db: impl AnyExecutor<'_>,
    id: i64,
    start_at: i64,
    end_at: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE events SET start_at = $2, end_at = $3 WHERE id = $1 AND status = 'scheduled'",
    )
    .bind(id)
    .bind(start_at)
    .bind(end_at)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_capacity(
    db: impl AnyExecutor<'_>,
    id: i64,
    capacity: Option<u32>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE events SET capacity = $2 WHERE id = $1")
        .bind(id)
        .bind(capacity.map(i64::from))
        .execute(db)
        .await?;
    Ok(())
}

pub async fn set_interested(db: impl AnyExecutor<'_>, id: i64, delta: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE events SET interested = CASE WHEN interested + $2 > 0 THEN interested + $2 ELSE 0 END
         WHERE id = $1")
        .bind(id)
        .bind(delta)
        .execute(db)
        .await?;
    Ok(())
}

/// Cancels a scheduled event; false when it was not scheduled (so members are told once).
pub async fn cancel(db: impl AnyExecutor<'_>, id: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE events SET status = 'cancelled' WHERE id = $1 AND status = 'scheduled'",
    )
    .bind(id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// One member's RSVP with their reminder wishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RsvpRow {
    pub user_id: i64,
    pub status: String,
    pub queued_ms: i64,
    pub offer_expires_at: Option<i64>,
    pub offsets: String,
    pub dm: bool,
}

super::from_row!(RsvpRow {
    user_id,
    status,
    queued_ms,
    offer_expires_at,
    offsets,
    dm
});

impl RsvpRow {
    pub fn user(&self) -> u64 {
        from_sql_id(self.user_id)
    }

    pub fn rsvp(&self) -> Rsvp {
        Rsvp {
            user: self.user(),
            status: Status::parse(&self.status).unwrap_or(Status::Maybe),
            queued_ms: self.queued_ms,
            offer_expires_at: self.offer_expires_at,
        }
    }

    /// Reminder offsets in seconds before the start.
    pub fn offsets_secs(&self) -> Vec<i64> {
        self.offsets
            .split(',')
            .filter_map(|o| o.trim().parse().ok())
            .collect()
    }
}

/// Reminder offsets as the `offsets` column stores them ("86400,3600"); read back by
/// [`RsvpRow::offsets_secs`].
pub fn offsets_column(offsets: &[i64]) -> String {
    offsets
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

pub async fn rsvps(db: impl AnyExecutor<'_>, event_id: i64) -> sqlx::Result<Vec<RsvpRow>> {
    sqlx::query_as(
        "SELECT user_id, status, queued_ms, offer_expires_at, offsets, dm FROM event_rsvps
         WHERE event_id = $1 ORDER BY queued_ms, user_id",
    )
    .bind(event_id)
    .fetch_all(db)
    .await
}

/// Stores a changed RSVP; a member's first answer takes `default_offsets` ("86400,3600").
pub async fn save_rsvp(
    db: impl AnyExecutor<'_>,
    event_id: i64,
    rsvp: &Rsvp,
    default_offsets: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO event_rsvps (event_id, user_id, status, queued_ms, offer_expires_at, offsets)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (event_id, user_id) DO UPDATE SET status = excluded.status,
         queued_ms = excluded.queued_ms, offer_expires_at = excluded.offer_expires_at",
    )
    .bind(event_id)
    .bind(to_sql_id(rsvp.user))
    .bind(rsvp.status.name())
    .bind(rsvp.queued_ms)
    .bind(rsvp.offer_expires_at)
    .bind(default_offsets)
    .execute(db)
    .await?;
    Ok(())
}

/// A member's reminder offsets and DM wish; false when they have not answered the event.
pub async fn set_reminders(
    db: impl AnyExecutor<'_>,
    event_id: i64,
    user_id: u64,
    offsets: &str,
    dm: bool,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE event_rsvps SET offsets = $3, dm = $4 WHERE event_id = $1 AND user_id = $2",
    )
    .bind(event_id)
    .bind(to_sql_id(user_id))
    .bind(offsets)
    .bind(super::sql_flag(dm))
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A member arrives in the event's channel (or checks in: `source` 'checkin', or is marked by
/// the host: 'host'). A member already there keeps their open stay.
pub async fn arrive(
    db: impl AnyExecutor<'_>,
    event_id: i64,
    user_id: u64,
    at: i64,
    source: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO event_presence (event_id, user_id, joined_at, source)
         SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM event_presence
           WHERE event_id = $1 AND user_id = $2 AND left_at IS NULL AND source = $4)",
    )
    .bind(event_id)
    .bind(to_sql_id(user_id))
    .bind(at)
    .bind(source)
    .execute(db)
    .await?;
    Ok(())
}

/// A member left a voice channel: closes their open voice stays in every event of the guild.
pub async fn leave(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    user_id: u64,
    at: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE event_presence SET left_at = $3 WHERE user_id = $2 AND left_at IS NULL
         AND source = 'voice' AND event_id IN (SELECT id FROM events WHERE guild_id = $1)",
    )
    .bind(to_sql_id(guild_id))
    .bind(to_sql_id(user_id))
    .bind(at)
    .execute(db)
    .await?;
    Ok(())
}

/// A stay in the event: member, arrival, departure (`None`: still there), source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stay {
    pub user_id: i64,
    pub joined_at: i64,
    pub left_at: Option<i64>,
    pub source: String,
}

super::from_row!(Stay {
    user_id,
    joined_at,
    left_at,
    source
});

pub async fn stays(db: impl AnyExecutor<'_>, event_id: i64) -> sqlx::Result<Vec<Stay>> {
    sqlx::query_as(
        "SELECT user_id, joined_at, left_at, source FROM event_presence WHERE event_id = $1
         ORDER BY user_id, joined_at",
    )
    .bind(event_id)
    .fetch_all(db)
    .await
}

/// Members of a guild whose cohort day is `from_day` or later: user, cohort day and the two
/// retention flags (for the event retention comparison).
pub async fn newcomers(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    from_day: i64,
) -> sqlx::Result<Vec<(i64, i64, bool, bool)>> {
    let rows: Vec<(i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT user_id, join_day, retained_30, retained_90 FROM members
         WHERE guild_id = $1 AND join_day >= $2",
    )
    .bind(to_sql_id(guild_id))
    .bind(from_day)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(user, day, r30, r90)| (user, day, flag(r30), flag(r90)))
        .collect())
}

/// A recurring event's template and schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Series {
    pub id: i64,
    pub guild_id: i64,
    pub title: String,
    pub description: Option<String>,
    pub length_secs: i64,
    pub voice_channel_id: Option<i64>,
    pub stage: bool,
    pub location: Option<String>,
    pub capacity: Option<i64>,
    pub cutoff_secs: Option<i64>,
    pub required_role_id: Option<i64>,
    pub attendee_role_id: Option<i64>,
    pub card_channel_id: i64,
    pub schedule: String,
    pub status: String,
    pub created_by: i64,
}

super::from_row!(Series {
    id,
    guild_id,
    title,
    description,
    length_secs,
    voice_channel_id,
    stage,
    location,
    capacity,
    cutoff_secs,
    required_role_id,
    attendee_role_id,
    card_channel_id,
    schedule,
    status,
    created_by
});

impl Series {
    pub fn guild(&self) -> u64 {
        from_sql_id(self.guild_id)
    }
}

pub async fn create_series(
    db: impl AnyExecutor<'_>,
    series: &Series,
    now: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO event_series (guild_id, title, description, length_secs, voice_channel_id,
         stage, location, capacity, cutoff_secs, required_role_id, attendee_role_id,
         card_channel_id, schedule, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id",
    )
    .bind(series.guild_id)
    .bind(&series.title)
    .bind(&series.description)
    .bind(series.length_secs)
    .bind(series.voice_channel_id)
    .bind(super::sql_flag(series.stage))
    .bind(&series.location)
    .bind(series.capacity)
    .bind(series.cutoff_secs)
    .bind(series.required_role_id)
    .bind(series.attendee_role_id)
    .bind(series.card_channel_id)
    .bind(&series.schedule)
    .bind(series.created_by)
    .bind(now)
    .fetch_one(db)
    .await
}

pub async fn series(db: impl AnyExecutor<'_>, id: i64) -> sqlx::Result<Option<Series>> {
    sqlx::query_as(
        "SELECT id, guild_id, title, description, length_secs, voice_channel_id, stage, location,
         capacity, cutoff_secs, required_role_id, attendee_role_id, card_channel_id, schedule,
         status, created_by FROM event_series WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Ends a series; false when it had already ended.
pub async fn end_series(db: impl AnyExecutor<'_>, id: i64) -> sqlx::Result<bool> {
    let done =
        sqlx::query("UPDATE event_series SET status = 'ended' WHERE id = $1 AND status = 'active'")
            .bind(id)
            .execute(db)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// The occurrences of a series, earliest first.
pub async fn occurrences(db: impl AnyExecutor<'_>, series_id: i64) -> sqlx::Result<Vec<Event>> {
    sqlx::query_as(&format!(
        "{EVENT} WHERE series_id = $1 ORDER BY start_at, id"
    ))
    .bind(series_id)
    .fetch_all(db)
    .await
}

pub async fn series_members(db: impl AnyExecutor<'_>, series_id: i64) -> sqlx::Result<Vec<u64>> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT user_id FROM event_series_members WHERE series_id = $1 ORDER BY user_id",
    )
    .bind(series_id)
    .fetch_all(db)
    .await?;
    Ok(ids.into_iter().map(from_sql_id).collect())
}

/// Adds or removes a member of a series' Going list; returns whether they are in it now.
pub async fn toggle_series_member(
    db: &super::Pool,
    series_id: i64,
    user_id: u64,
) -> sqlx::Result<bool> {
    let removed =
        sqlx::query("DELETE FROM event_series_members WHERE series_id = $1 AND user_id = $2")
            .bind(series_id)
            .bind(to_sql_id(user_id))
            .execute(db)
            .await?
            .rows_affected();
    if removed > 0 {
        return Ok(false);
    }
    sqlx::query("INSERT INTO event_series_members (series_id, user_id) VALUES ($1, $2)")
        .bind(series_id)
        .bind(to_sql_id(user_id))
        .execute(db)
        .await?;
    Ok(true)
}

/// Members with a stay (voice, check-in or host mark) in an event of the guild that started
/// before `before`: who is not a first-time attendee.
pub async fn earlier_attendees(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    before: i64,
) -> sqlx::Result<Vec<u64>> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT DISTINCT p.user_id FROM event_presence p JOIN events e ON e.id = p.event_id
         WHERE e.guild_id = $1 AND e.start_at < $2",
    )
    .bind(to_sql_id(guild_id))
    .bind(before)
    .fetch_all(db)
    .await?;
    Ok(ids.into_iter().map(from_sql_id).collect())
}

/// Members who first joined the guild at or after `since` (newcomers at an event).
pub async fn joined_since(
    db: impl AnyExecutor<'_>,
    guild_id: u64,
    since: i64,
) -> sqlx::Result<Vec<u64>> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT user_id FROM members WHERE guild_id = $1 AND first_joined_at >= $2",
    )
    .bind(to_sql_id(guild_id))
    .bind(since)
    .fetch_all(db)
    .await?;
    Ok(ids.into_iter().map(from_sql_id).collect())
}
