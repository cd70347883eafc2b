//! Activity tracking and the first analytics views (issue 5, partial).

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::*;

#[tokio::test]
async fn activity_is_tracked_without_content_and_shows_in_stats_and_reports() {
    let world = World::new().await;
    let mut bot = world.start_bot(1).await;
    let ana = world.emu.add_user("ana", false);
    world.emu.add_member(world.guild, ana, &[]);
    let first = world
        .emu
        .user_message(world.general, ana, "secret plans", None);
    world
        .emu
        .user_message(world.general, world.member, "a reply", Some(first));
    world
        .emu
        .reaction_add(world.general, first, world.member, "🔥");
    let voice = world.emu.add_channel(world.guild, "voice", 2);
    world.emu.voice_join(world.guild, voice, ana);
    world
        .emu
        .thread_create_by_user(world.general, world.member, "a question");
    let robot = world.emu.add_user("robot", true);
    world.emu.add_member(world.guild, robot, &[]);
    world.emu.user_message(world.general, robot, "beep", None);

    let shown = stats_once(&world, "overview", |shown| {
        shown.contains("DAU: 2") && shown.contains("Messages: 2")
    })
    .await;
    assert!(
        shown.contains("DAU: 2") && shown.contains("Messages: 2"),
        "{shown}"
    );
    let with_chart = world
        .slash(world.manager, "stats", "overview", json!([]))
        .response(WAIT)
        .await
        .unwrap();
    let (name, png) = with_chart.files.first().cloned().expect("a chart");
    assert_eq!(name, "activity.png");
    assert_eq!(&png[1..4], b"PNG");
    assert_eq!(
        with_chart.body["data"]["embeds"][0]["image"]["url"],
        "attachment://activity.png"
    );
    if let Ok(dir) = std::env::var("HEARTH_TEST_ARTIFACTS") {
        std::fs::write(std::path::Path::new(&dir).join("activity.png"), &png).unwrap();
    }

    // A clean stop flushes; the report needs no Discord.
    world.emu.user_message(world.general, ana, "one more", None);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(bot.terminate().await.unwrap(), 0);
    let report: Value =
        serde_json::from_str(&hearth_report(&world, &["--format", "json"])).unwrap();
    let today = report["daily"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(today["dau"], 2, "{report}");
    assert_eq!(today["messages"], 3, "bots are not counted: {report}");
    assert_eq!(
        report["daily"].as_array().unwrap().len(),
        30,
        "a row for every day"
    );
    assert_eq!(report["guild_id"], world.guild.to_string());
    // ana: two messages and a voice join; mo: a reply, a reaction and a thread.
    let top: Vec<(String, u64)> = report["top_contributors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["user_id"].as_str().unwrap().to_owned(),
                c["activity"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(top.len(), 2, "{top:?}");
    assert!(
        top.contains(&(ana.to_string(), 3)) && top.contains(&(world.member.to_string(), 3)),
        "{top:?}"
    );
    assert!(hearth_report(&world, &["--format", "table"]).contains("DAU"));
    assert!(hearth_report(&world, &["--format", "csv"])
        .starts_with("date,dau,wau,mau,messages,joins,leaves\n"));

    // Nothing of what members wrote is in the database.
    assert!(
        !crate::support::store_holds(&world.dir.path().join("hearth.db"), "secret plans").await,
        "message content stored"
    );
    world.emu.assert_no_violations();
}

#[tokio::test]
async fn opted_out_members_are_not_counted() {
    let world = World::new().await;
    let mut bot = world.start_bot(1).await;
    let reply = world
        .run(world.member, "privacy", "optout", json!([]))
        .await;
    assert!(
        is_ephemeral(&reply) && text_of(&reply).contains("no longer records"),
        "{reply}"
    );
    world
        .emu
        .user_message(world.general, world.member, "hi", None);
    world
        .emu
        .user_message(world.general, world.manager, "hello", None);
    tokio::time::sleep(Duration::from_millis(600)).await;
    bot.terminate().await.unwrap();
    let pool = world.store().await;
    assert_eq!(
        hearth::db::activity::count_for(&pool, world.guild, world.member)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        hearth::db::activity::count_for(&pool, world.guild, world.manager)
            .await
            .unwrap(),
        1
    );
}

/// System messages are not members' messages (product §6, issue 23): a join notice (7), a pin
/// notice (6) and a thread-created notice (18) count in neither /stats nor `hearth report`.
#[tokio::test]
async fn system_messages_are_not_counted() {
    let world = World::new().await;
    let mut bot = world.start_bot(1).await;
    let ana = world.emu.add_user("ana", false);
    world.emu.add_member(world.guild, ana, &[]);
    let newcomer = world.emu.add_user("newcomer", false);
    world.emu.add_member(world.guild, newcomer, &[]);
    world
        .emu
        .send_system_message(world.guild, world.general, newcomer, 7);
    world
        .emu
        .send_system_message(world.guild, world.general, ana, 6);
    world
        .emu
        .send_system_message(world.guild, world.general, world.member, 18);
    world.emu.user_message(world.general, ana, "hi", None);
    world.emu.user_message(world.general, ana, "again", None);
    let shown = stats_once(&world, "overview", |shown| shown.contains("Messages: 2")).await;
    assert!(
        shown.contains("DAU: 1") && shown.contains("Messages: 2"),
        "{shown}"
    );
    // Time for a notice handled after the messages to be written, were it counted.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(bot.terminate().await.unwrap(), 0);
    let report: Value =
        serde_json::from_str(&hearth_report(&world, &["--format", "json"])).unwrap();
    let today = report["daily"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (today["dau"].as_u64(), today["messages"].as_u64()),
        (Some(1), Some(2)),
        "{report}"
    );
    assert_eq!(
        report["top_contributors"],
        json!([{ "user_id": ana.to_string(), "activity": 2 }]),
        "{report}"
    );
    world.emu.assert_no_violations();
}

#[tokio::test]
async fn members_cannot_see_stats() {
    let world = World::new().await;
    let mut bot = world.start_bot(1).await;
    let reply = world
        .run(world.member, "stats", "overview", json!([]))
        .await;
    assert!(
        is_ephemeral(&reply) && text_of(&reply).contains("Manage Server"),
        "{reply}"
    );
    bot.terminate().await.unwrap();
}

#[tokio::test]
async fn top_retention_and_csv_export() {
    let world = World::new().await;
    let mut bot = world.start_bot(1).await;
    let newcomer = world.emu.add_user("newcomer", false);
    world.emu.member_join(world.guild, newcomer, false);
    for _ in 0..3 {
        world.emu.user_message(world.general, newcomer, "hi", None);
    }
    world
        .emu
        .user_message(world.general, world.member, "hey", None);
    let top = stats_once(&world, "top", |top| {
        top.contains(&format!("1. <@{newcomer}>: 3"))
    })
    .await;
    assert!(
        top.contains(&format!("1. <@{newcomer}>: 3"))
            && top.contains(&format!("2. <@{}>: 1", world.member)),
        "{top}"
    );
    let retention = text_of(
        &world
            .run(world.manager, "stats", "retention", json!([]))
            .await,
    );
    assert!(
        retention.contains("2 joined · 30-day – · 90-day –"),
        "the newcomer, and the guild's owner who created it moments before Hearth came (mo joined 400 days ago, outside the year shown): {retention}"
    );
    let heatmap = world
        .slash(world.manager, "stats", "retention", json!([]))
        .response(WAIT)
        .await
        .unwrap();
    assert_eq!(
        heatmap.files.first().map(|(name, _)| name.as_str()),
        Some("retention.png")
    );
    let export = world
        .slash(world.manager, "stats", "export", json!([]))
        .response(WAIT)
        .await
        .unwrap();
    let (name, csv) = export.files.first().cloned().expect("a CSV file");
    assert!(name.ends_with(".csv"));
    let csv = String::from_utf8(csv).unwrap();
    assert!(
        csv.starts_with("date,dau,wau,mau,messages,joins,leaves\n"),
        "{csv}"
    );
    assert!(csv.contains(&format!("{newcomer},3")), "{csv}");
    bot.terminate().await.unwrap();
    world.emu.assert_no_violations();
}

#[tokio::test]
async fn members_export_and_forget_their_data_and_totals_stay_right() {
    let world = World::new().await;
    let mut bot = world.start_bot(1).await;
    world
        .emu
        .user_message(world.general, world.member, "one", None);
    world
        .emu
        .user_message(world.general, world.manager, "two", None);
    let deadline = std::time::Instant::now() + WAIT;
    let mut export = Value::Null;
    while std::time::Instant::now() < deadline {
        let reply = world
            .slash(world.member, "privacy", "export", json!([]))
            .response(WAIT)
            .await
            .unwrap();
        let (_, file) = reply.files.first().cloned().expect("a JSON file");
        export = serde_json::from_slice(&file).unwrap();
        if export["activity"].as_array().is_some_and(|a| a.len() == 1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(export["activity"][0]["kind"], "message", "{export}");
    assert_eq!(export["user_id"], world.member.to_string());
    let before: Value = {
        bot.terminate().await.unwrap();
        serde_json::from_str(&hearth_report(&world, &["--format", "json"])).unwrap()
    };
    let mut bot = world.start_bot(2).await;
    let refused = world
        .run(
            world.member,
            "privacy",
            "forget",
            json!([{"type": 5, "name": "confirm", "value": false}]),
        )
        .await;
    assert!(text_of(&refused).contains("Nothing was deleted"));
    let done = world
        .run(
            world.member,
            "privacy",
            "forget",
            json!([{"type": 5, "name": "confirm", "value": true}]),
        )
        .await;
    assert!(text_of(&done).contains("1 activity record"), "{done}");
    bot.terminate().await.unwrap();
    let after: Value = serde_json::from_str(&hearth_report(&world, &["--format", "json"])).unwrap();
    assert_eq!(before["daily"], after["daily"], "aggregates are unchanged");
    let pool = world.store().await;
    assert_eq!(
        hearth::db::activity::count_for(&pool, world.guild, world.member)
            .await
            .unwrap(),
        0
    );
    assert!(after["top_contributors"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["user_id"].as_str() != Some(world.member.to_string().as_str())));
}

#[tokio::test]
async fn conversation_health_and_quiet_experts() {
    let world = World::new().await;
    let mut bot = world.start_bot(1).await;
    let newcomer = world.emu.add_user("newcomer", false);
    world.emu.member_join(world.guild, newcomer, false);
    let question = world
        .emu
        .user_message(world.general, newcomer, "how do I start?", None);
    world
        .emu
        .user_message(world.general, world.member, "like this", Some(question));
    world
        .emu
        .reaction_add(world.general, question, world.manager, "👍");
    world
        .emu
        .thread_create_by_user(world.general, world.member, "member thread");
    world
        .emu
        .thread_create_by_user(world.general, world.manager, "staff thread");
    let shown = stats_once(&world, "overview", |shown| {
        shown.contains("Replies per post: 1.00") && shown.contains("Member-started threads: 50%")
    })
    .await;
    assert!(
        shown.contains("Replies per post: 1.00"),
        "one reply to one top-level message: {shown}"
    );
    assert!(
        shown.contains("Member-started threads: 50%"),
        "the manager's thread does not count: {shown}"
    );
    assert!(shown.contains("0 unanswered"), "{shown}");
    let experts = text_of(
        &world
            .run(
                world.manager,
                "stats",
                "quiet-experts",
                json!([{"type": 4, "name": "min_messages", "value": 1}]),
            )
            .await,
    );
    assert!(
        experts.contains(&format!(
            "1. <@{newcomer}>: 2.0 replies and reactions per message"
        )),
        "{experts}"
    );
    let refused = world
        .run(world.member, "stats", "quiet-experts", json!([]))
        .await;
    assert!(
        text_of(&refused).contains("Manage Server"),
        "manager-only: {refused}"
    );
    bot.terminate().await.unwrap();
    world.emu.assert_no_violations();
}

#[tokio::test]
async fn the_monthly_report_is_posted_to_the_reports_channel() {
    let world = World::new().await;
    let mut bot = world.start_bot(1).await;
    let refused = world
        .run(world.manager, "report", "monthly", json!([]))
        .await;
    assert!(
        text_of(&refused).contains("no reports channel"),
        "{refused}"
    );
    world.set_channel("reports", world.reports).await;
    world
        .emu
        .user_message(world.general, world.member, "hello", None);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let reply = world
        .run(world.manager, "report", "monthly", json!([]))
        .await;
    assert!(text_of(&reply).contains("on its way"), "{reply}");
    let post = wait_posts(&world.emu, world.reports, 1).await.remove(0);
    let text = text_of(&post.body);
    assert!(
        text.contains("Monthly community report")
            && text.contains("Daily active (avg)")
            && text.contains("Messages: 1"),
        "{text}"
    );
    assert_eq!(post.body["allowed_mentions"]["parse"], json!([]));
    bot.terminate().await.unwrap();
    world.emu.assert_no_violations();
}

#[tokio::test]
async fn joins_and_leaves_count_in_a_guild_without_welcomes() {
    let world = World::new().await;
    let mut bot = world.start_bot(1).await;
    let (stays, goes) = (
        world.emu.add_user("stays", false),
        world.emu.add_user("goes", false),
    );
    // Serenity hands each event to a task of its own, so the leave may be stored before its
    // join; it still counts.
    world.emu.member_join(world.guild, stays, false);
    world.emu.member_join(world.guild, goes, false);
    world.emu.member_leave(world.guild, goes);
    let shown = stats_once(&world, "overview", |shown| {
        shown.contains("2 joined · 1 left")
    })
    .await;
    assert!(shown.contains("2 joined · 1 left"), "{shown}");
    bot.terminate().await.unwrap();
}
