//! Surveys (product §10): `/survey nps|close|results|list`, and the answer flow: the wave's
//! Answer button → a 0-10 select menu (ephemeral) → a form for the comment → thanks. Handled
//! from custom ids, so it keeps working after a restart.

use poise::serenity_prelude::{
    self as serenity, ComponentInteraction, ComponentInteractionDataKind, CreateActionRow,
    CreateInputText, CreateInteractionResponse, CreateModal, CreateSelectMenu,
    CreateSelectMenuKind, CreateSelectMenuOption, InputTextStyle, ModalInteraction,
};

use crate::discord::checks::guild_id;
use crate::discord::components::{
    ephemeral, ephemeral_to_form, id_after, modal_value, private_message,
};
use crate::discord::{checks, Command, Context, Data, Error};
use crate::domain::clock::unix_now;
use crate::domain::surveys::Question;
use crate::error::UserError;
use crate::features::events;
use crate::features::surveys::{
    self as feature, FINISH, FORM, NPS_FOLLOW_UP, NPS_QUESTION, OPEN, PICK, SCORE, TEXTS,
};

/// The form field where a respondent chooses to put their name to a custom survey's answers.
const SIGN: &str = "sign";

pub fn commands() -> Vec<Command> {
    vec![survey()]
}

/// Surveys and NPS, anonymous by default
#[poise::command(
    slash_command,
    guild_only,
    default_member_permissions = "MANAGE_GUILD",
    check = "checks::manager",
    subcommands("nps", "create", "close", "results", "list"),
    subcommand_required
)]
pub async fn survey(_: Context<'_>) -> Result<(), Error> {
    Ok(())
}

/// Ask the NPS question and "one thing we could do better", anonymously
#[poise::command(slash_command, ephemeral)]
async fn nps(
    ctx: Context<'_>,
    #[description = "Where to post it (default: here)"]
    #[channel_types("Text")]
    channel: Option<serenity::GuildChannel>,
    #[description = "Title (default: Community check-in)"]
    #[max_length = 80]
    title: Option<String>,
    #[description = "Ask this many members active in the last 30 days by DM instead"]
    #[min = 1]
    #[max = 500]
    sample: Option<u32>,
    #[description = "Open a new wave on a schedule: quarterly, monthly, `fri 17:00`, `cron 0 10 1 */3 *`"]
    every: Option<String>,
) -> Result<(), Error> {
    let data = ctx.data();
    let new = feature::NewNps {
        guild_id: guild_id(ctx)?,
        channel: channel.map_or(ctx.channel_id().get(), |c| c.id.get()),
        created_by: ctx.author().id.get(),
        title: title.as_deref(),
        sample,
        every: every.as_deref(),
    };
    let reply =
        feature::start_nps(&data.pool, &data.config, &data.outbox, &new, unix_now()).await?;
    // A survey with `every` has a job now.
    data.scheduler.wake();
    ctx.say(reply).await?;
    Ok(())
}

/// A short custom survey (up to 5 questions: scale, choice, text), anonymous by default
#[allow(clippy::too_many_arguments)]
#[poise::command(slash_command, ephemeral)]
async fn create(
    ctx: Context<'_>,
    #[description = "Title"]
    #[max_length = 80]
    title: String,
    #[description = "`scale: How was onboarding?` · `choice: Which day? | Mon | Wed` · `text: Anything else?`"]
    q1: String,
    #[description = "A second question"] q2: Option<String>,
    #[description = "A third question"] q3: Option<String>,
    #[description = "A fourth question"] q4: Option<String>,
    #[description = "A fifth question"] q5: Option<String>,
    #[description = "Where to post it (default: here)"]
    #[channel_types("Text")]
    channel: Option<serenity::GuildChannel>,
    #[description = "Ask this many members active in the last 30 days by DM instead"]
    #[min = 1]
    #[max = 500]
    sample: Option<u32>,
    #[description = "Open a new wave on a schedule: quarterly, monthly, `fri 17:00`, `cron 0 10 1 */3 *`"]
    every: Option<String>,
) -> Result<(), Error> {
    let data = ctx.data();
    let mut questions = vec![q1.as_str()];
    questions.extend(
        [&q2, &q3, &q4, &q5]
            .into_iter()
            .flatten()
            .map(String::as_str),
    );
    let new = feature::NewCustom {
        guild_id: guild_id(ctx)?,
        channel: channel.map_or(ctx.channel_id().get(), |c| c.id.get()),
        created_by: ctx.author().id.get(),
        title: &title,
        questions,
        sample,
        every: every.as_deref(),
    };
    let reply =
        feature::start_custom(&data.pool, &data.config, &data.outbox, &new, unix_now()).await?;
    data.scheduler.wake();
    ctx.say(reply).await?;
    Ok(())
}

