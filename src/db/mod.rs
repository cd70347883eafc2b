//! The store: every SQL statement of Hearth lives under this module.
//!
//! One set of queries serves SQLite (the default) and PostgreSQL, through sqlx's `Any` driver: the
//! URL's scheme picks the database at run time. The SQL is the subset both speak: `$n`
//! placeholders, `ON CONFLICT`, `RETURNING`, BIGINT unix times and snowflakes, 0/1 integers for
//! flags (read with [`flag`], bound with [`sql_flag`]), `CAST(SUM(..) AS BIGINT)` where PostgreSQL
//! would answer NUMERIC, `CASE` instead of two-argument `MIN`/`MAX`. Migrations are per dialect
//! (`migrations/sqlite`, `migrations/postgres`); README "Databases" says why this shape.

pub mod activity;
pub mod advisory;
pub mod ama;
pub mod applications;
pub mod connectedness;
pub mod connections;
pub mod copy;
mod deferred_indexes;
pub mod events;
pub mod feedback;
pub mod guilds;
pub mod inbox;
pub mod jobs;
mod migrations;
pub mod moderation;
pub mod outbox;
pub mod privacy;
pub mod prompts;
pub mod recognition;
pub mod rollup;
pub mod settings_changes;
pub mod statements;
pub mod surveys;
pub mod web_sessions;
pub mod welcome;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::Context as _;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::Executor as _;

pub use sqlx::AnyPool as Pool;

/// `sqlx::FromRow` for a row struct, each field read from the column of the same name: what
/// `#[derive(sqlx::FromRow)]` does, without sqlx's macros crate (see `migrations.rs` for why).
/// `from_row!(Item { id, title })`; a field left out does not compile.
macro_rules! from_row {
    ($ty:ident { $($field:ident),* $(,)? }) => {
        impl<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> for $ty {
            fn from_row(row: &'r sqlx::any::AnyRow) -> sqlx::Result<Self> {
                Ok(Self {
                    $($field: $crate::db::Column::read(row, stringify!($field))?),*
                })
            }
        }
    };
}
pub(crate) use from_row;

/// Snowflakes are u64 on Discord and i64 in SQL; the bits are kept as they are.
pub fn to_sql_id(id: u64) -> i64 {
    id as i64
}

/// The inverse of [`to_sql_id`].
pub fn from_sql_id(id: i64) -> u64 {
    id as u64
}

/// A field of a row struct read by `from_row!`: what `Row::try_get` does, except that a `bool`
/// is read from a 0/1 integer (the stores keep flags as integers; sqlx's `Any` driver decodes a
/// bool only from a boolean).
pub trait Column: Sized {
    fn read(row: &sqlx::any::AnyRow, name: &str) -> sqlx::Result<Self>;
}

macro_rules! column_as_is {
    ($($ty:ty),*) => {$(
        impl Column for $ty {
            fn read(row: &sqlx::any::AnyRow, name: &str) -> sqlx::Result<Self> {
                sqlx::Row::try_get(row, name)
            }
        }
    )*};
}
column_as_is!(
    i64,
    Option<i64>,
    i32,
    Option<i32>,
    f64,
    Option<f64>,
    String,
    Option<String>
);

impl Column for bool {
    fn read(row: &sqlx::any::AnyRow, name: &str) -> sqlx::Result<Self> {
        Ok(sqlx::Row::try_get::<i64, _>(row, name)? != 0)
    }
}

impl Column for Option<bool> {
    fn read(row: &sqlx::any::AnyRow, name: &str) -> sqlx::Result<Self> {
        Ok(sqlx::Row::try_get::<Option<i64>, _>(row, name)?.map(|v| v != 0))
    }
}

/// A 0/1 flag column as a bool (see [`Column`]).
pub fn flag(value: i64) -> bool {
    value != 0
}

/// A bool bound for a 0/1 flag column: PostgreSQL refuses a boolean for a BIGINT.
pub fn sql_flag(value: bool) -> i64 {
    i64::from(value)
}

pub use crate::domain::database::{redacted, Backend};

impl Backend {
    /// The database behind a connection.
    pub fn of_connection(conn: &sqlx::AnyConnection) -> Backend {
        match conn.backend_name() {
            "SQLite" => Backend::Sqlite,
            _ => Backend::Postgres,
        }
    }

