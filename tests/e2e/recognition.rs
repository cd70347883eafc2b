//! Spotlights (issue 6, part): nominations, suggestions, posts, history.

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn nominate_suggest_post_and_history() {
    let world = World::new().await;
    let spotlight_channel = world.emu.add_channel(world.guild, "spotlight", 0);
    let mut bot = world.start_bot(1).await;
    let helper = world.emu.add_user("helper", false);
    world.emu.add_member(world.guild, helper, &[]);

    let nominated = world
        .run(
            world.member,
            "spotlight",
            "nominate",
            json!([
                {"type": 6, "name": "member", "value": helper.to_string()},
                {"type": 3, "name": "reason", "value": "answers every question in #help"}
            ]),
        )
        .await;
    assert!(
        is_ephemeral(&nominated) && text_of(&nominated).contains("went to the community team"),
        "{nominated}"
    );
    let own = world
        .run(
            world.member,
            "spotlight",
            "nominate",
            json!([
                {"type": 6, "name": "member", "value": world.member.to_string()},
                {"type": 3, "name": "reason", "value": "me"}
            ]),
        )
        .await;
    assert!(text_of(&own).contains("yourself"), "{own}");

    let refused = world
        .run(world.member, "spotlight", "suggest", json!([]))
        .await;
    assert!(
        text_of(&refused).contains("Manage Server"),
        "members cannot see suggestions: {refused}"
    );
    let suggested = text_of(
        &world
            .run(world.manager, "spotlight", "suggest", json!([]))
            .await,
    );
    assert!(
        suggested.contains(&format!(
            "1. <@{helper}>: nominated once: “answers every question in #help”"
        )),
        "{suggested}"
    );

    world.set_channel("spotlight", spotlight_channel).await;
    let posted = world.run(world.manager, "spotlight", "post", json!([
        {"type": 6, "name": "member", "value": helper.to_string()},
        {"type": 3, "name": "story", "value": "Helper has answered 200 questions this month."}
    ])).await;
    assert!(text_of(&posted).contains("is being posted"), "{posted}");
    let post = wait_posts(&world.emu, spotlight_channel, 1).await.remove(0);
    assert_eq!(
        post.body["allowed_mentions"]["users"],
        json!([helper.to_string()]),
        "only the member is pinged"
    );
    assert!(text_of(&post.body).contains("Helper has answered 200 questions"));

    let history = text_of(
        &world
            .run(world.manager, "spotlight", "history", json!([]))
            .await,
    );
    assert!(
        history.contains(&format!("<@{helper}> (by <@{}>)", world.manager)),
        "{history}"
    );
    let again = text_of(
        &world
            .run(world.manager, "spotlight", "suggest", json!([]))
            .await,
    );
    assert!(
        !again.contains(&format!("<@{helper}>:")),
        "recently spotlighted members are left out: {again}"
    );
    bot.terminate().await.unwrap();
    world.emu.assert_no_violations();
}

