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
    guild_members: u64,
    store_members: u64,
    records: u64,
    out: PathBuf,
}

fn args() -> anyhow::Result<Args> {
    let mut args = Args {
        events: 500_000,
        members: 2_000,
        guild_members: 100_000,
        store_members: 100_000,
        records: 20_000_000,
        out: PathBuf::from("bench.json"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--events" => args.events = value.parse()?,
            "--members" => args.members = value.parse()?,
            "--guild-members" => args.guild_members = value.parse()?,
            "--store-members" => args.store_members = value.parse()?,
            "--records" => args.records = value.parse()?,
            "--out" => args.out = PathBuf::from(value),
            other => bail!(
                "unknown flag {other}; use --events N --members M --guild-members G \
                 --records R --store-members S --out FILE"
            ),
        }
    }
    Ok(args)
}

/// Peak resident memory of a process in KiB (Linux).
fn peak_rss_kib(pid: u32) -> Option<u64> {
    proc_status_kib(pid, "VmHWM:")
}

fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The emulator as the bench uses it: no schema checks on the hot path, and Discord's real
/// heartbeat interval (the tests' 1 s would make a client with a long backlog reconnect).
fn bench_emulator() -> EmulatorConfig {
    EmulatorConfig {
        validate_gateway: false,
        heartbeat_interval_ms: 41_250,
        ..EmulatorConfig::default()
    }
}

