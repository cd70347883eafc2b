//! `/feedback` and the "Tag as feedback" message command: the close-the-loop protocol
//! (acknowledge publicly → take private → follow up publicly), product §5.

use poise::serenity_prelude::{self as serenity, ChannelId};
use poise::{ChoiceParameter as _, Modal as _};

use crate::db::{self, outbox::NewPost};
use crate::discord::checks::guild_id;
use crate::discord::{checks, embeds, Command, Context, Data, Error};
use crate::domain::clock::unix_now;
use crate::domain::feedback::{self, ItemFacts, Status};
use crate::domain::settings::ChannelPurpose;
use crate::error::{OrUser, UserError};
use crate::outbox::posts;
use crate::outbox::{action_json, Action};
use serde_json::json;
use tracing::warn;

pub fn commands() -> Vec<Command> {
    vec![feedback(), tag_as_feedback()]
}

/// Feedback categories.
#[derive(Debug, Clone, Copy, poise::ChoiceParameter)]
enum Category {
    #[name = "idea"]
    Idea,
    #[name = "bug"]
    Bug,
    #[name = "community"]
    Community,
    #[name = "docs"]
    Docs,
    #[name = "other"]
    Other,
}

/// Statuses a manager can set.
#[derive(Debug, Clone, Copy, poise::ChoiceParameter)]
enum NewStatus {
    #[name = "acknowledged"]
    Acknowledged,
    #[name = "planned"]
    Planned,
    #[name = "in-progress"]
    InProgress,
    #[name = "shipped"]
    Shipped,
    #[name = "declined"]
    Declined,
}

impl From<NewStatus> for Status {
    fn from(s: NewStatus) -> Self {
        match s {
            NewStatus::Acknowledged => Status::Acknowledged,
            NewStatus::Planned => Status::Planned,
            NewStatus::InProgress => Status::InProgress,
            NewStatus::Shipped => Status::Shipped,
            NewStatus::Declined => Status::Declined,
        }
    }
}

#[derive(Debug, poise::Modal)]
#[name = "Send feedback"]
struct FeedbackForm {
    #[name = "Title"]
    #[max_length = 100]
    title: String,
    #[name = "Details"]
    #[paragraph]
    #[max_length = 1500]
    details: String,
}

/// Send feedback, follow its status, and (managers) close the loop
#[poise::command(
    slash_command,
    guild_only,
    subcommands("submit", "status", "list", "report"),
    subcommand_required
)]
pub async fn feedback(_: Context<'_>) -> Result<(), Error> {
    Ok(())
}

/// Send feedback to the team: it gets its own thread where they answer
#[poise::command(slash_command)]
async fn submit(
    ctx: poise::ApplicationContext<'_, Data, Error>,
    #[description = "What it is about"] category: Category,
    #[description = "Also tell me by DM when its status changes (default: only in its thread)"]
    dm_updates: Option<bool>,
) -> Result<(), Error> {
    let pctx = Context::Application(ctx);
    let guild_id = guild_id(pctx)?;
    let (channel, forum) = feedback_channel(pctx, guild_id).await?;
    let Some(form) = FeedbackForm::execute(ctx).await? else {
        return Ok(());
    };
    let category = category.name();
    let user_id = ctx.author().id.get();
    let body = posts::feedback_item(user_id, category, &form.details, None);
    let id = open_item(
        ctx.data(),
        ctx.http(),
        guild_id,
        channel,
        forum,
        user_id,
        form.title.trim(),
        category,
        None,
        body,
    )
    .await?;
    if dm_updates == Some(true) {
        db::feedback::set_notify_dm(&ctx.data().pool, id, true).await?;
    }
    pctx.send(poise::CreateReply::default().content(format!("Thanks! Feedback #{id} is posted in <#{channel}>; the team will answer in its thread.")).ephemeral(true))
        .await?;
    Ok(())
}

/// Turn this message into a feedback item
#[poise::command(
    context_menu_command = "Tag as feedback",
    guild_only,
    ephemeral,
    default_member_permissions = "MANAGE_GUILD",
    check = "checks::manager"
)]
async fn tag_as_feedback(ctx: Context<'_>, message: serenity::Message) -> Result<(), Error> {
    let guild_id = guild_id(ctx)?;
    let (channel, forum) = feedback_channel(ctx, guild_id).await?;
    let author = message.author.id.get();
    let link = format!(
        "https://discord.com/channels/{guild_id}/{}/{}",
        message.channel_id.get(),
        message.id.get()
    );
    let title = format!("Feedback from {}", message.author.name);
    let body = posts::feedback_item(
        author,
        "other",
        &format!("Tagged from {link}"),
        Some(ctx.author().id.get()),
    );
    let id = open_item(
        ctx.data(),
        ctx.http(),
        guild_id,
        channel,
        forum,
        author,
        &title,
        "other",
        Some((message.channel_id.get(), message.id.get())),
        body,
    )
    .await?;
    ctx.say(format!("Feedback #{id} opened in <#{channel}>."))
        .await?;
    Ok(())
}

