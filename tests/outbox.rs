//! The outbox against a real SQLite store and a scripted sink (no Discord).

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hearth::db::{self, outbox::NewPost};
use hearth::domain::delivery::{Attempt, RetryPolicy};
use hearth::outbox::{action_json, run_worker, Action, Outbox, Sink};
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// Answers attempts from a script, then succeeds; records every call.
#[derive(Default)]
struct ScriptedSink {
    script: Mutex<Vec<Attempt>>,
    calls: Mutex<Vec<(u64, serde_json::Value)>>,
}

#[async_trait::async_trait]
impl Sink for ScriptedSink {
    async fn create_message(&self, channel_id: u64, body: &serde_json::Value) -> Attempt {
        self.calls.lock().unwrap().push((channel_id, body.clone()));
        let mut script = self.script.lock().unwrap();
        if script.is_empty() {
            Attempt::Delivered { message_id: 99 }
        } else {
            script.remove(0)
        }
    }
    async fn start_thread(&self, _: u64, message_id: u64, _: &str) -> Attempt {
        Attempt::Delivered { message_id }
    }
    async fn create_forum_post(
        &self,
        _: u64,
        _: &str,
        _: &[u64],
        _: &serde_json::Value,
    ) -> Attempt {
        Attempt::Delivered { message_id: 1 }
    }
    async fn reopen_thread(&self, thread_id: u64) -> Attempt {
        Attempt::Delivered {
            message_id: thread_id,
        }
    }
    async fn add_thread_member(&self, thread_id: u64, _: u64) -> Attempt {
        Attempt::Delivered {
            message_id: thread_id,
        }
    }
    async fn open_dm(&self, _: u64) -> Attempt {
        Attempt::Delivered { message_id: 5 }
    }
}

const FAST: RetryPolicy = RetryPolicy {
    max_attempts: 5,
    initial_backoff_ms: 10,
    max_backoff_ms: 50,
    retry_for_ms: 0,
};

fn post(key: &str) -> NewPost {
    NewPost {
        guild_id: 1,
        channel_id: 2,
        kind: "test".into(),
        dedup_key: key.into(),
        body: action_json(&Action::Message {
            thread: None,
            body: json!({"content": "hello", "allowed_mentions": {"parse": []}}),
        }),
        not_before_ms: None,
    }
}

fn server_error() -> Attempt {
    Attempt::Rejected {
        status: 500,
        code: None,
        message: "boom".into(),
        retry_after_secs: None,
    }
}

async fn run_until_idle(pool: &db::Pool, sink: Arc<ScriptedSink>) {
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(run_worker(
        Outbox::new(pool.clone()),
        sink,
        FAST,
        shutdown.clone(),
        Duration::from_secs(5),
    ));
    for _ in 0..200 {
        if db::outbox::pending_count(pool).await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shutdown.cancel();
    worker.await.unwrap();
}

#[tokio::test]
async fn retries_server_errors_and_delivers_once_with_one_nonce() {
    let (_dir, pool) = support::temp_store().await;
    let outbox = Outbox::new(pool.clone());
    assert!(outbox.enqueue(post("a")).await.unwrap().is_some());
    assert!(
        outbox.enqueue(post("a")).await.unwrap().is_none(),
        "same dedup key queues once"
    );
    let sink = Arc::new(ScriptedSink {
        script: Mutex::new(vec![server_error(), server_error()]),
        ..Default::default()
    });
    run_until_idle(&pool, sink.clone()).await;
    let calls = sink.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 3);
    let nonce = &calls[0].1["nonce"];
    assert_eq!(
        nonce.as_str().unwrap().len(),
        25,
        "Discord allows 25 characters"
    );
    assert!(calls
        .iter()
        .all(|(_, body)| &body["nonce"] == nonce && body["enforce_nonce"] == json!(true)));
    assert_eq!(db::outbox::pending_count(&pool).await.unwrap(), 0);
}

#[tokio::test]
async fn forbidden_gives_up_with_the_reason_recorded() {
    let (_dir, pool) = support::temp_store().await;
    Outbox::new(pool.clone()).enqueue(post("b")).await.unwrap();
    let forbidden = Attempt::Rejected {
        status: 403,
        code: Some(50013),
        message: "Missing Permissions".into(),
        retry_after_secs: None,
    };
    let sink = Arc::new(ScriptedSink {
        script: Mutex::new(vec![forbidden]),
        ..Default::default()
    });
    run_until_idle(&pool, sink.clone()).await;
    assert_eq!(sink.calls.lock().unwrap().len(), 1, "403 is not retried");
    let failures = db::outbox::recent_failures(&pool, 1, 0).await.unwrap();
    assert_eq!(failures.len(), 1);
    assert!(failures[0]
        .last_error
        .as_deref()
        .unwrap()
        .contains("Send Messages"));
}

