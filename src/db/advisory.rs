//! PostgreSQL advisory locks: a lock held by a session that PostgreSQL releases when the session
//! ends, however the process ends (SIGKILL included). They play the part of SQLite's lock file
//! beside the database: one unsharded process per store.

use anyhow::bail;
use sqlx::{AnyConnection, Connection as _};

use super::Pool;

/// The advisory lock key of "a Hearth process runs on this database" (any constant, the same in
/// every process; `hearth` in ASCII).
const INSTANCE_KEY: i64 = 0x6865_6172_7468;

/// Held while the process runs; dropping it (or the process dying) ends the session and so the
/// lock.
pub struct SessionLock {
    conn: AnyConnection,
}

impl SessionLock {
    /// Ends the session, releasing the lock, at shutdown.
    pub async fn release(self) {
        let _ = self.conn.close().await;
    }
}

/// Takes the lock only one unsharded Hearth process may hold on a PostgreSQL store, on a
/// connection of its own (kept out of the pool, so it lives as long as the returned value).
pub async fn lock_instance(pool: &Pool) -> anyhow::Result<SessionLock> {
    let mut conn = pool.acquire().await?.detach();
    let (locked, holder): (i64, Option<i64>) = sqlx::query_as(
        "SELECT CASE WHEN pg_try_advisory_lock($1) THEN 1 ELSE 0 END,
                (SELECT l.pid FROM pg_locks l
                 WHERE l.locktype = 'advisory' AND l.granted AND l.pid <> pg_backend_pid()
                   AND (CAST(l.classid AS BIGINT) << 32) + CAST(l.objid AS BIGINT) = $1
                 LIMIT 1)",
    )
    .bind(INSTANCE_KEY)
    .fetch_one(&mut conn)
    .await?;
    if locked == 0 {
        let who = match holder {
            Some(pid) => format!("another hearth process (PostgreSQL session {pid})"),
            None => "another hearth process".to_owned(),
        };
        bail!(
            "{who} is already running on the database; only one may run on a database.\n  \
             fix: stop the other process first, or give this one its own [database] url"
        );
    }
    Ok(SessionLock { conn })
}
