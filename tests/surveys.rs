//! Survey waves on a schedule, with a fixed clock and a real store: each wave opens at the
//! same local time across a DST change, closes the one before (deleting its salt), and keeps its
//! own answers.

mod support;

use chrono::{DateTime, Utc};
use hearth::config::Config;
use hearth::db;
use hearth::features::surveys::{self, NewNps};
use hearth::outbox::Outbox;
use hearth::scheduler::run_due;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[tokio::test]
async fn weekly_waves_keep_19_00_in_berlin_across_the_spring_change() {
    let (_dir, pool) = support::temp_store().await;
    db::guilds::set_timezone(&pool, 1, "Europe/Berlin", 0)
        .await
        .unwrap();
    let (config, outbox) = (Config::default(), Outbox::new(pool.clone()));
    let new = NewNps {
        guild_id: 1,
        channel: 2,
        created_by: 3,
        title: None,
        sample: None,
        every: Some("sun 19:00"),
    };
    // Saturday 2027-03-20; Berlin moves to summer time on Sunday 2027-03-28.
    let started = surveys::start_nps(
        &pool,
        &config,
        &outbox,
        &new,
        at("2027-03-20T12:00:00Z").timestamp(),
    )
    .await
    .unwrap();
    assert!(started.contains("The next wave opens"), "{started}");
    let job = db::jobs::get(&pool, surveys::WAVE_JOB, 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        job.next_run_at,
        Some(at("2027-03-21T18:00:00Z").timestamp()),
        "19:00 CET"
    );

    let wave_1 = db::surveys::waves(&pool, 1).await.unwrap().remove(0);
    surveys::answer(
        &pool,
        &config,
        Some(1),
        wave_1.id,
        7,
        9,
        Some("good"),
        false,
        at("2027-03-20T13:00:00Z").timestamp(),
    )
    .await
    .unwrap();

    let reports = run_due(&pool, &config, &outbox, at("2027-03-21T18:00:00Z"))
        .await
        .unwrap();
    let report = reports
        .iter()
        .find(|r| r.job_kind == surveys::WAVE_JOB)
        .expect("the wave ran");
    assert_eq!(
        report.next,
        Some(at("2027-03-28T17:00:00Z").timestamp()),
        "19:00 CEST"
    );
    let waves = db::surveys::waves(&pool, 1).await.unwrap();
    assert_eq!(waves.len(), 2);
    assert!(
        !waves[0].is_open() && waves[0].salt.is_none(),
        "wave 1 closed, its salt gone"
    );
    assert!(waves[1].is_open() && waves[1].salt.is_some());
    assert_eq!(
        db::surveys::answers(&pool, waves[0].id)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        db::surveys::answers(&pool, waves[1].id)
            .await
            .unwrap()
            .is_empty(),
        "each wave has its own answers"
    );
    // Run again at the same instant: claimed once, no third wave.
    run_due(&pool, &config, &outbox, at("2027-03-21T18:00:00Z"))
        .await
        .unwrap();
    assert_eq!(db::surveys::waves(&pool, 1).await.unwrap().len(), 2);
    let posts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE kind = 'survey'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(posts, 2, "one post per wave");
}

