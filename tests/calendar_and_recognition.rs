//! The calendar, prompts, shout-out, spotlight and on-demand report features against a real
//! SQLite store, without Discord: what the `/calendar`, `/prompts add`, `/spotlight` and
//! `/report monthly` commands call.

mod support;

use chrono::{DateTime, Utc};
use hearth::config::Config;
use hearth::db;
use hearth::domain::settings::ChannelPurpose;
use hearth::error::UserError;
use hearth::features::calendar::{self, What};
use hearth::features::prompts::{self, PromptRequest};
use hearth::features::{activity, recognition, reports};
use hearth::outbox::Outbox;

const GUILD: u64 = 1;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn store() -> (tempfile::TempDir, db::Pool, Config) {
    let dir = tempfile::tempdir().unwrap();
    let pool = db::open(&support::store_url(&dir.path().join("s.db")))
        .await
        .unwrap();
    db::guilds::set_timezone(&pool, GUILD, "Europe/Berlin", 0)
        .await
        .unwrap();
    (dir, pool, Config::default())
}

fn weekly(theme: &str, days: &str) -> PromptRequest {
    PromptRequest {
        theme: theme.into(),
        channel_id: 2,
        days: Some(days.into()),
        time: Some("09:00".into()),
        text: Some("What will you do this week?".into()),
        ..PromptRequest::default()
    }
}

fn user_error(err: &anyhow::Error) -> &str {
    &err.downcast_ref::<UserError>().expect("a user error").0
}

#[tokio::test]
async fn an_added_prompt_is_stored_scheduled_and_on_the_calendar() {
    let (_dir, pool, config) = store().await;
    let now = at("2026-03-04T12:00:00Z"); // a Wednesday
    let added = prompts::add(&pool, &config, GUILD, 3, weekly("Monday goals", "mon"), now)
        .await
        .unwrap();
    assert_eq!(added.row.theme, "Monday goals");
    assert_eq!(added.next, Some(at("2026-03-09T08:00:00Z")));
    let job = db::jobs::get(&pool, prompts::JOB, added.row.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        job.next_run_at,
        Some(at("2026-03-09T08:00:00Z").timestamp())
    );

    let paused = prompts::add(&pool, &config, GUILD, 3, weekly("Paused", "tue"), now)
        .await
        .unwrap();
    db::prompts::set_paused(&pool, GUILD, paused.row.id, true)
        .await
        .unwrap();
    let cal = calendar::scheduled(&pool, &config, GUILD, now)
        .await
        .unwrap();
    assert_eq!(cal.timezone.name(), "Europe/Berlin");
    let whats: Vec<&What> = cal.entries.iter().map(|e| &e.what).collect();
    assert_eq!(
        whats,
        [&What::Prompt {
            id: added.row.id,
            theme: "Monday goals".into(),
            channel_id: 2
        }]
    );
    let (ics, count) = cal.ics(GUILD, "Acme");
    assert_eq!(count, 1);
    assert!(
        ics.contains("RRULE:FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0"),
        "{ics}"
    );
}

