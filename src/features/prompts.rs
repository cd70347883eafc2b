//! The content calendar's prompts (product §4): when each prompt runs, and the post of one run.
//! The scheduler decides that a run is due; this module says what it posts.

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::db::{
    self,
    outbox::NewPost,
    prompts::{NewPrompt, PromptRow},
    Pool,
};
use crate::domain::prompt::pick_from_bank;
use crate::domain::schedule::{parse_catch_up, CatchUp, Schedule};
use crate::error::UserError;
use crate::features::settings;
use crate::outbox::{action_json, enqueue_in, posts, Action, Outbox};

/// Job kind of prompts (target = the prompt's id).
pub const JOB: &str = "prompt";

/// The schedule of a prompt row.
pub fn schedule_of(row: &PromptRow) -> anyhow::Result<Schedule> {
    Ok(match row.schedule_kind.as_str() {
        "cron" => Schedule::cron(row.cron.as_deref().unwrap_or_default())?,
        _ => Schedule::weekly(
            row.days.as_deref().unwrap_or_default(),
            row.time_of_day.as_deref().unwrap_or_default(),
        )?,
    })
}

/// The catch-up policy of a prompt row.
pub fn catch_up_of(row: &PromptRow) -> CatchUp {
    match row.late_within_secs {
        None => CatchUp::Skip,
        Some(secs) => CatchUp::LateWithin(chrono::Duration::seconds(secs)),
    }
}

/// (Re)computes a prompt's next run from `now`; paused prompts have none.
pub async fn reschedule(
    pool: &Pool,
    config: &Config,
    row: &PromptRow,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<DateTime<Utc>>> {
    let next = if row.paused {
        None
    } else {
        let tz = settings::timezone(pool, config, row.guild()).await?;
        schedule_of(row)?.next_after(now, tz)
    };
    db::jobs::upsert(pool, row.guild(), JOB, row.id, next.map(|t| t.timestamp())).await?;
    Ok(next)
}

/// Queues a prompt's post now (`/prompts run-now`), outside its schedule.
pub async fn post_now(
    pool: &Pool,
    outbox: &Outbox,
    row: &PromptRow,
    now: DateTime<Utc>,
    key: &str,
) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    queue_post(&mut tx, row, now, key).await?;
    tx.commit().await?;
    outbox.wake();
    Ok(())
}

