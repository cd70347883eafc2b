//! Events (issue 16): the RSVP card, capacity with an ordered waitlist and offers that expire,
//! reminders (skipped when their time passed during downtime, never doubled, never to Can't go),
//! attendance from voice presence, following edits made in Discord's UI, and Discord's limit of
//! 100 events.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::*;

/// The events channel, configured, and a bot started with `extra` config.
async fn events_world(extra: &str) -> (World, u64, hearth::demo::harness::BotProcess) {
    let world = World::new().await;
    let channel = world.emu.add_channel(world.guild, "events", 0);
    let bot = world.start_bot_with(1, extra).await;
    world.set_channel("events", channel).await;
    (world, channel, bot)
}

fn member(world: &World, name: &str) -> u64 {
    let user = world.emu.add_user(name, false);
    world.emu.add_member(world.guild, user, &[]);
    user
}

/// `/event create` with `options`; returns the manager's answer.
pub(crate) async fn create(world: &World, options: Value) -> String {
    text_of(&world.run(world.manager, "event", "create", options).await)
}

/// The RSVP card (the first post in the events channel): its id (also the event thread's) and
/// its buttons' custom ids by label.
async fn card(world: &World, channel: u64) -> (u64, Vec<(String, String)>) {
    let post = wait_posts(&world.emu, channel, 1).await.remove(0);
    let id = post.response["id"].as_str().unwrap().parse().unwrap();
    let buttons = post.body["components"][0]["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["label"].as_str().unwrap().to_owned(),
                b["custom_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (id, buttons)
}

pub(crate) fn button<'a>(buttons: &'a [(String, String)], label: &str) -> &'a str {
    &buttons.iter().find(|(l, _)| l == label).unwrap().1
}

/// A member clicks a button on a message; returns the ephemeral answer's text.
pub(crate) async fn click(
    world: &World,
    channel: u64,
    user: u64,
    message: u64,
    custom_id: &str,
) -> String {
    let answer = world
        .emu
        .button_click(world.guild, channel, user, message, custom_id)
        .response(WAIT)
        .await
        .unwrap();
    assert!(is_ephemeral(&answer.body["data"]), "{}", answer.body);
    text_of(&answer.body["data"])
}

