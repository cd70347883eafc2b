//! Recurring events: a series keeps a few occurrences ahead, each its own Discord event and
//! card; members Going to the whole series are Going on each.

use super::reminders::reschedule_reminders;
use super::rsvp::{attendee_role_post, roster};
use super::*;

/// How many occurrences of a series exist ahead of time, each its own Discord event.
pub(super) const OCCURRENCES_AHEAD: usize = 3;

/// Creates the next occurrences of a series so that `OCCURRENCES_AHEAD` are coming, each with
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
    let defaults = db::events::offsets_column(&config.events.default_offsets());
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
