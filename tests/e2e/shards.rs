//! Sharding (issue 21): one `hearth run --shards 0-1 --shard-total 2` process serves the guilds
//! of both shards, each event once; bad shard flags are usage errors naming the fix.

use std::collections::BTreeSet;
use std::time::Duration;

use discord_emulator::{shard_of, Emulator, EmulatorConfig, IdentifyOutcome};
use hearth::demo::harness::{self, BotProcess};
use serde_json::json;

use crate::common::*;

/// Guild ids spread evenly over the shards of `total` (shard 0, 1, ..., 0, 1, ...): a guild's
/// shard comes from its id's timestamp bits, and ids made in one millisecond would all land on
/// one shard.
fn spread_over(count: u64, total: u64) -> Vec<u64> {
    let base = u64::try_from(hearth::domain::clock::now().timestamp_millis()).unwrap_or(0)
        - 30 * 86_400_000
        - 1_420_070_400_000;
    let base = base - base % total;
    (0..count).map(|k| ((base + k) << 22) | 13).collect()
}

struct Community {
    guild: u64,
    general: u64,
    welcome: u64,
}

/// A community per id, each with #general and #welcome, and `manager` a manager in each.
fn communities(emu: &Emulator, ids: &[u64], manager: u64) -> Vec<Community> {
    ids.iter()
        .enumerate()
        .map(|(i, &guild)| {
            emu.add_guild_with_id(guild, &format!("Community {i}"), BOT_PERMISSIONS);
            let general = emu.add_channel(guild, "general", 0);
            let welcome = emu.add_channel(guild, "welcome", 0);
            emu.set_role_permissions(guild, guild, MEMBER_PERMISSIONS);
            let staff = emu.add_role(guild, "Staff", MANAGE_GUILD);
            emu.add_member(guild, manager, &[staff]);
            Community {
                guild,
                general,
                welcome,
            }
        })
        .collect()
}

/// Each community's manager turns welcomes on; the interaction reaches only the owning shard.
async fn turn_welcomes_on(emu: &Emulator, communities: &[Community], manager: u64) {
    for c in communities {
        let reply = emu
            .slash_command(
                c.guild,
                c.general,
                manager,
                "welcome",
                json!([{"type": 1, "name": "setup", "options": [
                    {"type": 7, "name": "channel", "value": c.welcome.to_string()},
                    {"type": 5, "name": "dm", "value": false}
                ]}]),
            )
            .response(WAIT)
            .await
            .unwrap();
        let text = text_of(&reply.body["data"]);
        assert!(
            text.contains("Welcomes are on"),
            "guild {}: {text}",
            c.guild
        );
    }
}

