#![recursion_limit = "256"]
//! A local Discord (REST under `/api/v10` and the gateway) on 127.0.0.1, good enough to run the
//! real, unmodified Hearth binary. Every REST body is validated against Discord's OpenAPI spec and
//! every gateway payload against the gateway schemas; violations are collected for the test that
//! caused them. Tests and `hearth demo` drive it through [`Emulator`].

mod gateway;
mod limits;
mod oauth;
mod rest;
mod spec;
mod world;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::{json, Value};
use tokio::sync::Notify;

pub use gateway::{shard_of, GatewayStats, IdentifyOutcome, IdentifyRecord, IDENTIFY_WINDOW};
pub use limits::RateLimits;
use world::{Channel, Guild, Member, Overwrite, Role, Snowflakes, User, World};

/// `system_channel_flags` bit: no join notice in the system channel.
pub const SUPPRESS_JOIN_NOTIFICATIONS: u64 = 1 << 0;

/// How the emulator behaves.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    pub heartbeat_interval_ms: u64,
    /// Check every emitted gateway payload against its schema (off for benchmarks).
    pub validate_gateway: bool,
    pub application_id: u64,
    pub bot_user_id: u64,
    /// Dispatches kept per session for RESUME (the oldest are forgotten first; 0 keeps none).
    pub replay_buffer: usize,
    /// Rate-limit like Discord under load: per-route buckets and the global limit, with
    /// `X-RateLimit-*` headers on every response. Off by default (existing tests inject 429s
    /// with [`Fault`] instead).
    pub rate_limits: Option<RateLimits>,
    /// Discord bans an IP (Cloudflare) after 10,000 answers of 401, 403 or 429 (shared-scope
    /// 429s excepted) within 10 minutes.
    pub invalid_request_limit: u32,
    pub invalid_request_window_ms: u64,
    /// How long such a ban lasts (Discord says "temporary"; an hour is what operators report).
    pub invalid_request_ban_ms: u64,
    /// The initial interaction response must come within 3 s, else 404 10062 Unknown
    /// interaction. Counted from the INTERACTION_CREATE, as Discord does.
    pub interaction_response_ms: u64,
    /// Follow-ups and edits with the interaction token work for 15 minutes, then 401 50027.
    pub interaction_token_ms: u64,
    /// A second op 8 REQUEST_GUILD_MEMBERS for a guild within this window gets a RATE_LIMITED
    /// dispatch instead of chunks (Discord: 30 s).
    pub member_request_window_ms: u64,
    /// Discord's system messages in the event stream: a join notice (type 7) in the system
    /// channel on [`Emulator::member_join`], and a thread-created notice (type 18) in the parent
    /// when a thread is started without a message. Discord always sends them, so on by default;
    /// off only for tests of something else that count a channel's messages exactly.
    pub system_messages: bool,
    /// The most guilds one shard may hold: an IDENTIFY whose shard would hold more is closed
    /// with 4011 Sharding required (Discord: 2,500).
    pub max_guilds_per_shard: usize,
    /// `session_start_limit.max_concurrency` of `GET /gateway/bot`: how many shards may
    /// IDENTIFY per 5 s (rate-limit key `shard_id % max_concurrency`). Discord: 1 for most bots.
    pub max_concurrency: u64,
    /// `session_start_limit.total` (Discord: 1000 a day); `remaining` drops with every
    /// IDENTIFY.
    pub session_start_total: u64,
    /// Enforce `max_concurrency`: an IDENTIFY within 5 s of the last accepted one of the same
    /// rate-limit key gets op 9 Invalid Session, as Discord answers it. Off by default: most
    /// scenarios restart the bot (or let it re-IDENTIFY) within seconds and are about something
    /// else; every IDENTIFY is recorded either way ([`Emulator::identifies`]).
    pub identify_rate_limit: bool,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            heartbeat_interval_ms: 1000,
            validate_gateway: true,
            application_id: 1_100_000_000_000_000_001,
            bot_user_id: 1_100_000_000_000_000_001,
            replay_buffer: 100_000,
            rate_limits: None,
            invalid_request_limit: 10_000,
            invalid_request_window_ms: 10 * 60 * 1000,
            invalid_request_ban_ms: 60 * 60 * 1000,
            interaction_response_ms: 3_000,
            interaction_token_ms: 15 * 60 * 1000,
            member_request_window_ms: 30_000,
            system_messages: true,
            max_guilds_per_shard: 2500,
            max_concurrency: 1,
            session_start_total: 1000,
            identify_rate_limit: false,
        }
    }
}

/// A REST request the bot made, with the emulator's answer.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    /// The path after `/api/v10`, without the query.
    pub path: String,
    pub query: String,
    pub operation_id: Option<String>,
    /// The JSON body, or the `payload_json` part of a multipart body; `Null` when none.
    pub body: Value,
    /// Uploaded files: name and content.
    pub files: Vec<(String, Vec<u8>)>,
    pub status: u16,
    pub response: Value,
    pub seq: u64,
}

/// An error to answer on matching requests, `times` times.
#[derive(Clone, Debug)]
pub struct Fault {
    pub method: Option<String>,
    pub path_contains: String,
    pub status: u16,
    pub body: Value,
    pub times: u32,
    pub retry_after: Option<f64>,
}

impl Default for Fault {
    fn default() -> Self {
        Self {
            method: None,
            path_contains: String::new(),
            status: 500,
            body: Value::Null,
            times: 1,
            retry_after: None,
        }
    }
}

impl Fault {
    /// A per-route 429 as Discord sends it (body, `Retry-After` rounded up, `X-RateLimit-*`
    /// with scope `user`).
    pub fn rate_limited(
        method: Option<&str>,
        path_contains: &str,
        retry_after: f64,
        times: u32,
    ) -> Self {
        Self {
            method: method.map(str::to_owned),
            path_contains: path_contains.to_owned(),
            status: 429,
            body: Value::Null,
            times,
            retry_after: Some(retry_after),
        }
    }

