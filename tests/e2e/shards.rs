//! Sharding (issue 21): one `hearth run --shards 0-1 --shard-total 2` process serves the guilds
//! of both shards, each event once; bad shard flags are usage errors naming the fix.

use std::collections::BTreeSet;
use std::time::Duration;

use discord_emulator::{shard_of, Emulator, EmulatorConfig, IdentifyOutcome};
use hearth::demo::harness::{self, BotProcess};
use serde_json::json;

use crate::common::*;

/// Guild ids whose shard (of 2) alternates 0, 1, 0, 1...: a guild's shard comes from its id's
/// timestamp bits, and ids made in one millisecond would all land on one shard.
fn spread_ids(count: u64) -> Vec<u64> {
    let base = u64::try_from(hearth::domain::clock::now().timestamp_millis()).unwrap_or(0)
        - 30 * 86_400_000
        - 1_420_070_400_000;
    let base = base - base % 2;
    (0..count).map(|k| ((base + k) << 22) | 11).collect()
}

struct Community {
    guild: u64,
    general: u64,
    welcome: u64,
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
    let mut communities = Vec::new();
    for (i, guild) in spread_ids(8).into_iter().enumerate() {
        emu.add_guild_with_id(guild, &format!("Community {i}"), BOT_PERMISSIONS);
        let general = emu.add_channel(guild, "general", 0);
        let welcome = emu.add_channel(guild, "welcome", 0);
        emu.set_role_permissions(guild, guild, MEMBER_PERMISSIONS);
        let staff = emu.add_role(guild, "Staff", MANAGE_GUILD);
        emu.add_member(guild, manager, &[staff]);
        communities.push(Community {
            guild,
            general,
            welcome,
        });
    }
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

    // Each guild's manager turns welcomes on: the interaction reaches only the owning shard.
    for c in &communities {
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
    let guilds = spread_ids(4);
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
