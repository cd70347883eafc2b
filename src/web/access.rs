//! Who may see a server's pages: a manager by product §2 (Manage Server, Administrator or the
//! manager role), judged from what the bot sees of the member, never from the OAuth2 guild
//! list alone (a member can leave a server or lose a role after logging in).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use parking_lot::Mutex;

use super::Web;

/// A member's guild-wide permissions and roles, as the bot sees them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberAccess {
    pub permissions: u64,
    pub roles: Vec<u64>,
}

/// The bot's view of Discord, implemented in `discord` (the only module that knows serenity).
#[async_trait]
pub trait Directory: Send + Sync {
    /// The member's permissions and roles, or `None` when the user is not in the server.
    async fn member(&self, guild_id: u64, user_id: u64) -> anyhow::Result<Option<MemberAccess>>;
    /// Members who count as managers (for "member-started threads", as `/stats overview`).
    fn managers(&self, guild_id: u64, manager_role: Option<u64>) -> HashSet<u64>;
    /// The server's name, when the bot knows it.
    fn guild_name(&self, guild_id: u64) -> Option<String>;
    /// A member's display name, when the bot knows it.
    fn member_name(&self, guild_id: u64, user_id: u64) -> Option<String>;
    /// A channel's name, when the bot knows it.
    fn channel_name(&self, guild_id: u64, channel_id: u64) -> Option<String>;
}

/// How long an answer about a member is reused: a page view does not ask Discord each time,
/// and a removed role stops counting within this.
const ACCESS_TTL: Duration = Duration::from_secs(60);

/// Recent manager checks, by (guild, user).
#[derive(Default)]
pub struct AccessCache {
    checked: Mutex<HashMap<(u64, u64), (Instant, bool)>>,
    /// The guild list Discord gave at login, per user: which servers to check for the list.
    oauth_guilds: Mutex<HashMap<u64, Vec<u64>>>,
    /// The name Discord gave at login, per user (for the page's top bar only).
    names: Mutex<HashMap<u64, String>>,
}

impl AccessCache {
    pub fn remember_oauth_guilds(&self, user_id: u64, guilds: Vec<u64>) {
        self.oauth_guilds.lock().insert(user_id, guilds);
    }

    pub fn remember_name(&self, user_id: u64, name: String) {
        self.names.lock().insert(user_id, name);
    }

    /// The user's name from their login, or their id.
    pub fn name_of(&self, user_id: u64) -> String {
        self.names
            .lock()
            .get(&user_id)
            .cloned()
            .unwrap_or_else(|| format!("user {user_id}"))
    }

    fn oauth_guilds(&self, user_id: u64) -> Option<Vec<u64>> {
        self.oauth_guilds.lock().get(&user_id).cloned()
    }

    pub fn forget_user(&self, user_id: u64) {
        self.oauth_guilds.lock().remove(&user_id);
        self.checked.lock().retain(|(_, user), _| *user != user_id);
    }
}

/// Why a page of a server is not shown.
#[derive(Debug)]
pub enum Denied {
    /// The bot is not in that server (or never was): 404.
    UnknownServer,
    /// The user is not a manager there: 403.
    NotManager,
}

/// Whether `user_id` is a manager of `guild_id` now.
pub async fn is_manager(web: &Web, guild_id: u64, user_id: u64) -> anyhow::Result<bool> {
    if let Some((at, answer)) = web.access.checked.lock().get(&(guild_id, user_id)) {
        if at.elapsed() < ACCESS_TTL {
            return Ok(*answer);
        }
    }
    let answer = match web.directory.member(guild_id, user_id).await? {
        None => false,
        Some(member) => {
            let settings =
                crate::features::settings::resolve(&web.pool, &web.config, guild_id).await?;
            settings.is_manager(member.permissions, &member.roles)
        }
    };
    web.access
        .checked
        .lock()
        .insert((guild_id, user_id), (Instant::now(), answer));
    Ok(answer)
}

/// Checks a server page: the bot must be in the server and the user a manager there.
pub async fn guard(web: &Web, guild_id: u64, user_id: u64) -> anyhow::Result<Result<(), Denied>> {
    let present = crate::db::guilds::present(&web.pool).await?;
    if !present.contains(&guild_id) {
        return Ok(Err(Denied::UnknownServer));
    }
    if is_manager(web, guild_id, user_id).await? {
        Ok(Ok(()))
    } else {
        Ok(Err(Denied::NotManager))
    }
}

/// The servers the user manages, among those the bot is in (checked one by one through the bot;
/// the login's guild list, when known, narrows which ones to ask about).
pub async fn managed_servers(web: &Web, user_id: u64) -> anyhow::Result<Vec<(u64, String)>> {
    let mut candidates = crate::db::guilds::present(&web.pool).await?;
    if let Some(listed) = web.access.oauth_guilds(user_id) {
        candidates.retain(|g| listed.contains(g));
    }
    let mut servers = Vec::new();
    for guild_id in candidates {
        if is_manager(web, guild_id, user_id).await? {
            servers.push((guild_id, server_name(web, guild_id).await?));
        }
    }
    servers.sort_by_key(|(_, name)| name.to_lowercase());
    Ok(servers)
}

/// A server's name: the bot's view, else the stored one, else its id.
pub async fn server_name(web: &Web, guild_id: u64) -> anyhow::Result<String> {
    if let Some(name) = web.directory.guild_name(guild_id) {
        return Ok(name);
    }
    Ok(crate::db::guilds::name(&web.pool, guild_id)
        .await?
        .unwrap_or_else(|| format!("Server {guild_id}")))
}