fn contents(posts: &[discord_emulator::RecordedRequest]) -> Vec<String> {
    posts
        .iter()
        .map(|p| p.body["content"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn a_full_event_waitlists_offers_in_order_and_an_expired_offer_passes_on() {
    let (world, channel, _bot) = events_world("[events]\noffer_window_secs = 6\n").await;
    let created = create(
        &world,
        json!([
            {"type": 3, "name": "title", "value": "Board games"},
            {"type": 3, "name": "start", "value": "in 2h"},
            {"type": 4, "name": "capacity", "value": 2}
        ]),
    )
    .await;
    assert!(created.contains("Event #1 is created"), "{created}");
    let discord_event = world
        .emu
        .wait_for_request(
            |r| r.method == "POST" && r.path.ends_with("/scheduled-events"),
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(discord_event.body["entity_type"], 3);
    let (card_id, buttons) = card(&world, channel).await;
    let thread = card_id;
    let (going, cant, maybe) = (
        button(&buttons, "Going"),
        button(&buttons, "Can't go"),
        button(&buttons, "Maybe"),
    );
    let (a, b, c, d, e) = (
        world.member,
        member(&world, "bea"),
        member(&world, "cy"),
        member(&world, "dee"),
        member(&world, "eli"),
    );
    assert!(click(&world, channel, a, card_id, going)
        .await
        .contains("You're going"));
    assert!(click(&world, channel, b, card_id, going)
        .await
        .contains("You're going"));
    let third = click(&world, channel, c, card_id, going).await;
    assert!(third.contains("#1 on the waitlist"), "{third}");

    // A Going member switches to Can't go: the spot is offered to the first in line.
    assert!(click(&world, channel, a, card_id, cant)
        .await
        .contains("can't go"));
    let offer = wait_posts(&world.emu, thread, 1).await.remove(0);
    let text = offer.body["content"].as_str().unwrap();
    assert!(
        text.contains(&format!("<@{c}>")) && text.contains("a spot opened up"),
        "{text}"
    );
    assert_eq!(
        offer.body["allowed_mentions"]["users"],
        json!([c.to_string()])
    );
    let confirm = offer.body["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let offer_id: u64 = offer.response["id"].as_str().unwrap().parse().unwrap();
    let taken = click(&world, thread, c, offer_id, &confirm).await;
    assert!(taken.contains("The spot is yours"), "{taken}");

    // Two more wait; a Going member leaves; the offer to the first expires unconfirmed and
    // passes to the second.
    assert!(click(&world, channel, d, card_id, going)
        .await
        .contains("#1 on the waitlist"));
    assert!(click(&world, channel, e, card_id, going)
        .await
        .contains("#2 on the waitlist"));
    assert!(click(&world, channel, b, card_id, maybe)
        .await
        .contains("maybe"));
    let posts = wait_posts(&world.emu, thread, 4).await;
    let texts = contents(&posts);
    assert!(
        texts[1].contains(&format!("<@{d}>")) && texts[1].contains("a spot opened up"),
        "{texts:#?}"
    );
    assert!(
        texts[2].contains(&format!("<@{d}>")) && texts[2].contains("did not confirm in time"),
        "{texts:#?}"
    );
    assert!(
        texts[3].contains(&format!("<@{e}>")) && texts[3].contains("a spot opened up"),
        "{texts:#?}"
    );
    let late = click(&world, thread, d, offer_id, &confirm).await;
    assert!(late.contains("no spot held for you"), "{late}");
    let e_offer: u64 = posts[3].response["id"].as_str().unwrap().parse().unwrap();
    assert!(click(&world, thread, e, e_offer, &confirm)
        .await
        .contains("The spot is yours"));

    let report = text_of(
        &world
            .run(
                world.manager,
                "event",
                "report",
                json!([{"type": 4, "name": "id", "value": 1}]),
            )
            .await,
    );
    assert!(
        report.contains("Going 2 · Maybe 2 · Can't go 1 · Waitlist 0"),
        "c and e going; b and d maybe; a can't: {report}"
    );
    let list = text_of(&world.run(world.member, "event", "list", json!([])).await);
    assert!(
        list.contains("Board games") && list.contains("Going 2/2"),
        "{list}"
    );
}

#[tokio::test]
async fn reminders_skip_what_passed_while_down_send_the_rest_once_and_never_to_cant_go() {
    // Wide margins: a loaded machine may take seconds to restart the bot.
    let extra = "[events]\nreminders = \"30s, 8s\"\nreminder_grace_secs = 3\n";
    let (world, channel, mut bot) = events_world(extra).await;
    let created = create(
        &world,
        json!([
            {"type": 3, "name": "title", "value": "Synth jam"},
            {"type": 3, "name": "start", "value": "in 40s"}
        ]),
    )
    .await;
    assert!(created.contains("is created"), "{created}");
    let (card_id, buttons) = card(&world, channel).await;
    let thread = card_id;
    let (going, maybe, cant) = (
        button(&buttons, "Going"),
        button(&buttons, "Maybe"),
        button(&buttons, "Can't go"),
    );
    let (stays, switches, unsure) = (world.member, member(&world, "sam"), member(&world, "uma"));
    assert!(click(&world, channel, stays, card_id, going)
        .await
        .contains("Reminders: 30s, 8s before"));
    click(&world, channel, switches, card_id, going).await;
    click(&world, channel, unsure, card_id, maybe).await;
    // Changed their mind between scheduling and sending: gets nothing.
    click(&world, channel, switches, card_id, cant).await;

    // Down across the first reminder (due 10 s after the event was created).
    bot.terminate().await.unwrap();
    tokio::time::sleep(Duration::from_secs(14)).await;
    let _bot = world.start_bot_with(2, extra).await;
    // The second reminder is due 8 s before the start (32 s after creation).
    let deadline = std::time::Instant::now() + Duration::from_secs(45);
    while !contents(&posts_in(&world.emu, thread))
        .iter()
        .any(|t| t.contains("reminder:"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the second reminder never came"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Time for a double to show up, if there were one.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let texts = contents(&posts_in(&world.emu, thread));
    let reminders: Vec<&String> = texts.iter().filter(|t| t.contains("reminder:")).collect();
    assert_eq!(
        reminders.len(),
        1,
        "the 30s reminder was due while Hearth was down (skipped), the 8s one is sent once: {texts:#?}"
    );
    assert!(reminders[0].contains(&format!("<@{stays}>")), "{texts:#?}");
    assert!(
        !texts.iter().any(|t| t.contains(&format!("<@{switches}>"))),
        "Can't go is never reminded: {texts:#?}"
    );
    assert!(
        !texts.iter().any(|t| t.contains("still coming")),
        "Maybe's one nudge is at the first offset, which passed while down: {texts:#?}"
    );
}

#[tokio::test]
async fn attendance_counts_time_in_the_event_channel_during_the_event_only() {
    let extra = "[events]\nattendance_min_secs = 6\nattendance_share = 0.25\n";
    let (world, channel, _bot) = events_world(extra).await;
    let stage = world.emu.add_channel(world.guild, "Hangout", 2);
    let other = world.emu.add_channel(world.guild, "Other voice", 2);
    let created = create(
        &world,
        json!([
            {"type": 3, "name": "title", "value": "Voice meetup"},
            {"type": 3, "name": "start", "value": "in 3s"},
            {"type": 3, "name": "duration", "value": "2m"},
            {"type": 7, "name": "channel", "value": stage.to_string()}
        ]),
    )
    .await;
    assert!(created.contains("is created"), "{created}");
    let request = world
        .emu
        .wait_for_request(
            |r| r.method == "POST" && r.path.ends_with("/scheduled-events"),
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(request.body["entity_type"], 2);
    assert_eq!(request.body["channel_id"], stage.to_string());
    let (stayed, dropped_in, elsewhere) =
        (world.member, member(&world, "dru"), member(&world, "ezra"));
    // Early and staying: counts from the start.
    world.emu.voice_join(world.guild, stage, stayed);
    world.emu.voice_join(world.guild, other, elsewhere);
    tokio::time::sleep(Duration::from_secs(4)).await;
    world.emu.voice_join(world.guild, stage, dropped_in);
    tokio::time::sleep(Duration::from_secs(1)).await;
    world.emu.voice_leave(world.guild, dropped_in);
    tokio::time::sleep(Duration::from_secs(8)).await;
    let _ = channel;
    let report = text_of(
        &world
            .run(
                world.manager,
                "event",
                "report",
                json!([{"type": 4, "name": "id", "value": 1}]),
            )
            .await,
    );
    assert!(
        report.contains("Attended 1 "),
        "only the member who stayed: {report}"
    );
    assert!(
        report.contains("walk-ins 1"),
        "who came without answering Going: {report}"
    );
    assert!(
        report.contains("first-time attendees 1 · newcomers (joined < 30 days) 0"),
        "{report}"
    );
    let stats = text_of(&world.run(world.manager, "stats", "events", json!([])).await);
    assert!(
        stats.contains("#1 Voice meetup") && stats.contains("attended 1"),
        "{stats}"
    );
    assert!(stats.contains("Do events keep newcomers?"), "{stats}");
    let store = world.store().await;
    let stays = hearth::db::events::stays(&store, 1).await.unwrap();
    assert!(
        stays
            .iter()
            .all(|s| hearth::db::from_sql_id(s.user_id) != elsewhere),
        "another voice channel is not the event: {stays:?}"
    );
}

#[tokio::test]
async fn an_event_moved_or_cancelled_in_discord_is_followed_and_going_is_told_once() {
    let (world, channel, _bot) = events_world("").await;
    create(
        &world,
        json!([
            {"type": 3, "name": "title", "value": "Reading club"},
            {"type": 3, "name": "start", "value": "in 3h"},
            {"type": 3, "name": "location", "value": "The library"}
        ]),
    )
    .await;
    let (card_id, buttons) = card(&world, channel).await;
    click(
        &world,
        channel,
        world.member,
        card_id,
        button(&buttons, "Going"),
    )
    .await;
    let discord_id: u64 = world.emu.scheduled_events(world.guild)[0]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let later = hearth::domain::clock::now() + chrono::Duration::hours(5);
    let changes = json!({
        "scheduled_start_time": later.to_rfc3339(),
        "scheduled_end_time": (later + chrono::Duration::hours(1)).to_rfc3339(),
    });
    world
        .emu
        .edit_event_in_ui(world.guild, discord_id, &changes);
    world
        .emu
        .edit_event_in_ui(world.guild, discord_id, &changes);
    let posts = wait_posts(&world.emu, card_id, 1).await;
    let text = posts[0].body["content"].as_str().unwrap().to_owned();
    assert!(
        text.contains(&format!("<@{}>", world.member)) && text.contains("moved"),
        "{text}"
    );
    assert!(
        text.contains(&format!("<t:{}:F>", later.timestamp())),
        "{text}"
    );
    world
        .emu
        .event_interest(world.guild, discord_id, world.manager, true);
    world
        .emu
        .edit_event_in_ui(world.guild, discord_id, &json!({ "status": 4 }));
    let posts = wait_posts(&world.emu, card_id, 2).await;
    assert!(
        contents(&posts)[1].contains("is cancelled"),
        "{:#?}",
        contents(&posts)
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        posts_in(&world.emu, card_id).len(),
        2,
        "the repeated move is told once: {:#?}",
        contents(&posts_in(&world.emu, card_id))
    );
    let store = world.store().await;
    let event = hearth::db::events::by_id(&store, 1).await.unwrap().unwrap();
    assert_eq!(event.status, "cancelled");
    assert_eq!(event.interested, 1, "Interested is a soft count");
    assert_eq!(event.start_at, later.timestamp());
}

#[tokio::test]
async fn a_guild_at_discords_limit_of_100_events_gets_a_clear_answer() {
    let (world, channel, _bot) = events_world("").await;
    world.emu.add_scheduled_events(world.guild, 100);
    let answer = create(
        &world,
        json!([
            {"type": 3, "name": "title", "value": "One too many"},
            {"type": 3, "name": "start", "value": "in 1d"}
        ]),
    )
    .await;
    assert!(
        answer.contains("maximum of 100 scheduled events"),
        "{answer}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        posts_in(&world.emu, channel).is_empty(),
        "no card for an event Discord refused"
    );
}

#[tokio::test]
async fn a_role_restricted_event_refuses_others_and_a_cutoff_closes_answers() {
    let (world, channel, _bot) = events_world("").await;
    let players = world.emu.add_role(world.guild, "Players", 0);
    let player = world.emu.add_user("pat", false);
    world.emu.add_member(world.guild, player, &[players]);
    let created = create(
        &world,
        json!([
            {"type": 3, "name": "title", "value": "Ranked night"},
            {"type": 3, "name": "start", "value": "in 2h"},
            {"type": 8, "name": "role", "value": players.to_string()},
            {"type": 3, "name": "cutoff", "value": "119m50s"}
        ]),
    )
    .await;
    assert!(created.contains("is created"), "{created}");
    let (card_id, buttons) = card(&world, channel).await;
    let card_text = posts_in(&world.emu, channel)[0].body["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(card_text.contains(&format!("<@&{players}>")), "{card_text}");
    assert_eq!(
        posts_in(&world.emu, channel)[0].body["allowed_mentions"]["parse"],
        json!([]),
        "naming the role pings nobody"
    );
    let refused = click(
        &world,
        channel,
        world.member,
        card_id,
        button(&buttons, "Going"),
    )
    .await;
    assert!(refused.contains("is for members with the"), "{refused}");
    let accepted = click(&world, channel, player, card_id, button(&buttons, "Going")).await;
    assert!(accepted.contains("You're going"), "{accepted}");
    tokio::time::sleep(Duration::from_secs(11)).await;
    let closed = click(&world, channel, player, card_id, button(&buttons, "Maybe")).await;
    assert!(closed.contains("cutoff has passed"), "{closed}");
}

#[tokio::test]
async fn feedback_after_the_event_is_for_attendees_only_and_anonymous_means_anonymous() {
    let (world, channel, _bot) = events_world("").await;
    let attending = world.emu.add_role(world.guild, "Attending", 0);
    let created = create(
        &world,
        json!([
            {"type": 3, "name": "title", "value": "Park cleanup"},
            {"type": 3, "name": "start", "value": "in 5s"},
            {"type": 3, "name": "duration", "value": "1m"},
            {"type": 3, "name": "location", "value": "City park"},
            {"type": 8, "name": "attendee_role", "value": attending.to_string()}
        ]),
    )
    .await;
    assert!(created.contains("is created"), "{created}");
    let (card_id, buttons) = card(&world, channel).await;
    let came = world.member;
    let stayed_home = member(&world, "hal");
    let has_role = |user: u64| {
        world.emu.member(world.guild, user).unwrap()["roles"]
            .as_array()
            .unwrap()
            .contains(&json!(attending.to_string()))
    };
    // The temporary attendee role: given at Going, taken back at Can't go and after the event.
    click(&world, channel, came, card_id, button(&buttons, "Going")).await;
    click(
        &world,
        channel,
        stayed_home,
        card_id,
        button(&buttons, "Going"),
    )
    .await;
    click(
        &world,
        channel,
        stayed_home,
        card_id,
        button(&buttons, "Can't go"),
    )
    .await;
    let deadline = std::time::Instant::now() + WAIT;
    while !has_role(came) || has_role(stayed_home) {
        assert!(
            std::time::Instant::now() < deadline,
            "role given to Going only"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let checked_in = click(&world, channel, came, card_id, button(&buttons, "Check in")).await;
    assert!(checked_in.contains("Checked in"), "{checked_in}");

    // At the end, the attendees are asked in the event thread.
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let request = loop {
        let found = posts_in(&world.emu, card_id).into_iter().find(|p| {
            p.body["content"]
                .as_str()
                .unwrap_or_default()
                .contains("How was it?")
        });
        if let Some(found) = found {
            break found;
        }
        assert!(std::time::Instant::now() < deadline, "no feedback request");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let text = request.body["content"].as_str().unwrap();
    assert!(
        text.contains(&format!("<@{came}>")) && !text.contains(&stayed_home.to_string()),
        "{text}"
    );
    let rate = request.body["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let request_id: u64 = request.response["id"].as_str().unwrap().parse().unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    while has_role(came) {
        assert!(
            std::time::Instant::now() < deadline,
            "the attendee role ends with the event"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let refused = click(&world, card_id, stayed_home, request_id, &rate).await;
    assert!(refused.contains("Only members who attended"), "{refused}");

    // The survey engine's form: the 1-5 menu, Finish, then the comment and the choice to sign.
    let rate_it = |comment: &'static str, sign: &'static str| {
        let (world, rate) = (&world, rate.clone());
        async move {
            let menus = world
                .emu
                .button_click(world.guild, card_id, came, request_id, &rate)
                .response(WAIT)
                .await
                .unwrap();
            let rows = menus.body["data"]["components"].as_array().unwrap().clone();
            assert_eq!(rows.len(), 2, "the score menu and Finish: {rows:?}");
            let id_of = |row: usize| {
                rows[row]["components"][0]["custom_id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            };
            let ack = world
                .emu
                .select_menu(world.guild, card_id, came, request_id, &id_of(0), &["4"])
                .response(WAIT)
                .await
                .unwrap();
            assert_eq!(ack.body["type"], json!(6), "{}", ack.body);
            let form = world
                .emu
                .button_click(world.guild, card_id, came, request_id, &id_of(1))
                .response(WAIT)
                .await
                .unwrap();
            assert_eq!(form.body["type"], json!(9), "a form: {}", form.body);
            let form_id = form.body["data"]["custom_id"].as_str().unwrap().to_owned();
            human_pause().await;
            let saved = world
                .emu
                .modal_submit(
                    world.guild,
                    card_id,
                    came,
                    &form_id,
                    &[("q1", comment), ("sign", sign)],
                )
                .response(WAIT)
                .await
                .unwrap();
            text_of(&saved.body["data"])
        }
    };
    let saved = rate_it("Great people, more bags next time", "no").await;
    assert!(saved.contains("anonymously"), "{saved}");

    let report = text_of(
        &world
            .run(
                world.manager,
                "event",
                "report",
                json!([{"type": 4, "name": "id", "value": 1}]),
            )
            .await,
    );
    assert!(
        report.contains("average 4.0/5 from 1 response(s)"),
        "{report}"
    );
    assert!(
        report.contains("more bags next time (4/5, anonymous)"),
        "{report}"
    );
    assert!(
        !report.contains(&came.to_string()),
        "the author is never shown: {report}"
    );
    let json: Value = serde_json::from_str(&hearth_report(&world, &["--format", "json"])).unwrap();
    let event = &json["events"][0];
    assert_eq!(
        (
            event["title"].as_str(),
            event["attended"].as_u64(),
            event["score"].as_f64(),
            event["responses"].as_u64()
        ),
        (Some("Park cleanup"), Some(1), Some(4.0), Some(1)),
        "{event}"
    );

    // Answering again replaces the answer; signing it names the author, by their choice only.
    let saved = rate_it("Signed: more bags", "yes").await;
    assert!(saved.contains("with your name"), "{saved}");
    let report = text_of(
        &world
            .run(
                world.manager,
                "event",
                "report",
                json!([{"type": 4, "name": "id", "value": 1}]),
            )
            .await,
    );
    assert!(
        report.contains("from 1 response(s)")
            && report.contains(&format!("Signed: more bags (4/5, <@{came}>)")),
        "{report}"
    );
}

#[tokio::test]
async fn a_weekly_series_keeps_19_00_local_across_a_dst_change_and_going_to_all_follows_it() {
    let (world, channel, _bot) = events_world("").await;
    world
        .run(
            world.manager,
            "config",
            "timezone",
            json!([{"type": 3, "name": "name", "value": "Europe/Berlin"}]),
        )
        .await;
    // Europe/Berlin moves to summer time on 2027-03-28.
    let created = create(
        &world,
        json!([
            {"type": 3, "name": "title", "value": "Weekly jam"},
            {"type": 3, "name": "start", "value": "2027-03-25 19:00"},
            {"type": 3, "name": "location", "value": "Online"},
            {"type": 3, "name": "repeat", "value": "weekly"}
        ]),
    )
    .await;
    assert!(created.contains("Event #1 is created"), "{created}");
    let cards = wait_posts(&world.emu, channel, 3).await;
    let deadline = std::time::Instant::now() + WAIT;
    let starts = loop {
        let mut starts: Vec<String> = world
            .emu
            .scheduled_events(world.guild)
            .iter()
            .map(|e| e["scheduled_start_time"].as_str().unwrap().to_owned())
            .collect();
        starts.sort();
        if starts.len() >= 3 || std::time::Instant::now() > deadline {
            break starts;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let instants: Vec<i64> = starts
        .iter()
        .map(|s| chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp())
        .collect();
    let expected: Vec<i64> = [
        "2027-03-25T18:00:00Z",
        "2027-04-01T17:00:00Z",
        "2027-04-08T17:00:00Z",
    ]
    .iter()
    .map(|s| chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp())
    .collect();
    assert_eq!(
        instants, expected,
        "19:00 in Berlin before and after the change: {starts:?}"
    );
    let texts = contents(&cards);
    assert!(texts.iter().all(|t| t.contains("Weekly jam")), "{texts:#?}");

    // Going to all, from the first card: Going on the three occurrences.
    let first: u64 = cards[0].response["id"].as_str().unwrap().parse().unwrap();
    let all = cards[0].body["components"][0]["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["label"] == "Going to all")
        .expect("a series card has Going to all")["custom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let joined = click(&world, channel, world.member, first, &all).await;
    assert!(
        joined.contains("answered Going on the 3 listed"),
        "{joined}"
    );
    let store = world.store().await;
    for id in 1..=3 {
        let rsvps = hearth::db::events::rsvps(&store, id).await.unwrap();
        assert_eq!(
            rsvps
                .iter()
                .map(|r| (r.user(), r.status.as_str()))
                .collect::<Vec<_>>(),
            vec![(world.member, "going")],
            "occurrence {id}"
        );
    }

    // Ending the series cancels the coming occurrences here and in Discord.
    let ended = text_of(
        &world
            .run(
                world.manager,
                "event",
                "cancel",
                json!([{"type": 4, "name": "id", "value": 1}, {"type": 5, "name": "series", "value": true}]),
            )
            .await,
    );
    assert!(
        ended.contains("3 coming occurrence(s) cancelled"),
        "{ended}"
    );
    assert!(world.emu.scheduled_events(world.guild).is_empty());
}

#[tokio::test]
async fn edit_moves_and_grows_an_event_and_refusals_say_what_to_fix() {
    let world = World::new().await;
    let channel = world.emu.add_channel(world.guild, "events", 0);
    let _bot = world.start_bot_with(1, "").await;
    let options = json!([
        {"type": 3, "name": "title", "value": "Workshop"},
        {"type": 3, "name": "start", "value": "in 3h"},
        {"type": 4, "name": "capacity", "value": 1}
    ]);
    // No events channel yet: said, and nothing created.
    let unset = create(&world, options.clone()).await;
    assert!(unset.contains("/config channel purpose:events"), "{unset}");
    world.set_channel("events", channel).await;
    // Without Create Events, Discord refuses: the manager is told which permission, no card.
    let bot_role = world.emu.bot_role(world.guild);
    world
        .emu
        .set_role_permissions(world.guild, bot_role, BOT_PERMISSIONS & !(1 << 44));
    let refused = create(&world, options.clone()).await;
    assert!(refused.contains("Create Events"), "{refused}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        posts_in(&world.emu, channel).is_empty(),
        "no card for a refused event"
    );
    world
        .emu
        .set_role_permissions(world.guild, bot_role, BOT_PERMISSIONS);

    let created = create(&world, options).await;
    assert!(
        created.contains("Event #2 is created"),
        "the refused one keeps its number: {created}"
    );
    let (card_id, buttons) = card(&world, channel).await;
    let going = button(&buttons, "Going");
    click(&world, channel, world.member, card_id, going).await;
    let waiting = member(&world, "wes");
    assert!(click(&world, channel, waiting, card_id, going)
        .await
        .contains("#1 on the waitlist"));
    let id = json!({"type": 4, "name": "id", "value": 2});

    let bad = text_of(
        &world
            .run(
                world.manager,
                "event",
                "edit",
                json!([id, {"type": 3, "name": "duration", "value": "9d"}]),
            )
            .await,
    );
    assert!(bad.contains("between 1 minute and 7 days"), "{bad}");
    let grown = text_of(
        &world
            .run(
                world.manager,
                "event",
                "edit",
                json!([id, {"type": 4, "name": "capacity", "value": 2}]),
            )
            .await,
    );
    assert!(
        grown.contains("1 member(s) moved from the waitlist"),
        "{grown}"
    );
    let moved = text_of(
        &world
            .run(
                world.manager,
                "event",
                "edit",
                json!([id, {"type": 3, "name": "start", "value": "in 5h"}]),
            )
            .await,
    );
    assert!(moved.contains("It now starts"), "{moved}");
    let patch = world
        .emu
        .wait_for_request(
            |r| r.method == "PATCH" && r.path.contains("/scheduled-events/"),
            WAIT,
        )
        .await
        .unwrap();
    let (start, end) = (
        chrono::DateTime::parse_from_rfc3339(patch.body["scheduled_start_time"].as_str().unwrap())
            .unwrap(),
        chrono::DateTime::parse_from_rfc3339(patch.body["scheduled_end_time"].as_str().unwrap())
            .unwrap(),
    );
    assert_eq!(
        (end - start).num_minutes(),
        60,
        "the length is kept: {}",
        patch.body
    );
    // Both Going members are told once, in the thread (the promotion, then the move).
    let posts = wait_posts(&world.emu, card_id, 2).await;
    let texts = contents(&posts);
    assert!(
        texts[0].contains(&format!("<@{waiting}>")) && texts[0].contains("you are now Going"),
        "{texts:#?}"
    );
    assert!(
        texts[1].contains("moved")
            && texts[1].contains(&format!("<@{}>", world.member))
            && texts[1].contains(&format!("<@{waiting}>")),
        "{texts:#?}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        posts_in(&world.emu, card_id).len(),
        2,
        "told once, even though Discord echoes the move as an update"
    );
}

#[tokio::test]
async fn reminders_by_dm_go_to_the_thread_when_dms_are_closed() {
    let extra = "[events]\nreminders = \"8s\"\nreminder_grace_secs = 3\n";
    let (world, channel, _bot) = events_world(extra).await;
    create(
        &world,
        json!([
            {"type": 3, "name": "title", "value": "Late night jam"},
            {"type": 3, "name": "start", "value": "in 20s"}
        ]),
    )
    .await;
    let (card_id, buttons) = card(&world, channel).await;
    let (open, closed) = (world.member, member(&world, "cal"));
    world.emu.set_dms_closed(closed, true);
    for user in [open, closed] {
        click(&world, channel, user, card_id, button(&buttons, "Going")).await;
        let chosen = text_of(
            &world
                .run(
                    user,
                    "event",
                    "remind",
                    json!([
                        {"type": 4, "name": "id", "value": 1},
                        {"type": 3, "name": "reminders", "value": "8s"},
                        {"type": 5, "name": "dm", "value": true}
                    ]),
                )
                .await,
        );
        assert!(chosen.contains("by DM"), "{chosen}");
    }
    // Due 12 s after creation: cal's DM is refused (50007) and lands in the thread instead.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let in_thread = loop {
        let found: Vec<String> = contents(&posts_in(&world.emu, card_id))
            .into_iter()
            .filter(|t| t.contains("reminder:"))
            .collect();
        if !found.is_empty() {
            break found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no reminder in the thread"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(in_thread.len(), 1, "{in_thread:#?}");
    assert!(
        in_thread[0].contains(&format!("<@{closed}>")),
        "{in_thread:#?}"
    );
    let dms: Vec<String> = world
        .emu
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.status == 200 && r.path.ends_with("/messages"))
        .filter(|r| r.path != format!("/channels/{card_id}/messages"))
        .filter_map(|r| r.body["content"].as_str().map(str::to_owned))
        .filter(|t| t.contains("reminder:"))
        .collect();
    assert_eq!(dms.len(), 1, "mo's reminder by DM, once: {dms:#?}");
    assert!(dms[0].contains(&format!("<@{open}>")));
}
