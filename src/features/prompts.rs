//! The content calendar's prompts (product §4): when each prompt runs, and the post of one run.
//! The scheduler decides that a run is due; this module says what it posts.

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::db::{self, outbox::NewPost, prompts::PromptRow, Pool};
use crate::domain::prompt::pick_from_bank;
use crate::domain::schedule::{CatchUp, Schedule};
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
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
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
