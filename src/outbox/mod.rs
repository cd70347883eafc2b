//! Reliable delivery of the bot's own posts.
//!
//! Features call [`Outbox::enqueue`]; the post is written to the store first and then performed
//! by the worker, which retries with backoff on 429/5xx/network errors, gives up with a logged
//! reason on 403/404, and survives restarts: pending posts are resumed. Every message carries a
//! nonce (sent with `enforce_nonce`), so if a crash comes between Discord accepting a message and
//! the outbox recording it, the retry returns the first message instead of posting a second.
//! Multi-step actions (intro threads, DMs) are built from steps that are each idempotent.

pub mod posts;
pub mod rest;

use std::sync::Arc;
use std::time::Duration;

use rand::distributions::{Alphanumeric, DistString};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::db::{self, outbox::NewPost, outbox::QueuedPost, Pool};
use crate::domain::clock::{unix_now, unix_now_ms};
use crate::domain::delivery::{decide, Attempt, Decision, PostAge, RetryPolicy};

/// Returns early from a multi-step action unless the step was delivered; evaluates to its id.
macro_rules! step {
    ($attempt:expr) => {
        match $attempt {
            Attempt::Delivered { message_id } => message_id,
            other => return other,
        }
    };
}

/// What a queued post does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Create a message (`body` is a create-message JSON body without nonce), and start a
    /// thread on it when `thread` names one.
    Message {
        body: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        thread: Option<String>,
    },
    /// Open the member's intro thread in the post's channel (or reopen the one they had) and
    /// post `prompt` in it. `forum` channels get a forum post instead of a thread.
    IntroThread {
        user_id: u64,
        name: String,
        forum: bool,
        prompt: Value,
    },
    /// A thread for a topic (a forum post in a forum channel), opened with `body`; delivered
    /// with the thread's id.
    Thread {
        name: String,
        forum: bool,
        body: Value,
        /// Forum tags of the post (forum channels only).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tags: Vec<u64>,
    },
    /// A direct message; when the member does not accept DMs (Discord 50007) it goes to their
    /// intro thread instead, if they have one and `fallback_to_thread` is set.
    DirectMessage {
        user_id: u64,
        body: Value,
        #[serde(default)]
        fallback_to_thread: bool,
        /// When DMs are closed, post the body in this channel instead (an event's thread; the
        /// body mentions the member). Takes precedence over `fallback_to_thread`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fallback_channel: Option<u64>,
    },
    /// Create the Discord scheduled event of Hearth event `event_id` (an occurrence of a
    /// series) from `body`; delivered with its id, which is recorded on the event.
    ScheduledEvent { event_id: i64, body: Value },
    /// Give (`add`) or take back a role (an event's temporary attendee role).
    MemberRole {
        user_id: u64,
        role_id: u64,
        add: bool,
    },
    /// The private thread of a connections group (`match_id`): created once (its id is
    /// recorded on the match), the members added, then `body` posted; delivered with the
    /// thread's id.
    MatchThread {
        match_id: i64,
        name: String,
        members: Vec<u64>,
        body: Value,
    },
}

/// Discord operations the outbox needs: Discord in production, a recorder in tests.
#[async_trait::async_trait]
pub trait Sink: Send + Sync {
    /// Creates a message; `Delivered` carries the message id.
    async fn create_message(&self, channel_id: u64, body: &Value) -> Attempt;
    /// Starts a public thread on a message; `Delivered` carries the thread id. A thread that
    /// already exists on that message counts as delivered (its id is the message id).
    async fn start_thread(&self, channel_id: u64, message_id: u64, name: &str) -> Attempt;
    /// Creates a forum post; `Delivered` carries the thread id.
    async fn create_forum_post(
        &self,
        forum_id: u64,
        name: &str,
        tags: &[u64],
        body: &Value,
    ) -> Attempt;
    /// Unarchives a thread.
    async fn reopen_thread(&self, thread_id: u64) -> Attempt;
    /// Adds a member to a thread.
    async fn add_thread_member(&self, thread_id: u64, user_id: u64) -> Attempt;
    /// Creates a private thread in a channel; `Delivered` carries the thread id.
    async fn create_private_thread(&self, channel_id: u64, name: &str) -> Attempt {
        let _ = (channel_id, name);
        Attempt::Rejected {
            status: 501,
            code: None,
            message: "this sink cannot create private threads".into(),
            retry_after_secs: None,
        }
    }
    /// Opens (or finds) the DM channel with a user; `Delivered` carries the channel id.
    async fn open_dm(&self, user_id: u64) -> Attempt;
    /// Creates a guild scheduled event, unless one of the bot's own with the same name and
    /// start exists (a retry after a crash); `Delivered` carries its id.
    /// Gives or takes back a member's role; `Delivered` carries the role id.
    async fn member_role(&self, guild_id: u64, user_id: u64, role_id: u64, add: bool) -> Attempt {
        let _ = (guild_id, user_id, role_id, add);
        Attempt::Rejected {
            status: 501,
            code: None,
            message: "this sink cannot change roles".into(),
            retry_after_secs: None,
        }
    }
    async fn create_scheduled_event(&self, guild_id: u64, body: &Value) -> Attempt {
        let _ = (guild_id, body);
        Attempt::Rejected {
            status: 501,
            code: None,
            message: "this sink cannot create scheduled events".into(),
            retry_after_secs: None,
        }
    }
}

