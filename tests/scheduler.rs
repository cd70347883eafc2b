//! The scheduler with a fixed clock, a real SQLite store and the outbox as the recording sink.

mod support;

use chrono::{DateTime, Duration, Utc};
use hearth::config::Config;
use hearth::db::{self, prompts::NewPrompt};
use hearth::features::prompts::reschedule as schedule_prompt;
use hearth::outbox::Outbox;
use hearth::scheduler::run_due;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn setup(late_within_secs: Option<i64>) -> (tempfile::TempDir, db::Pool, Config, i64) {
    let (dir, pool) = support::temp_store().await;
    db::guilds::set_timezone(&pool, 1, "Europe/Berlin", 0)
        .await
        .unwrap();
    let id = db::prompts::insert_prompt(
        &pool,
        &NewPrompt {
            guild_id: 1,
            theme: "Monday goals".into(),
            channel_id: 2,
            schedule_kind: "weekly".into(),
            days: Some("mon".into()),
            time_of_day: Some("09:00".into()),
            cron: None,
            late_within_secs,
            text: Some("What will you do this week?".into()),
            thread: false,
            poll: None,
            author_id: 3,
            paused: false,
        },
        0,
    )
    .await
    .unwrap();
    (dir, pool, Config::default(), id)
}

async fn queued(pool: &db::Pool) -> i64 {
    db::outbox::pending_count(pool).await.unwrap()
}

