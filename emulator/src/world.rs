//! The emulated Discord's state, and the JSON shapes Discord (and serenity) use for it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

/// Discord's epoch (2015-01-01) in unix milliseconds.
const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

/// Makes real-looking snowflakes: creation time in the high bits, a counter in the low ones.
pub struct Snowflakes {
    counter: AtomicU64,
}

impl Snowflakes {
    pub fn new() -> Self {
        Self {
            counter: AtomicU64::new(0),
        }
    }

    pub fn next(&self) -> u64 {
        self.at(now_ms())
    }

    /// An id made at `ms` (unix milliseconds): Discord's ids carry their creation time.
    pub fn at(&self, ms: u64) -> u64 {
        let ms = ms.saturating_sub(DISCORD_EPOCH_MS);
        let n = self.counter.fetch_add(1, Ordering::Relaxed) & 0x3F_FFFF;
        (ms << 22) | n
    }
}

/// The emulator's one reading of the wall clock: it stands in for Discord's servers, whose
/// snowflakes, timestamps and token lifetimes are real time (the workspace's clippy.toml bans
/// `SystemTime::now` to keep Hearth on its own `domain::clock`).
#[allow(clippy::disallowed_methods)]
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0))
}

/// ISO 8601 timestamp of a unix time in milliseconds.
pub fn iso(ms: u64) -> String {
    let secs = i64::try_from(ms / 1000).unwrap_or(0);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}000+00:00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

/// Unix milliseconds of an RFC 3339 timestamp (`2026-12-03T18:00:00Z`, `…+01:00`, fractions
/// allowed); `None` when it is not one.
pub fn parse_iso_ms(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> { text.get(from..from + len)?.parse().ok() };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (h, mi, sec) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    let mut rest = &text[19..];
    let mut millis = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.chars().take_while(char::is_ascii_digit).count();
        let padded = format!("{:0<3}", &fraction[..digits.min(3)]);
        millis = padded.parse::<i64>().ok()?;
        rest = &fraction[digits..];
    }
    let offset_secs = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            sign * (rest.get(1..3)?.parse::<i64>().ok()? * 3600
                + rest.get(4..6)?.parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_secs;
    u64::try_from(secs * 1000 + millis).ok()
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The creation time (unix ms) of a snowflake.
pub fn snowflake_ms(id: u64) -> u64 {
    (id >> 22) + DISCORD_EPOCH_MS
}

pub mod perm {
    pub const ADMINISTRATOR: u64 = 1 << 3;
    pub const MANAGE_CHANNELS: u64 = 1 << 4;
    pub const MANAGE_GUILD: u64 = 1 << 5;
    pub const MUTE_MEMBERS: u64 = 1 << 22;
    pub const MOVE_MEMBERS: u64 = 1 << 24;
    pub const CONNECT: u64 = 1 << 20;
    pub const ADD_REACTIONS: u64 = 1 << 6;
    pub const VIEW_CHANNEL: u64 = 1 << 10;
    pub const SEND_MESSAGES: u64 = 1 << 11;
    pub const MANAGE_MESSAGES: u64 = 1 << 13;
    pub const ATTACH_FILES: u64 = 1 << 15;
    pub const READ_MESSAGE_HISTORY: u64 = 1 << 16;
    pub const MANAGE_ROLES: u64 = 1 << 28;
    pub const MANAGE_EVENTS: u64 = 1 << 33;
    pub const MANAGE_THREADS: u64 = 1 << 34;
    pub const CREATE_PUBLIC_THREADS: u64 = 1 << 35;
    pub const CREATE_PRIVATE_THREADS: u64 = 1 << 36;
    pub const SEND_MESSAGES_IN_THREADS: u64 = 1 << 38;
    pub const CREATE_EVENTS: u64 = 1 << 44;
    pub const ALL: u64 = (1 << 51) - 1;
}

#[derive(Clone, Debug)]
pub struct User {
    pub id: u64,
    pub username: String,
    pub bot: bool,
}

impl User {
    pub fn json(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "username": self.username,
            "discriminator": "0",
            "global_name": null,
            "avatar": null,
            "bot": self.bot,
            "public_flags": 0,
            "flags": 0,
        })
    }
}

#[derive(Clone, Debug)]
pub struct Role {
    pub id: u64,
    pub name: String,
    pub permissions: u64,
    pub position: u16,
    pub managed_by_bot: Option<u64>,
}

