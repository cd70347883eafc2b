//! A guild's effective settings: the one place that resolves them (stored `/config` values over
//! the config file's defaults over built-in defaults).

use crate::config::Config;
use crate::db::{self, Pool};
use crate::domain::settings::GuildSettings;

/// A guild's settings: stored settings over the config's defaults.
pub async fn resolve(pool: &Pool, config: &Config, guild_id: u64) -> anyhow::Result<GuildSettings> {
    let stored = db::guilds::settings(pool, guild_id).await?;
    Ok(GuildSettings::resolve(
        guild_id,
        &stored,
        &config.guild_defaults(guild_id),
    ))
}

/// A guild's time zone (stored setting over config default).
pub async fn timezone(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
) -> anyhow::Result<chrono_tz::Tz> {
    Ok(resolve(pool, config, guild_id).await?.timezone)
}