/// Close a survey's open wave (its answers can then no longer be traced to anyone)
#[poise::command(slash_command, ephemeral)]
async fn close(ctx: Context<'_>, #[description = "Survey number"] id: i64) -> Result<(), Error> {
    let text = feature::close(&ctx.data().pool, guild_id(ctx)?, id, unix_now()).await?;
    ctx.say(text).await?;
    Ok(())
}

/// NPS with its margin of error, response rate, segments and comments (no names)
#[poise::command(slash_command, ephemeral)]
async fn results(ctx: Context<'_>, #[description = "Survey number"] id: i64) -> Result<(), Error> {
    let results = feature::results(&ctx.data().pool, guild_id(ctx)?, id).await?;
    let mut reply = poise::CreateReply::default().content(results.text);
    if let Some(png) = results.chart {
        reply = reply.attachment(serenity::CreateAttachment::bytes(png, "nps.png"));
    }
    ctx.send(reply).await?;
    Ok(())
}

/// The server's surveys
#[poise::command(slash_command, ephemeral)]
async fn list(ctx: Context<'_>) -> Result<(), Error> {
    let text = feature::list(&ctx.data().pool, guild_id(ctx)?).await?;
    ctx.say(text).await?;
    Ok(())
}

/// The Answer button (→ the score menu) and the score menu (→ the comment form).
pub async fn on_component(
    ctx: &serenity::Context,
    data: &Data,
    interaction: &ComponentInteraction,
) -> Result<bool, Error> {
    let custom_id = interaction.data.custom_id.as_str();
    // None in a DM (a sampled wave): the wave says which server it belongs to.
    let guild_id = interaction.guild_id.map(|g| g.get());
    let user = interaction.user.id.get();
    if let Some(wave) = [OPEN, PICK, FINISH, SCORE]
        .iter()
        .find_map(|prefix| custom_id.strip_prefix(prefix))
        .and_then(|rest| rest.split(':').next()?.parse::<i64>().ok())
    {
        // An event's feedback is for its attendees only.
        if let Err(err) = events::may_answer(&data.pool, &data.config, wave, user, unix_now()).await
        {
            ephemeral(ctx, interaction, &err.downcast::<UserError>()?.0).await?;
            return Ok(true);
        }
    }
    if let Some(wave) = id_after(custom_id, OPEN) {
        match feature::custom_wave(&data.pool, guild_id, wave, unix_now()).await {
            Ok(Some((_, _, questions))) => {
                answer_menus(ctx, interaction, wave, &questions).await?;
                return Ok(true);
            }
            Ok(None) => {}
            Err(err) => {
                let text = err.downcast::<UserError>()?.0;
                ephemeral(ctx, interaction, &text).await?;
                return Ok(true);
            }
        }
        let options = (0..=10)
            .rev()
            .map(|n| {
                let label = match n {
                    10 => "10 · extremely likely".to_owned(),
                    0 => "0 · not at all likely".to_owned(),
                    n => n.to_string(),
                };
                CreateSelectMenuOption::new(label, n.to_string())
            })
            .collect();
        let menu = CreateSelectMenu::new(
            format!("{SCORE}{wave}"),
            CreateSelectMenuKind::String { options },
        )
        .placeholder("0 to 10");
        let message = private_message(&format!("{NPS_QUESTION} (anonymous)"))
            .components(vec![CreateActionRow::SelectMenu(menu)]);
        interaction
            .create_response(ctx, CreateInteractionResponse::Message(message))
            .await?;
        return Ok(true);
    }
    if let Some(rest) = custom_id.strip_prefix(PICK) {
        let Some((wave, index)) = rest
            .split_once(':')
            .and_then(|(w, i)| Some((w.parse::<i64>().ok()?, i.parse::<usize>().ok()?)))
        else {
            return Ok(false);
        };
        let value = match &interaction.data.kind {
            ComponentInteractionDataKind::StringSelect { values } => values.first().cloned(),
            _ => None,
        }
        .unwrap_or_default();
        let saved = feature::save_custom(
            &data.pool,
            &data.config,
            guild_id,
            wave,
            user,
            &[(index, value)],
            None,
            unix_now(),
        )
        .await;
        match saved {
            // The pick is kept; the menus stay as they are.
            Ok(()) => {
                interaction
                    .create_response(ctx, CreateInteractionResponse::Acknowledge)
                    .await?
            }
            Err(err) => ephemeral(ctx, interaction, &err.downcast::<UserError>()?.0).await?,
        }
        return Ok(true);
    }
    if let Some(wave) = id_after(custom_id, FINISH) {
        let questions = match feature::custom_wave(&data.pool, guild_id, wave, unix_now()).await {
            Ok(Some((_, _, questions))) => questions,
            Ok(None) => return Ok(false),
            Err(err) => {
                ephemeral(ctx, interaction, &err.downcast::<UserError>()?.0).await?;
                return Ok(true);
            }
        };
        let mut texts: Vec<CreateActionRow> = questions
            .iter()
            .enumerate()
            .filter(|(_, q)| !q.is_menu())
            .map(|(i, q)| {
                CreateActionRow::InputText(
                    CreateInputText::new(InputTextStyle::Paragraph, q.text(), format!("q{i}"))
                        .required(false)
                        .max_length(1000),
                )
            })
            .collect();
        // A form holds five fields: the choice to sign comes when there is room for it.
        if !texts.is_empty() && texts.len() < 5 {
            texts.push(CreateActionRow::InputText(
                CreateInputText::new(InputTextStyle::Short, "Put your name to it? (yes/no)", SIGN)
                    .required(false)
                    .value("no")
                    .max_length(3),
            ));
        }
        if texts.is_empty() {
            ephemeral(ctx, interaction, "Thank you! Your answers are saved, anonymously: nobody, managers included, can see they are yours.").await?;
        } else {
            let form = CreateModal::new(format!("{TEXTS}{wave}"), "Almost done").components(texts);
            interaction
                .create_response(ctx, CreateInteractionResponse::Modal(form))
                .await?;
        }
        return Ok(true);
    }
    if let Some(wave) = id_after(custom_id, SCORE) {
        let score = match &interaction.data.kind {
            ComponentInteractionDataKind::StringSelect { values } => {
                values.first().and_then(|v| v.parse::<u8>().ok())
            }
            _ => None,
        };
        let Some(score) = score.filter(|s| *s <= 10) else {
            ephemeral(ctx, interaction, "Pick a score from 0 to 10.").await?;
            return Ok(true);
        };
        let form =
            CreateModal::new(format!("{FORM}{wave}:{score}"), "One more thing").components(vec![
                CreateActionRow::InputText(
                    CreateInputText::new(InputTextStyle::Paragraph, NPS_FOLLOW_UP, "comment")
                        .required(false)
                        .max_length(1000),
                ),
                CreateActionRow::InputText(
                    CreateInputText::new(
                        InputTextStyle::Short,
                        "May a manager contact you? (yes/no)",
                        "contact",
                    )
                    .required(false)
                    .value("no")
                    .max_length(3),
                ),
            ]);
        interaction
            .create_response(ctx, CreateInteractionResponse::Modal(form))
            .await?;
        return Ok(true);
    }
    Ok(false)
}