impl Role {
    pub fn json(&self) -> Value {
        let mut role = json!({
            "id": self.id.to_string(),
            "name": self.name,
            "color": 0,
            "colors": { "primary_color": 0, "secondary_color": null, "tertiary_color": null },
            "hoist": false,
            "icon": null,
            "unicode_emoji": null,
            "position": self.position,
            "permissions": self.permissions.to_string(),
            "managed": self.managed_by_bot.is_some(),
            "mentionable": false,
            "flags": 0,
        });
        if let Some(bot) = self.managed_by_bot {
            role["tags"] = json!({ "bot_id": bot.to_string() });
        }
        role
    }
}

#[derive(Clone, Debug)]
pub struct Member {
    pub roles: Vec<u64>,
    pub joined_at_ms: u64,
    pub pending: bool,
}

#[derive(Clone, Debug)]
pub struct Overwrite {
    pub id: u64,
    pub kind: u8,
    pub allow: u64,
    pub deny: u64,
}

#[derive(Clone, Debug, Default)]
pub struct Channel {
    pub id: u64,
    pub guild_id: Option<u64>,
    pub kind: u8,
    pub name: String,
    pub position: u16,
    pub parent_id: Option<u64>,
    pub overwrites: Vec<Overwrite>,
    /// Threads: owner, archived flag, members.
    pub owner_id: Option<u64>,
    pub archived: bool,
    pub thread_members: Vec<u64>,
    /// DMs: the recipient.
    pub recipient: Option<u64>,
    pub locked: bool,
    pub topic: Option<String>,
    /// Forums: (tag id, name).
    pub available_tags: Vec<(u64, String)>,
    /// Forum posts: the tags applied.
    pub applied_tags: Vec<u64>,
}

impl Channel {
    pub fn is_thread(&self) -> bool {
        matches!(self.kind, 10..=12)
    }
}

#[derive(Default)]
pub struct Guild {
    pub id: u64,
    pub name: String,
    pub owner_id: u64,
    pub system_channel_id: Option<u64>,
    pub system_channel_flags: u64,
    pub rules_channel_id: Option<u64>,
    pub roles: BTreeMap<u64, Role>,
    pub members: BTreeMap<u64, Member>,
    pub channels: Vec<u64>,
    pub joined_at_ms: u64,
    pub scheduled_events: BTreeMap<u64, Value>,
    pub automod_rules: BTreeMap<u64, Value>,
    /// Who is in which voice channel.
    pub voice_states: BTreeMap<u64, u64>,
}

/// What the emulator remembers of an interaction it sent, to answer its callback and webhooks.
#[derive(Clone, Debug, Default)]
pub struct Interaction {
    pub channel: u64,
    /// The message type of the replies (20 slash command, 23 context menu, 0 otherwise).
    pub reply_type: u8,
    /// The message a component sat on.
    pub message: Option<u64>,
    /// The original response, once there is one.
    pub original: Option<u64>,
    pub responded: bool,
    /// When the INTERACTION_CREATE was sent (unix ms): its token expires from then.
    pub created_ms: u64,
}

/// Everything the emulated Discord holds.
#[derive(Default)]
pub struct World {
    /// The emulated bot: always in its guilds' GUILD_CREATE member lists.
    pub bot_user_id: u64,
    pub users: HashMap<u64, User>,
    pub guilds: BTreeMap<u64, Guild>,
    pub channels: HashMap<u64, Channel>,
    pub messages: HashMap<u64, Vec<Value>>,
    pub dms_closed: HashSet<u64>,
    pub global_commands: Vec<Value>,
    pub guild_commands: HashMap<u64, Vec<Value>>,
    /// (channel, author, nonce) → (message id, when), for `enforce_nonce`.
    pub nonces: HashMap<(u64, u64, String), (u64, u64)>,
    /// Interaction token → what its callback and follow-ups need.
    pub interactions: HashMap<String, Interaction>,
    /// Ephemeral messages (seen by one user, not in the channel), by id.
    pub ephemeral: HashMap<u64, Value>,
}

impl World {
    pub fn user_json(&self, id: u64) -> Value {
        self.users.get(&id).map_or_else(
            || {
                User {
                    id,
                    username: format!("user{id}"),
                    bot: false,
                }
                .json()
            },
            User::json,
        )
    }

