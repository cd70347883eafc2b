//! Reliable delivery of the bot's own posts.
//!
//! Features call [`Outbox::enqueue`]; the post is written to the store first and then sent by the
//! worker, which retries with backoff on 429/5xx/network errors, gives up with a logged reason on
//! 403/404, and survives restarts: pending posts are resumed, and the per-post nonce (sent with
//! `enforce_nonce`) makes Discord return the first message if a crash came between sending and
//! recording, so nothing is posted twice.

use std::sync::Arc;
use std::time::Duration;

use rand::distributions::{Alphanumeric, DistString};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::db::{self, outbox::NewPost, Pool};
use crate::domain::clock::{unix_now, unix_now_ms};
use crate::domain::delivery::{decide, Attempt, Decision, RetryPolicy};

/// Where posts go: Discord in production, a recorder in tests.
#[async_trait::async_trait]
pub trait Sink: Send + Sync {
    /// Creates a message in `channel_id` with `body` (a create-message JSON body) and `nonce`.
    async fn create_message(
        &self,
        channel_id: u64,
        body: &serde_json::Value,
        nonce: &str,
    ) -> Attempt;
}

/// Handle to queue posts; cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    pool: Pool,
    wake: Arc<Notify>,
}

impl Outbox {
    pub fn new(pool: Pool) -> Self {
        Self {
            pool,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Queues a post and wakes the worker. Queuing the same `dedup_key` twice queues it once.
    pub async fn enqueue(&self, post: NewPost) -> anyhow::Result<Option<i64>> {
        let id = db::outbox::enqueue(&self.pool, &post, &new_nonce(), unix_now_ms()).await?;
        match id {
            Some(id) => {
                debug!(outbox.id = id, post.kind = %post.kind, guild.id = post.guild_id, "post queued");
                self.wake.notify_one();
            }
            None => debug!(post.dedup_key = %post.dedup_key, "post already queued"),
        }
        Ok(id)
    }
}

/// Discord accepts nonces of up to 25 characters.
fn new_nonce() -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), 25)
}

/// Sends due posts until cancelled; on cancellation, makes one last pass over what is due (bounded
/// by `flush_timeout`) so a clean shutdown leaves nothing sendable behind.
pub async fn run_worker(
    outbox: Outbox,
    sink: Arc<dyn Sink>,
    policy: RetryPolicy,
    shutdown: CancellationToken,
    flush_timeout: Duration,
) {
    let resumed = db::outbox::pending_count(&outbox.pool).await.unwrap_or(0);
    if resumed > 0 {
        info!(posts = resumed, "resuming pending posts from the outbox");
    }
    loop {
        if let Err(err) = deliver_due(&outbox.pool, sink.as_ref(), &policy).await {
            warn!(error = %format!("{err:#}"), "outbox pass failed; retrying shortly");
        }
        let wait = match db::outbox::next_due_ms(&outbox.pool).await {
            Ok(Some(at)) => Duration::from_millis(u64::try_from(at - unix_now_ms()).unwrap_or(0)),
            Ok(None) => Duration::from_secs(60),
            Err(_) => Duration::from_secs(1),
        };
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = outbox.wake.notified() => {}
            () = tokio::time::sleep(wait.min(Duration::from_secs(60))) => {}
        }
    }
    match tokio::time::timeout(
        flush_timeout,
        deliver_due(&outbox.pool, sink.as_ref(), &policy),
    )
    .await
    {
        Ok(Ok(())) => {}
        Ok(Err(err)) => warn!(error = %format!("{err:#}"), "final outbox flush failed"),
        Err(_) => warn!("final outbox flush timed out; pending posts resume at next start"),
    }
    let left = db::outbox::pending_count(&outbox.pool).await.unwrap_or(0);
    info!(pending = left, "outbox stopped");
}

/// One pass: sends every post that is due now.
async fn deliver_due(pool: &Pool, sink: &dyn Sink, policy: &RetryPolicy) -> anyhow::Result<()> {
    loop {
        let batch = db::outbox::due(pool, unix_now_ms(), 50).await?;
        if batch.is_empty() {
            return Ok(());
        }
        for post in batch {
            let mut body: serde_json::Value = serde_json::from_str(&post.body)?;
            if let Some(map) = body.as_object_mut() {
                map.insert("nonce".into(), post.nonce.clone().into());
                map.insert("enforce_nonce".into(), true.into());
            }
            let attempt = sink
                .create_message(post.channel(), &body, &post.nonce)
                .await;
            let attempts = u32::try_from(post.attempts + 1).unwrap_or(u32::MAX);
            match decide(&attempt, attempts, policy, unix_now_ms()) {
                Decision::Delivered { message_id } => {
                    db::outbox::mark_delivered(pool, post.id, message_id, unix_now()).await?;
                    info!(outbox.id = post.id, post.kind = %post.kind, guild.id = post.guild(), channel.id = post.channel(), message.id = message_id, attempts, "post delivered");
                }
                Decision::RetryAt { at_ms, reason } => {
                    db::outbox::mark_retry(pool, post.id, at_ms, &reason).await?;
                    warn!(outbox.id = post.id, post.kind = %post.kind, attempts, retry_in_ms = at_ms - unix_now_ms(), %reason, "post not delivered; will retry");
                }
                Decision::GiveUp { reason } => {
                    db::outbox::mark_failed(pool, post.id, &reason, unix_now()).await?;
                    warn!(outbox.id = post.id, post.kind = %post.kind, guild.id = post.guild(), channel.id = post.channel(), attempts, %reason, "post given up");
                }
            }
        }
    }
}
