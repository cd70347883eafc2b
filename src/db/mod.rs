//! The store: every SQL statement of Hearth lives under this module.
//!
//! SQL is written to stay portable to PostgreSQL: `$n` placeholders, `ON CONFLICT`, `RETURNING`,
//! INTEGER unix times and snowflakes.

pub mod activity;
pub mod ama;
pub mod applications;
pub mod calendar;
pub mod feedback;
pub mod guilds;
pub mod outbox;
pub mod privacy;
pub mod recognition;
pub mod rollup;
pub mod welcome;

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub use sqlx::SqlitePool as Pool;

/// Snowflakes are u64 on Discord and i64 in SQL; the bits are kept as they are.
pub fn to_sql_id(id: u64) -> i64 {
    id as i64
}

/// The inverse of [`to_sql_id`].
pub fn from_sql_id(id: i64) -> u64 {
    id as u64
}

/// Opens (creating if missing) the database with WAL, foreign keys and a busy timeout.
pub async fn connect(url: &str) -> anyhow::Result<Pool> {
    let options = SqliteConnectOptions::from_str(url)
        .with_context(|| format!("invalid database url `{url}`"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    SqlitePoolOptions::new()
        // One is held by the activity writer (src/ingest.rs); four for everything else.
        .max_connections(5)
        // An SQLite connection is in-process and cannot go stale: the default ping on every
        // acquire was a round trip to the connection's thread before each query.
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .with_context(|| format!("cannot open the database `{url}`"))
}

/// Applies the embedded migrations; returns how many were newly applied.
pub async fn migrate(pool: &Pool) -> anyhow::Result<usize> {
    let migrator = sqlx::migrate!("./migrations");
    let before: i64 = applied_count(pool).await;
    migrator
        .run(pool)
        .await
        .context("applying database migrations")?;
    let after: i64 = applied_count(pool).await;
    Ok(usize::try_from(after - before).unwrap_or(0))
}

async fn applied_count(pool: &Pool) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(pool)
        .await
        .unwrap_or(0)
}

/// Opens and migrates: what every subcommand that touches the store does first.
pub async fn open(url: &str) -> anyhow::Result<Pool> {
    let pool = connect(url).await?;
    migrate(&pool).await?;
    Ok(pool)
}