/// A custom survey's menus (one per scale or choice question) and its Finish button.
pub async fn answer_menus(
    ctx: &serenity::Context,
    interaction: &ComponentInteraction,
    wave: i64,
    questions: &[Question],
) -> Result<(), Error> {
    let mut rows: Vec<CreateActionRow> = questions
        .iter()
        .enumerate()
        .filter_map(|(i, question)| {
            let options: Vec<CreateSelectMenuOption> = match question {
                Question::Scale { .. } => (1..=5)
                    .map(|n| CreateSelectMenuOption::new(n.to_string(), n.to_string()))
                    .collect(),
                Question::Choice { options, .. } => options
                    .iter()
                    .map(|o| CreateSelectMenuOption::new(o.clone(), o.clone()))
                    .collect(),
                Question::Text { .. } => return None,
            };
            let placeholder: String = question.text().chars().take(150).collect();
            Some(CreateActionRow::SelectMenu(
                CreateSelectMenu::new(
                    format!("{PICK}{wave}:{i}"),
                    CreateSelectMenuKind::String { options },
                )
                .placeholder(placeholder),
            ))
        })
        .collect();
    rows.push(CreateActionRow::Buttons(vec![serenity::CreateButton::new(
        format!("{FINISH}{wave}"),
    )
    .label("Finish")
    .style(serenity::ButtonStyle::Success)]));
    let message = private_message("Pick your answers (anonymous), then Finish.").components(rows);
    interaction
        .create_response(ctx, CreateInteractionResponse::Message(message))
        .await?;
    Ok(())
}

