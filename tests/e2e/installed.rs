//! Installed into an existing community (issue 22): members who joined before Hearth are not new
//! members, are never welcomed, and fall into the cohorts of the months they really joined.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Datelike;
use serde_json::Value;

use crate::common::*;

fn report_json(world: &World, from: &str) -> Value {
    serde_json::from_str(&hearth_report(world, &["--format", "json", "--from", from])).unwrap()
}

fn cohort_sizes(report: &Value) -> BTreeMap<String, u64> {
    report["retention"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["cohort"].as_str().unwrap().to_owned(),
                c["size"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn joins_today(report: &Value) -> u64 {
    report["daily"].as_array().unwrap().last().unwrap()["joins"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn members_who_joined_before_hearth_keep_their_real_join_and_are_not_welcomed() {
    let world = World::new().await;
    let now_ms = hearth::domain::clock::now().timestamp_millis();
    // Fifty members who joined 1 to 400 days before Hearth arrived.
    let mut regulars = Vec::new();
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for i in 0..50u64 {
        let user = world.emu.add_user(&format!("regular{i}"), false);
        let days_ago = 1 + i * 8;
        let joined_ms = now_ms - (days_ago as i64) * 86_400_000;
        world
            .emu
            .add_member_joined_at(world.guild, user, &[], joined_ms as u64);
        let joined = chrono::DateTime::from_timestamp_millis(joined_ms).unwrap();
        *expected
            .entry(format!("{}-{:02}", joined.year(), joined.month()))
            .or_default() += 1;
        regulars.push(user);
    }
    // The world's manager and member joined 400 days ago: their cohort too (in a month of
    // the regulars' on some days of the year).
    let long_ago =
        chrono::DateTime::from_timestamp_millis(world.joined_long_ago_ms as i64).unwrap();
    *expected
        .entry(format!("{}-{:02}", long_ago.year(), long_ago.month()))
        .or_default() += 2;
    let mut bot = welcoming(&world, "", false).await;
    // Twenty of them talk; two people really join.
    for user in &regulars[..20] {
        world
            .emu
            .user_message(world.general, *user, "hi again", None);
    }
    let newcomers: Vec<u64> = (0..2)
        .map(|i| world.emu.add_user(&format!("newcomer{i}"), false))
        .collect();
    for user in &newcomers {
        world.emu.member_join(world.guild, *user, false);
    }
    let posts = wait_posts(&world.emu, world.welcome, 2).await;
    // `/stats` agrees with the report: two new members in the last 30 days, though four of
    // the regulars really joined in them (before Hearth); no activation figure, since no one
    // Hearth saw join did so at least 7 days ago.
    let new_members = "New members: 2 joined · 0 left";
    let shown = stats_once(&world, "overview", |shown| shown.contains(new_members)).await;
    assert!(shown.contains(new_members), "{shown}");
    assert!(
        shown.contains("Activation (first message within 7 days): n/a"),
        "{shown}"
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    bot.terminate().await.unwrap();

    // The regulars were never welcomed; the two newcomers were.
    let welcomed: Vec<String> = posts
        .iter()
        .flat_map(|p| {
            p.body["allowed_mentions"]["users"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|u| u.as_str().map(str::to_owned))
        .collect();
    assert_eq!(posts_in(&world.emu, world.welcome).len(), 2, "{welcomed:?}");
    for user in &newcomers {
        assert!(welcomed.contains(&user.to_string()));
    }

    let from = (hearth::domain::clock::now() - chrono::Duration::days(410))
        .format("%Y-%m-%d")
        .to_string();
    let check = |report: &Value, when: &str| {
        assert_eq!(joins_today(report), 2, "{when}: joins today");
        let joins: u64 = report["daily"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["joins"].as_u64().unwrap())
            .sum();
        assert_eq!(joins, 2, "{when}: join events in the whole range");
        // Activation counts joins Hearth could see: the regulars' first messages before it
        // came are unknown, so their joins (9 to 393 days ago) are not measured, rather
        // than counted as never activated; the newcomers joined less than 7 days ago.
        assert_eq!(
            report["activation"],
            serde_json::json!({"joined": 0, "activated": 0, "rate": null}),
            "{when}"
        );
        let sizes = cohort_sizes(report);
        // Hearth saw nothing before today: the windows of older cohorts were not measured
        // (null), which is not the same as nobody staying (0%).
        for cohort in report["retention"].as_array().unwrap() {
            assert!(
                cohort["d30"].is_null() && cohort["d90"].is_null(),
                "{when}: {cohort}"
            );
        }
        let this_month = hearth::domain::clock::now().format("%Y-%m").to_string();
        for (month, count) in &expected {
            // This month's cohort also holds the two newcomers and the guild's owner, who
            // created it moments before Hearth arrived.
            let extra = if *month == this_month { 3 } else { 0 };
            assert_eq!(
                sizes.get(month).copied().unwrap_or(0),
                count + extra,
                "{when}: cohort {month} ({sizes:?})"
            );
        }
    };
    let report = report_json(&world, &from);
    check(&report, "first run");
    // A restart changes nothing.
    let mut bot = world.start_bot(2).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    bot.terminate().await.unwrap();
    assert_eq!(posts_in(&world.emu, world.welcome).len(), 2);
    check(&report_json(&world, &from), "after a restart");
    world.emu.assert_no_violations();
}
