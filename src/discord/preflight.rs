//! `hearth check --connect`: what `/config doctor` checks, from a terminal and before `run`, by
//! reading the bot's servers, channels, roles and membership over REST (no gateway).

use super::serenity::{ChannelId, GuildInfo, GuildPagination, RoleId};
use crate::config::Config;
use crate::db::Pool;
use crate::domain::doctor::{self, ChannelState, Finding};
use crate::domain::settings::{ChannelPurpose, GuildSettings, StoredSettings};

/// The bot and what the doctor found in each of its servers.
pub struct BotCheck {
    pub id: u64,
    pub name: String,
    pub guilds: Vec<GuildCheck>,
}

pub struct GuildCheck {
    pub id: u64,
    pub name: String,
    /// Each finding, and whether its purpose has a channel configured.
    pub findings: Vec<(Finding, bool)>,
    /// Mentions (`<#id>`, `<@&id>`) and the names a terminal shows instead.
    names: Vec<(String, String)>,
}

impl GuildCheck {
    /// The doctor writes Discord markdown; a terminal gets `#name` and `@role`.
    pub fn plain(&self, text: &str) -> String {
        self.names
            .iter()
            .fold(text.to_owned(), |text, (mention, name)| {
                text.replace(mention, name)
            })
    }
}

/// Connects with `token` to the configured API and diagnoses every server the bot is in, with
/// the stored `/config` settings from `store` over the config file's defaults.
pub async fn check(config: &Config, token: &str, store: Option<&Pool>) -> anyhow::Result<BotCheck> {
    let http = super::client::http(config, token);
    super::client::check_reachable(&http, config).await?;
    let me = http.get_current_user().await?;
    let mut infos: Vec<GuildInfo> = Vec::new();
    loop {
        let after = infos.last().map(|g| GuildPagination::After(g.id));
        let page = http.get_guilds(after, Some(200)).await?;
        let full = page.len() == 200;
        infos.extend(page);
        if !full {
            break;
        }
    }
    let mut guilds = Vec::new();
    for info in infos {
        let guild_id = info.id.get();
        let guild = http.get_guild(info.id).await?;
        let channels = http.get_channels(info.id).await?;
        let member = http.get_member(info.id, me.id).await?;
        let (stored, role) = match store {
            // A database from an older version may lack a table: the config file still counts.
            Some(pool) => (
                crate::db::guilds::settings(pool, guild_id)
                    .await
                    .unwrap_or_default(),
                crate::db::applications::role(pool, guild_id)
                    .await
                    .ok()
                    .flatten(),
            ),
            None => (StoredSettings::default(), None),
        };
        let settings = GuildSettings::resolve(guild_id, &stored, &config.guild_defaults(guild_id));
        let states: Vec<(ChannelPurpose, ChannelState)> = ChannelPurpose::ALL
            .iter()
            .map(|purpose| {
                let state = match settings.channel(*purpose) {
                    None => ChannelState::NotConfigured,
                    Some(id) => match channels.iter().find(|c| c.id == ChannelId::new(id)) {
                        None => ChannelState::Missing { channel_id: id },
                        Some(channel) => ChannelState::Present {
                            channel_id: id,
                            bot_permissions: guild.user_permissions_in(channel, &member).bits(),
                        },
                    },
                };
                (*purpose, state)
            })
            .collect();
        // One finding per purpose, in order.
        let mut findings: Vec<(Finding, bool)> =
            doctor::diagnose(&states, guild.member_permissions(&member).bits())
                .into_iter()
                .zip(&states)
                .map(|(finding, (_, state))| (finding, *state != ChannelState::NotConfigured))
                .collect();
        if let Some(role) = role {
            let top = member
                .roles
                .iter()
                .filter_map(|r| guild.roles.get(r))
                .map(|r| r.position)
                .max()
                .unwrap_or(0);
            let position = guild.roles.get(&RoleId::new(role)).map(|r| r.position);
            findings.push((
                doctor::role_grant_finding(ChannelPurpose::Applications, role, position, top),
                true,
            ));
        }
        let names = channels
            .iter()
            .map(|c| (format!("<#{}>", c.id), format!("#{}", c.name)))
            .chain(
                guild
                    .roles
                    .values()
                    .map(|r| (format!("<@&{}>", r.id), format!("@{}", r.name))),
            )
            .collect();
        guilds.push(GuildCheck {
            id: guild_id,
            name: guild.name.clone(),
            findings,
            names,
        });
    }
    Ok(BotCheck {
        id: me.id.get(),
        name: me.name.clone(),
        guilds,
    })
}
