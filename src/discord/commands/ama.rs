//! AMAs (product §5): a Discord scheduled event and a question post with an "Ask a question"
//! button; questions by modal (optionally anonymous to members), upvotes that toggle, the host's
//! queue, answers, and a recap that ends the event. Buttons are handled from their custom ids,
//! so they keep working after a restart.

use chrono::{Duration, NaiveDateTime, TimeZone, Utc};
use poise::serenity_prelude::{
    self as serenity, ComponentInteraction, CreateActionRow, CreateInputText,
    CreateInteractionResponse, CreateInteractionResponseMessage, CreateModal, InputTextStyle,
    Member, ModalInteraction,
};
use serde_json::json;

use crate::db::{self, outbox::NewPost};
use crate::discord::checks::guild_id;
use crate::discord::components::{ephemeral, id_after, modal_value};
use crate::discord::{checks, Command, Context, Data, Error};
use crate::domain::clock::unix_now;
use crate::domain::settings::ChannelPurpose;
use crate::error::{OrUser, UserError};
use crate::outbox::posts;
use crate::outbox::{action_json, Action};

pub fn commands() -> Vec<Command> {
    vec![ama()]
}

const ASK: &str = "hearth:ama:ask:";
const QUESTION: &str = "hearth:ama:question:";
const VOTE: &str = "hearth:ama:vote:";

/// Ask-me-anything sessions
#[poise::command(
    slash_command,
    guild_only,
    subcommands("create", "ask", "queue", "answer", "close", "list"),
    subcommand_required
)]
pub async fn ama(_: Context<'_>) -> Result<(), Error> {
    Ok(())
}

/// Create an AMA: a Discord event and a question post with an "Ask a question" button
#[poise::command(slash_command, ephemeral, check = "checks::manager")]
async fn create(
    ctx: Context<'_>,
    #[description = "Title"]
    #[max_length = 90]
    title: String,
    #[description = "Who answers"] host: Member,
    #[description = "Start, server time: YYYY-MM-DD HH:MM"] start: String,
    #[description = "Minutes (default 60)"] duration: Option<u32>,
    #[description = "What it is about"]
    #[max_length = 900]
    description: Option<String>,
) -> Result<(), Error> {
    let guild_id = guild_id(ctx)?;
    let settings = ctx.data().settings(guild_id).await?;
    let channel = settings
        .channel(ChannelPurpose::Ama)
        .or_user("There is no AMA channel: `/config channel purpose:ama` sets one.")?;
    let local = NaiveDateTime::parse_from_str(start.trim(), "%Y-%m-%d %H:%M").map_err(|_| {
        UserError(format!(
            "start: `{start}` is not a date and time like 2026-12-01 18:00 (server time, {}).",
            settings.timezone.name()
        ))
    })?;
    let start_at = crate::domain::schedule::resolve(local, settings.timezone);
    if start_at <= crate::domain::clock::now() {
        return Err(UserError(
            "start: that time has passed; Discord events must start in the future.".into(),
        )
        .into());
    }
    let end_at = start_at + Duration::minutes(i64::from(duration.unwrap_or(60).clamp(5, 24 * 60)));
    let pool = &ctx.data().pool;
    let id = db::ama::create(
        pool,
        guild_id,
        &title,
        host.user.id.get(),
        channel,
        start_at.timestamp(),
        end_at.timestamp(),
        unix_now(),
    )
    .await?;
    let event = json!({
        "name": format!("AMA: {title}"),
        "privacy_level": 2,
        "scheduled_start_time": start_at.to_rfc3339(),
        "scheduled_end_time": end_at.to_rfc3339(),
        "entity_type": 3,
        "entity_metadata": { "location": format!("#{} on Discord", ctx.guild().and_then(|g| g.channels.get(&channel.into()).map(|c| c.name.clone())).unwrap_or_else(|| "ama".into())) },
        "description": description.clone().unwrap_or_default(),
    });
    let created = ctx
        .http()
        .create_scheduled_event(
            guild_id.into(),
            &event,
            Some("AMA created with /ama create"),
        )
        .await;
    let event_note = match created {
        Ok(event) => {
            db::ama::set_event(pool, id, event.id.get()).await?;
            "The Discord event is created.".to_owned()
        }
        Err(err) => {
            tracing::warn!(guild.id = guild_id, error = %err, "could not create the AMA's scheduled event");
            format!("The Discord event could not be created ({}); give the bot Create Events (`/config doctor`).", crate::discord::errors::short_reason(&err))
        }
    };
    let body = posts::ama_post(
        id,
        &title,
        host.user.id.get(),
        start_at.timestamp(),
        description.as_deref(),
        &format!("{ASK}{id}"),
    );
    queue_post(
        ctx.data(),
        guild_id,
        channel,
        "ama",
        format!("ama:{guild_id}:{id}"),
        body,
    )
    .await?;
    ctx.say(format!("AMA #{id} **{title}** with <@{}> <t:{}:F>. {event_note} The question post is going up in <#{channel}>.", host.user.id.get(), start_at.timestamp()))
        .await?;
    Ok(())
}

