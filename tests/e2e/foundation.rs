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
    let config = hearth::demo::harness::write_config(dir.path(), "http://127.0.0.1:9", "").unwrap();
    let mut bot =
        hearth::demo::harness::BotProcess::spawn(&World::exe(), dir.path(), &config).unwrap();
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
    world.emu.inject_fault(Fault::server_error(&path, 500, 2));
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
    world
        .emu
        .inject_fault(Fault::server_error(&path, 503, 1_000));
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

/// `hearth <args> --config <config>` with a clean environment, run to completion.
fn hearth(args: &[&str], config: &std::path::Path) -> std::process::Output {
    std::process::Command::new(World::exe())
        .args(args)
        .arg("--config")
        .arg(config)
        .env_remove("HEARTH_DISCORD_TOKEN")
        .env_remove("HEARTH_DATABASE_URL")
        .env_remove("HEARTH_CONFIG")
        .env_remove("HEARTH_LOG")
        .output()
        .unwrap()
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A config with the database at `db`.
/// A config whose store is the one `db` stands for: the file, or its database on PostgreSQL.
fn config_with_store(dir: &std::path::Path, db: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("h.toml");
    let url = crate::support::store_url(db);
    std::fs::write(
        &path,
        format!("[discord]\ntoken = \"t\"\n[database]\nurl = \"{url}\"\n"),
    )
    .unwrap();
    path
}

fn config_with_db(dir: &std::path::Path, db: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("h.toml");
    std::fs::write(
        &path,
        format!(
            "[discord]\ntoken = \"t\"\n[database]\nurl = \"sqlite://{}\"\n",
            db.display()
        ),
    )
    .unwrap();
    path
}

#[test]
fn check_rejects_an_empty_token() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.toml");
    std::fs::write(&path, "[discord]\ntoken = \"\"\n").unwrap();
    let out = hearth(&["check"], &path);
    assert_eq!(out.status.code(), Some(2));
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains(&format!(
            "{}:2: key `discord.token`: the token is empty",
            path.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("fix:"), "{stderr}");
}

#[test]
fn an_unusable_database_location_is_named_once_with_its_cause_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("data");
    let config = config_with_db(dir.path(), &folder.join("h.db"));
    // `check` looks at the location now, instead of passing and leaving it to `run`.
    let out = hearth(&["check"], &config);
    assert_eq!(out.status.code(), Some(2), "{}", stdout_of(&out));
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains(&format!("the folder {} does not exist", folder.display())),
        "{stderr}"
    );
    assert!(stderr.contains("key `database.url`"), "{stderr}");
    assert!(
        stderr.contains(&format!("fix: create it (mkdir -p {})", folder.display())),
        "{stderr}"
    );
    for command in ["migrate", "run"] {
        let out = hearth(&[command], &config);
        assert_eq!(out.status.code(), Some(1), "{command}");
        let stderr = stderr_of(&out);
        assert!(!stderr.contains("code: 14"), "{command}: {stderr}");
        assert!(
            stderr.contains("does not exist") && stderr.contains("fix:"),
            "{command}: {stderr}"
        );
        // One error; `run` (src/app.rs) also writes it as its "hearth stopped" log line.
        let copies = stderr.matches("fix: create it").count();
        let most = if command == "run" { 2 } else { 1 };
        assert!(
            (1..=most).contains(&copies),
            "{command}: {copies} copies: {stderr}"
        );
    }
    // A folder nobody can create files in (root included): /proc.
    let config = config_with_db(dir.path(), std::path::Path::new("/proc/hearth-test.db"));
    let out = hearth(&["check"], &config);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("the folder /proc is not writable"),
        "{}",
        stderr_of(&out)
    );

    // Once the folder exists, check passes and says the database will be created.
    std::fs::create_dir(&folder).unwrap();
    let config = config_with_db(dir.path(), &folder.join("h.db"));
    let out = hearth(&["check"], &config);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(
        stdout_of(&out).contains("will be created"),
        "{}",
        stdout_of(&out)
    );
    assert!(!folder.join("h.db").exists(), "check creates nothing");
}