/// Handle to queue posts; cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    pool: Pool,
    wake: Arc<Notify>,
    /// This process's number on its claims (db::advisory::OWNER_SPACE) when it shares its
    /// store with other processes; 0 when it runs alone.
    owner: i64,
}

impl Outbox {
    pub fn new(pool: Pool) -> Self {
        Self {
            pool,
            wake: Arc::new(Notify::new()),
            owner: 0,
        }
    }

    /// The outbox of a process that shares its store with others: its claims carry `owner`, the
    /// number of the advisory lock that tells the others it is alive.
    pub fn owned_by(mut self, owner: i32) -> Self {
        self.owner = i64::from(owner);
        self
    }

    /// Queues a post and wakes the worker. Queuing the same `dedup_key` twice queues it once.
    pub async fn enqueue(&self, post: NewPost) -> anyhow::Result<Option<i64>> {
        let id = enqueue_in(&self.pool, &post).await?;
        match id {
            Some(id) => {
                debug!(outbox.id = id, post.kind = %post.kind, guild.id = post.guild_id, "post queued");
                self.wake.notify_one();
            }
            None => debug!(post.dedup_key = %post.dedup_key, "post already queued"),
        }
        Ok(id)
    }

    /// Wakes the worker after posts were queued inside a caller's transaction.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Returns once `wake` is called, at once when a wake-up is already pending.
    pub async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Queues a plain message.
    pub async fn message(
        &self,
        guild_id: u64,
        channel_id: u64,
        kind: &str,
        dedup_key: String,
        body: Value,
    ) -> anyhow::Result<Option<i64>> {
        self.enqueue(message_post(guild_id, channel_id, kind, dedup_key, body))
            .await
    }
}

/// A plain message to `channel_id`, due now.
pub fn message_post(
    guild_id: u64,
    channel_id: u64,
    kind: &str,
    dedup_key: String,
    body: Value,
) -> NewPost {
    NewPost {
        guild_id,
        channel_id,
        kind: kind.to_owned(),
        dedup_key,
        body: action_json(&Action::Message { body, thread: None }),
        not_before_ms: None,
    }
}

/// Queues a post with a fresh nonce, in `db` (a pool or the caller's transaction), without
/// waking the worker: for jobs that wake it once after their run (the scheduler).
pub async fn enqueue_in(
    db: impl sqlx::AnyExecutor<'_>,
    post: &NewPost,
) -> sqlx::Result<Option<i64>> {
    db::outbox::enqueue(db, post, &new_nonce(), unix_now_ms()).await
}

/// An action as stored in the outbox.
pub fn action_json(action: &Action) -> Value {
    serde_json::to_value(action).unwrap_or(Value::Null)
}