    /// A global 429 on any request: `"global": true`, `X-RateLimit-Global: true`, scope
    /// `global`.
    pub fn global_rate_limit(retry_after: f64, times: u32) -> Self {
        Self {
            body: json!({ "message": "You are being rate limited.", "retry_after": retry_after, "global": true }),
            ..Self::rate_limited(None, "", retry_after, times)
        }
    }

    /// A server error on POSTs to matching paths, with the body Discord sends with it.
    pub fn server_error(path_contains: &str, status: u16, times: u32) -> Self {
        let message = match status {
            502 => "502: Bad Gateway",
            503 => "503: Service Unavailable",
            _ => "500: Internal Server Error",
        };
        Self {
            method: Some("POST".into()),
            path_contains: path_contains.to_owned(),
            status,
            body: json!({ "code": 0, "message": message }),
            times,
            retry_after: None,
        }
    }
}

/// An interaction sent to the bot; its answers arrive as REST calls.
#[derive(Clone)]
pub struct InteractionHandle {
    pub id: u64,
    pub token: String,
    emu: Emulator,
}

impl InteractionHandle {
    /// The interaction callback (`POST /interactions/{id}/{token}/callback`).
    pub async fn response(&self, timeout: Duration) -> anyhow::Result<RecordedRequest> {
        let path = format!("/interactions/{}/{}/callback", self.id, self.token);
        self.emu
            .wait_for_request(move |r| r.method == "POST" && r.path == path, timeout)
            .await
    }

    /// The first follow-up message (`POST /webhooks/{app}/{token}`).
    pub async fn followup(&self, timeout: Duration) -> anyhow::Result<RecordedRequest> {
        let path = format!("/webhooks/{}/{}", self.emu.application_id(), self.token);
        self.emu
            .wait_for_request(move |r| r.method == "POST" && r.path == path, timeout)
            .await
    }
}

pub(crate) struct Inner {
    pub cfg: EmulatorConfig,
    pub addr: SocketAddr,
    pub spec: spec::Spec,
    pub ids: Snowflakes,
    pub world: Mutex<World>,
    pub requests: Mutex<Vec<RecordedRequest>>,
    pub changed: Notify,
    pub violations: Mutex<Vec<String>>,
    pub faults: Mutex<Vec<Fault>>,
    pub limiter: Mutex<limits::Limiter>,
    /// Last op 8 per guild, for its rate limit.
    pub member_requests: Mutex<std::collections::HashMap<u64, Instant>>,
    pub gateway: gateway::Gateway,
    pub heartbeat_ack: AtomicBool,
    pub request_seq: AtomicU64,
    pub shutdown: tokio::sync::watch::Sender<bool>,
    /// `DISCORD_EMULATOR_TRACE` set: every request is printed to stderr.
    pub trace: bool,
    /// OAuth2 logins (web dashboards).
    pub oauth: Mutex<oauth::OAuth>,
}

impl Inner {
    fn stop(&self) {
        self.gateway.drop_all();
        self.shutdown.send_replace(true);
    }
}

/// Stops the server when the last [`Emulator`] handle goes away.
struct Lifetime(Arc<Inner>);

impl Drop for Lifetime {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// A running emulator; clones share it. Dropping the last clone (or [`Emulator::shutdown`])
/// stops the server and closes every gateway connection.
#[derive(Clone)]
pub struct Emulator {
    inner: Arc<Inner>,
    _lifetime: Arc<Lifetime>,
}

impl Emulator {
    /// Starts on 127.0.0.1 with a free port and the default config.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(EmulatorConfig::default()).await
    }

