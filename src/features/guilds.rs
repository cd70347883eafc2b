//! Servers Hearth is in: what happens when one becomes available.

use chrono::{DateTime, Utc};
use tracing::{debug, info};

use crate::config::Config;
use crate::db::{self, Pool};
use crate::features::reports;
use crate::outbox::{posts, Outbox};

/// What Hearth needs to know of a server that became available.
pub struct Guild<'a> {
    pub id: u64,
    pub name: &'a str,
    pub system_channel: Option<u64>,
}

/// A server became available: record it, make sure its monthly report is scheduled, and greet
/// it the first time the bot ever sees it.
pub async fn available(
    pool: &Pool,
    config: &Config,
    outbox: &Outbox,
    guild: Guild<'_>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let first_time = db::guilds::upsert_seen(pool, guild.id, now.timestamp_millis()).await?;
    db::guilds::set_name(pool, guild.id, guild.name).await?;
    reports::ensure_monthly_report(pool, config, guild.id, now).await?;
    debug!(guild.id = guild.id, first_time, "guild available");
    if !first_time {
        return Ok(());
    }
    let Some(channel) = guild.system_channel else {
        info!(
            guild.id = guild.id,
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
    outbox
        .message(
            guild.id,
            channel,
            "greeting",
            format!("greeting:{}", guild.id),
            posts::text_post(&text, &[]),
        )
        .await?;
    Ok(())
}