#[tokio::test]
async fn a_refused_prompt_stores_nothing() {
    let (_dir, pool, config) = store().await;
    let request = PromptRequest {
        time: None,
        ..weekly("Monday goals", "mon")
    };
    let err = prompts::add(
        &pool,
        &config,
        GUILD,
        3,
        request,
        at("2026-03-04T12:00:00Z"),
    )
    .await
    .unwrap_err();
    assert!(user_error(&err).starts_with("Give either `days` and `time`"));
    assert!(db::prompts::prompts(&pool, GUILD).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_calendar_lists_open_amas_the_report_and_the_shout_out_where_they_can_post() {
    let (_dir, pool, config) = store().await;
    let now = at("2026-03-04T12:00:00Z");
    let start = at("2026-03-10T18:00:00Z").timestamp();
    db::ama::create(&pool, GUILD, "Ask us", 5, 6, start, start + 3600, 0)
        .await
        .unwrap();
    let past = at("2026-03-01T18:00:00Z").timestamp();
    db::ama::create(&pool, GUILD, "Over", 5, 6, past, past + 3600, 0)
        .await
        .unwrap();
    recognition::start_shoutout(&pool, &config, GUILD, 1, "10:00", 3, now)
        .await
        .unwrap();
    // Without a reports or spotlight channel only the AMA is on the calendar.
    let cal = calendar::scheduled(&pool, &config, GUILD, now)
        .await
        .unwrap();
    assert_eq!(cal.occurrences(at("2026-05-01T00:00:00Z")).len(), 1);

    db::guilds::set_channel(&pool, GUILD, ChannelPurpose::Reports, 8, 0)
        .await
        .unwrap();
    db::guilds::set_channel(&pool, GUILD, ChannelPurpose::Spotlight, 9, 0)
        .await
        .unwrap();
    let cal = calendar::scheduled(&pool, &config, GUILD, now)
        .await
        .unwrap();
    let labels: Vec<String> = cal
        .occurrences(at("2026-05-01T00:00:00Z"))
        .into_iter()
        .map(|(t, label)| format!("{} {label}", t.to_rfc3339()))
        .collect();
    assert_eq!(
        labels,
        [
            "2026-03-10T18:00:00+00:00 AMA: Ask us with <@5> in <#6>",
            "2026-04-01T07:00:00+00:00 Monthly community report in <#8>",
            "2026-04-01T08:00:00+00:00 Monthly top-3 contributors shout-out in <#9>",
        ]
    );
    // The .ics export holds the same three items.
    assert_eq!(cal.ics(GUILD, "Acme").1, 3);
}

#[tokio::test]
async fn the_shout_out_is_scheduled_refused_and_stopped() {
    let (_dir, pool, config) = store().await;
    let now = at("2026-03-04T12:00:00Z");
    let err = recognition::start_shoutout(&pool, &config, GUILD, 29, "10:00", 3, now)
        .await
        .unwrap_err();
    assert!(user_error(&err).contains("1-28"));
    let scheduled = recognition::start_shoutout(&pool, &config, GUILD, 3, "18:30", 3, now)
        .await
        .unwrap();
    assert_eq!(scheduled.next, Some(at("2026-04-03T16:30:00Z")));
    assert_eq!(scheduled.channel, None);
    let target = i64::try_from(GUILD).unwrap();
    let job = db::jobs::get(&pool, recognition::JOB, target)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        job.next_run_at,
        Some(at("2026-04-03T16:30:00Z").timestamp())
    );
    // Nothing to post without a spotlight channel.
    let outbox = Outbox::new(pool.clone());
    assert!(
        !recognition::post_last_month(&pool, &config, &outbox, GUILD, now)
            .await
            .unwrap()
    );
    assert!(recognition::stop_shoutout(&pool, &config, GUILD, now)
        .await
        .unwrap());
    assert!(!recognition::stop_shoutout(&pool, &config, GUILD, now)
        .await
        .unwrap());
    let job = db::jobs::get(&pool, recognition::JOB, target)
        .await
        .unwrap();
    assert_eq!(job.and_then(|j| j.next_run_at), None);
}

#[tokio::test]
async fn a_spotlight_needs_a_channel_and_a_member_who_did_not_opt_out() {
    let (_dir, pool, config) = store().await;
    let outbox = Outbox::new(pool.clone());
    let (tracker, _writer) = activity::Tracker::start(pool.clone()).await.unwrap();
    let now = at("2026-03-04T12:00:00Z");
    let spotlight = recognition::Spotlight {
        guild_id: GUILD,
        user_id: 5,
        name: "Ada".into(),
        avatar_url: "https://cdn.example/ada.png".into(),
        joined_at: None,
        story: "Answers every question.".into(),
        posted_by: 3,
        request_id: 77,
    };
    let post = || recognition::post_spotlight(&pool, &config, &outbox, &tracker, &spotlight, now);
    assert!(user_error(&post().await.unwrap_err()).starts_with("There is no spotlight channel"));
    db::guilds::set_channel(&pool, GUILD, ChannelPurpose::Spotlight, 9, 0)
        .await
        .unwrap();
    tracker.set_opted_out(GUILD, 5, true);
    assert_eq!(
        user_error(&post().await.unwrap_err()),
        "Ada opted out of tracking and spotlights."
    );
    tracker.set_opted_out(GUILD, 5, false);
    assert_eq!(post().await.unwrap(), 9);
    assert_eq!(db::outbox::pending_count(&pool).await.unwrap(), 1);
    let spotlights = db::recognition::spotlights(&pool, GUILD, 0).await.unwrap();
    assert_eq!(spotlights, [(5, 3, now.timestamp())]);
}

#[tokio::test]
async fn an_on_demand_report_needs_a_month_and_a_reports_channel() {
    let (_dir, pool, config) = store().await;
    let outbox = Outbox::new(pool.clone());
    let now = at("2026-03-04T12:00:00Z");
    let err = reports::post_now(
        &pool,
        &config,
        &outbox,
        GUILD,
        "Acme",
        Some("March"),
        1,
        now,
    )
    .await
    .unwrap_err();
    assert_eq!(
        user_error(&err),
        "month: `March` is not a month like 2026-03."
    );
    let err = reports::post_now(&pool, &config, &outbox, GUILD, "Acme", None, 1, now)
        .await
        .unwrap_err();
    assert!(user_error(&err).starts_with("There is no reports channel"));
    db::guilds::set_channel(&pool, GUILD, ChannelPurpose::Reports, 8, 0)
        .await
        .unwrap();
    let day = reports::post_now(
        &pool,
        &config,
        &outbox,
        GUILD,
        "Acme",
        Some("2026-02"),
        1,
        now,
    )
    .await
    .unwrap();
    assert_eq!(day.to_string(), "2026-02-01");
    assert_eq!(db::outbox::pending_count(&pool).await.unwrap(), 1);
}