#[tokio::test]
async fn a_due_run_is_posted_once_and_the_next_run_is_stored() {
    let (_dir, pool, config, id) = setup(Some(3600)).await;
    let prompt = db::prompts::prompt(&pool, 1, id).await.unwrap().unwrap();
    // Friday 2026-03-27; the next Monday 09:00 Berlin is after the DST change (07:00 UTC).
    let next = schedule_prompt(&pool, &config, &prompt, at("2026-03-27T12:00:00Z"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next, at("2026-03-30T07:00:00Z"));
    let outbox = Outbox::new(pool.clone());
    assert!(
        run_due(&pool, &config, &outbox, at("2026-03-30T06:59:59Z"))
            .await
            .unwrap()
            .is_empty(),
        "not yet due"
    );
    let reports = run_due(&pool, &config, &outbox, at("2026-03-30T07:00:01Z"))
        .await
        .unwrap();
    assert_eq!(reports.len(), 1);
    assert!(reports[0].posted);
    assert_eq!(
        reports[0].next,
        Some(at("2026-04-06T07:00:00Z").timestamp())
    );
    // A second pass (or a second process) finds nothing to do.
    assert!(run_due(&pool, &config, &outbox, at("2026-03-30T07:00:02Z"))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(queued(&pool).await, 1);
}

#[tokio::test]
async fn a_missed_run_within_the_window_is_posted_once_late() {
    let (_dir, pool, config, id) = setup(Some(3600)).await;
    let prompt = db::prompts::prompt(&pool, 1, id).await.unwrap().unwrap();
    schedule_prompt(&pool, &config, &prompt, at("2026-05-01T00:00:00Z"))
        .await
        .unwrap();
    let outbox = Outbox::new(pool.clone());
    // Down from 06:00 to 07:40 UTC; the run was due 07:00 UTC (09:00 CEST).
    let reports = run_due(&pool, &config, &outbox, at("2026-05-04T07:40:00Z"))
        .await
        .unwrap();
    assert!(reports[0].posted);
    assert_eq!(queued(&pool).await, 1);
}

#[tokio::test]
async fn a_run_missed_for_too_long_is_skipped_and_the_schedule_moves_on() {
    let (_dir, pool, config, id) = setup(Some(3600)).await;
    let prompt = db::prompts::prompt(&pool, 1, id).await.unwrap().unwrap();
    schedule_prompt(&pool, &config, &prompt, at("2026-05-01T00:00:00Z"))
        .await
        .unwrap();
    let outbox = Outbox::new(pool.clone());
    let reports = run_due(&pool, &config, &outbox, at("2026-05-04T12:00:00Z"))
        .await
        .unwrap();
    assert!(!reports[0].posted);
    assert_eq!(
        reports[0].next,
        Some(at("2026-05-11T07:00:00Z").timestamp())
    );
    assert_eq!(queued(&pool).await, 0);
}

#[tokio::test]
async fn skip_policy_skips_any_missed_run() {
    let (_dir, pool, config, id) = setup(None).await;
    let prompt = db::prompts::prompt(&pool, 1, id).await.unwrap().unwrap();
    schedule_prompt(&pool, &config, &prompt, at("2026-05-01T00:00:00Z"))
        .await
        .unwrap();
    let outbox = Outbox::new(pool.clone());
    let reports = run_due(&pool, &config, &outbox, at("2026-05-04T07:10:00Z"))
        .await
        .unwrap();
    assert!(!reports[0].posted);
    assert_eq!(queued(&pool).await, 0);
}

#[tokio::test]
async fn weeks_of_downtime_post_at_most_one_run() {
    let (_dir, pool, config, id) = setup(Some(30 * 24 * 3600)).await;
    let prompt = db::prompts::prompt(&pool, 1, id).await.unwrap().unwrap();
    schedule_prompt(&pool, &config, &prompt, at("2026-05-01T00:00:00Z"))
        .await
        .unwrap();
    let outbox = Outbox::new(pool.clone());
    let now = at("2026-05-01T00:00:00Z") + Duration::days(21);
    let reports = run_due(&pool, &config, &outbox, now).await.unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(queued(&pool).await, 1);
    assert!(run_due(&pool, &config, &outbox, now)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn the_monthly_report_runs_on_the_first_at_nine_local_once() {
    let (_dir, pool, config, _) = setup(None).await;
    db::guilds::set_channel(
        &pool,
        1,
        hearth::domain::settings::ChannelPurpose::Reports,
        77,
        0,
    )
    .await
    .unwrap();
    hearth::features::reports::ensure_monthly_report(&pool, &config, 1, at("2026-03-15T12:00:00Z"))
        .await
        .unwrap();
    let job = db::jobs::get(&pool, hearth::features::reports::JOB, 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        job.next_run_at,
        Some(at("2026-04-01T07:00:00Z").timestamp()),
        "09:00 CEST"
    );
    let outbox = Outbox::new(pool.clone());
    let reports = run_due(&pool, &config, &outbox, at("2026-04-01T07:00:30Z"))
        .await
        .unwrap();
    let monthly: Vec<_> = reports
        .iter()
        .filter(|r| r.job_kind == hearth::features::reports::JOB)
        .collect();
    assert_eq!(monthly.len(), 1);
    assert!(monthly[0].posted);
    assert_eq!(
        monthly[0].next,
        Some(at("2026-05-01T07:00:00Z").timestamp())
    );
    assert_eq!(queued(&pool).await, 1, "the March report");
    assert!(run_due(&pool, &config, &outbox, at("2026-04-01T07:01:00Z"))
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn the_monthly_shout_out_runs_once_on_its_day_and_a_run_missed_by_days_is_skipped() {
    use hearth::db::activity::{Kind, Record};
    use hearth::domain::settings::ChannelPurpose;
    let (_dir, pool, config, _) = setup(Some(3600)).await;
    db::guilds::set_channel(&pool, 1, ChannelPurpose::Spotlight, 9, 0)
        .await
        .unwrap();
    let march = at("2026-03-10T12:00:00Z").timestamp();
    let records: Vec<Record> = (0..3)
        .map(|i| Record {
            guild_id: 1,
            user_id: 100 + i,
            at: march,
            kind: Kind::Message,
            channel_id: 2,
            target_id: 1000 + i,
            reply_to: None,
            in_thread: false,
        })
        .collect();
    db::activity::insert(&mut pool.acquire().await.unwrap(), &records)
        .await
        .unwrap();
    let shoutout = hearth::features::recognition::parse(2, "18:00").unwrap();
    db::recognition::set_shoutout(&pool, 1, &shoutout, 3, 0)
        .await
        .unwrap();
    let next = hearth::features::recognition::schedule_shoutout(
        &pool,
        &config,
        1,
        Some(&shoutout),
        at("2026-03-20T00:00:00Z"),
    )
    .await
    .unwrap();
    assert_eq!(next, Some(at("2026-04-02T16:00:00Z")), "18:00 CEST");
    let outbox = Outbox::new(pool.clone());
    let shoutouts = |reports: Vec<hearth::scheduler::RunReport>| {
        reports
            .into_iter()
            .filter(|r| r.job_kind == hearth::features::recognition::JOB)
            .collect::<Vec<_>>()
    };
    let ran = shoutouts(
        run_due(&pool, &config, &outbox, at("2026-04-02T16:00:05Z"))
            .await
            .unwrap(),
    );
    assert_eq!(ran.len(), 1);
    assert!(ran[0].posted, "March's three members are celebrated");
    assert_eq!(ran[0].next, Some(at("2026-05-02T16:00:00Z").timestamp()));
    assert!(shoutouts(
        run_due(&pool, &config, &outbox, at("2026-04-02T16:01:00Z"))
            .await
            .unwrap()
    )
    .is_empty());
    // The bot was down from before 2 May until 5 May: that run is skipped, June's is next.
    let late = shoutouts(
        run_due(&pool, &config, &outbox, at("2026-05-05T09:00:00Z"))
            .await
            .unwrap(),
    );
    assert_eq!(late.len(), 1);
    assert!(!late[0].posted);
    assert_eq!(late[0].next, Some(at("2026-06-02T16:00:00Z").timestamp()));
}

#[tokio::test]
async fn a_kind_of_job_that_fails_does_not_hold_back_the_others() {
    let (_dir, pool, config, id) = setup(Some(3600)).await;
    let prompt = db::prompts::prompt(&pool, 1, id).await.unwrap().unwrap();
    schedule_prompt(&pool, &config, &prompt, at("2026-03-27T12:00:00Z"))
        .await
        .unwrap();
    // A survey close falls due with its table gone: that kind fails at every pass.
    db::jobs::upsert(
        &pool,
        1,
        "survey-close",
        99,
        Some(at("2026-03-30T06:00:00Z").timestamp()),
    )
    .await
    .unwrap();
    sqlx::query("DROP TABLE survey_answers")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("DROP TABLE survey_contacts")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("DROP TABLE survey_waves")
        .execute(&pool)
        .await
        .unwrap();
    let outbox = Outbox::new(pool.clone());
    let failed = run_due(&pool, &config, &outbox, at("2026-03-30T07:00:01Z"))
        .await
        .expect_err("the survey close fails");
    assert!(
        format!("{failed:#}").contains("survey closes"),
        "{failed:#}"
    );
    assert_eq!(queued(&pool).await, 1, "the prompt is queued all the same");
    // ...and the outbox was told, not left asleep until its idle wake-up.
    tokio::time::timeout(std::time::Duration::from_secs(1), outbox.woken())
        .await
        .expect("the outbox was woken");
    // The next pass does not queue the prompt again, and still reports the failing kind.
    assert!(run_due(&pool, &config, &outbox, at("2026-03-30T07:00:03Z"))
        .await
        .is_err());
    assert_eq!(queued(&pool).await, 1);
}
