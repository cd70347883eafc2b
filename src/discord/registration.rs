//! Registering the slash commands with Discord: globally, or in each server, shard by shard.

use anyhow::Context as _;
use tracing::info;

use super::serenity;
use super::{Data, Error};
use crate::config::CommandRegistration;

/// With per-guild registration, each shard's READY lists only that shard's guilds: setup
/// registered the first shard's, this registers the other shards' as their READY arrives.
pub async fn register_in_shard(
    framework: poise::FrameworkContext<'_, Data, Error>,
    ready: &serenity::Ready,
) -> anyhow::Result<()> {
    let data = framework.user_data;
    let shard = ready.shard.map(|s| s.id.0);
    if data.config.discord.register_commands != CommandRegistration::Guilds
        || shard == data.setup_shard
    {
        return Ok(());
    }
    let count = register(
        framework.serenity_context,
        ready,
        &framework.options().commands,
        CommandRegistration::Guilds,
    )
    .await?;
    info!(
        shard,
        commands = count,
        guilds = ready.guilds.len(),
        "commands registered in the shard's guilds"
    );
    Ok(())
}

pub async fn register(
    ctx: &serenity::Context,
    ready: &serenity::Ready,
    commands: &[poise::Command<Data, Error>],
    registration: CommandRegistration,
) -> anyhow::Result<usize> {
    match registration {
        CommandRegistration::Global => {
            poise::builtins::register_globally(ctx, commands)
                .await
                .context("registering slash commands globally")?;
        }
        CommandRegistration::Guilds => {
            for guild in &ready.guilds {
                poise::builtins::register_in_guild(ctx, commands, guild.id)
                    .await
                    .with_context(|| format!("registering slash commands in guild {}", guild.id))?;
            }
        }
    }
    Ok(commands.len())
}
