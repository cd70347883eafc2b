//! Reads the store into the pure analytics of `domain::analytics`.

pub mod chart;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use std::collections::HashSet;

use crate::db::{self, rollup::GuildDay, Pool};
use crate::domain::analytics::{
    self, date_of, day_number, CohortPeriod, Counts, DayFigures, JoinDayCounts, Report,
};
use crate::features::rollup::{self, start_of};

fn instant(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

/// What a report computes beyond the daily figures, joins and activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sections {
    pub retention: bool,
    pub top_contributors: bool,
}

impl Sections {
    pub const ALL: Self = Self {
        retention: true,
        top_contributors: true,
    };
    /// What `/stats overview` shows.
    pub const OVERVIEW: Self = Self {
        retention: false,
        top_contributors: false,
    };
}

/// The report for `from..=to` (local days in `tz`).
pub async fn report(
    pool: &Pool,
    guild_id: u64,
    tz: Tz,
    from: NaiveDate,
    to: NaiveDate,
    period: CohortPeriod,
) -> anyhow::Result<Report> {
    let days = days_of(pool, guild_id, tz, from, to).await?;
    report_of(pool, &days, period, Sections::ALL).await
}

/// `/stats overview`: the report without retention and top contributors, and conversations.
pub async fn overview(
    pool: &Pool,
    guild_id: u64,
    tz: Tz,
    from: NaiveDate,
    to: NaiveDate,
    managers: &HashSet<u64>,
) -> anyhow::Result<(Report, analytics::Conversations)> {
    let days = days_of(pool, guild_id, tz, from, to).await?;
    // Independent reads on their own connections (SQLite's WAL lets readers run together).
    tokio::try_join!(
        report_of(pool, &days, CohortPeriod::Month, Sections::OVERVIEW),
        conversations_of(pool, &days, managers)
    )
}

/// A guild's days `from..=to` after a refresh: what every part of a report reads.
struct Days {
    guild_id: u64,
    tz: Tz,
    from: NaiveDate,
    to: NaiveDate,
    /// The first day that is not finished (a day number).
    first_live: i64,
    /// Finished days as materialised, the others (today) from live member days.
    figures: Vec<GuildDay>,
}

impl Days {
    /// `[since, until)` in unix seconds.
    fn instants(&self) -> (i64, i64) {
        (
            start_of(self.from, self.tz),
            start_of(self.to + Duration::days(1), self.tz),
        )
    }
}

async fn days_of(
    pool: &Pool,
    guild_id: u64,
    tz: Tz,
    from: NaiveDate,
    to: NaiveDate,
) -> anyhow::Result<Days> {
    let first_live =
        day_number(rollup::refresh(pool, guild_id, tz, crate::domain::clock::now()).await?);
    let (first, last) = (day_number(from), day_number(to));
    let mut figures =
        db::rollup::guild_days(pool, guild_id, first, last.min(first_live - 1)).await?;
    for day in first.max(first_live)..=last {
        figures.push(db::rollup::live_day(pool, guild_id, first_live, day).await?);
    }
    Ok(Days {
        guild_id,
        tz,
        from,
        to,
        first_live,
        figures,
    })
}

