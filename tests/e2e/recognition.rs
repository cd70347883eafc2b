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
