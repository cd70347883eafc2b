//! Applications: `/apply` (a modal) → a review post with Approve/Decline buttons → the role and
//! the welcome, or a recorded decline reason told to the applicant when their DMs are open.
//! Buttons are handled from their custom ids, so they keep working after a restart.

use poise::serenity_prelude as serenity;
use poise::Modal as _;
use serenity::{
    ComponentInteraction, CreateActionRow, CreateInputText, CreateInteractionResponse,
    CreateInteractionResponseMessage, CreateModal, InputTextStyle, ModalInteraction,
};
use tracing::warn;

use crate::discord::checks::guild_id;
use crate::discord::components::{ephemeral, id_after, modal_value};
use crate::discord::errors::short_reason;
use crate::discord::{embeds, Command, Context, Data, Error};
use crate::domain::clock::unix_now;
use crate::features::applications::{self, Answer, Click, Submission};

pub fn commands() -> Vec<Command> {
    vec![apply()]
}

const DECLINE_REASON: &str = "hearth:application:reason:";

#[derive(Debug, poise::Modal)]
#[name = "Apply to join"]
struct ApplicationForm {
    #[name = "Why would you like to join?"]
    #[paragraph]
    #[max_length = 1000]
    why: String,
    #[name = "How did you find us?"]
    #[max_length = 300]
    found: Option<String>,
    #[name = "Anything else we should know?"]
    #[paragraph]
    #[max_length = 1000]
    more: Option<String>,
}

/// Apply for full membership; the community team reviews it
#[poise::command(slash_command, guild_only)]
pub async fn apply(ctx: poise::ApplicationContext<'_, Data, Error>) -> Result<(), Error> {
    let pctx = Context::Application(ctx);
    let guild_id = guild_id(pctx)?;
    let settings = ctx.data().settings(guild_id).await?;
    let user_id = ctx.author().id.get();
    let channel = applications::can_apply(&ctx.data().pool, &settings, user_id).await?;
    let Some(form) = ApplicationForm::execute(ctx).await? else {
        return Ok(());
    };
    let submission = Submission {
        guild_id,
        channel,
        user_id,
        username: &ctx.author().name,
        why: &form.why,
        found: form.found.as_deref(),
        more: form.more.as_deref(),
    };
    applications::submit(
        &ctx.data().pool,
        &ctx.data().outbox,
        &submission,
        unix_now(),
    )
    .await?;
    pctx.send(
        poise::CreateReply::default()
            .content("Thanks! Your application went to the community team.")
            .ephemeral(true),
    )
    .await?;
    Ok(())
}

/// A click on Approve/Decline under a review post.
pub async fn on_button(
    ctx: &serenity::Context,
    data: &Data,
    interaction: &ComponentInteraction,
) -> Result<bool, Error> {
    let Some((decision, id)) = applications::parse_button(&interaction.data.custom_id) else {
        return Ok(false);
    };
    let Some(guild_id) = interaction.guild_id.map(|g| g.get()) else {
        return Ok(true);
    };
    if !is_manager(data, guild_id, interaction.member.as_ref()).await? {
        let text = "Only community managers can decide applications.";
        ephemeral(ctx, interaction, text).await?;
        return Ok(true);
    }
    let (applicant, role) = match applications::click(&data.pool, guild_id, id, decision).await? {
        Click::Note(text) => {
            ephemeral(ctx, interaction, &text).await?;
            return Ok(true);
        }
        Click::AskReason => {
            // The answer arrives as a modal submit (see `on_modal`).
            let modal = CreateInteractionResponse::Modal(decline_modal(id));
            interaction.create_response(ctx, modal).await?;
            return Ok(true);
        }
        Click::Approve { applicant, role } => (applicant, role),
    };
    if let Some(role) = role {
        if !grant_role(ctx, interaction, guild_id, applicant, role).await? {
            return Ok(true);
        }
    }
    let manager = interaction.user.id.get();
    match applications::approve(&data.pool, guild_id, id, manager, unix_now()).await? {
        Answer::Note(text) => ephemeral(ctx, interaction, &text).await?,
        Answer::Decided(text) => {
            interaction.create_response(ctx, decided(text)).await?;
            crate::discord::members::welcome_approved(ctx, data, guild_id, applicant).await?;
        }
    }
    Ok(true)
}

/// The modal asking a manager why they decline.
fn decline_modal(id: i64) -> CreateModal {
    CreateModal::new(format!("{DECLINE_REASON}{id}"), "Decline application").components(vec![
        CreateActionRow::InputText(
            CreateInputText::new(
                InputTextStyle::Paragraph,
                "Reason (sent to the applicant by DM)",
                "reason",
            )
            .max_length(1000),
        ),
    ])
}

/// Gives the applicant the application role; on failure tells the manager how to fix it and
/// returns false.
async fn grant_role(
    ctx: &serenity::Context,
    interaction: &ComponentInteraction,
    guild_id: u64,
    applicant: u64,
    role: u64,
) -> Result<bool, Error> {
    let granted = ctx
        .http
        .add_member_role(
            guild_id.into(),
            applicant.into(),
            role.into(),
            Some("application approved"),
        )
        .await;
    let Err(err) = granted else {
        return Ok(true);
    };
    warn!(guild.id = guild_id, role.id = role, error = %err, "could not grant the application role");
    let text = applications::role_not_granted(role, applicant, &short_reason(&err));
    ephemeral(ctx, interaction, &text).await?;
    Ok(false)
}

/// The review post's new text, its buttons removed.
fn decided(text: String) -> CreateInteractionResponse {
    let message = CreateInteractionResponseMessage::new()
        .content(text)
        .components(Vec::new())
        .allowed_mentions(embeds::no_mentions());
    CreateInteractionResponse::UpdateMessage(message)
}

/// The decline reason from the modal opened by the Decline button.
pub async fn on_modal(
    ctx: &serenity::Context,
    data: &Data,
    interaction: &ModalInteraction,
) -> Result<bool, Error> {
    let Some(id) = id_after(&interaction.data.custom_id, DECLINE_REASON) else {
        return Ok(false);
    };
    let Some(guild_id) = interaction.guild_id.map(|g| g.get()) else {
        return Ok(true);
    };
    if !is_manager(data, guild_id, interaction.member.as_ref()).await? {
        return Ok(true);
    }
    let reason = modal_value(interaction, "reason").unwrap_or_default();
    let manager = interaction.user.id.get();
    let (pool, outbox) = (&data.pool, &data.outbox);
    let declined =
        applications::decline(pool, outbox, guild_id, id, manager, &reason, unix_now()).await?;
    if let Some(text) = declined {
        interaction.create_response(ctx, decided(text)).await?;
    }
    Ok(true)
}

async fn is_manager(
    data: &Data,
    guild_id: u64,
    member: Option<&serenity::Member>,
) -> Result<bool, Error> {
    let settings = data.settings(guild_id).await?;
    let Some(member) = member else {
        return Ok(false);
    };
    let roles: Vec<u64> = member.roles.iter().map(|r| r.get()).collect();
    Ok(settings.is_manager(member.permissions.map_or(0, |p| p.bits()), &roles))
}