    /// A member without its user (as in MESSAGE_CREATE), or with it.
    pub fn member_json(&self, guild_id: u64, user_id: u64, with_user: bool) -> Option<Value> {
        let member = self.guilds.get(&guild_id)?.members.get(&user_id)?;
        let mut value = json!({
            "nick": null,
            "avatar": null,
            "banner": null,
            "roles": member.roles.iter().map(u64::to_string).collect::<Vec<_>>(),
            "joined_at": iso(member.joined_at_ms),
            "premium_since": null,
            "deaf": false,
            "mute": false,
            "flags": 0,
            "pending": member.pending,
            "communication_disabled_until": null,
        });
        if with_user {
            value["user"] = self.user_json(user_id);
        }
        Some(value)
    }

    /// A stored message (channel messages first, then ephemeral ones).
    pub fn message(&self, channel: u64, id: u64) -> Option<&Value> {
        let wanted = id.to_string();
        self.messages
            .get(&channel)
            .and_then(|m| m.iter().find(|m| m["id"] == wanted.as_str()))
            .or_else(|| self.ephemeral.get(&id))
    }

    pub fn message_mut(&mut self, channel: u64, id: u64) -> Option<&mut Value> {
        let wanted = id.to_string();
        let in_channel = self
            .messages
            .get(&channel)
            .is_some_and(|m| m.iter().any(|m| m["id"] == wanted.as_str()));
        if in_channel {
            self.messages
                .get_mut(&channel)
                .and_then(|m| m.iter_mut().find(|m| m["id"] == wanted.as_str()))
        } else {
            self.ephemeral.get_mut(&id)
        }
    }

    /// Counts a reaction on a stored message; returns the message's author.
    pub fn add_reaction(
        &mut self,
        channel: u64,
        message: u64,
        emoji: &str,
        me: bool,
    ) -> Option<u64> {
        let message = self.message_mut(channel, message)?;
        let author = message["author"]["id"]
            .as_str()
            .and_then(|a| a.parse().ok());
        if !message["reactions"].is_array() {
            message["reactions"] = json!([]);
        }
        let reactions = message["reactions"].as_array_mut()?;
        match reactions.iter_mut().find(|r| r["emoji"]["name"] == emoji) {
            Some(r) => {
                let count = r["count"].as_u64().unwrap_or(0) + 1;
                r["count"] = json!(count);
                r["count_details"]["normal"] = json!(count);
                if me {
                    r["me"] = json!(true);
                }
            }
            None => reactions.push(json!({
                "count": 1,
                "count_details": { "burst": 0, "normal": 1 },
                "me": me,
                "me_burst": false,
                "burst_colors": [],
                "emoji": { "id": null, "name": emoji },
            })),
        }
        author
    }

    /// Takes one reaction off a stored message.
    pub fn remove_reaction(&mut self, channel: u64, message: u64, emoji: &str, me: bool) {
        let Some(reactions) = self
            .message_mut(channel, message)
            .and_then(|m| m["reactions"].as_array_mut())
        else {
            return;
        };
        if let Some(r) = reactions.iter_mut().find(|r| r["emoji"]["name"] == emoji) {
            let count = r["count"].as_u64().unwrap_or(1).saturating_sub(1);
            r["count"] = json!(count);
            r["count_details"]["normal"] = json!(count);
            if me {
                r["me"] = json!(false);
            }
        }
        reactions.retain(|r| r["count"].as_u64().unwrap_or(0) > 0);
    }