#[tokio::test]
async fn one_process_runs_two_shards_and_welcomes_once_per_guild() {
    let emu = Emulator::start_with(EmulatorConfig {
        // Discord's identify rate limit, as strict as Discord: serenity's queue must space the
        // two IDENTIFYs (max_concurrency 1: one per 5 s).
        identify_rate_limit: true,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let manager = emu.add_user("maria", false);
    let communities = communities(&emu, &spread_over(8, 2), manager);
    let on_shard: Vec<u64> = communities.iter().map(|c| shard_of(c.guild, 2)).collect();
    assert_eq!(on_shard.iter().filter(|s| **s == 0).count(), 4);
    assert_eq!(on_shard.iter().filter(|s| **s == 1).count(), 4);

    let dir = tempfile::tempdir().unwrap();
    let config = harness::write_config(dir.path(), &emu.base_url(), "").unwrap();
    let mut bot = BotProcess::spawn_with_args(
        &World::exe(),
        dir.path(),
        &config,
        &["--shards", "0-1", "--shard-total", "2"],
    )
    .unwrap();
    bot.wait_ready(1).await.expect("hearth becomes ready");
    // serenity starts one shard per 5 s: wait until both sessions exist.
    let ready_for = |records: &[discord_emulator::IdentifyRecord]| -> BTreeSet<[u64; 2]> {
        records
            .iter()
            .filter(|r| r.outcome == IdentifyOutcome::Ready)
            .filter_map(|r| r.shard)
            .collect()
    };
    let identifies = emu
        .wait_for_identifies(|r| ready_for(r).len() >= 2, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        ready_for(&identifies),
        BTreeSet::from([[0, 2], [1, 2]]),
        "one session per shard: {identifies:?}"
    );
    assert!(
        bot.log().contains("starting shards 0-1 of 2"),
        "the range is logged:\n{}",
        bot.log()
    );

    turn_welcomes_on(&emu, &communities, manager).await;

    let mut newcomers = Vec::new();
    for (i, c) in communities.iter().enumerate() {
        let newcomer = emu.add_user(&format!("newcomer{i}"), false);
        emu.member_join(c.guild, newcomer, false);
        newcomers.push(newcomer);
    }
    for (c, newcomer) in communities.iter().zip(&newcomers) {
        let posts = wait_posts(&emu, c.welcome, 1).await;
        assert!(
            posts[0].body["content"]
                .as_str()
                .unwrap_or_default()
                .contains(&format!("<@{newcomer}>")),
            "{}",
            posts[0].body
        );
    }
    // A second welcome would come right behind the first: give it a moment, then count.
    tokio::time::sleep(Duration::from_secs(1)).await;
    for c in &communities {
        assert_eq!(
            posts_in(&emu, c.welcome).len(),
            1,
            "exactly one welcome in guild {}",
            c.guild
        );
    }
    // Two sessions in all: no shard had to identify again. (Counted by sessions started: an
    // IDENTIFY refused with op 9 would be retried by serenity and is not a second session.)
    assert!(
        emu.identifies()
            .iter()
            .all(|r| matches!(r.shard, Some([0 | 1, 2]))),
        "only shards 0 and 1 of 2: {:?}",
        emu.identifies()
    );
    let mut sessions: Vec<[u64; 2]> = emu
        .identifies()
        .iter()
        .filter(|r| r.outcome == IdentifyOutcome::Ready)
        .filter_map(|r| r.shard)
        .collect();
    sessions.sort_unstable();
    assert_eq!(sessions, [[0, 2], [1, 2]], "{:?}", emu.identifies());
    assert_eq!(bot.terminate().await.unwrap(), 0, "log:\n{}", bot.log());
    emu.assert_no_violations();
}

#[tokio::test]
async fn per_guild_registration_covers_the_guilds_of_every_shard() {
    let emu = Emulator::start().await.unwrap();
    let guilds = spread_over(4, 2);
    for (i, guild) in guilds.iter().enumerate() {
        emu.add_guild_with_id(*guild, &format!("Community {i}"), BOT_PERMISSIONS);
    }
    let dir = tempfile::tempdir().unwrap();
    let config = harness::write_config(dir.path(), &emu.base_url(), "").unwrap();
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("[discord]\n", "[discord]\nregister_commands = \"guilds\"\n");
    std::fs::write(&config, text).unwrap();
    let mut bot = BotProcess::spawn_with_args(
        &World::exe(),
        dir.path(),
        &config,
        &["--shards", "0-1", "--shard-total", "2"],
    )
    .unwrap();
    bot.wait_ready(1).await.expect("hearth becomes ready");
    // Setup registers the first shard's guilds; the second shard's READY registers its own.
    let app = emu.application_id();
    for guild in &guilds {
        let path = format!("/applications/{app}/guilds/{guild}/commands");
        emu.wait_for_request(
            |r| r.method == "PUT" && r.path == path && r.status == 200,
            Duration::from_secs(60),
        )
        .await
        .unwrap_or_else(|err| panic!("guild {guild}: {err}\nlog:\n{}", bot.log()));
    }
    bot.wait_for_log("commands registered in the shard's guilds", 1, WAIT)
        .await
        .unwrap();
    let puts = emu
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT" && r.path.contains("/guilds/"))
        .count();
    assert_eq!(puts, guilds.len(), "each guild registered once");
    assert_eq!(bot.terminate().await.unwrap(), 0, "log:\n{}", bot.log());
    emu.assert_no_violations();
}

fn run_with(args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    // A config that could not start a bot: the flags must be refused before it matters.
    let config = harness::write_config(dir.path(), "http://127.0.0.1:9", "").unwrap();
    std::process::Command::new(World::exe())
        .arg("run")
        .args(args)
        .arg("--config")
        .arg(&config)
        .env_remove("HEARTH_DISCORD_TOKEN")
        .env_remove("HEARTH_CONFIG")
        .output()
        .unwrap()
}

#[test]
fn bad_shard_flags_exit_2_naming_the_flag_and_the_fix() {
    for (args, says) in [
        (
            &["--shards", "2-1", "--shard-total", "2"][..],
            "--shards 1-2",
        ),
        (
            &["--shards", "0-2", "--shard-total", "2"][..],
            "raise --shard-total to 3",
        ),
        (&["--shards", "0-1"][..], "needs --shard-total"),
        (&["--shard-total", "2"][..], "needs --shards"),
        (
            &["--shards", "0-0", "--shard-total", "0"][..],
            "--shard-total 1 or more",
        ),
        (
            &["--shards", "one-two", "--shard-total", "2"][..],
            "write it as A-B",
        ),
    ] {
        let out = run_with(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(stderr.contains("fix:"), "{args:?}: {stderr}");
    }
}

/// Starts `hearth run --shards <shards> --shard-total 4` on the shared store.
fn start_process(emu: &Emulator, dir: &std::path::Path, url: &str, shards: &str) -> BotProcess {
    let config = harness::write_config(
        dir,
        &emu.base_url(),
        &format!("[database]\nurl = \"{url}\"\n"),
    )
    .unwrap();
    BotProcess::spawn_with_args(
        &World::exe(),
        dir,
        &config,
        &["--shards", shards, "--shard-total", "4"],
    )
    .unwrap()
}

const LEADING: &str = "leading: this process runs the scheduler";

/// Two processes with two shards each on one PostgreSQL store (product §14): each guild's
/// events reach one process, each due prompt is posted once, the scheduler runs on the leader
/// only; the leader killed in the middle of a burst of due posts, the other process takes the
/// lead and the killed one's claimed posts, and nothing is lost or posted twice.
#[tokio::test]
async fn two_processes_share_a_postgres_store_and_each_thing_happens_once() {
    if crate::support::postgres_server().is_none() {
        eprintln!("skipped: HEARTH_TEST_POSTGRES names no PostgreSQL server");
        return;
    }
    // Discord's rate limits on, so that a burst of posts takes a while.
    let emu = Emulator::start_with(EmulatorConfig {
        rate_limits: Some(discord_emulator::RateLimits::default()),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let manager = emu.add_user("maria", false);
    let communities = communities(&emu, &spread_over(8, 4), manager);
    let store = tempfile::tempdir().unwrap();
    let url = crate::support::store_url(&store.path().join("shared.db"));
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = start_process(&emu, dir_a.path(), &url, "0-1");
    a.wait_ready(1).await.expect("process A becomes ready");
    a.wait_for_log(LEADING, 1, WAIT).await.expect("A leads");
    let mut b = start_process(&emu, dir_b.path(), &url, "2-3");
    b.wait_ready(1).await.expect("process B becomes ready");
    let ready = |records: &[discord_emulator::IdentifyRecord]| -> BTreeSet<[u64; 2]> {
        records
            .iter()
            .filter(|r| r.outcome == IdentifyOutcome::Ready)
            .filter_map(|r| r.shard)
            .collect()
    };
    emu.wait_for_identifies(|r| ready(r).len() >= 4, Duration::from_secs(90))
        .await
        .unwrap();
    // A third process for a shard already taken is refused, naming the fix.
    let dir_c = tempfile::tempdir().unwrap();
    let mut c = start_process(&emu, dir_c.path(), &url, "1-2");
    assert_eq!(c.wait_exit(WAIT).await.unwrap(), 1);
    assert!(
        c.log().contains("shard 1 is already run") && c.log().contains("fix:"),
        "{}",
        c.log()
    );

    // Every guild is served by the process holding its shard, once.
    turn_welcomes_on(&emu, &communities, manager).await;
    for (i, c) in communities.iter().enumerate() {
        let newcomer = emu.add_user(&format!("newcomer{i}"), false);
        emu.member_join(c.guild, newcomer, false);
    }
    for c in &communities {
        wait_posts(&emu, c.welcome, 1).await;
    }

    // A prompt in every guild, due now: the leader's scheduler posts each once.
    let mut prompts = Vec::new();
    for c in &communities {
        let reply = emu
            .slash_command(
                c.guild,
                c.general,
                manager,
                "prompts",
                json!([{"type": 1, "name": "add", "options": [
                    {"type": 3, "name": "theme", "value": "Daily question"},
                    {"type": 7, "name": "channel", "value": c.general.to_string()},
                    {"type": 3, "name": "days", "value": "daily"},
                    {"type": 3, "name": "time", "value": "09:00"},
                    {"type": 3, "name": "text", "value": format!("question for {}", c.guild)},
                    {"type": 3, "name": "catch_up", "value": "1h"}
                ]}]),
            )
            .response(WAIT)
            .await
            .unwrap();
        let text = text_of(&reply.body["data"]);
        assert!(text.starts_with("Prompt #"), "{text}");
        let id: i64 = text["Prompt #".len()..]
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        prompts.push(id);
    }
    let make_due = |prompts: Vec<i64>| {
        let (url, guilds) = (
            url.clone(),
            communities.iter().map(|c| c.guild).collect::<Vec<_>>(),
        );
        async move {
            let pool = hearth::db::open(&url).await.unwrap();
            let due = hearth::domain::clock::now().timestamp() - 60;
            for (guild, prompt) in guilds.iter().zip(&prompts) {
                hearth::db::jobs::upsert(&pool, *guild, "prompt", *prompt, Some(due))
                    .await
                    .unwrap();
            }
            pool.close().await;
        }
    };
    let prompt_posts = |c: &Community| {
        posts_in(&emu, c.general)
            .iter()
            .filter(|p| {
                p.body["content"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(&format!("question for {}", c.guild))
            })
            .count()
    };
    make_due(prompts.clone()).await;
    for c in &communities {
        let start = std::time::Instant::now();
        while prompt_posts(c) < 1 && start.elapsed() < Duration::from_secs(60) {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    for c in &communities {
        assert_eq!(prompt_posts(c), 1, "guild {}", c.guild);
    }
    assert!(!b.log().contains(LEADING), "only A leads:\n{}", b.log());

    // A burst of due posts, slowed by Discord's per-channel limit (5 messages per 5 s) and sent
    // by both processes' workers; the leader is killed at a random point in it.
    const PER_GUILD: usize = 10;
    let pool = hearth::db::open(&url).await.unwrap();
    let outbox = hearth::outbox::Outbox::new(pool.clone());
    for c in &communities {
        for n in 0..PER_GUILD {
            outbox
                .enqueue(hearth::db::outbox::NewPost {
                    guild_id: c.guild,
                    channel_id: c.general,
                    kind: "burst".into(),
                    dedup_key: format!("burst:{}:{n}", c.guild),
                    body: hearth::outbox::action_json(&hearth::outbox::Action::Message {
                        thread: None,
                        body: json!({"content": format!("burst {} #{n}", c.guild),
                                     "allowed_mentions": {"parse": []}}),
                    }),
                    not_before_ms: None,
                })
                .await
                .unwrap();
        }
    }
    pool.close().await;
    let burst_posts = || {
        communities
            .iter()
            .flat_map(|c| posts_in(&emu, c.general))
            .filter_map(|p| p.body["content"].as_str().map(str::to_owned))
            .filter(|text| text.starts_with("burst "))
            .collect::<Vec<_>>()
    };
    let total = communities.len() * PER_GUILD;
    let kill_after = rand::random::<usize>() % (total - 10) + 5;
    let start = std::time::Instant::now();
    while burst_posts().len() < kill_after && start.elapsed() < Duration::from_secs(90) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.kill().await.unwrap();
    let at_kill = burst_posts().len();
    eprintln!("process A killed after {at_kill} of {total} burst posts were sent");
    assert!(
        at_kill < total,
        "killed in the middle of the burst ({at_kill} of {total} sent)"
    );
    b.wait_for_log(LEADING, 1, Duration::from_secs(60))
        .await
        .expect("B takes the lead");
    b.wait_for_log("housekeeping: first pass done", 1, Duration::from_secs(60))
        .await
        .expect("the new leader runs the rollups");
    let start = std::time::Instant::now();
    while burst_posts().len() < total && start.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A second copy would come right behind: give it a moment, then count.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut sent = burst_posts();
    sent.sort();
    let mut expected: Vec<String> = communities
        .iter()
        .flat_map(|c| (0..PER_GUILD).map(move |n| format!("burst {} #{n}", c.guild)))
        .collect();
    expected.sort();
    assert_eq!(
        sent, expected,
        "killed after {at_kill}: nothing lost, nothing twice"
    );

    // A comes back: it serves its shards again and does not lead while B does.
    let mut a = start_process(&emu, dir_a.path(), &url, "0-1");
    a.wait_ready(2).await.expect("A is back");
    let first = communities
        .iter()
        .find(|c| shard_of(c.guild, 4) == 0)
        .unwrap();
    let newcomer = emu.add_user("latecomer", false);
    emu.member_join(first.guild, newcomer, false);
    wait_posts(&emu, first.welcome, 2).await;
    assert_eq!(
        a.log().matches(LEADING).count(),
        1,
        "the first run led, the second does not"
    );
    assert_eq!(a.terminate().await.unwrap(), 0, "log:\n{}", a.log());
    assert_eq!(b.terminate().await.unwrap(), 0, "log:\n{}", b.log());
    emu.assert_no_violations();
}