/// Discord accepts nonces of up to 25 characters; the last one is the step letter.
pub fn new_nonce() -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), 24)
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
    // Claims left by a process that died mid-send (an earlier run, or another process of a
    // shared PostgreSQL store) are released now and, on a shared store, again every pass below,
    // so that a surviving process takes over the posts of one that was killed.
    if let Err(err) = db::outbox::release_claims_of_the_gone(&outbox.pool).await {
        warn!(error = %err, "could not release the outbox claims of an earlier run");
    }
    let shared_store = outbox.owner != 0;
    let resumed = db::outbox::pending_count(&outbox.pool).await.unwrap_or(0);
    if resumed > 0 {
        info!(posts = resumed, "resuming pending posts from the outbox");
    }
    let worker = Worker {
        pool: outbox.pool.clone(),
        sink,
        policy,
        owner: outbox.owner,
    };
    loop {
        if shared_store {
            match db::outbox::release_claims_of_the_gone(&outbox.pool).await {
                Ok(0) => {}
                Ok(released) => {
                    info!(
                        posts = released,
                        "took over the posts of a process that is gone"
                    )
                }
                Err(err) => warn!(error = %err, "could not look for claims of processes gone"),
            }
        }
        if let Err(err) = worker.deliver_due().await {
            warn!(error = %format!("{err:#}"), "outbox pass failed; retrying shortly");
        }
        let wait = match db::outbox::next_due_ms(&outbox.pool).await {
            Ok(Some(at)) => Duration::from_millis(u64::try_from(at - unix_now_ms()).unwrap_or(0)),
            Ok(None) => Duration::from_secs(60),
            Err(_) => Duration::from_secs(1),
        };
        // Another process's posts are claimed (due, yet not this one's to send) or queued
        // without waking this worker: look again soon, never at once.
        let wait = if shared_store {
            wait.clamp(SHARED_STORE_MIN_WAIT, SHARED_STORE_MAX_WAIT)
        } else {
            wait
        };
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = outbox.woken() => {}
            () = tokio::time::sleep(wait.min(Duration::from_secs(60))) => {}
        }
    }
    match tokio::time::timeout(flush_timeout, worker.deliver_due()).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => warn!(error = %format!("{err:#}"), "final outbox flush failed"),
        Err(_) => warn!("final outbox flush timed out; pending posts resume at next start"),
    }
    let left = db::outbox::pending_count(&outbox.pool).await.unwrap_or(0);
    info!(pending = left, "outbox stopped");
}

/// How long a worker holds the posts it claimed (they are released when done with, so this only
/// matters for a worker that dies holding them).
const CLAIM_MS: i64 = 10 * 60 * 1000;

/// How often the worker of a process sharing its store looks for posts at least and at most.
const SHARED_STORE_MIN_WAIT: Duration = Duration::from_millis(500);
const SHARED_STORE_MAX_WAIT: Duration = Duration::from_secs(3);

struct Worker {
    pool: Pool,
    sink: Arc<dyn Sink>,
    policy: RetryPolicy,
    owner: i64,
}

impl Worker {
    /// One pass: performs every post that is due now.
    async fn deliver_due(&self) -> anyhow::Result<()> {
        loop {
            let now = unix_now_ms();
            let batch =
                db::outbox::claim_due_for(&self.pool, self.owner, now, now + CLAIM_MS, 50).await?;
            if batch.is_empty() {
                return Ok(());
            }
            for post in batch {
                self.deliver(&post).await?;
            }
        }
    }

    async fn deliver(&self, post: &QueuedPost) -> anyhow::Result<()> {
        let attempt = match serde_json::from_str::<Action>(&post.body) {
            Ok(action) => self.perform(post, &action).await,
            Err(err) => Attempt::Rejected {
                status: 400,
                code: None,
                message: format!("unreadable outbox entry: {err}"),
                retry_after_secs: None,
            },
        };
        let attempts = u32::try_from(post.attempts + 1).unwrap_or(u32::MAX);
        let age = PostAge {
            attempts,
            queued_at_ms: post.created_at.saturating_mul(1000),
        };
        let pool = &self.pool;
        match decide(&attempt, age, &self.policy, unix_now_ms()) {
            Decision::Delivered { message_id } => {
                db::outbox::mark_delivered(pool, post.id, message_id, unix_now()).await?;
                info!(outbox.id = post.id, post.kind = %post.kind, guild.id = post.guild(), channel.id = post.channel(), message.id = message_id, attempts, "post delivered");
            }
            Decision::RetryAt { at_ms, reason } => {
                db::outbox::mark_retry(pool, post.id, at_ms, &reason).await?;
                warn!(outbox.id = post.id, post.kind = %post.kind, attempts, retry_in_ms = at_ms - unix_now_ms(), %reason, "post not delivered; will retry");
            }
            Decision::WaitUntil { at_ms, reason } => {
                db::outbox::mark_wait(pool, post.id, at_ms, &reason).await?;
                debug!(outbox.id = post.id, post.kind = %post.kind, wait_ms = at_ms - unix_now_ms(), %reason, "post waits; not an attempt");
            }
            Decision::GiveUp { reason } => {
                db::outbox::mark_failed(pool, post.id, &reason, unix_now()).await?;
                warn!(outbox.id = post.id, post.kind = %post.kind, guild.id = post.guild(), channel.id = post.channel(), attempts, %reason, "post given up");
            }
        }
        Ok(())
    }

