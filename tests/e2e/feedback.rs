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
