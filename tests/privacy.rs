//! Forgetting and purging at the store level, and the admin CLI.

mod support;

use hearth::db::{
    self,
    activity::{Kind, Record},
};

fn message(guild_id: u64, user_id: u64, target_id: u64) -> Record {
    Record {
        guild_id,
        user_id,
        at: 1_700_000_000,
        kind: Kind::Message,
        channel_id: 9,
        target_id,
        reply_to: None,
        in_thread: false,
    }
}

#[tokio::test]
async fn guilds_left_longer_than_the_grace_period_are_purged() {
    let (_dir, pool) = support::temp_store().await;
    for guild in [1, 2] {
        db::guilds::upsert_seen(&pool, guild, 0).await.unwrap();
        db::activity::insert(
            &mut pool.acquire().await.unwrap(),
            &[message(guild, 5, guild * 10)],
        )
        .await
        .unwrap();
    }
    db::guilds::mark_left(&pool, 1, 1_000).await.unwrap();
    db::guilds::mark_left(&pool, 2, 5_000).await.unwrap();
    let purged = db::privacy::purge_left_guilds(&pool, 2_000).await.unwrap();
    assert_eq!(purged, vec![1]);
    assert_eq!(db::activity::count_for(&pool, 1, 5).await.unwrap(), 0);
    assert_eq!(
        db::activity::count_for(&pool, 2, 5).await.unwrap(),
        1,
        "still within the grace period"
    );
}

#[tokio::test]
async fn forgetting_keeps_records_counting_under_an_anonymous_id() {
    let (_dir, pool) = support::temp_store().await;
    db::activity::insert(
        &mut pool.acquire().await.unwrap(),
        &[message(1, 5, 10), message(1, 5, 11), message(1, 6, 12)],
    )
    .await
    .unwrap();
    db::welcome::set_interests(&pool, 1, 5, Some("chess"), 0)
        .await
        .unwrap();
    let moved = db::privacy::forget(&pool, Some(1), 5, db::privacy::anonymous_id())
        .await
        .unwrap();
    assert_eq!(moved, 2);
    assert_eq!(db::activity::count_for(&pool, 1, 5).await.unwrap(), 0);
    assert_eq!(db::welcome::interests(&pool, 1, 5).await.unwrap(), None);
    let counts = db::activity::counts(&pool, 1, 0, i64::MAX).await.unwrap();
    assert_eq!(counts.values().sum::<u64>(), 3, "totals unchanged");
    assert_eq!(counts.len(), 2, "still two distinct members");
}

#[tokio::test]
async fn the_admin_cli_exports_and_forgets() {
    let (dir, pool) = support::temp_store().await;
    db::activity::insert(&mut pool.acquire().await.unwrap(), &[message(1, 5, 10)])
        .await
        .unwrap();
    pool.close().await;
    let config = dir.path().join("h.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"{}\"\n",
            support::store_url(&dir.path().join("hearth.db"))
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_hearth"))
            .args(args)
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let export: serde_json::Value =
        serde_json::from_str(&run(&["privacy", "export", "--user", "5"])).unwrap();
    assert_eq!(export["activity"].as_array().unwrap().len(), 1);
    assert!(run(&["privacy", "forget", "--user", "5"]).contains("1 activity record(s) anonymised"));
    let export: serde_json::Value =
        serde_json::from_str(&run(&["privacy", "export", "--user", "5"])).unwrap();
    assert!(export["activity"].as_array().unwrap().is_empty());
}
