//! The monthly "top 3 contributors" shout-out (product §5): on a chosen day and time each month,
//! the spotlight channel celebrates the three most active members of the month before.
//! Opted-out members are never named. Scheduled per guild with `/spotlight shoutout`.
//! Also the spotlights (product §5): ranked candidates, and a manager's spotlight post.

use std::collections::HashSet;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use serde_json::{json, Value};
use tracing::info;

use crate::config::Config;
use crate::db::{self, recognition::Shoutout, Pool};
use crate::domain::analytics::{CohortPeriod, Contributor};
use crate::domain::recognition::{suggest, Candidate};
use crate::domain::schedule::{Schedule, ScheduleError};
use crate::domain::settings::ChannelPurpose;
use crate::error::{OrUser, UserError};
use crate::features::activity::Tracker;
use crate::features::reports::month_bounds;
use crate::features::settings;
use crate::outbox::{action_json, enqueue_in, message_post, posts, Action, Outbox};

/// Job kind of the shout-out (one job per guild, target = guild id).
pub const JOB: &str = "shoutout";

/// How many members are celebrated.
pub const PLACES: usize = 3;

/// Checks a manager's day and time; days stop at 28 so that every month has the day.
pub fn parse(day: u8, time: &str) -> Result<Shoutout, String> {
    if !(1..=28).contains(&day) {
        return Err(format!(
            "day {day} is not in 1-28 (every month must have it); 1 celebrates the month that just ended on its first day"
        ));
    }
    let time = NaiveTime::parse_from_str(time.trim(), "%H:%M")
        .map_err(|_| ScheduleError::Time(time.to_owned()).to_string())?;
    Ok(Shoutout {
        day: i64::from(day),
        time_of_day: time.format("%H:%M").to_string(),
    })
}

/// When the shout-out recurs: a monthly cron in server time.
pub fn schedule(shoutout: &Shoutout) -> Option<Schedule> {
    let time = NaiveTime::parse_from_str(&shoutout.time_of_day, "%H:%M").ok()?;
    let expression = format!(
        "{} {} {} * *",
        time.format("%-M"),
        time.format("%-H"),
        shoutout.day
    );
    Schedule::cron(&expression).ok()
}

/// The month a run on `run_day` (server time) celebrates: the one before.
pub fn celebrated_month(run_day: NaiveDate) -> (NaiveDate, NaiveDate) {
    let (first, _) = month_bounds(run_day);
    month_bounds(first - Duration::days(1))
}

/// The post: a medal per place, the member's activity count, and pings for exactly those
/// members (never roles or @everyone). `None` when nobody was active.
pub fn post(month: NaiveDate, top: &[Contributor]) -> Option<Value> {
    const MEDALS: [&str; PLACES] = ["🥇", "🥈", "🥉"];
    let places: Vec<&Contributor> = top.iter().take(PLACES).collect();
    if places.is_empty() {
        return None;
    }
    let lines: Vec<String> = places
        .iter()
        .zip(MEDALS)
        .map(|(c, medal)| {
            format!(
                "{medal} <@{}> · {} contribution{}",
                c.user_id,
                c.activity,
                if c.activity == 1 { "" } else { "s" }
            )
        })
        .collect();
    let users: Vec<u64> = places
        .iter()
        .filter_map(|c| c.user_id.parse().ok())
        .collect();
    Some(json!({
        "content": format!("Thank you for making {} a great month here!", month.format("%B")),
        "embeds": [{
            "title": format!("Top contributors of {}", month.format("%B %Y")),
            "description": lines.join("\n"),
            "color": posts::COLOUR,
            "footer": { "text": "Messages, replies, reactions, threads and voice joins. Members who opted out of tracking are never listed." },
        }],
        "allowed_mentions": posts::allowed_mentions(&users),
    }))
}

