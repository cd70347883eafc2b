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

/// Opens (creating and migrating it if needed) the store at `path`.
pub async fn open_at(path: &Path) -> db::Pool {
    db::open(&sqlite_url(path))
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