#[tokio::test]
async fn pending_posts_survive_a_restart() {
    let (_dir, pool) = support::temp_store().await;
    Outbox::new(pool.clone()).enqueue(post("c")).await.unwrap();
    // First "process": every attempt fails, then it stops.
    let failing = Arc::new(ScriptedSink {
        script: Mutex::new(vec![server_error(); 100]),
        ..Default::default()
    });
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(run_worker(
        Outbox::new(pool.clone()),
        failing.clone(),
        FAST,
        shutdown.clone(),
        Duration::from_millis(1),
    ));
    tokio::time::sleep(Duration::from_millis(30)).await;
    shutdown.cancel();
    worker.await.unwrap();
    assert_eq!(db::outbox::pending_count(&pool).await.unwrap(), 1);
    // Second "process": the post is resumed and delivered.
    let ok = Arc::new(ScriptedSink::default());
    run_until_idle(&pool, ok.clone()).await;
    assert_eq!(ok.calls.lock().unwrap().len(), 1);
    assert_eq!(db::outbox::pending_count(&pool).await.unwrap(), 0);
}

#[tokio::test]
async fn rate_limits_are_waited_out_without_counting_attempts() {
    let (_dir, pool) = support::temp_store().await;
    Outbox::new(pool.clone()).enqueue(post("d")).await.unwrap();
    // Far more 429s than `max_attempts`: none of them is a failure.
    let limited = Attempt::RateLimited {
        retry_after_ms: 1,
        global: false,
    };
    let sink = Arc::new(ScriptedSink {
        script: Mutex::new(vec![limited; 30]),
        ..Default::default()
    });
    run_until_idle(&pool, sink.clone()).await;
    assert_eq!(sink.calls.lock().unwrap().len(), 31);
    let rows = db::outbox::states_of_kind(&pool, "test").await.unwrap();
    assert_eq!(rows[0].status, "delivered");
    assert_eq!(rows[0].attempts, 1);
}

#[tokio::test]
async fn transient_failures_are_retried_for_the_time_budget() {
    let (_dir, pool) = support::temp_store().await;
    Outbox::new(pool.clone()).enqueue(post("e")).await.unwrap();
    // Ten failures, twice `max_attempts`, but within the budget: delivered.
    let patient = RetryPolicy {
        retry_for_ms: 60_000,
        ..FAST
    };
    let sink = Arc::new(ScriptedSink {
        script: Mutex::new(vec![server_error(); 10]),
        ..Default::default()
    });
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(run_worker(
        Outbox::new(pool.clone()),
        sink.clone(),
        patient,
        shutdown.clone(),
        Duration::from_secs(5),
    ));
    for _ in 0..500 {
        if db::outbox::pending_count(&pool).await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shutdown.cancel();
    worker.await.unwrap();
    let rows = db::outbox::states_of_kind(&pool, "test").await.unwrap();
    assert_eq!(rows[0].status, "delivered", "{rows:?}");
    assert_eq!(rows[0].attempts, 11);
}

#[tokio::test]
async fn a_claimed_post_is_handed_to_one_worker_only() {
    let (_dir, pool) = support::temp_store().await;
    let outbox = Outbox::new(pool.clone());
    for i in 0..40 {
        outbox.enqueue(post(&format!("claim{i}"))).await.unwrap();
    }
    let now = hearth::domain::clock::unix_now_ms() + 1_000;
    let (a, b) = tokio::join!(
        db::outbox::claim_due(&pool, now, now + 60_000, 25),
        db::outbox::claim_due(&pool, now, now + 60_000, 25)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.len() + b.len(), 40, "every post claimed once");
    assert!(a.iter().all(|p| b.iter().all(|q| q.id != p.id)));
    // Claimed posts are not handed out again until released.
    assert!(db::outbox::claim_due(&pool, now, now + 60_000, 50)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        db::outbox::release_claims_of_the_gone(&pool).await.unwrap(),
        40
    );
    assert_eq!(
        db::outbox::claim_due(&pool, now, now + 60_000, 50)
            .await
            .unwrap()
            .len(),
        40
    );
}