    /// The database behind an open pool.
    pub fn of_pool(pool: &Pool) -> Backend {
        match pool.connect_options().database_url.scheme() {
            "sqlite" => Backend::Sqlite,
            _ => Backend::Postgres,
        }
    }
}

/// Whether a command may create the database or needs one that exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// `run`, `migrate`, `import`: a missing database is created (owner-only, 0600).
    Create,
    /// `report`, `privacy`: a mistyped path must not silently become an empty database.
    Existing,
}

/// Why the database cannot be used, with the path and what to do about it.
#[derive(Debug, thiserror::Error)]
#[error("cannot use the database {}: {cause}\n  fix: {fix}", .path.display())]
pub struct LocationError {
    pub path: PathBuf,
    pub cause: String,
    pub fix: String,
    /// There is no database file (and the command would not create one).
    pub missing: bool,
}

/// The file behind a `sqlite:` URL; `None` for in-memory databases and PostgreSQL.
pub fn database_path(url: &str) -> anyhow::Result<Option<PathBuf>> {
    if Backend::of_url(url) == Some(Backend::Postgres) {
        return Ok(None);
    }
    let options = SqliteConnectOptions::from_str(url)
        .with_context(|| format!("invalid database url `{}`", redacted(url)))?;
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Ok(None);
    }
    Ok(Some(options.get_filename().to_owned()))
}

/// Checks, without creating anything, that the database at `url` can be opened for `access`:
/// the file is readable and writable, or it is missing and its folder can take it. SQLite's own
/// "(code: 14) unable to open database file" names neither the path nor the cause.
pub fn check_location(url: &str, access: Access) -> anyhow::Result<()> {
    let Some(path) = database_path(url)? else {
        return Ok(());
    };
    let problem = |cause: String, fix: String, missing: bool| LocationError {
        path: path.clone(),
        cause,
        fix,
        missing,
    };
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let url_fix = "or point `database.url` (or HEARTH_DATABASE_URL) elsewhere";
    match std::fs::metadata(&path) {
        Ok(meta) if meta.is_dir() => Err(problem(
            "it is a folder, not a database file".into(),
            format!(
                "name a file inside it, e.g. database.url = \"sqlite://{}\"",
                path.join("hearth.db").display()
            ),
            false,
        ))?,
        Ok(_) => {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .map_err(|err| {
                    problem(
                        format!("the file cannot be opened for reading and writing ({err})"),
                        format!("give the user running Hearth read and write access (e.g. chown it, then chmod 600 {}), {url_fix}", path.display()),
                        false,
                    )
                })?;
            // WAL mode keeps -wal and -shm files next to the database.
            check_folder_writable(&folder).map_err(|cause| {
                problem(
                    format!("{cause}; SQLite creates its -wal and -shm files there"),
                    format!(
                        "give the user running Hearth write access to {}, {url_fix}",
                        folder.display()
                    ),
                    false,
                )
            })?;
            Ok(())
        }
        Err(err)
            if matches!(
                err.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            if access == Access::Existing {
                return Err(problem(
                    "there is no database at this path (nothing was created)".into(),
                    "check `database.url` (or HEARTH_DATABASE_URL) for a typo; `hearth migrate` or `hearth run` creates a new database".into(),
                    true,
                )
                .into());
            }
            if folder.exists() && !folder.is_dir() {
                return Err(problem(
                    format!("{} is a file, not a folder", folder.display()),
                    format!("name a path inside a folder, {url_fix}"),
                    false,
                )
                .into());
            }
            if !folder.is_dir() {
                return Err(problem(
                    format!("the folder {} does not exist", folder.display()),
                    format!("create it (mkdir -p {}), {url_fix}", folder.display()),
                    false,
                )
                .into());
            }
            check_folder_writable(&folder).map_err(|cause| {
                problem(
                    cause,
                    format!(
                        "give the user running Hearth write access to {}, {url_fix}",
                        folder.display()
                    ),
                    false,
                )
            })?;
            Ok(())
        }
        Err(err) => Err(problem(
            format!("its metadata cannot be read ({err})"),
            format!(
                "give the user running Hearth access to {}, {url_fix}",
                folder.display()
            ),
            false,
        ))?,
    }
}