#[test]
fn read_only_commands_on_a_mistyped_path_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hearht.db");
    let config = config_with_db(dir.path(), &db);
    for args in [
        &["report", "--guild", "1"][..],
        &["privacy", "export", "--user", "5"][..],
        &["privacy", "forget", "--user", "5"][..],
    ] {
        let out = hearth(args, &config);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stdout_of(&out));
        let stderr = stderr_of(&out);
        assert!(
            stderr.contains(&db.display().to_string())
                && stderr.contains("no database at this path")
                && stderr.contains("fix:"),
            "{args:?}: {stderr}"
        );
        assert!(stdout_of(&out).is_empty(), "no zeros printed");
        assert!(!db.exists(), "{args:?} created the database");
    }
}

#[tokio::test]
async fn report_refuses_bad_ranges_and_unknown_guilds_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let config = config_with_store(dir.path(), &db);
    let pool = crate::support::open_at(&db).await;
    hearth::db::guilds::upsert_seen(&pool, 1, 0).await.unwrap();
    pool.close().await;

    let out = hearth(
        &[
            "report",
            "--guild",
            "1",
            "--from",
            "2026-02-01",
            "--to",
            "2026-01-01",
        ],
        &config,
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "--from after --to is a usage error"
    );
    assert!(stderr_of(&out).contains("--from 2026-02-01 is after --to 2026-01-01"));

    let out = hearth(
        &[
            "report",
            "--guild",
            "1",
            "--from",
            "0001-01-01",
            "--to",
            "9999-12-31",
        ],
        &config,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("a report covers at most 7320 days (20 years)"),
        "{}",
        stderr_of(&out)
    );
    // Only --from: the default --to (today) comes before it.
    let out = hearth(&["report", "--guild", "1", "--from", "9999-01-01"], &config);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("(today in UTC)"),
        "{}",
        stderr_of(&out)
    );

    let out = hearth(&["report", "--guild", "424242"], &config);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("holds nothing about server 424242"),
        "{}",
        stderr_of(&out)
    );
    let pool = crate::support::open_at(&db).await;
    assert_eq!(
        hearth::db::rollup::state(&pool, 424_242).await.unwrap(),
        None,
        "nothing written for the unknown guild"
    );
    pool.close().await;

    let out = hearth(&["report", "--guild", "1", "--format", "json"], &config);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
}

#[test]
fn the_database_is_created_owner_only_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let config = config_with_db(dir.path(), &db);
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("umask 000; exec \"$0\" migrate --config \"$1\"")
        .arg(World::exe())
        .arg(&config)
        .env_remove("HEARTH_DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let mode = std::fs::metadata(&db).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{mode:o}");
}

#[test]
fn logs_have_no_colour_codes_when_not_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_db(dir.path(), &dir.path().join("h.db"));
    let out = std::process::Command::new(World::exe())
        .args(["migrate", "--config"])
        .arg(&config)
        .env("HEARTH_LOG", "trace")
        .env_remove("NO_COLOR")
        .env_remove("HEARTH_DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("TRACE") || stderr.contains("DEBUG"),
        "{stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "ANSI escape in piped logs: {stderr:?}"
    );
}

#[tokio::test]
async fn interaction_tokens_never_reach_a_trace_log() {
    let world = World::new().await;
    let mut bot = world.start_bot_with(1, "[log]\nfilter = \"trace\"\n").await;
    let show = world.slash(world.manager, "config", "show", json!([]));
    show.response(WAIT).await.unwrap();
    let doctor = world.slash(world.manager, "config", "doctor", json!([]));
    doctor.response(WAIT).await.unwrap();
    bot.terminate().await.unwrap();
    let log = bot.log();
    for token in [&show.token, &doctor.token] {
        assert!(!log.contains(token.as_str()), "token {token} in the log");
    }
    assert!(
        log.contains("[redacted]"),
        "the tokens were logged, redacted"
    );
}