/// The monthly shout-out: last month's top 3 (never an opted-out member), pinging only them, on
/// the calendar while scheduled; bad input is explained.
#[tokio::test]
async fn the_monthly_shout_out_celebrates_last_months_top_three() {
    use hearth::db::activity::{Kind, Record};
    let world = World::new().await;
    let spotlight_channel = world.emu.add_channel(world.guild, "spotlight", 0);
    let people: Vec<u64> = ["ana", "ben", "cy", "dee", "eve"]
        .iter()
        .map(|name| {
            let user = world.emu.add_user(name, false);
            world.emu.add_member(world.guild, user, &[]);
            user
        })
        .collect();
    // Last month's activity, in the store before the bot starts: eve is the most active but
    // opted out; then ana, ben, cy, and dee last.
    let pool = world.store().await;
    let today = hearth::domain::clock::now().date_naive();
    let last_month =
        hearth::features::recognition::celebrated_month(today).0 + chrono::Duration::days(9);
    let at = last_month
        .and_hms_opt(12, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp();
    let mut records = Vec::new();
    for (user, count) in people.iter().zip([6, 5, 3, 1, 9]) {
        for i in 0..count {
            records.push(Record {
                guild_id: world.guild,
                user_id: *user,
                at: at + i,
                kind: Kind::Message,
                channel_id: world.general,
                target_id: (*user << 8) + u64::try_from(i).unwrap(),
                reply_to: None,
                in_thread: false,
            });
        }
    }
    hearth::db::activity::insert(&mut pool.acquire().await.unwrap(), &records)
        .await
        .unwrap();
    hearth::db::activity::set_optout(&pool, world.guild, people[4], true, 0)
        .await
        .unwrap();
    pool.close().await;

    let _bot = world.start_bot(1).await;
    // No spotlight channel yet: the schedule is kept, the reply says how to fix it, nothing posts.
    let unplaced = world
        .run(
            world.manager,
            "spotlight",
            "shoutout",
            json!([{"type": 5, "name": "now", "value": true}]),
        )
        .await;
    let reply = text_of(&unplaced);
    assert!(
        reply.contains("/config channel purpose:spotlight") && reply.contains("was not posted"),
        "{unplaced}"
    );
    world.set_channel("spotlight", spotlight_channel).await;
    let refused = world
        .run(
            world.manager,
            "spotlight",
            "shoutout",
            json!([{"type": 3, "name": "time", "value": "25:00"}]),
        )
        .await;
    assert!(
        is_ephemeral(&refused) && text_of(&refused).contains("HH:MM"),
        "{refused}"
    );
    let member = world
        .run(world.member, "spotlight", "shoutout", json!([]))
        .await;
    assert!(text_of(&member).contains("Manage Server"), "{member}");

    let scheduled = world
        .run(
            world.manager,
            "spotlight",
            "shoutout",
            json!([
                {"type": 4, "name": "day", "value": 1},
                {"type": 3, "name": "time", "value": "10:00"},
                {"type": 5, "name": "now", "value": true}
            ]),
        )
        .await;
    let reply = text_of(&scheduled);
    assert!(
        reply.contains("on day 1 at 10:00") && reply.contains("on its way"),
        "{scheduled}"
    );
    let post = wait_posts(&world.emu, spotlight_channel, 1).await.remove(0);
    let text = text_of(&post.body);
    let (ana, ben, cy, dee, eve) = (people[0], people[1], people[2], people[3], people[4]);
    assert!(
        text.contains(&format!("🥇 <@{ana}> · 6 contributions")),
        "{text}"
    );
    assert!(text.contains(&format!("🥈 <@{ben}>")), "{text}");
    assert!(text.contains(&format!("🥉 <@{cy}>")), "{text}");
    assert!(
        !text.contains(&dee.to_string()) && !text.contains(&eve.to_string()),
        "{text}"
    );
    assert_eq!(post.body["allowed_mentions"]["parse"], json!([]));
    assert_eq!(
        post.body["allowed_mentions"]["users"],
        json!([ana.to_string(), ben.to_string(), cy.to_string()])
    );

    let calendar = calendar_text(&world).await;
    assert!(
        calendar.contains("top-3 contributors shout-out"),
        "{calendar}"
    );
    let stopped = world
        .run(
            world.manager,
            "spotlight",
            "shoutout",
            json!([{"type": 5, "name": "stop", "value": true}]),
        )
        .await;
    assert!(text_of(&stopped).contains("stopped"), "{stopped}");
    let calendar = calendar_text(&world).await;
    assert!(!calendar.contains("shout-out"), "{calendar}");
    world.emu.assert_no_violations();
}

async fn calendar_text(world: &World) -> String {
    let response = world
        .emu
        .slash_command(
            world.guild,
            world.general,
            world.manager,
            "calendar",
            json!([{"type": 4, "name": "days", "value": 40}]),
        )
        .response(WAIT)
        .await
        .unwrap();
    text_of(&response.body["data"])
}
