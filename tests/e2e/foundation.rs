//! The foundation (issue 2): start-up, /config, the manager model, resume, setup failure, the
//! outbox, config errors.

use std::time::Duration;

use discord_emulator::Fault;
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn connects_and_registers_commands() {
    let world = World::new().await;
    let mut bot = world.start_bot(1).await;
    let put = world
        .emu
        .wait_for_request(|r| r.method == "PUT" && r.path.ends_with("/commands"), WAIT)
        .await
        .unwrap();
    let names: Vec<&str> = put
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert!(names.contains(&"config"), "registered: {names:?}");
    let config = put
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "config")
        .unwrap();
    assert_eq!(
        config["default_member_permissions"],
        json!(MANAGE_GUILD.to_string())
    );
    let stats = world.emu.gateway_stats();
    assert_eq!(stats.identifies, 1);
    // Intents: what the features need, never MESSAGE_CONTENT (1 << 15).
    let intents = world.emu.last_identify().unwrap()["intents"]
        .as_u64()
        .unwrap();
    assert_eq!(intents & (1 << 15), 0, "no Message Content intent");
    for needed in [0, 1, 7, 9, 10, 16] {
        assert_ne!(
            intents & (1 << needed),
            0,
            "intent bit {needed} missing from {intents:#b}"
        );
    }
    assert_eq!(
        bot.terminate().await.unwrap(),
        0,
        "graceful stop exits 0; log:\n{}",
        bot.log()
    );
    world.emu.assert_no_violations();
}

#[tokio::test]
async fn config_survives_restart_and_sigkill() {
    let world = World::new().await;
    let mut bot = world.start_bot(1).await;

    let reply = world
        .run(
            world.manager,
            "config",
            "timezone",
            json!([{"type": 3, "name": "name", "value": "Europe/Berlin"}]),
        )
        .await;
    assert!(is_ephemeral(&reply));
    assert!(text_of(&reply).contains("Europe/Berlin"), "{reply}");
    // set_channel checks that the reply names the channel.
    world.set_channel("welcome", world.welcome).await;
    assert_eq!(bot.terminate().await.unwrap(), 0);

    // Restart: settings are read back from the database.
    let mut bot = world.start_bot(2).await;
    let shown = text_of(&world.run(world.manager, "config", "show", json!([])).await);
    assert!(shown.contains("Europe/Berlin"), "{shown}");
    assert!(
        shown.contains(&format!("welcome**: <#{}>", world.welcome)),
        "{shown}"
    );

    // A change right before a crash is not lost either.
    world
        .run(
            world.manager,
            "config",
            "timezone",
            json!([{"type": 3, "name": "name", "value": "America/New_York"}]),
        )
        .await;
    bot.kill().await.unwrap();
    let mut bot = world.start_bot(3).await;
    let shown = text_of(&world.run(world.manager, "config", "show", json!([])).await);
    assert!(shown.contains("America/New_York"), "{shown}");
    bot.terminate().await.unwrap();
    world.emu.assert_no_violations();
}

#[tokio::test]
async fn non_manager_gets_an_ephemeral_refusal_and_the_manager_role_passes() {
    let world = World::new().await;
    let mut bot = world.start_bot(1).await;
    let reply = world
        .run(
            world.member,
            "config",
            "timezone",
            json!([{"type": 3, "name": "name", "value": "Asia/Tokyo"}]),
        )
        .await;
    assert!(is_ephemeral(&reply), "{reply}");
    assert!(text_of(&reply).contains("Manage Server"), "{reply}");
    // Nothing changed.
    let shown = text_of(&world.run(world.manager, "config", "show", json!([])).await);
    assert!(!shown.contains("Asia/Tokyo"), "{shown}");

    // Give the member the configured manager role: now they pass.
    let role = world.emu.add_role(world.guild, "Community Team", 0);
    world.emu.add_member(world.guild, world.member, &[role]);
    world
        .run(
            world.manager,
            "config",
            "manager-role",
            json!([{"type": 8, "name": "role", "value": role.to_string()}]),
        )
        .await;
    let reply = world
        .run(
            world.member,
            "config",
            "timezone",
            json!([{"type": 3, "name": "name", "value": "Asia/Tokyo"}]),
        )
        .await;
    assert!(text_of(&reply).contains("Asia/Tokyo"), "{reply}");
    bot.terminate().await.unwrap();
    world.emu.assert_no_violations();
}

