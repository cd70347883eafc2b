//! `--only shards --postgres postgres://user@host:port` (issue 21): the ingest replay spread over
//! `--guilds` guilds (default 2,000) on `--shard-total` shards (default 4), through the
//! emulator's gateway (each guild on shard `(guild_id >> 22) % N`) into
//!
//! - one `hearth run --shards 0-3 --shard-total 4` process, and
//! - four processes `hearth run --shards K-K --shard-total 4`, one per shard,
//!
//! each setup on a fresh PostgreSQL database of its own (`hearth_bench_<pid>_one`, `…_many`,
//! dropped at the end), the two taking turns for `--rounds` rounds on the same replay. A round
//! starts the processes, waits until every shard is identified and the processes' CPU is quiet
//! after GUILD_CREATE, dispatches the round's frames and ends when the store holds all of the
//! round's activity records (counted, as several writers take ids before they commit). Printed:
//! events/s, CPU per event of the Hearth processes and of PostgreSQL, and a check that each
//! store holds exactly the replayed records, per kind and per guild, and every join.
//!
//! The replay: author `a` belongs to guild `a % guilds` (`Replay::frames_in`); without
//! `--members`, 10 authors per guild.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use discord_emulator::{shard_of, Emulator, IdentifyOutcome};
use hearth::demo::harness::{self, BotProcess};
use serde_json::{json, Value};

use super::{cpu_secs, median, peak_rss_kib, pg, settle_all, Args, Expected, Replay, Scratch};

/// Guild ids whose shard (of `total`) goes 0, 1, ..., total - 1, 0, ...: a guild's shard comes
/// from its id's timestamp bits, and ids made in one millisecond would all land on one shard.
fn spread_ids(count: u64, total: u64) -> Vec<u64> {
    let base = u64::try_from(hearth::domain::clock::now().timestamp_millis()).unwrap_or(0)
        - 30 * 86_400_000
        - 1_420_070_400_000;
    let base = base - base % total.max(1);
    (0..count).map(|k| ((base + k) << 22) | 11).collect()
}

/// One way of running: processes with their shard arguments, on one database.
struct Setup {
    name: String,
    db: pg::PgDatabase,
    pool: hearth::db::Pool,
    /// Per process: its folder (config and log) and config, and its `run` arguments.
    processes: Vec<(PathBuf, PathBuf, Vec<String>)>,
    rounds: Vec<ShardRound>,
}

struct ShardRound {
    /// Process start to every shard identified.
    startup: Duration,
    /// Then until the processes and the store's backends are quiet.
    settle: Duration,
    secs: f64,
    /// CPU seconds of each Hearth process during the replay.
    cpu: Vec<f64>,
    /// PostgreSQL's CPU seconds: the store's backends, the shared writers.
    db_cpu: (f64, f64),
    /// Peak RSS, summed over the processes.
    rss_kib: u64,
}

/// Activity records with an id above `id`.
async fn count_since(pool: &hearth::db::Pool, id: i64) -> anyhow::Result<u64> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM activity WHERE id > $1")
        .bind(id)
        .fetch_one(pool)
        .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Starts the setup's processes, replays `frames` once every shard is identified, and waits