async fn report_of(
    pool: &Pool,
    days: &Days,
    period: CohortPeriod,
    sections: Sections,
) -> anyhow::Result<Report> {
    let (guild_id, tz, from, to) = (days.guild_id, days.tz, days.from, days.to);
    let (since, until) = days.instants();
    let instants = |v: Vec<i64>| v.into_iter().map(instant).collect::<Vec<_>>();
    let n = |x: i64| usize::try_from(x).unwrap_or(0);
    let mut counts = Counts {
        days: days
            .figures
            .iter()
            .map(|d| {
                let figures = DayFigures {
                    dau: n(d.dau),
                    wau: n(d.wau),
                    mau: n(d.mau),
                    messages: n(d.messages),
                };
                (date_of(d.day), figures)
            })
            .collect(),
        joins_by_day: days
            .figures
            .iter()
            .filter(|d| d.day < days.first_live)
            .map(|d| (date_of(d.day), n(d.joins)))
            .collect(),
        leaves: instants(db::activity::leaves(pool, guild_id, since, until).await?),
        ..Counts::default()
    };
    let live_since = since.max(start_of(date_of(days.first_live), tz));
    if live_since < until {
        counts.joins =
            instants(db::activity::join_instants(pool, guild_id, live_since, until).await?);
    }
    // Activation counts joins at least 7 days before the end of the range: as materialised for
    // join days whose 7 days are final (8 days later, see `rollup`), the rest counted now.
    let cutoff = to - Duration::days(7);
    if cutoff >= from {
        let final_until = date_of(days.first_live - 9).min(cutoff);
        let (mut joined, mut activated) = (0, 0);
        for d in days
            .figures
            .iter()
            .filter(|d| d.day <= day_number(final_until))
        {
            let (j, a) = d.activation.unwrap_or_default();
            joined += j;
            activated += a;
        }
        let counted_since = since.max(start_of(final_until + Duration::days(1), tz));
        let counted_until = start_of(cutoff + Duration::days(1), tz);
        if counted_since < counted_until {
            let (j, a) =
                db::activity::activation(pool, guild_id, counted_since, counted_until).await?;
            joined += j;
            activated += a;
        }
        counts.activation = (n(joined), n(activated));
    }
    if sections.retention {
        counts.observed_since = db::rollup::first_record_at(pool, guild_id)
            .await?
            .map(|at| instant(at).with_timezone(&tz).date_naive());
        // Whole cohorts: join days from the start of `from`'s period to the end of `to`'s.
        let (first, last) = analytics::cohort_days(from, to, period);
        let (finished, live) = db::rollup::cohorts(
            pool,
            guild_id,
            (day_number(first), day_number(last)),
            (start_of(first, tz), start_of(last + Duration::days(1), tz)),
            days.first_live,
        )
        .await?;
        counts.join_days = finished
            .into_iter()
            .map(|j| JoinDayCounts {
                day: date_of(j.day),
                size: n(j.size),
                retained_30: n(j.retained_30),
                retained_90: n(j.retained_90),
            })
            .chain(live.into_iter().map(|at| JoinDayCounts {
                day: instant(at).with_timezone(&tz).date_naive(),
                size: 1,
                retained_30: 0,
                retained_90: 0,
            }))
            .collect();
    }
    if sections.top_contributors {
        // Opted-out members stay in the totals but never appear on a leaderboard: read enough
        // members that the top 10 is complete without them.
        let optouts = db::activity::optouts_in(pool, guild_id).await?;
        let limit = 10 + optouts.len() as i64;
        let (first, last) = (day_number(from), day_number(to));
        let top = if db::rollup::spans_all_days(pool, guild_id, first, last).await? {
            db::rollup::top_activity_ever(pool, guild_id, limit).await?
        } else {
            db::rollup::top_activity(pool, guild_id, first, last, limit).await?
        };
        counts.activity_counts = top
            .into_iter()
            .filter(|(user, _)| !optouts.contains(user))
            .collect();
    }
    Ok(analytics::assemble(guild_id, tz, from, to, &counts, period))
}

fn share(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_owned(), |v| format!("{:.1}%", v * 100.0))
}

fn csv_share(x: Option<f64>) -> String {
    x.map_or_else(String::new, |v| format!("{v:.4}"))
}

/// The report as text tables for people.
pub fn render_table(r: &Report) -> String {
    let mut out = format!(
        "Guild {} · {} to {} · days in {}\n\n",
        r.guild_id, r.from, r.to, r.timezone
    );
    out.push_str("date         DAU    WAU    MAU  messages  joins  leaves\n");
    for d in &r.daily {
        out.push_str(&format!(
            "{}  {:>5}  {:>5}  {:>5}  {:>8}  {:>5}  {:>6}\n",
            d.date, d.dau, d.wau, d.mau, d.messages, d.joins, d.leaves
        ));
    }
    out.push_str("\ncohort     size     d30     d90\n");
    for c in &r.retention {
        out.push_str(&format!(
            "{:<9}  {:>4}  {:>6}  {:>6}\n",
            c.cohort,
            c.size,
            share(c.d30),
            share(c.d90)
        ));
    }
    out.push_str(&format!(
        "\nactivation: {} of {} joined members posted within 7 days ({})\n",
        r.activation.activated,
        r.activation.joined,
        share(r.activation.rate)
    ));
    out.push_str("\ntop contributors\n");
    for c in &r.top_contributors {
        out.push_str(&format!("{:>20}  {}\n", c.user_id, c.activity));
    }
    out
}

/// The report as CSV: one section per table, each with its own header row.
pub fn render_csv(r: &Report) -> String {
    let mut out = String::from("date,dau,wau,mau,messages,joins,leaves\n");
    for d in &r.daily {
        out.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            d.date, d.dau, d.wau, d.mau, d.messages, d.joins, d.leaves
        ));
    }
    out.push_str("\ncohort,size,d30,d90\n");
    for c in &r.retention {
        out.push_str(&format!(
            "{},{},{},{}\n",
            c.cohort,
            c.size,
            csv_share(c.d30),
            csv_share(c.d90)
        ));
    }
    out.push_str(&format!(
        "\nactivation_joined,activation_activated,activation_rate\n{},{},{}\n",
        r.activation.joined,
        r.activation.activated,
        csv_share(r.activation.rate)
    ));
    out.push_str("\nuser_id,activity\n");
    for c in &r.top_contributors {
        out.push_str(&format!("{},{}\n", c.user_id, c.activity));
    }
    out
}

