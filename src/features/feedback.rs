//! The feedback loop (product §5): acknowledge publicly → take private → follow up publicly.
//! Items, their posts and follow-ups, their SLA and the reminder when it runs out. Forum tags
//! and the check that an item's thread still exists are Discord calls the commands make.

use tracing::warn;

use crate::config::Config;
use crate::db::{self, feedback::Item, outbox::NewPost, Pool};
use crate::domain::feedback::Status;
use crate::domain::settings::ChannelPurpose;
use crate::error::{OrUser, UserError};
use crate::features::settings;
use crate::outbox::{action_json, enqueue_in, message_post, posts, Action, Outbox};

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
    let thread = thread_of(pool, &item).await?;
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

/// The thread of an item once its post was delivered.
async fn thread_of(pool: &Pool, item: &Item) -> anyhow::Result<Option<u64>> {
    Ok(match item.outbox_id {
        Some(outbox) => db::feedback::thread_of(pool, outbox).await?,
        None => None,
    })
}

/// The guild's feedback channel, or a [`UserError`] saying how to set one.
pub async fn channel(pool: &Pool, config: &Config, guild_id: u64) -> anyhow::Result<u64> {
    settings::resolve(pool, config, guild_id)
        .await?
        .channel(ChannelPurpose::Feedback)
        .or_user(
            "Feedback is not set up here: a manager can run `/config channel purpose:feedback`.",
        )
}

/// Where a new item is posted: the feedback channel (a forum gets a post, a text channel a
/// thread) and, in a forum, the ids of the tags to apply.
#[derive(Clone, Debug)]
pub struct Place {
    pub guild_id: u64,
    pub channel: u64,
    pub forum: bool,
    pub tags: Vec<u64>,
}

/// A new feedback item.
#[derive(Clone, Debug)]
pub struct NewItem {
    pub submitter: u64,
    pub title: String,
    pub category: String,
    /// The embed's text: the member's details, or the link to a tagged message.
    pub details: String,
    /// The manager who tagged a member's message as feedback.
    pub tagged_by: Option<u64>,
    /// (channel, message) of a tagged message.
    pub source: Option<(u64, u64)>,
    /// The submitter asked for status changes by DM too.
    pub notify_dm: bool,
}

impl NewItem {
    /// A member's own feedback from the form.
    pub fn submitted(
        submitter: u64,
        category: &str,
        title: &str,
        details: &str,
        notify_dm: bool,
    ) -> Self {
        Self {
            submitter,
            title: title.trim().to_owned(),
            category: category.to_owned(),
            details: details.to_owned(),
            tagged_by: None,
            source: None,
            notify_dm,
        }
    }

    /// A member's message a manager tagged as feedback: linked, not copied (Hearth stores no
    /// message content).
    pub fn tagged(
        guild_id: u64,
        (channel, message): (u64, u64),
        author: u64,
        author_name: &str,
        manager: u64,
    ) -> Self {
        let link = format!("https://discord.com/channels/{guild_id}/{channel}/{message}");
        Self {
            submitter: author,
            title: format!("Feedback from {author_name}"),
            category: "other".to_owned(),
            details: format!("Tagged from {link}"),
            tagged_by: Some(manager),
            source: Some((channel, message)),
            notify_dm: false,
        }
    }
}

/// Stores an item, queues its post (a thread named "#id title") and schedules its SLA check;
/// returns its id. The caller wakes the scheduler.
pub async fn open_item(
    pool: &Pool,
    config: &Config,
    outbox: &Outbox,
    place: &Place,
    item: &NewItem,
    now: i64,
) -> anyhow::Result<i64> {
    let guild_id = place.guild_id;
    let (title, category) = (item.title.as_str(), item.category.as_str());
    let id = db::feedback::create(
        pool,
        guild_id,
        item.submitter,
        title,
        category,
        item.source,
        now,
    )
    .await?;
    let body = posts::feedback_item(item.submitter, category, &item.details, item.tagged_by);
    let action = Action::Thread {
        name: posts::truncate(&format!("#{id} {title}"), 100),
        forum: place.forum,
        body,
        tags: place.tags.clone(),
    };
    let post = NewPost {
        guild_id,
        channel_id: place.channel,
        kind: "feedback".into(),
        dedup_key: format!("feedback:{guild_id}:{id}"),
        body: action_json(&action),
        not_before_ms: None,
    };
    if let Some(outbox_id) = outbox.enqueue(post).await? {
        db::feedback::set_outbox(pool, id, outbox_id).await?;
    }
    schedule_sla_check(pool, config, guild_id, id, now).await?;
    if item.notify_dm {
        db::feedback::set_notify_dm(pool, id, true).await?;
    }
    Ok(id)
}

/// A manager's `/feedback status`.
#[derive(Clone, Debug)]
pub struct StatusChange<'a> {
    pub guild_id: u64,
    pub id: i64,
    pub status: Status,
    /// For the submitter, posted publicly with the follow-up.
    pub note: Option<&'a str>,
    /// The command's interaction: two changes of one item are two follow-ups.
    pub interaction: u64,
}

/// An item whose status was changed, before its follow-up is posted.
#[derive(Clone, Debug)]
pub struct Moved {
    pub item: Item,
    /// The item's thread, once its post was delivered.
    pub thread: Option<u64>,
}