/// until the store holds `records` more activity records (or no record comes for 30 s).
async fn shard_round(
    emu: &Emulator,
    setup: &Setup,
    round: usize,
    frames: Vec<(String, Value)>,
    records: u64,
    total: u32,
) -> anyhow::Result<ShardRound> {
    let exe = std::env::current_exe()?.with_file_name("hearth");
    let pool = &setup.pool;
    let before = hearth::db::activity::highest_id(pool).await?;
    let identified = emu.identifies().len();
    let started = Instant::now();
    let mut bots = Vec::new();
    for (dir, config, run_args) in &setup.processes {
        let run_args: Vec<&str> = run_args.iter().map(String::as_str).collect();
        bots.push(BotProcess::spawn_with_args(&exe, dir, config, &run_args)?);
    }
    for bot in &mut bots {
        bot.wait_ready(round + 1).await?;
    }
    // One process starts its shards 5 s apart (serenity, max_concurrency 1).
    emu.wait_for_identifies(
        |seen| {
            let ready: BTreeSet<u64> = seen
                .get(identified..)
                .unwrap_or_default()
                .iter()
                .filter(|r| r.outcome == IdentifyOutcome::Ready)
                .filter_map(|r| r.shard)
                .filter(|s| s[1] == u64::from(total))
                .map(|s| s[0])
                .collect();
            ready.len() == total as usize
        },
        Duration::from_secs(120),
    )
    .await
    .context("waiting for every shard to be identified")?;
    let startup = started.elapsed();
    let pids: Vec<Option<u32>> = bots.iter().map(BotProcess::pid).collect();
    let settle = settle_all(&pids, Some((pool, &setup.db.name))).await;
    let cpu_before: Vec<Option<f64>> = bots.iter().map(|b| b.pid().and_then(cpu_secs)).collect();
    let db_before = pg::cpu(pool, &setup.db.name).await?;
    let started = Instant::now();
    emu.dispatch_many(frames);
    // Ids first (cheap), then a count: another writer may hold a lower id uncommitted.
    let target = before + i64::try_from(records)?;
    let mut last = (before, Instant::now());
    loop {
        let high = hearth::db::activity::highest_id(pool).await?;
        if high >= target {
            break;
        }
        if high != last.0 {
            last = (high, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(30) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut stored = count_since(pool, before).await?;
    let mut last = (stored, Instant::now());
    while stored < records && last.1.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        stored = count_since(pool, before).await?;
        if stored != last.0 {
            last = (stored, Instant::now());
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let cpu = bots
        .iter()
        .zip(&cpu_before)
        .map(|(b, before)| {
            b.pid()
                .and_then(cpu_secs)
                .zip(*before)
                .map_or(f64::NAN, |(a, b)| a - b)
        })
        .collect();
    let db_cpu = pg::cpu_between(&db_before, &pg::cpu(pool, &setup.db.name).await?);
    let rss_kib = bots
        .iter()
        .filter_map(|b| b.pid().and_then(peak_rss_kib))
        .sum();
    for bot in &mut bots {
        bot.terminate().await?;
    }
    Ok(ShardRound {
        startup,
        settle,
        secs,
        cpu,
        db_cpu,
        rss_kib,
    })
}

/// What a store holds against the replay: per kind, per guild, and the joins.
async fn check(
    pool: &hearth::db::Pool,
    expected: Expected,
    per_guild: &HashMap<u64, u64>,
) -> anyhow::Result<Value> {
    let by_kind: HashMap<i64, i64> = hearth::db::activity::count_by_kind(pool)
        .await?
        .into_iter()
        .collect();
    let (mut lost, mut extra) = (0i64, 0i64);
    for (kind, want) in [
        (hearth::db::activity::Kind::Message, expected.messages),
        (hearth::db::activity::Kind::Reaction, expected.reactions),
    ] {
        let have = by_kind.get(&(kind as i64)).copied().unwrap_or(0);
        lost += (i64::try_from(want)? - have).max(0);
        extra += (have - i64::try_from(want)?).max(0);
    }
    let stored: i64 = by_kind.values().sum();
    let have: HashMap<u64, u64> = sqlx::query_as::<_, (i64, i64)>(
        "SELECT guild_id, COUNT(*) FROM activity GROUP BY guild_id",
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|(g, n)| (hearth::db::from_sql_id(g), u64::try_from(n).unwrap_or(0)))
    .collect();
    let guilds: BTreeSet<u64> = have.keys().chain(per_guild.keys()).copied().collect();
    let wrong_guilds = guilds
        .iter()
        .filter(|g| have.get(g).copied().unwrap_or(0) != per_guild.get(g).copied().unwrap_or(0))
        .count();
    let joins: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM member_joins")
        .fetch_one(pool)
        .await?;
    Ok(json!({
        "expected": expected.total(), "stored": stored, "lost": lost, "extra": extra,
        "guilds_with_records": have.len(), "guilds_expected": per_guild.len(),
        "guilds_not_matching": wrong_guilds,
        "joins": { "expected": expected.joins, "stored": joins },
    }))
}

pub async fn run(args: &Args) -> anyhow::Result<Value> {
    let server = args
        .postgres
        .as_deref()
        .context("--only shards runs on PostgreSQL: give --postgres postgres://user@host:port")?;
    let total = args.shard_total;
    let members = if args.members_set {
        args.members
    } else {
        args.guilds * 10
    };
    let replay = match &args.data {
        Some(path) => Replay::from_csv(path, args.events)?,
        None => Replay::synthetic(args.events, members),
    };
    let emu = Emulator::start_with(super::bench_emulator()).await?;
    let guilds = spread_ids(args.guilds, u64::from(total));
    for (i, guild) in guilds.iter().enumerate() {
        emu.add_guild_with_id(
            *guild,
            &format!("Guild {i}"),
            hearth::domain::doctor::ALL_REQUIRED,
        );
        emu.add_channel(*guild, "general", 0);
    }
    // Rounds go forward in time, as live activity does: the last round ends where the replay
    // does. (Going back in time, as the single-guild ingest does, made each process's start-up
    // rollup rebuild the days of every round before: on PostgreSQL over 120 s by round 3.)
    let rounds = args.rounds as u64;
    let shift = |round: u64| replay.round_shift(rounds - 1 - round);
    let (frames, expected, per_guild) = replay.frames_in(&guilds, 0, shift(0));
    let mut per_shard = vec![0u64; total as usize];
    for (_, d) in &frames {
        let guild: u64 = d["guild_id"].as_str().unwrap_or("0").parse().unwrap_or(0);
        per_shard[usize::try_from(shard_of(guild, u64::from(total))).unwrap_or(0)] += 1;
    }
    let events = frames.len();
    drop(frames);
    eprintln!(
        "{} guilds on {total} shards; replay ({}): {} messages from {} authors, {events} events \
         ({per_shard:?} per shard), {} records in {} guilds and {} joins for Hearth per round; \
         {} rounds",
        guilds.len(),
        replay.source,
        replay.messages.len(),
        replay.authors,
        expected.total(),
        per_guild.len(),
        expected.joins,
        args.rounds
    );

    let scratch =
        Scratch(std::env::temp_dir().join(format!("hearth-bench-shards-{}", std::process::id())));
    std::fs::create_dir_all(scratch.path())?;
    let shard_args = |range: String| {
        vec![
            "--shards".to_owned(),
            range,
            "--shard-total".to_owned(),
            total.to_string(),
        ]
    };
    let layouts = [
        (
            "one",
            format!("1 process, shards 0-{} of {total}", total - 1),
            vec![shard_args(format!("0-{}", total - 1))],
        ),
        (
            "many",
            format!("{total} processes, a shard each"),
            (0..total).map(|k| shard_args(format!("{k}-{k}"))).collect(),
        ),
    ];
    let mut setups = Vec::new();
    for (tag, name, process_args) in layouts {
        let db = pg::PgDatabase::new(server, tag);
        let pool = hearth::db::open(&db.url()).await?;
        let mut processes = Vec::new();
        for (k, run_args) in process_args.into_iter().enumerate() {
            let dir = scratch.path().join(format!("{tag}-{k}"));
            let config = harness::write_config(&dir, &emu.base_url(), &db.config_toml())?;
            processes.push((dir, config, run_args));
        }
        setups.push(Setup {
            name,
            db,
            pool,
            processes,
            rounds: Vec::new(),
        });
    }

    let mut expected_total = Expected::default();
    let mut per_guild_total: HashMap<u64, u64> = HashMap::new();
    for round in 0..args.rounds {
        // The two take turns going first, so a trend in the machine's load hits both.
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let (frames, expected, _) =
                replay.frames_in(&guilds, round as u64, shift(round as u64));
            let result =
                shard_round(&emu, &setups[i], round, frames, expected.total(), total).await?;
            let cpu: f64 = result.cpu.iter().sum();
            eprintln!(
                "round {}, {}: {:.2} s ({:.0} events/s), startup {:.1} s, settled {:.1} s \
                 later; CPU {cpu:.2} s in Hearth ({:?}), PostgreSQL {:.2} s in backends and \
                 {:.2} s in shared writers",
                round + 1,
                setups[i].name,
                result.secs,
                events as f64 / result.secs,
                result.startup.as_secs_f64(),
                result.settle.as_secs_f64(),
                result
                    .cpu
                    .iter()
                    .map(|c| (c * 100.0).round() / 100.0)
                    .collect::<Vec<_>>(),
                result.db_cpu.0,
                result.db_cpu.1
            );
            setups[i].rounds.push(result);
        }
        let (_, expected, per_guild) = replay.frames_in(&guilds, round as u64, shift(round as u64));
        expected_total.messages += expected.messages;
        expected_total.reactions += expected.reactions;
        expected_total.joins += expected.joins;
        for (guild, n) in per_guild {
            *per_guild_total.entry(guild).or_default() += n;
        }
    }

    // Per setup: median rate, CPU per event (Hearth, PostgreSQL's backends and shared writers).
    struct Summary {
        rate: f64,
        cpu: f64,
        backends: f64,
        shared: f64,
        startup: f64,
        rss_mib: f64,
        store: Value,
    }
    let mut summaries = Vec::new();
    for setup in &setups {
        let per_event = |f: &dyn Fn(&ShardRound) -> f64| {
            median(
                &mut setup
                    .rounds
                    .iter()
                    .map(|r| f(r) * 1e6 / events as f64)
                    .collect::<Vec<_>>(),
            )
        };
        summaries.push(Summary {
            rate: median(
                &mut setup
                    .rounds
                    .iter()
                    .map(|r| events as f64 / r.secs)
                    .collect::<Vec<_>>(),
            ),
            cpu: per_event(&|r| r.cpu.iter().sum()),
            backends: per_event(&|r| r.db_cpu.0),
            shared: per_event(&|r| r.db_cpu.1),
            startup: median(
                &mut setup
                    .rounds
                    .iter()
                    .map(|r| r.startup.as_secs_f64())
                    .collect::<Vec<_>>(),
            ),
            rss_mib: setup.rounds.iter().map(|r| r.rss_kib).max().unwrap_or(0) as f64 / 1024.0,
            store: check(&setup.pool, expected_total, &per_guild_total).await?,
        });
    }
    // Each round's own ratio (the two ran back to back).
    let round_ratios: Vec<f64> = setups[0]
        .rounds
        .iter()
        .zip(&setups[1].rounds)
        .map(|(one, many)| (one.secs / many.secs * 1000.0).round() / 1000.0)
        .collect();
    let paired = median(&mut round_ratios.clone());
    let (one, many) = (&summaries[0], &summaries[1]);
    println!(
        "{:<44} {:>22} {:>22} {:>8}",
        "", setups[0].name, setups[1].name, "ratio"
    );
    let row = |label: &str, a: f64, b: f64, decimals: usize| {
        println!(
            "{label:<44} {a:>22.decimals$} {b:>22.decimals$} {:>8.3}",
            b / a
        );
    };
    row(
        &format!("ingest, events/s (median of {})", args.rounds),
        one.rate,
        many.rate,
        0,
    );
    println!(
        "{:<44} {:>22} {:>22} {paired:>8.3}",
        "  each round's ratio, median", "", ""
    );
    row("CPU per event, Hearth processes, us", one.cpu, many.cpu, 2);
    row(
        "  + PostgreSQL's backends, us",
        one.backends,
        many.backends,
        2,
    );
    row(
        "  + PostgreSQL's shared writers, us",
        one.shared,
        many.shared,
        2,
    );
    row(
        "  = CPU per event, all, us",
        one.cpu + one.backends + one.shared,
        many.cpu + many.backends + many.shared,
        2,
    );
    row(
        "start to every shard identified, s",
        one.startup,
        many.startup,
        1,
    );
    row(
        "peak RSS, summed over the processes, MiB",
        one.rss_mib,
        many.rss_mib,
        1,
    );
    for (setup, summary) in setups.iter().zip(&summaries) {
        let s = &summary.store;
        println!(
            "{} store: {} of {} activity records, {} lost, {} extra; {} of {} guilds' counts \
             match; {} of {} joins",
            setup.name,
            s["stored"],
            s["expected"],
            s["lost"],
            s["extra"],
            s["guilds_expected"].as_u64().unwrap_or(0)
                - s["guilds_not_matching"].as_u64().unwrap_or(0),
            s["guilds_expected"],
            s["joins"]["stored"],
            s["joins"]["expected"]
        );
    }
    let report = json!({
        "replay": { "source": replay.source, "messages": replay.messages.len(), "authors": replay.authors,
                    "guilds": guilds.len(), "shards": total, "events_per_round": events,
                    "events_per_shard": per_shard, "rounds": args.rounds },
        "setups": setups.iter().zip(&summaries).map(|(setup, s)| json!({
            "name": setup.name,
            "processes": setup.processes.len(),
            "events_per_sec": s.rate.round(),
            "cpu_us_per_event": { "hearth": s.cpu, "postgres_backends": s.backends,
                                  "postgres_shared_writers": s.shared,
                                  "total": s.cpu + s.backends + s.shared },
            "rounds": setup.rounds.iter().map(|r| json!({
                "secs": r.secs, "startup_secs": r.startup.as_secs_f64(),
                "settle_secs": r.settle.as_secs_f64(), "cpu_secs": r.cpu,
                "postgres_cpu_secs": [r.db_cpu.0, r.db_cpu.1], "peak_rss_kib": r.rss_kib,
            })).collect::<Vec<_>>(),
            "startup_secs": s.startup,
            "peak_rss_mib": s.rss_mib,
            "store": s.store,
        })).collect::<Vec<_>>(),
        "ratio": (many.rate / one.rate * 1000.0).round() / 1000.0,
        "round_ratios": round_ratios,
        "median_round_ratio": paired,
    });
    // A store that does not match the replay: its processes' logs are kept beside the JSON.
    for (setup, summary) in setups.iter().zip(&summaries) {
        let s = &summary.store;
        let off = s["lost"] != 0
            || s["extra"] != 0
            || s["guilds_not_matching"] != 0
            || s["joins"]["stored"] != s["joins"]["expected"];
        if off {
            let logs = PathBuf::from(format!("{}-logs", args.out.display()));
            std::fs::create_dir_all(&logs)?;
            for (dir, _, _) in &setup.processes {
                let name = dir.file_name().unwrap_or_default().to_string_lossy();
                std::fs::copy(dir.join("hearth.log"), logs.join(format!("{name}.log")))?;
            }
            eprintln!(
                "{}: the store does not match the replay; logs kept in {}",
                setup.name,
                logs.display()
            );
        }
    }
    for setup in setups {
        setup.pool.close().await;
        drop(setup.db);
    }
    Ok(report)
}
