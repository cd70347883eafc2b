//! Reads the store into the pure analytics of `domain::analytics`.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use std::collections::{HashMap, HashSet};

use crate::db::{self, Pool};
use crate::domain::analytics::{
    self, date_of, day_number, CohortPeriod, DayFigures, Inputs, Report,
};
use crate::rollup::{self, start_of};

fn instant(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

/// The report for `from..=to` (local days in `tz`). Finished days are read materialised (see
/// `rollup`); the days after them (today) from the raw records.
pub async fn report(
    pool: &Pool,
    guild_id: u64,
    tz: Tz,
    from: NaiveDate,
    to: NaiveDate,
    period: CohortPeriod,
) -> anyhow::Result<Report> {
    let first_live = rollup::refresh(pool, guild_id, tz, Utc::now()).await?;
    let last_done = day_number(first_live) - 1;
    let (range_start, until) = (start_of(from, tz), start_of(to + Duration::days(1), tz));
    let live_start = start_of(first_live, tz).max(range_start);
    let mut inputs = Inputs::default();

    for day in db::rollup::guild_days(pool, guild_id, day_number(from), day_number(to)).await? {
        let n = |x: i64| usize::try_from(x).unwrap_or(0);
        inputs.finished.insert(
            date_of(day.day),
            DayFigures {
                dau: n(day.dau),
                wau: n(day.wau),
                mau: n(day.mau),
                messages: n(day.messages),
            },
        );
    }
    // Retention windows of the period's cohorts, on materialised days.
    inputs.active_days.extend(
        db::rollup::cohort_active_days(
            pool,
            guild_id,
            day_number(from) + 30,
            day_number(to).min(last_done),
            range_start,
            until,
        )
        .await?
        .into_iter()
        .map(|(u, d)| (u, date_of(d))),
    );
    let mut top = HashMap::new();
    if first_live <= to {
        // Days not materialised: raw records, with the materialised WAU/MAU lookback (each
        // member's last active day is enough: every live day comes after it).
        let lookback = day_number(first_live.max(from)) - 29;
        inputs.active_days.extend(
            db::rollup::last_active_days(pool, guild_id, lookback, last_done)
                .await?
                .into_iter()
                .map(|(u, d)| (u, date_of(d))),
        );
        let slots_from = start_of(first_live, tz).min(live_start);
        inputs.activity = db::activity::active_slots(pool, guild_id, slots_from, until)
            .await?
            .into_iter()
            .map(|(u, t)| (u, instant(t)))
            .collect();
        inputs.messages = db::activity::message_slots(pool, guild_id, live_start, until)
            .await?
            .into_iter()
            .flat_map(|(slot, n)| {
                std::iter::repeat_n(instant(slot), usize::try_from(n).unwrap_or(0))
            })
            .collect();
        top = db::activity::counts(pool, guild_id, live_start, until).await?;
    }

    // Top contributors: materialised totals plus live counts. The materialised top list is
    // long enough that opted-out members and live gains cannot push anyone above it.
    let optouts = db::activity::optouts_in(pool, guild_id).await?;
    let shown = 10;
    let last_counted = day_number(to).min(last_done);
    let mut finished = db::rollup::top_activity(
        pool,
        guild_id,
        day_number(from),
        last_counted,
        (shown + optouts.len()) as i64,
    )
    .await?;
    if !top.is_empty() {
        finished.extend(
            db::rollup::activity_of_recent(
                pool,
                guild_id,
                day_number(from),
                last_counted,
                live_start,
                until,
            )
            .await?,
        );
    }
    for (user, n) in finished {
        *top.entry(user).or_default() += n;
    }
    // Opted-out members stay in the totals but never appear on a leaderboard.
    top.retain(|user, _| !optouts.contains(user));
    inputs.activity_counts = top;

    // Joins: the join history of members who joined in the period (so first joins are right),
    // and first activity where no join is known (imported history), materialised or live.
    let known = db::activity::newcomers(pool, guild_id, range_start, until).await?;
    let live = db::activity::live_firsts(pool, guild_id, start_of(first_live, tz), until).await?;
    inputs.joins = known
        .joins
        .iter()
        .chain(&known.first_active)
        .map(|(u, t)| (*u, instant(*t)))
        .collect();
    let mut first_messages = known.first_messages;
    for first in live {
        if !first.established && first.first_active >= range_start {
            inputs
                .joins
                .push((first.user_id, instant(first.first_active)));
        }
        if let Some(at) = first.first_message {
            first_messages
                .entry(first.user_id)
                .and_modify(|t| *t = (*t).min(at))
                .or_insert(at);
        }
    }
    inputs.first_messages = first_messages
        .into_iter()
        .map(|(u, t)| (u, instant(t)))
        .collect();
    inputs.leaves = db::activity::leaves(pool, guild_id, range_start, until)
        .await?
        .into_iter()
        .map(instant)
        .collect();
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
    managers: &HashSet<u64>,
) -> anyhow::Result<analytics::Conversations> {
    let (since, until) = (start_of(from, tz), start_of(to + Duration::days(1), tz));
    let first_live = rollup::refresh(pool, guild_id, tz, Utc::now()).await?;
    let (mut replies, mut top, per_member) = db::rollup::conversation_counts(
        pool,
        guild_id,
        day_number(from),
        day_number(to).min(day_number(first_live) - 1),
    )
    .await?;
    let mut starters: Vec<u64> = per_member
        .into_iter()
        .flat_map(|(user, n)| std::iter::repeat_n(user, usize::try_from(n).unwrap_or(0)))
        .collect();
    let live_since = since.max(start_of(first_live, tz));
    if live_since < until {
        let (live_replies, live_top) =
            db::activity::reply_counts(pool, guild_id, live_since, until).await?;
        replies += live_replies;
        top += live_top;
        starters.extend(db::activity::thread_starters(pool, guild_id, live_since, until).await?);
    }
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