    pub fn channel_json(&self, id: u64) -> Option<Value> {
        let c = self.channels.get(&id)?;
        let mut value = json!({
            "id": c.id.to_string(),
            "type": c.kind,
            "name": c.name,
            "flags": 0,
            "last_message_id": self.messages.get(&id).and_then(|m| m.last()).map(|m| m["id"].clone()),
        });
        if let Some(guild) = c.guild_id {
            value["guild_id"] = json!(guild.to_string());
            value["position"] = json!(c.position);
            value["nsfw"] = json!(false);
            value["rate_limit_per_user"] = json!(0);
            value["parent_id"] = json!(c.parent_id.map(|p| p.to_string()));
        }
        if c.is_thread() {
            value["owner_id"] = json!(c.owner_id.map(|o| o.to_string()));
            value["message_count"] = json!(self.messages.get(&id).map_or(0, Vec::len));
            value["member_count"] = json!(c.thread_members.len());
            value["total_message_sent"] = json!(self.messages.get(&id).map_or(0, Vec::len));
            value["applied_tags"] = json!(c
                .applied_tags
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>());
            value["thread_metadata"] = json!({
                "archived": c.archived,
                "auto_archive_duration": 10080,
                "archive_timestamp": iso(snowflake_ms(c.id)),
                "locked": c.locked,
                "create_timestamp": iso(snowflake_ms(c.id)),
            });
            if c.kind == 12 {
                value["thread_metadata"]["invitable"] = json!(true);
            }
        } else if c.guild_id.is_some() {
            value["topic"] = json!(c.topic);
            value["permission_overwrites"] = json!(c
                .overwrites
                .iter()
                .map(|o| json!({"id": o.id.to_string(), "type": o.kind, "allow": o.allow.to_string(), "deny": o.deny.to_string()}))
                .collect::<Vec<_>>());
            if c.kind == 15 {
                value["available_tags"] = json!(c
                    .available_tags
                    .iter()
                    .map(|(id, name)| json!({ "id": id.to_string(), "name": name, "moderated": false, "emoji_id": null, "emoji_name": null }))
                    .collect::<Vec<_>>());
                value["default_reaction_emoji"] = json!(null);
                value["default_sort_order"] = json!(null);
                value["default_forum_layout"] = json!(0);
                value["default_thread_rate_limit_per_user"] = json!(0);
            }
        }
        if matches!(c.kind, 2 | 13) {
            value["bitrate"] = json!(64_000);
            value["user_limit"] = json!(0);
            value["rtc_region"] = json!(null);
        }
        if let Some(recipient) = c.recipient {
            value["recipients"] = json!([self.user_json(recipient)]);
            value.as_object_mut().map(|v| v.remove("name"));
        }
        Some(value)
    }

    pub fn role_json(&self, guild_id: u64) -> Vec<Value> {
        self.guilds
            .get(&guild_id)
            .map(|g| g.roles.values().map(Role::json).collect())
            .unwrap_or_default()
    }

    /// The whole guild as GUILD_CREATE carries it. A guild with more members than the session's
    /// `large_threshold` is `large` and lists only the bot and the members in voice (Discord
    /// omits offline members, and the emulator models no presences): the rest come from op 8.
    pub fn guild_create_json(&self, guild_id: u64, large_threshold: usize) -> Option<Value> {
        let g = self.guilds.get(&guild_id)?;
        let large = g.members.len() > large_threshold;
        let members: Vec<Value> = if large {
            g.members
                .keys()
                .filter(|u| **u == self.bot_user_id || g.voice_states.contains_key(u))
                .filter_map(|u| self.member_json(guild_id, *u, true))
                .collect()
        } else {
            g.members
                .keys()
                .filter_map(|u| self.member_json(guild_id, *u, true))
                .collect()
        };
        let (threads, channels): (Vec<u64>, Vec<u64>) = g
            .channels
            .iter()
            .partition(|id| self.channels.get(id).is_some_and(Channel::is_thread));
        Some(json!({
            "id": g.id.to_string(),
            "name": g.name,
            "icon": null,
            "icon_hash": null,
            "splash": null,
            "discovery_splash": null,
            "owner_id": g.owner_id.to_string(),
            "afk_channel_id": null,
            "afk_timeout": 300,
            "widget_enabled": false,
            "widget_channel_id": null,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": self.role_json(guild_id),
            "emojis": [],
            "features": [],
            "mfa_level": 0,
            "application_id": null,
            "system_channel_id": g.system_channel_id.map(|c| c.to_string()),
            "system_channel_flags": g.system_channel_flags,
            "rules_channel_id": g.rules_channel_id.map(|c| c.to_string()),
            "max_presences": null,
            "max_members": 500_000,
            "vanity_url_code": null,
            "description": null,
            "banner": null,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": null,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": false,
            "safety_alerts_channel_id": null,
            "stickers": [],
            "joined_at": iso(g.joined_at_ms),
            "large": large,
            "unavailable": false,
            "member_count": g.members.len(),
            "voice_states": g.voice_states.iter().map(|(user, channel)| json!({
                "user_id": user.to_string(), "channel_id": channel.to_string(), "guild_id": g.id.to_string(),
                "session_id": format!("voice-{user}"), "deaf": false, "mute": false, "self_deaf": false,
                "self_mute": false, "self_video": false, "suppress": false, "request_to_speak_timestamp": null,
            })).collect::<Vec<_>>(),
            "members": members,
            "channels": channels.iter().filter_map(|c| self.channel_json(*c)).collect::<Vec<_>>(),
            "threads": threads.iter().filter_map(|c| self.channel_json(*c)).collect::<Vec<_>>(),
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": g.scheduled_events.values().cloned().collect::<Vec<_>>(),
            "soundboard_sounds": [],
        }))
    }

