//! The monthly leadership report (product §6): the month's numbers next to the previous
//! month's, posted to the reports channel through the outbox. Scheduled for the 1st of each month
//! at 09:00 server time; `/report monthly` posts one on demand.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde_json::{json, Value};
use tracing::info;

use crate::config::Config;
use crate::db::{self, Pool};
use crate::domain::analytics::{CohortPeriod, Report};
use crate::domain::schedule::Schedule;
use crate::domain::settings::ChannelPurpose;
use crate::error::UserError;
use crate::features::settings;
use crate::outbox::{enqueue_in, message_post, posts, Outbox};

/// Job kind of the monthly report (one job per guild, target = guild id).
pub const JOB: &str = "monthly-report";

/// The first and last day of the month containing `day`.
pub fn month_bounds(day: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first = day.with_day(1).unwrap_or(day);
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    };
    (first, next.map_or(first, |n| n - Duration::days(1)))
}

/// Averages and totals of a month, for comparison.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MonthFigures {
    pub avg_dau: f64,
    pub mau_at_end: usize,
    pub messages: usize,
    pub joins: usize,
    pub leaves: usize,
    pub activation: Option<f64>,
}

pub fn figures(report: &Report) -> MonthFigures {
    let days = report.daily.len().max(1) as f64;
    MonthFigures {
        avg_dau: report.daily.iter().map(|d| d.dau as f64).sum::<f64>() / days,
        mau_at_end: report.daily.last().map_or(0, |d| d.mau),
        messages: report.daily.iter().map(|d| d.messages).sum(),
        joins: report.daily.iter().map(|d| d.joins).sum(),
        leaves: report.daily.iter().map(|d| d.leaves).sum(),
        activation: report.activation.rate,
    }
}

fn change(now: f64, before: f64) -> String {
    if before == 0.0 {
        return if now == 0.0 {
            "±0".to_owned()
        } else {
            "new".to_owned()
        };
    }
    let pct = (now - before) / before * 100.0;
    let arrow = if pct > 0.5 {
        "▲"
    } else if pct < -0.5 {
        "▼"
    } else {
        "▶"
    };
    format!("{arrow} {pct:+.0}%")
}

/// The report post (embed JSON) for `month` compared with `previous`.
pub fn report_post(month: &Report, previous: &Report, guild_name: &str) -> Value {
    let (now, before) = (figures(month), figures(previous));
    let pct = |x: Option<f64>| x.map_or_else(|| "n/a".to_owned(), |v| format!("{:.0}%", v * 100.0));
    let top: Vec<String> = month
        .top_contributors
        .iter()
        .take(5)
        .map(|c| format!("<@{}> ({})", c.user_id, c.activity))
        .collect();
    let retention: Vec<String> = month
        .retention
        .iter()
        .filter(|c| c.d30.is_some())
        .map(|c| {
            format!(
                "{}: {} joined, {} active after 30 days",
                c.cohort,
                c.size,
                pct(c.d30)
            )
        })
        .collect();
    let field = |name: &str, value: String| json!({ "name": name, "value": posts::truncate(&value, 1024), "inline": true });
    json!({
        "content": format!("📊 Monthly community report for **{guild_name}**, {}", month.from.format("%B %Y")),
        "embeds": [{
            "title": format!("{} vs {}", month.from.format("%B %Y"), previous.from.format("%B %Y")),
            "color": posts::COLOUR,
            "fields": [
                field("Daily active (avg)", format!("{:.1} · {}", now.avg_dau, change(now.avg_dau, before.avg_dau))),
                field("Monthly active", format!("{} · {}", now.mau_at_end, change(now.mau_at_end as f64, before.mau_at_end as f64))),
                field("Messages", format!("{} · {}", now.messages, change(now.messages as f64, before.messages as f64))),
                field("New members", format!("{} joined, {} left · {}", now.joins, now.leaves, change(now.joins as f64, before.joins as f64))),
                field("Activation", format!("{} (was {})", pct(now.activation), pct(before.activation))),
                field("Top contributors", if top.is_empty() { "none yet".to_owned() } else { top.join(", ") }),
                json!({ "name": "Retention (30-day)", "value": posts::truncate(&if retention.is_empty() { "no cohort has reached 30 days yet".to_owned() } else { retention.join("\n") }, 1024), "inline": false }),
            ],
            "footer": { "text": format!("Days in {}. Counts only: Hearth never stores message content.", month.timezone) },
        }],
        "allowed_mentions": posts::allowed_mentions(&[]),
    })
}

