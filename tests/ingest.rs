//! The activity writer keeps what it is handed when the database is briefly unavailable.

use std::time::Duration;

use hearth::db::{
    self,
    activity::{Kind, Record},
};
use sqlx::{Connection, Executor};

#[tokio::test]
async fn a_batch_that_meets_a_locked_database_is_written_once_the_lock_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/w.db", dir.path().display());
    let pool = db::open(&url).await.unwrap();
    let (tracker, writer) = hearth::ingest::Tracker::start(pool.clone()).await.unwrap();
    // Another process holds the write lock past the busy timeout (5 s): the first attempt fails.
    let mut other = sqlx::SqliteConnection::connect(&url).await.unwrap();
    other.execute("BEGIN IMMEDIATE").await.unwrap();
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