async fn feedback_channel(ctx: Context<'_>, guild_id: u64) -> Result<(u64, bool), Error> {
    let settings = ctx.data().settings(guild_id).await?;
    let channel = settings.channel(ChannelPurpose::Feedback).or_user(
        "Feedback is not set up here: a manager can run `/config channel purpose:feedback`.",
    )?;
    let forum = ctx
        .guild()
        .and_then(|g| {
            g.channels
                .get(&ChannelId::new(channel))
                .map(|c| c.kind == serenity::ChannelType::Forum)
        })
        .unwrap_or(false);
    Ok((channel, forum))
}

#[allow(clippy::too_many_arguments)]
async fn open_item(
    data: &Data,
    http: &serenity::Http,
    guild_id: u64,
    channel: u64,
    forum: bool,
    submitter: u64,
    title: &str,
    category: &str,
    source: Option<(u64, u64)>,
    body: serde_json::Value,
) -> Result<i64, Error> {
    let id = db::feedback::create(
        &data.pool,
        guild_id,
        submitter,
        title,
        category,
        source,
        unix_now(),
    )
    .await?;
    let tags = if forum {
        forum_tags(http, channel, category, Status::New).await
    } else {
        Vec::new()
    };
    let outbox_id = data
        .outbox
        .enqueue(NewPost {
            guild_id,
            channel_id: channel,
            kind: "feedback".into(),
            dedup_key: format!("feedback:{guild_id}:{id}"),
            body: action_json(&Action::Thread {
                name: posts::truncate(&format!("#{id} {title}"), 100),
                forum,
                body,
                tags,
            }),
            not_before_ms: None,
        })
        .await?;
    if let Some(outbox_id) = outbox_id {
        db::feedback::set_outbox(&data.pool, id, outbox_id).await?;
    }
    crate::features::feedback::schedule_sla_check(
        &data.pool,
        &data.config,
        guild_id,
        id,
        unix_now(),
    )
    .await?;
    data.scheduler.wake();
    Ok(id)
}

/// Makes sure a forum has an item's tags (creating missing ones when the bot may manage the
/// forum) and returns the ids to apply. Without the permission, the tags that exist are used and
/// the refusal is logged: tags are a convenience, the item itself must not be lost.
async fn forum_tags(http: &serenity::Http, forum: u64, category: &str, status: Status) -> Vec<u64> {
    let wanted = feedback::wanted_tags(category, status);
    let forum_id = ChannelId::new(forum);
    let existing = match http.get_channel(forum_id).await {
        Ok(serenity::Channel::Guild(c)) => c.available_tags,
        Ok(_) => return Vec::new(),
        Err(err) => {
            warn!(forum, error = %err, "cannot read the feedback forum's tags");
            return Vec::new();
        }
    };
    let names = |tags: &[serenity::ForumTag]| -> Vec<(u64, String)> {
        tags.iter().map(|t| (t.id.get(), t.name.clone())).collect()
    };
    let plan = feedback::tag_plan(&names(&existing), &wanted);
    if plan.create.is_empty() {
        return plan.apply;
    }
    let mut tags: Vec<serde_json::Value> = existing
        .iter()
        .filter_map(|t| serde_json::to_value(t).ok())
        .collect();
    tags.extend(plan.create.iter().map(|name| json!({ "name": name })));
    match http
        .edit_channel(
            forum_id,
            &json!({ "available_tags": tags }),
            Some("Hearth feedback tags"),
        )
        .await
    {
        Ok(forum) => feedback::tag_plan(&names(&forum.available_tags), &wanted).apply,
        Err(err) => {
            warn!(forum = forum_id.get(), missing = ?plan.create, error = %err,
                "cannot create feedback tags on the forum (Manage Channels); using the tags that exist");
            plan.apply
        }
    }
}

