//! Activity tracking: gateway handlers hand records, joins and leaves to a batched writer so the
//! gateway loop never waits on the disk. A batch is what arrives in the `BATCH_WINDOW` after its
//! first entry (at most `BATCH_SIZE`; less when the stream pauses for `QUIET`), written in one
//! transaction and retried if that fails (the database busy past its timeout); a clean shutdown
//! flushes everything, so a SIGKILL loses at most one window of entries.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use sqlx::pool::PoolConnection;
use sqlx::{Any, Connection as _};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use crate::db::{
    self,
    activity::Record,
    welcome::{Join, Membership},
    Pool,
};

/// Most records in one transaction (a busy guild's burst fills it before the window ends).
pub const BATCH_SIZE: usize = 20_000;
/// Longest a record waits before it is written.
pub const BATCH_WINDOW: Duration = Duration::from_millis(250);
/// A batch is written early when this passes without a new record.
const QUIET: Duration = Duration::from_millis(25);

/// What the writer stores.
enum Entry {
    Activity(Record),
    /// A member's first message seen by this process (the store keeps the earliest anyway).
    FirstMessage {
        guild_id: u64,
        user_id: u64,
        at: i64,
    },
    /// A join or a leave; `written` hears when it is in the store.
    Membership {
        change: Membership,
        written: Option<oneshot::Sender<()>>,
    },
}

/// Resolves once a join is in the store.
pub struct Written(oneshot::Receiver<()>);

impl Written {
    /// Waits for the write; an error when its batch was dropped after every retry.
    pub async fn wait(self) -> anyhow::Result<()> {
        self.0.await.map_err(|_| {
            anyhow::anyhow!("the join could not be recorded (see the activity writer's warning)")
        })
    }
}

/// Handle to record activity; cheap to clone.
#[derive(Clone)]
pub struct Tracker {
    tx: mpsc::UnboundedSender<Entry>,
    optouts: Arc<RwLock<HashSet<(u64, u64)>>>,
    /// Members whose first message is already recorded in this process, so the message handler
    /// writes it once per member instead of once per message.
    first_messages: Arc<parking_lot::Mutex<HashSet<(u64, u64)>>>,
    /// Members whose Discord join time was handed to the writer by this process.
    known_joins: Arc<parking_lot::Mutex<HashSet<(u64, u64)>>>,
}

impl Tracker {
    /// Starts the writer; it stops (after flushing) when every `Tracker` is dropped.
    pub async fn start(pool: Pool) -> anyhow::Result<(Self, tokio::task::JoinHandle<()>)> {
        let optouts: HashSet<(u64, u64)> =
            db::activity::optouts(&pool).await?.into_iter().collect();
        let (tx, rx) = mpsc::unbounded_channel();
        let writer = tokio::spawn(write_batches(pool, rx));
        Ok((
            Self {
                tx,
                optouts: Arc::new(RwLock::new(optouts)),
                first_messages: Arc::default(),
                known_joins: Arc::default(),
            },
            writer,
        ))
    }

    /// Records activity unless the member opted out.
    pub fn record(&self, record: Record) {
        if self
            .optouts
            .read()
            .contains(&(record.guild_id, record.user_id))
        {
            return;
        }
        self.send(Entry::Activity(record));
    }

    /// Records the time of a member's first message, written with the next batch. Only the
    /// first one this process sees is sent: the store keeps the earliest time anyway.
    pub fn first_message(&self, guild_id: u64, user_id: u64, at: i64) {
        if self.first_messages.lock().insert((guild_id, user_id)) {
            self.send(Entry::FirstMessage {
                guild_id,
                user_id,
                at,
            });
        }
    }

    /// Records a join with the next batch (joins are mostly bookkeeping for the analytics; a
    /// welcome that needs the join stored waits for `Written`).
    pub fn join(&self, join: Join) -> Written {
        let (written, heard) = oneshot::channel();
        self.send(Entry::Membership {
            change: Membership::Joined(join),
            written: Some(written),
        });
        Written(heard)
    }

    /// Records when Discord says a member joined (`joined_at` of a member object), once per
    /// member and process: a member Hearth never saw join was there before it (issue 22).
    pub fn known_join(&self, guild_id: u64, user_id: u64, joined_at: i64) {
        if joined_at > 0 && self.known_joins.lock().insert((guild_id, user_id)) {
            self.send(Entry::Membership {
                change: Membership::Known {
                    guild_id,
                    user_id,
                    joined_at,
                },
                written: None,
            });
        }
    }

    /// Records that a member left, with the next batch.
    pub fn leave(&self, guild_id: u64, user_id: u64, at: i64) {
        self.send(Entry::Membership {
            change: Membership::Left {
                guild_id,
                user_id,
                at,
            },
            written: None,
        });
    }

