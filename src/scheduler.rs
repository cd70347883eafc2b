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

use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::Config;
use crate::db::{self, calendar::PromptRow, outbox::NewPost, Pool};
use crate::domain::prompt::pick_from_bank;
use crate::domain::schedule::{decide_run, CatchUp, RunDecision, Schedule};
use crate::domain::settings::{ChannelPurpose, GuildSettings};
use crate::outbox::{action_json, Action, Outbox};
use crate::outbox::{enqueue_in, message_post};

/// Job kind of prompts.
pub const PROMPT: &str = "prompt";

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

/// What happened to one due run (for logs and tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunReport {
    pub job_kind: &'static str,
    pub target_id: i64,
    pub due: i64,
    pub posted: bool,
    pub next: Option<i64>,
}

/// The schedule of a prompt row.
pub fn prompt_schedule(row: &PromptRow) -> anyhow::Result<Schedule> {
    Ok(match row.schedule_kind.as_str() {
        "cron" => Schedule::cron(row.cron.as_deref().unwrap_or_default())?,
        _ => Schedule::weekly(
            row.days.as_deref().unwrap_or_default(),
            row.time_of_day.as_deref().unwrap_or_default(),
        )?,
    })
}

/// The catch-up policy of a prompt row.
pub fn prompt_catch_up(row: &PromptRow) -> CatchUp {
    match row.late_within_secs {
        None => CatchUp::Skip,
        Some(secs) => CatchUp::LateWithin(chrono::Duration::seconds(secs)),
    }
}

/// A guild's time zone (stored setting over config default).
pub async fn guild_timezone(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
) -> anyhow::Result<chrono_tz::Tz> {
    Ok(guild_settings(pool, config, guild_id).await?.timezone)
}

/// A guild's settings: stored settings over the config's defaults.
pub async fn guild_settings(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
) -> anyhow::Result<GuildSettings> {
    let stored = db::guilds::settings(pool, guild_id).await?;
    Ok(GuildSettings::resolve(
        guild_id,
        &stored,
        &config.guild_defaults(guild_id),
    ))
}

/// (Re)computes a prompt's next run from `now`; paused prompts have none.
pub async fn schedule_prompt(
    pool: &Pool,
    config: &Config,
    row: &PromptRow,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<DateTime<Utc>>> {
    let next = if row.paused {
        None
    } else {
        let tz = guild_timezone(pool, config, row.guild()).await?;
        prompt_schedule(row)?.next_after(now, tz)
    };
    db::calendar::upsert_job(
        pool,
        row.guild(),
        PROMPT,
        row.id,
        next.map(|t| t.timestamp()),
    )
    .await?;
    Ok(next)
}

/// Queues a prompt's post now (`/prompts run-now`), outside its schedule.
pub async fn post_prompt_now(
    pool: &Pool,
    outbox: &Outbox,
    row: &PromptRow,
    now: DateTime<Utc>,
    key: &str,
) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    queue_prompt_post(&mut tx, row, now, key).await?;
    tx.commit().await?;
    outbox.wake();
    Ok(())
}

/// Runs every due job at `now`.
pub async fn run_due(
    pool: &Pool,
    config: &Config,
    outbox: &Outbox,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<RunReport>> {
    let mut reports = Vec::new();
    for job in db::calendar::due_jobs(pool, PROMPT, now.timestamp()).await? {
        let Some(due) = job.next_run_at else { continue };
        let guild_id = db::from_sql_id(job.guild_id);
        let mut tx = pool.begin().await?;
        let Some(row) = db::calendar::prompt(&mut *tx, guild_id, job.target_id).await? else {
            db::calendar::advance_job(&mut *tx, job.id, due, None).await?;
            tx.commit().await?;
            continue;
        };
        let tz = guild_timezone(pool, config, guild_id).await?;
        let schedule = match prompt_schedule(&row) {
            Ok(s) => s,
            Err(err) => {
                warn!(prompt.id = row.id, error = %err, "prompt has an invalid schedule; it is stopped");
                db::calendar::advance_job(&mut *tx, job.id, due, None).await?;
                tx.commit().await?;
                continue;
            }
        };
        let due_at = Utc.timestamp_opt(due, 0).single().unwrap_or(now);
        let decision = decide_run(due_at, now, prompt_catch_up(&row));
        let next = if row.paused {
            None
        } else {
            schedule.next_after(now.max(due_at), tz)
        };
        if !db::calendar::advance_job(&mut *tx, job.id, due, next.map(|t| t.timestamp())).await? {
            continue; // claimed by someone else
        }
        let posted = match decision {
            RunDecision::Post { late_by } if !row.paused => {
                queue_prompt_post(&mut tx, &row, due_at, &format!("prompt:{}:{due}", row.id))
                    .await?;
                if late_by > crate::domain::schedule::ON_TIME {
                    info!(
                        prompt.id = row.id,
                        late_by.secs = late_by.num_seconds(),
                        "missed run posted late (within the catch-up window)"
                    );
                }
                true
            }
            RunDecision::Post { .. } => false,
            RunDecision::Skip { late_by } => {
                info!(
                    prompt.id = row.id,
                    late_by.secs = late_by.num_seconds(),
                    "missed run skipped (catch-up policy)"
                );
                false
            }
        };
        tx.commit().await?;
        reports.push(RunReport {
            job_kind: PROMPT,
            target_id: row.id,
            due,
            posted,
            next: next.map(|t| t.timestamp()),
        });
    }
    reports.extend(run_due_monthly(pool, config, now, Monthly::Report).await?);
    reports.extend(run_due_sla_reminders(pool, config, now).await?);
    reports.extend(run_due_monthly(pool, config, now, Monthly::Shoutout).await?);
    if reports.iter().any(|r| r.posted) {
        outbox.wake();
    }
    Ok(reports)
}

/// When the monthly report runs: the 1st of each month, 09:00 server time.
pub fn monthly_schedule() -> Schedule {
    Schedule::cron("0 9 1 * *").unwrap_or(Schedule::Weekly {
        days: Vec::new(),
        time: chrono::NaiveTime::MIN,
    })
}

/// Makes sure a guild has its monthly-report job.
pub async fn ensure_monthly_report(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let tz = guild_timezone(pool, config, guild_id).await?;
    let next = monthly_schedule()
        .next_after(now, tz)
        .map(|t| t.timestamp());
    let target = i64::try_from(guild_id).unwrap_or(i64::MAX);
    db::calendar::insert_job_if_missing(pool, guild_id, crate::monthly::JOB, target, next).await?;
    Ok(())
}

/// The jobs that run once a month and post about a month.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Monthly {
    /// The leadership report on the month that just ended.
    Report,
    /// The top 3 contributors of the month before the run.
    Shoutout,
}

