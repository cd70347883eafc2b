//! The feedback loop against a real SQLite store, without Discord: items, their posts, SLA
//! checks and follow-ups.

mod support;

use hearth::config::Config;
use hearth::db::{self, outbox::QueuedPost};
use hearth::domain::feedback::Status;
use hearth::domain::settings::ChannelPurpose;
use hearth::error::UserError;
use hearth::features::feedback::{
    self as feature, NewItem, Place, StatusChange, ThreadCheck, SLA_JOB,
};
use hearth::outbox::Outbox;
use serde_json::Value;

const GUILD: u64 = 1;
const FORUM: u64 = 10;
const MEMBER: u64 = 30;
const NOW: i64 = 1_767_225_600;

async fn store() -> (tempfile::TempDir, db::Pool, Outbox) {
    let dir = tempfile::tempdir().unwrap();
    let pool = db::open(&support::store_url(&dir.path().join("f.db")))
        .await
        .unwrap();
    let outbox = Outbox::new(pool.clone());
    (dir, pool, outbox)
}

fn user_error(err: &anyhow::Error) -> String {
    err.downcast_ref::<UserError>()
        .unwrap_or_else(|| panic!("not a user error: {err:#}"))
        .0
        .clone()
}

/// What was queued since the last call (claiming posts returns each once), oldest first.
async fn queued(pool: &db::Pool) -> Vec<(QueuedPost, Value)> {
    db::outbox::claim_due(pool, i64::MAX - 1, i64::MAX, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|p| {
            let action = serde_json::from_str(&p.body).unwrap();
            (p, action)
        })
        .collect()
}

fn place() -> Place {
    Place {
        guild_id: GUILD,
        channel: FORUM,
        forum: true,
        tags: vec![7],
    }
}

fn change(id: i64, status: Status, interaction: u64) -> StatusChange<'static> {
    StatusChange {
        guild_id: GUILD,
        id,
        status,
        note: Some("Next release"),
        interaction,
    }
}

#[tokio::test]
async fn an_item_is_posted_in_its_own_thread_with_an_sla_check() {
    let (_dir, pool, outbox) = store().await;
    let config = Config::default();
    let err = feature::channel(&pool, &config, GUILD).await.unwrap_err();
    assert!(user_error(&err).starts_with("Feedback is not set up here"));
    let item = NewItem::submitted(MEMBER, "idea", " Dark mode ", "Please", true);
    let id = feature::open_item(&pool, &config, &outbox, &place(), &item, NOW)
        .await
        .unwrap();
    let posts = queued(&pool).await;
    let (post, action) = &posts[0];
    assert_eq!((post.kind.as_str(), post.channel()), ("feedback", FORUM));
    assert_eq!(action["name"], format!("#{id} Dark mode"));
    assert_eq!(action["forum"], true);
    assert_eq!(action["tags"], serde_json::json!([7]));
    let stored = db::feedback::get(&pool, GUILD, id).await.unwrap().unwrap();
    assert!(stored.notify_dm);
    assert_eq!(stored.outbox_id, Some(post.id));
    let sla = db::jobs::get(&pool, SLA_JOB, id).await.unwrap().unwrap();
    let days = i64::from(config.feedback.sla_days);
    assert_eq!(sla.next_run_at, Some(NOW + days * 86_400));
}

#[tokio::test]
async fn a_follow_up_goes_to_the_thread_and_by_dm_to_a_submitter_who_asked() {
    let (_dir, pool, outbox) = store().await;
    let config = Config::default();
    let item = NewItem::submitted(MEMBER, "idea", "Dark mode", "Please", true);
    let id = feature::open_item(&pool, &config, &outbox, &place(), &item, NOW)
        .await
        .unwrap();
    let post = queued(&pool).await.remove(0).0;
    db::outbox::mark_delivered(&pool, post.id, 99, NOW)
        .await
        .unwrap();

    let change = change(id, Status::Planned, 5);
    let moved = feature::move_item(&pool, &change, NOW).await.unwrap();
    assert_eq!(moved.thread, Some(99));
    let check = ThreadCheck {
        exists: true,
        tags_failed: true,
    };
    let reply = feature::follow_up(&pool, &config, &outbox, &change, &moved, &check)
        .await
        .unwrap();
    assert_eq!(reply, format!("Feedback #{id} is now **planned** (its forum tags could not be updated: the bot needs Manage Threads); the follow-up is posted in <#99> and <@{MEMBER}> is told there."));
    let posts = queued(&pool).await;
    let kinds: Vec<(&str, u64)> = posts
        .iter()
        .map(|(p, _)| (p.kind.as_str(), p.channel()))
        .collect();
    assert_eq!(kinds, [("feedback-follow-up", 99), ("feedback-dm", 0)]);
    assert_eq!(posts[1].1["user_id"], MEMBER);
    let stored = db::feedback::get(&pool, GUILD, id).await.unwrap().unwrap();
    assert_eq!(
        (stored.status.as_str(), stored.acknowledged_at),
        ("planned", Some(NOW))
    );
}

#[tokio::test]
async fn without_its_thread_a_follow_up_goes_to_the_feedback_channel_or_is_refused() {
    let (_dir, pool, outbox) = store().await;
    let config = Config::default();
    let err = feature::move_item(&pool, &change(1, Status::Shipped, 5), NOW)
        .await
        .unwrap_err();
    assert_eq!(
        user_error(&err),
        "There is no feedback #1; `/feedback list` shows them."
    );
    let item = NewItem::tagged(GUILD, (2, 3), MEMBER, "ana", 40);
    let id = feature::open_item(&pool, &config, &outbox, &place(), &item, NOW)
        .await
        .unwrap();
    queued(&pool).await;
    let gone = ThreadCheck {
        exists: false,
        tags_failed: false,
    };
    let change = change(id, Status::Shipped, 6);
    let moved = feature::move_item(&pool, &change, NOW).await.unwrap();
    let err = feature::follow_up(&pool, &config, &outbox, &change, &moved, &gone)
        .await
        .unwrap_err();
    assert!(user_error(&err).contains("nowhere to post the follow-up"));

    db::guilds::set_channel(&pool, GUILD, ChannelPurpose::Feedback, FORUM, 0)
        .await
        .unwrap();
    let reply = feature::follow_up(&pool, &config, &outbox, &change, &moved, &gone)
        .await
        .unwrap();
    assert!(reply.contains("the item's thread is gone"), "{reply}");
    let posts = queued(&pool).await;
    assert_eq!(posts.len(), 1, "no DM: the submitter did not ask for one");
    assert_eq!(
        (posts[0].0.kind.as_str(), posts[0].0.channel()),
        ("feedback-follow-up", FORUM)
    );
}
