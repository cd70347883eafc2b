//! The content calendar (issue 4): prompts, run-now, missed runs after downtime, iCalendar.

use serde_json::{json, Value};

use crate::common::*;

fn prompts(
    world: &World,
    user: u64,
    sub: &str,
    options: Value,
) -> discord_emulator::InteractionHandle {
    world.slash(user, "prompts", sub, options)
}

async fn add_prompt(world: &World, channel: u64, extra: Value) -> i64 {
    let mut options = vec![
        json!({"type": 3, "name": "theme", "value": "Tool-Tip Tuesday"}),
        json!({"type": 7, "name": "channel", "value": channel.to_string()}),
    ];
    options.extend(extra.as_array().cloned().unwrap_or_default());
    let reply = prompts(world, world.manager, "add", json!(options))
        .response(WAIT)
        .await
        .unwrap();
    let text = text_of(&reply.body["data"]);
    assert!(text.starts_with("Prompt #"), "{text}");
    text["Prompt #".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn run_now_posts_the_prompt_naming_its_author_with_a_thread() {
    let world = World::new().await;
    let mut bot = world.start_bot(1).await;
    let id = add_prompt(
        &world,
        world.general,
        json!([
            {"type": 3, "name": "days", "value": "tue"},
            {"type": 3, "name": "time", "value": "10:00"},
            {"type": 3, "name": "text", "value": "Share a shortcut @everyone should know"},
            {"type": 5, "name": "thread", "value": true}
        ]),
    )
    .await;
    prompts(
        &world,
        world.manager,
        "run-now",
        json!([{"type": 4, "name": "id", "value": id}]),
    )
    .response(WAIT)
    .await
    .unwrap();
    // The start-up greeting shares the channel and may land before or after the prompt.
    let post = wait_posts(&world.emu, world.general, 2)
        .await
        .into_iter()
        .find(|p| {
            p.body["content"]
                .as_str()
                .is_some_and(|c| c.contains("Tool-Tip Tuesday"))
        })
        .expect("the prompt was posted");
    let content = post.body["content"].as_str().unwrap();
    assert!(
        content.contains("**Tool-Tip Tuesday**")
            && content.contains(&format!("<@{}>", world.manager)),
        "{content}"
    );
    assert_eq!(post.body["allowed_mentions"]["parse"], json!([]));
    assert_eq!(
        post.body["allowed_mentions"]["users"],
        json!([]),
        "the author is named, not pinged"
    );
    world
        .emu
        .wait_for_request(
            |r| {
                r.path.ends_with("/threads")
                    && r.body["name"]
                        .as_str()
                        .is_some_and(|n| n.starts_with("Tool-Tip Tuesday"))
            },
            WAIT,
        )
        .await
        .unwrap();
    bot.terminate().await.unwrap();
    world.emu.assert_no_violations();
}

#[tokio::test]
async fn invalid_schedules_are_refused_naming_the_field() {
    let world = World::new().await;
    let mut bot = world.start_bot(1).await;
    let reply = prompts(
        &world,
        world.manager,
        "add",
        json!([
            {"type": 3, "name": "theme", "value": "Oops"},
            {"type": 7, "name": "channel", "value": world.general.to_string()},
            {"type": 3, "name": "cron", "value": "0 25 * * *"}
        ]),
    )
    .response(WAIT)
    .await
    .unwrap();
    let text = text_of(&reply.body["data"]);
    assert!(
        is_ephemeral(&reply.body["data"]) && text.contains("cron `0 25 * * *`"),
        "{text}"
    );
    let reply = prompts(
        &world,
        world.manager,
        "add",
        json!([
            {"type": 3, "name": "theme", "value": "Oops"},
            {"type": 7, "name": "channel", "value": world.general.to_string()},
            {"type": 3, "name": "days", "value": "mon"},
            {"type": 3, "name": "time", "value": "9am"}
        ]),
    )
    .response(WAIT)
    .await
    .unwrap();
    assert!(text_of(&reply.body["data"]).contains("`9am` is not a time of day"));
    let list = text_of(
        &prompts(&world, world.manager, "list", json!([]))
            .response(WAIT)
            .await
            .unwrap()
            .body["data"],
    );
    assert!(list.contains("No prompts yet"), "nothing saved: {list}");
    bot.terminate().await.unwrap();
}

/// Moves a prompt's next run into the past, as if the bot had been down when it was due.
async fn miss_run(world: &World, prompt: i64, minutes_ago: i64) {
    let pool = world.store().await;
    let due = hearth::domain::clock::now().timestamp() - minutes_ago * 60;
    hearth::db::jobs::upsert(&pool, world.guild, "prompt", prompt, Some(due))
        .await
        .unwrap();
    pool.close().await;
}

#[tokio::test]
async fn a_run_missed_during_downtime_follows_its_catch_up_policy() {
    let world = World::new().await;
    let mut bot = world.start_bot(1).await;
    let late_ok = add_prompt(&world, world.general, json!([
        {"type": 3, "name": "days", "value": "daily"}, {"type": 3, "name": "time", "value": "09:00"},
        {"type": 3, "name": "text", "value": "catch me up"}, {"type": 3, "name": "catch_up", "value": "1h"}
    ]))
    .await;
    let skip = add_prompt(&world, world.general, json!([
        {"type": 3, "name": "days", "value": "daily"}, {"type": 3, "name": "time", "value": "09:00"},
        {"type": 3, "name": "text", "value": "skip me"}, {"type": 3, "name": "catch_up", "value": "skip"}
    ]))
    .await;
    bot.terminate().await.unwrap();
    miss_run(&world, late_ok, 20).await;
    miss_run(&world, skip, 20).await;
    let mut bot = world.start_bot(2).await;
    let posts = wait_posts(&world.emu, world.general, 2).await; // greeting + the late run
    bot.wait_for_log("missed run skipped", 1, WAIT)
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    bot.terminate().await.unwrap();
    let texts: Vec<String> = posts_in(&world.emu, world.general)
        .iter()
        .map(|p| p.body["content"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        texts.iter().filter(|t| t.contains("catch me up")).count(),
        1,
        "{texts:?}"
    );
    assert!(!texts.iter().any(|t| t.contains("skip me")), "{texts:?}");
    assert!(bot.log().contains("missed run skipped"), "{}", bot.log());
    let _ = posts;
}

#[tokio::test]
async fn the_calendar_exports_an_ics_that_a_calendar_parser_accepts() {
    let world = World::new().await;
    let mut bot = world.start_bot(1).await;
    world
        .run(
            world.manager,
            "config",
            "timezone",
            json!([{"type": 3, "name": "name", "value": "Europe/Berlin"}]),
        )
        .await;
    add_prompt(&world, world.general, json!([{"type": 3, "name": "days", "value": "mon,fri"}, {"type": 3, "name": "time", "value": "09:30"}, {"type": 3, "name": "text", "value": "x"}])).await;
    let listed = world
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
        .unwrap();
    let listed = text_of(&listed.body["data"]);
    assert!(
        listed.contains("Tool-Tip Tuesday")
            && listed.contains("Europe/Berlin")
            && listed.contains("<t:"),
        "{listed}"
    );
    let handle = world.emu.slash_command(
        world.guild,
        world.general,
        world.member,
        "calendar",
        json!([{"type": 4, "name": "format", "value": 1}]),
    );
    let reply = handle.response(WAIT).await.unwrap();
    let (name, bytes) = reply.files.first().cloned().expect("an .ics attachment");
    assert!(name.ends_with(".ics"));
    let parser = ical::IcalParser::new(std::io::BufReader::new(bytes.as_slice()));
    let calendars: Vec<_> = parser
        .collect::<Result<Vec<_>, _>>()
        .expect("valid iCalendar");
    assert_eq!(calendars.len(), 1);
    // The export holds everything the listing shows; the prompt is one of its events.
    let value = |event: &ical::parser::ical::component::IcalEvent, n: &str| {
        event
            .properties
            .iter()
            .find(|p| p.name == n)
            .and_then(|p| p.value.clone())
            .unwrap_or_default()
    };
    let event = calendars[0]
        .events
        .iter()
        .find(|e| value(e, "SUMMARY") == "Tool-Tip Tuesday")
        .expect("the prompt is in the export");
    let prop = |n: &str| value(event, n);
    assert_eq!(prop("SUMMARY"), "Tool-Tip Tuesday");
    assert_eq!(
        prop("RRULE"),
        "FREQ=WEEKLY;BYDAY=MO,FR;BYHOUR=9;BYMINUTE=30"
    );
    assert!(prop("DTSTART").ends_with("T093000"), "{}", prop("DTSTART"));
    bot.terminate().await.unwrap();
    world.emu.assert_no_violations();
}
