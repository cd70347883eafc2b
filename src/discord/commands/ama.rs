//! AMAs (product §5): a Discord scheduled event and a question post with an "Ask a question"
//! button; questions by modal (optionally anonymous to members), upvotes that toggle, the host's
//! queue, answers, and a recap that ends the event. Buttons are handled from their custom ids,
//! so they keep working after a restart.

use poise::serenity_prelude::{
    self as serenity, ComponentInteraction, CreateActionRow, CreateInputText,
    CreateInteractionResponse, CreateModal, InputTextStyle, Member, ModalInteraction,
};
use serde_json::json;

use crate::db;
use crate::discord::checks::guild_id;
use crate::discord::components::{ephemeral, ephemeral_to_form, id_after, modal_value};
use crate::discord::errors::short_reason;
use crate::discord::{checks, Command, Context, Data, Error};
use crate::domain::clock::unix_now;
use crate::error::UserError;
use crate::features::ama::{self as feature, ASK, QUESTION, VOTE};
use crate::outbox::posts;

pub fn commands() -> Vec<Command> {
    vec![ama()]
}

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
    let data = ctx.data();
    let new = feature::NewAma {
        title: &title,
        host: host.user.id.get(),
        start: &start,
        duration_minutes: duration,
        description: description.as_deref(),
    };
    let draft = feature::create(&data.pool, &data.config, guild_id, &new, unix_now()).await?;
    let event = create_event(ctx, &draft).await;
    let reply = feature::announce(&data.pool, &data.outbox, &draft, event).await?;
    ctx.say(reply).await?;
    Ok(())
}

/// Creates the AMA's Discord scheduled event; returns its id.
async fn create_event(
    ctx: Context<'_>,
    draft: &feature::Draft,
) -> Result<u64, feature::EventError> {
    let channel_name = ctx.guild().and_then(|g| {
        g.channels
            .get(&draft.channel.into())
            .map(|c| c.name.clone())
    });
    ctx.http()
        .create_scheduled_event(
            draft.guild_id.into(),
            &draft.event_body(channel_name.as_deref()),
            Some("AMA created with /ama create"),
        )
        .await
        .map(|event| event.id.get())
        .map_err(|err| feature::EventError {
            error: err.to_string(),
            reason: short_reason(&err),
        })
}

async fn autocomplete_open(
    ctx: Context<'_>,
    partial: &str,
) -> serenity::CreateAutocompleteResponse {
    let amas = match ctx.guild_id() {
        Some(guild) => feature::open_amas(&ctx.data().pool, guild.get())
            .await
            .unwrap_or_default(),
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
    let id = feature::open_for_question(&ctx.data().pool, guild_id(ctx)?, ama).await?;
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
    let ama = feature::get(&ctx.data().pool, guild_id(ctx)?, id).await?;
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
    let data = ctx.data();
    let (ama, q) = feature::question(&data.pool, guild_id(ctx)?, question).await?;
    host_or_manager(ctx, &ama).await?;
    let reply = feature::answer(
        &data.pool,
        &data.outbox,
        &ama,
        &q,
        answer.as_deref(),
        ctx.id(),
        unix_now(),
    )
    .await?;
    ctx.say(reply).await?;
    Ok(())
}

/// Close an AMA: post the recap and end the Discord event
#[poise::command(slash_command, ephemeral, check = "checks::manager")]
async fn close(ctx: Context<'_>, #[description = "AMA number"] id: i64) -> Result<(), Error> {
    let guild_id = guild_id(ctx)?;
    let data = ctx.data();
    let event = feature::close(&data.pool, &data.outbox, guild_id, id, unix_now()).await?;
    if let Some(event) = event {
        let result = ctx
            .http()
            .edit_scheduled_event(
                guild_id.into(),
                serenity::ScheduledEventId::new(event.event_id),
                &json!({ "status": event.status }),
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
    let text = modal_value(interaction, "question").unwrap_or_default();
    let question = feature::NewQuestion {
        guild_id,
        ama_id: id,
        author: interaction.user.id.get(),
        text: &text,
        anonymous: feature::wants_anonymity(modal_value(interaction, "anonymous").as_deref()),
    };
    // A form sent after the AMA closed gets no answer.
    let Some(reply) = feature::ask(&data.pool, &data.outbox, &question, unix_now()).await? else {
        return Ok(true);
    };
    ephemeral_to_form(ctx, interaction, &reply).await?;
    Ok(true)
}
