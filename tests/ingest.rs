//! The activity writer keeps what it is handed when the database is briefly unavailable.

mod support;

use std::time::Duration;

use hearth::db::{
    self,
    activity::{Kind, Record},
};
use sqlx::{Connection, Executor};

#[tokio::test]
async fn a_batch_that_meets_a_locked_database_is_written_once_the_lock_is_gone() {
    let (dir, pool) = support::temp_store().await;
    let url = support::store_url(&dir.path().join("hearth.db"));
    let (tracker, writer) = hearth::features::activity::Tracker::start(pool.clone())
        .await
        .unwrap();
    // Another process holds the write lock past SQLite's busy timeout (5 s): the first attempt
    // fails and is retried. PostgreSQL makes the write wait for the table lock instead.
    sqlx::any::install_default_drivers();
    let mut other = sqlx::AnyConnection::connect(&url).await.unwrap();
    match db::Backend::of_pool(&pool) {
        db::Backend::Sqlite => other.execute("BEGIN IMMEDIATE").await.unwrap(),
        db::Backend::Postgres => {
            other.execute("BEGIN").await.unwrap();
            other
                .execute("LOCK TABLE activity IN ACCESS EXCLUSIVE MODE")
                .await
                .unwrap()
        }
    };
    tracker.record(Record {
        guild_id: 1,
        user_id: 2,
        at: 1_700_000_000,
        kind: Kind::Message,
        channel_id: 3,
        target_id: 4,
        reply_to: None,
        in_thread: false,
    });
    tokio::time::sleep(Duration::from_secs(7)).await;
    other.execute("ROLLBACK").await.unwrap();
    // Dropping the last tracker lets the writer finish its retries, flush and stop.
    drop(tracker);
    writer.await.unwrap();
    assert_eq!(db::activity::count_for(&pool, 1, 2).await.unwrap(), 1);
}

#[tokio::test]
async fn a_leave_counts_unless_the_member_joined_again_later_whatever_the_order_of_events() {
    let (_dir, pool) = support::temp_store().await;
    let (tracker, writer) = hearth::features::activity::Tracker::start(pool.clone())
        .await
        .unwrap();
    let t = 1_700_000_000;
    let join = |user_id, joined_at| db::welcome::Join {
        guild_id: 1,
        user_id,
        joined_at,
        pending: false,
        welcomed: true,
    };
    // Member 2 leaves and comes back; member 3 leaves, and member 4 joins and leaves in one
    // second. Serenity hands events to handlers in no set order, so some come in reverse.
    tracker.join(join(2, t));
    let rejoined = tracker.join(join(2, t + 20));
    tracker.leave(1, 2, t + 10);
    tracker.leave(1, 3, t + 30);
    tracker.join(join(3, t));
    tracker.leave(1, 4, t + 40);
    tracker.join(join(4, t + 40));
    rejoined.wait().await.unwrap();
    let latest = db::welcome::latest_join(&pool, 1, 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((latest.joined_at, latest.welcomed), (t + 20, true));
    drop(tracker);
    writer.await.unwrap();
    let mut leaves = db::activity::leaves(&pool, 1, 0, i64::MAX).await.unwrap();
    leaves.sort_unstable();
    assert_eq!(
        leaves,
        vec![t + 30, t + 40],
        "members 3 and 4 are gone, member 2 is back"
    );
}