/// How long a bot gets to take in GUILD_CREATE after it is ready, before memory is read.
const GUILD_CREATE_SETTLE: Duration = Duration::from_secs(3);

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
    let emu = Emulator::start_with(bench_emulator())
    .await?;
    let guild = emu.add_guild("Bench", hearth::domain::doctor::ALL_REQUIRED);
    let channel = emu.add_channel(guild, "general", 0);
    let everyone: Vec<u64> = (0..args.guild_members.max(args.members).max(1))
        .map(|i| emu.add_user(&format!("member{i}"), false))
        .collect();
    for user in &everyone {
        emu.add_member(guild, *user, &[]);
    }
    let users = &everyone[..usize::try_from(args.members.max(1)).unwrap_or(1)];
    eprintln!(
        "guild of {} members; replaying {} messages from {} of them",
        everyone.len(),
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
    tokio::time::sleep(GUILD_CREATE_SETTLE).await;
    let bare_guild_rss = bare.id().and_then(peak_rss_kib);
    let batch = frames(guild, channel, users, args.events, 1 << 40);
    let started = Instant::now();
    emu.dispatch_many(batch);
    loop {
        match tokio::time::timeout(Duration::from_secs(600), lines.next_line()).await {
            Ok(Ok(Some(line))) if line.starts_with("count") => break,
            Ok(Ok(Some(_))) => {}
            _ => bail!(
                "the bare bot did not see every event (gateway: {:?})",
                emu.gateway_stats()
            ),
        }
    }
    eprintln!("bare bot done: {:?}", emu.gateway_stats());
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
    tokio::time::sleep(GUILD_CREATE_SETTLE).await;
    let hearth_guild_rss = bot.pid().and_then(peak_rss_kib);
    let batch = frames(guild, channel, users, args.events, 1 << 41);
    let started = Instant::now();
    emu.dispatch_many(batch);
    let pool = hearth::db::connect(&pool_url).await?;
    let deadline = Instant::now() + Duration::from_secs(1800);
    let stored = loop {
        let n = hearth::db::activity::highest_id(&pool).await?;
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
        "guild_create_peak_rss_kib": { "guild_members": everyone.len(), "bare": bare_guild_rss, "hearth": hearth_guild_rss },
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
    let mib = |k: Option<u64>| k.map_or("?".into(), |k| format!("{:.1}", k as f64 / 1024.0));
    println!(
        "{:<34} {:>14} {:>14}",
        format!("peak RSS after GUILD_CREATE ({}), MiB", everyone.len()),
        mib(bare_guild_rss),
        mib(hearth_guild_rss)
    );
    println!(
        "{:<34} {:>14} {:>14}",
        "peak RSS, MiB",
        mib(bare_rss),
        mib(hearth_rss)
    );
    println!(
        "hearth store: {stored_after_stop} of {} events stored, {} lost, {} duplicates",
        args.events,
        args.events as i64 - stored_after_stop,
        stored_after_stop - distinct
    );
    let mut report = report;
    report["reports"] = report_latency(&args, &exe_dir).await?;
    std::fs::write(&args.out, serde_json::to_string_pretty(&report)?)?;
    eprintln!("wrote {}", args.out.display());
    Ok(())
}

/// Report latency on a generated year of history: `hearth report --format json` for the whole
/// year (the first run materialises every finished day, later runs read them), and
/// `/stats overview` through the emulator, interaction to callback.
async fn report_latency(
    args: &Args,
    exe_dir: &std::path::Path,
) -> anyhow::Result<serde_json::Value> {
    let emu = Emulator::start_with(bench_emulator())
    .await?;
    let guild = emu.add_guild("Store", hearth::domain::doctor::ALL_REQUIRED);
    let channel = emu.add_channel(guild, "general", 0);
    let admin = emu.add_role(guild, "Admins", 1 << 3);
    let manager = emu.add_user("manager", false);
    emu.add_member(guild, manager, &[admin]);

    let dir =
        Scratch(std::env::temp_dir().join(format!("hearth-bench-store-{}", std::process::id())));
    std::fs::create_dir_all(dir.path())?;
    let config = harness::write_config(dir.path(), &emu.base_url(), "")?;
    let pool = hearth::db::open(&format!(
        "sqlite://{}",
        dir.path().join("hearth.db").display()
    ))
    .await?;
    let generated = Instant::now();
    generate_store(&pool, guild, args.store_members, args.records).await?;
    let generate_secs = generated.elapsed().as_secs_f64();
    pool.close().await;
    eprintln!(
        "generated {} records of {} members over a year in {generate_secs:.0} s",
        args.records, args.store_members
    );

    let hearth_exe = exe_dir.join("hearth");
    let today = chrono::Utc::now().date_naive();
    let from = (today - chrono::Duration::days(364)).to_string();
    let report_once = || {
        let started = Instant::now();
        let out = std::process::Command::new(&hearth_exe)
            .args(["report", "--config"])
            .arg(&config)
            .args([
                "--guild",
                &guild.to_string(),
                "--from",
                &from,
                "--to",
                &today.to_string(),
                "--format",
                "json",
            ])
            .output();
        (started.elapsed(), out)
    };
    let (first, out) = report_once();
    let out = out?;
    if !out.status.success() {
        bail!(
            "hearth report failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut warm: Vec<Duration> = (0..5).map(|_| report_once().0).collect();
    warm.sort();

    let mut bot = BotProcess::spawn(&hearth_exe, dir.path(), &config)?;
    bot.wait_ready(1).await?;
    let mut overview = Vec::new();
    for i in 0..40 {
        let started = Instant::now();
        let handle = emu.slash_command(
            guild,
            channel,
            manager,
            "stats",
            json!([{ "type": 1, "name": "overview", "options": [] }]),
        );
        let response = handle.response(Duration::from_secs(60)).await?;
        // The first few warm the process (connections, statement cache); they are not counted.
        if i >= 5 {
            overview.push(started.elapsed());
        }
        if response.status != 204 && response.status != 200 {
            bail!("/stats overview answered {}", response.status);
        }
    }
    bot.terminate().await?;
    overview.sort();
    let ms = |d: Duration| (d.as_secs_f64() * 10_000.0).round() / 10.0;
    let pct = |v: &[Duration], p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    println!("{:<34} {:>14} {:>14}", "", "p50, ms", "p95, ms");
    println!(
        "{:<34} {:>14.1} {:>14.1}",
        "/stats overview (35 calls)",
        ms(pct(&overview, 0.5)),
        ms(pct(&overview, 0.95))
    );
    println!(
        "{:<34} {:>14.1} {:>14.1}",
        "hearth report, a year (5 runs)",
        ms(pct(&warm, 0.5)),
        ms(pct(&warm, 0.95))
    );
    println!(
        "first year report (materialises {} days): {:.1} s; store generated in {generate_secs:.0} s",
        365,
        first.as_secs_f64()
    );
    Ok(json!({
        "store": { "members": args.store_members, "records": args.records, "generate_secs": generate_secs.round() },
        "stats_overview_ms": { "p50": ms(pct(&overview, 0.5)), "p95": ms(pct(&overview, 0.95)), "calls": overview.len() },
        "year_report_ms": { "p50": ms(pct(&warm, 0.5)), "max": ms(pct(&warm, 1.0)), "first_run_materialising": ms(first) },
    }))
}

/// A year of synthetic history shaped like real communities: members join through the year,
/// activity per member is heavily skewed (a few members write most of it), a quarter of
/// messages are replies.
async fn generate_store(
    pool: &hearth::db::Pool,
    guild: u64,
    members: u64,
    records: u64,
) -> anyhow::Result<()> {
    use hearth::db::activity::{Kind, Record};
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    let now = chrono::Utc::now().timestamp();
    let year = 365 * 86_400;
    let members = members.max(1);
    let joined: Vec<i64> = (0..members).map(|_| now - rng.gen_range(0..year)).collect();
    // Zipf-like weights: the member of rank r gets 1 / (r + 1).
    let mut cumulative = Vec::with_capacity(joined.len());
    let mut total = 0.0;
    for rank in 0..members {
        total += 1.0 / (rank as f64 + 1.0);
        cumulative.push(total);
    }
    let user_id = |i: usize| 10_000_000 + i as u64;
    for (i, at) in joined.iter().enumerate() {
        hearth::db::welcome::record_join(pool, guild, user_id(i), *at, false).await?;
    }
    let mut target = 1u64 << 42;
    let mut written = 0u64;
    while written < records {
        let mut tx = pool.begin().await?;
        for _ in 0..50 {
            let n = (records - written).min(hearth::db::activity::MAX_BATCH as u64);
            if n == 0 {
                break;
            }
            let batch: Vec<Record> = (0..n)
                .map(|_| {
                    let pick = rng.gen_range(0.0..total);
                    let i = cumulative
                        .partition_point(|c| *c < pick)
                        .min(joined.len() - 1);
                    let at = rng.gen_range(joined[i]..=now);
                    target += 1;
                    let kind = match rng.gen_range(0..20) {
                        0..=1 => Kind::Reaction,
                        2 => Kind::ThreadCreated,
                        3 => Kind::VoiceJoin,
                        _ => Kind::Message,
                    };
                    Record {
                        guild_id: guild,
                        user_id: user_id(i),
                        at,
                        kind,
                        channel_id: 1 + target % 20,
                        target_id: target,
                        reply_to: (kind == Kind::Message && rng.gen_bool(0.25))
                            .then(|| target - rng.gen_range(1..50)),
                        in_thread: rng.gen_bool(0.1),
                    }
                })
                .collect();
            hearth::db::activity::insert(&mut *tx, &batch).await?;
            written += n;
        }
        tx.commit().await?;
        if written % 1_000_000 < 200_000 {
            eprintln!("  {written} records");
        }
    }
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
