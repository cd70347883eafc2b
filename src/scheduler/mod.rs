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

/// Runs every due job at `now`.
pub async fn run_due(
    pool: &Pool,
    config: &Config,
    outbox: &Outbox,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<RunReport>> {
    let mut reports = jobs::run_due_prompts(pool, config, now).await?;
    reports.extend(jobs::run_due_monthly(pool, config, now, jobs::Monthly::Report).await?);
    reports.extend(jobs::run_due_sla_reminders(pool, config, now).await?);
    reports.extend(jobs::run_due_monthly(pool, config, now, jobs::Monthly::Shoutout).await?);
    reports.extend(jobs::run_due_event_reminders(pool, config, now).await?);
    reports.extend(jobs::run_due_event_offers(pool, config, outbox, now).await?);
    reports.extend(jobs::run_due_event_feedback(pool, config, now).await?);
    reports.extend(jobs::run_due_event_series(pool, config, now).await?);
    reports.extend(jobs::run_due_survey_waves(pool, config, outbox, now).await?);
    reports.extend(jobs::run_due_survey_closes(pool, now).await?);
    reports.extend(jobs::run_due_connect_rounds(pool, config, outbox, now).await?);
    reports.extend(jobs::run_due_connect_follow_ups(pool, now).await?);
    reports.extend(jobs::run_due_digests(pool, config, now).await?);
    reports.extend(jobs::run_due_recaps(pool, config, now).await?);
    if reports.iter().any(|r| r.posted) {
        outbox.wake();
    }
    Ok(reports)
}

/// Runs due jobs until cancelled, sleeping until the earliest job or a wake-up.
pub async fn run(
    pool: Pool,
    config: Arc<Config>,
    outbox: Outbox,
    handle: SchedulerHandle,
    shutdown: CancellationToken,
) {
    loop {
        let now = crate::domain::clock::Clock::now(&crate::domain::clock::SystemClock);
        match run_due(&pool, &config, &outbox, now).await {
            Ok(reports) => {
                for r in reports.iter().filter(|r| r.posted) {
                    info!(
                        job.kind = r.job_kind,
                        job.target = r.target_id,
                        "scheduled post queued"
                    );
                }
            }
            Err(err) => warn!(error = %format!("{err:#}"), "scheduler pass failed"),
        }
        let wait = match db::jobs::next_run(&pool).await {
            Ok(Some(at)) => {
                Duration::from_secs(u64::try_from(at - now.timestamp()).unwrap_or(0).max(1))
            }
            _ => Duration::from_secs(3600),
        };
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = handle.wake.notified() => {}
            () = tokio::time::sleep(wait.min(Duration::from_secs(3600))) => {}
        }
    }
    info!("scheduler stopped");
}
