//! Configuration: one TOML file plus `HEARTH_*` environment overrides.
//!
//! Loading is pure (`load_from_str`) so tests can check every error message; `load` adds the file
//! system and the environment. Every error names the file, the key, the line when there is one, and
//! the fix.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;

use crate::domain::settings::{ChannelPurpose, GuildDefaults};

/// Discord's public API origin; the default for `[discord] api_base_url`.
pub const DISCORD_ORIGIN: &str = "https://discord.com";

/// The whole configuration, as read from the TOML file and the environment.
#[derive(Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub discord: DiscordConfig,
    pub database: DatabaseConfig,
    pub log: LogConfig,
    pub outbox: OutboxConfig,
    pub welcome: WelcomeConfig,
    pub privacy: PrivacyConfig,
    pub feedback: FeedbackConfig,
    pub events: EventsConfig,
    pub web: WebConfig,
    pub defaults: GuildDefaults,
    /// Per-guild defaults keyed by guild id; slash commands override them in the database.
    pub guilds: BTreeMap<String, GuildDefaults>,
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscordConfig {
    pub token: Option<String>,
    pub application_id: Option<u64>,
    pub api_base_url: String,
    /// `global` registers slash commands once for every guild; `guilds` registers them per guild
    /// (instant updates while developing).
    pub register_commands: CommandRegistration,
}

impl Default for DiscordConfig {
    fn default() -> Self {
        Self {
            token: None,
            application_id: None,
            api_base_url: DISCORD_ORIGIN.to_owned(),
            register_commands: CommandRegistration::Global,
        }
    }
}

// The token must never reach a log line, so `Debug` is written by hand.
impl fmt::Debug for DiscordConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiscordConfig")
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("application_id", &self.application_id)
            .field("api_base_url", &self.api_base_url)
            .field("register_commands", &self.register_commands)
            .finish()
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("discord", &self.discord)
            .field("database", &self.database)
            .field("log", &self.log)
            .field("outbox", &self.outbox)
            .field("welcome", &self.welcome)
            .field("privacy", &self.privacy)
            .field("feedback", &self.feedback)
            .field("events", &self.events)
            .field("web", &self.web)
            .field("defaults", &self.defaults)
            .field("guilds", &self.guilds)
            .finish()
    }
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CommandRegistration {
    Global,
    Guilds,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    pub url: String,
}

/// The URL without its password (a PostgreSQL URL may carry one).
impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &crate::domain::database::redacted(&self.url))
            .finish()
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://hearth.db".to_owned(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub filter: String,
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            filter: "info,hearth=debug,serenity=warn,poise=warn".to_owned(),
            format: LogFormat::Pretty,
        }
    }
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Delivery of the bot's own posts (welcomes, prompts, reports).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxConfig {
    /// A post failing with server or network errors is given up (with its reason logged) only
    /// after at least this many attempts and `retry_for_secs` after it was queued; rate limits
    /// (429) are waited out and never count as attempts.
    pub max_attempts: u32,
    /// First retry delay in milliseconds; doubles on each attempt, capped at `max_backoff_ms`.
    pub initial_backoff_ms: u64,
    pub max_backoff_ms: u64,
    /// How long transient failures are retried: an outage shorter than this loses no post.
    pub retry_for_secs: u64,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            initial_backoff_ms: 500,
            max_backoff_ms: 5 * 60 * 1000,
            retry_for_secs: 6 * 3600,
        }
    }
}

/// Welcoming (product §3).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WelcomeConfig {
    /// Raid guard: more joins than this within `raid_window_secs` turns per-member welcomes
    /// into one summary post.
    pub raid_joins: u32,
    pub raid_window_secs: i64,
    /// During a burst, intro threads are created this far apart.
    pub burst_thread_spacing_ms: u64,
    /// At every start, members who joined within this many hours (and after Hearth first saw
    /// the server) but were never welcomed, because they joined while Hearth was down or their
    /// join was lost with the process, are welcomed once. 0 turns this off.
    pub late_welcome_within_hours: u32,
}

impl Default for WelcomeConfig {
    fn default() -> Self {
        Self {
            raid_joins: 10,
            raid_window_secs: 60,
            burst_thread_spacing_ms: 1000,
            late_welcome_within_hours: 24,
        }
    }
}

