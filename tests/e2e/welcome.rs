//! Welcoming and onboarding (issue 3).

use std::collections::BTreeSet;
use std::time::Duration;

use discord_emulator::Fault;
use serde_json::{json, Value};

use crate::common::*;

fn template_add(world: &World, text: &str) -> discord_emulator::InteractionHandle {
    world.emu.slash_command(
        world.guild,
        world.general,
        world.manager,
        "welcome",
        json!([{"type": 2, "name": "template", "options": [{"type": 1, "name": "add", "options": [{"type": 3, "name": "text", "value": text}]}]}]),
    )
}

fn mentions(body: &Value) -> Vec<String> {
    body["allowed_mentions"]["users"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| u.as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn welcome_mentions_the_member_and_never_pings_everyone_or_roles() {
    let world = World::new().await;
    let mut bot = welcoming(&world, "", false).await;
    let reply = template_add(&world, "@everyone <@&123> say hi to {user} ({username})!")
        .response(WAIT)
        .await
        .unwrap();
    assert!(
        text_of(&reply.body["data"]).contains("saved"),
        "{}",
        reply.body
    );
    let noor = world.emu.add_user("@everyone", false);
    world.emu.member_join(world.guild, noor, false);
    let post = wait_posts(&world.emu, world.welcome, 1).await.remove(0);
    let content = post.body["content"].as_str().unwrap();
    assert!(content.contains(&format!("<@{noor}>")), "{content}");
    assert_eq!(
        post.body["allowed_mentions"]["parse"],
        json!([]),
        "nothing parsed from the text"
    );
    assert_eq!(mentions(&post.body), vec![noor.to_string()]);
    assert!(post.body["allowed_mentions"].get("roles").is_none());
    bot.terminate().await.unwrap();
    world.emu.assert_no_violations();
}

#[tokio::test]
async fn bots_are_not_welcomed() {
    let world = World::new().await;
    let mut bot = welcoming(&world, "", false).await;
    let robot = world.emu.add_user("robot", true);
    world.emu.member_join(world.guild, robot, false);
    let human = world.emu.add_user("human", false);
    world.emu.member_join(world.guild, human, false);
    wait_posts(&world.emu, world.welcome, 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let posts = posts_in(&world.emu, world.welcome);
    assert_eq!(posts.len(), 1);
    assert_eq!(mentions(&posts[0].body), vec![human.to_string()]);
    bot.terminate().await.unwrap();
}

#[tokio::test]
async fn one_of_several_templates_is_picked_at_random() {
    let world = World::new().await;
    let mut bot = welcoming(&world, "[welcome]\nraid_joins = 1000\n", false).await;
    for text in ["A: hi {user}", "B: hello {user}", "C: hey {user}"] {
        template_add(&world, text).response(WAIT).await.unwrap();
    }
    for i in 0..24 {
        let id = world.emu.add_user(&format!("member{i}"), false);
        world.emu.member_join(world.guild, id, false);
    }
    let posts = wait_posts(&world.emu, world.welcome, 24).await;
    let used: BTreeSet<&str> = posts
        .iter()
        .map(|p| &p.body["content"].as_str().unwrap()[..1])
        .collect();
    assert!(used.len() >= 2, "templates used: {used:?}");
    bot.terminate().await.unwrap();
}

#[tokio::test]
async fn members_in_screening_are_welcomed_once_they_pass() {
    let world = World::new().await;
    let mut bot = welcoming(&world, "", false).await;
    let newcomer = world.emu.add_user("newcomer", false);
    world.emu.member_join(world.guild, newcomer, true);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        posts_in(&world.emu, world.welcome).is_empty(),
        "no welcome while pending"
    );
    world.emu.member_update(world.guild, newcomer, false);
    let posts = wait_posts(&world.emu, world.welcome, 1).await;
    assert_eq!(mentions(&posts[0].body), vec![newcomer.to_string()]);
    // A later member update does not welcome again.
    world.emu.member_update(world.guild, newcomer, false);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(posts_in(&world.emu, world.welcome).len(), 1);
    bot.terminate().await.unwrap();
}

#[tokio::test]
async fn closed_dms_fall_back_to_the_intro_thread() {
    let world = World::new().await;
    let mut bot = welcoming(&world, "", true).await;
    let shy = world.emu.add_user("shy", false);
    world.emu.set_dms_closed(shy, true);
    world.emu.member_join(world.guild, shy, false);
    let refused = world
        .emu
        .wait_for_request(
            |r| r.method == "POST" && r.status == 403 && r.response["code"] == 50007,
            WAIT,
        )
        .await
        .unwrap();
    let thread = world
        .emu
        .wait_for_request(|r| r.method == "POST" && r.path.contains("/threads"), WAIT)
        .await
        .unwrap();
    let thread_id = thread.response["id"]
        .as_str()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    let posts = wait_posts(&world.emu, thread_id, 1).await;
    assert!(
        posts
            .iter()
            .any(|p| p.body["content"] == refused.body["content"]),
        "the DM text went to the thread"
    );
    let dm_attempts = world
        .emu
        .requests()
        .into_iter()
        .filter(|r| r.path == "/users/@me/channels")
        .count();
    assert_eq!(dm_attempts, 1, "one DM attempt per join");
    bot.terminate().await.unwrap();
    world.emu.assert_no_violations();
}

#[tokio::test]
async fn a_rejoining_member_gets_their_old_thread_back() {
    let world = World::new().await;
    let mut bot = welcoming(&world, "", false).await;
    let ana = world.emu.add_user("ana", false);
    world.emu.member_join(world.guild, ana, false);
    let created = world
        .emu
        .wait_for_request(|r| r.method == "POST" && r.path.ends_with("/threads"), WAIT)
        .await
        .unwrap();
    assert_eq!(created.body["name"], json!("Welcome, ana"));
    let thread_id: u64 = created.response["id"].as_str().unwrap().parse().unwrap();
    world
        .emu
        .wait_for_request(
            |r| {
                r.method == "PUT" && r.path == format!("/channels/{thread_id}/thread-members/{ana}")
            },
            WAIT,
        )
        .await
        .unwrap();

    world.emu.member_leave(world.guild, ana);
    tokio::time::sleep(Duration::from_millis(1100)).await; // a later joined_at second
    world.emu.member_join(world.guild, ana, false);
    world
        .emu
        .wait_for_request(
            |r| {
                r.method == "PATCH"
                    && r.path == format!("/channels/{thread_id}")
                    && r.body["archived"] == json!(false)
            },
            WAIT,
        )
        .await
        .unwrap();
    let posts = wait_posts(&world.emu, thread_id, 1).await;
    assert!(posts
        .iter()
        .any(|p| p.body["content"].as_str().unwrap().contains("Welcome back")));
    let threads_created = world
        .emu
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/threads"))
        .count();
    assert_eq!(threads_created, 1, "no second thread");
    bot.terminate().await.unwrap();
    world.emu.assert_no_violations();
}

#[tokio::test]
async fn a_raid_burst_gets_one_summary_and_every_intro_thread() {
    let world = World::new().await;
    let mut bot = welcoming(
        &world,
        "[welcome]\nraid_joins = 3\nraid_window_secs = 60\nburst_thread_spacing_ms = 20\n",
        false,
    )
    .await;
    let members: Vec<u64> = (0..10)
        .map(|i| world.emu.add_user(&format!("raider{i}"), false))
        .collect();
    for id in &members {
        world.emu.member_join(world.guild, *id, false);
    }
    // Every member still gets an intro thread.
    let deadline = std::time::Instant::now() + WAIT;
    while world
        .emu
        .requests()
        .iter()
        .filter(|r| {
            r.method == "POST" && r.path.ends_with("/threads") && (200..300).contains(&r.status)
        })
        .count()
        < 10
    {
        assert!(
            std::time::Instant::now() < deadline,
            "not every intro thread was created"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let posts = posts_in(&world.emu, world.welcome);
    let summaries = posts
        .iter()
        .filter(|p| p.body["content"].as_str().unwrap().contains("A wave of"))
        .count();
    assert_eq!(
        summaries,
        1,
        "{:#?}",
        posts.iter().map(|p| &p.body["content"]).collect::<Vec<_>>()
    );
    assert!(
        posts.len() <= 4,
        "at most raid_joins individual welcomes plus the summary, got {}",
        posts.len()
    );
    bot.terminate().await.unwrap();
}

#[tokio::test]
async fn members_cannot_set_up_welcomes() {
    let world = World::new().await;
    let mut bot = world.start_bot(1).await;
    let reply = world
        .run(
            world.member,
            "welcome",
            "setup",
            json!([{"type": 7, "name": "channel", "value": world.welcome.to_string()}]),
        )
        .await;
    assert!(is_ephemeral(&reply));
    assert!(text_of(&reply).contains("Manage Server"), "{reply}");
    bot.terminate().await.unwrap();
}

#[tokio::test]
async fn invalid_templates_are_refused_naming_the_problem() {
    let world = World::new().await;
    let mut bot = world.start_bot(1).await;
    let reply = template_add(&world, "Hi {usr}!")
        .response(WAIT)
        .await
        .unwrap();
    let text = text_of(&reply.body["data"]);
    assert!(is_ephemeral(&reply.body["data"]));
    assert!(
        text.contains("{usr}") && text.contains("{username}"),
        "{text}"
    );
    let long = format!("{} {{server}}", "x".repeat(1950));
    let text = text_of(
        &template_add(&world, &long)
            .response(WAIT)
            .await
            .unwrap()
            .body["data"],
    );
    assert!(text.contains("2000") && text.contains("{server}"), "{text}");
    let list = text_of(&world.emu.slash_command(world.guild, world.general, world.manager, "welcome", json!([{"type": 2, "name": "template", "options": [{"type": 1, "name": "list", "options": []}]}])).response(WAIT).await.unwrap().body["data"]);
    assert!(
        list.contains("No templates yet"),
        "nothing was saved: {list}"
    );
    bot.terminate().await.unwrap();
}

#[tokio::test]
async fn a_welcome_failing_with_500_is_retried_and_posted_once() {
    let world = World::new().await;
    let mut bot = welcoming(&world, "", false).await;
    world.emu.inject_fault(Fault::server_error(
        &format!("/channels/{}/messages", world.welcome),
        500,
        1,
    ));
    let lee = world.emu.add_user("lee", false);
    world.emu.member_join(world.guild, lee, false);
    wait_posts(&world.emu, world.welcome, 1).await;
    bot.terminate().await.unwrap();
    assert_eq!(world.emu.messages_in(world.welcome).len(), 1);
}

#[tokio::test]
async fn a_restart_in_the_middle_of_a_burst_loses_no_welcome_and_doubles_none() {
    let world = World::new().await;
    let mut bot = welcoming(&world, "[welcome]\nraid_joins = 1000\n", false).await;
    world.emu.inject_fault(Fault::server_error(
        &format!("/channels/{}/messages", world.welcome),
        503,
        10_000,
    ));
    let members: Vec<u64> = (0..6)
        .map(|i| world.emu.add_user(&format!("wave{i}"), false))
        .collect();
    for id in &members {
        world.emu.member_join(world.guild, *id, false);
    }
    // Every welcome has been queued and tried once; then the bot dies.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let tried: BTreeSet<String> = world
            .emu
            .requests()
            .iter()
            .filter(|r| r.status == 503)
            .flat_map(|r| mentions(&r.body))
            .collect();
        if tried.len() == members.len() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "welcomes not all tried: {tried:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bot.kill().await.unwrap();
    world.emu.clear_faults();
    let mut bot = world
        .start_bot_with(2, "[welcome]\nraid_joins = 1000\n")
        .await;
    let posts = wait_posts(&world.emu, world.welcome, members.len()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    bot.terminate().await.unwrap();
    let welcomed: Vec<String> = world
        .emu
        .messages_in(world.welcome)
        .iter()
        .flat_map(|m| m["mentions"].as_array().cloned().unwrap_or_default())
        .filter_map(|u| u["id"].as_str().map(str::to_owned))
        .collect();
    let unique: BTreeSet<&String> = welcomed.iter().collect();
    assert_eq!(posts.len(), members.len());
    assert_eq!(
        world.emu.messages_in(world.welcome).len(),
        members.len(),
        "one welcome each"
    );
    assert_eq!(unique.len(), welcomed.len(), "nobody welcomed twice");
}

#[tokio::test]
async fn join_and_first_message_times_are_recorded() {
    let world = World::new().await;
    let mut bot = welcoming(&world, "", false).await;
    let kai = world.emu.add_user("kai", false);
    world.emu.member_join(world.guild, kai, false);
    wait_posts(&world.emu, world.welcome, 1).await;
    world.emu.user_message(world.general, kai, "hi all", None);
    world
        .emu
        .user_message(world.general, kai, "second message", None);
    tokio::time::sleep(Duration::from_millis(500)).await;
    bot.terminate().await.unwrap();
    let pool = world.store().await;
    let (joined, first) = hearth::db::welcome::activation(&pool, world.guild, kai)
        .await
        .unwrap()
        .unwrap();
    assert!(joined.is_some() && first.is_some());
    assert!(first.unwrap() >= joined.unwrap());
}

#[tokio::test]
async fn intro_form_is_posted_in_the_members_thread_and_interests_need_opt_in() {
    let world = World::new().await;
    let mut bot = welcoming(&world, "", false).await;
    let intro = world.emu.slash_command(
        world.guild,
        world.general,
        world.member,
        "intro",
        json!([{"type": 5, "name": "share_interests", "value": true}]),
    );
    let modal = intro.response(WAIT).await.unwrap();
    assert_eq!(modal.body["type"], json!(9), "a modal: {}", modal.body);
    let custom_id = modal.body["data"]["custom_id"].as_str().unwrap().to_owned();
    human_pause().await;
    let submit = world.emu.modal_submit(
        world.guild,
        world.general,
        world.member,
        &custom_id,
        &[
            ("about", "I build synths"),
            ("work", ""),
            ("interests", "audio, rust"),
            ("hope", "@everyone friends"),
        ],
    );
    submit.response(WAIT).await.unwrap();
    let thanks = intro.followup(WAIT).await.unwrap();
    assert!(
        text_of(&thanks.body).contains("Your interests are saved"),
        "{}",
        thanks.body
    );
    let created = world
        .emu
        .wait_for_request(
            |r| {
                r.method == "POST" && r.path.ends_with("/threads") && (200..300).contains(&r.status)
            },
            WAIT,
        )
        .await
        .unwrap();
    let starter = posts_in(&world.emu, world.intros);
    assert_eq!(starter.len(), 1);
    let posted = text_of(&starter[0].body);
    assert!(
        posted.contains("I build synths") && posted.contains("audio, rust"),
        "{posted}"
    );
    assert_eq!(starter[0].body["allowed_mentions"]["parse"], json!([]));
    assert!(created.body["name"]
        .as_str()
        .unwrap()
        .starts_with("Welcome, "));
    bot.terminate().await.unwrap();
    let pool = world.store().await;
    assert_eq!(
        hearth::db::welcome::interests(&pool, world.guild, world.member)
            .await
            .unwrap()
            .as_deref(),
        Some("audio, rust")
    );
    world.emu.assert_no_violations();
}

/// Submits `/apply` as `user` and returns the review post's message id.
async fn submit_application(
    world: &World,
    user: u64,
    apps: u64,
    count: usize,
) -> (u64, String, String) {
    let apply = world
        .emu
        .slash_command(world.guild, world.general, user, "apply", json!([]));
    let modal = apply.response(WAIT).await.unwrap();
    assert_eq!(modal.body["type"], json!(9), "{}", modal.body);
    let custom_id = modal.body["data"]["custom_id"].as_str().unwrap().to_owned();
    human_pause().await;
    world
        .emu
        .modal_submit(
            world.guild,
            world.general,
            user,
            &custom_id,
            &[
                ("why", "I love this place"),
                ("found", "a friend"),
                ("more", ""),
            ],
        )
        .response(WAIT)
        .await
        .unwrap();
    let review = wait_posts(&world.emu, apps, count).await.remove(count - 1);
    let message_id: u64 = review.response["id"].as_str().unwrap().parse().unwrap();
    let buttons = &review.body["components"][0]["components"];
    (
        message_id,
        buttons[0]["custom_id"].as_str().unwrap().to_owned(),
        buttons[1]["custom_id"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn applications_are_approved_and_declined_by_managers_only_even_after_a_restart() {
    let world = World::new().await;
    let apps = world.emu.add_channel(world.guild, "applications", 0);
    let role = world.emu.add_role(world.guild, "Members", 0);
    let mut bot = welcoming(&world, "", false).await;
    world.set_channel("applications", apps).await;
    world
        .run(
            world.manager,
            "config",
            "application-role",
            json!([{"type": 8, "name": "role", "value": role.to_string()}]),
        )
        .await;
    let applicant = world.emu.add_user("applicant", false);
    world.emu.add_member(world.guild, applicant, &[]);
    let (review, approve, _) = submit_application(&world, applicant, apps, 1).await;
    assert!(text_of(&posts_in(&world.emu, apps)[0].body).contains("I love this place"));

    // A member cannot decide.
    let refused = world
        .emu
        .button_click(world.guild, apps, world.member, review, &approve)
        .response(WAIT)
        .await
        .unwrap();
    assert!(
        is_ephemeral(&refused.body["data"]) && text_of(&refused.body["data"]).contains("managers"),
        "{}",
        refused.body
    );

    // The buttons still work after a restart.
    bot.terminate().await.unwrap();
    let mut bot = world.start_bot(2).await;
    let approved = world
        .emu
        .button_click(world.guild, apps, world.manager, review, &approve)
        .response(WAIT)
        .await
        .unwrap();
    assert_eq!(approved.body["type"], json!(7), "{}", approved.body);
    assert!(text_of(&approved.body["data"]).contains("Approved"));
    world
        .emu
        .wait_for_request(
            |r| {
                r.method == "PUT"
                    && r.path == format!("/guilds/{}/members/{applicant}/roles/{role}", world.guild)
            },
            WAIT,
        )
        .await
        .unwrap();
    let welcome = wait_posts(&world.emu, world.welcome, 1).await;
    assert!(welcome[0].body["content"]
        .as_str()
        .unwrap()
        .contains(&format!("<@{applicant}>")));
    // A second click changes nothing.
    let again = world
        .emu
        .button_click(world.guild, apps, world.manager, review, &approve)
        .response(WAIT)
        .await
        .unwrap();
    assert!(text_of(&again.body["data"]).contains("already approved"));

    // Decline asks for a reason, records it and tells the applicant by DM.
    let other = world.emu.add_user("other", false);
    world.emu.add_member(world.guild, other, &[]);
    let (review, _, decline) = submit_application(&world, other, apps, 2).await;
    let modal = world
        .emu
        .button_click(world.guild, apps, world.manager, review, &decline)
        .response(WAIT)
        .await
        .unwrap();
    assert_eq!(modal.body["type"], json!(9));
    let reason_id = modal.body["data"]["custom_id"].as_str().unwrap().to_owned();
    human_pause().await;
    let done = world
        .emu
        .modal_submit(
            world.guild,
            apps,
            world.manager,
            &reason_id,
            &[("reason", "We are full right now")],
        )
        .response(WAIT)
        .await
        .unwrap();
    assert!(text_of(&done.body["data"]).contains("Declined"));
    let dm = world
        .emu
        .wait_for_request(
            |r| {
                r.method == "POST"
                    && r.body["content"]
                        .as_str()
                        .is_some_and(|c| c.contains("We are full right now"))
            },
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(dm.status, 200);
    bot.terminate().await.unwrap();
    world.emu.assert_no_violations();
}

#[tokio::test]
async fn welcomes_start_with_the_first_join_after_setup() {
    let world = World::new().await;
    let mut bot = world.start_bot(1).await;
    // A join while nothing is set up: recorded, nothing posted, and the guild remembered as
    // one that posts nothing on a join.
    let early = world.emu.add_user("early", false);
    world.emu.member_join(world.guild, early, false);
    let shown = stats_once(&world, "overview", |shown| shown.contains("1 joined")).await;
    assert!(shown.contains("1 joined"), "{shown}");
    let reply = world
        .run(
            world.manager,
            "welcome",
            "setup",
            json!([{"type": 7, "name": "channel", "value": world.welcome.to_string()}]),
        )
        .await;
    assert!(text_of(&reply).contains("Welcomes are on"), "{reply}");
    let late = world.emu.add_user("late", false);
    world.emu.member_join(world.guild, late, false);
    let posts = wait_posts(&world.emu, world.welcome, 1).await;
    assert_eq!(mentions(&posts[0].body), [late.to_string()]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        posts_in(&world.emu, world.welcome).len(),
        1,
        "the early join stays unwelcomed"
    );
    bot.terminate().await.unwrap();
}
