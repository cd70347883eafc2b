//! A small world for scenarios: an emulator with one guild, a few channels and members, and
//! helpers to start the real bot against it.

use std::path::PathBuf;
use std::time::Duration;

use discord_emulator::{Emulator, InteractionHandle};
use hearth::demo::harness::{self, BotProcess};
use serde_json::{json, Value};

/// Permissions of the bot's managed role in the test guild: everything Hearth asks for.
pub const BOT_PERMISSIONS: u64 = hearth::domain::doctor::ALL_REQUIRED;
/// Manage Server.
pub const MANAGE_GUILD: u64 = 1 << 5;
/// What an ordinary member may do (view, send, read history, react).
pub const MEMBER_PERMISSIONS: u64 = (1 << 10) | (1 << 11) | (1 << 16) | (1 << 6);

pub const WAIT: Duration = Duration::from_secs(20);

pub struct World {
    pub emu: Emulator,
    pub guild: u64,
    pub general: u64,
    pub welcome: u64,
    pub reports: u64,
    pub intros: u64,
    /// A member with Manage Server.
    pub manager: u64,
    /// An ordinary member.
    pub member: u64,
    /// When the manager and the member joined (unix ms, 400 days before the world was made).
    pub joined_long_ago_ms: u64,
    pub dir: tempfile::TempDir,
}

impl World {
    pub async fn new() -> Self {
        Self::with_emulator(discord_emulator::EmulatorConfig::default()).await
    }

