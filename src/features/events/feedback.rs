//! Post-event feedback from attendees only, on the survey engine (§10): a 1-5 scale and a
//! comment, anonymous unless the member signs it, open for 72 hours after the end.

use super::rsvp::attendee_role_post;
use super::*;

/// Feedback closes this long after the event's end.
pub(super) const FEEDBACK_WINDOW_SECS: i64 = 72 * 3600;

/// At the event's end: takes back the temporary attendee role, opens the event's feedback
/// survey and asks the attendees (mentioned, 50 per post) to rate it in the event thread.
/// Returns whether anything was queued.
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
    let wave = feedback_wave(pool, &event, channel, attendees.len(), now).await?;
    for (i, users) in attendees.chunks(50).enumerate() {
        let post = outbox::message_post(
            event.guild(),
            channel,
            "event-feedback",
            format!("event:{}:rate:{i}", event.id),
            posts::event_feedback_request(
                &event.title,
                users,
                &format!("{}{wave}", surveys::OPEN),
                event.end_at + FEEDBACK_WINDOW_SECS,
            ),
        );
        queued |= outbox::enqueue_in(pool, &post).await?.is_some();
    }
    Ok(queued)
}

/// The wave of the event's feedback survey (opened on the first call).
async fn feedback_wave(
    pool: &Pool,
    event: &Event,
    channel: u64,
    reached: usize,
    now: i64,
) -> anyhow::Result<i64> {
    surveys::open_event_wave(
        pool,
        &surveys::EventSurvey {
            guild_id: event.guild(),
            event_id: event.id,
            title: &event.title,
            channel,
            created_by: db::from_sql_id(event.created_by),
            reached,
            closes_at: event.end_at + FEEDBACK_WINDOW_SECS,
        },
        now,
    )
    .await
}

/// The feedback wave a member may answer from an older post's "Rate this event" button
/// (`RATE`): checked like [`may_answer`], and opened if the request has not run yet.
pub async fn rating_wave(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    event_id: i64,
    user: u64,
    now: i64,
) -> anyhow::Result<i64> {
    let event = may_rate(pool, config, guild_id, event_id, user, now).await?;
    let channel = thread_of(pool, &event)
        .await?
        .unwrap_or(db::from_sql_id(event.card_channel_id));
    let reached = attendees(pool, config, &event, now).await?.len();
    feedback_wave(pool, &event, channel, reached, now).await
}

/// Whether `user` may answer a survey wave: any member for a survey of its own, only the
/// event's attendees (ended, within 72 hours) for an event's feedback.
pub async fn may_answer(
    pool: &Pool,
    config: &Config,
    wave_id: i64,
    user: u64,
    now: i64,
) -> anyhow::Result<()> {
    let Some(wave) = db::surveys::wave(pool, wave_id).await? else {
        return Ok(());
    };
    let Some(survey) = db::surveys::by_id(pool, wave.survey_id).await? else {
        return Ok(());
    };
    if let Some(event_id) = survey.event_id {
        may_rate(pool, config, survey.guild(), event_id, user, now).await?;
    }
    Ok(())
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
