//! The audit log of settings changes (product §13): a change made by slash command is recorded
//! with who and when, a refused one is not, it shows in `/config audit` and on the dashboard, a
//! member's export lists their changes and forgetting them keeps the change without the name.

use serde_json::{json, Value};

use crate::common::*;
use crate::web::{client, http_login, with_dashboard};

#[tokio::test]
async fn settings_changes_are_audited_with_who_and_when_and_refusals_are_not() {
    let world = World::new().await;
    let (mut bot, origin) = with_dashboard(&world).await;
    let before = hearth::domain::clock::unix_now();
    world
        .run(
            world.manager,
            "config",
            "timezone",
            json!([{"type": 3, "name": "name", "value": "Europe/Berlin"}]),
        )
        .await;
    let refused = world
        .run(
            world.manager,
            "config",
            "timezone",
            json!([{"type": 3, "name": "name", "value": "Mars/Olympus"}]),
        )
        .await;
    assert!(is_ephemeral(&refused), "{refused}");
    world.set_channel("reports", world.general).await;
    // A member cannot change settings, so nothing of theirs is recorded either.
    world
        .run(
            world.member,
            "config",
            "timezone",
            json!([{"type": 3, "name": "name", "value": "Asia/Tokyo"}]),
        )
        .await;

    // A change is recorded right after its command answered (poise's post-command hook), so
    // the latest one may take a moment to show.
    let mut log = String::new();
    let deadline = std::time::Instant::now() + WAIT;
    while std::time::Instant::now() < deadline {
        log = text_of(&world.run(world.manager, "config", "audit", json!([])).await);
        if log.contains("/config channel") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let manager = format!("<@{}>", world.manager);
    assert!(
        log.contains(&format!(
            "{manager}: `/config timezone` name: Europe/Berlin"
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "{manager}: `/config channel` purpose: reports, channel: <#{}>",
            world.general
        )),
        "{log}"
    );
    assert!(!log.contains("Mars") && !log.contains("Tokyo"), "{log}");
    // Newest first, each with its time as a Discord timestamp.
    assert!(
        log.find("/config channel") < log.find("/config timezone"),
        "{log}"
    );
    let stamp: i64 = log
        .split("<t:")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .and_then(|s| s.parse().ok())
        .expect("a timestamp");
    assert!(
        stamp >= before && stamp <= hearth::domain::clock::unix_now(),
        "{log}"
    );

    // The dashboard shows the same log to a manager, and refuses a member.
    let session = http_login(&world, &origin, world.manager).await;
    let page = client()
        .get(format!("{origin}/servers/{}/audit", world.guild))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("/config timezone") && page.contains("name: Europe/Berlin"),
        "{page}"
    );
    assert!(
        page.contains("slash command") && !page.contains("Mars"),
        "{page}"
    );
    let member = http_login(&world, &origin, world.member).await;
    let status = client()
        .get(format!("{origin}/servers/{}/audit", world.guild))
        .header("cookie", &member)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 403);

    // The manager's export lists their changes; forgetting them keeps the change, not the name.
    let reply = world
        .slash(world.manager, "privacy", "export", json!([]))
        .response(WAIT)
        .await
        .unwrap();
    let (_, file) = reply.files.first().cloned().expect("a JSON file");
    let export: Value = serde_json::from_slice(&file).unwrap();
    let changes = export["settings_changes"]
        .as_array()
        .expect("settings_changes");
    assert_eq!(changes.len(), 2, "{export}");
    assert_eq!(changes[0]["setting"], "config timezone");
    assert_eq!(changes[0]["source"], "slash");
    world
        .run(
            world.manager,
            "privacy",
            "forget",
            json!([{"type": 5, "name": "confirm", "value": true}]),
        )
        .await;
    let log = text_of(&world.run(world.manager, "config", "audit", json!([])).await);
    assert!(!log.contains(&manager), "{log}");
    assert_eq!(log.matches("a forgotten member").count(), 2, "{log}");
    bot.terminate().await.unwrap();
}