/// Move an item along (acknowledged → planned → in-progress → shipped | declined)
#[poise::command(slash_command, ephemeral, check = "checks::manager")]
async fn status(
    ctx: Context<'_>,
    #[description = "Feedback number"] id: i64,
    #[description = "New status"] status: NewStatus,
    #[description = "A note for the submitter (posted publicly in the thread)"]
    #[max_length = 1000]
    note: Option<String>,
) -> Result<(), Error> {
    let guild_id = guild_id(ctx)?;
    let pool = &ctx.data().pool;
    let item = db::feedback::get(pool, guild_id, id)
        .await?
        .or_user(format!(
            "There is no feedback #{id}; `/feedback list` shows them."
        ))?;
    let status = Status::from(status);
    db::feedback::set_status(pool, guild_id, id, status.name(), unix_now()).await?;
    let text =
        posts::feedback_follow_up(id, &item.title, item.submitter(), status, note.as_deref());
    let thread = match item.outbox_id {
        Some(outbox) => db::feedback::thread_of(pool, outbox).await?,
        None => None,
    };
    // A deleted thread must not swallow the follow-up: check it, and fall back to the feedback
    // channel with a clear note to the manager.
    let exists = match thread {
        Some(t) => ctx.http().get_channel(ChannelId::new(t)).await.is_ok(),
        None => false,
    };
    let settings = ctx.data().settings(guild_id).await?;
    let mut tag_note = String::new();
    if let (Some(t), true, Some(forum)) =
        (thread, exists, settings.channel(ChannelPurpose::Feedback))
    {
        if feedback_channel(ctx, guild_id)
            .await
            .is_ok_and(|(_, is_forum)| is_forum)
        {
            let tags = forum_tags(ctx.http(), forum, &item.category, status).await;
            let applied = ctx
                .http()
                .edit_thread(
                    ChannelId::new(t),
                    &json!({ "applied_tags": tags.iter().map(u64::to_string).collect::<Vec<_>>() }),
                    Some("Hearth feedback status"),
                )
                .await;
            if let Err(err) = applied {
                warn!(thread = t, error = %err, "cannot update the feedback post's tags");
                tag_note = " (its forum tags could not be updated: the bot needs Manage Threads)"
                    .to_owned();
            }
        }
    }
    let (target, where_) = match (thread, exists, settings.channel(ChannelPurpose::Feedback)) {
        (Some(t), true, _) => (t, format!("in <#{t}>")),
        (_, _, Some(channel)) => (channel, format!("in <#{channel}> (the item's thread is gone, so the follow-up went to the feedback channel)")),
        _ => return Err(UserError(format!("Feedback #{id} is now **{status}**, but there is nowhere to post the follow-up: its thread is gone and no feedback channel is set.")).into()),
    };
    ctx.data()
        .outbox
        .message(
            guild_id,
            target,
            "feedback-follow-up",
            format!("feedback-status:{guild_id}:{id}:{}", ctx.id()),
            text,
        )
        .await?;
    if item.notify_dm {
        // Opted in at submission; one DM per change, through the outbox's DM throttle.
        ctx.data()
            .outbox
            .enqueue(NewPost {
                guild_id,
                channel_id: 0,
                kind: "feedback-dm".into(),
                dedup_key: format!("feedback-dm:{guild_id}:{id}:{}", ctx.id()),
                body: action_json(&Action::DirectMessage {
                    user_id: item.submitter(),
                    body: posts::feedback_dm(id, &item.title, status, note.as_deref()),
                    fallback_to_thread: false,
                }),
                not_before_ms: None,
            })
            .await?;
    }
    ctx.say(format!("Feedback #{id} is now **{status}**{tag_note}; the follow-up is posted {where_} and <@{}> is told there.", item.submitter()))
        .await?;
    Ok(())
}

/// List feedback items
#[poise::command(slash_command, ephemeral)]
async fn list(
    ctx: Context<'_>,
    #[description = "Only this status"] status: Option<String>,
    #[description = "Only this category"] category: Option<Category>,
) -> Result<(), Error> {
    let guild_id = guild_id(ctx)?;
    if let Some(s) = &status {
        s.parse::<Status>().map_err(UserError)?;
    }
    let items = db::feedback::list(
        &ctx.data().pool,
        guild_id,
        status.as_deref(),
        category.map(|c| c.name()),
        0,
    )
    .await?;
    let text = if items.is_empty() {
        "No feedback matches.".to_owned()
    } else {
        items
            .iter()
            .take(30)
            .map(|i| {
                format!(
                    "**#{}** [{}] {} · {} · <t:{}:R>",
                    i.id, i.status, i.title, i.category, i.created_at
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    ctx.say(posts::truncate(&text, posts::MESSAGE_LIMIT))
        .await?;
    Ok(())
}

/// Top themes, counts per status, time to acknowledge, items waiting past the SLA
#[poise::command(slash_command, ephemeral, check = "checks::manager")]
async fn report(
    ctx: Context<'_>,
    #[description = "How many days (default 30)"] days: Option<u32>,
) -> Result<(), Error> {
    let guild_id = guild_id(ctx)?;
    let since = unix_now() - i64::from(days.unwrap_or(30)) * 86_400;
    let items = db::feedback::list(&ctx.data().pool, guild_id, None, None, since).await?;
    let facts: Vec<ItemFacts> = items
        .iter()
        .filter_map(|i| {
            Some(ItemFacts {
                category: i.category.clone(),
                status: i.status.parse().ok()?,
                created_at: i.created_at,
                acknowledged_at: i.acknowledged_at,
            })
        })
        .collect();
    let sla = i64::from(ctx.data().config.feedback.sla_days) * 86_400;
    let r = feedback::report(&facts, unix_now(), sla);
    ctx.send(
        poise::CreateReply::default().embed(embeds::feedback_report_embed(
            &r,
            days.unwrap_or(30),
            ctx.data().config.feedback.sla_days,
        )),
    )
    .await?;
    Ok(())
}