    fn send(&self, entry: Entry) {
        if self.tx.send(entry).is_err() {
            warn!("activity writer stopped; record dropped");
        }
    }

    /// Whether a member opted out of tracking.
    pub fn is_opted_out(&self, guild_id: u64, user_id: u64) -> bool {
        self.optouts.read().contains(&(guild_id, user_id))
    }

    /// Applies an opt-out or opt-in from now on.
    pub fn set_opted_out(&self, guild_id: u64, user_id: u64, out: bool) {
        let mut set = self.optouts.write();
        if out {
            set.insert((guild_id, user_id));
        } else {
            set.remove(&(guild_id, user_id));
        }
    }
}

async fn write_batches(pool: Pool, mut rx: mpsc::UnboundedReceiver<Entry>) {
    let mut batch = Vec::with_capacity(BATCH_SIZE);
    // The writer keeps a connection of its own: a burst of joins or commands holding every pooled
    // connection (each waiting for SQLite's write lock) must not queue the activity writer.
    let mut own: Option<PoolConnection<Any>> = None;
    // Wake on the first record, then collect in steps of `QUIET` until the window ends or a step
    // brings nothing: waking per record would cost a task switch per gateway event, and a burst's
    // end is written at once rather than a whole window later.
    while rx.recv_many(&mut batch, BATCH_SIZE).await > 0 {
        let window_ends = tokio::time::Instant::now() + BATCH_WINDOW;
        while batch.len() < BATCH_SIZE && tokio::time::Instant::now() < window_ends {
            tokio::time::sleep(QUIET).await;
            let before = batch.len();
            while batch.len() < BATCH_SIZE {
                let Ok(record) = rx.try_recv() else { break };
                batch.push(record);
            }
            if batch.len() == before {
                break;
            }
        }
        flush(&mut own, &pool, &mut batch).await;
    }
    debug!("activity writer stopped");
}

/// Tries to write a batch this many times before dropping it. A retry counts nothing twice: the
/// store ignores records it holds, and keeps the earliest first message.
const WRITE_ATTEMPTS: u32 = 3;
/// The wait before the first retry; it doubles for each one after.
const RETRY_AFTER: Duration = Duration::from_millis(500);

/// Writes the batch in one transaction, retrying on a fresh connection after a failure (the
/// database busy past its timeout, a broken connection); after the last attempt the batch is
/// dropped with a warning.
async fn flush(own: &mut Option<PoolConnection<Any>>, pool: &Pool, batch: &mut Vec<Entry>) {
    if batch.is_empty() {
        return;
    }
    let mut records = Vec::with_capacity(batch.len());
    let mut firsts = Vec::new();
    let (mut changes, mut written) = (Vec::new(), Vec::new());
    for entry in batch.drain(..) {
        match entry {
            Entry::Activity(record) => records.push(record),
            Entry::FirstMessage {
                guild_id,
                user_id,
                at,
            } => firsts.push((guild_id, user_id, at)),
            Entry::Membership { change, written: w } => {
                changes.push(change);
                written.extend(w);
            }
        }
    }
    let mut wait = RETRY_AFTER;
    for attempt in 1..=WRITE_ATTEMPTS {
        if own.is_none() {
            *own = pool.acquire().await.ok();
        }
        match write(own.as_mut(), pool, &records, &firsts, &changes).await {
            Ok(()) => {
                debug!(
                    records = records.len(),
                    first_messages = firsts.len(),
                    memberships = changes.len(),
                    "activity batch written"
                );
                for waiting in written {
                    let _ = waiting.send(());
                }
                return;
            }
            Err(err) => {
                // The connection may be what failed: the next attempt takes another.
                *own = None;
                if attempt == WRITE_ATTEMPTS {
                    warn!(records = records.len(), memberships = changes.len(), error = %err, "activity batch could not be written; dropped");
                } else {
                    warn!(records = records.len(), attempt, error = %err, "activity batch could not be written; retrying");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
            }
        }
    }
}

/// One transaction for the batch: joins and first messages do not take a write each.
async fn write(
    conn: Option<&mut PoolConnection<Any>>,
    pool: &Pool,
    records: &[Record],
    firsts: &[(u64, u64, i64)],
    changes: &[Membership],
) -> sqlx::Result<()> {
    let mut tx = match conn {
        Some(conn) => conn.begin().await?,
        None => pool.begin().await?,
    };
    // A member's first message may arrive in the same batch as their join: the member row
    // takes both, in either order.
    db::welcome::apply(&mut tx, changes).await?;
    db::activity::insert(&mut tx, records).await?;
    db::welcome::record_first_messages(&mut tx, firsts).await?;
    tx.commit().await
}
