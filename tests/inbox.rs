//! The morning digest on a schedule, with a fixed clock and a real store: 08:00 in Berlin on
//! both sides of the spring change, posted once per day however often the scheduler runs.

mod support;

use chrono::{DateTime, Utc};
use hearth::config::Config;
use hearth::db;
use hearth::domain::settings::ChannelPurpose;
use hearth::features::inbox;
use hearth::outbox::Outbox;
use hearth::scheduler::run_due;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[tokio::test]
async fn the_digest_keeps_08_00_in_berlin_across_the_spring_change_and_posts_once_a_day() {
    let (_dir, pool) = support::temp_store().await;
    let (config, outbox) = (Config::default(), Outbox::new(pool.clone()));
    db::guilds::set_timezone(&pool, 1, "Europe/Berlin", 0)
        .await
        .unwrap();
    db::guilds::set_channel(&pool, 1, ChannelPurpose::Reports, 2, 0)
        .await
        .unwrap();
    let said = inbox::set_digest(
        &pool,
        &config,
        1,
        "08:00",
        Some(6),
        at("2027-03-26T12:00:00Z").timestamp(),
    )
    .await
    .unwrap();
    assert!(said.contains("after 6 h"), "{said}");
    let job = db::jobs::get(&pool, inbox::DIGEST_JOB, 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        job.next_run_at,
        Some(at("2027-03-27T07:00:00Z").timestamp()),
        "08:00 CET"
    );
    let digests = |reports: &[hearth::scheduler::RunReport]| {
        reports
            .iter()
            .filter(|r| r.job_kind == inbox::DIGEST_JOB)
            .cloned()
            .collect::<Vec<_>>()
    };
    let first = digests(
        &run_due(&pool, &config, &outbox, at("2027-03-27T07:00:00Z"))
            .await
            .unwrap(),
    );
    assert_eq!(first.len(), 1);
    assert!(first[0].posted);
    assert_eq!(
        first[0].next,
        Some(at("2027-03-28T06:00:00Z").timestamp()),
        "08:00 CEST"
    );
    // The scheduler runs again at the same instant: nothing is due, nothing posted twice.
    let again = digests(
        &run_due(&pool, &config, &outbox, at("2027-03-27T07:00:01Z"))
            .await
            .unwrap(),
    );
    assert!(again.is_empty(), "{again:?}");
    let second = digests(
        &run_due(&pool, &config, &outbox, at("2027-03-28T06:00:00Z"))
            .await
            .unwrap(),
    );
    assert!(second[0].posted);
    assert_eq!(second[0].next, Some(at("2027-03-29T06:00:00Z").timestamp()));
    let posts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE kind = 'digest'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(posts, 2, "one digest a day");

    let off = inbox::set_digest(&pool, &config, 1, "off", None, 0)
        .await
        .unwrap();
    assert!(off.contains("off"), "{off}");
    let job = db::jobs::get(&pool, inbox::DIGEST_JOB, 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.next_run_at, None);
    assert!(inbox::set_digest(&pool, &config, 1, "25:00", None, 0)
        .await
        .is_err());
}

#[tokio::test]
async fn the_weekly_recap_keeps_09_00_across_the_change_and_never_names_an_opted_out_member() {
    let (_dir, pool) = support::temp_store().await;
    let (config, outbox) = (Config::default(), Outbox::new(pool.clone()));
    db::guilds::set_timezone(&pool, 1, "Europe/Berlin", 0)
        .await
        .unwrap();
    let said = inbox::set_recap(
        &pool,
        &config,
        1,
        Some(3),
        "mon 09:00",
        at("2027-03-20T12:00:00Z").timestamp(),
    )
    .await
    .unwrap();
    assert!(said.contains("<#3>"), "{said}");
    let job = db::jobs::get(&pool, inbox::RECAP_JOB, 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        job.next_run_at,
        Some(at("2027-03-22T08:00:00Z").timestamp()),
        "09:00 CET"
    );
    // Spotlights of the week: 7, then 8 who has opted out since.
    db::recognition::record_spotlight(&pool, 1, 7, 2, at("2027-03-18T10:00:00Z").timestamp())
        .await
        .unwrap();
    db::recognition::record_spotlight(&pool, 1, 8, 2, at("2027-03-19T10:00:00Z").timestamp())
        .await
        .unwrap();
    db::activity::set_optout(&pool, 1, 8, true, 0)
        .await
        .unwrap();
    let reports = run_due(&pool, &config, &outbox, at("2027-03-22T08:00:00Z"))
        .await
        .unwrap();
    let recap = reports
        .iter()
        .find(|r| r.job_kind == inbox::RECAP_JOB)
        .unwrap();
    assert!(recap.posted);
    assert_eq!(
        recap.next,
        Some(at("2027-03-29T07:00:00Z").timestamp()),
        "09:00 CEST"
    );
    let body: String = sqlx::query_scalar("SELECT body FROM outbox WHERE kind = 'recap'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(
        body.contains("Spotlight: <@7>") && !body.contains("<@8>"),
        "{body}"
    );
}
