//! Attendance: presence in the event's voice channel during the event (never general voice
//! activity), check-ins at external events and the host's marks.

use super::*;

/// Voice presence is recorded from this long before the start (members gather early) and
/// counted only inside the event's window.
pub(super) const PRESENCE_LEAD_SECS: i64 = 15 * 60;

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
