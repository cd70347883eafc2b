//! The demo's script: the real bot (this same binary, as a child process running `hearth run`)
//! against the built-in Discord emulator, playing a short scripted community. Needs no token and
//! no network; prints a transcript of what the bot did and writes it to `--out`. The community
//! has a generated past (`history`), so the statistics show what Hearth is for.

use super::history;

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use discord_emulator::Emulator;
use serde_json::{json, Value};

use crate::db::activity::Kind;
use crate::demo::harness::{self, visible_text, BotProcess};
use crate::domain::doctor::ALL_REQUIRED;
use crate::domain::permissions as perm;
use crate::domain::settings::ChannelPurpose;
use crate::error::exit;

const WAIT: Duration = Duration::from_secs(30);

/// Runs the demo; returns the exit code. With `keep_web`, the bot and its dashboard stay up
/// after the script until Ctrl-C.
pub async fn run(out: Option<PathBuf>, keep_web: bool) -> i32 {
    let temp;
    let out = match out {
        Some(dir) => dir,
        None => match tempfile_dir() {
            Ok(dir) => {
                temp = dir;
                temp.clone()
            }
            Err(err) => {
                eprintln!("error: cannot create a temporary folder: {err}");
                return exit::RUNTIME;
            }
        },
    };
    match play(&out, keep_web).await {
        Ok(()) => exit::OK,
        Err(err) => {
            eprintln!("\ndemo failed: {err:#}");
            eprintln!("the bot's log is in {}", out.join("hearth.log").display());
            exit::RUNTIME
        }
    }
}