/// The feedback loop (product §5).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeedbackConfig {
    /// Days an item may wait for a first answer before `/feedback report` lists it as late.
    pub sla_days: u32,
}

impl Default for FeedbackConfig {
    fn default() -> Self {
        Self { sla_days: 7 }
    }
}

/// Events (product §9).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// Reminders a member gets before an event unless they choose others (`/event remind`):
    /// durations before the start, such as "24h, 1h"; "none" for no default reminders.
    pub reminders: String,
    /// How long a spot freed on a full event is held for the next member on the waitlist.
    pub offer_window_secs: i64,
    /// A reminder more than this late (the bot was down when it was due) is skipped, not sent.
    pub reminder_grace_secs: i64,
    /// Presence in the event's voice channel that counts as attending: this many seconds, or
    /// `attendance_share` of the event's length if that is shorter.
    pub attendance_min_secs: i64,
    pub attendance_share: f64,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            reminders: "24h, 1h".into(),
            offer_window_secs: 4 * 3600,
            reminder_grace_secs: 300,
            attendance_min_secs: 600,
            attendance_share: 0.25,
        }
    }
}

impl EventsConfig {
    /// The default reminder offsets in seconds (validated at load).
    pub fn default_offsets(&self) -> Vec<i64> {
        crate::domain::events::parse_offsets(&self.reminders).unwrap_or_default()
    }

    pub fn attendance(&self) -> crate::domain::events::AttendanceRule {
        crate::domain::events::AttendanceRule {
            min_secs: self.attendance_min_secs,
            min_share: self.attendance_share,
        }
    }
}

/// The web dashboard for managers (product §13): off unless `bind` is set.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// Address to listen on, such as `127.0.0.1:8080` (put a TLS reverse proxy in front).
    pub bind: Option<String>,
    /// The address managers open, as the browser sees it (`https://hearth.example.org`); the
    /// OAuth2 redirect is `{public_url}/callback`. Default: `http://{bind}`.
    pub public_url: Option<String>,
    /// The application's OAuth2 client id; default `[discord] application_id`, else the id
    /// Discord reports for the bot's application.
    pub client_id: Option<u64>,
    /// The OAuth2 client secret; better in `HEARTH_WEB_CLIENT_SECRET` than in the file.
    pub client_secret: Option<String>,
    /// How long a login lasts.
    pub session_hours: u32,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            bind: None,
            public_url: None,
            client_id: None,
            client_secret: None,
            session_hours: 12,
        }
    }
}

// The client secret must never reach a log line, so `Debug` is written by hand.
impl fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebConfig")
            .field("bind", &self.bind)
            .field("public_url", &self.public_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "***"))
            .field("session_hours", &self.session_hours)
            .finish()
    }
}

impl WebConfig {
    /// The address to serve on, when the dashboard is on (validated at load).
    pub fn bind_addr(&self) -> Option<std::net::SocketAddr> {
        self.bind.as_deref().and_then(|b| b.parse().ok())
    }

    /// The origin browsers use, without a trailing slash.
    pub fn public_origin(&self) -> Option<String> {
        match (&self.public_url, &self.bind) {
            (Some(url), _) => Some(url.trim_end_matches('/').to_owned()),
            (None, Some(bind)) => Some(format!("http://{bind}")),
            (None, None) => None,
        }
    }

    fn validate(&self) -> Result<(), Invalid> {
        let Some(bind) = &self.bind else {
            return Ok(());
        };
        if bind.parse::<std::net::SocketAddr>().is_err() {
            return Err(invalid(
                "web.bind",
                format!("`{bind}` is not an address and port"),
                "use an IP address and port such as \"127.0.0.1:8080\", or remove the key to turn the dashboard off",
            ));
        }
        if let Some(url) = &self.public_url {
            validate_origin(url).map_err(|problem| {
                invalid(
                    "web.public_url",
                    problem,
                    "use the origin managers open, such as https://hearth.example.org",
                )
            })?;
        }
        if self.client_id == Some(0) {
            return Err(invalid(
                "web.client_id",
                "0 is not a client id",
                "copy the Client ID from the developer portal (OAuth2), or remove the key",
            ));
        }
        match self.client_secret.as_deref() {
            None => Err(invalid(
                "web.client_secret",
                "the dashboard is on (web.bind) but has no OAuth2 client secret",
                "set HEARTH_WEB_CLIENT_SECRET to the Client Secret of the developer portal (OAuth2), or remove web.bind",
            )),
            Some(secret) if secret.trim().is_empty() || secret.trim() != secret => Err(invalid(
                "web.client_secret",
                "the client secret is empty or has spaces around it",
                "paste the Client Secret exactly as the developer portal (OAuth2) shows it",
            )),
            Some(_) => {
                if self.session_hours == 0 {
                    return Err(invalid(
                        "web.session_hours",
                        "must be at least 1",
                        "set session_hours = 12",
                    ));
                }
                Ok(())
            }
        }
    }
}

