//! `hearth-bench`: Hearth measured against the bare framework on the same replay, side by side in
//! one run (issue 7). Prints a table and writes JSON.
//!
//! - ingest: a replay of MESSAGE_CREATE events, plus the joins before each member's first
//!   message and reactions, through the emulator into (a) the bare poise bot that only counts
//!   events (the ceiling) and (b) `hearth run` with tracking on, on SQLite, and with
//!   `--postgres postgres://user@host:port` (c) the same on a fresh PostgreSQL database
//!   (`hearth_bench_<pid>_ingest`, dropped at the end). The replay is the real
//!   community in `--data community-activity.csv.gz` when given, else synthetic with the same
//!   shape. The bots take turns for `--rounds` rounds and the median round counts, so a noisy
//!   neighbour on the machine hits both. Then a check that Hearth's store holds exactly the
//!   replayed activity (no loss, no duplicates);
//! - startup: process start to commands registered, with a warm database;
//! - memory: peak RSS of each process after GUILD_CREATE of a `--guild-members` guild, and
//!   overall;
//! - reports: on a generated year of history, `hearth report`, `/stats overview`, connected
//!   members and the morning digest, timed (`--only reports --postgres …`: on a copy of the
//!   store in a fresh PostgreSQL database, `hearth_bench_<pid>_reports`; `--store
//!   postgres://…/db`: on that PostgreSQL store as it is);
//! - dashboard: on the same store, 50 logged-in sessions load the health and retention pages at
//!   once, beside a static page of the same server (`hearth_bench/web.rs`; `--only web` runs
//!   this part alone);
//! - import (`--only import --data community-activity.csv.gz`, not part of the default run):
//!   `hearth import` of the real export as DiscordChatExporter JSON (`hearth_bench/import.rs`;
//!   with `--postgres …`, into a fresh PostgreSQL database each run);
//! - events (`--only events`, not part of the default run): 10k event reminders scheduled,
//!   held and sent under Discord's rate limits and injected 429s (`hearth_bench/events.rs`);
//! - shards (`--only shards --postgres …`, not part of the default run): the replay spread over
//!   `--guilds` guilds (default 2,000) on `--shard-total` shards (default 4), into one
//!   `hearth run --shards 0-3 --shard-total 4` and into four processes with a shard each, all on
//!   PostgreSQL (`hearth_bench/shards.rs`).
//!
//! Figures depend on the machine; nothing here asserts a timing.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use discord_emulator::{Emulator, EmulatorConfig};
use hearth::demo::harness::{self, BotProcess};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

#[path = "hearth_bench/events.rs"]
mod events;
#[path = "hearth_bench/import.rs"]
mod import;
#[path = "hearth_bench/matching.rs"]
mod matching;
#[path = "hearth_bench/pg.rs"]
mod pg;
#[path = "hearth_bench/shards.rs"]
mod shards;
#[path = "hearth_bench/web.rs"]
mod web;

const USAGE: &str = "hearth-bench [--data community-activity.csv.gz] [--events N] [--members M] \
[--guild-members G] [--rounds R] [--records R] [--store-members S] [--store FILE] \
[--only ingest|reports|web|writer|events|matching|import|shards] [--event-members N] [--event-count E] \
[--match-members N] [--postgres postgres://user@host:port] [--guilds G] [--shard-total N] \
[--settle-max SECS] [--out FILE]";

/// `--settle-max`: the longest [`settle_all`] waits before a replay (default 120 s).
static SETTLE_MAX_SECS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(120);

struct Args {
    data: Option<PathBuf>,
    events: u64,
    members: u64,
    /// Whether `--members` was given (`--only shards` has its own default).
    members_set: bool,
    guild_members: u64,
    rounds: usize,
    store_members: u64,
    records: u64,
    /// The generated store: reused when the file exists, kept afterwards.
    store: Option<PathBuf>,
    only: Option<String>,
    /// `--only events`: guild members, each Going to one event, and the number of events.
    event_members: u64,
    event_count: u64,
    /// `--only matching`: opted-in members of the connections round.
    match_members: u64,
    /// A PostgreSQL server (`postgres://user@host:port`): the ingest runs on it too, beside
    /// SQLite, each store a fresh database.
    postgres: Option<String>,
    /// `--only shards`: guilds in all, and shards.
    guilds: u64,
    shard_total: u32,
    out: PathBuf,
}

fn args() -> anyhow::Result<Args> {
    let mut args = Args {
        data: None,
        events: 500_000,
        members: 2_000,
        members_set: false,
        guild_members: 100_000,
        rounds: 3,
        store_members: 100_000,
        records: 20_000_000,
        store: None,
        only: None,
        event_members: 10_000,
        event_count: 50,
        match_members: 10_000,
        postgres: None,
        guilds: 2_000,
        shard_total: 4,
        out: PathBuf::from("bench.json"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--data" => args.data = Some(PathBuf::from(value)),
            "--events" => args.events = value.parse()?,
            "--members" => {
                args.members = value.parse()?;
                args.members_set = true;
            }
            "--guild-members" => args.guild_members = value.parse()?,
            "--rounds" => args.rounds = value.parse::<usize>()?.max(1),
            "--store-members" => args.store_members = value.parse()?,
            "--records" => args.records = value.parse()?,
            "--store" => args.store = Some(PathBuf::from(value)),
            "--event-members" => args.event_members = value.parse()?,
            "--event-count" => args.event_count = value.parse()?,
            "--match-members" => args.match_members = value.parse()?,
            "--postgres" => args.postgres = Some(value),
            "--guilds" => args.guilds = value.parse::<u64>()?.max(1),
            "--shard-total" => args.shard_total = value.parse::<u32>()?.max(1),
            "--settle-max" => SETTLE_MAX_SECS.store(
                value.parse::<u64>()?.max(1),
                std::sync::atomic::Ordering::Relaxed,
            ),
            "--only"
                if [
                    "ingest", "reports", "web", "writer", "events", "matching", "import", "shards",
                ]
                .contains(&value.as_str()) =>
            {
                args.only = Some(value)
            }
            "--out" => args.out = PathBuf::from(value),
            other => bail!("unknown flag {other}; usage: {USAGE}"),
        }
    }
    Ok(args)
}

/// The machine's load averages over 1, 5 and 15 minutes (Linux), as `/proc/loadavg` shows them.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Peak resident memory of a process in KiB (Linux).
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// CPU time (user + system, every thread) a process has used so far, in seconds (Linux).
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which may hold spaces: utime and stime are 14th and 15th.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on every Linux this runs on.
    Some(ticks as f64 / 100.0)
}

