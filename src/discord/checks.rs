//! Run-time permission checks. Slash commands also carry `default_member_permissions`, but a
//! server admin can change those in Discord's UI, so the bot checks again.

use super::{Context, Error};
use crate::error::{OrUser, UserError};

/// Passes for members with Manage Server / Administrator or the configured manager role; everyone
/// else gets an ephemeral refusal (raised as a `UserError`, shown by the error handler).
pub async fn manager(ctx: Context<'_>) -> Result<bool, Error> {
    let Some(guild_id) = ctx.guild_id() else {
        return Err(UserError("This command only works in a server.".into()).into());
    };
    let settings = ctx.data().settings(guild_id.get()).await?;
    let (permissions, roles) = match ctx.author_member().await {
        Some(member) => (
            member.permissions.map_or(0, |p| p.bits()),
            member.roles.iter().map(|r| r.get()).collect::<Vec<_>>(),
        ),
        None => (0, Vec::new()),
    };
    if settings.is_manager(permissions, &roles) {
        return Ok(true);
    }
    let role_hint = settings
        .manager_role
        .map(|role| format!(" or the <@&{role}> role"))
        .unwrap_or_default();
    Err(UserError(format!(
        "Only community managers can use `/{}`: it needs the Manage Server permission{role_hint}.",
        ctx.command().qualified_name
    ))
    .into())
}

/// The guild a guild-only command runs in.
pub fn guild_id(ctx: Context<'_>) -> Result<u64, Error> {
    Ok(ctx
        .guild_id()
        .or_user("This command only works in a server.")?
        .get())
}