    /// The same world on an emulator configured by the test (rate limits under load, ...).
    pub async fn with_emulator(config: discord_emulator::EmulatorConfig) -> Self {
        let emu = Emulator::start_with(config).await.expect("emulator starts");
        let guild = emu.add_guild("Hearth Test Guild", BOT_PERMISSIONS);
        let general = emu.add_channel(guild, "general", 0);
        emu.set_system_channel(guild, Some(general));
        let welcome = emu.add_channel(guild, "welcome", 0);
        let reports = emu.add_channel(guild, "reports", 0);
        let intros = emu.add_channel(guild, "introductions", 0);
        let everyone = guild;
        emu.set_role_permissions(guild, everyone, MEMBER_PERMISSIONS);
        let staff = emu.add_role(guild, "Staff", MANAGE_GUILD);
        // The manager and the member were in the community long before Hearth (issue 22).
        let long_ago = u64::try_from(hearth::domain::clock::now().timestamp_millis()).unwrap_or(0)
            - 400 * 86_400_000;
        let manager = emu.add_user("maria", false);
        emu.add_member_joined_at(guild, manager, &[staff], long_ago);
        let member = emu.add_user("mo", false);
        emu.add_member_joined_at(guild, member, &[], long_ago);
        Self {
            emu,
            guild,
            general,
            welcome,
            reports,
            intros,
            manager,
            member,
            joined_long_ago_ms: long_ago,
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// The bot's store (in `dir`), opened from the test.
    pub async fn store(&self) -> hearth::db::Pool {
        crate::support::open_at(&self.dir.path().join("hearth.db")).await
    }

    pub fn exe() -> PathBuf {
        PathBuf::from(env!("CARGO_BIN_EXE_hearth"))
    }

    /// Writes the bot's config (with `extra` TOML appended) and starts it, without waiting.
    /// The bot's config in `dir`, with `extra` TOML; its store is the one `store()` opens.
    pub fn write_config(&self, extra: &str) -> PathBuf {
        let extra = match crate::support::postgres_server() {
            Some(_) => format!(
                "[database]\nurl = \"{}\"\n\n{extra}",
                crate::support::store_url(&self.dir.path().join("hearth.db"))
            ),
            None => extra.to_owned(),
        };
        harness::write_config(self.dir.path(), &self.emu.base_url(), &extra)
            .expect("config written")
    }

    pub fn spawn_bot(&self, extra: &str) -> BotProcess {
        let config = self.write_config(extra);
        BotProcess::spawn(&Self::exe(), self.dir.path(), &config).expect("hearth starts")
    }

    /// Starts the bot and waits until its commands are registered (`starts`-th start in this dir).
    pub async fn start_bot(&self, starts: usize) -> BotProcess {
        self.start_bot_with(starts, "").await
    }

    /// Like `start_bot`, with extra config TOML.
    pub async fn start_bot_with(&self, starts: usize, extra: &str) -> BotProcess {
        let mut bot = self.spawn_bot(extra);
        bot.wait_ready(starts).await.expect("hearth becomes ready");
        bot
    }

    pub fn slash(&self, user: u64, command: &str, sub: &str, options: Value) -> InteractionHandle {
        self.emu.slash_command(
            self.guild,
            self.general,
            user,
            command,
            json!([{ "type": 1, "name": sub, "options": options }]),
        )
    }

    /// A manager assigns the channel used for a purpose (`/config channel`).
    pub async fn set_channel(&self, purpose: &str, channel: u64) {
        let reply = self
            .run(
                self.manager,
                "config",
                "channel",
                json!([
                    {"type": 4, "name": "purpose", "value": purpose_choice(purpose)},
                    {"type": 7, "name": "channel", "value": channel.to_string()}
                ]),
            )
            .await;
        assert!(
            text_of(&reply).contains(&format!("<#{channel}>")),
            "{reply}"
        );
    }

    /// Runs a subcommand and returns the interaction callback's `data`.
    pub async fn run(&self, user: u64, command: &str, sub: &str, options: Value) -> Value {
        let handle = self.slash(user, command, sub, options);
        let response = handle.response(WAIT).await.expect("interaction answered");
        response.body["data"].clone()
    }
}

pub use hearth::demo::harness::{is_ephemeral, visible_text as text_of};

/// The index poise gives a `ChannelPurpose` choice.
pub fn purpose_choice(name: &str) -> u64 {
    hearth::domain::settings::ChannelPurpose::ALL
        .iter()
        .position(|p| p.name() == name)
        .expect("known purpose") as u64
}

/// POSTs of messages into a channel that Discord accepted.
pub fn posts_in(
    emu: &discord_emulator::Emulator,
    channel: u64,
) -> Vec<discord_emulator::RecordedRequest> {
    let path = format!("/channels/{channel}/messages");
    emu.requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == path && r.status == 200)
        .collect()
}

/// The text of `/stats <sub>` once it satisfies `ready` (the batched writer stores activity
/// within its 250 ms window), or after four seconds, whatever it says then.
pub async fn stats_once(world: &World, sub: &str, ready: impl Fn(&str) -> bool) -> String {
    let mut shown = String::new();
    for _ in 0..40 {
        shown = text_of(&world.run(world.manager, "stats", sub, json!([])).await);
        if ready(&shown) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shown
}

/// Waits until `channel` has at least `count` accepted posts.
pub async fn wait_posts(
    emu: &discord_emulator::Emulator,
    channel: u64,
    count: usize,
) -> Vec<discord_emulator::RecordedRequest> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let posts = posts_in(emu, channel);
        if posts.len() >= count {
            return posts;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "only {} of {count} posts in channel {channel}: {:#?}",
            posts.len(),
            posts.iter().map(|p| &p.body).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The first post in `channel` whose content holds `text` (other posts, such as the greeting a
/// newly seen server may get depending on event order, are passed over).
pub async fn wait_post_containing(
    emu: &discord_emulator::Emulator,
    channel: u64,
    text: &str,
) -> discord_emulator::RecordedRequest {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let found = posts_in(emu, channel).into_iter().find(|p| {
            p.body["content"]
                .as_str()
                .is_some_and(|content| content.contains(text))
        });
        if let Some(post) = found {
            return post;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no post holding `{text}` in channel {channel}: {:#?}",
            posts_in(emu, channel)
                .iter()
                .map(|p| &p.body)
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A person needs a moment between seeing a modal and submitting it; the bot starts listening for
/// the submission only after Discord confirmed the modal, so tests wait like a person would.
pub async fn human_pause() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// Starts the bot with welcomes on in #welcome (`dm`: a welcome DM too) and intro threads in
/// #introductions; `extra` is appended to the config.
pub async fn welcoming(world: &World, extra: &str, dm: bool) -> BotProcess {
    let bot = world.start_bot_with(1, extra).await;
    world.set_channel("intros", world.intros).await;
    let reply = world
        .run(
            world.manager,
            "welcome",
            "setup",
            json!([
                {"type": 7, "name": "channel", "value": world.welcome.to_string()},
                {"type": 5, "name": "dm", "value": dm}
            ]),
        )
        .await;
    assert!(text_of(&reply).contains("Welcomes are on"), "{reply}");
    bot
}

/// `hearth report --guild <the world's guild> <args> --config <the world's config>`: its output,
/// after asserting it exited 0.
pub fn hearth_report(world: &World, args: &[&str]) -> String {
    let out = std::process::Command::new(World::exe())
        .args(["report", "--guild", &world.guild.to_string()])
        .args(args)
        .arg("--config")
        .arg(world.dir.path().join("hearth.toml"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