fn tempfile_dir() -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("hearth-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// How far back the generated history goes.
const HISTORY_DAYS: i64 = 90;

/// The scripted community and what has been printed about it.
struct Demo {
    emu: Emulator,
    started: Instant,
    /// Where attachments are saved.
    out: PathBuf,
    names: BTreeMap<u64, String>,
    /// Threads among `names` (Discord shows their mentions with a thread icon, not `#`).
    threads: HashSet<u64>,
    transcript: String,
    guild: u64,
    general: u64,
    /// Bot posts already shown.
    shown_posts: usize,
}

impl Demo {
    fn say(&mut self, line: &str) {
        println!("{line}");
        self.transcript.push_str(line);
        self.transcript.push('\n');
    }

    fn stamp(&self) -> String {
        format!("[{:>5.1}s]", self.started.elapsed().as_secs_f64())
    }

    fn name(&self, id: u64) -> String {
        self.names
            .get(&id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }

    /// How a channel or thread is named in the transcript. A thread's name may itself start
    /// with `#` ("#1 Weekly show-and-tell"): `#` in front of it would read "##1".
    fn channel_label(&self, id: u64) -> String {
        if self.threads.contains(&id) {
            format!("thread “{}”", self.name(id))
        } else {
            format!("#{}", self.name(id))
        }
    }

    /// Replaces `<#id>`, `<@id>`, `<@&id>` and `<t:unix:style>` with what Discord would show
    /// (times as a reader in UTC sees them).
    fn readable(&self, text: &str) -> String {
        let now = crate::domain::clock::unix_now();
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find('<') {
            out.push_str(&rest[..start]);
            let tail = &rest[start..];
            let shown = tail
                .find('>')
                .and_then(|end| Some((end, self.mention(&tail[1..end], now)?)));
            match shown {
                Some((end, shown)) => {
                    out.push_str(&shown);
                    rest = &tail[end + 1..];
                }
                None => {
                    out.push('<');
                    rest = &tail[1..];
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// What Discord shows for the inside of `<…>`, when it is a mention or a timestamp.
    fn mention(&self, inner: &str, now: i64) -> Option<String> {
        if let Some(spec) = inner.strip_prefix("t:") {
            return discord_timestamp(spec, now);
        }
        if let Some(id) = inner.strip_prefix('#') {
            let id: u64 = id.parse().ok()?;
            return self.names.contains_key(&id).then(|| self.channel_label(id));
        }
        let id = inner.strip_prefix('@')?;
        let id = id
            .strip_prefix('&')
            .or_else(|| id.strip_prefix('!'))
            .unwrap_or(id);
        let name = self.names.get(&id.parse().ok()?)?;
        Some(format!("@{name}"))
    }

    fn indent(&self, text: &str) -> String {
        self.readable(text)
            .lines()
            .map(|l| format!("          │ {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// A member runs a slash command; prints the command and the bot's reply.
    async fn command(
        &mut self,
        user: u64,
        command: &str,
        sub: &str,
        options: Value,
        shown: &str,
    ) -> anyhow::Result<Value> {
        let line = format!(
            "{} {} › /{command} {sub}{shown}",
            self.stamp(),
            self.name(user)
        );
        self.say(&line);
        let handle = self.emu.slash_command(
            self.guild,
            self.general,
            user,
            command,
            json!([{ "type": 1, "name": sub, "options": options }]),
        );
        let reply = handle
            .response(WAIT)
            .await
            .context("waiting for the bot's reply")?;
        let data = reply.body["data"].clone();
        let who = if harness::is_ephemeral(&data) {
            format!("Hearth (only {} sees this)", self.name(user))
        } else {
            "Hearth".to_owned()
        };
        let text = self.indent(&visible_text(&data));
        self.say(&format!("          {who}:\n{text}"));
        for (name, bytes) in &reply.files {
            let path = self.out.join(name);
            std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
            self.say(&format!(
                "          │ [chart attached: {name}, {} bytes, saved to {}]",
                bytes.len(),
                path.display()
            ));
        }
        Ok(data)
    }

    /// A top-level command with options, e.g. `/calendar`.
    async fn command_top(
        &mut self,
        user: u64,
        command: &str,
        options: Value,
        shown: &str,
    ) -> anyhow::Result<Value> {
        let line = format!("{} {} › /{command}{shown}", self.stamp(), self.name(user));
        self.say(&line);
        let reply = self
            .emu
            .slash_command(self.guild, self.general, user, command, options)
            .response(WAIT)
            .await?;
        let data = reply.body["data"].clone();
        let text = self.indent(&visible_text(&data));
        self.say(&format!(
            "          Hearth (only {} sees this):\n{text}",
            self.name(user)
        ));
        Ok(data)
    }

    /// A subcommand inside a group, e.g. `/welcome template add`.
    async fn command_group(
        &mut self,
        user: u64,
        command: &str,
        group: &str,
        sub: &str,
        options: Value,
        shown: &str,
    ) -> anyhow::Result<Value> {
        self.command(
            user,
            command,
            group,
            json!([{ "type": 1, "name": sub, "options": options }]),
            &format!(" {sub}{shown}"),
        )
        .await
    }

    /// The bot's own posts and threads, in order.
    fn bot_posts(&self) -> Vec<discord_emulator::RecordedRequest> {
        self.emu
            .requests()
            .into_iter()
            .filter(|r| {
                r.method == "POST"
                    && r.path.starts_with("/channels/")
                    && (200..300).contains(&r.status)
            })
            .filter(|r| r.path.ends_with("/messages") || r.path.ends_with("/threads"))
            .collect()
    }

    /// Waits until `more` posts beyond those shown exist, then prints them.
    async fn wait_for_posts(&mut self, more: usize) -> anyhow::Result<()> {
        let deadline = Instant::now() + WAIT;
        while self.bot_posts().len() < self.shown_posts + more {
            anyhow::ensure!(
                Instant::now() < deadline,
                "the bot did not post within {WAIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.show_new_posts();
        Ok(())
    }

    /// Waits until one of the bot's posts satisfies `wanted` (other posts may come first: the
    /// outbox sends in its own time), shows the new posts, and returns that one.
    async fn wait_for_post(
        &mut self,
        wanted: impl Fn(&discord_emulator::RecordedRequest) -> bool,
    ) -> anyhow::Result<discord_emulator::RecordedRequest> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(post) = self.bot_posts().into_iter().find(|p| wanted(p)) {
                self.show_new_posts();
                return Ok(post);
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "the bot did not make the expected post within {WAIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Prints the bot's own posts (through the outbox) made since the last call.
    fn show_new_posts(&mut self) {
        let posts = self.bot_posts();
        for post in posts.iter().skip(self.shown_posts) {
            let channel: u64 = post
                .path
                .split('/')
                .nth(2)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let line = if post.path.ends_with("/threads") {
                let thread: u64 = post.response["id"]
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                let name = post.body["name"].as_str().unwrap_or_default().to_owned();
                self.names.insert(thread, name.clone());
                self.threads.insert(thread);
                format!(
                    "{} Hearth opened the thread \"{name}\" in {}",
                    self.stamp(),
                    self.channel_label(channel)
                )
            } else {
                format!(
                    "{} Hearth → {}:\n{}",
                    self.stamp(),
                    self.channel_label(channel),
                    self.indent(&visible_text(&post.body))
                )
            };
            self.say(&line);
        }
        self.shown_posts = posts.len();
    }
}

/// The server the demo plays in: its channels, the manager role, and the two people who act.
#[derive(Clone, Copy)]
struct Server {
    guild: u64,
    general: u64,
    welcome: u64,
    intros: u64,
    reports: u64,
    feedback: u64,
    ama: u64,
    events: u64,
    projects: u64,
    help: u64,
    team: u64,
    maria: u64,
    sam: u64,
}

async fn play(out: &Path, keep_web: bool) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    for stale in ["hearth.db", "hearth.db-wal", "hearth.db-shm", "hearth.log"] {
        let _ = std::fs::remove_file(out.join(stale));
    }
    let emu = Emulator::start()
        .await
        .context("starting the Discord emulator")?;
    let mut names = BTreeMap::new();
    let server = build_server(&emu, &mut names);
    let mut demo = Demo {
        emu: emu.clone(),
        started: Instant::now(),
        out: out.to_owned(),
        names,
        threads: HashSet::new(),
        transcript: String::new(),
        guild: server.guild,
        general: server.general,
        shown_posts: 0,
    };
    demo.say(
        "Hearth demo: the real bot against the built-in Discord emulator (no token, no network)",
    );
    demo.say(&format!("Discord emulator on {}; server \"Emberfall Makers\" with #general, #welcome, #introductions, #projects, #help, #team-reports", emu.base_url()));
    demo.say(&format!("Files: {}", out.display()));
    demo.say("Times in Discord's <t:…> format are shown as a member reading in UTC sees them.");
    demo.say("");
    write_history(&mut demo, &server).await?;
    let (bot, dashboard) = start_bot(&mut demo, &server).await?;

    set_up(&mut demo, &server).await?;
    refused(&mut demo, &server).await?;
    newcomers(&mut demo, &server).await?;
    calendar(&mut demo, &server).await?;
    feedback_loop(&mut demo, &server).await?;
    ama(&mut demo, &server).await?;
    event(&mut demo, &server).await?;
    survey(&mut demo, &server).await?;
    connections(&mut demo, &server).await?;
    health(&mut demo, &server).await?;
    if keep_web {
        demo.say(&format!(
            "\n— The dashboard stays open —\nOpen {dashboard} and log in: the emulator asks who you are (maria is a manager, the\nothers are not). Press Ctrl-C to stop."
        ));
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
    } else {
        demo.say(&format!(
            "\nThe web dashboard ran on {dashboard}; `hearth demo --web` keeps it open to log in."
        ));
    }
    stop(&mut demo, bot).await
}

/// The emulated server: channels, roles (the bot may read #team-reports but not post there, for
/// the doctor to find) and the manager and member who act in the demo.
fn build_server(emu: &Emulator, names: &mut BTreeMap<u64, String>) -> Server {
    let guild = emu.add_guild("Emberfall Makers", ALL_REQUIRED);
    names.insert(guild, "Emberfall Makers".to_owned());
    let mut channel = |name: &str, kind: u8| {
        let id = emu.add_channel(guild, name, kind);
        names.insert(id, name.to_owned());
        id
    };
    let general = channel("general", 0);
    let welcome = channel("welcome", 0);
    let intros = channel("introductions", 0);
    let reports = channel("team-reports", 0);
    let feedback = channel("feedback", 0);
    let ama = channel("ama", 0);
    let events = channel("events", 0);
    let projects = channel("projects", 0);
    let help = channel("help", 0);
    emu.set_system_channel(guild, Some(general));
    emu.set_role_permissions(
        guild,
        guild,
        perm::VIEW_CHANNEL | perm::SEND_MESSAGES | perm::READ_MESSAGE_HISTORY,
    );
    emu.set_channel_overwrite(reports, emu.bot_role(guild), 0, 0, perm::SEND_MESSAGES);
    let team = emu.add_role(guild, "Community Team", 0);
    names.insert(team, "Community Team".to_owned());
    let mut user = |name: &str, roles: &[u64]| {
        let id = emu.add_user(name, false);
        emu.add_member(guild, id, roles);
        names.insert(id, name.to_owned());
        id
    };
    let owner_role = emu.add_role(guild, "Admins", perm::MANAGE_GUILD);
    let maria = user("maria", &[owner_role]);
    let sam = user("sam", &[]);
    Server {
        guild,
        general,
        welcome,
        intros,
        reports,
        feedback,
        ama,
        events,
        projects,
        help,
        team,
        maria,
        sam,
    }
}

/// The community's past goes into the database before the bot starts: it is history, not
/// members for the bot to welcome (they are not in the emulator).
async fn write_history(demo: &mut Demo, server: &Server) -> anyhow::Result<()> {
    let channels = history::Channels {
        general: server.general,
        intros: server.intros,
        projects: server.projects,
        help: server.help,
    };
    let past = history::generate(
        server.guild,
        channels,
        chrono_tz::Europe::Berlin,
        crate::domain::clock::unix_now(),
        HISTORY_DAYS,
        &[server.maria],
    );
    let db = demo.out.join("hearth.db");
    history::write(&format!("sqlite://{}", db.display()), &past)
        .await
        .context("writing the generated history")?;
    for member in past.members.iter().filter(|m| !m.name.is_empty()) {
        demo.names.insert(member.user_id, member.name.clone());
    }
    let left = past
        .memberships
        .iter()
        .filter(|m| matches!(m, crate::db::welcome::Membership::Left { .. }))
        .count();
    let line = format!(
        "{} The server's past, generated from a fixed seed (no real data) and written to the database\n          \
         before the bot starts: in the {HISTORY_DAYS} days before today {} members joined ({left} left) and\n          \
         posted {} messages ({} of them replies or in threads), started {} threads and reacted\n          \
         {} times. Hearth stores who, when and where, never what.",
        demo.stamp(),
        past.members.len(),
        past.count(Kind::Message),
        past.replies(),
        past.count(Kind::ThreadCreated),
        past.count(Kind::Reaction),
    );
    demo.say(&line);
    Ok(())
}

/// Starts `hearth run` (this same binary) against the emulator, with its web dashboard on a
/// free local port, and waits for its greeting. Returns the bot and the dashboard's address.
async fn start_bot(demo: &mut Demo, server: &Server) -> anyhow::Result<(BotProcess, String)> {
    let exe = std::env::current_exe().context("finding the hearth executable")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .context("finding a free port for the dashboard")?
        .port();
    let dashboard = format!("http://127.0.0.1:{port}");
    demo.emu
        .add_oauth_redirect(&format!("{dashboard}/callback"));
    let web = format!(
        "[web]\nbind = \"127.0.0.1:{port}\"\nclient_secret = \"{}\"\n",
        demo.emu.oauth_client_secret()
    );
    let config = harness::write_config(&demo.out, &demo.emu.base_url(), &web)?;
    let mut bot = BotProcess::spawn(&exe, &demo.out, &config)?;
    bot.wait_ready(1).await?;
    let ready = demo.stamp();
    demo.say(&format!(
        "{ready} hearth run: connected to the gateway and registered its slash commands"
    ));
    demo.say(&format!(
        "{ready} web dashboard on {dashboard} (log in through the emulator as maria, a manager)"
    ));
    let general = server.general;
    demo.emu
        .wait_for_request(
            |r| {
                r.method == "POST"
                    && r.path == format!("/channels/{general}/messages")
                    && r.status == 200
            },
            WAIT,
        )
        .await
        .context("waiting for the greeting")?;
    demo.show_new_posts();
    Ok((bot, dashboard))
}

/// A manager configures the server, and the doctor finds the staged problem.
async fn set_up(demo: &mut Demo, server: &Server) -> anyhow::Result<()> {
    let Server {
        welcome,
        intros,
        reports,
        team,
        maria,
        ..
    } = *server;
    demo.say("\n— A manager sets the server up —");
    demo.command(
        maria,
        "config",
        "timezone",
        json!([{"type": 3, "name": "name", "value": "Europe/Berlin"}]),
        " name:Europe/Berlin",
    )
    .await?;
    for (purpose, channel) in [
        (ChannelPurpose::Welcome, welcome),
        (ChannelPurpose::Intros, intros),
        (ChannelPurpose::Reports, reports),
    ] {
        let index = ChannelPurpose::ALL
            .iter()
            .position(|p| *p == purpose)
            .unwrap_or(0);
        let shown = format!(" purpose:{purpose} channel:#{}", demo.name(channel));
        demo.command(
            maria,
            "config",
            "channel",
            json!([{"type": 4, "name": "purpose", "value": index}, {"type": 7, "name": "channel", "value": channel.to_string()}]),
            &shown,
        )
        .await?;
    }
    demo.command(
        maria,
        "welcome",
        "setup",
        json!([{"type": 7, "name": "channel", "value": welcome.to_string()}, {"type": 5, "name": "intro_thread", "value": true}]),
        " channel:#welcome intro_thread:true",
    )
    .await?;
    demo.command_group(
        maria,
        "welcome",
        "template",
        "add",
        json!([{"type": 3, "name": "text", "value": "Welcome aboard, {user}! You are our {member_count_ord} maker. Tell us what you are building in {intro_channel}."}]),
        " text:Welcome aboard, {user}! …",
    )
    .await?;
    demo.command(
        maria,
        "config",
        "manager-role",
        json!([{"type": 8, "name": "role", "value": team.to_string()}]),
        " role:@Community Team",
    )
    .await?;
    demo.command(maria, "config", "show", json!([]), "").await?;
    demo.say("          (staged for the demo: Hearth's role may read #team-reports but not post there; the doctor should find it)");
    let doctor = demo
        .command(maria, "config", "doctor", json!([]), "")
        .await?;
    let note = doctor_note(&demo.readable(&visible_text(&doctor)));
    demo.say(&note);
    Ok(())
}

/// A member is refused a manager command.
async fn refused(demo: &mut Demo, server: &Server) -> anyhow::Result<()> {
    let Server { sam, .. } = *server;
    demo.say("\n— A member tries a manager command —");
    demo.command(
        sam,
        "config",
        "timezone",
        json!([{"type": 3, "name": "name", "value": "Asia/Tokyo"}]),
        " name:Asia/Tokyo",
    )
    .await?;
    Ok(())
}

/// Newcomers join, one of them through membership screening.
async fn newcomers(demo: &mut Demo, server: &Server) -> anyhow::Result<()> {
    let Server { guild, general, .. } = *server;
    demo.say("\n— Newcomers join —");
    for name in ["noor", "li"] {
        let id = demo.emu.add_user(name, false);
        demo.names.insert(id, name.to_owned());
        demo.emu.member_join(guild, id, false);
        let line = format!("{} {name} joined the server", demo.stamp());
        demo.say(&line);
        demo.wait_for_posts(3).await?;
    }
    let jules = demo.emu.add_user("jules", false);
    demo.names.insert(jules, "jules".to_owned());
    demo.emu.member_join(guild, jules, true);
    let line = format!(
        "{} jules joined but is still in membership screening",
        demo.stamp()
    );
    demo.say(&line);
    tokio::time::sleep(Duration::from_millis(300)).await;
    demo.show_new_posts();
    demo.emu.member_update(guild, jules, false);
    let line = format!("{} jules passed screening", demo.stamp());
    demo.say(&line);
    demo.wait_for_posts(3).await?;
    demo.emu
        .user_message(general, jules, "hello everyone!", None);
    let line = format!(
        "{} jules said hello in #general (Hearth records when, never what)",
        demo.stamp()
    );
    demo.say(&line);
    Ok(())
}

/// A prompt on the content calendar, posted now.
async fn calendar(demo: &mut Demo, server: &Server) -> anyhow::Result<()> {
    let Server {
        general,
        maria,
        sam,
        ..
    } = *server;
    demo.say("\n— The content calendar —");
    let added = demo
        .command(
            maria,
            "prompts",
            "add",
            json!([
                {"type": 3, "name": "theme", "value": "Tool-Tip Tuesday"},
                {"type": 7, "name": "channel", "value": general.to_string()},
                {"type": 3, "name": "days", "value": "tue"},
                {"type": 3, "name": "time", "value": "10:00"},
                {"type": 3, "name": "text", "value": "Share a tool, shortcut or trick that saves you time."},
                {"type": 5, "name": "thread", "value": true}
            ]),
            " theme:Tool-Tip Tuesday channel:#general days:tue time:10:00 thread:true",
        )
        .await?;
    let prompt_id: i64 = visible_text(&added)
        .strip_prefix("Prompt #")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|id| id.parse().ok())
        .unwrap_or(1);
    demo.command(
        maria,
        "prompts",
        "run-now",
        json!([{"type": 4, "name": "id", "value": prompt_id}]),
        &format!(" id:{prompt_id}"),
    )
    .await?;
    demo.wait_for_posts(2).await?;
    demo.command_top(sam, "calendar", json!([]), "").await?;
    Ok(())
}

/// A member submits feedback; a manager ships it and the loop closes.
async fn feedback_loop(demo: &mut Demo, server: &Server) -> anyhow::Result<()> {
    let Server {
        guild,
        general,
        feedback,
        ama,
        maria,
        sam,
        ..
    } = *server;
    demo.say("\n— Closing the feedback loop —");
    for (purpose, id) in [
        (ChannelPurpose::Feedback, feedback),
        (ChannelPurpose::Ama, ama),
    ] {
        let index = ChannelPurpose::ALL
            .iter()
            .position(|p| *p == purpose)
            .unwrap_or(0);
        let shown = format!(" purpose:{purpose} channel:#{}", demo.name(id));
        demo.command(maria, "config", "channel", json!([{"type": 4, "name": "purpose", "value": index}, {"type": 7, "name": "channel", "value": id.to_string()}]), &shown)
            .await?;
    }
    let line = format!(
        "{} sam › /feedback submit category:idea  (form: “Weekly show-and-tell”)",
        demo.stamp()
    );
    demo.say(&line);
    let submit = demo.emu.slash_command(guild, general, sam, "feedback", json!([{"type": 1, "name": "submit", "options": [{"type": 4, "name": "category", "value": 0}]}]));
    let form = submit.response(WAIT).await?;
    let form_id = form.body["data"]["custom_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    tokio::time::sleep(Duration::from_millis(300)).await; // a person fills the form in
    demo.emu.modal_submit(
        guild,
        general,
        sam,
        &form_id,
        &[
            ("title", "Weekly show-and-tell"),
            ("details", "A Friday thread where we share what we built."),
        ],
    );
    demo.wait_for_posts(2).await?;
    demo.command(
        maria,
        "feedback",
        "status",
        json!([{"type": 4, "name": "id", "value": 1}, {"type": 4, "name": "status", "value": 3}, {"type": 3, "name": "note", "value": "Starting this Friday!"}]),
        " id:1 status:shipped note:Starting this Friday!",
    )
    .await?;
    demo.wait_for_posts(1).await?;
    Ok(())
}

/// A small AMA: a question asked anonymously, upvoted, answered, and the recap.
async fn ama(demo: &mut Demo, server: &Server) -> anyhow::Result<()> {
    let Server { ama, maria, .. } = *server;
    demo.say("\n— A small AMA —");
    let noor = demo
        .names
        .iter()
        .find(|(_, n)| n.as_str() == "noor")
        .map(|(id, _)| *id)
        .unwrap_or(0);
    let start = (crate::domain::clock::now() + chrono::Duration::days(1))
        .format("%Y-%m-%d 18:00")
        .to_string();
    demo.command(
        maria,
        "ama",
        "create",
        json!([{"type": 3, "name": "title", "value": "Synths from scratch"}, {"type": 6, "name": "host", "value": noor.to_string()}, {"type": 3, "name": "start", "value": start}]),
        &format!(" title:Synths from scratch host:@noor start:{start}"),
    )
    .await?;
    demo.wait_for_posts(1).await?;
    let ama_post = demo
        .bot_posts()
        .into_iter()
        .rev()
        .find(|p| p.path == format!("/channels/{ama}/messages"));
    if let Some(post) = ama_post {
        ask_and_upvote(demo, server, &post).await?;
        demo.command(noor, "ama", "answer", json!([{"type": 4, "name": "question", "value": 1}, {"type": 3, "name": "answer", "value": "A kit from a magazine, soldered at 14."}]), " question:1 answer:…")
            .await?;
        demo.wait_for_posts(1).await?;
        demo.command(
            maria,
            "ama",
            "close",
            json!([{"type": 4, "name": "id", "value": 1}]),
            " id:1",
        )
        .await?;
        demo.wait_for_posts(1).await?;
    }
    Ok(())
}

/// An event with two spots: the third member waits, a spot frees, the offer is confirmed.
async fn event(demo: &mut Demo, server: &Server) -> anyhow::Result<()> {
    let Server {
        guild,
        events,
        maria,
        sam,
        ..
    } = *server;
    demo.say("\n— An event with a waitlist —");
    let index = ChannelPurpose::ALL
        .iter()
        .position(|p| *p == ChannelPurpose::Events)
        .unwrap_or(0);
    demo.command(maria, "config", "channel", json!([{"type": 4, "name": "purpose", "value": index}, {"type": 7, "name": "channel", "value": events.to_string()}]), " purpose:events channel:#events")
        .await?;
    let start = (crate::domain::clock::now() + chrono::Duration::days(2))
        .format("%Y-%m-%d 19:00")
        .to_string();
    demo.command(
        maria,
        "event",
        "create",
        json!([{"type": 3, "name": "title", "value": "Soldering night"}, {"type": 3, "name": "start", "value": start}, {"type": 3, "name": "location", "value": "The makerspace"}, {"type": 4, "name": "capacity", "value": 2}]),
        &format!(" title:Soldering night start:{start} location:The makerspace capacity:2"),
    )
    .await?;
    demo.wait_for_posts(1).await?;
    let Some(card) = demo
        .bot_posts()
        .into_iter()
        .rev()
        .find(|p| p.path == format!("/channels/{events}/messages"))
    else {
        return Ok(());
    };
    let card_id: u64 = card.response["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let button = |label: &str| {
        card.body["components"][0]["components"]
            .as_array()
            .and_then(|b| b.iter().find(|b| b["label"] == label))
            .and_then(|b| b["custom_id"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let (going, cant) = (button("Going"), button("Can't go"));
    let by_name = |name: &str| {
        demo.names
            .iter()
            .find(|(_, n)| n.as_str() == name)
            .map_or(0, |(id, _)| *id)
    };
    let (noor, jules) = (by_name("noor"), by_name("jules"));
    for (who, id, label) in [
        (sam, going.clone(), "Going"),
        (noor, going.clone(), "Going"),
        (jules, going.clone(), "Going"),
        (sam, cant, "Can't go"),
    ] {
        let answer = demo
            .emu
            .button_click(guild, events, who, card_id, &id)
            .response(WAIT)
            .await?;
        let line = format!(
            "{} {} clicks “{label}” → {}",
            demo.stamp(),
            demo.name(who),
            demo.readable(&visible_text(&answer.body["data"]))
        );
        demo.say(&line);
    }
    // The freed spot is offered to jules in the event thread, with a confirm button (the
    // thread's opening may be posted before or after it, as the outbox gets to it).
    let confirm_of = |post: &discord_emulator::RecordedRequest| {
        post.body["components"][0]["components"][0]["custom_id"]
            .as_str()
            .filter(|id| id.starts_with(crate::features::events::CONFIRM))
            .map(str::to_owned)
    };
    let offer = demo.wait_for_post(|p| confirm_of(p).is_some()).await?;
    if let Some(confirm) = confirm_of(&offer) {
        let offer_id: u64 = offer.response["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let answer = demo
            .emu
            .button_click(guild, card_id, jules, offer_id, &confirm)
            .response(WAIT)
            .await?;
        let line = format!(
            "{} jules clicks “Confirm my spot” → {}",
            demo.stamp(),
            demo.readable(&visible_text(&answer.body["data"]))
        );
        demo.say(&line);
    }
    demo.command(maria, "event", "list", json!([]), "").await?;
    Ok(())
}

/// An anonymous NPS pulse: two members answer (a menu, then a short form), the manager sees
/// only the figures.
async fn survey(demo: &mut Demo, server: &Server) -> anyhow::Result<()> {
    let Server {
        guild,
        general,
        maria,
        sam,
        ..
    } = *server;
    demo.say("\n— An anonymous NPS pulse —");
    demo.command(maria, "survey", "nps", json!([]), "").await?;
    demo.wait_for_posts(1).await?;
    let Some(post) = demo
        .bot_posts()
        .into_iter()
        .rev()
        .find(|p| p.path == format!("/channels/{general}/messages"))
    else {
        return Ok(());
    };
    let post_id: u64 = post.response["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let open = post.body["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let noor = demo
        .names
        .iter()
        .find(|(_, n)| n.as_str() == "noor")
        .map_or(0, |(id, _)| *id);
    for (who, score, comment) in [
        (sam, "9", "More show-and-tell threads!"),
        (noor, "6", "The help channel could be faster."),
    ] {
        let menu = demo
            .emu
            .button_click(guild, general, who, post_id, &open)
            .response(WAIT)
            .await?;
        let select = menu.body["data"]["components"][0]["components"][0]["custom_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let form = demo
            .emu
            .select_menu(guild, general, who, post_id, &select, &[score])
            .response(WAIT)
            .await?;
        let form_id = form.body["data"]["custom_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        tokio::time::sleep(Duration::from_millis(300)).await; // a person fills the form in
        let thanks = demo
            .emu
            .modal_submit(
                guild,
                general,
                who,
                &form_id,
                &[("comment", comment), ("contact", "no")],
            )
            .response(WAIT)
            .await?;
        let line = format!(
            "{} {} answers {score}/10 (“{comment}”) → {}",
            demo.stamp(),
            demo.name(who),
            visible_text(&thanks.body["data"])
        );
        demo.say(&line);
    }
    demo.command(
        maria,
        "survey",
        "results",
        json!([{"type": 4, "name": "id", "value": 1}]),
        " id:1",
    )
    .await?;
    Ok(())
}

/// Peer connections: two members opt in, the manager runs a round, and the pair gets a private
/// thread with an introduction.
async fn connections(demo: &mut Demo, server: &Server) -> anyhow::Result<()> {
    let Server {
        guild, maria, sam, ..
    } = *server;
    demo.say("\n— Peer connections: an introduction by shared interest —");
    let coffee = demo.emu.add_channel(guild, "coffee-chats", 0);
    demo.names.insert(coffee, "coffee-chats".to_owned());
    demo.command(
        maria,
        "connect",
        "setup",
        json!([
            {"type": 7, "name": "channel", "value": coffee.to_string()},
            {"type": 3, "name": "every", "value": "mon 10:00"}
        ]),
        " channel:#coffee-chats every:mon 10:00",
    )
    .await?;
    let noor = demo
        .names
        .iter()
        .find(|(_, n)| n.as_str() == "noor")
        .map_or(0, |(id, _)| *id);
    for (who, interests, timezone) in [
        (sam, "3d printing, rust, synths", "Europe/Lisbon"),
        (noor, "synths, woodworking", "Europe/Berlin"),
    ] {
        demo.command(
            who,
            "connect",
            "join",
            json!([
                {"type": 3, "name": "interests", "value": interests},
                {"type": 3, "name": "timezone", "value": timezone}
            ]),
            &format!(" interests:{interests} timezone:{timezone}"),
        )
        .await?;
    }
    demo.command(maria, "connect", "run-now", json!([]), "")
        .await?;
    // The private thread, then the introduction in it.
    demo.wait_for_posts(2).await?;
    Ok(())
}

/// A member asks anonymously through the AMA post's button and form; the manager upvotes.
async fn ask_and_upvote(
    demo: &mut Demo,
    server: &Server,
    post: &discord_emulator::RecordedRequest,
) -> anyhow::Result<()> {
    let Server {
        guild,
        ama,
        maria,
        sam,
        ..
    } = *server;
    let post_id: u64 = post.response["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let ask = post.body["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let line = format!(
        "{} sam clicks “Ask a question” and asks anonymously",
        demo.stamp()
    );
    demo.say(&line);
    let modal = demo
        .emu
        .button_click(guild, ama, sam, post_id, &ask)
        .response(WAIT)
        .await?;
    let modal_id = modal.body["data"]["custom_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    demo.emu
        .modal_submit(
            guild,
            ama,
            sam,
            &modal_id,
            &[
                ("question", "What was your first synth?"),
                ("anonymous", "yes"),
            ],
        )
        .response(WAIT)
        .await?;
    demo.wait_for_posts(1).await?;
    let question = demo.bot_posts().last().cloned();
    if let Some(q) = question {
        let q_id: u64 = q.response["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let vote = q.body["components"][0]["components"][0]["custom_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let voted = demo
            .emu
            .button_click(guild, ama, maria, q_id, &vote)
            .response(WAIT)
            .await?;
        let line = format!(
            "{} maria upvotes → {}",
            demo.stamp(),
            visible_text(&voted.body["data"])
        );
        demo.say(&line);
    }
    Ok(())
}

/// Members talk; the statistics show the community's health.
async fn health(demo: &mut Demo, server: &Server) -> anyhow::Result<()> {
    let Server { general, maria, .. } = *server;
    demo.say("\n— Community health —");
    for (name, text) in [("noor", "what are you all building?"), ("li", "a synth!")] {
        let id = demo
            .names
            .iter()
            .find(|(_, n)| n.as_str() == name)
            .map(|(id, _)| *id)
            .unwrap_or(0);
        demo.emu.user_message(general, id, text, None);
        let line = format!("{} {name} posted in #general", demo.stamp());
        demo.say(&line);
    }
    // The activity writer stores in batches (at most 250 ms apart).
    tokio::time::sleep(Duration::from_millis(400)).await;
    demo.command(maria, "stats", "overview", json!([]), "")
        .await
        .context("waiting for /stats overview")?;
    // Weekly cohorts: over 90 days, months would show a single finished 30-day window.
    demo.command(
        maria,
        "stats",
        "retention",
        json!([{"type": 4, "name": "by", "value": 1}]),
        " by:week",
    )
    .await
    .context("waiting for /stats retention")?;
    demo.command(maria, "stats", "top", json!([]), "")
        .await
        .context("waiting for /stats top")?;
    Ok(())
}

/// Stops the bot gracefully, checks every request against Discord's spec and writes the
/// transcript.
async fn stop(demo: &mut Demo, mut bot: BotProcess) -> anyhow::Result<()> {
    demo.say("\n— Stopping —");
    let code = bot.terminate().await?;
    let line = format!(
        "{} hearth stopped gracefully (exit {code}); pending posts flushed",
        demo.stamp()
    );
    demo.say(&line);
    let violations = demo.emu.violations();
    let requests = demo.emu.requests().len();
    demo.say(&format!(
        "Spec check: {requests} REST requests from the bot, {} violation(s) of Discord's OpenAPI spec",
        violations.len()
    ));
    for v in &violations {
        demo.say(&format!("  ✗ {v}"));
    }
    let mut file = String::from("# Hearth demo transcript\n\n```text\n");
    let _ = write!(
        file,
        "{}```\n\nDatabase: {}\n",
        demo.transcript,
        demo.out.join("hearth.db").display()
    );
    std::fs::write(demo.out.join("transcript.md"), file)?;
    println!(
        "\nTranscript written to {}",
        demo.out.join("transcript.md").display()
    );
    demo.emu.shutdown().await;
    anyhow::ensure!(code == 0, "the bot exited with {code}");
    anyhow::ensure!(
        violations.is_empty(),
        "the bot sent requests that violate Discord's spec"
    );
    Ok(())
}

/// What the doctor found, sorted for a newcomer: the staged problem, and features that stay
/// off until their channel is set (problems of their own, but not the staged one).
fn doctor_note(report: &str) -> String {
    let problems: Vec<&str> = report.lines().filter(|l| l.starts_with("⚠️")).collect();
    let unset: Vec<&str> = problems
        .iter()
        .filter(|l| l.contains(" channel: ") && l.contains(": no "))
        .filter_map(|l| l.split("**").nth(1))
        .collect();
    let staged = problems
        .iter()
        .filter(|l| l.contains("#team-reports"))
        .count();
    let other = problems.len() - unset.len() - staged;
    let mut note = format!("          → {staged} of these is the staged problem");
    if !unset.is_empty() {
        let _ = write!(
            note,
            "; {} are features that stay off until a channel is chosen for them ({}); #feedback, #ama and #events are set further down",
            unset.len(),
            unset.join(", ")
        );
    }
    if other > 0 {
        let _ = write!(note, "; {other} not staged");
    }
    note
}

/// `1795510800:F` (the inside of `<t:…>`) → what a reader in UTC sees.
fn discord_timestamp(spec: &str, now: i64) -> Option<String> {
    let mut parts = spec.split(':');
    let unix: i64 = parts.next()?.parse().ok()?;
    let t = chrono::DateTime::from_timestamp(unix, 0)?;
    let format = match parts.next().unwrap_or("f") {
        "t" => "%H:%M UTC",
        "T" => "%H:%M:%S UTC",
        "d" => "%Y-%m-%d",
        "D" => "%-d %B %Y",
        "f" => "%-d %B %Y %H:%M UTC",
        "F" => "%a %-d %b %Y %H:%M UTC",
        "R" => return Some(relative(unix - now)),
        _ => return None,
    };
    Some(t.format(format).to_string())
}

/// Seconds from now → "in 6 days", "3 hours ago", as Discord words a relative time.
fn relative(secs: i64) -> String {
    let n = secs.abs();
    let amount = match n {
        n if n < 45 => "a few seconds".to_owned(),
        n if n < 90 => "a minute".to_owned(),
        n if n < 45 * 60 => format!("{} minutes", (n + 30) / 60),
        n if n < 90 * 60 => "an hour".to_owned(),
        n if n < 22 * 3600 => format!("{} hours", (n + 1800) / 3600),
        n if n < 36 * 3600 => "a day".to_owned(),
        n if n < 26 * 86_400 => format!("{} days", (n + 43_200) / 86_400),
        n if n < 45 * 86_400 => "a month".to_owned(),
        n if n < 320 * 86_400 => format!("{} months", (n + 15 * 86_400) / (30 * 86_400)),
        n => format!("{} years", (n + 182 * 86_400) / (365 * 86_400)),
    };
    if secs < 0 {
        format!("{amount} ago")
    } else {
        format!("in {amount}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_read_as_discord_shows_them_each_once() {
        // Tue 2026-12-08 09:00 UTC, six days after Wed 2026-12-02 09:00 UTC.
        let (at, now) = (1_796_720_400, 1_796_202_000);
        assert_eq!(
            discord_timestamp(&format!("{at}:F"), now).as_deref(),
            Some("Tue 8 Dec 2026 09:00 UTC")
        );
        assert_eq!(
            discord_timestamp(&format!("{at}:R"), now).as_deref(),
            Some("in 6 days")
        );
        assert_eq!(
            discord_timestamp(&format!("{now}:R"), at).as_deref(),
            Some("6 days ago")
        );
        assert_eq!(
            discord_timestamp(&format!("{at}:D"), now).as_deref(),
            Some("8 December 2026")
        );
        assert_eq!(discord_timestamp("soon:F", now), None);
        assert_eq!(relative(20 * 3600), "in 20 hours");
    }

    #[test]
    fn the_doctor_note_tells_the_staged_problem_from_features_left_off() {
        let report = "Hearth doctor: 3 problem(s) found\n\
            ✅ **welcome**: #welcome: ready\n\
            ⚠️ **spotlight**: no spotlight channel: spotlight posts are off\n\
            \u{20}\u{20}↳ fix: /config channel purpose:spotlight channel:#…\n\
            ⚠️ **reports**: missing Send Messages in #team-reports: the monthly report cannot work\n\
            ⚠️ **prompts**: no prompts channel: themed-day prompts are off";
        assert_eq!(
            doctor_note(report),
            "          → 1 of these is the staged problem; 2 are features that stay off until a channel is chosen for them (spotlight, prompts); #feedback, #ama and #events are set further down"
        );
    }
}