#[tokio::test]
async fn bad_argument_gets_an_ephemeral_explanation_and_saves_nothing() {
    let world = World::new().await;
    let mut bot = world.start_bot(1).await;
    let reply = world
        .run(
            world.manager,
            "config",
            "timezone",
            json!([{"type": 3, "name": "name", "value": "Mars/Olympus"}]),
        )
        .await;
    assert!(is_ephemeral(&reply));
    let text = text_of(&reply);
    assert!(
        text.contains("Mars/Olympus") && text.contains("Europe/Berlin"),
        "{text}"
    );
    let shown = text_of(&world.run(world.manager, "config", "show", json!([])).await);
    assert!(shown.contains("UTC"), "{shown}");
    bot.terminate().await.unwrap();
}

#[tokio::test]
async fn doctor_reports_missing_permissions_per_channel() {
    let world = World::new().await;
    // Deny Send Messages to the bot's role in #reports.
    let bot_role = world.emu.bot_role(world.guild);
    world
        .emu
        .set_channel_overwrite(world.reports, bot_role, 0, 0, 1 << 11);
    let mut bot = world.start_bot(1).await;
    world.set_channel("reports", world.reports).await;
    let report = text_of(
        &world
            .run(world.manager, "config", "doctor", json!([]))
            .await,
    );
    assert!(report.contains("Send Messages"), "{report}");
    assert!(
        report.contains(&format!("<#{}>", world.reports)),
        "{report}"
    );
    assert!(report.contains("monthly leadership report"), "{report}");
    assert!(report.contains("no welcome channel"), "{report}");
    bot.terminate().await.unwrap();
    assert!(bot.log().contains("doctor found a problem"));
}

#[tokio::test]
async fn resumes_after_a_dropped_connection() {
    let world = World::new().await;
    let mut bot = world.start_bot(1).await;
    world.emu.drop_connections();
    // Events dispatched while the bot is away are replayed on RESUME.
    let handle = world.slash(world.manager, "config", "show", json!([]));
    handle.response(WAIT).await.expect("answered after resume");
    let stats = world.emu.gateway_stats();
    assert_eq!(stats.identifies, 1, "{stats:?}");
    assert!(stats.resumes >= 1, "{stats:?}");
    bot.terminate().await.unwrap();
}

#[tokio::test]
async fn setup_failure_exits_non_zero_with_a_message() {
    let world = World::new().await;
    world.emu.inject_fault(Fault {
        method: Some("PUT".into()),
        path_contains: "/commands".into(),
        status: 400,
        body: json!({"code": 50035, "message": "Invalid Form Body"}),
        times: 100,
        retry_after: None,
    });
    let mut bot = world.spawn_bot("");
    let code = bot.wait_exit(Duration::from_secs(60)).await.unwrap();
    assert_eq!(code, 1, "log:\n{}", bot.log());
    assert!(
        bot.log().contains("framework setup failed"),
        "{}",
        bot.log()
    );
    assert!(
        bot.log().contains("registering slash commands"),
        "{}",
        bot.log()
    );
}

#[tokio::test]
async fn unreachable_api_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 9 (discard) on loopback.
    let config = hearth::harness::write_config(dir.path(), "http://127.0.0.1:9", "").unwrap();
    let mut bot = hearth::harness::BotProcess::spawn(&World::exe(), dir.path(), &config).unwrap();
    let code = bot.wait_exit(Duration::from_secs(60)).await.unwrap();
    assert_eq!(code, 1);
    assert!(
        bot.log()
            .contains("cannot reach the Discord API at http://127.0.0.1:9"),
        "{}",
        bot.log()
    );
}