/// Queues the report of the month containing `day` to the reports channel; returns false when
/// the guild has no reports channel.
pub async fn queue(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    day: NaiveDate,
    dedup_key: &str,
    guild_name: &str,
) -> anyhow::Result<bool> {
    let settings = crate::features::settings::resolve(pool, config, guild_id).await?;
    let Some(channel) = settings.channel(ChannelPurpose::Reports) else {
        info!(
            guild.id = guild_id,
            "no reports channel; monthly report not posted"
        );
        return Ok(false);
    };
    let (from, to) = month_bounds(day);
    let (prev_from, prev_to) = month_bounds(from - Duration::days(1));
    let tz = settings.timezone;
    let month =
        crate::features::stats::report(pool, guild_id, tz, from, to, CohortPeriod::Month).await?;
    let previous =
        crate::features::stats::report(pool, guild_id, tz, prev_from, prev_to, CohortPeriod::Month)
            .await?;
    let mut body = report_post(&month, &previous, guild_name);
    let events = crate::features::events::report_json(
        pool,
        config,
        guild_id,
        tz,
        from,
        to,
        crate::domain::clock::unix_now(),
    )
    .await?;
    let surveys = crate::features::surveys::report_json(pool, guild_id, tz, from, to).await?;
    let connections =
        crate::features::connections::report_json(pool, guild_id, tz, from, to).await?;
    let extra = [
        crate::features::events::month_field(&events),
        crate::features::surveys::month_field(&surveys),
        crate::features::connections::month_field(&connections),
    ];
    if let Some(fields) = body["embeds"][0]["fields"].as_array_mut() {
        fields.extend(extra.into_iter().flatten());
    }
    let post = message_post(
        guild_id,
        channel,
        "monthly-report",
        dedup_key.to_owned(),
        body,
    );
    enqueue_in(pool, &post).await?;
    Ok(true)
}

/// The first day of a month typed as YYYY-MM.
pub fn parse_month(text: &str) -> Result<NaiveDate, UserError> {
    NaiveDate::parse_from_str(&format!("{}-01", text.trim()), "%Y-%m-%d")
        .map_err(|_| UserError(format!("month: `{text}` is not a month like 2026-03.")))
}

/// Queues a report on demand (`/report monthly`): for `month` (YYYY-MM), or else the month
/// of `now` in server time, and wakes the outbox; returns a day of the month reported. A
/// [`UserError`] for a bad month or a guild without a reports channel.
#[allow(clippy::too_many_arguments)]
pub async fn post_now(
    pool: &Pool,
    config: &Config,
    outbox: &Outbox,
    guild_id: u64,
    guild_name: &str,
    month: Option<&str>,
    request_id: u64,
    now: DateTime<Utc>,
) -> anyhow::Result<NaiveDate> {
    let tz = settings::timezone(pool, config, guild_id).await?;
    let day = match month {
        None => now.with_timezone(&tz).date_naive(),
        Some(text) => parse_month(text)?,
    };
    let key = format!("monthly-report-now:{guild_id}:{request_id}");
    if !queue(pool, config, guild_id, day, &key, guild_name).await? {
        return Err(UserError(
            "There is no reports channel: `/config channel purpose:reports` sets one.".into(),
        )
        .into());
    }
    outbox.wake();
    Ok(day)
}

/// When the monthly report runs: the 1st of each month, 09:00 server time.
pub fn schedule() -> Schedule {
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
    let tz = settings::timezone(pool, config, guild_id).await?;
    let next = schedule().next_after(now, tz).map(|t| t.timestamp());
    let target = i64::try_from(guild_id).unwrap_or(i64::MAX);
    db::jobs::insert_if_missing(pool, guild_id, JOB, target, next).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_bounds_cover_leap_years_and_december() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(
            month_bounds(d("2028-02-10")),
            (d("2028-02-01"), d("2028-02-29"))
        );
        assert_eq!(
            month_bounds(d("2026-12-31")),
            (d("2026-12-01"), d("2026-12-31"))
        );
    }

    #[test]
    fn changes_read_like_a_person_would_write_them() {
        assert_eq!(change(120.0, 100.0), "▲ +20%");
        assert_eq!(change(50.0, 100.0), "▼ -50%");
        assert_eq!(change(3.0, 0.0), "new");
    }

    #[test]
    fn a_month_is_typed_as_yyyy_mm() {
        assert_eq!(
            parse_month(" 2026-03 ").unwrap(),
            NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()
        );
        assert_eq!(
            parse_month("March").unwrap_err().0,
            "month: `March` is not a month like 2026-03."
        );
    }
}