/// Data retention (product §8).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacyConfig {
    /// Days after the bot leaves a server before all of that server's data is deleted.
    pub purge_after_days: u32,
}

impl Default for PrivacyConfig {
    fn default() -> Self {
        Self {
            purge_after_days: 30,
        }
    }
}

/// A configuration problem, precise enough to fix without reading the code.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub file: String,
    pub line: Option<usize>,
    pub key: String,
    pub problem: String,
    pub fix: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: ", self.file)?,
            None => write!(f, "{}: ", self.file)?,
        }
        if !self.key.is_empty() {
            write!(f, "key `{}`: ", self.key)?;
        }
        write!(f, "{}", self.problem)?;
        if !self.fix.is_empty() {
            write!(f, "\n  fix: {}", self.fix)?;
        }
        Ok(())
    }
}

/// The environment as a lookup, so tests can inject one.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl Env for BTreeMap<&str, &str> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).map(|v| (*v).to_owned())
    }
}

/// Where the config is read from: `--config`, else `HEARTH_CONFIG`, else `hearth.toml`.
pub fn resolve_path(flag: Option<&Path>, env: &dyn Env) -> (PathBuf, bool) {
    match (flag, env.var("HEARTH_CONFIG")) {
        (Some(path), _) => (path.to_owned(), true),
        (None, Some(path)) => (PathBuf::from(path), true),
        (None, None) => (PathBuf::from("hearth.toml"), false),
    }
}

/// Reads and validates the configuration. A missing default `hearth.toml` is not an error (all
/// keys have defaults); a missing file that was named explicitly is.
pub fn load(flag: Option<&Path>, env: &dyn Env) -> Result<Config, ConfigError> {
    let (path, explicit) = resolve_path(flag, env);
    let file = path.display().to_string();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound && !explicit => String::new(),
        Err(err) => {
            return Err(ConfigError {
                file,
                line: None,
                key: String::new(),
                problem: format!("cannot read the config file: {err}"),
                fix: "pass an existing file with --config PATH (see config.example.toml)".into(),
            })
        }
    };
    let mut config = load_from_str(&text, &file, env)?;
    config.source = Some(path);
    Ok(config)
}

/// Parses, applies environment overrides and validates. Pure apart from `env`.
pub fn load_from_str(text: &str, file: &str, env: &dyn Env) -> Result<Config, ConfigError> {
    let mut config: Config = toml::from_str(text).map_err(|err| {
        let line = err.span().map(|span| line_of(text, span.start));
        ConfigError {
            file: file.to_owned(),
            line,
            key: String::new(),
            problem: err.message().trim().to_owned(),
            fix: "compare with config.example.toml, which documents every key".into(),
        }
    })?;
    if let Some(token) = env.var("HEARTH_DISCORD_TOKEN") {
        config.discord.token = Some(token);
    }
    if let Some(url) = env.var("HEARTH_DATABASE_URL") {
        config.database.url = url;
    }
    if let Some(filter) = env.var("HEARTH_LOG") {
        config.log.filter = filter;
    }
    if let Some(secret) = env.var("HEARTH_WEB_CLIENT_SECRET") {
        config.web.client_secret = Some(secret);
    }
    config
        .validate()
        .map_err(|(key, problem, fix)| ConfigError {
            file: file.to_owned(),
            line: line_of_key(text, &key),
            key,
            problem,
            fix,
        })?;
    Ok(config)
}

type Invalid = (String, String, String);

fn invalid(key: impl Into<String>, problem: impl Into<String>, fix: impl Into<String>) -> Invalid {
    (key.into(), problem.into(), fix.into())
}

