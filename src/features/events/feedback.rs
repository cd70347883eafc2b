//! Post-event feedback from attendees only: 1-5, a comment, anonymous by default, open for 72
//! hours after the end.

use super::rsvp::attendee_role_post;
use super::*;

/// Feedback closes this long after the event's end.
pub(super) const FEEDBACK_WINDOW_SECS: i64 = 72 * 3600;

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
