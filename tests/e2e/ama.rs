//! AMAs (issue 6, part): event, questions (anonymous to members), toggling upvotes, queue,
//! answers and the recap that ends the event.

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn an_ama_from_creation_to_recap() {
    let world = World::new().await;
    let channel = world.emu.add_channel(world.guild, "ama", 0);
    let mut bot = world.start_bot(1).await;
    world.set_channel("ama", channel).await;
    let host = world.emu.add_user("host", false);
    world.emu.add_member(world.guild, host, &[]);
    let start = (hearth::domain::clock::now() + chrono::Duration::days(2))
        .format("%Y-%m-%d 18:00")
        .to_string();
    let created = world
        .run(
            world.manager,
            "ama",
            "create",
            json!([
                {"type": 3, "name": "title", "value": "Building synths"},
                {"type": 6, "name": "host", "value": host.to_string()},
                {"type": 3, "name": "start", "value": start}
            ]),
        )
        .await;
    assert!(
        text_of(&created).contains("The Discord event is created"),
        "{created}"
    );
    let event = world
        .emu
        .wait_for_request(
            |r| r.method == "POST" && r.path.ends_with("/scheduled-events"),
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(event.body["name"], "AMA: Building synths");
    let calendar = text_of(
        &world
            .emu
            .slash_command(
                world.guild,
                world.general,
                world.member,
                "calendar",
                json!([]),
            )
            .response(WAIT)
            .await
            .unwrap()
            .body["data"],
    );
    assert!(
        calendar.contains("AMA: Building synths"),
        "AMAs appear in /calendar: {calendar}"
    );
    let export = world
        .emu
        .slash_command(
            world.guild,
            world.general,
            world.member,
            "calendar",
            json!([{"type": 4, "name": "format", "value": 1}]),
        )
        .response(WAIT)
        .await
        .unwrap();
    let (_, ics) = export.files.first().cloned().expect("an .ics attachment");
    let ics = String::from_utf8_lossy(&ics);
    assert!(
        ics.contains("SUMMARY:AMA: Building synths"),
        "and in its .ics export: {ics}"
    );
    let post = wait_posts(&world.emu, channel, 1).await.remove(0);
    let post_id: u64 = post.response["id"].as_str().unwrap().parse().unwrap();
    let ask = post.body["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // An anonymous question from a member.
    let modal = world
        .emu
        .button_click(world.guild, channel, world.member, post_id, &ask)
        .response(WAIT)
        .await
        .unwrap();
    assert_eq!(modal.body["type"], json!(9));
    let modal_id = modal.body["data"]["custom_id"].as_str().unwrap().to_owned();
    let thanks = world
        .emu
        .modal_submit(
            world.guild,
            channel,
            world.member,
            &modal_id,
            &[("question", "How did you start?"), ("anonymous", "yes")],
        )
        .response(WAIT)
        .await
        .unwrap();
    assert!(text_of(&thanks.body["data"]).contains("Members will not see who asked"));
    let question = wait_posts(&world.emu, channel, 2).await.remove(1);
    let shown = question.body["content"].as_str().unwrap();
    assert!(
        shown.contains("a member (anonymous)") && !shown.contains(&world.member.to_string()),
        "anonymous to members: {shown}"
    );
    let vote = question.body["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let question_id: u64 = question.response["id"].as_str().unwrap().parse().unwrap();

    // Votes toggle: one per member.
    let click = |user| {
        world
            .emu
            .button_click(world.guild, channel, user, question_id, &vote)
    };
    assert!(
        text_of(&click(world.manager).response(WAIT).await.unwrap().body["data"])
            .contains("1 vote")
    );
    assert!(
        text_of(&click(world.manager).response(WAIT).await.unwrap().body["data"])
            .contains("Vote removed (Q1 has 0 vote")
    );
    click(world.manager).response(WAIT).await.unwrap();
    assert!(text_of(&click(host).response(WAIT).await.unwrap().body["data"]).contains("2 vote"));

    // The host sees the queue without the anonymous author; a manager sees who asked.
    let host_view = text_of(
        &world
            .run(
                host,
                "ama",
                "queue",
                json!([{"type": 4, "name": "id", "value": 1}]),
            )
            .await,
    );
    assert!(
        host_view.contains("2 vote(s) · anonymous")
            && !host_view.contains(&world.member.to_string()),
        "{host_view}"
    );
    let manager_view = text_of(
        &world
            .run(
                world.manager,
                "ama",
                "queue",
                json!([{"type": 4, "name": "id", "value": 1}]),
            )
            .await,
    );
    assert!(
        manager_view.contains(&format!(
            "anonymous (<@{}>, only managers see this)",
            world.member
        )),
        "{manager_view}"
    );
    let refused = text_of(
        &world
            .run(
                world.member,
                "ama",
                "queue",
                json!([{"type": 4, "name": "id", "value": 1}]),
            )
            .await,
    );
    assert!(refused.contains("Only the host"), "{refused}");

    world.run(host, "ama", "answer", json!([{"type": 4, "name": "question", "value": 1}, {"type": 3, "name": "answer", "value": "With a kit!"}])).await;
    let answered = wait_posts(&world.emu, channel, 3).await.remove(2);
    assert!(
        text_of(&answered.body).contains("With a kit!")
            && !text_of(&answered.body).contains(&world.member.to_string())
    );

    let closed = world
        .run(
            world.manager,
            "ama",
            "close",
            json!([{"type": 4, "name": "id", "value": 1}]),
        )
        .await;
    assert!(text_of(&closed).contains("closed"), "{closed}");
    let recap = wait_posts(&world.emu, channel, 4).await.remove(3);
    assert!(
        text_of(&recap.body).contains("1 answered, 0 unanswered, 1 participant(s)"),
        "{}",
        text_of(&recap.body)
    );
    world
        .emu
        .wait_for_request(
            |r| {
                r.method == "PATCH"
                    && r.path.contains("/scheduled-events/")
                    && r.body["status"] == json!(4)
            },
            WAIT,
        )
        .await
        .unwrap();
    bot.terminate().await.unwrap();
    world.emu.assert_no_violations();
}

/// Creates AMA `title` hosted by the manager, starting in two days.
async fn create_ama(world: &World, title: &str) {
    let start = (hearth::domain::clock::now() + chrono::Duration::days(2))
        .format("%Y-%m-%d 18:00")
        .to_string();
    let created = world
        .run(
            world.manager,
            "ama",
            "create",
            json!([
                {"type": 3, "name": "title", "value": title},
                {"type": 6, "name": "host", "value": world.manager.to_string()},
                {"type": 3, "name": "start", "value": start}
            ]),
        )
        .await;
    assert!(text_of(&created).contains(title), "{created}");
}

fn ask(world: &World, options: serde_json::Value) -> discord_emulator::InteractionHandle {
    world.slash(world.member, "ama", "ask", options)
}

#[tokio::test]
async fn ama_ask_opens_the_same_question_form_as_the_button() {
    let world = World::new().await;
    let channel = world.emu.add_channel(world.guild, "ama", 0);
    let mut bot = world.start_bot(1).await;
    let put = world
        .emu
        .wait_for_request(|r| r.method == "PUT" && r.path.ends_with("/commands"), WAIT)
        .await
        .unwrap();
    let ama = put
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "ama")
        .unwrap();
    let ask_command = ama["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "ask")
        .expect("/ama ask is registered");
    assert_eq!(ask_command["options"][0]["name"], "ama");
    assert_eq!(ask_command["options"][0]["autocomplete"], json!(true));
    world.set_channel("ama", channel).await;

    // Nothing open yet.
    let none = ask(&world, json!([])).response(WAIT).await.unwrap();
    assert!(is_ephemeral(&none.body["data"]), "{}", none.body);
    assert!(text_of(&none.body["data"]).contains("No AMA is open"));

    create_ama(&world, "Building synths").await;
    wait_posts(&world.emu, channel, 1).await;

    // The only open AMA is the default: a modal, then the question is posted as from the button.
    let modal = ask(&world, json!([])).response(WAIT).await.unwrap();
    assert_eq!(modal.body["type"], json!(9), "{}", modal.body);
    assert_eq!(modal.body["data"]["custom_id"], "hearth:ama:question:1");
    human_pause().await;
    let thanks = world
        .emu
        .modal_submit(
            world.guild,
            world.general,
            world.member,
            "hearth:ama:question:1",
            &[("question", "Which synth first?"), ("anonymous", "no")],
        )
        .response(WAIT)
        .await
        .unwrap();
    assert!(text_of(&thanks.body["data"]).contains("Your question Q1 is in."));
    let question = wait_posts(&world.emu, channel, 2).await.remove(1);
    assert!(
        text_of(&question.body).contains("Which synth first?")
            && text_of(&question.body).contains(&world.member.to_string()),
        "{}",
        question.body
    );

    // Two open: autocomplete offers both, and a choice is needed.
    create_ama(&world, "Mixing tips").await;
    let choices = world
        .emu
        .autocomplete(
            world.guild,
            world.general,
            world.member,
            "ama",
            json!([{"type": 1, "name": "ask", "options": [
                {"type": 4, "name": "ama", "value": "", "focused": true}
            ]}]),
        )
        .response(WAIT)
        .await
        .unwrap();
    assert_eq!(choices.body["type"], json!(8), "{}", choices.body);
    let offered: Vec<(String, u64)> = choices.body["data"]["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["value"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        offered,
        [
            ("#2 Mixing tips".to_owned(), 2),
            ("#1 Building synths".to_owned(), 1)
        ]
    );
    let several = ask(&world, json!([])).response(WAIT).await.unwrap();
    assert!(
        text_of(&several.body["data"]).contains("Several AMAs are open"),
        "{}",
        several.body
    );
    let chosen = ask(&world, json!([{"type": 4, "name": "ama", "value": 2}]))
        .response(WAIT)
        .await
        .unwrap();
    assert_eq!(chosen.body["data"]["custom_id"], "hearth:ama:question:2");

    // A closed AMA takes no more questions.
    world
        .run(
            world.manager,
            "ama",
            "close",
            json!([{"type": 4, "name": "id", "value": 1}]),
        )
        .await;
    let closed = ask(&world, json!([{"type": 4, "name": "ama", "value": 1}]))
        .response(WAIT)
        .await
        .unwrap();
    assert!(
        text_of(&closed.body["data"]).contains("AMA #1 is closed"),
        "{}",
        closed.body
    );
    bot.terminate().await.unwrap();
    world.emu.assert_no_violations();
}