#[tokio::test]
async fn outbox_post_failing_twice_with_500_is_delivered_once() {
    let world = World::new().await;
    let path = format!("/channels/{}/messages", world.general);
    world.emu.inject_fault(Fault {
        method: Some("POST".into()),
        path_contains: path.clone(),
        status: 500,
        body: json!({"code": 0, "message": "500: Internal Server Error"}),
        times: 2,
        retry_after: None,
    });
    let mut bot = world.start_bot(1).await;
    let delivered = world
        .emu
        .wait_for_request(
            |r| r.method == "POST" && r.path == path && r.status == 200,
            WAIT,
        )
        .await
        .unwrap();
    assert!(delivered.body["content"]
        .as_str()
        .unwrap()
        .contains("Hearth"));
    assert_eq!(delivered.body["allowed_mentions"]["parse"], json!([]));
    let attempts: Vec<_> = world
        .emu
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == path)
        .collect();
    assert_eq!(attempts.len(), 3, "two failures then one success");
    assert!(
        attempts
            .iter()
            .all(|r| r.body["nonce"] == attempts[0].body["nonce"]),
        "same nonce on every retry"
    );
    assert_eq!(world.emu.messages_in(world.general).len(), 1);

    // A restart does not post the greeting again.
    bot.terminate().await.unwrap();
    let mut bot = world.start_bot(2).await;
    world.run(world.manager, "config", "show", json!([])).await;
    assert_eq!(world.emu.messages_in(world.general).len(), 1);
    bot.terminate().await.unwrap();
    world.emu.assert_no_violations();
}

#[tokio::test]
async fn a_post_interrupted_by_a_crash_is_sent_once_after_restart() {
    let world = World::new().await;
    let path = format!("/channels/{}/messages", world.general);
    // Discord keeps failing while the bot is up: the greeting stays pending in the outbox.
    world.emu.inject_fault(Fault {
        method: Some("POST".into()),
        path_contains: path.clone(),
        status: 503,
        body: json!({"code": 0, "message": "503: Service Unavailable"}),
        times: 1_000,
        retry_after: None,
    });
    let mut bot = world.start_bot(1).await;
    world
        .emu
        .wait_for_request(|r| r.path == path && r.status == 503, WAIT)
        .await
        .unwrap();
    bot.kill().await.unwrap();
    world.emu.clear_faults();
    let mut bot = world.start_bot(2).await;
    world
        .emu
        .wait_for_request(|r| r.path == path && r.status == 200, WAIT)
        .await
        .unwrap();
    bot.terminate().await.unwrap();
    assert_eq!(world.emu.messages_in(world.general).len(), 1);
    assert!(
        bot.log().contains("resuming pending posts"),
        "{}",
        bot.log()
    );
}

#[test]
fn bad_config_exits_2_naming_file_key_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[discord]\ntoken = \"t\"\n\n[defaults]\ntimezone = \"Mars/Olympus\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(World::exe())
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:5", path.display())),
        "{stderr}"
    );
    assert!(stderr.contains("defaults.timezone"), "{stderr}");
    assert!(stderr.contains("fix:"), "{stderr}");
    let out = std::process::Command::new(World::exe())
        .args(["run", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn token_never_appears_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.toml");
    std::fs::write(&path, format!("[discord]\ntoken = \"very-secret-token\"\napi_base_url = \"http://127.0.0.1:9\"\n[database]\nurl = \"sqlite://{}/h.db\"\n[log]\nfilter = \"trace\"\n", dir.path().display())).unwrap();
    let out = std::process::Command::new(World::exe())
        .args(["run", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains("very-secret-token"), "{all}");
}
