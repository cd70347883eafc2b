//! The Discord layer: the only module that imports poise/serenity. Commands and event handlers
//! are thin adapters over `db` and `domain`; embeds live in `embeds`.

pub mod audit;
pub mod checks;
pub mod client;
pub mod commands;
pub mod components;
pub mod directory;
pub mod embeds;
pub mod errors;
pub mod events;
pub mod interactions;
pub mod members;
pub mod preflight;
pub mod registration;
pub mod tracking;

use std::sync::Arc;

pub use poise::serenity_prelude as serenity;

use crate::config::Config;
use crate::db::Pool;
use crate::domain::settings::GuildSettings;
use crate::outbox::Outbox;

/// State shared by every command and event handler.
pub struct Data {
    pub pool: Pool,
    pub config: Arc<Config>,
    pub outbox: Outbox,
    pub scheduler: crate::scheduler::SchedulerHandle,
    pub tracker: crate::features::activity::Tracker,
    pub posts_on_join: crate::features::welcome::PostsOnJoin,
    /// Each guild's welcomes are decided one at a time.
    pub welcome_turns: crate::features::welcome::GuildLocks,
    /// The shard whose READY ran the framework's setup (set by setup; None before, or when
    /// READY names no shard).
    pub setup_shard: Option<u32>,
}

impl Data {
    /// A guild's effective settings: database over config defaults.
    pub async fn settings(&self, guild_id: u64) -> anyhow::Result<GuildSettings> {
        crate::features::settings::resolve(&self.pool, &self.config, guild_id).await
    }

    /// Whether a join in the guild gets anything posted (remembered: see `PostsOnJoin`).
    pub async fn posts_on_join(&self, guild_id: u64) -> anyhow::Result<bool> {
        self.posts_on_join
            .answer(guild_id, async {
                let settings = self.settings(guild_id).await?;
                let switches = crate::db::welcome::settings(&self.pool, guild_id).await?;
                Ok(crate::features::welcome::posts_on_join(
                    &settings, &switches,
                ))
            })
            .await
    }

    /// Call after changing a guild's channels or welcome switches.
    pub fn settings_changed(&self, guild_id: u64) {
        self.posts_on_join.forget(guild_id);
    }
}

pub type Error = anyhow::Error;
pub type Context<'a> = poise::Context<'a, Data, Error>;
pub type Command = poise::Command<Data, Error>;

/// Gateway intents: everything the features need and never MESSAGE_CONTENT (Hearth stores no
/// message content, so it does not ask for it).
pub fn intents() -> serenity::GatewayIntents {
    use serenity::GatewayIntents as I;
    I::GUILDS
        | I::GUILD_MEMBERS
        | I::GUILD_MESSAGES
        | I::GUILD_MESSAGE_REACTIONS
        | I::GUILD_VOICE_STATES
        | I::GUILD_SCHEDULED_EVENTS
}