    async fn perform(&self, post: &QueuedPost, action: &Action) -> Attempt {
        let sink = self.sink.as_ref();
        match action {
            Action::Message { body, thread } => {
                let message = step!(
                    sink.create_message(post.channel(), &with_nonce(body, &post.nonce, 'm'))
                        .await
                );
                match thread {
                    Some(name) => {
                        step!(sink.start_thread(post.channel(), message, name).await);
                        Attempt::Delivered {
                            message_id: message,
                        }
                    }
                    None => Attempt::Delivered {
                        message_id: message,
                    },
                }
            }
            Action::IntroThread {
                user_id,
                name,
                forum,
                prompt,
            } => {
                self.intro_thread(post, *user_id, name, *forum, prompt)
                    .await
            }
            Action::Thread {
                name,
                forum,
                body,
                tags,
            } => {
                if *forum {
                    sink.create_forum_post(
                        post.channel(),
                        name,
                        tags,
                        &with_nonce(body, &post.nonce, 'f'),
                    )
                    .await
                } else {
                    let starter = step!(
                        sink.create_message(post.channel(), &with_nonce(body, &post.nonce, 's'))
                            .await
                    );
                    sink.start_thread(post.channel(), starter, name).await
                }
            }
            Action::ScheduledEvent { event_id, body } => {
                self.scheduled_event(post, *event_id, body).await
            }
            Action::MatchThread {
                match_id,
                name,
                members,
                body,
            } => {
                self.match_thread(post, *match_id, name, members, body)
                    .await
            }
            Action::MemberRole {
                user_id,
                role_id,
                add,
            } => {
                sink.member_role(post.guild(), *user_id, *role_id, *add)
                    .await
            }
            Action::DirectMessage {
                user_id,
                body,
                fallback_to_thread,
                fallback_channel,
            } => {
                let fallback = match fallback_channel {
                    Some(channel) => DmFallback::Channel(*channel),
                    None if *fallback_to_thread => DmFallback::IntroThread,
                    None => DmFallback::Nothing,
                };
                self.direct_message(post, *user_id, body, fallback).await
            }
        }
    }

    /// Each step is idempotent: the thread is recorded as soon as it exists, the prompt carries
    /// a nonce, and a thread started on a message exists at most once.
    async fn intro_thread(
        &self,
        post: &QueuedPost,
        user_id: u64,
        name: &str,
        forum: bool,
        prompt: &Value,
    ) -> Attempt {
        let sink = self.sink.as_ref();
        let guild_id = post.guild();
        let existing = match db::welcome::intro_thread(&self.pool, guild_id, user_id).await {
            Ok(existing) => existing,
            Err(err) => return Attempt::Network(format!("database: {err}")),
        };
        if let Some(thread) = existing {
            match sink.reopen_thread(thread).await {
                Attempt::Delivered { .. } => {
                    step!(sink.add_thread_member(thread, user_id).await);
                    let welcome_back = with_nonce(prompt, &post.nonce, 'r');
                    return match sink.create_message(thread, &welcome_back).await {
                        Attempt::Delivered { .. } => Attempt::Delivered { message_id: thread },
                        other => other,
                    };
                }
                // The old thread was deleted: open a new one below.
                Attempt::Rejected { status: 404, .. } => {}
                other => return other,
            }
        }
        let thread = if forum {
            step!(
                sink.create_forum_post(
                    post.channel(),
                    name,
                    &[],
                    &with_nonce(prompt, &post.nonce, 'f')
                )
                .await
            )
        } else {
            let starter = step!(
                sink.create_message(post.channel(), &with_nonce(prompt, &post.nonce, 's'))
                    .await
            );
            step!(sink.start_thread(post.channel(), starter, name).await)
        };
        if let Err(err) = db::welcome::set_intro_thread(&self.pool, guild_id, user_id, thread).await
        {
            return Attempt::Network(format!("database: {err}"));
        }
        step!(sink.add_thread_member(thread, user_id).await);
        Attempt::Delivered { message_id: thread }
    }

    /// Each step is idempotent: the thread is recorded on the match as soon as it exists, adding
    /// a member twice is harmless, and the introduction carries a nonce.
    async fn match_thread(
        &self,
        post: &QueuedPost,
        match_id: i64,
        name: &str,
        members: &[u64],
        body: &Value,
    ) -> Attempt {
        let sink = self.sink.as_ref();
        let recorded = match db::connections::match_by_id(&self.pool, match_id).await {
            Ok(found) => found.and_then(|m| m.thread_id),
            Err(err) => return Attempt::Network(format!("database: {err}")),
        };
        let thread = match recorded {
            Some(thread) => thread,
            None => {
                let thread = step!(sink.create_private_thread(post.channel(), name).await);
                if let Err(err) = db::connections::set_thread(&self.pool, match_id, thread).await {
                    return Attempt::Network(format!("database: {err}"));
                }
                thread
            }
        };
        for member in members {
            step!(sink.add_thread_member(thread, *member).await);
        }
        match sink
            .create_message(thread, &with_nonce(body, &post.nonce, 'c'))
            .await
        {
            Attempt::Delivered { .. } => Attempt::Delivered { message_id: thread },
            other => other,
        }
    }

