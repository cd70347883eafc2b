//! Reads the store into the pure analytics of `domain::analytics`.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use crate::db::{self, Pool};
use crate::domain::analytics::{self, CohortPeriod, Inputs, Report};

fn instant(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

/// The first instant of a local day.
fn start_of(day: NaiveDate, tz: Tz) -> i64 {
    crate::domain::schedule::resolve(day.and_hms_opt(0, 0, 0).unwrap_or_default(), tz).timestamp()
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
    // MAU on `from` looks back 29 days; retention looks up to `to`.
    let since = start_of(from - Duration::days(29), tz);
    let range_start = start_of(from, tz);
    let until = start_of(to + Duration::days(1), tz);
    let activity = db::activity::active_slots(pool, guild_id, since, until).await?;
    let messages = db::activity::message_slots(pool, guild_id, range_start, until).await?;
    let inputs = Inputs {
        activity: activity.into_iter().map(|(u, t)| (u, instant(t))).collect(),
        messages: messages
            .into_iter()
            .flat_map(|(slot, n)| {
                std::iter::repeat_n(instant(slot), usize::try_from(n).unwrap_or(0))
            })
            .collect(),
        joins: db::activity::joins(pool, guild_id, until)
            .await?
            .into_iter()
            .map(|(u, t)| (u, instant(t)))
            .collect(),
        leaves: db::activity::leaves(pool, guild_id, range_start, until)
            .await?
            .into_iter()
            .map(instant)
            .collect(),
        first_messages: db::activity::first_messages(pool, guild_id)
            .await?
            .into_iter()
            .map(|(u, t)| (u, instant(t)))
            .collect(),
        activity_counts: db::activity::counts(pool, guild_id, range_start, until).await?,
    };
    // Opted-out members stay in the totals but never appear on a leaderboard.
    let mut inputs = inputs;
    for (g, user) in db::activity::optouts(pool).await? {
        if g == guild_id {
            inputs.activity_counts.remove(&user);
        }
    }
    Ok(analytics::report(guild_id, tz, from, to, &inputs, period))
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
    managers: &std::collections::HashSet<u64>,
) -> anyhow::Result<analytics::Conversations> {
    let (since, until) = (start_of(from, tz), start_of(to + Duration::days(1), tz));
    let (replies, top) = db::activity::reply_counts(pool, guild_id, since, until).await?;
    let starters = db::activity::thread_starters(pool, guild_id, since, until).await?;
    let delays = db::activity::first_reply_delays(pool, guild_id, since, until).await?;
    Ok(analytics::conversations(
        replies, top, &starters, managers, &delays,
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
    let optouts: std::collections::HashSet<u64> = db::activity::optouts(pool)
        .await?
        .into_iter()
        .filter(|(g, _)| *g == guild_id)
        .map(|(_, u)| u)
        .collect();
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