/// Conversation health for `from..=to`; `managers` are excluded from member-initiated threads.
pub async fn conversations(
    pool: &Pool,
    guild_id: u64,
    tz: Tz,
    from: NaiveDate,
    to: NaiveDate,
    managers: &HashSet<u64>,
) -> anyhow::Result<analytics::Conversations> {
    let days = days_of(pool, guild_id, tz, from, to).await?;
    conversations_of(pool, &days, managers).await
}

async fn conversations_of(
    pool: &Pool,
    days: &Days,
    managers: &HashSet<u64>,
) -> anyhow::Result<analytics::Conversations> {
    let (guild_id, from, to) = (days.guild_id, days.from, days.to);
    let sum = |f: fn(&GuildDay) -> i64| {
        u64::try_from(days.figures.iter().map(f).sum::<i64>()).unwrap_or(0)
    };
    let (replies, messages, threads) =
        (sum(|d| d.replies), sum(|d| d.messages), sum(|d| d.threads));
    let managers: Vec<u64> = managers.iter().copied().collect();
    let by_managers =
        db::rollup::threads_by(pool, guild_id, &managers, day_number(from), day_number(to)).await?;
    let (since, until) = days.instants();
    let delays = db::activity::first_reply_delays(pool, guild_id, since, until).await?;
    Ok(analytics::conversations(
        replies,
        messages.saturating_sub(replies),
        threads,
        by_managers,
        &delays,
    ))
}

/// Members whose messages draw the most replies and reactions per message (at least
/// `min_messages` messages in the period), excluding opted-out members.
pub async fn quiet_experts(
    pool: &Pool,
    guild_id: u64,
    tz: Tz,
    from: NaiveDate,
    to: NaiveDate,
    min_messages: u64,
) -> anyhow::Result<Vec<analytics::QuietExpert>> {
    let (since, until) = (start_of(from, tz), start_of(to + Duration::days(1), tz));
    let optouts = db::activity::optouts_in(pool, guild_id).await?;
    let candidates = db::activity::response_counts(pool, guild_id, since, until)
        .await?
        .into_iter()
        .filter(|(u, _, _)| !optouts.contains(u))
        .map(|(user_id, messages, responses)| analytics::QuietExpert {
            user_id,
            messages,
            responses,
        })
        .collect();
    Ok(analytics::quiet_experts(candidates, min_messages, 10))
}

/// The last `days` days, today included, as local days of the guild: (time zone, first, last).
pub async fn last_days(
    pool: &Pool,
    config: &crate::config::Config,
    guild_id: u64,
    days: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<(Tz, NaiveDate, NaiveDate)> {
    let tz = crate::features::settings::timezone(pool, config, guild_id).await?;
    let to = now.with_timezone(&tz).date_naive();
    Ok((tz, to - Duration::days(days - 1), to))
}

/// What `/stats quiet-experts` answers.
pub fn quiet_experts_text(
    experts: &[analytics::QuietExpert],
    from: NaiveDate,
    to: NaiveDate,
) -> String {
    let lines: Vec<String> = experts
        .iter()
        .enumerate()
        .map(|(i, e)| {
            format!(
                "{}. <@{}>: {:.1} replies and reactions per message ({} messages)",
                i + 1,
                e.user_id,
                e.per_message(),
                e.messages
            )
        })
        .collect();
    let text = if lines.is_empty() {
        "Nobody qualifies yet: quiet experts need enough messages that draw replies or reactions."
            .to_owned()
    } else {
        lines.join("\n")
    };
    format!("**Quiet experts, {from} to {to}** (only managers see this)\n{text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_experts_are_numbered_with_their_rate() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let expert = analytics::QuietExpert {
            user_id: 4,
            messages: 6,
            responses: 9,
        };
        assert_eq!(
            quiet_experts_text(&[expert], d("2026-03-01"), d("2026-03-30")),
            "**Quiet experts, 2026-03-01 to 2026-03-30** (only managers see this)\n\
             1. <@4>: 1.5 replies and reactions per message (6 messages)"
        );
        assert!(quiet_experts_text(&[], d("2026-03-01"), d("2026-03-30"))
            .ends_with("\nNobody qualifies yet: quiet experts need enough messages that draw replies or reactions."));
    }
}