async fn queue_post(
    data: &Data,
    guild_id: u64,
    channel: u64,
    kind: &str,
    key: String,
    body: serde_json::Value,
) -> Result<(), Error> {
    data.outbox
        .enqueue(NewPost {
            guild_id,
            channel_id: channel,
            kind: kind.into(),
            dedup_key: key,
            body: action_json(&Action::Message { body, thread: None }),
            not_before_ms: None,
        })
        .await?;
    Ok(())
}

/// Open AMAs of a guild, newest first.
async fn open_amas(data: &Data, guild_id: u64) -> Result<Vec<db::ama::Ama>, Error> {
    let mut all = db::ama::list(&data.pool, guild_id).await?;
    all.retain(|a| a.status == "open");
    Ok(all)
}

async fn autocomplete_open(
    ctx: Context<'_>,
    partial: &str,
) -> serenity::CreateAutocompleteResponse {
    let amas = match ctx.guild_id() {
        Some(guild) => open_amas(ctx.data(), guild.get()).await.unwrap_or_default(),
        None => Vec::new(),
    };
    let needle = partial.trim().trim_start_matches('#').to_lowercase();
    let choices = amas
        .iter()
        .filter(|a| {
            a.id.to_string().starts_with(&needle) || a.title.to_lowercase().contains(&needle)
        })
        .take(25)
        .map(|a| {
            let name: String = format!("#{} {}", a.id, a.title).chars().take(100).collect();
            serenity::AutocompleteChoice::new(name, a.id)
        })
        .collect();
    serenity::CreateAutocompleteResponse::new().set_choices(choices)
}

/// Ask a question in an AMA (optionally anonymous)
#[poise::command(slash_command)]
async fn ask(
    ctx: Context<'_>,
    #[description = "Which AMA (default: the one that is open)"]
    #[autocomplete = "autocomplete_open"]
    ama: Option<i64>,
) -> Result<(), Error> {
    let guild_id = guild_id(ctx)?;
    let open = open_amas(ctx.data(), guild_id).await?;
    let id = match (ama, open.as_slice()) {
        (Some(id), _) if open.iter().any(|a| a.id == id) => id,
        (Some(id), _) => {
            let known = db::ama::get(&ctx.data().pool, guild_id, id).await?;
            return Err(UserError(match known {
                Some(_) => format!("AMA #{id} is closed; `/ama list` shows the others."),
                None => format!("There is no AMA #{id}; `/ama list` shows them."),
            })
            .into());
        }
        (None, [only]) => only.id,
        (None, []) => {
            return Err(UserError("No AMA is open for questions right now.".into()).into())
        }
        (None, several) => {
            let names: Vec<String> = several
                .iter()
                .map(|a| format!("#{} {}", a.id, a.title))
                .collect();
            return Err(UserError(format!(
                "Several AMAs are open ({}): choose one with the `ama` option.",
                names.join(", ")
            ))
            .into());
        }
    };
    let poise::Context::Application(app) = ctx else {
        return Err(UserError("`/ama ask` is a slash command.".into()).into());
    };
    app.interaction
        .create_response(
            ctx.serenity_context(),
            CreateInteractionResponse::Modal(question_modal(id)),
        )
        .await?;
    // The modal is the answer; poise must not try another one (e.g. from its error handler).
    app.has_sent_initial_response
        .store(true, std::sync::atomic::Ordering::SeqCst);
    Ok(())
}

/// The question form, for the "Ask a question" button and `/ama ask`; its submission is
/// handled by [`on_modal`] from the custom id, so it works the same from either.
fn question_modal(id: i64) -> CreateModal {
    CreateModal::new(format!("{QUESTION}{id}"), "Ask a question").components(vec![
        CreateActionRow::InputText(
            CreateInputText::new(InputTextStyle::Paragraph, "Your question", "question")
                .max_length(1000),
        ),
        CreateActionRow::InputText(
            CreateInputText::new(InputTextStyle::Short, "Anonymous? (yes/no)", "anonymous")
                .required(false)
                .value("no")
                .max_length(3),
        ),
    ])
}

