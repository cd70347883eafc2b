//! `hearth demo`: the real bot (this same binary, as a child process running `hearth run`)
//! against the built-in Discord emulator, playing a short scripted community. Needs no token and
//! no network; prints a transcript of what the bot did and writes it to `--out`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use discord_emulator::Emulator;
use serde_json::{json, Value};

use crate::domain::doctor::{perm, ALL_REQUIRED};
use crate::domain::settings::ChannelPurpose;
use crate::error::exit;
use crate::harness::{self, visible_text, BotProcess};

const WAIT: Duration = Duration::from_secs(30);

/// Runs the demo; returns the exit code.
pub async fn run(out: Option<PathBuf>) -> i32 {
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
    match play(&out).await {
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

/// The scripted community and what has been printed about it.
struct Demo {
    emu: Emulator,
    started: Instant,
    names: BTreeMap<u64, String>,
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

    /// Replaces `<#id>`, `<@id>`, `<@&id>` and `<t:unix:style>` with what Discord would show.
    fn readable(&self, text: &str) -> String {
        let mut out = discord_timestamps(text);
        for (id, name) in &self.names {
            out = out
                .replace(&format!("<#{id}>"), &format!("#{name}"))
                .replace(&format!("<@&{id}>"), &format!("@{name}"))
                .replace(&format!("<@{id}>"), &format!("@{name}"));
        }
        out
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
                format!(
                    "{} Hearth opened the thread \"{name}\" in #{}",
                    self.stamp(),
                    self.name(channel)
                )
            } else {
                format!(
                    "{} Hearth → #{}:\n{}",
                    self.stamp(),
                    self.name(channel),
                    self.indent(&visible_text(&post.body))
                )
            };
            self.say(&line);
        }
        self.shown_posts = posts.len();
    }
}

async fn play(out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let db = out.join("hearth.db");
    for stale in ["hearth.db", "hearth.db-wal", "hearth.db-shm", "hearth.log"] {
        let _ = std::fs::remove_file(out.join(stale));
    }
    let emu = Emulator::start()
        .await
        .context("starting the Discord emulator")?;
    let mut names = BTreeMap::new();
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
    emu.set_system_channel(guild, Some(general));
    emu.set_role_permissions(
        guild,
        guild,
        perm::VIEW_CHANNEL | perm::SEND_MESSAGES | perm::READ_MESSAGE_HISTORY,
    );
    // The bot may read #team-reports but not post there: the doctor will catch it.
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

    let mut demo = Demo {
        emu: emu.clone(),
        started: Instant::now(),
        names,
        transcript: String::new(),
        guild,
        general,
        shown_posts: 0,
    };
    demo.say(
        "Hearth demo: the real bot against the built-in Discord emulator (no token, no network)",
    );
    demo.say(&format!("Discord emulator on {}; server \"Emberfall Makers\" with #general, #welcome, #introductions, #team-reports", emu.base_url()));
    demo.say(&format!("Files: {}", out.display()));
    demo.say("");

    let exe = std::env::current_exe().context("finding the hearth executable")?;
    let config = harness::write_config(out, &emu.base_url(), "")?;
    let mut bot = BotProcess::spawn(&exe, out, &config)?;
    bot.wait_ready(1).await?;
    let ready = demo.stamp();
    demo.say(&format!(
        "{ready} hearth run: connected to the gateway and registered its slash commands"
    ));
    emu.wait_for_request(
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
    demo.command(maria, "config", "doctor", json!([]), "")
        .await?;

    demo.say("\n— A member tries a manager command —");
    demo.command(
        sam,
        "config",
        "timezone",
        json!([{"type": 3, "name": "name", "value": "Asia/Tokyo"}]),
        " name:Asia/Tokyo",
    )
    .await?;

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

    demo.say("\n— A small AMA —");
    let noor = demo
        .names
        .iter()
        .find(|(_, n)| n.as_str() == "noor")
        .map(|(id, _)| *id)
        .unwrap_or(0);
    let start = (chrono::Utc::now() + chrono::Duration::days(1))
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
    let line = format!("{} maria › /stats overview", demo.stamp());
    demo.say(&line);
    let overview = demo.emu.slash_command(
        guild,
        general,
        maria,
        "stats",
        json!([{"type": 1, "name": "overview", "options": []}]),
    );
    let reply = overview
        .response(WAIT)
        .await
        .context("waiting for /stats overview")?;
    let text = demo.indent(&visible_text(&reply.body["data"]));
    demo.say(&format!("          Hearth (only maria sees this):\n{text}"));
    if let Some((name, png)) = reply.files.first() {
        std::fs::write(out.join(name), png)?;
        demo.say(&format!(
            "          │ [chart attached: {name}, {} bytes, saved to {}]",
            png.len(),
            out.join(name).display()
        ));
    }

    demo.say("\n— Stopping —");
    let code = bot.terminate().await?;
    let line = format!(
        "{} hearth stopped gracefully (exit {code}); pending posts flushed",
        demo.stamp()
    );
    demo.say(&line);
    let violations = emu.violations();
    let requests = emu.requests().len();
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
        db.display()
    );
    std::fs::write(out.join("transcript.md"), file)?;
    println!(
        "\nTranscript written to {}",
        out.join("transcript.md").display()
    );
    emu.shutdown().await;
    anyhow::ensure!(code == 0, "the bot exited with {code}");
    anyhow::ensure!(
        violations.is_empty(),
        "the bot sent requests that violate Discord's spec"
    );
    Ok(())
}

/// `<t:1795510800:F>` → `2026-11-24 09:00 UTC`, as a reader's client would render it.
fn discord_timestamps(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("<t:") {
        out.push_str(&rest[..start]);
        let tail = &rest[start + 3..];
        let Some(end) = tail.find('>') else { break };
        let unix = tail[..end]
            .split(':')
            .next()
            .and_then(|n| n.parse::<i64>().ok());
        match unix.and_then(|n| chrono::DateTime::from_timestamp(n, 0)) {
            Some(t) => out.push_str(&t.format("%Y-%m-%d %H:%M UTC").to_string()),
            None => out.push_str(&rest[start..start + 3 + end + 1]),
        }
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}