impl Monthly {
    fn kind(self) -> &'static str {
        match self {
            Self::Report => crate::monthly::JOB,
            Self::Shoutout => crate::shoutout::JOB,
        }
    }

    /// A guild's schedule; `None` when the guild stopped it.
    async fn schedule(self, pool: &Pool, guild_id: u64) -> anyhow::Result<Option<Schedule>> {
        Ok(match self {
            Self::Report => Some(monthly_schedule()),
            Self::Shoutout => db::recognition::shoutout(pool, guild_id)
                .await?
                .as_ref()
                .and_then(crate::shoutout::schedule),
        })
    }

    /// Queues the post of a run on `run_day` (server time); false when there is nowhere to post.
    async fn post(
        self,
        pool: &Pool,
        config: &Config,
        guild_id: u64,
        run_day: chrono::NaiveDate,
    ) -> anyhow::Result<bool> {
        match self {
            Self::Report => {
                let ended = run_day - chrono::Duration::days(1);
                let name = db::guilds::name(pool, guild_id)
                    .await?
                    .unwrap_or_else(|| "the community".to_owned());
                let key = format!("monthly-report:{guild_id}:{}", ended.format("%Y-%m"));
                crate::monthly::queue(pool, config, guild_id, ended, &key, &name).await
            }
            Self::Shoutout => crate::shoutout::queue(pool, config, guild_id, run_day).await,
        }
    }
}

/// Runs the due jobs of a monthly job: each run posts once, late by at most a day; a run missed
/// by more is skipped, and either way the next month's is scheduled.
async fn run_due_monthly(
    pool: &Pool,
    config: &Config,
    now: DateTime<Utc>,
    monthly: Monthly,
) -> anyhow::Result<Vec<RunReport>> {
    let mut reports = Vec::new();
    for job in db::calendar::due_jobs(pool, monthly.kind(), now.timestamp()).await? {
        let Some(due) = job.next_run_at else { continue };
        let guild_id = db::from_sql_id(job.guild_id);
        let tz = guild_timezone(pool, config, guild_id).await?;
        let due_at = Utc.timestamp_opt(due, 0).single().unwrap_or(now);
        let schedule = monthly.schedule(pool, guild_id).await?;
        let next = schedule
            .as_ref()
            .and_then(|s| s.next_after(now.max(due_at), tz));
        if !db::calendar::advance_job(pool, job.id, due, next.map(|t| t.timestamp())).await? {
            continue; // claimed by someone else
        }
        let posted = match (
            schedule,
            decide_run(due_at, now, CatchUp::LateWithin(chrono::Duration::days(1))),
        ) {
            (None, _) => false,
            (Some(_), RunDecision::Post { .. }) => {
                let run_day = due_at.with_timezone(&tz).date_naive();
                monthly.post(pool, config, guild_id, run_day).await?
            }
            (Some(_), RunDecision::Skip { late_by }) => {
                info!(
                    guild.id = guild_id,
                    job = monthly.kind(),
                    late_by.secs = late_by.num_seconds(),
                    "monthly run missed by more than a day; skipped"
                );
                false
            }
        };
        reports.push(RunReport {
            job_kind: monthly.kind(),
            target_id: job.target_id,
            due,
            posted,
            next: next.map(|t| t.timestamp()),
        });
    }
    Ok(reports)
}

