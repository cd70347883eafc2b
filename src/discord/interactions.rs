//! Routes button presses and modal submissions to the feature that owns their custom id.
//! (Slash commands are routed by poise.)

use super::serenity::{self, Interaction};
use super::{commands, Data, Error};

/// Each feature answers the custom ids it owns and says whether it did.
pub async fn route(
    ctx: &serenity::Context,
    data: &Data,
    interaction: &Interaction,
) -> Result<(), Error> {
    match interaction {
        Interaction::Component(component) => {
            let _handled = commands::apply::on_button(ctx, data, component).await?
                || commands::ama::on_button(ctx, data, component).await?
                || commands::events::on_button(ctx, data, component).await?
                || commands::surveys::on_component(ctx, data, component).await?
                || commands::connect::on_button(ctx, data, component).await?
                || commands::moderation::on_component(ctx, data, component).await?;
        }
        Interaction::Modal(modal) => {
            let _handled = commands::apply::on_modal(ctx, data, modal).await?
                || commands::ama::on_modal(ctx, data, modal).await?
                || commands::surveys::on_modal(ctx, data, modal).await?;
        }
        _ => {}
    }
    Ok(())
}
