//! The web dashboard's view of Discord (`web::Directory`): members, their permissions and names
//! from serenity's cache, and over REST when the cache does not hold the member.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;

use super::serenity;
use crate::domain::permissions::ADMINISTRATOR;
use crate::web::{Directory, MemberAccess};

/// Every permission bit: what the owner and administrators have.
const ALL_PERMISSIONS: u64 = u64::MAX;

/// The bot's cache and HTTP client, shared with the gateway client.
pub struct BotDirectory {
    pub cache: Arc<serenity::Cache>,
    pub http: Arc<serenity::Http>,
}

impl BotDirectory {
    fn cached(&self, guild_id: u64, user_id: u64) -> Option<MemberAccess> {
        let guild = self.cache.guild(serenity::GuildId::new(guild_id))?;
        let member = guild.members.get(&serenity::UserId::new(user_id))?;
        Some(MemberAccess {
            permissions: guild.member_permissions(member).bits(),
            roles: member.roles.iter().map(|r| r.get()).collect(),
        })
    }

    async fn fetched(&self, guild_id: u64, user_id: u64) -> anyhow::Result<Option<MemberAccess>> {
        let guild = serenity::GuildId::new(guild_id);
        let member = match self
            .http
            .get_member(guild, serenity::UserId::new(user_id))
            .await
        {
            Ok(member) => member,
            Err(serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(r)))
                if r.status_code.as_u16() == 404 =>
            {
                return Ok(None)
            }
            Err(err) => return Err(err.into()),
        };
        let partial = self.http.get_guild(guild).await?;
        let roles: Vec<u64> = member.roles.iter().map(|r| r.get()).collect();
        let permissions = if partial.owner_id.get() == user_id {
            ALL_PERMISSIONS
        } else {
            let everyone = partial
                .roles
                .get(&serenity::RoleId::new(guild_id))
                .map_or(0, |r| r.permissions.bits());
            let bits = member
                .roles
                .iter()
                .filter_map(|r| partial.roles.get(r))
                .fold(everyone, |acc, r| acc | r.permissions.bits());
            if bits & ADMINISTRATOR != 0 {
                ALL_PERMISSIONS
            } else {
                bits
            }
        };
        Ok(Some(MemberAccess { permissions, roles }))
    }
}

#[async_trait]
impl Directory for BotDirectory {
    async fn member(&self, guild_id: u64, user_id: u64) -> anyhow::Result<Option<MemberAccess>> {
        match self.cached(guild_id, user_id) {
            Some(found) => Ok(Some(found)),
            None => self.fetched(guild_id, user_id).await,
        }
    }

    fn managers(&self, guild_id: u64, manager_role: Option<u64>) -> HashSet<u64> {
        let Some(guild) = self.cache.guild(serenity::GuildId::new(guild_id)) else {
            return HashSet::new();
        };
        let mut settings = crate::domain::settings::GuildSettings::new(guild_id);
        settings.manager_role = manager_role;
        managers_in(&guild, &settings)
    }

    fn guild_name(&self, guild_id: u64) -> Option<String> {
        self.cache
            .guild(serenity::GuildId::new(guild_id))
            .map(|g| g.name.clone())
    }

    fn member_name(&self, guild_id: u64, user_id: u64) -> Option<String> {
        let guild = self.cache.guild(serenity::GuildId::new(guild_id))?;
        let member = guild.members.get(&serenity::UserId::new(user_id))?;
        Some(member.display_name().to_owned())
    }

    fn channel_name(&self, guild_id: u64, channel_id: u64) -> Option<String> {
        let guild = self.cache.guild(serenity::GuildId::new(guild_id))?;
        let channel_id = serenity::ChannelId::new(channel_id);
        guild
            .channels
            .get(&channel_id)
            .map(|c| c.name.clone())
            .or_else(|| {
                guild
                    .threads
                    .iter()
                    .find(|t| t.id == channel_id)
                    .map(|t| t.name.clone())
            })
    }
}

/// Starts the dashboard on `addr` beside the bot, sharing its store, cache and HTTP client.
pub async fn serve_web(
    cache: Arc<serenity::Cache>,
    http: Arc<serenity::Http>,
    pool: crate::db::Pool,
    config: Arc<crate::config::Config>,
    addr: std::net::SocketAddr,
    shutdown: tokio_util::sync::CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    use anyhow::Context as _;
    let client_id = match config.web.client_id.or(config.discord.application_id) {
        Some(id) => id,
        None => http
            .get_current_application_info()
            .await
            .context(
                "reading the application id for the dashboard's login (or set [web] client_id)",
            )?
            .id
            .get(),
    };
    let directory = Arc::new(BotDirectory { cache, http });
    let web = crate::web::Web::new(pool, config, directory, client_id)?;
    crate::web::start(web, addr, shutdown).await
}

/// The cached members of a guild who are managers by §2 (Manage Server, Administrator or the
/// manager role): `/stats overview` and the dashboard tell members' threads from managers' by it.
pub fn managers_in(
    guild: &serenity::Guild,
    settings: &crate::domain::settings::GuildSettings,
) -> HashSet<u64> {
    guild
        .members
        .values()
        .filter(|m| {
            let roles: Vec<u64> = m.roles.iter().map(|r| r.get()).collect();
            settings.is_manager(guild.member_permissions(m).bits(), &roles)
        })
        .map(|m| m.user.id.get())
        .collect()
}