/// Schedules (or, with `None`, stops) a guild's monthly shout-out; returns the next run.
pub async fn schedule_shoutout(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    shoutout: Option<&db::recognition::Shoutout>,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<DateTime<Utc>>> {
    let tz = guild_timezone(pool, config, guild_id).await?;
    let next = shoutout
        .and_then(crate::shoutout::schedule)
        .and_then(|s| s.next_after(now, tz));
    let target = i64::try_from(guild_id).unwrap_or(i64::MAX);
    db::calendar::upsert_job(
        pool,
        guild_id,
        crate::shoutout::JOB,
        target,
        next.map(|t| t.timestamp()),
    )
    .await?;
    Ok(next)
}

/// Job kind of a feedback item's SLA check (target = item id), due when the SLA runs out.
pub const FEEDBACK_SLA: &str = "feedback-sla";

/// Schedules the SLA check of a new feedback item.
pub async fn schedule_sla_check(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    item_id: i64,
    created_at: i64,
) -> anyhow::Result<()> {
    let due = created_at + i64::from(config.feedback.sla_days) * 86_400;
    db::calendar::insert_job_if_missing(pool, guild_id, FEEDBACK_SLA, item_id, Some(due)).await?;
    Ok(())
}

/// Items whose SLA ran out while still unanswered: one reminder each to the managers (the
/// reports channel, else the feedback channel). Runs once per item, late or not.
async fn run_due_sla_reminders(
    pool: &Pool,
    config: &Config,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<RunReport>> {
    let mut reports = Vec::new();
    for job in db::calendar::due_jobs(pool, FEEDBACK_SLA, now.timestamp()).await? {
        let Some(due) = job.next_run_at else { continue };
        let guild_id = db::from_sql_id(job.guild_id);
        if !db::calendar::advance_job(pool, job.id, due, None).await? {
            continue;
        }
        let mut posted = false;
        let item = db::feedback::get(pool, guild_id, job.target_id).await?;
        if let Some(item) = item.filter(|i| i.status == "new") {
            let settings = guild_settings(pool, config, guild_id).await?;
            let channel = settings
                .channel(ChannelPurpose::Reports)
                .or(settings.channel(ChannelPurpose::Feedback));
            let thread = match item.outbox_id {
                Some(outbox) => db::feedback::thread_of(pool, outbox).await?,
                None => None,
            };
            if let Some(channel) = channel {
                let body = crate::discord::render::feedback_sla_reminder(
                    item.id,
                    &item.title,
                    thread,
                    config.feedback.sla_days,
                );
                let key = format!("feedback-sla:{guild_id}:{}", item.id);
                let post = message_post(guild_id, channel, "feedback-sla", key, body);
                posted = enqueue_in(pool, &post).await?.is_some();
            } else {
                warn!(guild.id = guild_id, feedback.id = item.id, "feedback past its SLA, but no reports or feedback channel to remind managers in");
            }
        }
        reports.push(RunReport {
            job_kind: FEEDBACK_SLA,
            target_id: job.target_id,
            due,
            posted,
            next: None,
        });
    }
    Ok(reports)
}

/// Queues the post of one run of a prompt inside the caller's transaction.
async fn queue_prompt_post(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    row: &PromptRow,
    run_at: DateTime<Utc>,
    key: &str,
) -> anyhow::Result<()> {
    let text = match &row.text {
        Some(text) => text.clone(),
        None => {
            let bank = db::calendar::bank(&mut **tx, row.id).await?;
            let used: Vec<bool> = bank.iter().map(|b| b.used).collect();
            let pick = pick_from_bank(&used, None, &mut rand::thread_rng());
            match pick {
                Some((i, new_cycle)) => {
                    let mut now_used: Vec<i64> = if new_cycle {
                        Vec::new()
                    } else {
                        bank.iter().filter(|b| b.used).map(|b| b.id).collect()
                    };
                    now_used.push(bank[i].id);
                    db::calendar::set_bank_used(&mut **tx, row.id, &now_used).await?;
                    bank[i].text.clone()
                }
                None => {
                    String::from("(This prompt has no text yet: add some with /prompts bank add.)")
                }
            }
        }
    };
    let poll = row
        .poll
        .as_deref()
        .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok());
    let body = crate::discord::render::prompt_post(&row.theme, &text, row.author(), poll.as_ref());
    let thread = row
        .thread
        .then(|| format!("{} · {}", row.theme, run_at.format("%Y-%m-%d")));
    let post = NewPost {
        guild_id: row.guild(),
        channel_id: row.channel(),
        kind: "prompt".into(),
        dedup_key: key.to_owned(),
        body: action_json(&Action::Message { body, thread }),
        not_before_ms: None,
    };
    enqueue_in(&mut **tx, &post).await?;
    Ok(())
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
        let wait = match db::calendar::next_run(&pool).await {
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

/// A native Discord poll body.
pub fn poll_json(question: &str, answers: &[String], hours: u32) -> serde_json::Value {
    json!({
        "question": { "text": question },
        "answers": answers.iter().map(|a| json!({ "poll_media": { "text": a } })).collect::<Vec<_>>(),
        "duration": hours,
        "allow_multiselect": false,
    })
}