/// Stores an item's new status; a [`UserError`] when there is no such item.
pub async fn move_item(pool: &Pool, change: &StatusChange<'_>, now: i64) -> anyhow::Result<Moved> {
    let (guild_id, id) = (change.guild_id, change.id);
    let item = db::feedback::get(pool, guild_id, id)
        .await?
        .or_user(format!(
            "There is no feedback #{id}; `/feedback list` shows them."
        ))?;
    db::feedback::set_status(pool, guild_id, id, change.status.name(), now).await?;
    let thread = thread_of(pool, &item).await?;
    Ok(Moved { item, thread })
}

/// What the command found on Discord about a moved item's thread.
#[derive(Clone, Debug)]
pub struct ThreadCheck {
    /// The thread is still there (a deleted one must not swallow the follow-up).
    pub exists: bool,
    /// Its forum tags could not be updated.
    pub tags_failed: bool,
}

/// Where a follow-up goes and how the manager is told: the item's thread while it exists, else
/// the feedback channel; `None` when neither is there.
pub fn follow_up_target(
    thread: Option<u64>,
    exists: bool,
    feedback_channel: Option<u64>,
) -> Option<(u64, String)> {
    match (thread, exists, feedback_channel) {
        (Some(t), true, _) => Some((t, format!("in <#{t}>"))),
        (_, _, Some(channel)) => Some((channel, format!("in <#{channel}> (the item's thread is gone, so the follow-up went to the feedback channel)"))),
        _ => None,
    }
}

/// Queues the public follow-up of a status change (and the submitter's DM if they asked for
/// one); returns the manager's answer.
pub async fn follow_up(
    pool: &Pool,
    config: &Config,
    outbox: &Outbox,
    change: &StatusChange<'_>,
    moved: &Moved,
    check: &ThreadCheck,
) -> anyhow::Result<String> {
    let (guild_id, id, status) = (change.guild_id, change.id, change.status);
    let settings = settings::resolve(pool, config, guild_id).await?;
    let feedback_channel = settings.channel(ChannelPurpose::Feedback);
    let Some((target, place)) = follow_up_target(moved.thread, check.exists, feedback_channel)
    else {
        return Err(UserError(format!("Feedback #{id} is now **{status}**, but there is nowhere to post the follow-up: its thread is gone and no feedback channel is set.")).into());
    };
    let item = &moved.item;
    let text = posts::feedback_follow_up(id, &item.title, item.submitter(), status, change.note);
    let key = format!("feedback-status:{guild_id}:{id}:{}", change.interaction);
    outbox
        .message(guild_id, target, "feedback-follow-up", key, text)
        .await?;
    if item.notify_dm {
        outbox.enqueue(status_dm(change, item)).await?;
    }
    let tag_note = if check.tags_failed {
        " (its forum tags could not be updated: the bot needs Manage Threads)"
    } else {
        ""
    };
    Ok(format!("Feedback #{id} is now **{status}**{tag_note}; the follow-up is posted {place} and <@{}> is told there.", item.submitter()))
}

/// The DM of a status change to a submitter who opted in: one per change, through the outbox's
/// DM throttle.
fn status_dm(change: &StatusChange<'_>, item: &Item) -> NewPost {
    let (guild_id, id) = (change.guild_id, change.id);
    NewPost {
        guild_id,
        channel_id: 0,
        kind: "feedback-dm".into(),
        dedup_key: format!("feedback-dm:{guild_id}:{id}:{}", change.interaction),
        body: action_json(&Action::DirectMessage {
            user_id: item.submitter(),
            body: posts::feedback_dm(id, &item.title, change.status, change.note),
            fallback_to_thread: false,
            fallback_channel: None,
        }),
        not_before_ms: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_follow_up_goes_to_the_thread_while_it_exists_else_the_feedback_channel() {
        assert_eq!(
            follow_up_target(Some(7), true, Some(3)),
            Some((7, "in <#7>".to_owned()))
        );
        assert_eq!(follow_up_target(Some(7), true, None).unwrap().0, 7);
        let gone = follow_up_target(Some(7), false, Some(3)).unwrap();
        assert_eq!(gone.0, 3);
        assert!(gone.1.contains("the item's thread is gone"), "{}", gone.1);
        assert_eq!(follow_up_target(None, false, Some(3)).unwrap().0, 3);
        assert_eq!(follow_up_target(Some(7), false, None), None);
        assert_eq!(follow_up_target(None, false, None), None);
    }

    #[test]
    fn a_tagged_message_is_linked_not_copied() {
        let item = NewItem::tagged(1, (2, 3), 4, "ana", 5);
        assert_eq!(item.title, "Feedback from ana");
        assert_eq!(item.category, "other");
        assert_eq!(
            item.details,
            "Tagged from https://discord.com/channels/1/2/3"
        );
        assert_eq!((item.tagged_by, item.source), (Some(5), Some((2, 3))));
    }

    #[test]
    fn a_submitted_title_is_trimmed() {
        let item = NewItem::submitted(4, "idea", "  Dark mode ", " details ", true);
        assert_eq!(item.title, "Dark mode");
        assert_eq!(item.details, " details ");
        assert!(item.notify_dm && item.tagged_by.is_none() && item.source.is_none());
    }
}