    /// Each step is idempotent: an event already recorded is done, and the sink adopts an
    /// event it created before a crash instead of creating a second one.
    async fn scheduled_event(&self, post: &QueuedPost, event_id: i64, body: &Value) -> Attempt {
        match db::events::by_id(&self.pool, event_id).await {
            Ok(Some(event)) => {
                if let Some(done) = event.discord_event_id {
                    return Attempt::Delivered {
                        message_id: db::from_sql_id(done),
                    };
                }
                if !event.is_scheduled() {
                    return Attempt::Rejected {
                        status: 410,
                        code: None,
                        message: "the event was cancelled before Discord's event was created"
                            .into(),
                        retry_after_secs: None,
                    };
                }
            }
            Ok(None) => {
                return Attempt::Rejected {
                    status: 404,
                    code: None,
                    message: format!("event {event_id} no longer exists"),
                    retry_after_secs: None,
                }
            }
            Err(err) => return Attempt::Network(format!("database: {err}")),
        }
        let discord_id = step!(self.sink.create_scheduled_event(post.guild(), body).await);
        if let Err(err) = db::events::set_discord_event(&self.pool, event_id, discord_id).await {
            return Attempt::Network(format!("database: {err}"));
        }
        Attempt::Delivered {
            message_id: discord_id,
        }
    }

    async fn direct_message(
        &self,
        post: &QueuedPost,
        user_id: u64,
        body: &Value,
        fallback: DmFallback,
    ) -> Attempt {
        let sink = self.sink.as_ref();
        let dm = step!(sink.open_dm(user_id).await);
        let sent = sink
            .create_message(dm, &with_nonce(body, &post.nonce, 'd'))
            .await;
        match (sent, fallback) {
            (
                Attempt::Rejected {
                    code: Some(50007), ..
                },
                DmFallback::Channel(channel),
            ) => {
                sink.create_message(channel, &with_nonce(body, &post.nonce, 't'))
                    .await
            }
            (
                Attempt::Rejected {
                    code: Some(50007), ..
                },
                DmFallback::IntroThread,
            ) => {
                let thread = db::welcome::intro_thread(&self.pool, post.guild(), user_id)
                    .await
                    .ok()
                    .flatten();
                let Some(thread) = thread else {
                    // In a burst the member's intro thread is spaced out and may still be queued:
                    // the DM waits for it rather than losing the welcome (issue 23).
                    let queued =
                        db::outbox::pending_intro_thread_due(&self.pool, post.guild(), user_id)
                            .await;
                    return match queued {
                        Ok(Some(due_ms)) => Attempt::Deferred {
                            retry_after_ms: u64::try_from(due_ms - unix_now_ms())
                                .unwrap_or(0)
                                .saturating_add(1_000),
                            reason: "DMs closed; waiting for the member's intro thread".into(),
                        },
                        Ok(None) => Attempt::Rejected {
                            status: 403,
                            code: Some(50007),
                            message: "the member does not accept DMs and has no intro thread to fall back to".into(),
                            retry_after_secs: None,
                        },
                        Err(err) => Attempt::Network(format!("database: {err}")),
                    };
                };
                info!(
                    guild.id = post.guild(),
                    user.id = user_id,
                    thread.id = thread,
                    "DMs closed; welcome DM posted in the intro thread instead"
                );
                sink.create_message(thread, &with_nonce(body, &post.nonce, 't'))
                    .await
            }
            (other, _) => other,
        }
    }
}

/// Where a direct message goes when the member does not accept DMs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DmFallback {
    Nothing,
    IntroThread,
    Channel(u64),
}

/// A message body with the post's nonce for one step.
fn with_nonce(body: &Value, nonce: &str, step: char) -> Value {
    let mut body = body.clone();
    if let Some(map) = body.as_object_mut() {
        map.insert("nonce".into(), json!(format!("{nonce}{step}")));
        map.insert("enforce_nonce".into(), json!(true));
    }
    body
}
