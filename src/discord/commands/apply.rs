//! Applications: `/apply` (a modal) → a review post with Approve/Decline buttons → the role and
//! the welcome, or a recorded decline reason told to the applicant when their DMs are open.
//! Buttons are handled from their custom ids, so they keep working after a restart.

use poise::serenity_prelude as serenity;
use poise::Modal as _;
use serenity::{
    ComponentInteraction, CreateActionRow, CreateInputText, CreateInteractionResponse,
    CreateInteractionResponseMessage, CreateModal, InputTextStyle, ModalInteraction,
};
use tracing::{info, warn};

use crate::db;
use crate::discord::checks::guild_id;
use crate::discord::components::{ephemeral, id_after, modal_value};
use crate::discord::{embeds, Command, Context, Data, Error};
use crate::domain::clock::unix_now;
use crate::domain::settings::ChannelPurpose;
use crate::error::{OrUser, UserError};
use crate::outbox::posts;
use crate::outbox::{action_json, Action};

pub fn commands() -> Vec<Command> {
    vec![apply()]
}

const APPROVE: &str = "hearth:application:approve:";
const DECLINE: &str = "hearth:application:decline:";
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
    let channel = settings.channel(ChannelPurpose::Applications).or_user(
        "Applications are not open here: a manager has not chosen an applications channel.",
    )?;
    let user_id = ctx.author().id.get();
    if db::applications::has_pending(&ctx.data().pool, guild_id, user_id).await? {
        return Err(UserError(
            "Your application is already waiting for the team; you will hear back.".into(),
        )
        .into());
    }
    let Some(form) = ApplicationForm::execute(ctx).await? else {
        return Ok(());
    };
    let id = db::applications::create(&ctx.data().pool, guild_id, user_id, unix_now()).await?;
    let answers: Vec<(&str, &str)> = [
        ("Why", Some(form.why.as_str())),
        ("Found us through", form.found.as_deref()),
        ("More", form.more.as_deref()),
    ]
    .into_iter()
    .filter_map(|(k, v)| Some((k, v.filter(|v| !v.trim().is_empty())?)))
    .collect();
    let body =
        posts::application_review(id, user_id, &ctx.author().name, &answers, APPROVE, DECLINE);
    ctx.data()
        .outbox
        .enqueue(db::outbox::NewPost {
            guild_id,
            channel_id: channel,
            kind: "application".into(),
            dedup_key: format!("application:{guild_id}:{id}"),
            body: action_json(&Action::Message { body, thread: None }),
            not_before_ms: None,
        })
        .await?;
    info!(
        guild.id = guild_id,
        application.id = id,
        "application submitted"
    );
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
    let custom_id = interaction.data.custom_id.as_str();
    let (approve, id) = if let Some(id) = custom_id.strip_prefix(APPROVE) {
        (true, id)
    } else if let Some(id) = custom_id.strip_prefix(DECLINE) {
        (false, id)
    } else {
        return Ok(false);
    };
    let Ok(id) = id.parse::<i64>() else {
        return Ok(false);
    };
    let Some(guild_id) = interaction.guild_id.map(|g| g.get()) else {
        return Ok(true);
    };
    if !is_manager(data, guild_id, interaction.member.as_ref()).await? {
        ephemeral(
            ctx,
            interaction,
            "Only community managers can decide applications.",
        )
        .await?;
        return Ok(true);
    }
    let Some(application) = db::applications::get(&data.pool, guild_id, id).await? else {
        ephemeral(ctx, interaction, "This application no longer exists.").await?;
        return Ok(true);
    };
    if application.status != "pending" {
        ephemeral(
            ctx,
            interaction,
            &format!("This application was already {}.", application.status),
        )
        .await?;
        return Ok(true);
    }
    if !approve {
        // Ask for the reason; the answer arrives as a modal submit (see `on_modal`).
        let modal = CreateModal::new(format!("{DECLINE_REASON}{id}"), "Decline application")
            .components(vec![CreateActionRow::InputText(
                CreateInputText::new(
                    InputTextStyle::Paragraph,
                    "Reason (sent to the applicant by DM)",
                    "reason",
                )
                .max_length(1000),
            )]);
        interaction
            .create_response(ctx, CreateInteractionResponse::Modal(modal))
            .await?;
        return Ok(true);
    }
    let manager = interaction.user.id.get();
    if let Some(role) = db::applications::role(&data.pool, guild_id).await? {
        let granted = ctx
            .http
            .add_member_role(
                guild_id.into(),
                application.user().into(),
                role.into(),
                Some("application approved"),
            )
            .await;
        if let Err(err) = granted {
            warn!(guild.id = guild_id, role.id = role, error = %err, "could not grant the application role");
            let text = format!(
                "I could not give <@&{role}> to <@{}>: {}. Fix: give the Hearth role Manage Roles and move it above <@&{role}> (Server Settings → Roles); `/config doctor` checks it.",
                application.user(),
                crate::discord::errors::short_reason(&err)
            );
            ephemeral(ctx, interaction, &text).await?;
            return Ok(true);
        }
    }
    if !db::applications::decide(
        &data.pool,
        guild_id,
        id,
        "approved",
        manager,
        None,
        unix_now(),
    )
    .await?
    {
        ephemeral(
            ctx,
            interaction,
            "This application was decided a moment ago by someone else.",
        )
        .await?;
        return Ok(true);
    }
    info!(
        guild.id = guild_id,
        application.id = id,
        "application approved"
    );
    let decided = CreateInteractionResponseMessage::new()
        .content(format!("✅ Approved by <@{manager}>."))
        .components(Vec::new())
        .allowed_mentions(embeds::no_mentions());
    interaction
        .create_response(ctx, CreateInteractionResponse::UpdateMessage(decided))
        .await?;
    crate::discord::members::welcome_approved(ctx, data, guild_id, application.user()).await?;
    Ok(true)
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
    let Some(application) = db::applications::get(&data.pool, guild_id, id).await? else {
        return Ok(true);
    };
    let decided = db::applications::decide(
        &data.pool,
        guild_id,
        id,
        "declined",
        manager,
        Some(&reason),
        unix_now(),
    )
    .await?;
    let text = if decided {
        info!(
            guild.id = guild_id,
            application.id = id,
            "application declined"
        );
        let note = if reason.trim().is_empty() {
            String::new()
        } else {
            format!("\nReason: {reason}")
        };
        let body = posts::text_post(
            &format!("Your application was not accepted this time.{note}"),
            &[],
        );
        data.outbox
            .enqueue(db::outbox::NewPost {
                guild_id,
                channel_id: 0,
                kind: "application-decline".into(),
                dedup_key: format!("application-decline:{guild_id}:{id}"),
                // A decline is private: never posted in the intro thread.
                body: action_json(&Action::DirectMessage {
                    user_id: application.user(),
                    body,
                    fallback_to_thread: false,
                }),
                not_before_ms: None,
            })
            .await?;
        format!("❌ Declined by <@{manager}>. The applicant is told by DM if their DMs are open.")
    } else {
        format!("This application was already {}.", application.status)
    };
    let response = CreateInteractionResponseMessage::new()
        .content(text)
        .components(Vec::new())
        .allowed_mentions(embeds::no_mentions());
    interaction
        .create_response(ctx, CreateInteractionResponse::UpdateMessage(response))
        .await?;
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
