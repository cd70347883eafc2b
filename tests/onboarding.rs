//! Onboarding's features against a real SQLite store, without Discord: `/welcome setup`,
//! `/intro` and applications (the commands only parse, check and render around these).

mod support;

use hearth::db::{self, welcome::WelcomeSettings};
use hearth::domain::settings::{ChannelPurpose, GuildSettings};
use hearth::error::UserError;
use hearth::features::applications::{self, Answer, Click, Decision, Submission};
use hearth::features::intros::{self, Intro};
use hearth::features::welcome::{self, SetUp, Setup};
use hearth::outbox::Outbox;

const GUILD: u64 = 1;
const MANAGER: u64 = 9;

async fn store() -> (tempfile::TempDir, db::Pool) {
    let dir = tempfile::tempdir().unwrap();
    let pool = db::open(&support::store_url(&dir.path().join("s.db")))
        .await
        .unwrap();
    (dir, pool)
}

fn setup(channel: u64, template: Option<&str>, dm: Option<bool>) -> Setup<'_> {
    Setup {
        guild_id: GUILD,
        channel,
        template,
        dm,
        intro_thread: None,
        by: MANAGER,
    }
}

fn user_message(err: &anyhow::Error) -> String {
    err.downcast_ref::<UserError>()
        .map(|e| e.0.clone())
        .unwrap_or_else(|| panic!("not a user error: {err:#}"))
}

/// What `/welcome setup` writes: the welcome channel, the switches and the templates.
async fn welcome_state(pool: &db::Pool) -> (Option<u64>, WelcomeSettings, Vec<String>) {
    let stored = db::guilds::settings(pool, GUILD).await.unwrap();
    let channel = stored.channels.get(&ChannelPurpose::Welcome).copied();
    let switches = db::welcome::settings(pool, GUILD).await.unwrap();
    let templates = db::welcome::templates(pool, GUILD).await.unwrap();
    (
        channel,
        switches,
        templates.into_iter().map(|t| t.body).collect(),
    )
}

#[tokio::test]
async fn welcome_setup_saves_the_channel_the_switches_and_the_template() {
    let (_dir, pool) = store().await;
    let done = welcome::setup(&pool, &setup(10, Some("Hi {user}!"), Some(true)), 100)
        .await
        .unwrap();
    let expected = SetUp {
        dm: true,
        intro_thread: true,
        template_saved: true,
    };
    assert_eq!(done, expected);
    let (channel, switches, templates) = welcome_state(&pool).await;
    assert_eq!(channel, Some(10));
    assert!(switches.enabled && switches.dm && switches.intro_thread);
    assert_eq!(templates, vec!["Hi {user}!".to_owned()]);

    // A second setup without switches keeps them and adds no template.
    let done = welcome::setup(&pool, &setup(11, None, None), 200)
        .await
        .unwrap();
    assert!(done.dm && !done.template_saved);
    assert_eq!(welcome_state(&pool).await.0, Some(11));
}

#[tokio::test]
async fn a_welcome_setup_failing_at_its_last_write_changes_nothing() {
    let (_dir, pool) = store().await;
    welcome::setup(&pool, &setup(10, None, Some(true)), 100)
        .await
        .unwrap();
    let before = welcome_state(&pool).await;
    // The template is the last of the three writes; make it fail as a full disk would.
    support::refuse_inserts(&pool, "welcome_templates", "TRUE").await;
    let failed = welcome::setup(&pool, &setup(20, Some("Hi {user}!"), Some(false)), 200).await;
    assert!(format!("{:#}", failed.unwrap_err()).contains("disk full"));
    assert_eq!(
        welcome_state(&pool).await,
        before,
        "the channel and switches stay"
    );

    // A guild never set up stays without a welcome channel and with welcomes off.
    let fresh = Setup {
        guild_id: 2,
        ..setup(20, Some("Hi"), None)
    };
    welcome::setup(&pool, &fresh, 200).await.unwrap_err();
    assert!(!db::welcome::settings(&pool, 2).await.unwrap().enabled);
    assert!(db::guilds::settings(&pool, 2)
        .await
        .unwrap()
        .channels
        .is_empty());
}

#[tokio::test]
async fn an_invalid_template_is_refused_before_anything_is_written() {
    let (_dir, pool) = store().await;
    let err = welcome::setup(&pool, &setup(10, Some("Hi {nobody}"), None), 100)
        .await
        .unwrap_err();
    assert!(user_message(&err).starts_with("That template cannot be saved:"));
    assert_eq!(welcome_state(&pool).await.0, None);
}

#[tokio::test]
async fn welcome_preview_says_whether_welcomes_are_on_and_renders_every_template() {
    let (_dir, pool) = store().await;
    let mut settings = GuildSettings::new(GUILD);
    let values = hearth::domain::template::Values {
        user_id: 5,
        username: "Noor",
        server: "Emberfall",
        member_count: 3,
        intro_channel: None,
        rules_channel: None,
        channel: None,
    };
    let off = welcome::preview(&pool, &settings, &values).await.unwrap();
    assert!(off.starts_with("Welcomes are off") && off.contains("**Default template**"));
    welcome::setup(&pool, &setup(10, Some("Hi {user}!"), None), 100)
        .await
        .unwrap();
    settings.channels.insert(ChannelPurpose::Welcome, 10);
    let on = welcome::preview(&pool, &settings, &values).await.unwrap();
    assert!(on.starts_with("Welcomes are on in <#10>"), "{on}");
    assert!(
        on.contains("\nHi <@5>!") && !on.contains("Default template"),
        "{on}"
    );
}

