//! `hearth-bench`: Hearth measured against the bare framework on the same replay, side by side in
//! one run (issue 7). Prints a table and writes JSON.
//!
//! - ingest: N MESSAGE_CREATE events through the emulator into (a) the bare poise bot that only
//!   counts them (the ceiling) and (b) `hearth run` with tracking on; events/s for both, and a
//!   check that Hearth's store holds exactly the replayed activity (no loss, no duplicates);
//! - startup: process start to commands registered, with a warm database;
//! - memory: peak RSS of each process.
//!
//! Usage: `hearth-bench [--events N] [--members M] [--out FILE]` (defaults 500000, 2000,
//! bench.json). Figures depend on the machine; nothing here asserts a timing.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use discord_emulator::{Emulator, EmulatorConfig};
use hearth::harness::{self, BotProcess};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

struct Args {
    events: u64,
    members: u64,
    out: PathBuf,
}

fn args() -> anyhow::Result<Args> {
    let mut args = Args {
        events: 500_000,
        members: 2_000,
        out: PathBuf::from("bench.json"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--events" => args.events = value.parse()?,
            "--members" => args.members = value.parse()?,
            "--out" => args.out = PathBuf::from(value),
            other => bail!("unknown flag {other}; use --events N --members M --out FILE"),
        }
    }
    Ok(args)
}