#[tokio::test]
async fn prompts_add_refuses_an_absurd_catch_up_with_an_explanation() {
    let world = World::new().await;
    let mut bot = world.start_bot(1).await;
    let reply = world
        .run(
            world.manager,
            "prompts",
            "add",
            json!([
                {"type": 3, "name": "theme", "value": "Show and tell"},
                {"type": 7, "name": "channel", "value": world.general.to_string()},
                {"type": 3, "name": "days", "value": "mon"},
                {"type": 3, "name": "time", "value": "09:00"},
                {"type": 3, "name": "text", "value": "What did you make?"},
                {"type": 3, "name": "catch_up", "value": "200000000000d"}
            ]),
        )
        .await;
    assert!(is_ephemeral(&reply), "{reply}");
    let text = text_of(&reply);
    assert!(
        text.contains("catch_up: `200000000000d` is longer than 30d"),
        "{text}"
    );
    bot.terminate().await.unwrap();
    assert!(!bot.log().contains("panicked"), "{}", bot.log());
}

/// `hearth check --connect` against the emulator, as a separate process.
async fn check_connect(config: &std::path::Path) -> (i32, String, String) {
    let out = tokio::process::Command::new(World::exe())
        .args(["check", "--connect", "--config"])
        .arg(config)
        .env_remove("HEARTH_DISCORD_TOKEN")
        .env_remove("HEARTH_DATABASE_URL")
        .env_remove("HEARTH_CONFIG")
        .env_remove("HEARTH_LOG")
        .output()
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        stdout_of(&out),
        stderr_of(&out),
    )
}

#[tokio::test]
async fn check_connect_reports_missing_permissions_per_configured_channel() {
    let world = World::new().await;
    let bot_role = world.emu.bot_role(world.guild);
    world
        .emu
        .set_channel_overwrite(world.reports, bot_role, 0, 0, 1 << 11);
    let extra = format!(
        "[defaults.channels]\nreports = {}\nwelcome = {}\n",
        world.reports, world.welcome
    );
    let config = world.write_config(&extra);
    let (code, stdout, stderr) = check_connect(&config).await;
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("server Hearth Test Guild ({})", world.guild)),
        "{stdout}"
    );
    assert!(
        stdout.contains("FAIL reports: missing Send Messages in #reports"),
        "{stdout}"
    );
    assert!(
        stdout.contains("fix: allow Send Messages for the Hearth role in #reports"),
        "{stdout}"
    );
    assert!(stdout.contains("ok   welcome: #welcome: ready"), "{stdout}");
    assert!(
        stdout.contains("off  intros: no intros channel"),
        "{stdout}"
    );

    // Fixed in Discord: all good, exit 0.
    world
        .emu
        .set_channel_overwrite(world.reports, bot_role, 0, 0, 0);
    let (code, stdout, _) = check_connect(&config).await;
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("all good"), "{stdout}");
    assert!(
        !crate::support::store_exists(&world.dir.path().join("hearth.db")).await,
        "check creates no database"
    );

    // A channel set with `/config channel` lives in the database: check reads it from there
    // (read-only) over the config file, so a deleted intros channel is found.
    let pool = world.store().await;
    hearth::db::guilds::set_channel(
        &pool,
        world.guild,
        hearth::domain::settings::ChannelPurpose::Intros,
        424_242,
        0,
    )
    .await
    .unwrap();
    pool.close().await;
    let (code, stdout, _) = check_connect(&config).await;
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("FAIL intros: the intros channel <#424242> no longer exists"),
        "{stdout}"
    );

    // No token: a usage error naming the fix.
    std::fs::write(
        &config,
        std::fs::read_to_string(&config)
            .unwrap()
            .replace("token = \"emulator-token\"\n", ""),
    )
    .unwrap();
    let (code, _, stderr) = check_connect(&config).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("needs the bot token"), "{stderr}");
    world.emu.assert_no_violations();
}