/// Queues the shout-out for the month before `run_day` in the spotlight channel. Returns false
/// (and logs why) when there is no spotlight channel or nobody to celebrate.
pub async fn queue(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    run_day: NaiveDate,
) -> anyhow::Result<bool> {
    let settings = crate::features::settings::resolve(pool, config, guild_id).await?;
    let Some(channel) = settings.channel(ChannelPurpose::Spotlight) else {
        info!(
            guild.id = guild_id,
            "no spotlight channel; monthly shout-out not posted"
        );
        return Ok(false);
    };
    let (from, to) = celebrated_month(run_day);
    let report = crate::features::stats::report(
        pool,
        guild_id,
        settings.timezone,
        from,
        to,
        CohortPeriod::Month,
    )
    .await?;
    let Some(body) = post(from, &report.top_contributors) else {
        info!(
            guild.id = guild_id,
            month = %from.format("%Y-%m"),
            "nobody was active; monthly shout-out not posted"
        );
        return Ok(false);
    };
    // One shout-out per month, however often it is run or retried.
    let key = format!("shoutout:{guild_id}:{}", from.format("%Y-%m"));
    enqueue_in(pool, &message_post(guild_id, channel, JOB, key, body)).await?;
    Ok(true)
}

/// Schedules (or, with `None`, stops) a guild's monthly shout-out; returns the next run.
pub async fn schedule_shoutout(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    shoutout: Option<&db::recognition::Shoutout>,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<DateTime<Utc>>> {
    let tz = settings::timezone(pool, config, guild_id).await?;
    let next = shoutout
        .and_then(schedule)
        .and_then(|s| s.next_after(now, tz));
    let target = i64::try_from(guild_id).unwrap_or(i64::MAX);
    db::jobs::upsert(pool, guild_id, JOB, target, next.map(|t| t.timestamp())).await?;
    Ok(next)
}

/// A monthly shout-out as scheduled: when it recurs, its next run and where it goes.
#[derive(Clone, Debug, PartialEq)]
pub struct ShoutoutScheduled {
    pub shoutout: Shoutout,
    pub next: Option<DateTime<Utc>>,
    /// The spotlight channel; without one the runs are skipped.
    pub channel: Option<u64>,
}

impl ShoutoutScheduled {
    /// What `/spotlight shoutout` answers.
    pub fn text(&self) -> String {
        let mut reply = match self.next {
            Some(next) => format!(
                "The top {PLACES} contributors of each month will be celebrated on day {} at {} \
                 server time; next: <t:{}:F>.",
                self.shoutout.day,
                self.shoutout.time_of_day,
                next.timestamp()
            ),
            None => "The shout-out is saved but has no next run.".to_owned(),
        };
        match self.channel {
            Some(channel) => reply.push_str(&format!(" It goes to <#{channel}>.")),
            None => reply.push_str(
                " There is no spotlight channel yet: `/config channel purpose:spotlight` sets \
                 one, or the shout-out is skipped.",
            ),
        }
        reply
    }
}

/// Saves and schedules a guild's monthly shout-out on `day` at `time` (server time); a
/// [`UserError`] says what is wrong with them.
pub async fn start_shoutout(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    day: u8,
    time: &str,
    author: u64,
    now: DateTime<Utc>,
) -> anyhow::Result<ShoutoutScheduled> {
    let shoutout = parse(day, time).map_err(UserError)?;
    db::recognition::set_shoutout(pool, guild_id, &shoutout, author, now.timestamp()).await?;
    let next = schedule_shoutout(pool, config, guild_id, Some(&shoutout), now).await?;
    let settings = settings::resolve(pool, config, guild_id).await?;
    Ok(ShoutoutScheduled {
        shoutout,
        next,
        channel: settings.channel(ChannelPurpose::Spotlight),
    })
}

/// Stops a guild's monthly shout-out; returns whether there was one.
pub async fn stop_shoutout(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let had = db::recognition::remove_shoutout(pool, guild_id).await?;
    schedule_shoutout(pool, config, guild_id, None, now).await?;
    Ok(had)
}

/// Queues last month's shout-out now (as of `now` in server time) and wakes the outbox;
/// false when it was not posted (see [`queue`]).
pub async fn post_last_month(
    pool: &Pool,
    config: &Config,
    outbox: &Outbox,
    guild_id: u64,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let tz = settings::timezone(pool, config, guild_id).await?;
    let queued = queue(pool, config, guild_id, now.with_timezone(&tz).date_naive()).await?;
    outbox.wake();
    Ok(queued)
}

/// Spotlight candidates (`/spotlight suggest`): the last 30 days' top contributors and quiet
/// experts, and nominations, leaving out opted-out members, the bot, and members spotlighted
/// in the last `weeks` weeks.
pub async fn candidates(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    bot_id: u64,
    weeks: u32,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Candidate>> {
    let tz = settings::timezone(pool, config, guild_id).await?;
    let to = now.with_timezone(&tz).date_naive();
    let from = to - Duration::days(29);
    let report =
        crate::features::stats::report(pool, guild_id, tz, from, to, CohortPeriod::Month).await?;
    let top: Vec<(u64, u64)> = report
        .top_contributors
        .iter()
        .filter_map(|c| Some((c.user_id.parse().ok()?, c.activity)))
        .collect();
    let experts: Vec<(u64, f64)> =
        crate::features::stats::quiet_experts(pool, guild_id, tz, from, to, 5)
            .await?
            .iter()
            .map(|e| (e.user_id, e.per_message()))
            .collect();
    let nominations =
        db::recognition::nominations_since(pool, guild_id, now.timestamp() - 30 * 86_400).await?;
    let since = now.timestamp() - i64::from(weeks) * 7 * 86_400;
    let mut exclude: HashSet<u64> = db::recognition::spotlights(pool, guild_id, since)
        .await?
        .into_iter()
        .map(|(m, _, _)| m)
        .collect();
    exclude.extend(db::activity::optouts_in(pool, guild_id).await?);
    exclude.insert(bot_id);
    Ok(suggest(&top, &experts, &nominations, &exclude, 10))
}

/// What `/spotlight suggest` answers.
pub fn candidates_text(ranked: &[Candidate]) -> String {
    let text = if ranked.is_empty() {
        "No candidates yet: suggestions come from the last 30 days of activity and nominations."
            .to_owned()
    } else {
        ranked
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{}. <@{}>: {}", i + 1, c.user_id, c.reasons.join("; ")))
            .collect::<Vec<_>>()
            .join("\n")
    };
    format!(
        "**Spotlight candidates** (opted-out and recently spotlighted members left out)\n{text}"
    )
}

/// A manager's spotlight of a member (`/spotlight post`).
#[derive(Clone, Debug)]
pub struct Spotlight {
    pub guild_id: u64,
    pub user_id: u64,
    pub name: String,
    pub avatar_url: String,
    /// When the member joined (unix seconds), if known.
    pub joined_at: Option<i64>,
    pub story: String,
    pub posted_by: u64,
    /// The command's interaction id: one post per request, however often it is retried.
    pub request_id: u64,
}

/// Queues a spotlight in the spotlight channel and records it; returns the channel. Refused
/// (a [`UserError`]) without a spotlight channel or for an opted-out member.
pub async fn post_spotlight(
    pool: &Pool,
    config: &Config,
    outbox: &Outbox,
    tracker: &Tracker,
    spotlight: &Spotlight,
    now: DateTime<Utc>,
) -> anyhow::Result<u64> {
    let (guild_id, user_id) = (spotlight.guild_id, spotlight.user_id);
    let channel = settings::resolve(pool, config, guild_id)
        .await?
        .channel(ChannelPurpose::Spotlight)
        .or_user("There is no spotlight channel: `/config channel purpose:spotlight` sets one.")?;
    if tracker.is_opted_out(guild_id, user_id) {
        return Err(UserError(format!(
            "{} opted out of tracking and spotlights.",
            spotlight.name
        ))
        .into());
    }
    let thread = db::welcome::intro_thread(pool, guild_id, user_id).await?;
    let body = posts::spotlight_post(
        user_id,
        &spotlight.name,
        &spotlight.avatar_url,
        &spotlight.story,
        spotlight.joined_at,
        thread,
    );
    let key = format!("spotlight:{guild_id}:{user_id}:{}", spotlight.request_id);
    outbox
        .enqueue(db::outbox::NewPost {
            guild_id,
            channel_id: channel,
            kind: "spotlight".into(),
            dedup_key: key,
            body: action_json(&Action::Message { body, thread: None }),
            not_before_ms: None,
        })
        .await?;
    let (by, at) = (spotlight.posted_by, now.timestamp());
    db::recognition::record_spotlight(pool, guild_id, user_id, by, at).await?;
    Ok(channel)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contributor(id: u64, activity: u64) -> Contributor {
        Contributor {
            user_id: id.to_string(),
            activity,
        }
    }

    #[test]
    fn days_past_28_and_bad_times_are_refused_with_the_fix() {
        assert!(parse(29, "10:00").unwrap_err().contains("1-28"));
        assert!(parse(0, "10:00").is_err());
        assert!(parse(1, "25:00").unwrap_err().contains("HH:MM"));
        assert_eq!(
            parse(1, "9:05").unwrap(),
            Shoutout {
                day: 1,
                time_of_day: "09:05".into()
            }
        );
    }

    #[test]
    fn the_schedule_is_monthly_in_server_time() {
        let s = schedule(&parse(3, "18:30").unwrap()).unwrap();
        let tz: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
        let after = chrono::DateTime::parse_from_rfc3339("2026-03-04T00:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        // 3 April 18:30 in Berlin is summer time (UTC+2).
        assert_eq!(
            s.next_after(after, tz).unwrap().to_rfc3339(),
            "2026-04-03T16:30:00+00:00"
        );
    }

    #[test]
    fn a_run_celebrates_the_month_before_even_in_january() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(
            celebrated_month(d("2027-01-01")),
            (d("2026-12-01"), d("2026-12-31"))
        );
        assert_eq!(
            celebrated_month(d("2026-03-28")),
            (d("2026-02-01"), d("2026-02-28"))
        );
    }

    #[test]
    fn the_post_names_three_pings_only_them_and_is_skipped_when_empty() {
        let month = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        assert!(post(month, &[]).is_none());
        let top = [
            contributor(1, 30),
            contributor(2, 20),
            contributor(3, 1),
            contributor(4, 1),
        ];
        let body = post(month, &top).unwrap();
        let text = body["embeds"][0]["description"].as_str().unwrap();
        assert!(text.contains("🥇 <@1> · 30 contributions"), "{text}");
        assert!(text.contains("🥉 <@3> · 1 contribution"), "{text}");
        assert!(!text.contains("<@4>"));
        assert_eq!(
            body["embeds"][0]["title"],
            "Top contributors of November 2026"
        );
        assert_eq!(body["allowed_mentions"]["parse"], json!([]));
        assert_eq!(body["allowed_mentions"]["users"], json!(["1", "2", "3"]));
    }

    #[test]
    fn the_shout_out_reply_names_the_next_run_and_a_missing_channel() {
        let scheduled = ShoutoutScheduled {
            shoutout: parse(3, "18:30").unwrap(),
            next: DateTime::from_timestamp(1_775_233_800, 0),
            channel: None,
        };
        assert_eq!(
            scheduled.text(),
            "The top 3 contributors of each month will be celebrated on day 3 at 18:30 server \
             time; next: <t:1775233800:F>. There is no spotlight channel yet: `/config channel \
             purpose:spotlight` sets one, or the shout-out is skipped."
        );
        let with_channel = ShoutoutScheduled {
            next: None,
            channel: Some(9),
            ..scheduled
        };
        assert_eq!(
            with_channel.text(),
            "The shout-out is saved but has no next run. It goes to <#9>."
        );
    }

    #[test]
    fn candidates_are_numbered_with_their_reasons() {
        assert!(candidates_text(&[]).ends_with("\nNo candidates yet: suggestions come from the last 30 days of activity and nominations."));
        let ranked = [Candidate {
            user_id: 5,
            score: 10.0,
            reasons: vec!["top contributor".into(), "nominated".into()],
        }];
        assert_eq!(
            candidates_text(&ranked),
            "**Spotlight candidates** (opted-out and recently spotlighted members left out)\n1. <@5>: top contributor; nominated"
        );
    }
}
