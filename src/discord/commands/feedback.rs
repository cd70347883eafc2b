//! `/feedback` and the "Tag as feedback" message command: the close-the-loop protocol
//! (acknowledge publicly → take private → follow up publicly), product §5.

use poise::serenity_prelude::{self as serenity, ChannelId, GuildId};
use poise::{ChoiceParameter as _, Modal as _};

use crate::db;
use crate::discord::checks::guild_id;
use crate::discord::{checks, embeds, Command, Context, Data, Error};
use crate::domain::clock::unix_now;
use crate::domain::feedback::{self, ItemFacts, Status};
use crate::error::UserError;
use crate::features::feedback::{self as feature, NewItem, Place, StatusChange, ThreadCheck};
use crate::outbox::posts;
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
    let item = NewItem::submitted(
        ctx.author().id.get(),
        category.name(),
        &form.title,
        &form.details,
        dm_updates == Some(true),
    );
    let id = open_item(ctx.data(), ctx.http(), guild_id, channel, forum, &item).await?;
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
    let item = NewItem::tagged(
        guild_id,
        (message.channel_id.get(), message.id.get()),
        message.author.id.get(),
        &message.author.name,
        ctx.author().id.get(),
    );
    let id = open_item(ctx.data(), ctx.http(), guild_id, channel, forum, &item).await?;
    ctx.say(format!("Feedback #{id} opened in <#{channel}>."))
        .await?;
    Ok(())
}

/// The feedback channel and whether it is a forum.
async fn feedback_channel(ctx: Context<'_>, guild_id: u64) -> Result<(u64, bool), Error> {
    channel_of(ctx.serenity_context(), ctx.data(), guild_id).await
}

async fn channel_of(
    ctx: &serenity::Context,
    data: &Data,
    guild_id: u64,
) -> Result<(u64, bool), Error> {
    let channel = feature::channel(&data.pool, &data.config, guild_id).await?;
    let forum = ctx
        .cache
        .guild(GuildId::new(guild_id))
        .and_then(|g| {
            g.channels
                .get(&ChannelId::new(channel))
                .map(|c| c.kind == serenity::ChannelType::Forum)
        })
        .unwrap_or(false);
    Ok((channel, forum))
}

/// Opens an item in the feedback channel from outside a command (a survey respondent's
/// comment); returns its id.
pub(crate) async fn open_in_feedback_channel(
    ctx: &serenity::Context,
    data: &Data,
    guild_id: u64,
    item: &NewItem,
) -> Result<i64, Error> {
    let (channel, forum) = channel_of(ctx, data, guild_id).await?;
    open_item(data, &ctx.http, guild_id, channel, forum, item).await
}

async fn open_item(
    data: &Data,
    http: &serenity::Http,
    guild_id: u64,
    channel: u64,
    forum: bool,
    item: &NewItem,
) -> Result<i64, Error> {
    let tags = if forum {
        forum_tags(http, channel, &item.category, Status::New).await
    } else {
        Vec::new()
    };
    let place = Place {
        guild_id,
        channel,
        forum,
        tags,
    };
    let (pool, config, outbox) = (&data.pool, &data.config, &data.outbox);
    let id = feature::open_item(pool, config, outbox, &place, item, unix_now()).await?;
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
    let data = ctx.data();
    let change = StatusChange {
        guild_id: guild_id(ctx)?,
        id,
        status: status.into(),
        note: note.as_deref(),
        interaction: ctx.id(),
    };
    let moved = feature::move_item(&data.pool, &change, unix_now()).await?;
    // A deleted thread must not swallow the follow-up: check it (the feature then falls back
    // to the feedback channel with a clear note to the manager).
    let exists = match moved.thread {
        Some(t) => ctx.http().get_channel(ChannelId::new(t)).await.is_ok(),
        None => false,
    };
    let tags_failed = match moved.thread {
        Some(t) if exists => {
            !retag(ctx, change.guild_id, t, &moved.item.category, change.status).await
        }
        _ => false,
    };
    let check = ThreadCheck {
        exists,
        tags_failed,
    };
    let (pool, config, outbox) = (&data.pool, &data.config, &data.outbox);
    let reply = feature::follow_up(pool, config, outbox, &change, &moved, &check).await?;
    ctx.say(reply).await?;
    Ok(())
}

/// Gives an item's forum post the tags of its new status (when the feedback channel is a
/// forum); false when Discord refused.
async fn retag(
    ctx: Context<'_>,
    guild_id: u64,
    thread: u64,
    category: &str,
    status: Status,
) -> bool {
    let Ok((forum, true)) = feedback_channel(ctx, guild_id).await else {
        return true;
    };
    let tags = forum_tags(ctx.http(), forum, category, status).await;
    let applied = ctx
        .http()
        .edit_thread(
            ChannelId::new(thread),
            &json!({ "applied_tags": tags.iter().map(u64::to_string).collect::<Vec<_>>() }),
            Some("Hearth feedback status"),
        )
        .await;
    if let Err(err) = applied {
        warn!(thread, error = %err, "cannot update the feedback post's tags");
        return false;
    }
    true
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