/// Bytes a process has written so far, to files and sockets alike (Linux).
fn written_bytes(pid: u32) -> Option<u64> {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    io.lines()
        .find_map(|l| l.strip_prefix("wchar:"))
        .and_then(|v| v.trim().parse().ok())
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

/// Waits until a bot has taken in GUILD_CREATE: its CPU use stays under a tenth of a core for
/// half a second (at most a minute). A fixed pause was too short when the machine was slow
/// (a 100k-member GUILD_CREATE took 1 s in one run and 5 s in another): the rest of it was then
/// counted as replay time.
async fn settle(pid: Option<u32>) {
    const STEP: Duration = Duration::from_millis(250);
    let Some(pid) = pid else {
        return tokio::time::sleep(Duration::from_secs(3)).await;
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut last, mut quiet) = (cpu_secs(pid), 0);
    while quiet < 2 && Instant::now() < deadline {
        tokio::time::sleep(STEP).await;
        let now = cpu_secs(pid);
        let busy = match (last, now) {
            (Some(a), Some(b)) => b - a > STEP.as_secs_f64() / 10.0,
            _ => false,
        };
        quiet = if busy { 0 } else { quiet + 1 };
        last = now;
    }
}

/// [`settle`] for Hearth processes and, on PostgreSQL, the server's backends for the store too:
/// all of them together under a tenth of a core for half a second (at most `--settle-max`, by
/// default two minutes).
/// Returns how long that took. On PostgreSQL a process's start-up work (the rollup folding the
/// last round's records into days runs first thing) is mostly the server's: waiting for the
/// process alone started the replay while the server was still at it.
async fn settle_all(pids: &[Option<u32>], pg: Option<(&hearth::db::Pool, &str)>) -> Duration {
    const STEP: Duration = Duration::from_millis(250);
    let started = Instant::now();
    let sample = || async {
        let own: f64 = pids.iter().filter_map(|p| p.and_then(cpu_secs)).sum();
        let db = match pg {
            Some((pool, name)) => pg::cpu(pool, name).await.ok(),
            None => None,
        };
        (own, db)
    };
    let (mut last, mut quiet) = (sample().await, 0);
    let max = Duration::from_secs(SETTLE_MAX_SECS.load(std::sync::atomic::Ordering::Relaxed));
    while quiet < 2 && started.elapsed() < max {
        tokio::time::sleep(STEP).await;
        let now = sample().await;
        let db = match (&last.1, &now.1) {
            (Some(a), Some(b)) => pg::cpu_between(a, b).0,
            _ => 0.0,
        };
        let busy = now.0 - last.0 + db > STEP.as_secs_f64() / 10.0;
        quiet = if busy { 0 } else { quiet + 1 };
        last = now;
    }
    if quiet < 2 {
        eprintln!(
            "  (still busy after {:?}: the replay starts anyway)",
            started.elapsed()
        );
    }
    started.elapsed()
}

/// One message of the replay, before it becomes gateway frames.
struct ReplayMessage {
    at: chrono::DateTime<chrono::Utc>,
    /// Index into the replay's authors.
    author: usize,
    bot: bool,
    channel: u64,
    /// Reactions by distinct other authors.
    reactions: usize,
}

/// What the bots are fed, in order.
struct Replay {
    messages: Vec<ReplayMessage>,
    authors: usize,
    source: String,
}

impl Replay {
    /// The replay the arguments ask for: the real export with `--data`, else synthetic.
    fn of(args: &Args) -> anyhow::Result<Self> {
        match &args.data {
            Some(path) => Self::from_csv(path, args.events),
            None => Ok(Self::synthetic(args.events, args.members)),
        }
    }

    /// The first `events` messages of the real community export (UTC minute timestamps,
    /// pseudonymous authors; the two known bots stay bots).
    fn from_csv(path: &std::path::Path, events: u64) -> anyhow::Result<Self> {
        let file =
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let mut reader = csv::Reader::from_reader(flate2::read::GzDecoder::new(file));
        let headers = reader.headers()?.clone();
        let column = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .with_context(|| format!("{} has no `{name}` column", path.display()))
        };
        let (ts, user, bot, channel, reactions) = (
            column("ts_minute")?,
            column("user")?,
            column("is_known_bot")?,
            column("channel_id")?,
            column("reaction_total")?,
        );
        let mut authors: HashMap<String, usize> = HashMap::new();
        let mut messages = Vec::new();
        for row in reader.records() {
            if messages.len() as u64 >= events {
                break;
            }
            let row = row?;
            let at = chrono::NaiveDateTime::parse_from_str(&row[ts], "%Y-%m-%dT%H:%M:%S")
                .with_context(|| format!("bad ts_minute `{}`", &row[ts]))?
                .and_utc();
            let next = authors.len();
            let author = *authors.entry(row[user].to_owned()).or_insert(next);
            messages.push(ReplayMessage {
                at,
                author,
                bot: &row[bot] == "1",
                // 1,371 rows have no channel id: they stay in the replay, in channel 1.
                channel: row[channel].parse().unwrap_or(1),
                reactions: row[reactions]
                    .parse()
                    .with_context(|| format!("bad reaction_total `{}`", &row[reactions]))?,
            });
        }
        Ok(Self {
            authors: authors.len(),
            messages,
            source: path.display().to_string(),
        })
    }

    /// `events` messages shaped like the real export: a quarter from a bridge bot, one in seven
    /// with reactions, authors skewed (the member of rank r writes ~1/r of the most active).
    fn synthetic(events: u64, members: u64) -> Self {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let members = usize::try_from(members.max(2)).unwrap_or(2);
        let zipf = Zipf::new(members - 1);
        let now = hearth::domain::clock::now();
        let messages = (0..events)
            .map(|i| {
                let bot = rng.gen_bool(0.25);
                ReplayMessage {
                    at: now - chrono::Duration::seconds((events - i) as i64 / 10),
                    author: if bot { 0 } else { 1 + zipf.sample(&mut rng) },
                    bot,
                    channel: 1 + rng.gen_range(0..20),
                    reactions: if rng.gen_bool(1.0 / 7.0) {
                        rng.gen_range(1..4)
                    } else {
                        0
                    },
                }
            })
            .collect();
        Self {
            messages,
            authors: members,
            source: "synthetic".into(),
        }
    }

    /// How far back in time a round is moved: each round is an earlier, separate stretch of
    /// time, as a live guild's activity never lands amid what is stored. (Replaying the same
    /// times every round scattered each round's records across the time index, and later rounds
    /// measured that rather than ingest.)
    fn round_shift(&self, round: u64) -> chrono::Duration {
        let times = || self.messages.iter().map(|m| m.at);
        let span = times()
            .max()
            .zip(times().min())
            .map_or(chrono::Duration::zero(), |(last, first)| last - first);
        (span + chrono::Duration::minutes(1)) * i32::try_from(round).unwrap_or(0)
    }

    /// The gateway frames of one round: each author's GUILD_MEMBER_ADD before their first
    /// message, then messages and their reactions. Ids are offset per round so every round is
    /// new activity. Returns the frames and the activity records Hearth should store.
    fn frames(&self, guild: u64, round: u64) -> (Vec<(String, Value)>, Expected) {
        let (frames, expected, _) = self.frames_in(&[guild], round, self.round_shift(round));
        (frames, expected)
    }

    /// [`Self::frames`] spread over `guilds`: author `a` is a member of guild `a % n` and writes
    /// there; a bot's `i`-th message goes to guild `i % n` (the bridge bot posts everywhere).
    /// Reactions come from members of the message's guild. With one guild, exactly the frames of
    /// the single-guild replay. The replay's times move back by `shift`. Also returns the
    /// activity records per guild.
    fn frames_in(
        &self,
        guilds: &[u64],
        round: u64,
        shift: chrono::Duration,
    ) -> (Vec<(String, Value)>, Expected, HashMap<u64, u64>) {
        let n = guilds.len().max(1);
        let user_id = |author: usize| (round + 1) * 1_000_000_000 + author as u64;
        let bot_author: Vec<bool> = {
            let mut bots = vec![false; self.authors];
            for m in &self.messages {
                bots[m.author] |= m.bot;
            }
            bots
        };
        let user = |author: usize| {
            let id = user_id(author);
            json!({ "id": id.to_string(), "username": format!("m{id}"), "discriminator": "0",
                    "global_name": null, "avatar": null, "bot": bot_author[author] })
        };
        // Each guild's authors, in order.
        let members_of: Vec<Vec<usize>> = {
            let mut members = vec![Vec::new(); n];
            for author in 0..self.authors {
                members[author % n].push(author);
            }
            members
        };
        // A human author joins their one guild; a bot joins each guild it posts in.
        let mut joined = vec![false; self.authors];
        let mut bot_joined: std::collections::HashSet<(usize, usize)> = Default::default();
        let mut frames = Vec::with_capacity(self.messages.len() * 5 / 4);
        let mut expected = Expected::default();
        let mut per_guild: HashMap<u64, u64> = HashMap::new();
        let first_message_id = (round + 1) << 44;
        for (i, m) in self.messages.iter().enumerate() {
            let at = (m.at - shift).to_rfc3339();
            let g = if bot_author[m.author] {
                i % n
            } else {
                m.author % n
            };
            let guild = guilds.get(g).copied().unwrap_or_default();
            let first = if bot_author[m.author] {
                bot_joined.insert((g, m.author))
            } else {
                !std::mem::replace(&mut joined[m.author], true)
            };
            if first {
                expected.joins += u64::from(!bot_author[m.author]);
                frames.push((
                    "GUILD_MEMBER_ADD".to_owned(),
                    json!({ "guild_id": guild.to_string(), "user": user(m.author), "roles": [],
                            "joined_at": at, "deaf": false, "mute": false,
                            "flags": 0, "pending": false }),
                ));
            }
            let id = first_message_id + i as u64;
            frames.push((
                "MESSAGE_CREATE".to_owned(),
                json!({
                    "id": id.to_string(), "channel_id": m.channel.to_string(), "guild_id": guild.to_string(),
                    "author": user(m.author), "content": "", "timestamp": at,
                    "edited_timestamp": null, "tts": false, "mention_everyone": false, "mentions": [],
                    "mention_roles": [], "attachments": [], "embeds": [], "pinned": false, "type": 0, "flags": 0,
                }),
            ));
            expected.messages += u64::from(!m.bot);
            *per_guild.entry(guild).or_default() += u64::from(!m.bot);
            // Reactors: the guild's members after this author who already joined, one reaction
            // each.
            let members = &members_of[g];
            let start = members.partition_point(|a| *a <= m.author);
            let reactors = (0..members.len())
                .map(|k| members[(start + k) % members.len()])
                .filter(|a| *a != m.author && !bot_author[*a] && joined[*a])
                .take(m.reactions);
            for reactor in reactors {
                frames.push((
                    "MESSAGE_REACTION_ADD".to_owned(),
                    json!({ "user_id": user_id(reactor).to_string(), "channel_id": m.channel.to_string(),
                            "message_id": id.to_string(), "guild_id": guild.to_string(),
                            "emoji": { "id": null, "name": "👍" }, "burst": false, "type": 0 }),
                ));
                expected.reactions += 1;
                *per_guild.entry(guild).or_default() += 1;
            }
        }
        (frames, expected, per_guild)
    }
}

