//! The feedback loop (product §5): items, their SLA and the reminder when it runs out.

use tracing::warn;

use crate::config::Config;
use crate::db::{self, Pool};
use crate::domain::settings::ChannelPurpose;
use crate::features::settings;
use crate::outbox::{enqueue_in, message_post, posts};

/// Job kind of a feedback item's SLA check (target = item id), due when the SLA runs out.
pub const SLA_JOB: &str = "feedback-sla";

/// Schedules the SLA check of a new feedback item.
pub async fn schedule_sla_check(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    item_id: i64,
    created_at: i64,
) -> anyhow::Result<()> {
    let due = created_at + i64::from(config.feedback.sla_days) * 86_400;
    db::jobs::insert_if_missing(pool, guild_id, SLA_JOB, item_id, Some(due)).await?;
    Ok(())
}

/// Reminds the managers of an item whose SLA ran out while still unanswered (the reports
/// channel, else the feedback channel); false when nothing was queued.
pub async fn remind_sla(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    item_id: i64,
) -> anyhow::Result<bool> {
    let item = db::feedback::get(pool, guild_id, item_id).await?;
    let Some(item) = item.filter(|i| i.status == "new") else {
        return Ok(false);
    };
    let settings = settings::resolve(pool, config, guild_id).await?;
    let channel = settings
        .channel(ChannelPurpose::Reports)
        .or(settings.channel(ChannelPurpose::Feedback));
    let thread = match item.outbox_id {
        Some(outbox) => db::feedback::thread_of(pool, outbox).await?,
        None => None,
    };
    let Some(channel) = channel else {
        warn!(
            guild.id = guild_id,
            feedback.id = item.id,
            "feedback past its SLA, but no reports or feedback channel to remind managers in"
        );
        return Ok(false);
    };
    let body = posts::feedback_sla_reminder(item.id, &item.title, thread, config.feedback.sla_days);
    let key = format!("feedback-sla:{guild_id}:{}", item.id);
    let post = message_post(guild_id, channel, SLA_JOB, key, body);
    Ok(enqueue_in(pool, &post).await?.is_some())
}
