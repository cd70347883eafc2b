//! Several processes on one PostgreSQL store (product §14), at store level: who may run, who
//! leads, and whose outbox claims still count. Runs when the tests have a PostgreSQL server
//! (`HEARTH_TEST_POSTGRES`, set by `.ci/run`); SQLite keeps one process per store (its lock file,
//! tested in tests/e2e/delivery.rs).

mod support;

use hearth::db::{self, advisory};
use hearth::outbox::{action_json, Action, Outbox};
use serde_json::json;

async fn postgres_store() -> Option<(tempfile::TempDir, db::Pool)> {
    if support::postgres_server().is_none() {
        eprintln!("skipped: HEARTH_TEST_POSTGRES names no PostgreSQL server");
        return None;
    }
    Some(support::temp_store().await)
}

#[tokio::test]
async fn one_unsharded_process_or_sharded_ones_each_with_its_own_shards() {
    let Some((_dir, pool)) = postgres_store().await else {
        return;
    };
    let alone = advisory::lock_instance(&pool, None, 1).await.unwrap();
    let second = advisory::lock_instance(&pool, None, 2).await.err().unwrap();
    assert!(
        format!("{second:#}").contains("already running"),
        "{second:#}"
    );
    let sharded = advisory::lock_instance(&pool, Some(0..=1), 3)
        .await
        .err()
        .unwrap();
    assert!(format!("{sharded:#}").contains("unsharded"), "{sharded:#}");
    alone.release().await;

    let a = advisory::lock_instance(&pool, Some(0..=1), 4)
        .await
        .unwrap();
    let b = advisory::lock_instance(&pool, Some(2..=3), 5)
        .await
        .unwrap();
    let overlap = advisory::lock_instance(&pool, Some(1..=2), 6)
        .await
        .err()
        .unwrap();
    assert!(
        format!("{overlap:#}").contains("shard 1 is already run"),
        "{overlap:#}"
    );
    let unsharded = advisory::lock_instance(&pool, None, 7).await.err().unwrap();
    assert!(
        format!("{unsharded:#}").contains("already running"),
        "{unsharded:#}"
    );
    // A process gone (its session ended) frees its shards.
    a.release().await;
    let again = advisory::lock_instance(&pool, Some(0..=1), 8)
        .await
        .unwrap();
    again.release().await;
    b.release().await;
}

#[tokio::test]
async fn one_leader_at_a_time_and_the_lead_passes_on_when_it_ends() {
    let Some((_dir, pool)) = postgres_store().await else {
        return;
    };
    let mut first = advisory::try_lead(&pool)
        .await
        .unwrap()
        .expect("nobody leads yet");
    assert!(advisory::try_lead(&pool).await.unwrap().is_none());
    assert!(first.still_held().await);
    first.release().await;
    let mut next = advisory::try_lead(&pool)
        .await
        .unwrap()
        .expect("the lead is free again");
    assert!(next.still_held().await);
    next.release().await;
}

#[tokio::test]
async fn claims_of_a_live_process_are_kept_and_those_of_one_gone_are_released() {
    let Some((_dir, pool)) = postgres_store().await else {
        return;
    };
    let outbox = Outbox::new(pool.clone());
    for key in ["live", "gone"] {
        outbox
            .enqueue(db::outbox::NewPost {
                guild_id: 1,
                channel_id: 2,
                kind: "test".into(),
                dedup_key: key.into(),
                body: action_json(&Action::Message {
                    thread: None,
                    body: json!({"content": key, "allowed_mentions": {"parse": []}}),
                }),
                not_before_ms: None,
            })
            .await
            .unwrap();
    }
    let live = advisory::lock_instance(&pool, Some(0..=0), 11)
        .await
        .unwrap();
    let gone = advisory::lock_instance(&pool, Some(1..=1), 12)
        .await
        .unwrap();
    let now = hearth::domain::clock::unix_now_ms() + 1_000;
    let until = now + 600_000;
    assert_eq!(
        db::outbox::claim_due_for(&pool, 11, now, until, 1)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        db::outbox::claim_due_for(&pool, 12, now, until, 1)
            .await
            .unwrap()
            .len(),
        1
    );
    // Both alive: nothing to release, nothing left to claim.
    assert_eq!(
        db::outbox::release_claims_of_the_gone(&pool).await.unwrap(),
        0
    );
    assert!(db::outbox::claim_due_for(&pool, 11, now, until, 5)
        .await
        .unwrap()
        .is_empty());
    // Process 12 ends: its claim is released, 11's kept. A process numbered 12 on another
    // database of the same server (advisory locks are per database) is not this store's.
    let (_other_dir, other_store) = support::temp_store().await;
    let elsewhere = advisory::lock_instance(&other_store, Some(1..=1), 12)
        .await
        .unwrap();
    gone.release().await;
    assert_eq!(
        db::outbox::release_claims_of_the_gone(&pool).await.unwrap(),
        1
    );
    let taken = db::outbox::claim_due_for(&pool, 11, now, until, 5)
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    assert!(taken[0].body.contains("gone"), "{}", taken[0].body);
    live.release().await;
    elsewhere.release().await;
}
