//! The manager's inbox (issue 19, part): `/today` lists the newcomer message nobody answered and
//! not the answered one, and who has not posted yet.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn today_lists_exactly_the_unanswered_newcomer_message() {
    let world = World::new().await;
    let _bot = world.start_bot(1).await;
    let ten_hours_ago =
        u64::try_from(hearth::domain::clock::now().timestamp_millis()).unwrap() - 10 * 3_600_000;
    let newcomer = |name: &str| {
        let user = world.emu.add_user(name, false);
        world
            .emu
            .add_member_joined_at(world.guild, user, &[], ten_hours_ago);
        user
    };
    let (ada, bo) = (newcomer("ada"), newcomer("bo"));
    let six_hours = Duration::from_secs(6 * 3600);
    let unanswered =
        world
            .emu
            .user_message_sent_ago(world.general, ada, "how do I get started?", six_hours);
    let answered =
        world
            .emu
            .user_message_sent_ago(world.general, bo, "hi all, I build synths", six_hours);
    world
        .emu
        .user_message(world.general, world.member, "welcome bo!", Some(answered));
    let quiet = world.emu.add_user("cy", false);
    world.emu.member_join(world.guild, quiet, false);

    let link = |message: u64| {
        format!(
            "https://discord.com/channels/{}/{}/{message}",
            world.guild, world.general
        )
    };
    let deadline = Instant::now() + WAIT;
    let today = loop {
        let answer = world
            .emu
            .slash_command(
                world.guild,
                world.general,
                world.manager,
                "today",
                json!([]),
            )
            .response(WAIT)
            .await
            .unwrap();
        let today = text_of(&answer.body["data"]);
        if today.contains(&link(unanswered)) && today.contains(&format!("<@{quiet}>")) {
            break today;
        }
        assert!(Instant::now() < deadline, "{today}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        today.contains("Newcomers' first messages with no reply after 4 h** (1)"),
        "{today}"
    );
    assert!(
        !today.contains(&link(answered)),
        "the answered one is not listed: {today}"
    );
    // The emulator's guild owner joined with the guild, just now, and has not posted either.
    let silent = today
        .lines()
        .find(|l| l.starts_with("**New members:**"))
        .and_then(|l| l.split("no first message yet: ").nth(1))
        .unwrap_or_default();
    assert!(
        silent.contains(&format!("<@{quiet}>"))
            && !silent.contains(&ada.to_string())
            && !silent.contains(&bo.to_string()),
        "{today}"
    );
    assert!(
        !today.contains("how do I get started"),
        "never message text: {today}"
    );
}
