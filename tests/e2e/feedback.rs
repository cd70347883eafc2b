//! The feedback loop (issue 6, part): submit, status changes that tell the submitter, a deleted
//! thread, the message command, list and report.

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn feedback_is_submitted_followed_up_and_reported() {
    let world = World::new().await;
    let channel = world.emu.add_channel(world.guild, "feedback", 0);
    let mut bot = world.start_bot(1).await;
    world.set_channel("feedback", channel).await;

    let submit = world.slash(
        world.member,
        "feedback",
        "submit",
        json!([{"type": 4, "name": "category", "value": 0}]),
    );
    let modal = submit.response(WAIT).await.unwrap();
    assert_eq!(modal.body["type"], json!(9), "{}", modal.body);
    human_pause().await;
    let custom_id = modal.body["data"]["custom_id"].as_str().unwrap().to_owned();
    world
        .emu
        .modal_submit(
            world.guild,
            world.general,
            world.member,
            &custom_id,
            &[
                ("title", "Dark mode"),
                ("details", "Please add @everyone a dark mode"),
            ],
        )
        .response(WAIT)
        .await
        .unwrap();
    assert!(text_of(&submit.followup(WAIT).await.unwrap().body).contains("Feedback #1 is posted"));
    let thread = world
        .emu
        .wait_for_request(
            |r| {
                r.method == "POST" && r.path.ends_with("/threads") && (200..300).contains(&r.status)
            },
            WAIT,
        )
        .await
        .unwrap();
    let thread_id: u64 = thread.response["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(thread.body["name"], "#1 Dark mode");
    assert_eq!(
        posts_in(&world.emu, channel)[0].body["allowed_mentions"]["parse"],
        json!([])
    );

    // Members cannot move items.
    let refused = world.run(world.member, "feedback", "status", json!([{"type": 4, "name": "id", "value": 1}, {"type": 4, "name": "status", "value": 0}])).await;
    assert!(text_of(&refused).contains("Manage Server"), "{refused}");

    // A manager acknowledges: the follow-up lands in the item's thread and pings the submitter.
    let ack = world.run(world.manager, "feedback", "status", json!([
        {"type": 4, "name": "id", "value": 1}, {"type": 4, "name": "status", "value": 0}, {"type": 3, "name": "note", "value": "Great idea"}
    ])).await;
    assert!(text_of(&ack).contains("now **acknowledged**"), "{ack}");
    let follow_up = wait_posts(&world.emu, thread_id, 1).await.remove(0);
    assert!(
        text_of(&follow_up.body).contains("was read by the team")
            && text_of(&follow_up.body).contains("Great idea")
    );
    assert_eq!(
        follow_up.body["allowed_mentions"]["users"],
        json!([world.member.to_string()])
    );

    // The thread is deleted; the next change is still saved and posted, and the manager is told.
    world.emu.delete_channel(thread_id);
    let shipped = world.run(world.manager, "feedback", "status", json!([{"type": 4, "name": "id", "value": 1}, {"type": 4, "name": "status", "value": 3}])).await;
    assert!(text_of(&shipped).contains("thread is gone"), "{shipped}");
    let in_channel = wait_posts(&world.emu, channel, 2).await;
    assert!(text_of(&in_channel[1].body).contains("has shipped"));

    // Any message can become an item.
    let said = world
        .emu
        .user_message(world.general, world.member, "the search is slow", None);
    let tagged = world
        .emu
        .message_command(
            world.guild,
            world.general,
            world.manager,
            "Tag as feedback",
            said,
        )
        .response(WAIT)
        .await
        .unwrap();
    assert!(
        text_of(&tagged.body["data"]).contains("Feedback #2 opened"),
        "{}",
        tagged.body
    );

    let list = text_of(
        &world
            .run(world.manager, "feedback", "list", json!([]))
            .await,
    );
    assert!(
        list.contains("**#1** [shipped] Dark mode") && list.contains("**#2** [new]"),
        "{list}"
    );
    let report = text_of(
        &world
            .run(world.manager, "feedback", "report", json!([]))
            .await,
    );
    assert!(
        report.contains("shipped: 1") && report.contains("new: 1") && report.contains("idea (1)"),
        "{report}"
    );
    bot.terminate().await.unwrap();
    world.emu.assert_no_violations();
}

/// Submits feedback #`n` through the modal; returns the forum post (thread) id.
async fn submit_in_forum(world: &World, category: u64, title: &str, dm: bool) -> u64 {
    let submit = world.slash(
        world.member,
        "feedback",
        "submit",
        json!([{"type": 4, "name": "category", "value": category}, {"type": 5, "name": "dm_updates", "value": dm}]),
    );
    let modal = submit.response(WAIT).await.unwrap();
    human_pause().await;
    let custom_id = modal.body["data"]["custom_id"].as_str().unwrap().to_owned();
    world
        .emu
        .modal_submit(
            world.guild,
            world.general,
            world.member,
            &custom_id,
            &[("title", title), ("details", "details")],
        )
        .response(WAIT)
        .await
        .unwrap();
    let name = title.to_owned();
    let post = world
        .emu
        .wait_for_request(
            move |r| {
                r.method == "POST"
                    && r.path.ends_with("/threads")
                    && (200..300).contains(&r.status)
                    && r.body["name"].as_str().is_some_and(|n| n.ends_with(&name))
            },
            WAIT,
        )
        .await
        .unwrap();
    let thread: u64 = post.response["id"].as_str().unwrap().parse().unwrap();
    // Discord has answered; the outbox records the thread a moment later. A manager acting on
    // the item needs that record, so wait for it as a person would (a click takes longer).
    let store = world.store().await;
    let recorded = async {
        loop {
            let items = hearth::db::feedback::list(&store, world.guild, None, None, 0)
                .await
                .unwrap();
            let item = items.iter().find(|i| i.title == title);
            if let Some(outbox) = item.and_then(|i| i.outbox_id) {
                if hearth::db::feedback::thread_of(&store, outbox)
                    .await
                    .unwrap()
                    == Some(thread)
                {
                    return;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(WAIT, recorded)
        .await
        .expect("the outbox records the forum post's thread");
    store.close().await;
    thread
}

fn tag_names(world: &World, forum: u64, thread: u64) -> Vec<String> {
    let available = world.emu.channel(forum).unwrap()["available_tags"].clone();
    let mut names: Vec<String> = world.emu.channel(thread).unwrap()["applied_tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| {
            available
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["id"] == *id)
                .map(|t| t["name"].as_str().unwrap().to_owned())
                .unwrap_or_default()
        })
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn forum_items_carry_category_and_status_tags_and_opted_in_submitters_get_a_dm() {
    let world = World::new().await;
    let forum = world.emu.add_channel(world.guild, "feedback", 15);
    world.emu.set_forum_tags(forum, &["Idea", "acknowledged"]);
    let mut bot = world.start_bot(1).await;
    world.set_channel("feedback", forum).await;

    let post = submit_in_forum(&world, 0, "Dark mode", true).await;
    assert_eq!(
        tag_names(&world, forum, post),
        vec!["Idea"],
        "the category's tag, matched without case"
    );

    let status = |value: u64| json!([{"type": 4, "name": "id", "value": 1}, {"type": 4, "name": "status", "value": value}]);
    let ack = world
        .run(world.manager, "feedback", "status", status(0))
        .await;
    assert!(text_of(&ack).contains("now **acknowledged**"), "{ack}");
    assert_eq!(tag_names(&world, forum, post), vec!["Idea", "acknowledged"]);
    // The submitter opted in: the news also comes by DM.
    world
        .emu
        .wait_for_request(
            |r| {
                r.method == "POST"
                    && r.path.starts_with("/channels/")
                    && r.body["content"]
                        .as_str()
                        .is_some_and(|c| c.starts_with("Your feedback #1"))
            },
            WAIT,
        )
        .await
        .unwrap();

    // No "planned" tag and no Manage Channels: the status changes, the tags that exist stay.
    let planned = world
        .run(world.manager, "feedback", "status", status(1))
        .await;
    assert!(text_of(&planned).contains("now **planned**"), "{planned}");
    assert_eq!(tag_names(&world, forum, post), vec!["Idea"]);
    // With Manage Channels the missing tag is created and applied.
    let bot_role = world.emu.bot_role(world.guild);
    world
        .emu
        .set_channel_overwrite(forum, bot_role, 0, 1 << 4, 0);
    world
        .run(world.manager, "feedback", "status", status(3))
        .await;
    assert_eq!(tag_names(&world, forum, post), vec!["Idea", "shipped"]);

    // A submitter who did not opt in gets no DM.
    submit_in_forum(&world, 1, "Crash on start", false).await;
    world.run(world.manager, "feedback", "status", json!([{"type": 4, "name": "id", "value": 2}, {"type": 4, "name": "status", "value": 0}])).await;
    human_pause().await;
    let dms: Vec<bool> = world
        .emu
        .requests()
        .into_iter()
        .filter_map(|r| {
            r.body["content"]
                .as_str()
                .and_then(|c| c.strip_prefix("Your feedback #"))
                .map(|rest| rest.starts_with('1'))
        })
        .collect();
    assert_eq!(
        dms.len(),
        3,
        "one DM per change, to the opted-in submitter only"
    );
    assert!(dms.iter().all(|about_1| *about_1), "no DM about #2");
    bot.terminate().await.unwrap();
    world.emu.assert_no_violations();
}

#[tokio::test]
async fn an_item_unanswered_past_the_sla_reminds_managers_once() {
    let world = World::new().await;
    let forum = world.emu.add_channel(world.guild, "feedback", 15);
    // An SLA of zero days: the check is due as soon as the item exists.
    let mut bot = world.start_bot_with(1, "[feedback]\nsla_days = 0\n").await;
    world.set_channel("feedback", forum).await;
    world.set_channel("reports", world.reports).await;
    submit_in_forum(&world, 0, "Faster search", false).await;
    let reminder = wait_posts(&world.emu, world.reports, 1).await.remove(0);
    let text = text_of(&reminder.body);
    assert!(
        text.contains("Feedback #1") && text.contains("no answer"),
        "{text}"
    );
    assert_eq!(reminder.body["allowed_mentions"]["parse"], json!([]));

    // A restart does not remind twice.
    bot.terminate().await.unwrap();
    let mut bot = world.start_bot_with(2, "[feedback]\nsla_days = 0\n").await;
    human_pause().await;
    assert_eq!(posts_in(&world.emu, world.reports).len(), 1);
    bot.terminate().await.unwrap();
    world.emu.assert_no_violations();
}
