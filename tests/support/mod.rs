//! Helpers shared by the integration tests: `mod support;` in a test file (`#[path]` from the
//! e2e crate). Each test crate uses a part of them.
#![allow(dead_code)]

use std::path::Path;

use hearth::db;
use tempfile::TempDir;

/// The store URL of a database file.
pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// The PostgreSQL server the tests keep their stores on instead of SQLite files, when
/// `HEARTH_TEST_POSTGRES` names one (`postgres://postgres@127.0.0.1:5432`, as `.ci/run` does).
pub fn postgres_server() -> Option<String> {
    std::env::var("HEARTH_TEST_POSTGRES")
        .ok()
        .filter(|url| !url.is_empty())
}

/// The URL of the store that `path` stands for: the SQLite file, or on PostgreSQL a database of
/// its own named after the path (the same path is the same database, so a restart finds it;
/// Hearth creates it on first open).
pub fn store_url(path: &Path) -> String {
    match postgres_server() {
        Some(server) => {
            use std::hash::{Hash as _, Hasher as _};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            path.hash(&mut hasher);
            format!(
                "{}/hearth_test_{:016x}",
                server.trim_end_matches('/'),
                hasher.finish()
            )
        }
        None => sqlite_url(path),
    }
}

/// Opens (creating and migrating it if needed) the store at `path`.
pub async fn open_at(path: &Path) -> db::Pool {
    db::open(&store_url(path))
        .await
        .unwrap_or_else(|e| panic!("the store at {} opens: {e:#}", path.display()))
}

/// A new, migrated store in a temporary directory; the directory (returned first) lives as long
/// as the caller keeps it.
pub async fn temp_store() -> (TempDir, db::Pool) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let pool = open_at(&dir.path().join("hearth.db")).await;
    (dir, pool)
}

/// What the next start of Hearth would see: the pool closed (as at shutdown) and the store of
/// `dir` opened again.
pub async fn restart(dir: &TempDir, pool: db::Pool) -> db::Pool {
    pool.close().await;
    open_at(&dir.path().join("hearth.db")).await
}
