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
            // A run's own prefix (`.ci/run` sets one), so that it can drop what it created.
            let prefix = std::env::var("HEARTH_TEST_POSTGRES_PREFIX")
                .unwrap_or_else(|_| "hearth_test".to_owned());
            format!(
                "{}/{prefix}_{:016x}",
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

/// Whether the store that `path` stands for holds `needle` anywhere: the SQLite file and its
/// write-ahead log byte for byte, or every row of every table as text on PostgreSQL.
pub async fn store_holds(path: &Path, needle: &str) -> bool {
    if postgres_server().is_none() {
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        return [path.to_owned(), std::path::PathBuf::from(wal)]
            .iter()
            .filter_map(|file| std::fs::read(file).ok())
            .any(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()));
    }
    let pool = open_at(path).await;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::TEXT FROM information_schema.tables
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut found = false;
    for table in tables {
        let rows: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM {table} t WHERE strpos(t::TEXT, $1) > 0"
        ))
        .bind(needle)
        .fetch_one(&pool)
        .await
        .unwrap();
        found |= rows > 0;
    }
    pool.close().await;
    found
}

/// Whether the store that `path` stands for exists (without creating it).
pub async fn store_exists(path: &Path) -> bool {
    let Some(server) = postgres_server() else {
        return path.exists();
    };
    let url = store_url(path);
    let name = url.rsplit('/').next().unwrap_or_default().to_owned();
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&format!("{}/postgres", server.trim_end_matches('/')))
        .await
        .unwrap();
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    count > 0
}

/// Makes every insert into `table` for which `when` holds (SQL over `NEW`) fail, as a full disk
/// would: a trigger, written in the store's own dialect.
pub async fn refuse_inserts(pool: &db::Pool, table: &str, when: &str) {
    let statements = match db::Backend::of_pool(pool) {
        db::Backend::Sqlite => vec![format!(
            "CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} WHEN {when}
             BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )],
        db::Backend::Postgres => vec![
            format!(
                "CREATE FUNCTION refuse_{table}() RETURNS trigger AS $$
                 BEGIN RAISE EXCEPTION 'disk full'; END $$ LANGUAGE plpgsql"
            ),
            format!(
                "CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table}
                 FOR EACH ROW WHEN ({when}) EXECUTE FUNCTION refuse_{table}()"
            ),
        ],
    };
    for statement in statements {
        sqlx::query(&statement).execute(pool).await.unwrap();
    }
}

/// Takes back [`refuse_inserts`] on `table`.
pub async fn allow_inserts(pool: &db::Pool, table: &str) {
    let drop = match db::Backend::of_pool(pool) {
        db::Backend::Sqlite => format!("DROP TRIGGER refuse_{table}"),
        db::Backend::Postgres => format!("DROP TRIGGER refuse_{table} ON {table}"),
    };
    sqlx::query(&drop).execute(pool).await.unwrap();
}
