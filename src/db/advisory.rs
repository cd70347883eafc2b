//! PostgreSQL advisory locks: locks held by a database session, which PostgreSQL releases when
//! the session ends, however the process ends (SIGKILL included). They are how several Hearth
//! processes share one PostgreSQL store: who may run (instead of SQLite's lock file), which
//! process runs which shards, which processes are alive (whose outbox claims still count) and
//! which one leads (runs the scheduler and the housekeeping).

use anyhow::bail;
use sqlx::{AnyConnection, Connection as _};

use super::Pool;

/// "A Hearth process runs on this database": exclusive for an unsharded process, shared by
/// sharded ones (so the two kinds never mix). Any constant, the same in every process.
const INSTANCE_KEY: i64 = 0x6865_6172_7468;

/// The leader's lock.
const LEADER_KEY: i64 = INSTANCE_KEY + 1;

/// Two-key locks `(SHARD_SPACE, shard)`: one process per shard.
const SHARD_SPACE: i32 = 0x4845_0001;

/// Two-key locks `(OWNER_SPACE, owner)`: held by each live process under its owner number, the
/// number its outbox claims carry (db::outbox).
pub const OWNER_SPACE: i32 = 0x4845_0002;

/// The locks of a running process, on a connection of its own (out of the pool); dropping it
/// or the process dying ends the session and so the locks.
pub struct SessionLock {
    conn: AnyConnection,
}

impl SessionLock {
    /// Releases the locks and ends the session, at shutdown. The locks are released by name
    /// first: a closed connection's backend ends a moment later, and until then PostgreSQL still
    /// shows its locks as held (another process would see this one alive, its shards taken).
    pub async fn release(mut self) {
        unlock_all(&mut self.conn).await;
        let _ = self.conn.close().await;
    }
}

/// Takes what a process needs to run on a PostgreSQL store: unsharded (`shards` None), the
/// store alone; with shards, a share of it and each of its shards alone. Also marks the process
/// alive under `owner`. The error names who holds what and the fix.
pub async fn lock_instance(
    pool: &Pool,
    shards: Option<std::ops::RangeInclusive<u32>>,
    owner: i32,
) -> anyhow::Result<SessionLock> {
    let mut conn = pool.acquire().await?.detach();
    let instance = match shards {
        None => "SELECT CASE WHEN pg_try_advisory_lock($1) THEN 1 ELSE 0 END",
        Some(_) => "SELECT CASE WHEN pg_try_advisory_lock_shared($1) THEN 1 ELSE 0 END",
    };
    let locked: i64 = sqlx::query_scalar(instance)
        .bind(INSTANCE_KEY)
        .fetch_one(&mut conn)
        .await?;
    if locked == 0 {
        match shards {
            None => bail!(
                "another hearth process is already running on the database; only one unsharded \
                 process may run on a database.\n  fix: stop the other process first, give this \
                 one its own [database] url, or run every process with --shards"
            ),
            Some(_) => bail!(
                "an unsharded hearth process is already running on the database.\n  fix: stop \
                 it, or run every process on this database with --shards A-B --shard-total N"
            ),
        }
    }
    for shard in shards.into_iter().flatten() {
        let locked: i64 =
            sqlx::query_scalar("SELECT CASE WHEN pg_try_advisory_lock($1, $2) THEN 1 ELSE 0 END")
                .bind(SHARD_SPACE)
                .bind(i32::try_from(shard).unwrap_or(i32::MAX))
                .fetch_one(&mut conn)
                .await?;
        if locked == 0 {
            bail!(
                "shard {shard} is already run by another hearth process on this database.\n  \
                 fix: give each process its own shards (--shards A-B), together covering \
                 0 to N-1 once"
            );
        }
    }
    sqlx::query("SELECT pg_advisory_lock($1, $2)")
        .bind(OWNER_SPACE)
        .bind(owner)
        .execute(&mut conn)
        .await?;
    Ok(SessionLock { conn })
}

/// Leadership among the processes of a store: the leader runs what must run once (the scheduler,
/// the housekeeping). `None` while another process leads.
pub async fn try_lead(pool: &Pool) -> anyhow::Result<Option<Leadership>> {
    let mut conn = pool.acquire().await?.detach();
    let led: i64 =
        sqlx::query_scalar("SELECT CASE WHEN pg_try_advisory_lock($1) THEN 1 ELSE 0 END")
            .bind(LEADER_KEY)
            .fetch_one(&mut conn)
            .await?;
    if led == 0 {
        let _ = conn.close().await;
        return Ok(None);
    }
    Ok(Some(Leadership { conn }))
}

/// Held by the leader. Its session must stay up: a leader whose connection broke has lost the
/// lock (another process may lead by now) and must stop leading.
pub struct Leadership {
    conn: AnyConnection,
}

impl Leadership {
    /// Whether the lock is still held: its session answers.
    pub async fn still_held(&mut self) -> bool {
        sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
               AND pid = pg_backend_pid() AND objsubid = 1
               AND (CAST(classid AS BIGINT) << 32) + CAST(objid AS BIGINT) = $1",
        )
        .bind(LEADER_KEY)
        .fetch_one(&mut self.conn)
        .await
        .is_ok_and(|n| n > 0)
    }

    /// Gives the lead up (shutdown), at once (see `SessionLock::release`).
    pub async fn release(mut self) {
        unlock_all(&mut self.conn).await;
        let _ = self.conn.close().await;
    }
}

async fn unlock_all(conn: &mut AnyConnection) {
    let _ = sqlx::query("SELECT pg_advisory_unlock_all()")
        .execute(conn)
        .await;
}