async fn own_ama(ctx: Context<'_>, id: i64) -> Result<db::ama::Ama, Error> {
    db::ama::get(&ctx.data().pool, guild_id(ctx)?, id)
        .await?
        .or_user(format!("There is no AMA #{id}; `/ama list` shows them."))
}

async fn host_or_manager(ctx: Context<'_>, ama: &db::ama::Ama) -> Result<(), Error> {
    if db::from_sql_id(ama.host_id) == ctx.author().id.get()
        || checks::manager(ctx).await.unwrap_or(false)
    {
        Ok(())
    } else {
        Err(UserError("Only the host and community managers can do this.".into()).into())
    }
}

/// Open questions by votes (host and managers)
#[poise::command(slash_command, ephemeral, rename = "queue")]
async fn queue(ctx: Context<'_>, #[description = "AMA number"] id: i64) -> Result<(), Error> {
    let ama = own_ama(ctx, id).await?;
    host_or_manager(ctx, &ama).await?;
    let is_manager = checks::manager(ctx).await.unwrap_or(false);
    let questions = db::ama::questions(&ctx.data().pool, ama.id).await?;
    let open: Vec<String> = questions
        .iter()
        .filter(|q| q.answered_at.is_none())
        .map(|q| {
            let who = match (q.anonymous, is_manager) {
                (false, _) => format!("<@{}>", q.author()),
                (true, true) => format!("anonymous (<@{}>, only managers see this)", q.author()),
                (true, false) => "anonymous".to_owned(),
            };
            format!(
                "**Q{}** · {} vote(s) · {who}\n> {}",
                q.id,
                q.votes,
                q.text.replace('\n', "\n> ")
            )
        })
        .collect();
    let text = if open.is_empty() {
        "No open questions.".to_owned()
    } else {
        open.join("\n")
    };
    ctx.say(posts::truncate(
        &format!("**{}: open questions**\n{text}", ama.title),
        posts::MESSAGE_LIMIT,
    ))
    .await?;
    Ok(())
}

/// Mark a question answered and post the question with its answer
#[poise::command(slash_command, ephemeral)]
async fn answer(
    ctx: Context<'_>,
    #[description = "Question number (Q…)"] question: i64,
    #[description = "The answer, if it should be posted in writing"]
    #[max_length = 1800]
    answer: Option<String>,
) -> Result<(), Error> {
    let guild_id = guild_id(ctx)?;
    let (ama, q) = db::ama::question(&ctx.data().pool, guild_id, question)
        .await?
        .or_user(format!("There is no question Q{question}."))?;
    host_or_manager(ctx, &ama).await?;
    db::ama::answer(&ctx.data().pool, q.id, answer.as_deref(), unix_now()).await?;
    let body = posts::ama_answer(
        &q.text,
        (!q.anonymous).then_some(q.author()),
        answer.as_deref(),
        db::from_sql_id(ama.host_id),
    );
    queue_post(
        ctx.data(),
        guild_id,
        db::from_sql_id(ama.channel_id),
        "ama-answer",
        format!("ama-answer:{}:{}", q.id, ctx.id()),
        body,
    )
    .await?;
    ctx.say(format!("Q{} marked answered.", q.id)).await?;
    Ok(())
}

/// Close an AMA: post the recap and end the Discord event
#[poise::command(slash_command, ephemeral, check = "checks::manager")]
async fn close(ctx: Context<'_>, #[description = "AMA number"] id: i64) -> Result<(), Error> {
    let guild_id = guild_id(ctx)?;
    let ama = own_ama(ctx, id).await?;
    if !db::ama::close(&ctx.data().pool, ama.id).await? {
        return Err(UserError(format!("AMA #{id} is already closed.")).into());
    }
    let questions = db::ama::questions(&ctx.data().pool, ama.id).await?;
    let body = posts::ama_recap(&ama.title, db::from_sql_id(ama.host_id), &questions);
    queue_post(
        ctx.data(),
        guild_id,
        db::from_sql_id(ama.channel_id),
        "ama-recap",
        format!("ama-recap:{}", ama.id),
        body,
    )
    .await?;
    if let Some(event) = ama.event_id {
        // Completed once it started; cancelled if it never did (Discord's allowed transitions).
        let status = if Utc
            .timestamp_opt(ama.start_at, 0)
            .single()
            .is_some_and(|s| s <= crate::domain::clock::now())
        {
            3
        } else {
            4
        };
        let result = ctx
            .http()
            .edit_scheduled_event(
                guild_id.into(),
                serenity::ScheduledEventId::new(db::from_sql_id(event)),
                &json!({ "status": status }),
                None,
            )
            .await;
        if let Err(err) = result {
            tracing::warn!(guild.id = guild_id, error = %err, "could not end the AMA's scheduled event");
        }
    }
    ctx.say(format!("AMA #{id} closed; the recap is being posted."))
        .await?;
    Ok(())
}

