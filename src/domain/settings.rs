//! Per-guild settings: time zone, channels by purpose, manager role.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// What a configured channel is used for (product §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChannelPurpose {
    Welcome,
    Intros,
    Spotlight,
    Feedback,
    Ama,
    Reports,
    Prompts,
    Applications,
    Events,
    Connections,
}

impl ChannelPurpose {
    /// Every purpose, in the order `/config show` lists them.
    pub const ALL: [ChannelPurpose; 10] = [
        Self::Welcome,
        Self::Intros,
        Self::Spotlight,
        Self::Feedback,
        Self::Ama,
        Self::Reports,
        Self::Prompts,
        Self::Applications,
        Self::Events,
        Self::Connections,
    ];

    /// The name used in config files, slash commands and the database.
    pub fn name(self) -> &'static str {
        match self {
            Self::Welcome => "welcome",
            Self::Intros => "intros",
            Self::Spotlight => "spotlight",
            Self::Feedback => "feedback",
            Self::Ama => "ama",
            Self::Reports => "reports",
            Self::Prompts => "prompts",
            Self::Applications => "applications",
            Self::Events => "events",
            Self::Connections => "connections",
        }
    }

    /// All names, for error messages.
    pub fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|p| p.name()).collect()
    }

    /// What stops working when the bot cannot post in this channel (for `/config doctor`).
    pub fn feature(self) -> &'static str {
        match self {
            Self::Welcome => "welcome posts",
            Self::Intros => "intro threads",
            Self::Spotlight => "spotlight posts",
            Self::Feedback => "feedback items and their follow-ups",
            Self::Ama => "AMA question posts and recaps",
            Self::Reports => "the monthly leadership report",
            Self::Prompts => "themed-day prompts",
            Self::Applications => "application review posts",
            Self::Events => "event RSVP cards, their threads and reminders",
            Self::Connections => "connection rounds' private threads",
        }
    }
}

impl fmt::Display for ChannelPurpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown purpose name.
#[derive(Debug, thiserror::Error)]
#[error("unknown channel purpose `{0}`")]
pub struct UnknownPurpose(pub String);

impl FromStr for ChannelPurpose {
    type Err = UnknownPurpose;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| UnknownPurpose(s.to_owned()))
    }
}

/// Settings a guild starts with before a manager changes them with `/config`.
#[derive(Clone, Debug, serde::Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct GuildDefaults {
    pub timezone: Option<String>,
    pub manager_role: Option<u64>,
    /// Channel ids by purpose (welcome, intros, spotlight, feedback, ama, reports, prompts,
    /// applications).
    pub channels: BTreeMap<String, u64>,
}

/// A guild's effective settings: database values over config defaults over built-in defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuildSettings {
    pub guild_id: u64,
    pub timezone: chrono_tz::Tz,
    pub manager_role: Option<u64>,
    pub channels: BTreeMap<ChannelPurpose, u64>,
}

impl GuildSettings {
    /// Settings of a guild nobody configured yet.
    pub fn new(guild_id: u64) -> Self {
        Self {
            guild_id,
            timezone: chrono_tz::UTC,
            manager_role: None,
            channels: BTreeMap::new(),
        }
    }

    /// Stored values win over config defaults, which win over built-in defaults. Invalid
    /// defaults were rejected when the config was loaded, so they are skipped here.
    pub fn resolve(guild_id: u64, stored: &StoredSettings, defaults: &GuildDefaults) -> Self {
        let timezone = stored
            .timezone
            .as_deref()
            .or(defaults.timezone.as_deref())
            .and_then(|name| chrono_tz::Tz::from_str(name).ok())
            .unwrap_or(chrono_tz::UTC);
        let mut channels: BTreeMap<ChannelPurpose, u64> = defaults
            .channels
            .iter()
            .filter_map(|(name, id)| Some((ChannelPurpose::from_str(name).ok()?, *id)))
            .collect();
        channels.extend(stored.channels.clone());
        Self {
            guild_id,
            timezone,
            manager_role: stored.manager_role.or(defaults.manager_role),
            channels,
        }
    }

    pub fn channel(&self, purpose: ChannelPurpose) -> Option<u64> {
        self.channels.get(&purpose).copied()
    }

    /// A manager has Manage Server (or Administrator) or the configured manager role (§2).
    pub fn is_manager(&self, member_permissions: u64, member_roles: &[u64]) -> bool {
        use super::permissions::{ADMINISTRATOR, MANAGE_GUILD};
        member_permissions & (MANAGE_GUILD | ADMINISTRATOR) != 0
            || self
                .manager_role
                .is_some_and(|role| member_roles.contains(&role))
    }
}

/// Settings stored for a guild by `/config`; `None` means "not set, use the config default".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredSettings {
    pub timezone: Option<String>,
    pub manager_role: Option<u64>,
    pub channels: BTreeMap<ChannelPurpose, u64>,
}

/// Parses an IANA time zone name, with a message fit for a member.
pub fn parse_timezone(name: &str) -> Result<chrono_tz::Tz, String> {
    chrono_tz::Tz::from_str(name.trim()).map_err(|_| {
        format!("`{name}` is not an IANA time zone name. Use one like `Europe/Berlin`, `America/New_York` or `UTC`.")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purposes_round_trip_by_name() {
        for purpose in ChannelPurpose::ALL {
            assert_eq!(purpose.name().parse::<ChannelPurpose>().unwrap(), purpose);
        }
        assert!("lobby".parse::<ChannelPurpose>().is_err());
    }

    #[test]
    fn stored_settings_override_config_defaults() {
        let defaults = GuildDefaults {
            timezone: Some("Europe/Berlin".into()),
            manager_role: Some(5),
            channels: BTreeMap::from([("welcome".into(), 10), ("intros".into(), 11)]),
        };
        let stored = StoredSettings {
            timezone: Some("America/New_York".into()),
            manager_role: None,
            channels: BTreeMap::from([(ChannelPurpose::Welcome, 20)]),
        };
        let settings = GuildSettings::resolve(1, &stored, &defaults);
        assert_eq!(settings.timezone, chrono_tz::America::New_York);
        assert_eq!(settings.manager_role, Some(5));
        assert_eq!(settings.channel(ChannelPurpose::Welcome), Some(20));
        assert_eq!(settings.channel(ChannelPurpose::Intros), Some(11));
        assert_eq!(
            GuildSettings::resolve(1, &StoredSettings::default(), &GuildDefaults::default()),
            GuildSettings::new(1)
        );
    }

    #[test]
    fn managers_have_manage_server_or_the_manager_role() {
        let mut settings = GuildSettings::new(1);
        assert!(settings.is_manager(1 << 5, &[]));
        assert!(settings.is_manager(1 << 3, &[]));
        assert!(!settings.is_manager(1 << 11, &[77]));
        settings.manager_role = Some(77);
        assert!(settings.is_manager(0, &[12, 77]));
        assert!(!settings.is_manager(0, &[12]));
    }

    #[test]
    fn timezone_errors_suggest_a_valid_name() {
        assert_eq!(
            parse_timezone("Europe/Berlin").unwrap(),
            chrono_tz::Europe::Berlin
        );
        assert!(parse_timezone("Berlin")
            .unwrap_err()
            .contains("Europe/Berlin"));
    }
}