/// Writability by trying it: permission bits do not tell about ACLs, root or read-only mounts.
fn check_folder_writable(folder: &Path) -> Result<(), String> {
    let probe = folder.join(format!(".hearth-write-test-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(err) => Err(format!(
            "the folder {} is not writable ({err})",
            folder.display()
        )),
    }
}

/// The database holds anonymous AMA authors and pending application answers: only the owner may
/// read it. A new file is created 0600 (SQLite gives its -wal and -shm files the same mode); an
/// existing one readable by everyone (created 0644 by earlier versions) loses the world bits.
#[cfg(unix)]
fn restrict_permissions(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        // Set again: the mode given to open(2) is reduced by the umask.
        Ok(_) => std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            let mut names = vec![path.to_owned()];
            for suffix in ["-wal", "-shm"] {
                let mut name = path.as_os_str().to_owned();
                name.push(suffix);
                names.push(PathBuf::from(name));
            }
            for name in names {
                let Ok(meta) = std::fs::metadata(&name) else {
                    continue;
                };
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o007 != 0 {
                    std::fs::set_permissions(&name, std::fs::Permissions::from_mode(mode & 0o770))?;
                    tracing::warn!(file = %name.display(), "the database file was readable by every user; removed their access");
                }
            }
            Ok(())
        }
        Err(err) => Err(err),
    }
}

#[cfg(not(unix))]
fn restrict_permissions(_: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Opens (creating if missing) the database with WAL, foreign keys and a busy timeout.
pub async fn connect(url: &str) -> anyhow::Result<Pool> {
    connect_with(url, Access::Create).await
}

/// Opens the database for `access`. SQLite: the file owner-only, with WAL, foreign keys, a busy
/// timeout and secure delete. PostgreSQL: a pool of ten connections; the database must exist.
pub async fn connect_with(url: &str, access: Access) -> anyhow::Result<Pool> {
    sqlx::any::install_default_drivers();
    let backend = Backend::of_url(url).with_context(|| {
        format!("unsupported database url `{url}`: expected sqlite://… or postgres://…")
    })?;
    check_location(url, access)?;
    if let Some(path) = database_path(url)? {
        restrict_permissions(&path).map_err(|err| LocationError {
            cause: format!("its permissions cannot be set to owner-only ({err})"),
            fix: "give the user running Hearth ownership of the file and its folder".into(),
            path,
            missing: false,
        })?;
    }
    let options = AnyConnectOptions::from_str(url)
        .with_context(|| format!("invalid database url `{}`", redacted(url)))?;
    let pool = match backend {
        Backend::Sqlite => AnyPoolOptions::new()
            // One is held by the activity writer (features::activity); four for everything else.
            .max_connections(5)
            // An SQLite connection is in-process and cannot go stale: the default ping on every
            // acquire was a round trip to the connection's thread before each query.
            .test_before_acquire(false)
            // sqlx's SQLite URL takes no pragmas (its defaults give foreign keys and a 5 s busy
            // timeout); the rest is set on each new connection.
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute(
                        // Deleted rows are zeroed, so text erased from the outbox (an unshared
                        // `/intro` answer) does not linger in free pages of the file.
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
                         PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;
                         PRAGMA busy_timeout = 5000;",
                    )
                    .await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .with_context(|| format!("cannot open the database `{url}`"))?,
        Backend::Postgres => {
            if access == Access::Create {
                create_postgres_database(&options).await?;
            }
            AnyPoolOptions::new()
                // sqlx's 30 s acquire timeout, as on SQLite: a burst of gateway events (a process
                // taking over thousands of servers) must wait for a connection, not fail.
                .max_connections(10)
                // PostgreSQL's NOTICEs ("relation … already exists, skipping") are not the
                // operator's business; warnings and errors still reach the log.
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        conn.execute("SET client_min_messages = warning").await?;
                        Ok(())
                    })
                })
                .connect_with(options)
                .await
                .with_context(|| format!("cannot connect to the database `{}`", redacted(url)))
                .context("fix: start PostgreSQL, check database.url (user, host, port, database name) and that the user may log in")?
        }
    };
    Ok(pool)
}

