//! The framework's error handler: users get a clear, ephemeral message; operators get the log.

use poise::{CreateReply, FrameworkError};
use tracing::{error, info, warn};

use super::{serenity, Context, Data, Error};
use crate::error::{reference_id, UserError};
use crate::outbox::posts;

pub async fn on_error(err: FrameworkError<'_, Data, Error>) {
    match err {
        FrameworkError::Command { error, ctx, .. } => command_failed(ctx, &error).await,
        FrameworkError::CommandCheckFailed { error, ctx, .. } => match error {
            Some(error) => command_failed(ctx, &error).await,
            None => reply(ctx, "You cannot use this command here.").await,
        },
        FrameworkError::ArgumentParse {
            error, input, ctx, ..
        } => {
            let what = input.map_or_else(String::new, |i| format!(" `{i}`"));
            let help = ctx.command().description.clone().unwrap_or_default();
            info!(command.name = %ctx.command().qualified_name, error = %error, "argument rejected");
            reply(
                ctx,
                &format!(
                    "I could not understand the argument{what}: {error}.\n`/{}`: {help}",
                    ctx.command().qualified_name
                ),
            )
            .await;
        }
        FrameworkError::GuildOnly { ctx, .. } => {
            reply(ctx, "This command only works in a server.").await
        }
        FrameworkError::MissingUserPermissions { ctx, .. } => {
            reply(ctx, "You do not have the permissions this command needs.").await;
        }
        FrameworkError::MissingBotPermissions {
            missing_permissions,
            ctx,
            ..
        } => {
            reply(
                ctx,
                &format!("I am missing these permissions here: {missing_permissions}. A manager can run `/config doctor` for the fix."),
            )
            .await;
        }
        FrameworkError::EventHandler { error, event, .. } => {
            error!(event = event.snake_case_name(), error = %format!("{error:#}"), "event handler failed");
        }
        // Setup failures are turned into a process exit by the setup closure (see client.rs);
        // here they are only logged.
        FrameworkError::Setup { error, .. } => {
            error!(error = %format!("{error:#}"), "framework setup failed");
        }
        other => {
            if let Err(e) = poise::builtins::on_error(other).await {
                warn!(error = %e, "error while handling an error");
            }
        }
    }
}

async fn command_failed(ctx: Context<'_>, error: &Error) {
    if let Some(user_error) = error.downcast_ref::<UserError>() {
        info!(command.name = %ctx.command().qualified_name, guild.id = ?ctx.guild_id().map(|g| g.get()), reason = %user_error, "command refused");
        reply(ctx, &user_error.0).await;
        return;
    }
    let reference = reference_id();
    error!(
        command.name = %ctx.command().qualified_name,
        guild.id = ?ctx.guild_id().map(|g| g.get()),
        reference = %reference,
        error = %format!("{error:#}"),
        "command failed"
    );
    reply(
        ctx,
        &format!("Something went wrong on my side and nothing was changed. If it keeps happening, give the bot's admin this reference: `{reference}`."),
    )
    .await;
}

async fn reply(ctx: Context<'_>, text: &str) {
    let reply = CreateReply::default()
        .content(posts::truncate(text, posts::MESSAGE_LIMIT))
        .ephemeral(true);
    if let Err(err) = ctx.send(reply).await {
        warn!(error = %err, "could not send an error reply");
    }
}

/// A one-line reason for a failed Discord call, fit to show a manager.
pub fn short_reason(err: &serenity::Error) -> String {
    match err {
        serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(r)) => match r.error.code {
            50013 => "Discord says I am missing permissions (50013)".to_owned(),
            code => format!(
                "Discord answered {} ({code}: {})",
                r.status_code.as_u16(),
                r.error.message
            ),
        },
        other => other.to_string(),
    }
}
