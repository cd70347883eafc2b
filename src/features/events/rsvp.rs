//! Answers on the RSVP card: Going, Maybe, Can't go, the waitlist's offers and their expiry,
//! capacity changes. The rules are `domain::events::Roster`; this saves what changed and tells
//! the members it concerns, in one transaction.

use super::reminders::reschedule_reminders;
use super::*;

/// The roster of an event with `rsvps`.
pub(super) fn roster(event: &Event, config: &Config, rsvps: Vec<rules::Rsvp>) -> Roster {
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
    let defaults = db::events::offsets_column(&config.events.default_offsets());
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
pub(super) fn attendee_role_post(
    event: &Event,
    user: u64,
    add: bool,
    at_ms: i64,
) -> Option<NewPost> {
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