impl Config {
    fn validate(&self) -> Result<(), Invalid> {
        validate_origin(&self.discord.api_base_url).map_err(|problem| {
            invalid(
                "discord.api_base_url",
                problem,
                "use a bare origin such as http://127.0.0.1:3000, or remove the key to use Discord",
            )
        })?;
        if self.discord.application_id == Some(0) {
            return Err(invalid(
                "discord.application_id",
                "0 is not an application id",
                "copy the Application ID from the Discord developer portal, or remove the key (READY provides it)",
            ));
        }
        if let Some(token) = &self.discord.token {
            // An explicit `token = ""` is a mistake (a paste that did not happen), not "no token".
            if token.is_empty() {
                return Err(invalid(
                    "discord.token",
                    "the token is empty",
                    "paste the bot token from the developer portal (Bot → Reset Token), or remove the key and set HEARTH_DISCORD_TOKEN",
                ));
            }
            if token.trim() != token || token.contains(char::is_whitespace) {
                return Err(invalid(
                    "discord.token",
                    "the token contains whitespace",
                    "paste the bot token exactly as the developer portal shows it",
                ));
            }
        }
        if crate::domain::database::Backend::of_url(&self.database.url).is_none() {
            return Err(invalid(
                "database.url",
                format!(
                    "unsupported database URL scheme in `{}`",
                    crate::domain::database::redacted(&self.database.url)
                ),
                "use sqlite://PATH (for example sqlite://hearth.db) or \
                 postgres://USER@HOST:PORT/DATABASE",
            ));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.filter).map_err(|err| {
            invalid(
                "log.filter",
                format!("invalid log filter `{}`: {err}", self.log.filter),
                "use a tracing filter such as \"info,hearth=debug\"",
            )
        })?;
        crate::domain::events::parse_offsets(&self.events.reminders).map_err(|problem| {
            invalid(
                "events.reminders",
                problem,
                "write durations before the start separated by commas, such as \"24h, 1h\", or \"none\"",
            )
        })?;
        if self.events.offer_window_secs <= 0 {
            return Err(invalid(
                "events.offer_window_secs",
                "must be at least 1",
                "set offer_window_secs = 14400 (4 hours)",
            ));
        }
        if !(0.0..=1.0).contains(&self.events.attendance_share) {
            return Err(invalid(
                "events.attendance_share",
                "must be between 0 and 1",
                "set attendance_share = 0.25 (a quarter of the event)",
            ));
        }
        if self.outbox.max_attempts == 0 {
            return Err(invalid(
                "outbox.max_attempts",
                "must be at least 1",
                "set max_attempts = 8",
            ));
        }
        if self.outbox.initial_backoff_ms > self.outbox.max_backoff_ms {
            return Err(invalid(
                "outbox.initial_backoff_ms",
                "is larger than outbox.max_backoff_ms",
                "make initial_backoff_ms smaller than max_backoff_ms",
            ));
        }
        if self.welcome.raid_joins == 0 {
            return Err(invalid(
                "welcome.raid_joins",
                "must be at least 1",
                "set raid_joins = 10 (joins per window before the raid guard steps in)",
            ));
        }
        if self.welcome.raid_window_secs <= 0 {
            return Err(invalid(
                "welcome.raid_window_secs",
                "must be a positive number of seconds",
                "set raid_window_secs = 60",
            ));
        }
        self.web.validate()?;
        validate_guild_defaults("defaults", &self.defaults)?;
        for (id, guild) in &self.guilds {
            let key = format!("guilds.{id}");
            if id.parse::<u64>().map_or(true, |id| id == 0) {
                return Err(invalid(
                    key,
                    format!("`{id}` is not a guild id"),
                    "use the numeric server id (Developer Mode → right-click the server → Copy Server ID)",
                ));
            }
            validate_guild_defaults(&key, guild)?;
        }
        Ok(())
    }

    /// The bot token, if configured; `hearth run` refuses to start without one.
    pub fn token(&self) -> Option<&str> {
        self.discord.token.as_deref()
    }

    /// Whether the bot talks to Discord itself or to an emulator/proxy.
    pub fn uses_custom_api(&self) -> bool {
        self.discord.api_base_url.trim_end_matches('/') != DISCORD_ORIGIN
    }