/// Creates the database a PostgreSQL URL names when the server does not have it, as SQLite
/// creates a missing file: `hearth run` and `hearth migrate` on a new server just work. The
/// user needs the CREATEDB right for that; without it the error says so.
async fn create_postgres_database(options: &AnyConnectOptions) -> anyhow::Result<()> {
    use sqlx::ConnectOptions as _;
    let name = options
        .database_url
        .path()
        .trim_start_matches('/')
        .to_owned();
    if name.is_empty() {
        return Ok(());
    }
    let mut server = options.clone();
    server.database_url.set_path("/postgres");
    let mut conn = match server.connect().await {
        Ok(conn) => conn,
        // The connection to the named database reports the problem, if there is one.
        Err(_) => return Ok(()),
    };
    let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_one(&mut conn)
        .await?;
    if exists == 0 {
        // An identifier cannot be bound; quoted, with quotes doubled.
        let quoted = name.replace('"', "\"\"");
        match conn
            .execute(format!("CREATE DATABASE \"{quoted}\"").as_str())
            .await
        {
            Ok(_) => tracing::info!(database = %name, "created the PostgreSQL database"),
            // Another process created it first.
            Err(sqlx::Error::Database(err)) if err.code().as_deref() == Some("42P04") => {}
            Err(err) => {
                return Err(anyhow::Error::new(err).context(format!(
                    "the PostgreSQL database `{name}` does not exist and cannot be created; \
                     fix: create it (createdb {name}) or grant CREATEDB to the user"
                )))
            }
        }
    }
    Ok(())
}

/// Opens an existing database read-only: no migration, nothing created or written
/// (`hearth check --connect` reads the stored `/config` settings with it).
pub async fn connect_read_only(url: &str) -> anyhow::Result<Pool> {
    sqlx::any::install_default_drivers();
    if Backend::of_url(url) == Some(Backend::Postgres) {
        // PostgreSQL's read-only guarantee is the session default below.
        return AnyPoolOptions::new()
            .max_connections(1)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("SET default_transaction_read_only = on")
                        .await?;
                    Ok(())
                })
            })
            .connect_with(AnyConnectOptions::from_str(url)?)
            .await
            .with_context(|| format!("cannot open the database `{}` read-only", redacted(url)));
    }
    if let Some(path) = database_path(url)? {
        anyhow::ensure!(path.exists(), "no database at {} yet", path.display());
    }
    let read_only = if url.contains('?') {
        format!("{url}&mode=ro")
    } else {
        format!("{url}?mode=ro")
    };
    AnyPoolOptions::new()
        .max_connections(1)
        .connect_with(AnyConnectOptions::from_str(&read_only)?)
        .await
        .with_context(|| format!("cannot open the database `{url}` read-only"))
}

/// Applies the embedded migrations; returns how many were newly applied.
pub async fn migrate(pool: &Pool) -> anyhow::Result<usize> {
    let migrator = migrations::migrator(Backend::of_pool(pool)).await?;
    let before: i64 = applied_count(pool).await;
    migrator
        .run(pool)
        .await
        .context("applying database migrations")?;
    let after: i64 = applied_count(pool).await;
    Ok(usize::try_from(after - before).unwrap_or(0))
}

async fn applied_count(pool: &Pool) -> i64 {
    // Asked first, so that a new store does not log an error for the missing table.
    let table = match Backend::of_pool(pool) {
        Backend::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE name = '_sqlx_migrations'",
        Backend::Postgres => "SELECT COUNT(*) FROM pg_tables WHERE tablename = '_sqlx_migrations'",
    };
    if sqlx::query_scalar::<_, i64>(table)
        .fetch_one(pool)
        .await
        .unwrap_or(0)
        == 0
    {
        return 0;
    }
    sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(pool)
        .await
        .unwrap_or(0)
}

/// Opens and migrates: what every subcommand that touches the store does first.
pub async fn open(url: &str) -> anyhow::Result<Pool> {
    open_with(url, Access::Create).await
}

/// [`open`] for `access`: commands that only read use [`Access::Existing`].
pub async fn open_with(url: &str, access: Access) -> anyhow::Result<Pool> {
    let pool = connect_with(url, access).await?;
    migrate(&pool).await?;
    Ok(pool)
}