    /// The guild as `GET /guilds/{id}` and GUILD_UPDATE carry it (no members, channels...).
    pub fn guild_json(&self, guild_id: u64) -> Option<Value> {
        // Threshold 0: no member is serialized only to be removed.
        let mut guild = self.guild_create_json(guild_id, 0)?;
        if let Some(map) = guild.as_object_mut() {
            for key in [
                "members",
                "channels",
                "threads",
                "presences",
                "voice_states",
                "joined_at",
                "large",
                "member_count",
                "unavailable",
                "stage_instances",
                "guild_scheduled_events",
                "soundboard_sounds",
            ] {
                map.remove(key);
            }
        }
        Some(guild)
    }

    /// A member's permissions in the guild (roles only).
    pub fn base_permissions(&self, guild_id: u64, user_id: u64) -> u64 {
        let Some(g) = self.guilds.get(&guild_id) else {
            return 0;
        };
        if g.owner_id == user_id {
            return perm::ALL;
        }
        let everyone = g.roles.get(&guild_id).map_or(0, |r| r.permissions);
        let roles = g
            .members
            .get(&user_id)
            .map(|m| m.roles.clone())
            .unwrap_or_default();
        let perms = roles
            .iter()
            .filter_map(|r| g.roles.get(r))
            .fold(everyone, |acc, r| acc | r.permissions);
        if perms & perm::ADMINISTRATOR != 0 {
            perm::ALL
        } else {
            perms
        }
    }

    /// A member's permissions in a channel, with overwrites, as Discord computes them.
    pub fn channel_permissions(&self, channel_id: u64, user_id: u64) -> u64 {
        let Some(channel) = self.channels.get(&channel_id) else {
            return 0;
        };
        let Some(guild_id) = channel.guild_id else {
            return perm::ALL;
        };
        // Threads use their parent's overwrites.
        let source = match channel.parent_id {
            Some(parent) if channel.is_thread() => self.channels.get(&parent).unwrap_or(channel),
            _ => channel,
        };
        let base = self.base_permissions(guild_id, user_id);
        if base == perm::ALL {
            return base;
        }
        let roles = self
            .guilds
            .get(&guild_id)
            .and_then(|g| g.members.get(&user_id))
            .map(|m| m.roles.clone())
            .unwrap_or_default();
        let mut perms = base;
        if let Some(o) = source.overwrites.iter().find(|o| o.id == guild_id) {
            perms = (perms & !o.deny) | o.allow;
        }
        let (mut allow, mut deny) = (0, 0);
        for o in source
            .overwrites
            .iter()
            .filter(|o| o.kind == 0 && roles.contains(&o.id))
        {
            allow |= o.allow;
            deny |= o.deny;
        }
        perms = (perms & !deny) | allow;
        if let Some(o) = source
            .overwrites
            .iter()
            .find(|o| o.kind == 1 && o.id == user_id)
        {
            perms = (perms & !o.deny) | o.allow;
        }
        perms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates_read_back() {
        for ms in [0, 1_796_493_600_123, 951_782_400_000] {
            assert_eq!(parse_iso_ms(&iso(ms)), Some(ms));
        }
        assert_eq!(
            parse_iso_ms("2027-03-25T19:00:00+01:00"),
            parse_iso_ms("2027-03-25T18:00:00Z")
        );
        assert_eq!(
            parse_iso_ms("2027-03-25T18:00:00.5Z"),
            Some(parse_iso_ms("2027-03-25T18:00:00Z").unwrap() + 500)
        );
        assert_eq!(parse_iso_ms("tomorrow"), None);
    }

    #[test]
    fn iso_dates() {
        assert_eq!(iso(0), "1970-01-01T00:00:00.000000+00:00");
        assert_eq!(iso(1_709_164_800_123), "2024-02-29T00:00:00.123000+00:00");
    }

    #[test]
    fn snowflakes_carry_their_time() {
        let ids = Snowflakes::new();
        let a = ids.next();
        let b = ids.next();
        assert!(b > a);
        assert!(snowflake_ms(a).abs_diff(now_ms()) < 5_000);
    }
}