    pub async fn start_with(cfg: EmulatorConfig) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let mut world = World {
            bot_user_id: cfg.bot_user_id,
            ..World::default()
        };
        world.users.insert(
            cfg.bot_user_id,
            User {
                id: cfg.bot_user_id,
                username: "Hearth".into(),
                bot: true,
            },
        );
        let inner = Arc::new(Inner {
            cfg,
            addr,
            spec: spec::Spec::load()?,
            ids: Snowflakes::new(),
            world: Mutex::new(world),
            requests: Mutex::new(Vec::new()),
            changed: Notify::new(),
            violations: Mutex::new(Vec::new()),
            faults: Mutex::new(Vec::new()),
            limiter: Mutex::new(limits::Limiter::default()),
            member_requests: Mutex::new(std::collections::HashMap::new()),
            gateway: gateway::Gateway::default(),
            heartbeat_ack: AtomicBool::new(true),
            request_seq: AtomicU64::new(0),
            shutdown: tokio::sync::watch::channel(false).0,
            trace: std::env::var_os("DISCORD_EMULATOR_TRACE").is_some(),
            oauth: Mutex::new(oauth::OAuth::default()),
        });
        let app = axum::Router::new()
            .route("/gateway", axum::routing::get(gateway::upgrade))
            .route(
                "/oauth2/authorize",
                axum::routing::get(oauth::authorize_page).post(oauth::authorize_submit),
            )
            .route("/api/v10/oauth2/token", axum::routing::post(oauth::token))
            .route("/api/oauth2/token", axum::routing::post(oauth::token))
            .route("/api/v10/users/@me", axum::routing::get(oauth::users_me))
            .route(
                "/api/v10/users/@me/guilds",
                axum::routing::get(oauth::users_me_guilds),
            )
            .fallback(rest::handle)
            .with_state(inner.clone());
        let mut stop = inner.shutdown.subscribe();
        tokio::spawn(async move {
            let server = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            });
            if let Err(err) = server.await {
                tracing::warn!(error = %err, "emulator server stopped");
            }
        });
        Ok(Self {
            _lifetime: Arc::new(Lifetime(inner.clone())),
            inner,
        })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    pub fn application_id(&self) -> u64 {
        self.inner.cfg.application_id
    }

    pub fn bot_user_id(&self) -> u64 {
        self.inner.cfg.bot_user_id
    }

    /// The application's OAuth2 client secret (for a web dashboard's `client_secret`).
    pub fn oauth_client_secret(&self) -> String {
        self.inner.oauth.lock().client_secret.clone()
    }

    /// Registers an OAuth2 redirect URI, as the developer portal does; `/oauth2/authorize`
    /// refuses any other.
    pub fn add_oauth_redirect(&self, uri: &str) {
        self.inner.oauth.lock().redirect_uris.push(uri.to_owned());
    }

    /// Makes `/oauth2/authorize` approve at once as `user` (`None`: show the consent page).
    pub fn oauth_auto_approve(&self, user: Option<u64>) {
        self.inner.oauth.lock().auto_approve = user;
    }

    /// Stops the server and closes every gateway connection.
    pub async fn shutdown(&self) {
        self.inner.stop();
        tokio::task::yield_now().await;
    }

    /// Whether a gateway session exists: world changes are then dispatched like Discord would.
    fn live(&self) -> bool {
        self.inner.gateway.has_sessions()
    }

    fn id(&self) -> u64 {
        self.inner.ids.next()
    }

    // ----- world building -----

    /// A guild with @everyone (id = guild id), an owner, and the bot as a member with a managed
    /// "Hearth" role holding `bot_permissions`.
    pub fn add_guild(&self, name: &str, bot_permissions: u64) -> u64 {
        self.add_guild_with_id(self.id(), name, bot_permissions)
    }

    /// [`Self::add_guild`] with a chosen id (to match a database prepared earlier).
    pub fn add_guild_with_id(&self, guild_id: u64, name: &str, bot_permissions: u64) -> u64 {
        let owner = self.add_user(&format!("{name} owner"), false);
        let bot_role = self.id();
        let bot = self.bot_user_id();
        let mut world = self.inner.world.lock();
        let mut guild = Guild {
            id: guild_id,
            name: name.to_owned(),
            owner_id: owner,
            joined_at_ms: world::now_ms(),
            ..Guild::default()
        };
        guild.roles.insert(
            guild_id,
            Role {
                id: guild_id,
                name: "@everyone".into(),
                permissions: 0,
                position: 0,
                managed_by_bot: None,
            },
        );
        guild.roles.insert(
            bot_role,
            Role {
                id: bot_role,
                name: "Hearth".into(),
                permissions: bot_permissions,
                // Discord places a bot's managed role high when it joins.
                position: 100,
                managed_by_bot: Some(bot),
            },
        );
        for (user, roles) in [(owner, vec![]), (bot, vec![bot_role])] {
            guild.members.insert(
                user,
                Member {
                    roles,
                    joined_at_ms: world::now_ms(),
                    pending: false,
                },
            );
        }
        world.guilds.insert(guild_id, guild);
        // Discord's default `large_threshold`: a new guild here has two members anyway.
        let created = world.guild_create_json(guild_id, 50);
        drop(world);
        if let (true, Some(created)) = (self.live(), created) {
            self.dispatch("GUILD_CREATE", created);
        }
        guild_id
    }

    /// The bot's managed role in a guild.
    pub fn bot_role(&self, guild: u64) -> u64 {
        let world = self.inner.world.lock();
        world
            .guilds
            .get(&guild)
            .and_then(|g| {
                g.roles
                    .values()
                    .find(|r| r.managed_by_bot.is_some())
                    .map(|r| r.id)
            })
            .unwrap_or(0)
    }

    pub fn add_channel(&self, guild: u64, name: &str, kind: u8) -> u64 {
        let id = self.id();
        let mut world = self.inner.world.lock();
        let position = world
            .guilds
            .get(&guild)
            .map_or(0, |g| u16::try_from(g.channels.len()).unwrap_or(0));
        world.channels.insert(
            id,
            Channel {
                id,
                guild_id: Some(guild),
                kind,
                name: name.to_owned(),
                position,
                parent_id: None,
                overwrites: Vec::new(),
                owner_id: None,
                archived: false,
                thread_members: Vec::new(),
                recipient: None,
                ..Channel::default()
            },
        );
        if let Some(g) = world.guilds.get_mut(&guild) {
            g.channels.push(id);
        }
        let created = world.channel_json(id);
        drop(world);
        if let (true, Some(created)) = (self.live(), created) {
            self.dispatch("CHANNEL_CREATE", created);
        }
        id
    }

    /// Gives a forum channel its tags; returns their ids in order.
    pub fn set_forum_tags(&self, channel: u64, names: &[&str]) -> Vec<u64> {
        let ids: Vec<u64> = names.iter().map(|_| self.id()).collect();
        let updated = {
            let mut world = self.inner.world.lock();
            let Some(c) = world.channels.get_mut(&channel) else {
                return Vec::new();
            };
            c.available_tags = ids
                .iter()
                .zip(names)
                .map(|(id, name)| (*id, (*name).to_owned()))
                .collect();
            world.channel_json(channel)
        };
        self.dispatch_channel_update(updated);
        ids
    }

    fn dispatch_channel_update(&self, channel: Option<Value>) {
        if let (true, Some(channel)) = (self.live(), channel) {
            let event = if channel.get("thread_metadata").is_some() {
                "THREAD_UPDATE"
            } else {
                "CHANNEL_UPDATE"
            };
            self.dispatch(event, channel);
        }
    }

    /// Deletes a channel or thread, as a moderator would (no event).
    pub fn delete_channel(&self, channel: u64) {
        let mut world = self.inner.world.lock();
        world.channels.remove(&channel);
        world.messages.remove(&channel);
        for guild in world.guilds.values_mut() {
            guild.channels.retain(|c| *c != channel);
        }
    }

    pub fn set_system_channel(&self, guild: u64, channel: Option<u64>) {
        let updated = {
            let mut world = self.inner.world.lock();
            if let Some(g) = world.guilds.get_mut(&guild) {
                g.system_channel_id = channel;
            }
            world.guild_json(guild)
        };
        if let (true, Some(updated)) = (self.live(), updated) {
            self.dispatch("GUILD_UPDATE", updated);
        }
    }

    pub fn set_channel_overwrite(
        &self,
        channel: u64,
        target_id: u64,
        target_type: u8,
        allow: u64,
        deny: u64,
    ) {
        let updated = {
            let mut world = self.inner.world.lock();
            if let Some(c) = world.channels.get_mut(&channel) {
                c.overwrites.retain(|o| o.id != target_id);
                c.overwrites.push(Overwrite {
                    id: target_id,
                    kind: target_type,
                    allow,
                    deny,
                });
            }
            world.channel_json(channel)
        };
        self.dispatch_channel_update(updated);
    }

    pub fn add_role(&self, guild: u64, name: &str, permissions: u64) -> u64 {
        let id = self.id();
        let mut world = self.inner.world.lock();
        if let Some(g) = world.guilds.get_mut(&guild) {
            let position = u16::try_from(g.roles.len()).unwrap_or(0);
            g.roles.insert(
                id,
                Role {
                    id,
                    name: name.to_owned(),
                    permissions,
                    position,
                    managed_by_bot: None,
                },
            );
        }
        let role = world
            .guilds
            .get(&guild)
            .and_then(|g| g.roles.get(&id))
            .map(Role::json);
        drop(world);
        if let (true, Some(role)) = (self.live(), role) {
            self.dispatch(
                "GUILD_ROLE_CREATE",
                json!({ "guild_id": guild.to_string(), "role": role }),
            );
        }
        id
    }

    pub fn set_role_permissions(&self, guild: u64, role: u64, permissions: u64) {
        self.update_role(guild, role, |r| r.permissions = permissions);
    }

    /// Moves a role in the hierarchy (the bot's managed role sits at 100).
    pub fn set_role_position(&self, guild: u64, role: u64, position: u16) {
        self.update_role(guild, role, |r| r.position = position);
    }

    /// Changes a role and tells the bot (GUILD_ROLE_UPDATE) when it is connected.
    fn update_role(&self, guild: u64, role: u64, change: impl FnOnce(&mut Role)) {
        let updated = {
            let mut world = self.inner.world.lock();
            world
                .guilds
                .get_mut(&guild)
                .and_then(|g| g.roles.get_mut(&role))
                .map(|r| {
                    change(r);
                    r.json()
                })
        };
        if let (true, Some(role)) = (self.live(), updated) {
            self.dispatch(
                "GUILD_ROLE_UPDATE",
                json!({ "guild_id": guild.to_string(), "role": role }),
            );
        }
    }

    pub fn add_user(&self, username: &str, bot: bool) -> u64 {
        let id = self.id();
        self.inner.world.lock().users.insert(
            id,
            User {
                id,
                username: username.to_owned(),
                bot,
            },
        );
        id
    }

    pub fn set_dms_closed(&self, user: u64, closed: bool) {
        let mut world = self.inner.world.lock();
        if closed {
            world.dms_closed.insert(user);
        } else {
            world.dms_closed.remove(&user);
        }
    }

    /// An existing member (no event); calling it again replaces their roles.
    pub fn add_member(&self, guild: u64, user: u64, roles: &[u64]) {
        self.put_member(guild, user, roles, None);
    }

    /// An existing member who joined at `joined_at_ms` (unix ms), e.g. while the bot was down
    /// (no event): GUILD_CREATE, member chunks and REST show that `joined_at`.
    pub fn add_member_joined_at(&self, guild: u64, user: u64, roles: &[u64], joined_at_ms: u64) {
        self.put_member(guild, user, roles, Some(joined_at_ms));
    }

    fn put_member(&self, guild: u64, user: u64, roles: &[u64], joined_at_ms: Option<u64>) {
        let mut world = self.inner.world.lock();
        if let Some(g) = world.guilds.get_mut(&guild) {
            let joined = joined_at_ms.unwrap_or_else(|| {
                g.members
                    .get(&user)
                    .map_or_else(world::now_ms, |m| m.joined_at_ms)
            });
            g.members.insert(
                user,
                Member {
                    roles: roles.to_vec(),
                    joined_at_ms: joined,
                    pending: false,
                },
            );
        }
    }

    // ----- dispatches -----

    /// Sends a dispatch to every session (validated when validation is on).
    pub fn dispatch(&self, event: &str, d: Value) {
        gateway::dispatch(&self.inner, event, &d);
    }

    /// Many dispatches at once (benchmarks).
    pub fn dispatch_many(&self, frames: impl IntoIterator<Item = (String, Value)>) {
        gateway::dispatch_many(&self.inner, frames);
    }

    /// A system message from Discord in `channel` (7 member join, 6 pin, 18 thread created,
    /// ...), authored by `author`, with empty content; returns its id.
    pub fn send_system_message(
        &self,
        guild: u64,
        channel: u64,
        author: u64,
        message_type: u8,
    ) -> u64 {
        let _ = guild;
        rest::post_system_message(&self.inner, channel, author, message_type, "", None)
    }

    /// `SUPPRESS_JOIN_NOTIFICATIONS` is bit 0: no join notice in the system channel.
    pub fn set_system_channel_flags(&self, guild: u64, flags: u64) {
        let updated = {
            let mut world = self.inner.world.lock();
            if let Some(g) = world.guilds.get_mut(&guild) {
                g.system_channel_flags = flags;
            }
            world.guild_json(guild)
        };
        if let (true, Some(updated)) = (self.live(), updated) {
            self.dispatch("GUILD_UPDATE", updated);
        }
    }

    /// A member pins a message: CHANNEL_PINS_UPDATE, then Discord's pin notice (type 6) citing
    /// the message; returns the notice's id.
    pub fn pin_message(&self, channel: u64, message: u64, by: u64) -> u64 {
        let guild = {
            let mut world = self.inner.world.lock();
            if let Some(m) = world.message_mut(channel, message) {
                m["pinned"] = json!(true);
            }
            world.channels.get(&channel).and_then(|c| c.guild_id)
        };
        let mut pins = json!({ "channel_id": channel.to_string(), "last_pin_timestamp": world::iso(world::now_ms()) });
        if let Some(g) = guild {
            pins["guild_id"] = json!(g.to_string());
        }
        self.dispatch("CHANNEL_PINS_UPDATE", pins);
        let reference = json!({ "type": 0, "message_id": message.to_string(), "channel_id": channel.to_string() });
        rest::post_system_message(&self.inner, channel, by, 6, "", Some(reference))
    }

    /// A member joins: GUILD_MEMBER_ADD, then (with `system_messages`) Discord's join notice
    /// (type 7) in the system channel unless its flags suppress it.
    pub fn member_join(&self, guild: u64, user: u64, pending: bool) {
        let d = {
            let mut world = self.inner.world.lock();
            let Some(g) = world.guilds.get_mut(&guild) else {
                return;
            };
            g.members.insert(
                user,
                Member {
                    roles: Vec::new(),
                    joined_at_ms: world::now_ms(),
                    pending,
                },
            );
            let mut d = world.member_json(guild, user, true).unwrap_or_default();
            d["guild_id"] = json!(guild.to_string());
            d
        };
        self.dispatch("GUILD_MEMBER_ADD", d);
        let notice_in = {
            let world = self.inner.world.lock();
            world
                .guilds
                .get(&guild)
                .filter(|g| g.system_channel_flags & SUPPRESS_JOIN_NOTIFICATIONS == 0)
                .and_then(|g| g.system_channel_id)
        };
        if let (true, Some(channel)) = (self.inner.cfg.system_messages, notice_in) {
            self.send_system_message(guild, channel, user, 7);
        }
    }

    pub fn member_update(&self, guild: u64, user: u64, pending: bool) {
        let d = {
            let mut world = self.inner.world.lock();
            let Some(member) = world
                .guilds
                .get_mut(&guild)
                .and_then(|g| g.members.get_mut(&user))
            else {
                return;
            };
            member.pending = pending;
            let mut d = world.member_json(guild, user, true).unwrap_or_default();
            d["guild_id"] = json!(guild.to_string());
            d
        };
        self.dispatch("GUILD_MEMBER_UPDATE", d);
    }

    pub fn member_leave(&self, guild: u64, user: u64) {
        let d = {
            let mut world = self.inner.world.lock();
            if let Some(g) = world.guilds.get_mut(&guild) {
                g.members.remove(&user);
            }
            json!({ "guild_id": guild.to_string(), "user": world.user_json(user) })
        };
        self.dispatch("GUILD_MEMBER_REMOVE", d);
    }

    /// A member posts a message; returns its id.
    pub fn user_message(
        &self,
        channel: u64,
        author: u64,
        content: &str,
        reply_to: Option<u64>,
    ) -> u64 {
        self.message_with_id(self.id(), channel, author, content, reply_to)
    }

    /// A member's message sent `ago` before now (its id and timestamp say so), delivered now:
    /// for scenarios about what happened hours ago.
    pub fn user_message_sent_ago(
        &self,
        channel: u64,
        author: u64,
        content: &str,
        ago: std::time::Duration,
    ) -> u64 {
        let ms = world::now_ms().saturating_sub(u64::try_from(ago.as_millis()).unwrap_or(0));
        self.message_with_id(self.inner.ids.at(ms), channel, author, content, None)
    }

    fn message_with_id(
        &self,
        id: u64,
        channel: u64,
        author: u64,
        content: &str,
        reply_to: Option<u64>,
    ) -> u64 {
        let d = {
            let mut world = self.inner.world.lock();
            let guild = world.channels.get(&channel).and_then(|c| c.guild_id);
            let mut message =
                rest::message_json(&world, id, channel, author, content, &Value::Null);
            if let Some(reply) = reply_to {
                message["type"] = json!(19);
                message["message_reference"] = json!({ "type": 0, "message_id": reply.to_string(), "channel_id": channel.to_string(), "guild_id": guild.map(|g| g.to_string()) });
            }
            world
                .messages
                .entry(channel)
                .or_default()
                .push(message.clone());
            if let Some(guild) = guild {
                message["guild_id"] = json!(guild.to_string());
                if let Some(member) = world.member_json(guild, author, false) {
                    message["member"] = member;
                }
            }
            message
        };
        self.dispatch("MESSAGE_CREATE", d);
        id
    }

    pub fn reaction_add(&self, channel: u64, message: u64, user: u64, emoji: &str) {
        let d = {
            let mut world = self.inner.world.lock();
            let guild = world.channels.get(&channel).and_then(|c| c.guild_id);
            let author = world.add_reaction(channel, message, emoji, user == self.bot_user_id());
            let mut d = json!({
                "user_id": user.to_string(),
                "channel_id": channel.to_string(),
                "message_id": message.to_string(),
                "emoji": { "id": null, "name": emoji },
                "burst": false,
                "type": 0,
            });
            if let Some(author) = author {
                d["message_author_id"] = json!(author.to_string());
            }
            if let Some(g) = guild {
                d["guild_id"] = json!(g.to_string());
                if let Some(member) = world.member_json(g, user, true) {
                    d["member"] = member;
                }
            }
            d
        };
        self.dispatch("MESSAGE_REACTION_ADD", d);
    }

    /// A member joins (or moves to) a voice channel.
    pub fn voice_join(&self, guild: u64, channel: u64, user: u64) {
        self.voice_state(guild, Some(channel), user);
    }

    /// A member leaves voice: VOICE_STATE_UPDATE with a null channel, as Discord sends it.
    pub fn voice_leave(&self, guild: u64, user: u64) {
        self.voice_state(guild, None, user);
    }

    fn voice_state(&self, guild: u64, channel: Option<u64>, user: u64) {
        let member = {
            let mut world = self.inner.world.lock();
            if let Some(g) = world.guilds.get_mut(&guild) {
                match channel {
                    Some(channel) => g.voice_states.insert(user, channel),
                    None => g.voice_states.remove(&user),
                };
            }
            world.member_json(guild, user, true)
        };
        let d = json!({
            "guild_id": guild.to_string(),
            "channel_id": channel.map(|c| c.to_string()),
            "user_id": user.to_string(),
            "member": member,
            "session_id": format!("voice-{user}"),
            "deaf": false, "mute": false, "self_deaf": false, "self_mute": false,
            "self_video": false, "suppress": false, "request_to_speak_timestamp": null,
        });
        self.dispatch("VOICE_STATE_UPDATE", d);
    }

    /// The guild's scheduled events as Discord holds them.
    pub fn scheduled_events(&self, guild: u64) -> Vec<Value> {
        self.inner
            .world
            .lock()
            .guilds
            .get(&guild)
            .map(|g| g.scheduled_events.values().cloned().collect())
            .unwrap_or_default()
    }

    /// A member edits a scheduled event in Discord's own UI (new times, a status such as 4,
    /// cancelled): the event changes and GUILD_SCHEDULED_EVENT_UPDATE is sent, as Discord does.
    pub fn edit_event_in_ui(&self, guild: u64, event: u64, changes: &Value) -> bool {
        let updated = {
            let mut world = self.inner.world.lock();
            let Some(target) = world
                .guilds
                .get_mut(&guild)
                .and_then(|g| g.scheduled_events.get_mut(&event))
            else {
                return false;
            };
            if let (Some(target), Some(changes)) = (target.as_object_mut(), changes.as_object()) {
                for (k, v) in changes {
                    target.insert(k.clone(), v.clone());
                }
            }
            target.clone()
        };
        self.dispatch("GUILD_SCHEDULED_EVENT_UPDATE", updated);
        true
    }

    /// Adds `count` scheduled external events created by a member (a guild at Discord's limit
    /// of 100 uncompleted events, for tests).
    pub fn add_scheduled_events(&self, guild: u64, count: usize) {
        let start = world::iso(world::now_ms() + 86_400_000);
        for _ in 0..count {
            let id = self.id();
            let event = json!({
                "id": id.to_string(), "guild_id": guild.to_string(), "name": "Community night",
                "status": 1, "entity_type": 3, "privacy_level": 2, "user_count": 0,
                "scheduled_start_time": start, "scheduled_end_time": start,
                "entity_metadata": { "location": "Somewhere" }, "channel_id": null,
                "creator_id": null, "description": null, "entity_id": null, "image": null,
                "recurrence_rule": null,
            });
            if let Some(g) = self.inner.world.lock().guilds.get_mut(&guild) {
                g.scheduled_events.insert(id, event);
            }
        }
    }

    /// A member clicks (or takes back) "Interested" on a scheduled event.
    pub fn event_interest(&self, guild: u64, event: u64, user: u64, interested: bool) {
        {
            let mut world = self.inner.world.lock();
            if let Some(e) = world
                .guilds
                .get_mut(&guild)
                .and_then(|g| g.scheduled_events.get_mut(&event))
            {
                let count = e["user_count"].as_i64().unwrap_or(0) + if interested { 1 } else { -1 };
                e["user_count"] = json!(count.max(0));
            }
        }
        let d = json!({
            "guild_scheduled_event_id": event.to_string(),
            "user_id": user.to_string(),
            "guild_id": guild.to_string(),
        });
        let name = if interested {
            "GUILD_SCHEDULED_EVENT_USER_ADD"
        } else {
            "GUILD_SCHEDULED_EVENT_USER_REMOVE"
        };
        self.dispatch(name, d);
    }

    /// A member opens a thread; returns its id.
    pub fn thread_create_by_user(&self, parent: u64, owner: u64, name: &str) -> u64 {
        let id = self.id();
        let d = {
            let mut world = self.inner.world.lock();
            let guild = world.channels.get(&parent).and_then(|c| c.guild_id);
            world.channels.insert(
                id,
                Channel {
                    id,
                    guild_id: guild,
                    kind: 11,
                    name: name.to_owned(),
                    position: 0,
                    parent_id: Some(parent),
                    overwrites: Vec::new(),
                    owner_id: Some(owner),
                    archived: false,
                    thread_members: vec![owner],
                    recipient: None,
                    ..Channel::default()
                },
            );
            if let Some(g) = guild.and_then(|g| world.guilds.get_mut(&g)) {
                g.channels.push(id);
            }
            let mut d = world.channel_json(id).unwrap_or_default();
            d["newly_created"] = json!(true);
            d
        };
        self.dispatch("THREAD_CREATE", d);
        rest::thread_created_notice(&self.inner, parent, id, owner, name);
        id
    }

    // ----- interactions -----

    pub fn slash_command(
        &self,
        guild: u64,
        channel: u64,
        user: u64,
        name: &str,
        options: Value,
    ) -> InteractionHandle {
        let data = {
            let world = self.inner.world.lock();
            let command_id = rest::command_id(&world, guild, name);
            let resolved = rest::resolve_options(&world, guild, &options);
            json!({ "id": command_id.to_string(), "name": name, "type": 1, "options": options, "resolved": resolved, "guild_id": guild.to_string() })
        };
        self.interaction(2, guild, channel, user, data, None)
    }

    pub fn message_command(
        &self,
        guild: u64,
        channel: u64,
        user: u64,
        name: &str,
        target_message: u64,
    ) -> InteractionHandle {
        let data = {
            let world = self.inner.world.lock();
            let message = world.messages.get(&channel).and_then(|m| {
                m.iter()
                    .find(|m| m["id"] == json!(target_message.to_string()))
                    .cloned()
            });
            json!({
                "id": rest::command_id(&world, guild, name).to_string(), "name": name, "type": 3,
                "target_id": target_message.to_string(), "guild_id": guild.to_string(),
                "resolved": { "messages": { target_message.to_string(): message } },
            })
        };
        self.interaction(2, guild, channel, user, data, None)
    }

    /// A member clicks a button on a message (`guild` 0: a message in the bot's DM).
    pub fn button_click(
        &self,
        guild: u64,
        channel: u64,
        user: u64,
        message: u64,
        custom_id: &str,
    ) -> InteractionHandle {
        let data = json!({ "custom_id": custom_id, "component_type": 2 });
        self.component(guild, channel, user, message, data)
    }

    /// A member picks `values` in a string select menu (component type 3) on a message.
    pub fn select_menu(
        &self,
        guild: u64,
        channel: u64,
        user: u64,
        message: u64,
        custom_id: &str,
        values: &[&str],
    ) -> InteractionHandle {
        let data = json!({ "custom_id": custom_id, "component_type": 3, "values": values });
        self.component(guild, channel, user, message, data)
    }

    fn component(
        &self,
        guild: u64,
        channel: u64,
        user: u64,
        message: u64,
        data: Value,
    ) -> InteractionHandle {
        let msg = {
            let mut world = self.inner.world.lock();
            let wanted = message.to_string();
            let found = world
                .messages
                .values()
                .flat_map(|m| m.iter())
                .find(|m| m["id"] == wanted.as_str())
                .or_else(|| world.ephemeral.get(&message))
                .cloned();
            found.unwrap_or_else(|| {
                // A message the emulator never saw (an ephemeral one from an earlier run):
                // remember it so the bot can update it.
                let made = rest::message_json(
                    &world,
                    message,
                    channel,
                    self.bot_user_id(),
                    "",
                    &Value::Null,
                );
                world.ephemeral.insert(message, made.clone());
                made
            })
        };
        self.interaction(3, guild, channel, user, data, Some(msg))
    }

    pub fn modal_submit(
        &self,
        guild: u64,
        channel: u64,
        user: u64,
        custom_id: &str,
        fields: &[(&str, &str)],
    ) -> InteractionHandle {
        let rows: Vec<Value> = fields
            .iter()
            .map(|(id, value)| json!({ "type": 1, "components": [{ "type": 4, "custom_id": id, "value": value }] }))
            .collect();
        self.interaction(
            5,
            guild,
            channel,
            user,
            json!({ "custom_id": custom_id, "components": rows }),
            None,
        )
    }

    pub fn autocomplete(
        &self,
        guild: u64,
        channel: u64,
        user: u64,
        name: &str,
        options: Value,
    ) -> InteractionHandle {
        let data = {
            let world = self.inner.world.lock();
            json!({ "id": rest::command_id(&world, guild, name).to_string(), "name": name, "type": 1, "options": options, "guild_id": guild.to_string() })
        };
        self.interaction(4, guild, channel, user, data, None)
    }

    fn interaction(
        &self,
        kind: u8,
        guild: u64,
        channel: u64,
        user: u64,
        data: Value,
        message: Option<Value>,
    ) -> InteractionHandle {
        let id = self.id();
        let token = format!("itoken-{id}");
        let d = {
            let mut world = self.inner.world.lock();
            world.channels.entry(channel).or_insert_with(|| Channel {
                id: channel,
                guild_id: Some(guild),
                kind: 0,
                name: "unknown".into(),
                position: 0,
                parent_id: None,
                overwrites: Vec::new(),
                owner_id: None,
                archived: false,
                thread_members: Vec::new(),
                recipient: None,
                ..Channel::default()
            });
            let mut member = world.member_json(guild, user, true).unwrap_or_else(|| json!({ "user": world.user_json(user), "roles": [], "joined_at": world::iso(world::now_ms()), "deaf": false, "mute": false, "flags": 0, "pending": false }));
            member["permissions"] = json!(world.channel_permissions(channel, user).to_string());
            let mut d = json!({
                "id": id.to_string(),
                "application_id": self.application_id().to_string(),
                "type": kind,
                "data": data,
                "guild_id": guild.to_string(),
                "guild": { "id": guild.to_string(), "locale": "en-US", "features": [] },
                "channel_id": channel.to_string(),
                "channel": world.channel_json(channel),
                "member": member,
                "token": token,
                "version": 1,
                "app_permissions": world.channel_permissions(channel, self.bot_user_id()).to_string(),
                "locale": "en-US",
                "guild_locale": "en-US",
                "entitlements": [],
                "authorizing_integration_owners": { "0": guild.to_string() },
                "context": 0,
                "attachment_size_limit": 26_214_400,
            });
            if let Some(message) = message {
                d["message"] = message;
            }
            // Guild 0: an interaction in the bot's DM with the member (a button on a DM), which
            // Discord sends with `user` and no guild or member.
            if guild == 0 {
                if let Some(map) = d.as_object_mut() {
                    for key in ["guild_id", "guild", "member", "guild_locale"] {
                        map.remove(key);
                    }
                }
                d["user"] = world.user_json(user);
                d["context"] = json!(1);
                d["authorizing_integration_owners"] = json!({ "0": "0" });
            }
            let reply_type = match (kind, data["type"].as_u64()) {
                (2, Some(1)) | (4, _) => 20,
                (2, _) => 23,
                _ => 0,
            };
            let on_message = d["message"]["id"].as_str().and_then(|m| m.parse().ok());
            world.interactions.insert(
                token.clone(),
                world::Interaction {
                    channel,
                    reply_type,
                    message: on_message,
                    created_ms: world::now_ms(),
                    ..world::Interaction::default()
                },
            );
            d
        };
        self.dispatch("INTERACTION_CREATE", d);
        InteractionHandle {
            id,
            token,
            emu: self.clone(),
        }
    }

    // ----- observation -----

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.inner.requests.lock().clone()
    }

    /// Waits for a request matching `pred` (already recorded ones count).
    pub async fn wait_for_request(
        &self,
        pred: impl Fn(&RecordedRequest) -> bool,
        timeout: Duration,
    ) -> anyhow::Result<RecordedRequest> {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.inner.changed.notified();
            if let Some(found) = self.inner.requests.lock().iter().find(|r| pred(r)).cloned() {
                return Ok(found);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let recent: Vec<String> = self
                    .inner
                    .requests
                    .lock()
                    .iter()
                    .rev()
                    .take(15)
                    .map(|r| format!("{} {} → {}", r.method, r.path, r.status))
                    .collect();
                anyhow::bail!(
                    "no matching request within {timeout:?}; last requests (newest first):\n  {}",
                    recent.join("\n  ")
                );
            }
            let _ = tokio::time::timeout(left.min(Duration::from_millis(100)), notified).await;
        }
    }

    pub fn violations(&self) -> Vec<String> {
        self.inner.violations.lock().clone()
    }

    /// Panics listing every spec violation seen so far.
    pub fn assert_no_violations(&self) {
        let violations = self.violations();
        assert!(
            violations.is_empty(),
            "{} Discord spec violation(s):\n{}",
            violations.len(),
            violations.join("\n")
        );
    }

    pub fn messages_in(&self, channel: u64) -> Vec<Value> {
        self.inner
            .world
            .lock()
            .messages
            .get(&channel)
            .cloned()
            .unwrap_or_default()
    }

    /// Who is in a thread (the bot included), in the order they were added.
    pub fn thread_members(&self, thread: u64) -> Vec<u64> {
        self.inner
            .world
            .lock()
            .channels
            .get(&thread)
            .map(|c| c.thread_members.clone())
            .unwrap_or_default()
    }

    pub fn channel(&self, id: u64) -> Option<Value> {
        self.inner.world.lock().channel_json(id)
    }

    pub fn member(&self, guild: u64, user: u64) -> Option<Value> {
        self.inner.world.lock().member_json(guild, user, true)
    }

    /// The `d` of the last IDENTIFY the bot sent (intents, shard, properties).
    pub fn last_identify(&self) -> Option<Value> {
        self.inner.gateway.last_identify()
    }

    pub fn gateway_stats(&self) -> GatewayStats {
        self.inner.gateway.stats()
    }

    /// Every IDENTIFY received so far, in order: when, which shard, and what became of it.
    pub fn identifies(&self) -> Vec<IdentifyRecord> {
        self.inner.gateway.identifies()
    }

    /// Waits until the IDENTIFYs received satisfy `pred`; returns them.
    pub async fn wait_for_identifies(
        &self,
        pred: impl Fn(&[IdentifyRecord]) -> bool,
        timeout: Duration,
    ) -> anyhow::Result<Vec<IdentifyRecord>> {
        let deadline = Instant::now() + timeout;
        loop {
            let seen = self.identifies();
            if pred(&seen) {
                return Ok(seen);
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "the IDENTIFYs within {timeout:?} did not match: {seen:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until `count` IDENTIFYs were received.
    pub async fn wait_for_identified(&self, count: u64, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        while self.gateway_stats().identifies < count {
            anyhow::ensure!(
                Instant::now() < deadline,
                "only {} IDENTIFY within {timeout:?}",
                self.gateway_stats().identifies
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    // ----- faults -----

    pub fn inject_fault(&self, fault: Fault) {
        self.inner.faults.lock().push(fault);
    }

    /// Answers the next `times` requests, whatever their route, with a global 429.
    pub fn inject_global_rate_limit(&self, retry_after: f64, times: u32) {
        self.inject_fault(Fault::global_rate_limit(retry_after, times));
    }

    pub fn clear_faults(&self) {
        self.inner.faults.lock().clear();
    }

    /// Closes every gateway connection abruptly (the bot should RESUME).
    pub fn drop_connections(&self) {
        self.inner.gateway.drop_all();
    }

    /// Closes every gateway connection with a close frame carrying `code` (4000 and the like
    /// are resumable; 4004, 4010, 4011, 4013 and 4014 are fatal by Discord's docs, though
    /// serenity 0.12.5 stops only on 4004, 4013 and 4014: after 4010 or 4011 its shard logs the
    /// error and identifies again every 5 s).
    pub fn close_connections(&self, code: u16) {
        self.inner.gateway.close_all(code);
    }

    /// Sends op 7 RECONNECT.
    pub fn send_reconnect(&self) {
        self.inner
            .gateway
            .send_all(&json!({ "op": 7, "d": null }).to_string());
    }

    pub fn set_heartbeat_ack(&self, on: bool) {
        self.inner.heartbeat_ack.store(on, Ordering::SeqCst);
    }
}