/// The comment form: stores the answer and, for a detractor who asked to be contacted, opens
/// a feedback item with the comment.
pub async fn on_modal(
    ctx: &serenity::Context,
    data: &Data,
    interaction: &ModalInteraction,
) -> Result<bool, Error> {
    if let Some(wave) = id_after(&interaction.data.custom_id, TEXTS) {
        let values: Vec<(usize, String)> = interaction
            .data
            .components
            .iter()
            .flat_map(|row| row.components.iter())
            .filter_map(|c| match c {
                serenity::ActionRowComponent::InputText(input) => Some((
                    input.custom_id.strip_prefix('q')?.parse().ok()?,
                    input.value.clone().unwrap_or_default(),
                )),
                _ => None,
            })
            .collect();
        let guild_id = interaction.guild_id.map(|g| g.get());
        let user = interaction.user.id.get();
        let signed = modal_value(interaction, SIGN)
            .is_some_and(|c| matches!(c.trim().to_lowercase().as_str(), "yes" | "y"));
        let saved = match events::may_answer(&data.pool, &data.config, wave, user, unix_now()).await
        {
            Ok(()) => {
                feature::save_custom(
                    &data.pool,
                    &data.config,
                    guild_id,
                    wave,
                    user,
                    &values,
                    Some(signed),
                    unix_now(),
                )
                .await
            }
            Err(err) => Err(err),
        };
        let text = match saved {
            Ok(()) if signed => "Thank you! Your answers are saved with your name, as you chose. Answering again replaces them.".to_owned(),
            Ok(()) => "Thank you! Your answers are saved, anonymously: nobody, managers included, can see they are yours. Answering again replaces them.".to_owned(),
            Err(err) => err.downcast::<UserError>()?.0,
        };
        ephemeral_to_form(ctx, interaction, &text).await?;
        return Ok(true);
    }
    let Some(rest) = interaction.data.custom_id.strip_prefix(FORM) else {
        return Ok(false);
    };
    let Some((wave, score)) = rest
        .split_once(':')
        .and_then(|(w, s)| Some((w.parse::<i64>().ok()?, s.parse::<u8>().ok()?)))
    else {
        return Ok(false);
    };
    let guild_id = interaction.guild_id.map(|g| g.get());
    let user = interaction.user.id.get();
    let contact = modal_value(interaction, "contact")
        .is_some_and(|c| matches!(c.trim().to_lowercase().as_str(), "yes" | "y"));
    let answered = feature::answer(
        &data.pool,
        &data.config,
        guild_id,
        wave,
        user,
        score,
        modal_value(interaction, "comment").as_deref(),
        contact,
        unix_now(),
    )
    .await;
    let text = match answered {
        Ok(answered) => {
            if let Some(item) = &answered.feedback {
                let guild_id = answered.guild_id;
                match super::feedback::open_in_feedback_channel(ctx, data, guild_id, item).await {
                    Ok(id) => feature::contact_item(&data.pool, wave, user, id).await?,
                    // No feedback channel: the contact is recorded; managers see it in results.
                    Err(err) => {
                        tracing::warn!(guild.id = guild_id, error = %err, "a survey contact's comment could not become a feedback item")
                    }
                }
            }
            answered.reply
        }
        Err(err) => err.downcast::<UserError>()?.0,
    };
    ephemeral_to_form(ctx, interaction, &text).await?;
    Ok(true)
}
