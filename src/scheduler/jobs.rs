//! What each kind of job does when it is due. Running a job never talks to Discord: in one
//! transaction it claims the run (moving `next_run_at` on, conditional on it still being the run
//! it saw) and queues the post in the outbox under a key naming the run. The features say what
//! is posted; this module says when.

use chrono::{DateTime, TimeZone, Utc};
use tracing::{info, warn};

use crate::config::Config;
use crate::db::{self, Pool};
use crate::domain::schedule::{decide_run, CatchUp, RunDecision, Schedule};
use crate::features::{
    connections, events, feedback, inbox, prompts, recognition, reports, settings, surveys,
};
use crate::outbox::Outbox;

/// What happened to one due run (for logs and tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunReport {
    pub job_kind: &'static str,
    pub target_id: i64,
    pub due: i64,
    pub posted: bool,
    pub next: Option<i64>,
}

/// When a job moves on: after its run (a crash in between runs it again, and the outbox keys
/// keep its posts single), or claimed before it (a second run would repeat its work; the run
/// schedules the next itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Claim {
    AfterRun,
    BeforeRun,
}

/// Runs each due job of `kind` with `run`, which says whether it posted and when the job runs
/// next, moving the job on as `claim` says.
async fn each_due<F, Fut>(
    pool: &Pool,
    kind: &'static str,
    now: DateTime<Utc>,
    claim: Claim,
    mut run: F,
) -> anyhow::Result<Vec<RunReport>>
where
    F: FnMut(db::jobs::Job) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<(bool, Option<i64>)>>,
{
    let mut reports = Vec::new();
    for job in db::jobs::due(pool, kind, now.timestamp()).await? {
        let Some(due) = job.next_run_at else { continue };
        let (id, target_id) = (job.id, job.target_id);
        if claim == Claim::BeforeRun && !db::jobs::advance(pool, id, due, None).await? {
            continue; // claimed by someone else
        }
        let (posted, next) = run(job).await?;
        if claim == Claim::AfterRun {
            db::jobs::advance(pool, id, due, next).await?;
        }
        reports.push(RunReport {
            job_kind: kind,
            target_id,
            due,
            posted,
            next,
        });
    }
    Ok(reports)
}

/// Each due prompt run: claims it (moving the job on) and queues its post in one transaction.
pub async fn run_due_prompts(
    pool: &Pool,
    config: &Config,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<RunReport>> {
    let mut reports = Vec::new();
    for job in db::jobs::due(pool, prompts::JOB, now.timestamp()).await? {
        let Some(due) = job.next_run_at else { continue };
        let guild_id = db::from_sql_id(job.guild_id);
        let mut tx = pool.begin().await?;
        let Some(row) = db::prompts::prompt(&mut *tx, guild_id, job.target_id).await? else {
            db::jobs::advance(&mut *tx, job.id, due, None).await?;
            tx.commit().await?;
            continue;
        };
        let tz = settings::timezone(pool, config, guild_id).await?;
        let schedule = match prompts::schedule_of(&row) {
            Ok(s) => s,
            Err(err) => {
                warn!(prompt.id = row.id, error = %err, "prompt has an invalid schedule; it is stopped");
                db::jobs::advance(&mut *tx, job.id, due, None).await?;
                tx.commit().await?;
                continue;
            }
        };
        let due_at = Utc.timestamp_opt(due, 0).single().unwrap_or(now);
        let decision = decide_run(due_at, now, prompts::catch_up_of(&row));
        let next = if row.paused {
            None
        } else {
            schedule.next_after(now.max(due_at), tz)
        };
        if !db::jobs::advance(&mut *tx, job.id, due, next.map(|t| t.timestamp())).await? {
            continue; // claimed by someone else
        }
        let posted = match decision {
            RunDecision::Post { late_by } if !row.paused => {
                prompts::queue_post(&mut tx, &row, due_at, &format!("prompt:{}:{due}", row.id))
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
            job_kind: prompts::JOB,
            target_id: row.id,
            due,
            posted,
            next: next.map(|t| t.timestamp()),
        });
    }
    Ok(reports)
}

/// The jobs that run once a month and post about a month.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Monthly {
    /// The leadership report on the month that just ended.
    Report,
    /// The top 3 contributors of the month before the run.
    Shoutout,
}

