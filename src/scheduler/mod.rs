//! The scheduler: jobs in the database (`jobs.next_run_at` is the truth), run when due.
//!
//! Running a job never talks to Discord: in one transaction it claims the run (moving
//! `next_run_at` on, conditional on it still being the run it saw) and queues the post in the
//! outbox under a key naming the run. A crash before the commit leaves the run due; after it, the
//! outbox owns delivery. So a run is posted at most once, and the outbox's nonce covers a crash
//! between Discord accepting the post and the outbox recording it.
//!
//! The loop sleeps until the earliest due job, or until woken because a job was added or moved.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

pub mod housekeeping;
pub mod jobs;

pub use jobs::RunReport;

use crate::config::Config;
use crate::db::{self, Pool};
use crate::outbox::Outbox;

/// Handle to wake the scheduler when jobs change.
#[derive(Clone, Default)]
pub struct SchedulerHandle {
    wake: Arc<Notify>,
}

impl SchedulerHandle {
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// Runs every due job at `now`, logging the posts queued and the kinds that failed.
///
/// Each kind of job runs even when another failed (a busy database, a bad row), and the outbox is
/// woken whenever something may have been queued: a failure after one kind committed its posts
/// must not leave them waiting for the outbox's next idle wake-up.
pub async fn run_due(
    pool: &Pool,
    config: &Config,
    outbox: &Outbox,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<RunReport>> {
    use jobs::Monthly;
    let passes = [
        ("prompts", jobs::run_due_prompts(pool, config, now).await),
        (
            "monthly report",
            jobs::run_due_monthly(pool, config, now, Monthly::Report).await,
        ),
        (
            "feedback reminders",
            jobs::run_due_sla_reminders(pool, config, now).await,
        ),
        (
            "shout-out",
            jobs::run_due_monthly(pool, config, now, Monthly::Shoutout).await,
        ),
        (
            "event reminders",
            jobs::run_due_event_reminders(pool, config, now).await,
        ),
        (
            "event offers",
            jobs::run_due_event_offers(pool, config, outbox, now).await,
        ),
        (
            "event feedback",
            jobs::run_due_event_feedback(pool, config, now).await,
        ),
        (
            "event series",
            jobs::run_due_event_series(pool, config, now).await,
        ),
        (
            "survey waves",
            jobs::run_due_survey_waves(pool, config, outbox, now).await,
        ),
        (
            "survey closes",
            jobs::run_due_survey_closes(pool, now).await,
        ),
        (
            "connection rounds",
            jobs::run_due_connect_rounds(pool, config, outbox, now).await,
        ),
        (
            "connection follow-ups",
            jobs::run_due_connect_follow_ups(pool, now).await,
        ),
        ("digests", jobs::run_due_digests(pool, config, now).await),
        ("recaps", jobs::run_due_recaps(pool, config, now).await),
    ];
    let mut reports = Vec::new();
    let mut failed = None;
    for (kind, pass) in passes {
        match pass {
            Ok(done) => reports.extend(done),
            Err(err) => {
                warn!(job.kind = kind, error = %format!("{err:#}"), "scheduler pass failed; retrying shortly");
                failed.get_or_insert(err.context(format!("running due {kind}")));
            }
        }
    }
    for r in reports.iter().filter(|r| r.posted) {
        info!(
            job.kind = r.job_kind,
            job.target = r.target_id,
            "scheduled post queued"
        );
    }
    if failed.is_some() || reports.iter().any(|r| r.posted) {
        outbox.wake();
    }
    match failed {
        Some(err) => Err(err),
        None => Ok(reports),
    }
}

/// How soon a pass that failed is tried again (a busy database clears in moments).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(2);

/// Runs due jobs until cancelled, sleeping until the earliest job or a wake-up.
/// `max_sleep`: the longest wait between passes. Alone on its store, the scheduler is woken by
/// the commands that add jobs (`handle`); a leader among several processes is not woken by the
/// others' commands, so it looks every few seconds.
pub async fn run(
    pool: Pool,
    config: Arc<Config>,
    outbox: Outbox,
    handle: SchedulerHandle,
    shutdown: CancellationToken,
    max_sleep: Duration,
) {
    loop {
        let now = crate::domain::clock::Clock::now(&crate::domain::clock::SystemClock);
        // Queued posts and each failed kind are logged by `run_due`.
        let passed = run_due(&pool, &config, &outbox, now).await.is_ok();
        let wait = match db::jobs::next_run(&pool).await {
            Ok(Some(at)) => {
                Duration::from_secs(u64::try_from(at - now.timestamp()).unwrap_or(0).max(1))
            }
            _ => Duration::from_secs(3600),
        };
        let wait = if passed {
            wait
        } else {
            wait.min(RETRY_AFTER_FAILURE)
        };
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = handle.wake.notified() => {}
            () = tokio::time::sleep(wait.min(max_sleep)) => {}
        }
    }
    info!("scheduler stopped");
}