    /// Defaults for one guild: its own section, falling back to `[defaults]`.
    pub fn guild_defaults(&self, guild_id: u64) -> GuildDefaults {
        let own = self.guilds.get(&guild_id.to_string());
        let timezone = own
            .and_then(|g| g.timezone.clone())
            .or_else(|| self.defaults.timezone.clone());
        let manager_role = own
            .and_then(|g| g.manager_role)
            .or(self.defaults.manager_role);
        let mut channels = self.defaults.channels.clone();
        if let Some(own) = own {
            channels.extend(own.channels.clone());
        }
        GuildDefaults {
            timezone,
            manager_role,
            channels,
        }
    }
}

fn validate_guild_defaults(prefix: &str, guild: &GuildDefaults) -> Result<(), Invalid> {
    if let Some(tz) = &guild.timezone {
        if chrono_tz::Tz::from_str(tz).is_err() {
            return Err(invalid(
                format!("{prefix}.timezone"),
                format!("`{tz}` is not an IANA time zone"),
                "use a name such as \"Europe/Berlin\" or \"America/New_York\"",
            ));
        }
    }
    if guild.manager_role == Some(0) {
        return Err(invalid(
            format!("{prefix}.manager_role"),
            "0 is not a role id",
            "copy the role id (Developer Mode → right-click the role → Copy Role ID)",
        ));
    }
    for (purpose, channel) in &guild.channels {
        if ChannelPurpose::from_str(purpose).is_err() {
            return Err(invalid(
                format!("{prefix}.channels.{purpose}"),
                format!("unknown channel purpose `{purpose}`"),
                format!("use one of: {}", ChannelPurpose::names().join(", ")),
            ));
        }
        if *channel == 0 {
            return Err(invalid(
                format!("{prefix}.channels.{purpose}"),
                "0 is not a channel id",
                "copy the channel id (Developer Mode → right-click the channel → Copy Channel ID)",
            ));
        }
    }
    Ok(())
}

fn validate_origin(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| format!("`{url}` does not start with http:// or https://"))?;
    let host = rest.trim_end_matches('/');
    if host.is_empty() {
        return Err(format!("`{url}` has no host"));
    }
    if host.contains('/') || host.contains('?') {
        return Err(format!("`{url}` has a path; Hearth adds /api/v10 itself"));
    }
    Ok(())
}

fn line_of(text: &str, byte: usize) -> usize {
    text[..byte.min(text.len())].matches('\n').count() + 1
}