impl Monthly {
    fn kind(self) -> &'static str {
        match self {
            Self::Report => reports::JOB,
            Self::Shoutout => recognition::JOB,
        }
    }

    /// A guild's schedule; `None` when the guild stopped it.
    async fn schedule(self, pool: &Pool, guild_id: u64) -> anyhow::Result<Option<Schedule>> {
        Ok(match self {
            Self::Report => Some(reports::schedule()),
            Self::Shoutout => db::recognition::shoutout(pool, guild_id)
                .await?
                .as_ref()
                .and_then(recognition::schedule),
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
                reports::queue(pool, config, guild_id, ended, &key, &name).await
            }
            Self::Shoutout => recognition::queue(pool, config, guild_id, run_day).await,
        }
    }
}

/// Runs the due jobs of a monthly job: each run posts once, late by at most a day; a run missed
/// by more is skipped, and either way the next month's is scheduled.
pub async fn run_due_monthly(
    pool: &Pool,
    config: &Config,
    now: DateTime<Utc>,
    monthly: Monthly,
) -> anyhow::Result<Vec<RunReport>> {
    let mut reports = Vec::new();
    for job in db::jobs::due(pool, monthly.kind(), now.timestamp()).await? {
        let Some(due) = job.next_run_at else { continue };
        let guild_id = db::from_sql_id(job.guild_id);
        let tz = settings::timezone(pool, config, guild_id).await?;
        let due_at = Utc.timestamp_opt(due, 0).single().unwrap_or(now);
        let schedule = monthly.schedule(pool, guild_id).await?;
        let next = schedule
            .as_ref()
            .and_then(|s| s.next_after(now.max(due_at), tz));
        if !db::jobs::advance(pool, job.id, due, next.map(|t| t.timestamp())).await? {
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

/// Items whose SLA ran out while still unanswered: one reminder each to the managers (the
/// reports channel, else the feedback channel). Runs once per item, late or not.
pub async fn run_due_sla_reminders(
    pool: &Pool,
    config: &Config,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<RunReport>> {
    each_due(
        pool,
        feedback::SLA_JOB,
        now,
        Claim::BeforeRun,
        move |job| async move {
            let guild_id = db::from_sql_id(job.guild_id);
            Ok((
                feedback::remind_sla(pool, config, guild_id, job.target_id).await?,
                None,
            ))
        },
    )
    .await
}

/// Event reminders due: one run per due time of each event, whatever the number of members.
pub async fn run_due_event_reminders(
    pool: &Pool,
    config: &Config,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<RunReport>> {
    let mut reports = Vec::new();
    for job in db::jobs::due(pool, events::REMINDER_JOB, now.timestamp()).await? {
        let Some(due) = job.next_run_at else { continue };
        let (posted, next) =
            events::run_reminders(pool, config, job.id, job.target_id, due, now.timestamp())
                .await?;
        reports.push(RunReport {
            job_kind: events::REMINDER_JOB,
            target_id: job.target_id,
            due,
            posted,
            next,
        });
    }
    Ok(reports)
}

/// Offers of a freed spot that ran out: each passes to the next member on the waitlist.
pub async fn run_due_event_offers(
    pool: &Pool,
    config: &Config,
    outbox: &Outbox,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<RunReport>> {
    let mut reports = Vec::new();
    for job in db::jobs::due(pool, events::OFFER_JOB, now.timestamp()).await? {
        let Some(due) = job.next_run_at else { continue };
        let posted =
            events::run_offers(pool, config, outbox, job.target_id, now.timestamp()).await?;
        reports.push(RunReport {
            job_kind: events::OFFER_JOB,
            target_id: job.target_id,
            due,
            posted,
            next: db::jobs::get(pool, events::OFFER_JOB, job.target_id)
                .await?
                .and_then(|j| j.next_run_at),
        });
    }
    Ok(reports)
}

/// Events that ended: their attendees are asked for feedback, once.
pub async fn run_due_event_feedback(
    pool: &Pool,
    config: &Config,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<RunReport>> {
    each_due(
        pool,
        events::FEEDBACK_JOB,
        now,
        Claim::AfterRun,
        move |job| async move {
            let posted =
                events::request_feedback(pool, config, job.target_id, now.timestamp()).await?;
            Ok((posted, None))
        },
    )
    .await
}

/// Series whose earliest coming occurrence started: their next occurrences are created.
pub async fn run_due_event_series(
    pool: &Pool,
    config: &Config,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<RunReport>> {
    each_due(
        pool,
        events::SERIES_JOB,
        now,
        Claim::AfterRun,
        move |job| async move {
            events::roll_series(pool, config, job.target_id, now.timestamp()).await
        },
    )
    .await
}

/// Connection rounds that are due: the round runs, the next one is scheduled (claimed first:
/// a round run twice would match everyone twice).
pub async fn run_due_connect_rounds(
    pool: &Pool,
    config: &Config,
    outbox: &Outbox,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<RunReport>> {
    each_due(
        pool,
        connections::ROUND_JOB,
        now,
        Claim::BeforeRun,
        move |job| async move {
            connections::scheduled_round(pool, config, outbox, job.target_id, now.timestamp()).await
        },
    )
    .await
}

/// Morning digests that are due: posted (the post's key is the local day), the next one
/// scheduled.
pub async fn run_due_digests(
    pool: &Pool,
    config: &Config,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<RunReport>> {
    each_due(
        pool,
        inbox::DIGEST_JOB,
        now,
        Claim::AfterRun,
        move |job| async move {
            inbox::post_digest(pool, config, db::from_sql_id(job.guild_id), now).await
        },
    )
    .await
}

/// Weekly recaps that are due: posted, the next one scheduled.
pub async fn run_due_recaps(
    pool: &Pool,
    config: &Config,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<RunReport>> {
    each_due(
        pool,
        inbox::RECAP_JOB,
        now,
        Claim::AfterRun,
        move |job| async move {
            inbox::post_recap(pool, config, db::from_sql_id(job.guild_id), now).await
        },
    )
    .await
}

/// Rounds whose "did you meet?" is due.
pub async fn run_due_connect_follow_ups(
    pool: &Pool,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<RunReport>> {
    each_due(
        pool,
        connections::FOLLOW_UP_JOB,
        now,
        Claim::AfterRun,
        move |job| async move { Ok((connections::follow_up(pool, job.target_id).await?, None)) },
    )
    .await
}

/// Waves whose time to close has come (an event's feedback, 72 hours after its end).
pub async fn run_due_survey_closes(
    pool: &Pool,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<RunReport>> {
    each_due(
        pool,
        surveys::CLOSE_JOB,
        now,
        Claim::AfterRun,
        move |job| async move {
            surveys::close_due(pool, job.target_id, now.timestamp()).await?;
            Ok((false, None))
        },
    )
    .await
}

/// Surveys whose next wave is due: the open wave closes, the next opens (claimed first: a wave
/// opened twice would split its answers).
pub async fn run_due_survey_waves(
    pool: &Pool,
    config: &Config,
    outbox: &Outbox,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<RunReport>> {
    each_due(
        pool,
        surveys::WAVE_JOB,
        now,
        Claim::BeforeRun,
        move |job| async move {
            surveys::next_wave(pool, config, outbox, job.target_id, now.timestamp()).await
        },
    )
    .await
}