/// Copies the write-ahead log into the database file and empties it. Until then the log keeps
/// the old versions of changed pages, erased text included (`secure_delete` covers the file).
pub async fn checkpoint(pool: &Pool) -> sqlx::Result<()> {
    if Backend::of_pool(pool) != Backend::Sqlite {
        return Ok(());
    }
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(pool)
        .await?;
    Ok(())
}

/// Sets the page cache of one connection to `kib` KiB (a long import keeps the pages of the
/// indexes it writes at scattered places in memory instead of reading them back).
/// SQLite only: PostgreSQL's cache is the server's.
pub async fn set_cache_kib(conn: &mut sqlx::AnyConnection, kib: u32) -> sqlx::Result<()> {
    // A pragma takes no bound value; the number is formatted from an integer.
    sqlite_pragma(conn, &format!("PRAGMA cache_size = -{kib}")).await
}

/// Stops one connection's commits from copying the write-ahead log into the database file
/// (`wal_autocheckpoint`): a rebuild commits a chunk at a time, and each copy wrote the pages of
/// the member days' indexes again; the rebuild checkpoints once at the end. SQLite only.
pub async fn defer_checkpoints(conn: &mut sqlx::AnyConnection) -> sqlx::Result<()> {
    sqlite_pragma(conn, "PRAGMA wal_autocheckpoint = 0").await
}

/// Stops one connection from zeroing what it deletes or moves (`secure_delete`, on for every
/// connection so that erased text does not linger in free pages): for a connection that writes
/// only counts derived from IDs and times (a rebuild of materialised days), where the zeroing
/// cost time on every page split and moved index entry. SQLite only.
pub async fn stop_zeroing_deletes(conn: &mut sqlx::AnyConnection) -> sqlx::Result<()> {
    sqlite_pragma(conn, "PRAGMA secure_delete = OFF").await
}

/// Runs a pragma on an SQLite connection; nothing on PostgreSQL.
async fn sqlite_pragma(conn: &mut sqlx::AnyConnection, pragma: &str) -> sqlx::Result<()> {
    if Backend::of_connection(conn) == Backend::Sqlite {
        sqlx::query(pragma).execute(conn).await?;
    }
    Ok(())
}

/// Has PostgreSQL gather the planner's statistics for `tables` (every table when empty) after a
/// bulk write (a copy, an import, a rebuild), and with `vacuum` also mark their pages
/// all-visible, so that counts are read from indexes alone. Until autovacuum gets to it, a table
/// is planned blind: on a fresh 20M-record copy a reply's message was looked up by scanning the
/// guild's messages (3.5 s per 500 lookups; a rebuild of ~20 minutes instead of ~2), and after a
/// rebuild one retention query ran for over a minute; counting connected members read the
/// table instead of its index (12 ms → 3.6 ms). SQLite's plans here rest on its defaults (and
/// `+column` hints), so it is left without statistics. The names come from this code only.
pub async fn after_bulk_write(pool: &Pool, tables: &[&str], vacuum: bool) -> sqlx::Result<()> {
    if Backend::of_pool(pool) == Backend::Postgres {
        let command = if vacuum {
            "VACUUM (ANALYZE)"
        } else {
            "ANALYZE"
        };
        sqlx::query(&format!("{command} {}", tables.join(", ")))
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// A connection of its own for rewriting counts derived from IDs and times (materialised days),
/// which does not zero what it deletes ([`stop_zeroing_deletes`]); closed when dropped, so its
/// settings never reach the pool's other users.
pub async fn counts_connection(pool: &Pool) -> sqlx::Result<sqlx::pool::PoolConnection<sqlx::Any>> {
    let mut conn = pool.acquire().await?;
    conn.close_on_drop();
    stop_zeroing_deletes(&mut conn).await?;
    Ok(conn)
}

/// Whether the store holds anything about a guild: the bot saw it, or activity was imported.
pub async fn knows_guild(pool: &Pool, guild_id: u64) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM guilds WHERE guild_id = $1)
                       OR EXISTS (SELECT 1 FROM activity WHERE guild_id = $1)
                       OR EXISTS (SELECT 1 FROM members WHERE guild_id = $1)
                       OR EXISTS (SELECT 1 FROM member_joins WHERE guild_id = $1)
                 THEN 1 ELSE 0 END",
    )
    .bind(to_sql_id(guild_id))
    .fetch_one(pool)
    .await
    .map(flag)
}
