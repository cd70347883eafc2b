//! Moderation (issue 19, part): saved replies (a form, fuzzy autocomplete, never a role or
//! everyone pinged, usage and history) and member flags to the managers' queue.

use serde_json::{json, Value};

use crate::common::*;

/// Saves a reply through `/replies add` and its form.
async fn add_reply(world: &World, name: &str, text: &str) -> String {
    let command = world.slash(
        world.manager,
        "replies",
        "add",
        json!([{"type": 3, "name": "name", "value": name}]),
    );
    let modal = command.response(WAIT).await.unwrap();
    assert_eq!(modal.body["type"], json!(9), "{}", modal.body);
    human_pause().await;
    let custom_id = modal.body["data"]["custom_id"].as_str().unwrap().to_owned();
    world
        .emu
        .modal_submit(
            world.guild,
            world.general,
            world.manager,
            &custom_id,
            &[("text", text)],
        )
        .response(WAIT)
        .await
        .unwrap();
    // The form's answer is a follow-up of the command.
    text_of(&command.followup(WAIT).await.unwrap().body)
}

#[tokio::test]
async fn saved_replies_never_ping_everyone_and_only_managers_post_them() {
    let world = World::new().await;
    let _bot = world.start_bot(1).await;
    let saved = add_reply(
        &world,
        "How-To-Ask",
        "@everyone {user}: please ask in {channel} with what you tried. <@&123>",
    )
    .await;
    assert!(saved.contains("`how-to-ask` is ready"), "{saved}");
    let bad = add_reply(&world, "typo", "Hi {usr}").await;
    assert!(bad.contains("unknown variable `{usr}`"), "{bad}");
    assert!(add_reply(&world, "rules", "Read {rules_channel}, {user}.")
        .await
        .contains("ready"));

    // Autocomplete: letters in order find the name.
    let choices = world
        .emu
        .autocomplete(
            world.guild,
            world.general,
            world.manager,
            "reply",
            json!([{"type": 3, "name": "name", "value": "hta", "focused": true}]),
        )
        .response(WAIT)
        .await
        .unwrap();
    assert_eq!(
        choices.body["data"]["choices"][0]["value"],
        json!("how-to-ask"),
        "{}",
        choices.body
    );

    // A member cannot post saved replies.
    let refused = world
        .emu
        .slash_command(
            world.guild,
            world.general,
            world.member,
            "reply",
            json!([{"type": 3, "name": "name", "value": "rules"}]),
        )
        .response(WAIT)
        .await
        .unwrap();
    assert!(is_ephemeral(&refused.body["data"]), "{}", refused.body);
    assert!(
        text_of(&refused.body["data"]).contains("Only community managers"),
        "{}",
        refused.body
    );

    // The manager posts it for the member: the member is pinged, nobody else.
    let posted = world
        .emu
        .slash_command(
            world.guild,
            world.general,
            world.manager,
            "reply",
            json!([
                {"type": 3, "name": "name", "value": "how-to-ask"},
                {"type": 6, "name": "member", "value": world.member.to_string()}
            ]),
        )
        .response(WAIT)
        .await
        .unwrap();
    let data = &posted.body["data"];
    assert!(!is_ephemeral(data), "{}", posted.body);
    let text = data["content"].as_str().unwrap();
    assert!(
        text.contains(&format!(
            "<@{}>: please ask in <#{}>",
            world.member, world.general
        )),
        "{text}"
    );
    let mentions = &data["allowed_mentions"];
    assert_eq!(mentions["parse"], json!([]), "{mentions}");
    assert_eq!(
        mentions["roles"].as_array().map_or(0, Vec::len),
        0,
        "{mentions}"
    );
    assert_eq!(
        mentions["users"],
        json!([world.member.to_string()]),
        "{mentions}"
    );

    // As a reply to a member's message, through the message command and a menu.
    let question =
        world
            .emu
            .user_message(world.general, world.member, "where are the rules?", None);
    let menu = world
        .emu
        .message_command(
            world.guild,
            world.general,
            world.manager,
            "Reply with saved reply",
            question,
        )
        .response(WAIT)
        .await
        .unwrap();
    let select = menu.body["data"]["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let picked = world
        .emu
        .select_menu(
            world.guild,
            world.general,
            world.manager,
            question,
            &select,
            &["rules"],
        )
        .response(WAIT)
        .await
        .unwrap();
    assert!(
        text_of(&picked.body["data"]).contains("Posting `rules`"),
        "{}",
        picked.body
    );
    // The greeting Hearth posts on joining comes first.
    let reply = wait_posts(&world.emu, world.general, 2).await.remove(1);
    assert_eq!(
        reply.body["message_reference"]["message_id"],
        json!(question.to_string()),
        "{}",
        reply.body
    );
    assert!(reply.body["content"]
        .as_str()
        .unwrap()
        .contains(&format!("<@{}>", world.member)));

    let stats = text_of(
        &world
            .run(world.manager, "replies", "stats", json!([]))
            .await,
    );
    assert!(
        stats.contains(&format!("`how-to-ask` by <@{}>: 1", world.manager)),
        "{stats}"
    );
    assert!(
        stats.contains(&format!("`rules` by <@{}>: 1", world.manager)),
        "{stats}"
    );
    world.emu.assert_no_violations();
}

/// A member flags a message through the message command and its form; returns the answer.
pub(crate) async fn flag(world: &World, flagger: u64, message: u64, reason: &str) -> Value {
    let command = world.emu.message_command(
        world.guild,
        world.general,
        flagger,
        "Flag for managers",
        message,
    );
    let modal = command.response(WAIT).await.unwrap();
    assert_eq!(modal.body["type"], json!(9), "{}", modal.body);
    human_pause().await;
    let custom_id = modal.body["data"]["custom_id"].as_str().unwrap().to_owned();
    world
        .emu
        .modal_submit(
            world.guild,
            world.general,
            flagger,
            &custom_id,
            &[("reason", reason)],
        )
        .response(WAIT)
        .await
        .unwrap();
    command.followup(WAIT).await.unwrap().body
}

#[tokio::test]
async fn a_flag_reaches_the_managers_queue_and_the_author_sees_nothing() {
    let world = World::new().await;
    let _bot = world.start_bot(1).await;
    world.set_channel("reports", world.reports).await;
    let author = world.emu.add_user("troll", false);
    world.emu.add_member(world.guild, author, &[]);
    let message = world
        .emu
        .user_message(world.general, author, "something nasty", None);
    let before = world.emu.requests().len();

    let answer = flag(&world, world.member, message, "Insults a newcomer").await;
    assert!(is_ephemeral(&answer), "{answer}");
    assert!(
        text_of(&answer).contains("the managers have it"),
        "{answer}"
    );
    let queue = wait_posts(&world.emu, world.reports, 1).await.remove(0);
    let text = queue.body["content"].as_str().unwrap();
    assert!(
        text.contains(&format!(
            "https://discord.com/channels/{}/{}/{message}",
            world.guild, world.general
        )) && text.contains("Insults a newcomer"),
        "{text}"
    );
    assert!(!text.contains("something nasty"), "no message text: {text}");
    assert_eq!(
        queue.body["allowed_mentions"]["parse"],
        json!([]),
        "{}",
        queue.body
    );
    assert_eq!(
        queue.body["allowed_mentions"]["users"]
            .as_array()
            .map_or(0, Vec::len),
        0,
        "nobody pinged: {}",
        queue.body
    );

    // Someone else flags it too: grouped under the same flag.
    let other = world.emu.add_user("ola", false);
    world.emu.add_member(world.guild, other, &[]);
    flag(&world, other, message, "Rude").await;
    let listed = text_of(&world.run(world.manager, "flags", "list", json!([])).await);
    assert!(
        listed.contains("#1") && listed.contains("2 flag(s)"),
        "{listed}"
    );
    assert!(!listed.contains("#2"), "{listed}");

    // The author is told nothing: no DM, no post outside the managers' queue and its thread.
    let queue_thread = tokio::time::timeout(WAIT, async {
        loop {
            let thread = world.emu.requests().into_iter().find_map(|r| {
                (r.path
                    == format!(
                        "/channels/{}/messages/{}/threads",
                        world.reports,
                        queue.response["id"].as_str()?
                    ))
                .then(|| r.response["id"].as_str().map(str::to_owned))
                .flatten()
            });
            if let Some(thread) = thread {
                break thread;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap();
    for request in &world.emu.requests()[before..] {
        assert!(
            request.path != "/users/@me/channels",
            "a DM was opened: {}",
            request.body
        );
        if request.method == "POST" && request.path.ends_with("/messages") {
            assert!(
                request.path.contains(&world.reports.to_string())
                    || request.path.contains(&queue_thread),
                "posted outside the queue: {} {}",
                request.path,
                request.body
            );
        }
    }
    let resolved = text_of(
        &world
            .run(
                world.manager,
                "flags",
                "resolve",
                json!([{"type": 4, "name": "id", "value": 1}, {"type": 3, "name": "note", "value": "warned"}]),
            )
            .await,
    );
    assert!(resolved.contains("Flag #1 is resolved"), "{resolved}");
    let listed = text_of(&world.run(world.manager, "flags", "list", json!([])).await);
    assert!(listed.contains("No open flags"), "{listed}");
    world.emu.assert_no_violations();
}

#[tokio::test]
async fn automod_needs_manage_server_and_the_doctor_says_so() {
    let world = World::new().await;
    let _bot = world.start_bot(1).await;
    let refused = text_of(
        &world
            .run(world.manager, "guidelines", "automod", json!([]))
            .await,
    );
    assert!(
        refused.contains("/config channel purpose:reports"),
        "alerts need the managers' queue first: {refused}"
    );
    world.set_channel("reports", world.reports).await;
    // Hearth's invite does not ask for Manage Server: Discord refuses.
    let refused = text_of(
        &world
            .run(world.manager, "guidelines", "automod", json!([]))
            .await,
    );
    assert!(refused.contains("I need **Manage Server**"), "{refused}");
    let doctor = text_of(
        &world
            .run(world.manager, "config", "doctor", json!([]))
            .await,
    );
    assert!(doctor.contains("I lack Manage Server"), "{doctor}");

    world.emu.set_role_permissions(
        world.guild,
        world.emu.bot_role(world.guild),
        BOT_PERMISSIONS | (1 << 5),
    );
    let made = text_of(
        &world
            .run(
                world.manager,
                "guidelines",
                "automod",
                json!([{"type": 4, "name": "mention_limit", "value": 6}]),
            )
            .await,
    );
    assert_eq!(made.matches("created").count(), 2, "{made}");
    let again = text_of(
        &world
            .run(world.manager, "guidelines", "automod", json!([]))
            .await,
    );
    assert_eq!(
        again.matches("already has one").count(),
        2,
        "Discord allows one of each: {again}"
    );
    let rules: Vec<Value> = world
        .emu
        .requests()
        .into_iter()
        .filter(|r| {
            r.method == "POST" && r.path.ends_with("/auto-moderation/rules") && r.status == 200
        })
        .map(|r| r.body)
        .collect();
    assert_eq!(rules.len(), 2);
    for rule in &rules {
        assert_eq!(
            rule["actions"][1]["metadata"]["channel_id"],
            json!(world.reports.to_string()),
            "alerts go to the managers' queue: {rule}"
        );
    }
    world.emu.assert_no_violations();
}

#[tokio::test]
async fn guidelines_are_posted_as_an_embed_that_pings_nobody() {
    let world = World::new().await;
    let _bot = world.start_bot(1).await;
    let command = world.slash(world.manager, "guidelines", "post", json!([]));
    let modal = command.response(WAIT).await.unwrap();
    assert_eq!(modal.body["type"], json!(9), "{}", modal.body);
    human_pause().await;
    let custom_id = modal.body["data"]["custom_id"].as_str().unwrap().to_owned();
    world
        .emu
        .modal_submit(
            world.guild,
            world.general,
            world.manager,
            &custom_id,
            &[
                ("title", "House rules"),
                ("text", "1. Be kind @everyone\n2. No spam"),
            ],
        )
        .response(WAIT)
        .await
        .unwrap();
    assert!(text_of(&command.followup(WAIT).await.unwrap().body).contains("being posted"));
    let post = wait_posts(&world.emu, world.general, 2).await.remove(1);
    assert_eq!(
        post.body["embeds"][0]["title"],
        json!("House rules"),
        "{}",
        post.body
    );
    assert_eq!(
        post.body["allowed_mentions"]["parse"],
        json!([]),
        "{}",
        post.body
    );
}
