//! Helpers for buttons and modals handled outside poise (persistent custom ids).

use super::serenity::{
    self, ComponentInteraction, CreateInteractionResponse, CreateInteractionResponseMessage,
    ModalInteraction,
};
use super::{embeds, Error};

/// The number after `prefix` in a custom id such as `hearth:ama:vote:12`.
pub fn id_after(custom_id: &str, prefix: &str) -> Option<i64> {
    custom_id.strip_prefix(prefix)?.parse().ok()
}

/// The value a member typed in a modal's text field.
pub fn modal_value(interaction: &ModalInteraction, field: &str) -> Option<String> {
    interaction
        .data
        .components
        .iter()
        .flat_map(|row| row.components.iter())
        .find_map(|c| match c {
            serenity::ActionRowComponent::InputText(input) if input.custom_id == field => {
                input.value.clone()
            }
            _ => None,
        })
}

/// A message only the member who acted sees, pinging nobody.
pub fn private_message(text: &str) -> CreateInteractionResponseMessage {
    CreateInteractionResponseMessage::new()
        .content(text)
        .ephemeral(true)
        .allowed_mentions(embeds::no_mentions())
}

/// Answers a button click with a message only the clicker sees.
pub async fn ephemeral(
    ctx: &serenity::Context,
    interaction: &ComponentInteraction,
    text: &str,
) -> Result<(), Error> {
    let message = private_message(text);
    interaction
        .create_response(ctx, CreateInteractionResponse::Message(message))
        .await?;
    Ok(())
}

/// Answers a form submission with a message only the member sees.
pub async fn ephemeral_to_form(
    ctx: &serenity::Context,
    interaction: &ModalInteraction,
    text: &str,
) -> Result<(), Error> {
    let message = private_message(text);
    interaction
        .create_response(ctx, CreateInteractionResponse::Message(message))
        .await?;
    Ok(())
}