#[tokio::test]
async fn a_member_exports_and_forgets_their_own_answer_and_the_figures_stay() {
    let (_dir, pool) = support::temp_store().await;
    let (config, outbox) = (Config::default(), Outbox::new(pool.clone()));
    let new = NewNps {
        guild_id: 1,
        channel: 2,
        created_by: 3,
        title: None,
        sample: None,
        every: None,
    };
    let now = at("2026-12-03T12:00:00Z").timestamp();
    surveys::start_nps(&pool, &config, &outbox, &new, now)
        .await
        .unwrap();
    let wave = db::surveys::waves(&pool, 1).await.unwrap().remove(0);
    surveys::answer(
        &pool,
        &config,
        Some(1),
        wave.id,
        7,
        3,
        Some("Slower replies lately"),
        false,
        now,
    )
    .await
    .unwrap();
    surveys::answer(&pool, &config, Some(1), wave.id, 8, 10, None, false, now)
        .await
        .unwrap();

    let export = db::privacy::export(&pool, Some(1), 7).await.unwrap();
    let mine = &export["survey_answers"];
    assert_eq!(mine.as_array().map(Vec::len), Some(1), "{export}");
    assert_eq!(mine[0]["score"], 3);
    assert_eq!(mine[0]["comment"], "Slower replies lately");

    db::privacy::forget(&pool, Some(1), 7, db::privacy::anonymous_id())
        .await
        .unwrap();
    let export = db::privacy::export(&pool, Some(1), 7).await.unwrap();
    assert_eq!(
        export["survey_answers"].as_array().map(Vec::len),
        Some(0),
        "{export}"
    );
    let answers = db::surveys::answers(&pool, wave.id).await.unwrap();
    assert_eq!(
        answers.len(),
        2,
        "the answer still counts, under a key that leads nowhere"
    );
    // Answering again after forgetting is a new answer, not an update of the forgotten one.
    surveys::answer(&pool, &config, Some(1), wave.id, 7, 9, None, false, now)
        .await
        .unwrap();
    assert_eq!(db::surveys::answers(&pool, wave.id).await.unwrap().len(), 3);
}

/// Ratings stored before feedback moved onto the survey engine (migration 0018) keep their
/// figures; an anonymous one keeps no link to its author, a signed one keeps its author.
#[tokio::test]
async fn ratings_from_before_the_survey_engine_move_over_with_their_figures() {
    use sqlx::sqlite::SqliteConnectOptions;
    use sqlx::{ConnectOptions, Connection};
    let dir = tempfile::tempdir().unwrap();
    let mut conn = SqliteConnectOptions::new()
        .filename(dir.path().join("old.db"))
        .create_if_missing(true)
        .connect()
        .await
        .unwrap();
    let mut files: Vec<_> =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
    files.sort();
    let (before, after): (Vec<_>, Vec<_>) = files
        .into_iter()
        .partition(|p| p.file_name().unwrap().to_str().unwrap() < "0018");
    for file in &before {
        sqlx::raw_sql(&std::fs::read_to_string(file).unwrap())
            .execute(&mut conn)
            .await
            .unwrap();
    }
    sqlx::raw_sql(
        "INSERT INTO events (id, guild_id, title, start_at, end_at, card_channel_id, created_by, created_at)
         VALUES (7, 1, 'Park cleanup', 1000, 4600, 2, 3, 0);
         INSERT INTO event_feedback (event_id, user_id, score, comment, anonymous, answered_at)
         VALUES (7, 41, 4, 'more bags', 1, 5000), (7, 42, 5, 'signed', 0, 5100);",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let upgrade = after
        .iter()
        .find(|p| p.to_str().unwrap().contains("0018"))
        .unwrap();
    sqlx::raw_sql(&std::fs::read_to_string(upgrade).unwrap())
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();

    let url = format!("sqlite://{}", dir.path().join("old.db").display());
    let pool = db::connect(&url).await.unwrap();
    let mut ratings = surveys::event_ratings(&pool, 7).await.unwrap();
    ratings.sort_by_key(|r| r.score);
    assert_eq!(
        ratings,
        vec![
            surveys::Rating {
                score: 4,
                comment: Some("more bags".into()),
                author: None
            },
            surveys::Rating {
                score: 5,
                comment: Some("signed".into()),
                author: Some(42)
            },
        ]
    );
    let keys: Vec<String> = sqlx::query_scalar("SELECT respondent_key FROM survey_answers")
        .fetch_all(&pool)
        .await
        .unwrap();
    // Only the signed answer names its author; the anonymous one is under a random key.
    assert!(keys.contains(&"signed:42".to_owned()), "{keys:?}");
    assert!(
        keys.iter().filter(|k| k.starts_with("moved:")).count() == 1
            && !keys.iter().any(|k| k.ends_with(":41")),
        "{keys:?}"
    );
}