/// Queues the post of one run of a prompt inside the caller's transaction.
pub async fn queue_post(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    row: &PromptRow,
    run_at: DateTime<Utc>,
    key: &str,
) -> anyhow::Result<()> {
    let text = match &row.text {
        Some(text) => text.clone(),
        None => {
            let bank = db::prompts::bank(&mut **tx, row.id).await?;
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
                    db::prompts::set_bank_used(&mut **tx, row.id, &now_used).await?;
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
    let body = posts::prompt_post(&row.theme, &text, row.author(), poll.as_ref());
    let thread = row
        .thread
        .then(|| format!("{} · {}", row.theme, run_at.format("%Y-%m-%d")));
    let post = NewPost {
        guild_id: row.guild(),
        channel_id: row.channel(),
        kind: JOB.into(),
        dedup_key: key.to_owned(),
        body: action_json(&Action::Message { body, thread }),
        not_before_ms: None,
    };
    enqueue_in(&mut **tx, &post).await?;
    Ok(())
}

/// A prompt as a manager asks for it (`/prompts add`), before it is checked.
#[derive(Clone, Debug, Default)]
pub struct PromptRequest {
    pub theme: String,
    pub channel_id: u64,
    /// Weekdays and local time, or else a cron expression.
    pub days: Option<String>,
    pub time: Option<String>,
    pub cron: Option<String>,
    /// A fixed text; without one the prompt rotates through its bank.
    pub text: Option<String>,
    pub thread: Option<bool>,
    pub poll_question: Option<String>,
    /// Answers separated by `|`.
    pub poll_answers: Option<String>,
    pub poll_hours: Option<u32>,
    /// `skip`, or how late a missed run may still post (default 1h).
    pub catch_up: Option<String>,
}

/// A prompt that was added: as stored, its schedule and its first run.
#[derive(Clone, Debug)]
pub struct Added {
    pub row: PromptRow,
    pub schedule: Schedule,
    pub next: Option<DateTime<Utc>>,
}

/// Adds and schedules a prompt; a [`UserError`] says what to fix in the request. The caller
/// wakes the scheduler.
pub async fn add(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    author_id: u64,
    request: PromptRequest,
    now: DateTime<Utc>,
) -> anyhow::Result<Added> {
    let (new, schedule) = check(guild_id, author_id, request)?;
    let id = db::prompts::insert_prompt(pool, &new, now.timestamp()).await?;
    let row = db::prompts::prompt(pool, guild_id, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("prompt #{id} vanished after it was added"))?;
    let next = reschedule(pool, config, &row, now).await?;
    Ok(Added {
        row,
        schedule,
        next,
    })
}

/// Checks a request (schedule, then catch-up, then poll) into the row to store.
pub fn check(
    guild_id: u64,
    author_id: u64,
    request: PromptRequest,
) -> Result<(NewPrompt, Schedule), UserError> {
    let PromptRequest {
        theme,
        channel_id,
        days,
        time,
        cron,
        text,
        thread,
        poll_question,
        poll_answers,
        poll_hours,
        catch_up,
    } = request;
    let schedule = match (cron.as_deref(), days.as_deref(), time.as_deref()) {
        (Some(cron), None, None) => Schedule::cron(cron),
        (None, Some(days), Some(time)) => Schedule::weekly(days, time),
        _ => return Err(UserError("Give either `days` and `time` (e.g. days:mon time:09:00) or `cron` (e.g. 0 9 * * MON).".into())),
    }
    .map_err(|e| UserError(format!("That schedule cannot be saved: {e}.")))?;
    let late_within_secs = match parse_catch_up(catch_up.as_deref().unwrap_or("1h"))
        .map_err(|e| UserError(format!("catch_up: {e}")))?
    {
        CatchUp::Skip => None,
        CatchUp::LateWithin(d) => Some(d.num_seconds()),
    };
    let poll = poll_json(poll_question, poll_answers, poll_hours)?;
    // Weekly prompts keep the days and time as typed; cron ones their normalised expression.
    let (kind, days, time, cron) = match &schedule {
        Schedule::Weekly { .. } => ("weekly", days, time, None),
        Schedule::Cron { expression, .. } => ("cron", None, None, Some(expression.clone())),
    };
    let new = NewPrompt {
        guild_id,
        theme,
        channel_id,
        schedule_kind: kind.into(),
        days,
        time_of_day: time,
        cron,
        late_within_secs,
        text,
        thread: thread.unwrap_or(false),
        poll: poll.map(|p| p.to_string()),
        author_id,
        paused: false,
    };
    Ok((new, schedule))
}

/// The native poll of a prompt, checked against Discord's limits.
pub fn poll_json(
    question: Option<String>,
    answers: Option<String>,
    hours: Option<u32>,
) -> Result<Option<serde_json::Value>, UserError> {
    let Some(question) = question else {
        return match answers {
            Some(_) => Err(UserError("poll_answers needs a poll_question.".into())),
            None => Ok(None),
        };
    };
    let answers: Vec<String> = answers
        .unwrap_or_default()
        .split('|')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect();
    if !(1..=10).contains(&answers.len()) {
        return Err(UserError(format!(
            "poll_answers: a poll needs 1 to 10 answers separated by |, got {}.",
            answers.len()
        )));
    }
    if question.chars().count() > 300 || answers.iter().any(|a| a.chars().count() > 55) {
        return Err(UserError(
            "poll: the question may have 300 characters and each answer 55.".into(),
        ));
    }
    let hours = hours.unwrap_or(24);
    if !(1..=768).contains(&hours) {
        return Err(UserError("poll_hours: between 1 and 768 (32 days).".into()));
    }
    Ok(Some(posts::poll(&question, &answers, hours)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weekly() -> PromptRequest {
        PromptRequest {
            theme: "Tool-Tip Tuesday".into(),
            channel_id: 2,
            days: Some("tue".into()),
            time: Some("09:00".into()),
            ..PromptRequest::default()
        }
    }

    fn refused(request: PromptRequest) -> String {
        check(1, 3, request).unwrap_err().0
    }

    #[test]
    fn a_weekly_request_keeps_its_days_and_time_and_catches_up_within_an_hour() {
        let (new, schedule) = check(1, 3, weekly()).unwrap();
        assert_eq!(new.schedule_kind, "weekly");
        assert_eq!(new.days.as_deref(), Some("tue"));
        assert_eq!(new.time_of_day.as_deref(), Some("09:00"));
        assert_eq!(new.cron, None);
        assert_eq!(new.late_within_secs, Some(3600));
        assert_eq!((new.guild_id, new.author_id, new.thread), (1, 3, false));
        assert!(!new.paused);
        assert!(matches!(schedule, Schedule::Weekly { .. }));
    }

    #[test]
    fn a_cron_request_stores_only_the_expression() {
        let request = PromptRequest {
            days: None,
            time: None,
            cron: Some("0 9 * * MON".into()),
            catch_up: Some("skip".into()),
            ..weekly()
        };
        let (new, _) = check(1, 3, request).unwrap();
        assert_eq!(new.schedule_kind, "cron");
        assert_eq!((new.days, new.time_of_day), (None, None));
        assert!(new.cron.is_some());
        assert_eq!(new.late_within_secs, None);
    }

    #[test]
    fn requests_are_refused_naming_what_to_fix() {
        let both = PromptRequest {
            cron: Some("0 9 * * MON".into()),
            ..weekly()
        };
        assert!(refused(both).starts_with("Give either `days` and `time`"));
        let bad_time = PromptRequest {
            time: Some("25:00".into()),
            ..weekly()
        };
        assert!(refused(bad_time).starts_with("That schedule cannot be saved:"));
        let bad_catch_up = PromptRequest {
            catch_up: Some("soon".into()),
            ..weekly()
        };
        assert!(refused(bad_catch_up).starts_with("catch_up: "));
    }

    #[test]
    fn polls_are_checked_against_discords_limits() {
        assert!(poll_json(None, None, None).unwrap().is_none());
        assert_eq!(
            poll_json(None, Some("a|b".into()), None).unwrap_err().0,
            "poll_answers needs a poll_question."
        );
        assert!(poll_json(Some("Q?".into()), Some(" | ".into()), None)
            .unwrap_err()
            .0
            .ends_with("got 0."));
        assert!(poll_json(Some("Q?".into()), Some("a|b".into()), Some(769))
            .unwrap_err()
            .0
            .starts_with("poll_hours"));
        assert!(poll_json(Some("Q?".into()), Some("a|b".into()), None)
            .unwrap()
            .is_some());
    }
}