/// Peak resident memory of a process in KiB (Linux).
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The replay: `events` messages from `members` members in one channel, with snowflake ids.
fn frames(
    guild: u64,
    channel: u64,
    users: &[u64],
    events: u64,
    first_id: u64,
) -> Vec<(String, serde_json::Value)> {
    let now = chrono::Utc::now();
    (0..events)
        .map(|i| {
            let user = users[usize::try_from(i).unwrap_or(0) % users.len()];
            let id = first_id + i;
            (
                "MESSAGE_CREATE".to_owned(),
                json!({
                    "id": id.to_string(), "channel_id": channel.to_string(), "guild_id": guild.to_string(),
                    "author": { "id": user.to_string(), "username": format!("m{user}"), "discriminator": "0", "global_name": null, "avatar": null, "bot": false },
                    "content": "", "timestamp": now.to_rfc3339(), "edited_timestamp": null, "tts": false, "mention_everyone": false,
                    "mentions": [], "mention_roles": [], "attachments": [], "embeds": [], "pinned": false, "type": 0, "flags": 0,
                }),
            )
        })
        .collect()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    let exe_dir = std::env::current_exe()?
        .parent()
        .context("no executable folder")?
        .to_owned();
    let emu = Emulator::start_with(EmulatorConfig {
        validate_gateway: false,
        ..EmulatorConfig::default()
    })
    .await?;
    let guild = emu.add_guild("Bench", hearth::domain::doctor::ALL_REQUIRED);
    let channel = emu.add_channel(guild, "general", 0);
    let users: Vec<u64> = (0..args.members.max(1))
        .map(|i| emu.add_user(&format!("member{i}"), false))
        .collect();
    for user in &users {
        emu.add_member(guild, *user, &[]);
    }
    eprintln!(
        "replaying {} messages from {} members",
        args.events,
        users.len()
    );

    // (a) the bare bot.
    let mut bare = tokio::process::Command::new(exe_dir.join("bare-bot"))
        .env("BARE_BOT_API", emu.base_url())
        .env("BARE_BOT_TARGET", args.events.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting bare-bot (build it with `cargo build --bins`)")?;
    let bare_started = Instant::now();
    let mut lines = BufReader::new(bare.stdout.take().context("no stdout")?).lines();
    while lines.next_line().await?.as_deref() != Some("ready") {}
    let bare_startup = bare_started.elapsed();
    let batch = frames(guild, channel, &users, args.events, 1 << 40);
    let started = Instant::now();
    emu.dispatch_many(batch);
    loop {
        match tokio::time::timeout(Duration::from_secs(600), lines.next_line()).await {
            Ok(Ok(Some(line))) if line.starts_with("count") => break,
            Ok(Ok(Some(_))) => {}
            _ => bail!("the bare bot did not see every event"),
        }
    }
    let bare_secs = started.elapsed().as_secs_f64();
    let bare_rss = bare.id().and_then(peak_rss_kib);
    bare.kill().await?;

    // (b) Hearth, tracking on.
    let dir = Scratch(std::env::temp_dir().join(format!("hearth-bench-{}", std::process::id())));
    std::fs::create_dir_all(dir.path())?;
    let config = harness::write_config(dir.path(), &emu.base_url(), "")?;
    let pool_url = format!("sqlite://{}", dir.path().join("hearth.db").display());
    let hearth_exe = exe_dir.join("hearth");
    let mut bot = BotProcess::spawn(&hearth_exe, dir.path(), &config)?;
    bot.wait_ready(1).await?;
    let batch = frames(guild, channel, &users, args.events, 1 << 41);
    let started = Instant::now();
    emu.dispatch_many(batch);
    let pool = hearth::db::connect(&pool_url).await?;
    let deadline = Instant::now() + Duration::from_secs(1800);
    let stored = loop {
        let n: i64 = sqlx_count(&pool).await?;
        if u64::try_from(n).unwrap_or(0) >= args.events || Instant::now() > deadline {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let hearth_secs = started.elapsed().as_secs_f64();
    let hearth_rss = bot.pid().and_then(peak_rss_kib);
    bot.terminate().await?;
    let stored_after_stop = sqlx_count(&pool).await?;
    let distinct = sqlx_distinct(&pool).await?;

    // Startup with a warm database: process start to "commands registered" (setup finished).
    let restarted = Instant::now();
    let mut bot = BotProcess::spawn(&hearth_exe, dir.path(), &config)?;
    bot.wait_ready(2).await?;
    let hearth_startup = restarted.elapsed();
    bot.terminate().await?;

    let n = args.events as f64;
    let (bare_rate, hearth_rate) = (n / bare_secs, n / hearth_secs);
    let report = json!({
        "events": args.events,
        "members": users.len(),
        "ingest": {
            "bare_events_per_sec": bare_rate.round(),
            "hearth_events_per_sec": hearth_rate.round(),
            "ratio": (hearth_rate / bare_rate * 1000.0).round() / 1000.0,
            "stored": stored_after_stop,
            "distinct_messages": distinct,
            "lost": args.events as i64 - stored_after_stop,
            "duplicates": stored_after_stop - distinct,
            "stored_when_timed": stored,
        },
        "startup_ms": { "bare": bare_startup.as_millis(), "hearth_warm_db": hearth_startup.as_millis() },
        "peak_rss_kib": { "bare": bare_rss, "hearth": hearth_rss },
    });
    println!(
        "{:<34} {:>14} {:>14} {:>8}",
        "", "bare poise bot", "hearth", "ratio"
    );
    println!(
        "{:<34} {:>14.0} {:>14.0} {:>8.3}",
        "ingest, events/s",
        bare_rate,
        hearth_rate,
        hearth_rate / bare_rate
    );
    println!(
        "{:<34} {:>14} {:>14}",
        "startup to commands registered, ms",
        bare_startup.as_millis(),
        hearth_startup.as_millis()
    );
    println!(
        "{:<34} {:>14} {:>14}",
        "peak RSS, MiB",
        bare_rss.map_or("?".into(), |k| format!("{:.1}", k as f64 / 1024.0)),
        hearth_rss.map_or("?".into(), |k| format!("{:.1}", k as f64 / 1024.0))
    );
    println!(
        "hearth store: {stored_after_stop} of {} events stored, {} lost, {} duplicates",
        args.events,
        args.events as i64 - stored_after_stop,
        stored_after_stop - distinct
    );
    std::fs::write(&args.out, serde_json::to_string_pretty(&report)?)?;
    eprintln!("wrote {}", args.out.display());
    Ok(())
}

async fn sqlx_count(pool: &hearth::db::Pool) -> anyhow::Result<i64> {
    Ok(hearth::db::activity::total(pool).await?)
}

async fn sqlx_distinct(pool: &hearth::db::Pool) -> anyhow::Result<i64> {
    Ok(hearth::db::activity::distinct_targets(pool).await?)
}

/// A scratch folder removed when the benchmark ends.
struct Scratch(PathBuf);

impl Scratch {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