/// The line where a dotted key is written, when the file has it (env overrides have no line).
fn line_of_key(text: &str, dotted: &str) -> Option<usize> {
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let mut table: &dyn toml_edit::TableLike = doc.as_table();
    let mut parts = dotted.split('.').peekable();
    while let Some(part) = parts.next() {
        let (key, item) = table.get_key_value(part)?;
        if parts.peek().is_none() {
            return key.span().map(|span| line_of(text, span.start));
        }
        table = item.as_table_like()?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env() -> BTreeMap<&'static str, &'static str> {
        BTreeMap::new()
    }

    #[test]
    fn empty_file_gives_defaults() {
        let config = load_from_str("", "hearth.toml", &no_env()).unwrap();
        assert_eq!(config.database.url, "sqlite://hearth.db");
        assert_eq!(config.discord.api_base_url, DISCORD_ORIGIN);
        assert!(!config.uses_custom_api());
    }

    #[test]
    fn env_overrides_file() {
        let env = BTreeMap::from([
            ("HEARTH_DISCORD_TOKEN", "from-env"),
            ("HEARTH_DATABASE_URL", "sqlite://other.db"),
        ]);
        let config = load_from_str("[discord]\ntoken = \"from-file\"\n", "h.toml", &env).unwrap();
        assert_eq!(config.token(), Some("from-env"));
        assert_eq!(config.database.url, "sqlite://other.db");
    }

    #[test]
    fn token_is_redacted_in_debug() {
        let config = load_from_str(
            "[discord]\ntoken = \"super-secret-token\"\n",
            "h.toml",
            &no_env(),
        )
        .unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains("super-secret-token"), "{shown}");
        assert!(shown.contains("***"));
    }

    #[test]
    fn bad_timezone_names_file_key_line_and_fix() {
        let text = "[discord]\ntoken = \"t\"\n\n[defaults]\ntimezone = \"Mars/Olympus\"\n";
        let err = load_from_str(text, "conf/hearth.toml", &no_env()).unwrap_err();
        assert_eq!(err.key, "defaults.timezone");
        assert_eq!(err.line, Some(5));
        let shown = err.to_string();
        assert!(
            shown.starts_with("conf/hearth.toml:5: key `defaults.timezone`"),
            "{shown}"
        );
        assert!(shown.contains("Europe/Berlin"), "{shown}");
    }

    #[test]
    fn an_empty_token_is_an_error_naming_the_key_and_the_fix() {
        let err = load_from_str("[discord]\ntoken = \"\"\n", "h.toml", &no_env()).unwrap_err();
        assert_eq!(err.key, "discord.token");
        assert_eq!(err.line, Some(2));
        let shown = err.to_string();
        assert!(
            shown.starts_with("h.toml:2: key `discord.token`: the token is empty"),
            "{shown}"
        );
        assert!(shown.contains("fix: paste the bot token"), "{shown}");
        // A token from the environment replaces the empty one: nothing left to complain about.
        let env = BTreeMap::from([("HEARTH_DISCORD_TOKEN", "from-env")]);
        assert!(load_from_str("[discord]\ntoken = \"\"\n", "h.toml", &env).is_ok());
    }

    #[test]
    fn unknown_key_is_rejected_with_its_line() {
        let err = load_from_str("[discord]\ntokn = \"x\"\n", "h.toml", &no_env()).unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(err.problem.contains("tokn"), "{}", err.problem);
    }

    #[test]
    fn api_base_url_must_be_an_origin() {
        let err = load_from_str(
            "[discord]\napi_base_url = \"http://127.0.0.1:3000/api/v10\"\n",
            "h.toml",
            &no_env(),
        )
        .unwrap_err();
        assert_eq!(err.key, "discord.api_base_url");
        assert_eq!(err.line, Some(2));
        assert!(load_from_str(
            "[discord]\napi_base_url = \"http://127.0.0.1:3000\"\n",
            "h.toml",
            &no_env()
        )
        .unwrap()
        .uses_custom_api());
    }

    #[test]
    fn the_dashboard_needs_a_secret_and_keeps_it_out_of_debug() {
        let text = "[web]\nbind = \"127.0.0.1:8080\"\n";
        let err = load_from_str(text, "h.toml", &no_env()).unwrap_err();
        assert_eq!(err.key, "web.client_secret");
        assert!(err.fix.contains("HEARTH_WEB_CLIENT_SECRET"), "{}", err.fix);
        let env = BTreeMap::from([("HEARTH_WEB_CLIENT_SECRET", "s3cret-value")]);
        let config = load_from_str(text, "h.toml", &env).unwrap();
        assert_eq!(
            config.web.public_origin().as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert!(!format!("{config:?}").contains("s3cret-value"));
        let err = load_from_str("[web]\nbind = \"localhost\"\n", "h.toml", &env).unwrap_err();
        assert_eq!((err.key.as_str(), err.line), ("web.bind", Some(2)));
        let err = load_from_str(
            "[web]\nbind = \"127.0.0.1:1\"\npublic_url = \"https://x.org/dash\"\n",
            "h.toml",
            &env,
        )
        .unwrap_err();
        assert_eq!(err.key, "web.public_url");
        assert!(load_from_str("", "h.toml", &env)
            .unwrap()
            .web
            .bind_addr()
            .is_none());
    }

    #[test]
    fn unknown_channel_purpose_lists_the_valid_ones() {
        let text = "[guilds.42.channels]\nwelcom = 5\n";
        let err = load_from_str(text, "h.toml", &no_env()).unwrap_err();
        assert_eq!(err.key, "guilds.42.channels.welcom");
        assert!(err.fix.contains("welcome"));
    }

    #[test]
    fn guild_defaults_fall_back_to_global_defaults() {
        let text = "[defaults]\ntimezone = \"Europe/Berlin\"\n[defaults.channels]\nwelcome = 7\n\n[guilds.42]\nmanager_role = 9\n[guilds.42.channels]\nintros = 8\n";
        let config = load_from_str(text, "h.toml", &no_env()).unwrap();
        let guild = config.guild_defaults(42);
        assert_eq!(guild.timezone.as_deref(), Some("Europe/Berlin"));
        assert_eq!(guild.manager_role, Some(9));
        assert_eq!(guild.channels.get("welcome"), Some(&7));
        assert_eq!(guild.channels.get("intros"), Some(&8));
    }
}
