//! Surveys and NPS (issue 17, part): the answer flow (button → 0-10 menu → comment form), one
//! answer per member per wave, anonymity in the store, results with hidden small segments, a
//! detractor who asks to be contacted becoming a feedback item, and the `surveys` array of
//! `hearth report`.

use serde_json::{json, Value};

use crate::common::*;

/// A member answers wave `wave`'s post (`post`, with its Answer button) with `score`.
pub(crate) async fn answer(
    world: &World,
    post: &discord_emulator::RecordedRequest,
    user: u64,
    score: &str,
    comment: &str,
    contact: &str,
) -> String {
    let channel: u64 = post.body["channel_id"]
        .as_str()
        .map_or(world.general, |c| c.parse().unwrap());
    let post_id: u64 = post.response["id"].as_str().unwrap().parse().unwrap();
    let open = post.body["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap();
    let menu = world
        .emu
        .button_click(world.guild, channel, user, post_id, open)
        .response(WAIT)
        .await
        .unwrap();
    assert!(is_ephemeral(&menu.body["data"]), "{}", menu.body);
    let select = menu.body["data"]["components"][0]["components"][0].clone();
    assert_eq!(select["type"], 3, "a select menu: {select}");
    assert_eq!(select["options"].as_array().unwrap().len(), 11, "0 to 10");
    let select_id = select["custom_id"].as_str().unwrap();
    let form = world
        .emu
        .select_menu(world.guild, channel, user, post_id, select_id, &[score])
        .response(WAIT)
        .await
        .unwrap();
    assert_eq!(form.body["type"], json!(9), "{}", form.body);
    let form_id = form.body["data"]["custom_id"].as_str().unwrap().to_owned();
    human_pause().await;
    let thanks = world
        .emu
        .modal_submit(
            world.guild,
            channel,
            user,
            &form_id,
            &[("comment", comment), ("contact", contact)],
        )
        .response(WAIT)
        .await
        .unwrap();
    text_of(&thanks.body["data"])
}

#[tokio::test]
async fn an_nps_wave_is_answered_anonymously_once_per_member_and_reported() {
    let world = World::new().await;
    let feedback = world.emu.add_channel(world.guild, "feedback", 0);
    let _bot = world.start_bot(1).await;
    world.set_channel("feedback", feedback).await;
    let started = text_of(&world.run(world.manager, "survey", "nps", json!([])).await);
    assert!(started.contains("Survey #1 is open"), "{started}");
    let post = wait_post_containing(&world.emu, world.general, "recommend this community").await;

    let members: Vec<u64> = (0..4)
        .map(|i| {
            let user = world.emu.add_user(&format!("m{i}"), false);
            world.emu.add_member(world.guild, user, &[]);
            user
        })
        .collect();
    let thanks = answer(&world, &post, world.member, "3", "first thought", "no").await;
    assert!(thanks.contains("anonymous"), "{thanks}");
    // A second answer replaces the first.
    answer(
        &world,
        &post,
        world.member,
        "10",
        "More meetups please",
        "no",
    )
    .await;
    for (user, score) in members.iter().zip(["9", "8", "6", "10"]) {
        answer(&world, &post, *user, score, "", "no").await;
    }
    // A detractor asks to be contacted: named by their own choice, and a feedback item.
    let detractor = world.emu.add_user("dora", false);
    world.emu.add_member(world.guild, detractor, &[]);
    let contacted = answer(
        &world,
        &post,
        detractor,
        "2",
        "The help channel is slow",
        "yes",
    )
    .await;
    assert!(contacted.contains("may reach out"), "{contacted}");
    let item = wait_posts(&world.emu, feedback, 1).await.remove(0);
    assert!(
        item.body.to_string().contains("The help channel is slow"),
        "the contact's comment is a feedback item: {}",
        item.body
    );

    // Anonymity: no answer row names a member, and no stored text holds the anonymous comment
    // next to a member id.
    let store = world.store().await;
    let rows: Vec<(String, i64, Option<String>)> =
        sqlx::query_as("SELECT respondent_key, score, comment FROM survey_answers ORDER BY score")
            .fetch_all(&store)
            .await
            .unwrap();
    assert_eq!(rows.len(), 6, "one answer per member: {rows:?}");
    for (key, _, _) in &rows {
        for user in members.iter().chain([&world.member, &detractor]) {
            assert!(!key.contains(&user.to_string()), "{key}");
        }
    }
    let columns: Vec<String> = sqlx::Row::columns(
        &sqlx::query("SELECT * FROM survey_answers")
            .fetch_one(&store)
            .await
            .unwrap(),
    )
    .iter()
    .map(|c| sqlx::Column::name(c).to_owned())
    .collect();
    assert!(
        !columns.iter().any(|c| c.contains("user")),
        "no member column: {columns:?}"
    );

    let shown = world
        .slash(
            world.manager,
            "survey",
            "results",
            json!([{"type": 4, "name": "id", "value": 1}]),
        )
        .response(WAIT)
        .await
        .unwrap();
    let results = text_of(&shown.body["data"]);
    let (name, png) = shown.files.first().cloned().expect("the trend chart");
    assert_eq!(name, "nps.png");
    std::fs::write(world.dir.path().join("nps.png"), &png).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    // 10, 9, 10 promoters; 8 passive; 6, 2 detractors: (3 - 2) / 6 = +17.
    assert!(results.contains("NPS **+17"), "{results}");
    assert!(
        results.contains("Promoters 3 · passives 1 · detractors 2 · 6 answer(s)"),
        "{results}"
    );
    assert!(
        results.contains("Newcomers: hidden (under 5 answers)"),
        "{results}"
    );
    assert!(
        results.contains("> More meetups please") && !results.contains("first thought"),
        "{results}"
    );
    assert!(
        !results.contains(&world.member.to_string()),
        "comments without names: {results}"
    );

    let closed = text_of(
        &world
            .run(
                world.manager,
                "survey",
                "close",
                json!([{"type": 4, "name": "id", "value": 1}]),
            )
            .await,
    );
    assert!(closed.contains("can no longer be traced"), "{closed}");
    let salt: Option<String> = sqlx::query_scalar("SELECT salt FROM survey_waves WHERE id = 1")
        .fetch_one(&store)
        .await
        .unwrap();
    assert_eq!(salt, None, "the salt is gone with the open wave");
    let late = answer_refused(&world, &post, members[0]).await;
    assert!(late.contains("closed"), "{late}");

    let report: Value =
        serde_json::from_str(&hearth_report(&world, &["--format", "json"])).unwrap();
    let wave = &report["surveys"][0];
    assert_eq!(
        (
            wave["id"].as_i64(),
            wave["wave"].as_i64(),
            wave["responses"].as_u64(),
            wave["promoters"].as_u64(),
            wave["passives"].as_u64(),
            wave["detractors"].as_u64()
        ),
        (Some(1), Some(1), Some(6), Some(3), Some(1), Some(2)),
        "{wave}"
    );
    assert!(
        (wave["nps"].as_f64().unwrap() - 16.7).abs() < 0.01,
        "{wave}"
    );
}

/// A click on a closed wave's Answer button: the refusal.
async fn answer_refused(
    world: &World,
    post: &discord_emulator::RecordedRequest,
    user: u64,
) -> String {
    let post_id: u64 = post.response["id"].as_str().unwrap().parse().unwrap();
    let open = post.body["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap();
    let refused = world
        .emu
        .button_click(world.guild, world.general, user, post_id, open)
        .response(WAIT)
        .await
        .unwrap();
    text_of(&refused.body["data"])
}

#[tokio::test]
async fn a_dm_sample_skips_closed_dms_and_opted_out_members_and_counts_only_those_reached() {
    let world = World::new().await;
    let _bot = world.start_bot(1).await;
    let member = |name: &str| {
        let user = world.emu.add_user(name, false);
        world.emu.add_member(world.guild, user, &[]);
        world.emu.user_message(world.general, user, "hello", None);
        user
    };
    let (open_a, open_b, closed, opted_out) =
        (member("ana"), member("bo"), member("cy"), member("di"));
    world.emu.set_dms_closed(closed, true);
    let optout = world
        .emu
        .slash_command(
            world.guild,
            world.general,
            opted_out,
            "privacy",
            json!([{"type": 1, "name": "optout", "options": []}]),
        )
        .response(WAIT)
        .await
        .unwrap();
    assert!(
        text_of(&optout.body["data"])
            .to_lowercase()
            .contains("opted out")
            || text_of(&optout.body["data"]).contains("no longer"),
        "{}",
        optout.body
    );
    // The members' activity reaches the store (the batched writer's window).
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;

    let started = text_of(
        &world
            .run(
                world.manager,
                "survey",
                "nps",
                json!([{"type": 4, "name": "sample", "value": 10}]),
            )
            .await,
    );
    assert!(
        started.contains("by DM to 3 member(s)"),
        "ana, bo and cy; never the opted-out di: {started}"
    );

    // Two DMs arrive (spaced out); cy's DMs are closed: nothing, and no public ping.
    let deadline = std::time::Instant::now() + WAIT;
    let dms = loop {
        let dms: Vec<discord_emulator::RecordedRequest> = world
            .emu
            .requests()
            .into_iter()
            .filter(|r| {
                r.method == "POST"
                    && r.path.ends_with("/messages")
                    && r.status == 200
                    && r.body["content"]
                        .as_str()
                        .unwrap_or_default()
                        .contains("recommend this community")
            })
            .collect();
        let refused = world
            .emu
            .requests()
            .iter()
            .filter(|r| r.status == 403 && r.path.ends_with("/messages"))
            .count();
        if dms.len() >= 2 && refused >= 1 {
            break dms;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "DMs: {} sent, {refused} refused",
            dms.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(
        !posts_in(&world.emu, world.general).iter().any(|p| {
            let text = p.body.to_string();
            text.contains("recommend this community") || text.contains(&closed.to_string())
        }),
        "no public post or ping for a DM wave"
    );
    let ana = open_a.to_string();
    let to_ana = dms
        .iter()
        .find(|r| {
            world.emu.requests().iter().any(|open| {
                open.path == "/users/@me/channels"
                    && open.body["recipient_id"] == ana.as_str()
                    && r.path
                        == format!(
                            "/channels/{}/messages",
                            open.response["id"].as_str().unwrap_or_default()
                        )
            })
        })
        .expect("a DM to ana")
        .clone();
    let dm_channel: u64 = to_ana.path.split('/').nth(2).unwrap().parse().unwrap();
    let dm_id: u64 = to_ana.response["id"].as_str().unwrap().parse().unwrap();
    let open = to_ana.body["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Answering from the DM (no guild in the interaction).
    let menu = world
        .emu
        .button_click(0, dm_channel, open_a, dm_id, &open)
        .response(WAIT)
        .await
        .unwrap();
    let select_id = menu.body["data"]["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let form = world
        .emu
        .select_menu(0, dm_channel, open_a, dm_id, &select_id, &["9"])
        .response(WAIT)
        .await
        .unwrap();
    let form_id = form.body["data"]["custom_id"].as_str().unwrap().to_owned();
    human_pause().await;
    let thanks = world
        .emu
        .modal_submit(
            0,
            dm_channel,
            open_a,
            &form_id,
            &[("comment", ""), ("contact", "no")],
        )
        .response(WAIT)
        .await
        .unwrap();
    assert!(
        text_of(&thanks.body["data"]).contains("anonymous"),
        "{}",
        thanks.body
    );

    let results = text_of(
        &world
            .run(
                world.manager,
                "survey",
                "results",
                json!([{"type": 4, "name": "id", "value": 1}]),
            )
            .await,
    );
    assert!(
        results.contains("1 answer(s) from 2 members reached: response rate 50%"),
        "cy's closed DMs count as not reached: {results}"
    );
    let _ = open_b;
}

#[tokio::test]
async fn a_custom_survey_takes_menus_and_a_form_and_summarises_each_question() {
    let world = World::new().await;
    let _bot = world.start_bot(1).await;
    let started = text_of(
        &world
            .run(
                world.manager,
                "survey",
                "create",
                json!([
                    {"type": 3, "name": "title", "value": "Onboarding check"},
                    {"type": 3, "name": "q1", "value": "scale: How was onboarding?"},
                    {"type": 3, "name": "q2", "value": "choice: Best day for events? | Mon | Wed"},
                    {"type": 3, "name": "q3", "value": "text: Anything else?"}
                ]),
            )
            .await,
    );
    assert!(started.contains("with 3 question(s)"), "{started}");
    let refused = text_of(
        &world
            .run(world.manager, "survey", "create", json!([{"type": 3, "name": "title", "value": "x"}, {"type": 3, "name": "q1", "value": "rating: 1-10"}]))
            .await,
    );
    assert!(refused.contains("not a question kind"), "{refused}");
    let deadline = std::time::Instant::now() + WAIT;
    let post = loop {
        let posts = posts_in(&world.emu, world.general);
        if let Some(post) = posts.iter().find(|p| p.body["components"].is_array()) {
            break post.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no survey post: {:#?}",
            posts.iter().map(|p| &p.body).collect::<Vec<_>>()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let post_id: u64 = post.response["id"].as_str().unwrap().parse().unwrap();
    let open = post.body["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = world.emu.add_user("ola", false);
    world.emu.add_member(world.guild, other, &[]);
    for (user, scale, day, text) in [
        (world.member, "4", "Wed", "Loved the intro thread"),
        (other, "5", "Mon", ""),
    ] {
        let menus = world
            .emu
            .button_click(world.guild, world.general, user, post_id, &open)
            .response(WAIT)
            .await
            .unwrap();
        let rows = menus.body["data"]["components"].as_array().unwrap().clone();
        assert_eq!(rows.len(), 3, "two menus and Finish: {rows:?}");
        let id_of = |row: usize| {
            rows[row]["components"][0]["custom_id"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        for (row, value) in [(0, scale), (1, day)] {
            let ack = world
                .emu
                .select_menu(
                    world.guild,
                    world.general,
                    user,
                    post_id,
                    &id_of(row),
                    &[value],
                )
                .response(WAIT)
                .await
                .unwrap();
            assert_eq!(
                ack.body["type"],
                json!(6),
                "a pick is acknowledged in place: {}",
                ack.body
            );
        }
        let form = world
            .emu
            .button_click(world.guild, world.general, user, post_id, &id_of(2))
            .response(WAIT)
            .await
            .unwrap();
        assert_eq!(form.body["type"], json!(9), "{}", form.body);
        let form_id = form.body["data"]["custom_id"].as_str().unwrap().to_owned();
        human_pause().await;
        let thanks = world
            .emu
            .modal_submit(world.guild, world.general, user, &form_id, &[("q2", text)])
            .response(WAIT)
            .await
            .unwrap();
        assert!(
            text_of(&thanks.body["data"]).contains("anonymously"),
            "{}",
            thanks.body
        );
    }
    let shown = world
        .slash(
            world.manager,
            "survey",
            "results",
            json!([{"type": 4, "name": "id", "value": 1}]),
        )
        .response(WAIT)
        .await
        .unwrap();
    let results = text_of(&shown.body["data"]);
    assert!(results.contains("2 respondent(s)"), "{results}");
    assert!(results.contains("average 4.5 (1-5)"), "{results}");
    assert!(results.contains("Mon: 1 · Wed: 1"), "{results}");
    assert!(results.contains("> Loved the intro thread"), "{results}");
    assert!(!results.contains(&world.member.to_string()), "{results}");
}
