//! Gateway events → features. Handlers stay thin: extract ids, call the feature, log.

use tracing::{debug, info};

use super::serenity::{self, FullEvent};
use super::{render, Data, Error};
use crate::db;
use crate::domain::clock::unix_now;

pub async fn handle(
    framework: poise::FrameworkContext<'_, Data, Error>,
    event: &FullEvent,
) -> Result<(), Error> {
    let data = framework.user_data;
    match event {
        FullEvent::GuildCreate { guild, .. } => guild_available(data, guild).await?,
        FullEvent::GuildDelete { incomplete, .. } if !incomplete.unavailable => {
            db::guilds::mark_left(&data.pool, incomplete.id.get(), unix_now()).await?;
            info!(guild.id = incomplete.id.get(), "removed from guild");
        }
        _ => {}
    }
    Ok(())
}

/// A guild became available: record it, and greet it the first time the bot ever sees it.
async fn guild_available(data: &Data, guild: &serenity::Guild) -> Result<(), Error> {
    let guild_id = guild.id.get();
    let first_time = db::guilds::upsert_seen(&data.pool, guild_id, unix_now()).await?;
    debug!(guild.id = guild_id, first_time, "guild available");
    if !first_time {
        return Ok(());
    }
    let Some(channel) = guild.system_channel_id else {
        info!(
            guild.id = guild_id,
            "joined a guild without a system channel; no greeting posted"
        );
        return Ok(());
    };
    let text = format!(
        "👋 Hi, I'm **Hearth**, your community manager's helper for {}. \
         A manager can start with `/config channel` to choose where I post, \
         `/config timezone` to set the server's time zone, and `/config doctor` to check my permissions.",
        guild.name
    );
    data.outbox
        .message(
            guild_id,
            channel.get(),
            "greeting",
            format!("greeting:{guild_id}"),
            render::text_post(&text, &[]),
        )
        .await?;
    Ok(())
}
