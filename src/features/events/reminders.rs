//! Reminders at each member's offsets: one scheduler job per event, pointing at its next due
//! time; each reminder keyed by member and due time in the outbox, so none is sent twice.

use super::*;

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
    if !db::events::set_reminders(
        pool,
        event.id,
        user,
        &db::events::offsets_column(&offsets),
        dm,
    )
    .await?
    {
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
pub(super) async fn reschedule_reminders(
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