/// Activity records a replay should leave in Hearth's store.
#[derive(Clone, Copy, Default)]
struct Expected {
    messages: u64,
    reactions: u64,
    /// Members' joins (bots' are not recorded); not activity records.
    joins: u64,
}

impl Expected {
    fn total(self) -> u64 {
        self.messages + self.reactions
    }
}

/// Zipf-like ranks: rank r is drawn with weight 1 / (r + 1).
struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(n: usize) -> Self {
        let mut total = 0.0;
        let cumulative = (0..n.max(1))
            .map(|rank| {
                total += 1.0 / (rank as f64 + 1.0);
                total
            })
            .collect();
        Self { cumulative }
    }

    fn sample(&self, rng: &mut impl rand::Rng) -> usize {
        let total = *self.cumulative.last().unwrap_or(&1.0);
        let pick = rng.gen_range(0.0..total);
        self.cumulative
            .partition_point(|c| *c < pick)
            .min(self.cumulative.len() - 1)
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// One bare-bot round: start, (GUILD_CREATE memory), replay, until it counted every event.
struct Round {
    startup: Duration,
    guild_rss: Option<u64>,
    secs: f64,
    /// From ready to quiet (GUILD_CREATE, Hearth's start-up rollup), before the replay.
    settle: Duration,
    /// CPU seconds the bot used during the replay (contention-free cost, unlike `secs`).
    cpu: Option<f64>,
    /// On PostgreSQL, CPU seconds the server spent during the replay: the store's backends and
    /// the shared WAL writer, checkpointer and background writer ([`pg::cpu`]).
    db_cpu: Option<(f64, f64)>,
    rss: Option<u64>,
}

async fn bare_round(
    emu: &Emulator,
    exe_dir: &std::path::Path,
    frames: Vec<(String, Value)>,
) -> anyhow::Result<Round> {
    let target = frames.len();
    let mut bare = tokio::process::Command::new(exe_dir.join("bare-bot"))
        .env("BARE_BOT_API", emu.base_url())
        .env("BARE_BOT_TARGET", target.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting bare-bot (build it with `cargo build --bins`)")?;
    let started = Instant::now();
    let mut lines = BufReader::new(bare.stdout.take().context("no stdout")?).lines();
    while lines.next_line().await?.as_deref() != Some("ready") {}
    let startup = started.elapsed();
    let settled = Instant::now();
    settle(bare.id()).await;
    let settle = settled.elapsed();
    let guild_rss = bare.id().and_then(peak_rss_kib);
    let cpu_before = bare.id().and_then(cpu_secs);
    let started = Instant::now();
    emu.dispatch_many(frames);
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
    let secs = started.elapsed().as_secs_f64();
    let cpu = bare
        .id()
        .and_then(cpu_secs)
        .zip(cpu_before)
        .map(|(a, b)| a - b);
    let rss = bare.id().and_then(peak_rss_kib);
    bare.kill().await?;
    Ok(Round {
        startup,
        settle,
        guild_rss,
        secs,
        cpu,
        db_cpu: None,
        rss,
    })
}

/// One Hearth round: start (warm database after the first), replay, until the store holds
/// `records` more activity records (or a deadline passes; the loss check reports it). `pg`: the
/// PostgreSQL database the store is, whose server CPU is measured too.
async fn hearth_round(
    emu: &Emulator,
    dir: &std::path::Path,
    config: &std::path::Path,
    pool: &hearth::db::Pool,
    pg: Option<&str>,
    round: usize,
    (frames, expected): (Vec<(String, Value)>, Expected),
) -> anyhow::Result<Round> {
    let hearth_exe = std::env::current_exe()?.with_file_name("hearth");
    let before = hearth::db::activity::highest_id(pool).await?;
    let started = Instant::now();
    let mut bot = BotProcess::spawn(&hearth_exe, dir, config)?;
    bot.wait_ready(round + 1).await?;
    let startup = started.elapsed();
    let settle = settle_all(&[bot.pid()], pg.map(|name| (pool, name))).await;
    let guild_rss = bot.pid().and_then(peak_rss_kib);
    let cpu_before = bot.pid().and_then(cpu_secs);
    let db_before = match pg {
        Some(name) => Some(pg::cpu(pool, name).await?),
        None => None,
    };
    let started = Instant::now();
    emu.dispatch_many(frames);
    let target = before + i64::try_from(expected.total())?;
    let deadline = Instant::now() + Duration::from_secs(1800);
    while hearth::db::activity::highest_id(pool).await? < target && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    let cpu = bot
        .pid()
        .and_then(cpu_secs)
        .zip(cpu_before)
        .map(|(a, b)| a - b);
    let db_cpu = match (pg, &db_before) {
        (Some(name), Some(before)) => Some(pg::cpu_between(before, &pg::cpu(pool, name).await?)),
        _ => None,
    };
    let rss = bot.pid().and_then(peak_rss_kib);
    bot.terminate().await?;
    Ok(Round {
        startup,
        settle,
        guild_rss,
        secs,
        cpu,
        db_cpu,
        rss,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    let exe_dir = std::env::current_exe()?
        .parent()
        .context("no executable folder")?
        .to_owned();
    let load_before = loadavg();
    eprintln!("load average (1, 5, 15 min) at the start: {load_before}");
    let mut report = json!({});
    if args.only.as_deref() == Some("writer") {
        report["writer"] = writer_cost(&args).await?;
    } else if args.only.as_deref() == Some("events") {
        report["events"] = events::run(args.event_members, args.event_count).await?;
    } else if args.only.as_deref() == Some("matching") {
        report["matching"] = matching::run(args.match_members)?;
    } else if args.only.as_deref() == Some("shards") {
        report["shards"] = shards::run(&args).await?;
    } else if args.only.as_deref() == Some("import") {
        report["import"] = import::run(
            args.data.as_deref(),
            args.rounds,
            &exe_dir,
            args.postgres.as_deref(),
        )
        .await?;
    } else {
        if !matches!(args.only.as_deref(), Some("reports" | "web")) {
            report = ingest(&args, &exe_dir).await?;
        }
        if args.only.as_deref() != Some("ingest") {
            report["reports"] = report_latency(&args, &exe_dir).await?;
        }
    }
    let load_after = loadavg();
    eprintln!("load average (1, 5, 15 min) at the end: {load_after}");
    report["load_average"] = json!({ "start": load_before, "end": load_after });
    std::fs::write(&args.out, serde_json::to_string_pretty(&report)?)?;
    eprintln!("wrote {}", args.out.display());
    Ok(())
}

/// Hearth's activity writer alone, in this process: the replay's records handed to a `Tracker`
/// as the gateway handlers do, until stored. No gateway and no emulator share the cores, so its
/// cost per record is steadier than the ingest figures; rounds add to one store.
async fn writer_cost(args: &Args) -> anyhow::Result<Value> {
    use hearth::db::activity::{Kind, Record};
    let replay = Replay::of(args)?;
    let (_dir, pool) = Scratch::store().await?;
    let mut rounds = Vec::new();
    for round in 0..args.rounds as u64 {
        let shift = replay.round_shift(round);
        let records: Vec<Record> = replay
            .messages
            .iter()
            .enumerate()
            .filter(|(_, m)| !m.bot)
            .map(|(i, m)| Record {
                guild_id: 1,
                user_id: (round + 1) * 1_000_000_000 + m.author as u64,
                at: (m.at - shift).timestamp(),
                kind: Kind::Message,
                channel_id: m.channel,
                target_id: ((round + 1) << 44) + i as u64,
                reply_to: None,
                in_thread: false,
            })
            .collect();
        let (tracker, writer) = hearth::features::activity::Tracker::start(pool.clone()).await?;
        let cpu_before = cpu_secs(std::process::id());
        let written_before = written_bytes(std::process::id());
        let started = Instant::now();
        for record in &records {
            tracker.record(*record);
            tracker.first_message(record.guild_id, record.user_id, record.at);
        }
        drop(tracker);
        writer.await?;
        let secs = started.elapsed().as_secs_f64();
        let cpu = cpu_secs(std::process::id())
            .zip(cpu_before)
            .map(|(a, b)| a - b);
        let written = written_bytes(std::process::id())
            .zip(written_before)
            .map(|(a, b)| (a - b) as f64);
        let n = records.len() as f64;
        eprintln!(
            "round {}: {} records in {secs:.2} s ({:.0}/s), {:.2} us CPU and {:.0} bytes written \
             per record",
            round + 1,
            records.len(),
            n / secs,
            cpu.map_or(f64::NAN, |c| c * 1e6 / n),
            written.map_or(f64::NAN, |w| w / n)
        );
        rounds.push(json!({ "records": records.len(), "secs": secs,
            "cpu_us_per_record": cpu.map(|c| c * 1e6 / n),
            "bytes_written_per_record": written.map(|w| (w / n).round()) }));
    }
    pool.close().await;
    Ok(json!({ "rounds": rounds }))
}

/// What a store holds after the replay, against what was replayed.
struct StoreCheck {
    stored: i64,
    lost: i64,
    extra: i64,
    joins: i64,
}

impl StoreCheck {
    /// The unique key (guild, kind, target, member) makes a replayed event count once, so a
    /// count per kind that equals the replay means nothing lost and nothing extra. Every
    /// round's members are new, so each join is one row of `guild`'s.
    async fn of(pool: &hearth::db::Pool, guild: u64, expected: Expected) -> anyhow::Result<Self> {
        let by_kind: HashMap<i64, i64> = hearth::db::activity::count_by_kind(pool)
            .await?
            .into_iter()
            .collect();
        let kinds = [
            (hearth::db::activity::Kind::Message, expected.messages),
            (hearth::db::activity::Kind::Reaction, expected.reactions),
        ];
        let (mut lost, mut extra) = (0i64, 0i64);
        for (kind, want) in kinds {
            let have = by_kind.get(&(kind as i64)).copied().unwrap_or(0);
            lost += (i64::try_from(want)? - have).max(0);
            extra += (have - i64::try_from(want)?).max(0);
        }
        Ok(Self {
            stored: by_kind.values().sum(),
            lost,
            extra,
            joins: i64::from(
                hearth::db::welcome::joins_between(pool, guild, i64::MIN, i64::MAX).await?,
            ),
        })
    }

    fn json(&self, expected: Expected) -> Value {
        json!({ "expected": expected.total(), "stored": self.stored, "lost": self.lost,
                "extra": self.extra, "joins": { "expected": expected.joins, "stored": self.joins } })
    }
}

/// One bot's rounds, summed up: median rate, CPU per event, startup and memory.
struct Side {
    rate: f64,
    cpu_us: Option<f64>,
    /// PostgreSQL's CPU per event: the store's backends, and the shared writers.
    db_cpu_us: Option<(f64, f64)>,
    startup_ms: f64,
    guild_rss: Option<u64>,
    peak_rss: Option<u64>,
}

impl Side {
    fn of(rounds: &[Round], events: usize) -> Self {
        let events = events as f64;
        let rate = median(&mut rounds.iter().map(|r| events / r.secs).collect::<Vec<_>>());
        // CPU microseconds per event, median over rounds: the bot's own cost, whatever the
        // noise.
        let per_event = |values: Vec<f64>| {
            let mut per_event: Vec<f64> = values.into_iter().map(|c| c * 1e6 / events).collect();
            (!per_event.is_empty()).then(|| median(&mut per_event))
        };
        let cpu_us = per_event(rounds.iter().filter_map(|r| r.cpu).collect());
        let backends = per_event(
            rounds
                .iter()
                .filter_map(|r| r.db_cpu.map(|c| c.0))
                .collect(),
        );
        let shared = per_event(
            rounds
                .iter()
                .filter_map(|r| r.db_cpu.map(|c| c.1))
                .collect(),
        );
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        // The first start creates the database; the warm ones follow.
        let warm = if rounds.len() > 1 {
            &rounds[1..]
        } else {
            rounds
        };
        Self {
            rate,
            cpu_us,
            db_cpu_us: backends.zip(shared),
            startup_ms: median(&mut warm.iter().map(|r| ms(r.startup)).collect::<Vec<_>>()),
            guild_rss: rounds[0].guild_rss,
            peak_rss: rounds.iter().filter_map(|r| r.rss).max(),
        }
    }

    /// CPU per event of the bot and, on PostgreSQL, of the server's work for it.
    fn total_cpu_us(&self) -> Option<f64> {
        self.cpu_us
            .map(|c| c + self.db_cpu_us.map_or(0.0, |(b, s)| b + s))
    }
}

/// The ingest, startup and memory phases, the bots taking turns.
async fn ingest(args: &Args, exe_dir: &std::path::Path) -> anyhow::Result<Value> {
    let replay = Replay::of(args)?;
    let emu = Emulator::start_with(bench_emulator()).await?;
    let guild = emu.add_guild("Bench", hearth::domain::doctor::ALL_REQUIRED);
    emu.add_channel(guild, "general", 0);
    for i in 0..args.guild_members {
        let user = emu.add_user(&format!("member{i}"), false);
        emu.add_member(guild, user, &[]);
    }
    let (_, expected) = replay.frames(guild, 0);
    eprintln!(
        "guild of {} members; replay ({}): {} messages from {} authors, {} records and {} joins \
         for Hearth per round; {} rounds{}",
        args.guild_members,
        replay.source,
        replay.messages.len(),
        replay.authors,
        expected.total(),
        expected.joins,
        args.rounds,
        if args.postgres.is_some() {
            "; Hearth on SQLite, then on PostgreSQL"
        } else {
            ""
        }
    );

    let (dir, pool) = Scratch::store().await?;
    let config = harness::write_config(dir.path(), &emu.base_url(), "")?;
    // The same Hearth on a fresh PostgreSQL database, its config and log in a folder of its own.
    let postgres = match &args.postgres {
        Some(server) => {
            let db = pg::PgDatabase::new(server, "ingest");
            let pool = hearth::db::open(&db.url()).await?;
            let pg_dir = dir.path().join("postgres");
            let config = harness::write_config(&pg_dir, &emu.base_url(), &db.config_toml())?;
            Some((db, pool, pg_dir, config))
        }
        None => None,
    };
    let (mut bare, mut hearth, mut hearth_pg) = (Vec::new(), Vec::new(), Vec::new());
    let mut events = 0;
    let mut expected_total = Expected::default();
    for round in 0..args.rounds {
        let (frames, expected) = replay.frames(guild, round as u64);
        events = frames.len();
        expected_total.messages += expected.messages;
        expected_total.reactions += expected.reactions;
        expected_total.joins += expected.joins;
        bare.push(bare_round(&emu, exe_dir, frames).await?);
        let frames = replay.frames(guild, round as u64);
        hearth.push(hearth_round(&emu, dir.path(), &config, &pool, None, round, frames).await?);
        if let Some((db, pg_pool, pg_dir, pg_config)) = &postgres {
            let frames = replay.frames(guild, round as u64);
            hearth_pg.push(
                hearth_round(
                    &emu,
                    pg_dir,
                    pg_config,
                    pg_pool,
                    Some(&db.name),
                    round,
                    frames,
                )
                .await?,
            );
        }
        eprintln!(
            "round {}: bare {:.2} s ({:.2} s CPU), hearth {:.2} s ({:.2} s CPU; settled {:.1} s \
             after ready){}",
            round + 1,
            bare[round].secs,
            bare[round].cpu.unwrap_or(f64::NAN),
            hearth[round].secs,
            hearth[round].cpu.unwrap_or(f64::NAN),
            hearth[round].settle.as_secs_f64(),
            hearth_pg.get(round).map_or(String::new(), |r| {
                let (backends, shared) = r.db_cpu.unwrap_or((f64::NAN, f64::NAN));
                format!(
                    ", hearth on PostgreSQL {:.2} s ({:.2} s CPU, PostgreSQL {backends:.2} s in \
                     its backends and {shared:.2} s in the shared writers; settled {:.1} s after \
                     ready)",
                    r.secs,
                    r.cpu.unwrap_or(f64::NAN),
                    r.settle.as_secs_f64()
                )
            })
        );
    }
    let check = StoreCheck::of(&pool, guild, expected_total).await?;
    let check_pg = match &postgres {
        Some((_, pg_pool, _, _)) => Some(StoreCheck::of(pg_pool, guild, expected_total).await?),
        None => None,
    };

    let (b, h) = (Side::of(&bare, events), Side::of(&hearth, events));
    let p = (!hearth_pg.is_empty()).then(|| Side::of(&hearth_pg, events));
    // Each round runs the bots back to back, so a round's own ratio shares its noise.
    let round_ratios = |of: &[Round], to: &[Round]| -> Vec<f64> {
        to.iter()
            .zip(of)
            .map(|(t, o)| (t.secs / o.secs * 1000.0).round() / 1000.0)
            .collect()
    };
    let hearth_ratios = round_ratios(&hearth, &bare);
    let paired = median(&mut hearth_ratios.clone());
    let pg_ratios = round_ratios(&hearth_pg, &hearth);
    let pg_paired = (!pg_ratios.is_empty()).then(|| median(&mut pg_ratios.clone()));
    let round3 = |x: f64| (x * 1000.0).round() / 1000.0;
    let mut report = json!({
        "replay": { "source": replay.source, "messages": replay.messages.len(), "authors": replay.authors,
                    "events_per_round": events, "rounds": args.rounds },
        "ingest": {
            "bare_events_per_sec": b.rate.round(),
            "hearth_events_per_sec": h.rate.round(),
            "ratio": round3(h.rate / b.rate),
            "round_ratios": hearth_ratios,
            "median_round_ratio": round3(paired),
            "cpu_us_per_event": { "bare": b.cpu_us, "hearth": h.cpu_us },
            "expected": expected_total.total(),
            "stored": check.stored,
            "lost": check.lost,
            "extra": check.extra,
            "joins": { "expected": expected_total.joins, "stored": check.joins },
        },
        "startup_ms": { "bare": b.startup_ms.round(), "hearth_warm_db": h.startup_ms.round() },
        "peak_rss_kib": { "bare": b.peak_rss, "hearth": h.peak_rss },
        "guild_create_peak_rss_kib": { "guild_members": args.guild_members, "bare": b.guild_rss, "hearth": h.guild_rss },
    });
    if let (Some(p), Some(check_pg)) = (&p, &check_pg) {
        report["ingest"]["postgres"] = json!({
            "hearth_events_per_sec": p.rate.round(),
            "ratio_to_sqlite": round3(p.rate / h.rate),
            "ratio_to_bare": round3(p.rate / b.rate),
            "round_ratios_to_sqlite": pg_ratios,
            "median_round_ratio_to_sqlite": pg_paired.map(round3),
            "cpu_us_per_event": {
                "hearth": p.cpu_us,
                "postgres_backends": p.db_cpu_us.map(|c| c.0),
                "postgres_shared_writers": p.db_cpu_us.map(|c| c.1),
                "total": p.total_cpu_us(),
            },
            "store": check_pg.json(expected_total),
            "startup_ms_warm_db": p.startup_ms.round(),
            "peak_rss_kib": p.peak_rss,
            "guild_create_peak_rss_kib": p.guild_rss,
        });
    }
    let with_pg = p.is_some();
    let header = if with_pg {
        format!("{:>14} {:>14} {:>8}", "hearth on PG", "PG/SQLite", "")
    } else {
        String::new()
    };
    println!(
        "{:<40} {:>14} {:>14} {:>8} {header}",
        "", "bare poise bot", "hearth", "ratio"
    );
    // A row's PostgreSQL columns: the value and its ratio to Hearth on SQLite.
    let pg_cols = |value: Option<f64>, sqlite: f64, decimals: usize| match value {
        Some(v) => format!("{v:>14.decimals$} {:>14.3}", v / sqlite),
        None => String::new(),
    };
    println!(
        "{:<40} {:>14.0} {:>14.0} {:>8.3} {}",
        format!("ingest, events/s (median of {})", args.rounds),
        b.rate,
        h.rate,
        h.rate / b.rate,
        pg_cols(p.as_ref().map(|p| p.rate), h.rate, 0)
    );
    println!(
        "{:<40} {:>14} {:>14} {:>8.3} {}",
        "  each round's ratio, median",
        "",
        "",
        paired,
        pg_paired.map_or(String::new(), |r| format!("{:>14} {r:>14.3}", ""))
    );
    if let (Some(bare_cpu), Some(hearth_cpu)) = (b.cpu_us, h.cpu_us) {
        println!(
            "{:<40} {:>14.2} {:>14.2} {:>8.2} {}",
            "  CPU per event during the replay, us",
            bare_cpu,
            hearth_cpu,
            hearth_cpu / bare_cpu,
            pg_cols(p.as_ref().and_then(|p| p.cpu_us), hearth_cpu, 2)
        );
        if let Some(p) = &p {
            if let Some((backends, shared)) = p.db_cpu_us {
                println!(
                    "{:<40} {:>14} {:>14} {:>8} {backends:>14.2}",
                    "    + PostgreSQL's backends, us", "", "", ""
                );
                println!(
                    "{:<40} {:>14} {:>14} {:>8} {shared:>14.2}",
                    "    + PostgreSQL's shared writers, us", "", "", ""
                );
                println!(
                    "{:<40} {:>14.2} {:>14.2} {:>8.2} {}",
                    "    = CPU per event, bot and database, us",
                    bare_cpu,
                    hearth_cpu,
                    hearth_cpu / bare_cpu,
                    pg_cols(p.total_cpu_us(), hearth_cpu, 2)
                );
            }
        }
    }
    println!(
        "{:<40} {:>14.0} {:>14.0} {:>8.2} {}",
        "startup to commands registered, ms",
        b.startup_ms,
        h.startup_ms,
        h.startup_ms / b.startup_ms,
        pg_cols(p.as_ref().map(|p| p.startup_ms), h.startup_ms, 0)
    );
    let mib = |k: Option<u64>| k.map_or(0.0, |k| k as f64 / 1024.0);
    println!(
        "{:<40} {:>14.1} {:>14.1} {:>8.2} {}",
        format!("peak RSS after GUILD_CREATE ({}), MiB", args.guild_members),
        mib(b.guild_rss),
        mib(h.guild_rss),
        mib(h.guild_rss) / mib(b.guild_rss),
        pg_cols(p.as_ref().map(|p| mib(p.guild_rss)), mib(h.guild_rss), 1)
    );
    println!(
        "{:<40} {:>14.1} {:>14.1} {:>8.2} {}",
        "peak RSS during the replay, MiB",
        mib(b.peak_rss),
        mib(h.peak_rss),
        mib(h.peak_rss) / mib(b.peak_rss),
        pg_cols(p.as_ref().map(|p| mib(p.peak_rss)), mib(h.peak_rss), 1)
    );
    let expected_records = expected_total.total();
    let expected_joins = expected_total.joins;
    for (name, check) in [
        ("hearth store", Some(&check)),
        ("hearth PostgreSQL store", check_pg.as_ref()),
    ] {
        if let Some(c) = check {
            println!(
                "{name}: {} of {expected_records} activity records, {} lost, {} extra; {} of \
                 {expected_joins} joins",
                c.stored, c.lost, c.extra, c.joins
            );
        }
    }
    pool.close().await;
    if let Some((db, pg_pool, _, _)) = postgres {
        pg_pool.close().await;
        // Dropped here, before the scratch folder.
        drop(db);
    }
    Ok(report)
}

/// The generated store's guild.
const STORE_GUILD: u64 = 42_000_000_000_000_000;

/// Report latency on a generated year of history: `hearth report --format json` for the whole
/// year (the first run materialises every finished day, later runs read them), and
/// `/stats overview` through the emulator, interaction to callback.
async fn report_latency(
    args: &Args,
    exe_dir: &std::path::Path,
) -> anyhow::Result<serde_json::Value> {
    let emu = Emulator::start_with(bench_emulator()).await?;
    // A fixed id, so a store kept with --store matches the emulator's guild next time.
    let guild = emu.add_guild_with_id(STORE_GUILD, "Store", hearth::domain::doctor::ALL_REQUIRED);
    let channel = emu.add_channel(guild, "general", 0);
    let admin = emu.add_role(guild, "Admins", 1 << 3);
    let manager = emu.add_user("manager", false);
    emu.add_member(guild, manager, &[admin]);

    let dir =
        Scratch(std::env::temp_dir().join(format!("hearth-bench-store-{}", std::process::id())));
    std::fs::create_dir_all(dir.path())?;
    let db_path = args
        .store
        .clone()
        .unwrap_or_else(|| dir.path().join("hearth.db"));
    let reuse = db_path.exists();
    let web_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let web_origin = format!("http://127.0.0.1:{web_port}");
    emu.add_oauth_redirect(&format!("{web_origin}/callback"));
    let web_config = format!(
        "[web]\nbind = \"127.0.0.1:{web_port}\"\nclient_secret = \"{}\"\n",
        emu.oauth_client_secret()
    );
    let config = harness::write_config(dir.path(), &emu.base_url(), &web_config)?;
    // `--store postgres://…/db`: a PostgreSQL store filled before (say, by an earlier run's
    // copy), used as it is and kept.
    let kept_postgres = args
        .store
        .as_ref()
        .and_then(|p| p.to_str())
        .filter(|s| s.starts_with("postgres://"))
        .map(str::to_owned);
    let (store_url, postgres, records, generate_secs) = match kept_postgres {
        Some(url) => {
            let pool = hearth::db::open(&url).await?;
            let records = hearth::db::activity::total(&pool).await?;
            pool.close().await;
            eprintln!("reusing the PostgreSQL store {url}: {records} records");
            (url, None, records, 0.0)
        }
        None => sqlite_store(args, guild, &db_path, reuse).await?,
    };
    let copy_secs = postgres.as_ref().map(|(_, secs)| secs.round());
    let config_text = std::fs::read_to_string(&config)?.replace(
        &format!("sqlite://{}", dir.path().join("hearth.db").display()),
        &store_url,
    );
    std::fs::write(&config, config_text)?;

    let hearth_exe = exe_dir.join("hearth");
    if args.only.as_deref() == Some("web") {
        let mut bot = BotProcess::spawn(&hearth_exe, dir.path(), &config)?;
        bot.wait_ready(1).await?;
        let dashboard = web::run(&emu, &web_origin, guild, manager).await;
        bot.terminate().await?;
        return Ok(json!({ "dashboard": dashboard? }));
    }
    let today = hearth::domain::clock::now().date_naive();
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
    let dashboard = web::run(&emu, &web_origin, guild, manager).await;
    bot.terminate().await?;
    let dashboard = dashboard?;
    overview.sort();
    let parts = overview_parts(&store_url, guild, today).await?;
    let connections = connections_latency(&store_url, guild, today).await?;
    let mut digest = digest_latency(&store_url, guild).await?;
    drop(postgres);
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
    let mut parts_json = json!({});
    for (name, mut runs) in parts {
        runs.sort();
        println!(
            "{:<34} {:>14.1} {:>14.1}",
            format!("  {name} (19 runs)"),
            ms(pct(&runs, 0.5)),
            ms(pct(&runs, 0.95))
        );
        parts_json[name] = json!({ "p50": ms(pct(&runs, 0.5)), "p95": ms(pct(&runs, 0.95)) });
    }
    digest.sort();
    println!(
        "{:<34} {:>14.1} {:>14.1}",
        "morning digest, built (19 runs)",
        ms(pct(&digest, 0.5)),
        ms(pct(&digest, 0.95))
    );
    let mut connections_json = json!({});
    for (name, mut runs, figures) in connections {
        runs.sort();
        println!(
            "{:<34} {:>14.1} {:>14.1}   {figures}",
            format!("connections, {name} (9 runs)"),
            ms(pct(&runs, 0.5)),
            ms(pct(&runs, 0.95))
        );
        connections_json[name] =
            json!({ "p50": ms(pct(&runs, 0.5)), "max": ms(pct(&runs, 1.0)), "figures": figures });
    }
    println!(
        "first year report (materialises {} days): {:.1} s; store generated in {generate_secs:.0} s",
        365,
        first.as_secs_f64()
    );
    Ok(json!({
        "store": { "members": args.store_members, "records": records, "generate_secs": generate_secs.round(),
                   "postgres_copy_secs": copy_secs },
        "stats_overview_ms": { "p50": ms(pct(&overview, 0.5)), "p95": ms(pct(&overview, 0.95)), "calls": overview.len() },
        "year_report_ms": { "p50": ms(pct(&warm, 0.5)), "max": ms(pct(&warm, 1.0)), "first_run_materialising": ms(first) },
        "stats_overview_parts_ms": parts_json,
        "connections_ms": connections_json,
        "digest_ms": { "p50": ms(pct(&digest, 0.5)), "p95": ms(pct(&digest, 0.95)), "runs": digest.len() },
        "dashboard": dashboard,
    }))
}

/// The generated (or reused) SQLite store at `db_path`, and with `--only reports --postgres …`
/// its copy in a fresh PostgreSQL database: the store's URL, the database (dropped with it) and
/// the copy's seconds, the records, the generation's seconds.
async fn sqlite_store(
    args: &Args,
    guild: u64,
    db_path: &std::path::Path,
    reuse: bool,
) -> anyhow::Result<(String, Option<(pg::PgDatabase, f64)>, i64, f64)> {
    let sqlite_url = format!("sqlite://{}", db_path.display());
    let pool = hearth::db::open(&sqlite_url).await?;
    let generated = Instant::now();
    if reuse {
        eprintln!("reusing the store {}", db_path.display());
    } else {
        generate_store(&pool, guild, args.store_members, args.records).await?;
    }
    let generate_secs = generated.elapsed().as_secs_f64();
    let records = hearth::db::activity::total(&pool).await?;
    eprintln!(
        "store: {records} records of {} members over a year, generated in {generate_secs:.0} s",
        args.store_members
    );
    // With `--only reports --postgres …`, everything below runs on a copy of the store in a
    // fresh PostgreSQL database (`hearth migrate --copy-from`'s code), dropped at the end.
    let postgres = match (&args.postgres, args.only.as_deref()) {
        (Some(server), Some("reports")) => {
            let db = pg::PgDatabase::new(server, "reports");
            let pg_pool = hearth::db::open(&db.url()).await?;
            let copying = Instant::now();
            let copied = hearth::db::copy::copy_store(&pool, &pg_pool).await?;
            let rows: i64 = copied.iter().map(|c| c.target_rows).sum();
            eprintln!(
                "copied to PostgreSQL: {rows} rows in {:.0} s",
                copying.elapsed().as_secs_f64()
            );
            pg_pool.close().await;
            Some((db, copying.elapsed().as_secs_f64()))
        }
        _ => None,
    };
    pool.close().await;
    let store_url = postgres.as_ref().map_or(sqlite_url, |(db, _)| db.url());
    Ok((store_url, postgres, records, generate_secs))
}

/// Where `/stats overview`'s time goes, in this process on the same store (no Discord): the
/// report and conversations, connected members, and the chart. One warm-up, then 19 timed runs
/// each; the rest of the command's time is Discord (the member lookup, the answer's upload).
async fn overview_parts(
    store_url: &str,
    guild: u64,
    today: chrono::NaiveDate,
) -> anyhow::Result<Vec<(&'static str, Vec<Duration>)>> {
    let pool = hearth::db::open(store_url).await?;
    let (tz, from) = (chrono_tz::UTC, today - chrono::Duration::days(29));
    let managers = std::collections::HashSet::from([1_u64]);
    let (mut report, mut connected, mut chart) = (Vec::new(), Vec::new(), Vec::new());
    let mut refresh = Vec::new();
    for i in 0..20 {
        let started = Instant::now();
        hearth::features::rollup::refresh(&pool, guild, tz, hearth::domain::clock::now()).await?;
        if i > 0 {
            refresh.push(started.elapsed());
        }
        let started = Instant::now();
        let (figures, _) =
            hearth::features::stats::overview(&pool, guild, tz, from, today, &managers).await?;
        let report_done = started.elapsed();
        let started = Instant::now();
        std::hint::black_box(
            hearth::features::connections::connected(
                &pool,
                guild,
                (from, today),
                figures.active_over_period(),
            )
            .await?,
        );
        let connected_done = started.elapsed();
        let started = Instant::now();
        std::hint::black_box(hearth::features::stats::chart::activity_png(&figures)?);
        if i > 0 {
            report.push(report_done);
            connected.push(connected_done);
            chart.push(started.elapsed());
        }
    }
    pool.close().await;
    Ok(vec![
        ("the rollup's refresh alone", refresh),
        ("report and conversations", report),
        ("connected members", connected),
        ("activity chart", chart),
    ])
}

/// The morning digest (issue 19) built on the store: new members, unanswered newcomers'
/// messages and threads, flags, the schedule, yesterday against last week. One warm-up, then
/// 19 timed runs.
async fn digest_latency(store_url: &str, guild: u64) -> anyhow::Result<Vec<Duration>> {
    let pool = hearth::db::open(store_url).await?;
    let config = hearth::config::Config::default();
    let mut runs = Vec::new();
    for i in 0..20 {
        let started = Instant::now();
        let digest =
            hearth::features::inbox::build(&pool, &config, guild, hearth::domain::clock::now())
                .await?;
        if i > 0 {
            runs.push(started.elapsed());
        }
        std::hint::black_box(digest);
    }
    pool.close().await;
    Ok(runs)
}

/// Connected members (issue 18) read from the materialised store, in this process after the
/// reports (days materialised): the year, the last 30 days, last month as a monthly report
/// reads it, and new pairs per week over the year. One warm-up, then 9 timed runs each.
async fn connections_latency(
    store_url: &str,
    guild: u64,
    today: chrono::NaiveDate,
) -> anyhow::Result<Vec<(&'static str, Vec<Duration>, Value)>> {
    use hearth::domain::analytics::day_number;
    let pool = hearth::db::open(store_url).await?;
    let to = day_number(today);
    let month_end = to - 31;
    let spans = [
        ("year", to - 364, to),
        ("last 30 days", to - 29, to),
        ("a past month", month_end - 29, month_end),
    ];
    let mut out = Vec::new();
    for (name, from, to) in spans {
        let mut runs = Vec::new();
        let mut last = None;
        for i in 0..10 {
            let started = Instant::now();
            let c = hearth::db::connectedness::figures(&pool, guild, from, to).await?;
            if i > 0 {
                runs.push(started.elapsed());
            }
            last = Some(c);
        }
        let c = last.unwrap_or_default();
        let figures = json!({ "connected": c.connected, "active": c.active, "rate": c.rate(), "new_pairs": c.new_pairs });
        out.push((name, runs, figures));
    }
    let mut runs = Vec::new();
    let mut weeks = Vec::new();
    for i in 0..10 {
        let started = Instant::now();
        weeks = hearth::db::connectedness::new_pairs_per_week(&pool, guild, to - 364, to).await?;
        if i > 0 {
            runs.push(started.elapsed());
        }
    }
    let total: u64 = weeks.iter().map(|(_, n)| n).sum();
    out.push((
        "new pairs per week, year",
        runs,
        json!({ "weeks": weeks.len(), "new_pairs": total }),
    ));
    pool.close().await;
    Ok(out)
}

/// A year of synthetic history shaped like real communities: members join through the year,
/// activity per member is heavily skewed (a few members write most of it), a quarter of
/// messages are replies. Written day by day in time order, as a live bot writes it.
async fn generate_store(
    pool: &hearth::db::Pool,
    guild: u64,
    members: u64,
    records: u64,
) -> anyhow::Result<()> {
    use hearth::db::activity::{Kind, Record};
    use rand::seq::SliceRandom;
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    let day_secs = 86_400;
    let today = hearth::domain::clock::unix_now() / day_secs * day_secs;
    let first_day = today - 364 * day_secs;
    let members = usize::try_from(members.max(1))?;
    // Members in join order; the Zipf rank is shuffled so early joiners are not all top posters.
    let mut joined: Vec<i64> = (0..members)
        .map(|_| first_day + rng.gen_range(0..365 * day_secs))
        .collect();
    joined.sort_unstable();
    let mut weight: Vec<f64> = (0..members).map(|r| 1.0 / (r as f64 + 1.0)).collect();
    weight.shuffle(&mut rng);
    let user_id = |i: usize| 10_000_000 + i as u64;
    let joins: Vec<hearth::db::welcome::Join> = joined
        .iter()
        .enumerate()
        .map(|(i, at)| hearth::db::welcome::Join {
            guild_id: guild,
            user_id: user_id(i),
            joined_at: *at,
            pending: false,
            welcomed: true,
        })
        .collect();
    hearth::db::welcome::record_joins(&mut *pool.acquire().await?, &joins).await?;
    // A day's share of the records grows with the weight of the members who have joined.
    let mut cumulative = Vec::with_capacity(members);
    let mut total = 0.0;
    for w in &weight {
        total += w;
        cumulative.push(total);
    }
    let day_weight: Vec<f64> = (0..365)
        .map(|d| {
            let end = first_day + (d + 1) * day_secs;
            let present = joined.partition_point(|j| *j < end);
            if present == 0 {
                0.0
            } else {
                cumulative[present - 1]
            }
        })
        .collect();
    let all_days: f64 = day_weight.iter().sum();
    let mut target = 1u64 << 42;
    let mut written = 0u64;
    let mut tx = pool.begin().await?;
    let mut in_tx = 0;
    for (d, w) in day_weight.iter().enumerate() {
        let (start, end) = (
            first_day + d as i64 * day_secs,
            first_day + (d as i64 + 1) * day_secs,
        );
        let present = joined.partition_point(|j| *j < end);
        let due = if d == 364 {
            records - written
        } else {
            ((records as f64 * w / all_days).round() as u64).min(records - written)
        };
        if present == 0 || due == 0 {
            continue;
        }
        let mut day: Vec<Record> = (0..due)
            .map(|_| {
                let pick = rng.gen_range(0.0..cumulative[present - 1]);
                let i = cumulative[..present]
                    .partition_point(|c| *c < pick)
                    .min(present - 1);
                let at = rng.gen_range(start.max(joined[i])..end);
                let kind = match rng.gen_range(0..20) {
                    0..=1 => Kind::Reaction,
                    2 => Kind::ThreadCreated,
                    3 => Kind::VoiceJoin,
                    _ => Kind::Message,
                };
                // A tenth of messages are in threads, and threads live a few days: 40 start
                // each day and each takes posts for three (a year-long thread would make every
                // poster a neighbour of every other, which no community looks like).
                let in_thread = rng.gen_bool(0.1);
                let channel_id = if in_thread {
                    let started = (d as u64).saturating_sub(rng.gen_range(0..3));
                    1_000 + started * 40 + rng.gen_range(0..40)
                } else {
                    1 + rng.gen_range(0..20)
                };
                Record {
                    guild_id: guild,
                    user_id: user_id(i),
                    at,
                    kind,
                    channel_id,
                    target_id: 0,
                    reply_to: None,
                    in_thread,
                }
            })
            .collect();
        day.sort_unstable_by_key(|r| r.at);
        for record in &mut day {
            target += 1;
            record.target_id = target;
            if record.kind == Kind::Message && rng.gen_bool(0.25) {
                record.reply_to = Some(target - rng.gen_range(1..50));
            }
        }
        hearth::db::activity::insert(&mut tx, &day).await?;
        in_tx += day.len();
        if in_tx >= 200_000 {
            tx.commit().await?;
            tx = pool.begin().await?;
            in_tx = 0;
        }
        written += due;
        if d % 30 == 29 {
            eprintln!("  {written} records");
        }
    }
    tx.commit().await?;
    Ok(())
}

/// A scratch folder removed when the benchmark ends.
struct Scratch(PathBuf);

impl Scratch {
    fn path(&self) -> &std::path::Path {
        &self.0
    }

    /// A scratch folder with a fresh Hearth store (`hearth.db`) in it.
    async fn store() -> anyhow::Result<(Self, hearth::db::Pool)> {
        let dir = Self(std::env::temp_dir().join(format!("hearth-bench-{}", std::process::id())));
        std::fs::create_dir_all(dir.path())?;
        let pool = hearth::db::open(&format!(
            "sqlite://{}",
            dir.path().join("hearth.db").display()
        ))
        .await?;
        Ok((dir, pool))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