fn intro(submission: u64, share_interests: bool) -> Intro<'static> {
    Intro {
        guild_id: GUILD,
        user_id: 5,
        username: "Noor",
        intros: 12,
        forum: false,
        submission,
        share_interests,
        about: "I build synths",
        work: None,
        interests: Some("audio, rust"),
        hope: Some(" "),
    }
}

#[tokio::test]
async fn an_intro_is_posted_once_per_form_and_interests_are_kept_only_with_opt_in() {
    let (_dir, pool) = store().await;
    let outbox = Outbox::new(pool.clone());
    let reply = intros::post(&pool, &outbox, &intro(1, true), 100)
        .await
        .unwrap();
    assert!(reply.contains("saved for peer introductions"), "{reply}");
    let kept = db::welcome::interests(&pool, GUILD, 5).await.unwrap();
    assert_eq!(kept.as_deref(), Some("audio, rust"));
    let again = intros::post(&pool, &outbox, &intro(1, true), 100)
        .await
        .unwrap_err();
    assert_eq!(
        user_message(&again),
        "This introduction was already posted."
    );

    let reply = intros::post(&pool, &outbox, &intro(2, false), 200)
        .await
        .unwrap();
    assert!(reply.ends_with("Your interests were not stored."));
    assert_eq!(db::welcome::interests(&pool, GUILD, 5).await.unwrap(), None);
    assert_eq!(
        db::outbox::states_of_kind(&pool, "intro")
            .await
            .unwrap()
            .len(),
        2
    );
}

fn applying(user_id: u64) -> Submission<'static> {
    Submission {
        guild_id: GUILD,
        channel: 30,
        user_id,
        username: "applicant",
        why: "I love this place",
        found: Some(""),
        more: None,
    }
}

#[tokio::test]
async fn a_member_applies_once_until_decided_and_only_where_applications_are_open() {
    let (_dir, pool) = store().await;
    let outbox = Outbox::new(pool.clone());
    let closed = GuildSettings::new(GUILD);
    let err = applications::can_apply(&pool, &closed, 5)
        .await
        .unwrap_err();
    assert!(user_message(&err).starts_with("Applications are not open here"));
    let mut open = GuildSettings::new(GUILD);
    open.channels.insert(ChannelPurpose::Applications, 30);
    assert_eq!(applications::can_apply(&pool, &open, 5).await.unwrap(), 30);
    applications::submit(&pool, &outbox, &applying(5), 100)
        .await
        .unwrap();
    let err = applications::can_apply(&pool, &open, 5).await.unwrap_err();
    assert!(user_message(&err).contains("already waiting"));
    assert_eq!(
        db::outbox::states_of_kind(&pool, "application")
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn an_application_is_approved_once_and_a_decline_tells_the_applicant() {
    let (_dir, pool) = store().await;
    let outbox = Outbox::new(pool.clone());
    db::applications::set_role(&pool, GUILD, Some(77), 0)
        .await
        .unwrap();
    let id = applications::submit(&pool, &outbox, &applying(5), 100)
        .await
        .unwrap();
    let click = applications::click(&pool, GUILD, id, Decision::Approve)
        .await
        .unwrap();
    let grant = Click::Approve {
        applicant: 5,
        role: Some(77),
    };
    assert_eq!(click, grant);
    let approved = applications::approve(&pool, GUILD, id, MANAGER, 200)
        .await
        .unwrap();
    assert_eq!(
        approved,
        Answer::Decided(format!("✅ Approved by <@{MANAGER}>."))
    );
    let late = applications::approve(&pool, GUILD, id, MANAGER, 201)
        .await
        .unwrap();
    assert!(matches!(late, Answer::Note(t) if t.contains("a moment ago")));
    let again = applications::click(&pool, GUILD, id, Decision::Decline)
        .await
        .unwrap();
    assert_eq!(
        again,
        Click::Note("This application was already approved.".into())
    );
    let gone = applications::click(&pool, GUILD, id + 100, Decision::Approve)
        .await
        .unwrap();
    assert_eq!(
        gone,
        Click::Note("This application no longer exists.".into())
    );

    let other = applications::submit(&pool, &outbox, &applying(6), 300)
        .await
        .unwrap();
    let click = applications::click(&pool, GUILD, other, Decision::Decline)
        .await
        .unwrap();
    assert_eq!(click, Click::AskReason);
    let declined = applications::decline(&pool, &outbox, GUILD, other, MANAGER, "Full", 400)
        .await
        .unwrap();
    assert!(declined
        .unwrap()
        .starts_with(&format!("❌ Declined by <@{MANAGER}>.")));
    let stored = db::applications::get(&pool, GUILD, other)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.decline_reason.as_deref(), Some("Full"));
    let dms = db::outbox::states_of_kind(&pool, "application-decline")
        .await
        .unwrap();
    assert_eq!(dms.len(), 1);
    let twice = applications::decline(&pool, &outbox, GUILD, other, MANAGER, "", 500)
        .await
        .unwrap();
    assert_eq!(
        twice.as_deref(),
        Some("This application was already declined.")
    );
    let missing = applications::decline(&pool, &outbox, GUILD, other + 100, MANAGER, "", 500)
        .await
        .unwrap();
    assert_eq!(missing, None);
}
