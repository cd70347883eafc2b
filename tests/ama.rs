//! The AMA feature against a real SQLite store, without Discord: what is stored, queued and
//! answered around the scheduled event the command creates.

mod support;

use hearth::config::Config;
use hearth::db::{self, outbox::QueuedPost};
use hearth::domain::settings::ChannelPurpose;
use hearth::error::UserError;
use hearth::features::ama::{self, EventEnd, EventError, NewAma, NewQuestion};
use hearth::outbox::Outbox;
use serde_json::Value;

const GUILD: u64 = 1;
const CHANNEL: u64 = 10;
const HOST: u64 = 20;
const MEMBER: u64 = 30;
/// 2026-01-01 00:00 UTC; the AMAs below start later that year.
const NOW: i64 = 1_767_225_600;

async fn store(with_channel: bool) -> (tempfile::TempDir, db::Pool, Outbox) {
    let dir = tempfile::tempdir().unwrap();
    let pool = db::open(&support::store_url(&dir.path().join("a.db")))
        .await
        .unwrap();
    if with_channel {
        db::guilds::set_channel(&pool, GUILD, ChannelPurpose::Ama, CHANNEL, 0)
            .await
            .unwrap();
    }
    let outbox = Outbox::new(pool.clone());
    (dir, pool, outbox)
}

fn new_ama(title: &str) -> NewAma<'_> {
    NewAma {
        title,
        host: HOST,
        start: "2026-12-01 18:00",
        duration_minutes: None,
        description: Some("Ask about synths"),
    }
}

fn user_error(err: &anyhow::Error) -> String {
    err.downcast_ref::<UserError>()
        .unwrap_or_else(|| panic!("not a user error: {err:#}"))
        .0
        .clone()
}

/// What was queued since the last call (claiming posts returns each once), oldest first, with
/// the message body of each.
async fn queued(pool: &db::Pool) -> Vec<(QueuedPost, Value)> {
    db::outbox::claim_due(pool, i64::MAX - 1, i64::MAX, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|p| {
            let action: Value = serde_json::from_str(&p.body).unwrap();
            (p, action["body"].clone())
        })
        .collect()
}

#[tokio::test]
async fn an_ama_needs_a_channel_and_a_future_start() {
    let (_dir, pool, _) = store(false).await;
    let config = Config::default();
    let err = ama::create(&pool, &config, GUILD, &new_ama("Synths"), NOW)
        .await
        .unwrap_err();
    assert!(user_error(&err).contains("There is no AMA channel"));
    db::guilds::set_channel(&pool, GUILD, ChannelPurpose::Ama, CHANNEL, 0)
        .await
        .unwrap();
    let in_2027 = 1_800_000_000;
    let err = ama::create(&pool, &config, GUILD, &new_ama("Synths"), in_2027)
        .await
        .unwrap_err();
    assert!(user_error(&err).contains("that time has passed"));
    assert!(db::ama::list(&pool, GUILD).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_created_ama_keeps_its_event_and_queues_its_question_post() {
    let (_dir, pool, outbox) = store(true).await;
    let draft = ama::create(&pool, &Config::default(), GUILD, &new_ama("Synths"), NOW)
        .await
        .unwrap();
    assert_eq!((draft.channel, draft.host), (CHANNEL, HOST));
    let reply = ama::announce(&pool, &outbox, &draft, Ok(555))
        .await
        .unwrap();
    assert!(reply.contains("The Discord event is created."), "{reply}");
    assert!(reply.contains(&format!("<#{CHANNEL}>")), "{reply}");
    let stored = db::ama::get(&pool, GUILD, draft.id).await.unwrap().unwrap();
    assert_eq!(stored.event_id, Some(555));
    let posts = queued(&pool).await;
    assert_eq!(posts.len(), 1);
    let (post, body) = &posts[0];
    assert_eq!((post.kind.as_str(), post.channel()), ("ama", CHANNEL));
    assert_eq!(
        body["components"][0]["components"][0]["custom_id"],
        format!("{}{}", ama::ASK, draft.id)
    );
}

#[tokio::test]
async fn a_refused_event_is_explained_and_the_ama_goes_on() {
    let (_dir, pool, outbox) = store(true).await;
    let draft = ama::create(&pool, &Config::default(), GUILD, &new_ama("Synths"), NOW)
        .await
        .unwrap();
    let refused = EventError {
        error: "403 Forbidden".into(),
        reason: "Discord says I am missing permissions (50013)".into(),
    };
    let reply = ama::announce(&pool, &outbox, &draft, Err(refused))
        .await
        .unwrap();
    assert!(
        reply.contains("could not be created (Discord says I am missing permissions (50013)); give the bot Create Events"),
        "{reply}"
    );
    let stored = db::ama::get(&pool, GUILD, draft.id).await.unwrap().unwrap();
    assert_eq!(stored.event_id, None);
    assert_eq!(queued(&pool).await.len(), 1);
}

#[tokio::test]
async fn questions_go_to_the_open_ama_until_it_closes() {
    let (_dir, pool, outbox) = store(true).await;
    let err = ama::open_for_question(&pool, GUILD, None)
        .await
        .unwrap_err();
    assert_eq!(user_error(&err), "No AMA is open for questions right now.");
    let draft = ama::create(&pool, &Config::default(), GUILD, &new_ama("Synths"), NOW)
        .await
        .unwrap();
    ama::announce(&pool, &outbox, &draft, Ok(555))
        .await
        .unwrap();
    let id = ama::open_for_question(&pool, GUILD, None).await.unwrap();
    assert_eq!(id, draft.id);
    let question = NewQuestion {
        guild_id: GUILD,
        ama_id: id,
        author: MEMBER,
        text: "Which synth first?",
        anonymous: true,
    };
    let reply = ama::ask(&pool, &outbox, &question, NOW).await.unwrap();
    assert_eq!(
        reply.as_deref(),
        Some(
            "Your question Q1 is in. Members will not see who asked; managers can, for moderation."
        )
    );
    let posts = queued(&pool).await;
    let (post, body) = &posts[1];
    assert_eq!(post.kind, "ama-question");
    let content = body["content"].as_str().unwrap();
    assert!(content.contains("a member (anonymous)") && !content.contains(&MEMBER.to_string()));

    // Started an hour ago: the event is completed, not cancelled.
    let now = draft.start_at.timestamp() + 3600;
    let end = ama::close(&pool, &outbox, GUILD, id, now).await.unwrap();
    assert_eq!(
        end,
        Some(EventEnd {
            event_id: 555,
            status: 3
        })
    );
    assert_eq!(queued(&pool).await[0].0.kind, "ama-recap");
    assert_eq!(
        ama::ask(&pool, &outbox, &question, now).await.unwrap(),
        None
    );
    let err = ama::open_for_question(&pool, GUILD, Some(id))
        .await
        .unwrap_err();
    assert!(user_error(&err).contains("is closed"));
    let err = ama::close(&pool, &outbox, GUILD, id, now)
        .await
        .unwrap_err();
    assert_eq!(user_error(&err), format!("AMA #{id} is already closed."));
}