/// AMAs of this server
#[poise::command(slash_command, ephemeral)]
async fn list(ctx: Context<'_>) -> Result<(), Error> {
    let rows = db::ama::list(&ctx.data().pool, guild_id(ctx)?).await?;
    let text = if rows.is_empty() {
        "No AMAs yet.".to_owned()
    } else {
        rows.iter()
            .map(|a| {
                format!(
                    "**#{}** {} with <@{}> · <t:{}:F> · {}",
                    a.id,
                    a.title,
                    db::from_sql_id(a.host_id),
                    a.start_at,
                    a.status
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    ctx.say(posts::truncate(&text, posts::MESSAGE_LIMIT))
        .await?;
    Ok(())
}

/// "Ask a question" and upvote buttons.
pub async fn on_button(
    ctx: &serenity::Context,
    data: &Data,
    interaction: &ComponentInteraction,
) -> Result<bool, Error> {
    let custom_id = interaction.data.custom_id.as_str();
    let Some(guild_id) = interaction.guild_id.map(|g| g.get()) else {
        return Ok(false);
    };
    if let Some(id) = id_after(custom_id, ASK) {
        let open = db::ama::get(&data.pool, guild_id, id)
            .await?
            .is_some_and(|a| a.status == "open");
        if !open {
            ephemeral(ctx, interaction, "This AMA is closed.").await?;
            return Ok(true);
        }
        let modal = question_modal(id);
        interaction
            .create_response(ctx, CreateInteractionResponse::Modal(modal))
            .await?;
        return Ok(true);
    }
    if let Some(question) = id_after(custom_id, VOTE) {
        let (voted, total) =
            db::ama::toggle_vote(&data.pool, question, interaction.user.id.get()).await?;
        let text = if voted {
            format!("Upvoted (Q{question} has {total} vote(s)). Click again to take it back.")
        } else {
            format!("Vote removed (Q{question} has {total} vote(s)).")
        };
        ephemeral(ctx, interaction, &text).await?;
        return Ok(true);
    }
    Ok(false)
}

/// A question from the "Ask a question" modal.
pub async fn on_modal(
    ctx: &serenity::Context,
    data: &Data,
    interaction: &ModalInteraction,
) -> Result<bool, Error> {
    let Some(id) = id_after(&interaction.data.custom_id, QUESTION) else {
        return Ok(false);
    };
    let Some(guild_id) = interaction.guild_id.map(|g| g.get()) else {
        return Ok(true);
    };
    let Some(ama) = db::ama::get(&data.pool, guild_id, id)
        .await?
        .filter(|a| a.status == "open")
    else {
        return Ok(true);
    };
    let text = modal_value(interaction, "question").unwrap_or_default();
    let anonymous = modal_value(interaction, "anonymous").is_some_and(|v| {
        v.trim().eq_ignore_ascii_case("yes") || v.trim().eq_ignore_ascii_case("y")
    });
    let author = interaction.user.id.get();
    let qid = db::ama::ask(
        &data.pool,
        ama.id,
        author,
        anonymous,
        text.trim(),
        unix_now(),
    )
    .await?;
    let body = posts::ama_question(
        qid,
        &text,
        (!anonymous).then_some(author),
        &format!("{VOTE}{qid}"),
    );
    queue_post(
        data,
        guild_id,
        db::from_sql_id(ama.channel_id),
        "ama-question",
        format!("ama-question:{qid}"),
        body,
    )
    .await?;
    let note = if anonymous {
        " Members will not see who asked; managers can, for moderation."
    } else {
        ""
    };
    let message = CreateInteractionResponseMessage::new()
        .content(format!("Your question Q{qid} is in.{note}"))
        .ephemeral(true);
    interaction
        .create_response(ctx, CreateInteractionResponse::Message(message))
        .await?;
    Ok(true)
}
