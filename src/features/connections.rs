//! Peer connections (product §11): members opt in; each round matches them into pairs (a trio
//! when the count is odd) by shared interests, newcomer-veteran pairs and time zones, never
//! repeating a recent pair or one a member declined; each group gets a private thread with an
//! introduction, then "did you meet?". Members who leave three rounds in a row unanswered are
//! paused and told how to come back. The matching itself is `domain::connections`.

use std::collections::HashMap;

use chrono::{DateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::{json, Value};

use crate::config::Config;
use crate::db::{self, connections::Match, Pool};
use crate::domain::connectedness::Connected;
use crate::domain::connections::{self as rules, Constraints, Member, Params};
use crate::domain::events as event_rules;
use crate::domain::schedule::local_date;
use crate::domain::settings::ChannelPurpose;
use crate::error::{OrUser, UserError};
use crate::features::settings;
use crate::outbox::{self, posts, Action};

/// Scheduler job kinds: the next round (target: the programme id) and a round's "did you
/// meet?" (target: the round id).
pub const ROUND_JOB: &str = "connect-round";
pub const FOLLOW_UP_JOB: &str = "connect-follow-up";

/// `hearth:connect:met:{match}:{yes|no|never}`: an answer to "did you meet?".
pub const MET: &str = "hearth:connect:met:";

/// Newcomers (for newcomer-veteran pairs) joined less than this long ago.
const NEWCOMER_SECS: i64 = 30 * 86_400;

/// A manager's `/connect setup`.
#[derive(Clone, Debug)]
pub struct Setup<'a> {
    pub guild_id: u64,
    pub channel: u64,
    pub every: &'a str,
    pub repeat_rounds: Option<u32>,
    pub follow_up: Option<&'a str>,
    pub by: u64,
}

/// Sets up (or changes) the programme, makes `channel` the server's connections channel and
/// schedules the next round; returns the answer.
pub async fn setup(
    pool: &Pool,
    config: &Config,
    new: &Setup<'_>,
    now: i64,
) -> anyhow::Result<String> {
    let every = crate::domain::surveys::normalise_every(new.every)
        .map_err(|e| UserError(format!("every: {e}")))?;
    let follow_up = new
        .follow_up
        .map(event_rules::parse_duration)
        .transpose()
        .map_err(|e| UserError(format!("follow_up: {e}")))?
        .unwrap_or(4 * 86_400);
    let repeat_rounds = i64::from(new.repeat_rounds.unwrap_or(6));
    db::guilds::set_channel(
        pool,
        new.guild_id,
        ChannelPurpose::Connections,
        new.channel,
        now,
    )
    .await?;
    let id = db::connections::set_program(
        pool,
        new.guild_id,
        &every,
        repeat_rounds,
        follow_up,
        new.by,
        now,
    )
    .await?;
    let next = schedule_next_round(pool, config, new.guild_id, id, &every, now).await?;
    let (active, _) = db::connections::counts(pool, new.guild_id).await?;
    Ok(format!(
        "Connections are set up in <#{}>: rounds `{every}`{}, no pair repeats within {repeat_rounds} round(s), \"did you meet?\" {} after each round. {active} member(s) have joined; members opt in with `/connect join`.",
        new.channel,
        next.map(|t| format!(" (next <t:{t}:F>)")).unwrap_or_default(),
        posts::human_duration(follow_up),
    ))
}

async fn schedule_next_round(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    program_id: i64,
    every: &str,
    now: i64,
) -> anyhow::Result<Option<i64>> {
    let tz = settings::timezone(pool, config, guild_id).await?;
    let schedule = crate::domain::schedule::Schedule::from_text(every)
        .map_err(|e| anyhow::anyhow!("connections of guild {guild_id}: {e}"))?;
    let next = DateTime::<Utc>::from_timestamp(now, 0)
        .and_then(|t| schedule.next_after(t, tz))
        .map(|t| t.timestamp());
    db::jobs::upsert(pool, guild_id, ROUND_JOB, program_id, next).await?;
    Ok(next)
}

/// A member's `/connect join`.
#[derive(Clone, Debug, Default)]
pub struct Join<'a> {
    pub interests: Option<&'a str>,
    pub timezone: Option<&'a str>,
    /// `every` or `every_other` round.
    pub every_other: bool,
    /// 2 (a pair) or 3 (a group of three); unchanged when not given.
    pub group_size: Option<u8>,
}

/// A member opts in (again, or with new settings).
pub async fn join(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    user: u64,
    wish: &Join<'_>,
    now: i64,
) -> anyhow::Result<String> {
    let interests = wish.interests.map(rules::parse_interests);
    if interests.as_ref().is_some_and(Vec::is_empty) {
        return Err(UserError(
            "interests: list a few, separated by commas (`rust, board games, hiking`).".into(),
        )
        .into());
    }
    let timezone = wish
        .timezone
        .map(|t| {
            t.trim().parse::<Tz>().map_err(|_| {
                UserError(format!(
                    "timezone: `{}` is not a time zone name; use one like `Europe/Berlin` or `America/New_York`.",
                    t.trim()
                ))
            })
        })
        .transpose()?;
    let frequency = if wish.every_other {
        "every_other"
    } else {
        "every"
    };
    let joined = interests.as_ref().map(|i| i.join(", "));
    db::connections::join(
        pool,
        guild_id,
        user,
        (
            joined.as_deref(),
            timezone.map(|t| t.name().to_owned()).as_deref(),
            frequency,
            wish.group_size.map(i64::from),
        ),
        now,
    )
    .await?;
    let me = db::connections::participant(pool, guild_id, user)
        .await?
        .or_user("You could not be added; try again.")?;
    let channel = match db::connections::program(pool, guild_id).await? {
        Some(_) => settings::resolve(pool, config, guild_id)
            .await?
            .channel(ChannelPurpose::Connections),
        None => None,
    };
    Ok(format!(
        "You're in! {} Interests: {}. You can pause or leave any time (`/connect pause`, `/connect leave`).",
        match channel {
            Some(channel) => format!(
                "I'll match you {} at the next round in <#{channel}>{}.",
                if me.group_size == 3 { "in a group of three" } else { "with one other member" },
                if wish.every_other { ", every other round" } else { "" }
            ),
            None => "Rounds start once the managers set them up.".to_owned(),
        },
        me.interests.as_deref().filter(|i| !i.is_empty()).unwrap_or("none yet (add some with `/connect join interests:`)")
    ))
}

/// `/connect pause` or `/connect leave`.
pub async fn stop(pool: &Pool, guild_id: u64, user: u64, leave: bool) -> anyhow::Result<String> {
    let status = if leave { "left" } else { "paused" };
    if !db::connections::set_status(pool, guild_id, user, status).await? {
        return Err(UserError("You have not joined connections (`/connect join`).".into()).into());
    }
    Ok(if leave {
        "You have left connections: you won't be matched again. `/connect join` brings you back."
    } else {
        "Paused: you won't be matched until you `/connect join` again."
    }
    .to_owned())
}

/// `/connect history`: the member's groups, latest first, and whether they met.
pub async fn history(pool: &Pool, guild_id: u64, user: u64) -> anyhow::Result<String> {
    let matches = db::connections::history(pool, Some(guild_id), user).await?;
    if matches.is_empty() {
        return Ok("No matches yet.".into());
    }
    let lines: Vec<String> = matches
        .iter()
        .take(20)
        .map(|m| {
            let others: Vec<String> = m
                .members
                .iter()
                .filter(|(u, _)| *u != user)
                .map(|(u, _)| format!("<@{u}>"))
                .collect();
            let met = match m
                .members
                .iter()
                .find(|(u, _)| *u == user)
                .and_then(|(_, met)| *met)
            {
                Some(1) => "met",
                Some(_) => "not yet",
                None => "no answer",
            };
            format!(
                "Round {} (<t:{}:d>): {}{} · {met}",
                m.round_number,
                m.ran_at,
                others.join(", "),
                m.thread_id
                    .map(|t| format!(" in <#{t}>"))
                    .unwrap_or_default()
            )
        })
        .collect();
    Ok(posts::truncate(&lines.join("\n"), posts::MESSAGE_LIMIT))
}

/// What a round did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoundOutcome {
    pub round: Option<i64>,
    pub groups: usize,
    pub members: usize,
    pub paused: Vec<u64>,
}

impl RoundOutcome {
    pub fn text(&self) -> String {
        match self.round {
            Some(number) => format!(
                "Round {number}: {} member(s) in {} group(s); each group has its private thread.{}",
                self.members,
                self.groups,
                paused_text(&self.paused)
            ),
            None => format!(
                "Not enough members to match this round (at least 2 need to have joined and not paused).{}",
                paused_text(&self.paused)
            ),
        }
    }
}

fn paused_text(paused: &[u64]) -> String {
    if paused.is_empty() {
        String::new()
    } else {
        format!(
            " {} member(s) paused after three rounds without an answer.",
            paused.len()
        )
    }
}

/// Runs a round now: the last round's silence is counted (three rounds in a row pause a member,
/// who is told in their last thread), then the active members are matched and each group's
/// thread and introduction queued, and the follow-up scheduled, in one transaction.
pub async fn run_round(
    pool: &Pool,
    config: &Config,
    outbox: &outbox::Outbox,
    guild_id: u64,
    now: i64,
) -> anyhow::Result<RoundOutcome> {
    let program = db::connections::program(pool, guild_id)
        .await?
        .or_user("Connections are not set up here yet: `/connect setup`.")?;
    let channel = settings::resolve(pool, config, guild_id)
        .await?
        .channel(ChannelPurpose::Connections)
        .or_user("There is no connections channel: `/config channel purpose:connections`.")?;
    let last = db::connections::last_round(pool, guild_id).await?;
    let paused = count_silence(pool, &program, last.map(|(id, _)| id)).await?;
    let last_number = last.map_or(0, |(_, n)| n);
    let participants: Vec<_> = db::connections::active_participants(pool, guild_id)
        .await?
        .into_iter()
        .filter(|p| !(p.frequency == "every_other" && p.last_round == Some(last_number)))
        .collect();
    if participants.len() < 2 {
        return Ok(RoundOutcome {
            round: None,
            groups: 0,
            members: participants.len(),
            paused,
        });
    }
    let newcomers = db::events::joined_since(pool, guild_id, now - NEWCOMER_SECS).await?;
    let mut interest_ids: HashMap<String, u32> = HashMap::new();
    let mut lists: HashMap<u64, Vec<String>> = HashMap::new();
    let mut offsets: HashMap<u64, Option<i32>> = HashMap::new();
    let members: Vec<Member> = participants
        .iter()
        .map(|p| {
            let list = rules::parse_interests(p.interests.as_deref().unwrap_or_default());
            let next = u32::try_from(interest_ids.len()).unwrap_or(u32::MAX);
            let interests = list
                .iter()
                .map(|i| *interest_ids.entry(i.clone()).or_insert(next))
                .collect();
            let offset = p
                .timezone
                .as_deref()
                .and_then(|t| utc_offset_minutes(t, now));
            lists.insert(p.user(), list);
            offsets.insert(p.user(), offset);
            Member {
                id: p.user(),
                interests,
                newcomer: newcomers.contains(&p.user()),
                utc_offset_minutes: offset,
                prefers_trio: p.group_size == 3,
            }
        })
        .collect();
    let mut constraints = Constraints::default();
    let since = last_number - program.repeat_rounds + 1;
    for recent in db::connections::matches_since_round(pool, guild_id, since).await? {
        for (i, (a, _)) in recent.members.iter().enumerate() {
            for (b, _) in &recent.members[i + 1..] {
                constraints.met(*a, *b);
            }
        }
    }
    for (a, b) in db::connections::declines(pool, guild_id).await? {
        constraints.declined(a, b);
    }
    let params = Params {
        seed: guild_id ^ u64::try_from(last_number + 1).unwrap_or(0),
        ..Params::default()
    };
    let round = rules::match_round(&members, &constraints, &params);
    let placed: usize = round.groups.iter().map(Vec::len).sum();

    let mut tx = pool.begin().await?;
    let (round_id, number) =
        db::connections::add_round(&mut *tx, guild_id, placed, round.repeats, now).await?;
    for group in &round.groups {
        let match_id = db::connections::add_match(&mut tx, round_id, guild_id, group, now).await?;
        let group_lists: Vec<Vec<String>> = group
            .iter()
            .map(|u| lists.get(u).cloned().unwrap_or_default())
            .collect();
        let group_offsets: Vec<Option<i32>> = group
            .iter()
            .map(|u| offsets.get(u).copied().flatten())
            .collect();
        let body = posts::connect_intro(
            group,
            &rules::shared_interests(&group_lists),
            &rules::suggested_times(&group_offsets, now, 2),
        );
        let post = db::outbox::NewPost {
            guild_id,
            channel_id: channel,
            kind: "connect-thread".into(),
            dedup_key: format!("connect:{match_id}:thread"),
            body: outbox::action_json(&Action::MatchThread {
                match_id,
                name: format!("Round {number} · connection #{match_id}"),
                members: group.clone(),
                body,
            }),
            not_before_ms: None,
        };
        outbox::enqueue_in(&mut *tx, &post).await?;
    }
    db::jobs::upsert(
        &mut *tx,
        guild_id,
        FOLLOW_UP_JOB,
        round_id,
        Some(now + program.follow_up_secs),
    )
    .await?;
    tx.commit().await?;
    outbox.wake();
    Ok(RoundOutcome {
        round: Some(number),
        groups: round.groups.len(),
        members: placed,
        paused,
    })
}

/// Minutes east of UTC of a time zone at `now`.
fn utc_offset_minutes(timezone: &str, now: i64) -> Option<i32> {
    let tz: Tz = timezone.parse().ok()?;
    let at = DateTime::<Utc>::from_timestamp(now, 0)?.naive_utc();
    Some(tz.offset_from_utc_datetime(&at).fix().local_minus_utc() / 60)
}

/// Counts the silence of the last round's members: an answer resets their count, none adds
/// one; a third in a row pauses them, with a note in that round's thread. Returns who was
/// paused.
async fn count_silence(
    pool: &Pool,
    program: &db::connections::Program,
    last_round: Option<i64>,
) -> anyhow::Result<Vec<u64>> {
    let Some(round_id) = last_round else {
        return Ok(Vec::new());
    };
    let guild_id = program.guild();
    let mut paused = Vec::new();
    for group in db::connections::round_matches(pool, round_id).await? {
        for (user, met) in &group.members {
            let Some(me) = db::connections::participant(pool, guild_id, *user).await? else {
                continue;
            };
            if me.status != "active" {
                continue;
            }
            let ignored = if met.is_some() { 0 } else { me.ignored + 1 };
            db::connections::set_ignored(pool, guild_id, *user, ignored).await?;
            if rules::pauses_after(ignored) {
                db::connections::set_status(pool, guild_id, *user, "paused").await?;
                paused.push(*user);
                if let Some(thread) = group.thread_id {
                    let post = outbox::message_post(
                        guild_id,
                        thread,
                        "connect-paused",
                        format!("connect:paused:{round_id}:{user}"),
                        posts::text_post(
                            &format!("<@{user}>: you haven't answered for three rounds, so I've paused your connections. `/connect join` resumes them whenever you like."),
                            &[*user],
                        ),
                    );
                    outbox::enqueue_in(pool, &post).await?;
                }
            }
        }
    }
    Ok(paused)
}

/// A round's follow-up is due: "did you meet?" in each group's thread. Returns whether
/// anything was queued.
pub async fn follow_up(pool: &Pool, round_id: i64) -> anyhow::Result<bool> {
    let mut queued = false;
    for group in db::connections::round_matches(pool, round_id).await? {
        // A thread that was never created (Discord refused it) has nobody to ask.
        let Some(thread) = group.thread_id else {
            continue;
        };
        let members: Vec<u64> = group.members.iter().map(|(u, _)| *u).collect();
        let post = outbox::message_post(
            group.guild_id,
            thread,
            "connect-follow-up",
            format!("connect:{}:follow-up", group.id),
            posts::connect_follow_up(&members, &format!("{MET}{}:", group.id)),
        );
        queued |= outbox::enqueue_in(pool, &post).await?.is_some();
    }
    Ok(queued)
}

/// A member's answer to "did you meet?": `yes`, `no` (not yet) or `never` (not yet, and never
/// pair us again).
pub async fn answer_met(
    pool: &Pool,
    guild_id: u64,
    match_id: i64,
    user: u64,
    choice: &str,
    now: i64,
) -> anyhow::Result<String> {
    let group = db::connections::match_by_id(pool, match_id)
        .await?
        .filter(|m| m.guild_id == guild_id && m.members.iter().any(|(u, _)| *u == user))
        .or_user("Only the members of this group can answer.")?;
    let met = choice == "yes";
    db::connections::answer(pool, group.id, user, met, now).await?;
    if choice == "never" {
        for (other, _) in group.members.iter().filter(|(u, _)| *u != user) {
            db::connections::decline(pool, guild_id, user, *other).await?;
        }
        return Ok("Noted: you won't be paired with them again. Nobody is told.".into());
    }
    Ok(if met {
        "Wonderful, thanks for telling me!".into()
    } else {
        "Thanks! There's still time; the thread stays open.".into()
    })
}

/// Matches made and met in `[from, to)`: `(groups, groups where someone said they met)`.
fn made_and_met(matches: &[Match]) -> (usize, usize) {
    let met = matches
        .iter()
        .filter(|m| m.members.iter().any(|(_, met)| *met == Some(1)))
        .count();
    (matches.len(), met)
}

/// The figures of `/connect stats` (and the dashboard's connections page) over the last
/// `days` days.
#[derive(Clone, Debug)]
pub struct ConnectStats {
    pub days: i64,
    /// Members taking part, and paused.
    pub active: i64,
    pub paused: i64,
    /// Matches made in rounds of the period, and how many met.
    pub made: usize,
    pub met: usize,
    /// Connected members of the period (product §11).
    pub connected: Connected,
    /// New pairs per ISO week (its Monday's day number), the last eight weeks.
    pub weeks: Vec<(i64, u64)>,
    /// Newcomers who met someone in their first 30 days, and those of the same join weeks who
    /// did not: 30- and 90-day retention.
    pub met_someone: event_rules::Retained,
    pub did_not: event_rules::Retained,
}

impl ConnectStats {
    /// Met ÷ made; `None` without matches.
    pub fn met_rate(&self) -> Option<f64> {
        #[allow(clippy::cast_precision_loss)]
        (self.made > 0).then(|| self.met as f64 / self.made as f64)
    }

    /// The text of `/connect stats`.
    pub fn text(&self) -> String {
        let pct =
            |r: Option<f64>| r.map_or_else(|| "n/a".to_owned(), |r| format!("{:.0}%", r * 100.0));
        let (met_someone, did_not, figures) = (&self.met_someone, &self.did_not, &self.connected);
        format!(
            "**Connections** · {} member(s) taking part, {} paused\nLast {} days: {} match(es), met {} ({}) · connected members {} ({} of {} active), {} new connection(s)\nNew connections per week: {}\nNewcomers who met someone in their first 30 days: 30-day retention {} (of {}), 90-day {} (of {}) · same join weeks, did not: {} (of {}), {} (of {})",
            self.active,
            self.paused,
            self.days,
            self.made,
            self.met,
            pct(self.met_rate()),
            pct(figures.rate()),
            figures.connected,
            figures.active,
            figures.new_pairs,
            crate::domain::connectedness::render_weeks(&self.weeks),
            pct(met_someone.rate_30()),
            met_someone.members_30,
            pct(met_someone.rate_90()),
            met_someone.members_90,
            pct(did_not.rate_30()),
            did_not.members_30,
            pct(did_not.rate_90()),
            did_not.members_90,
        )
    }
}

/// `/connect stats` (managers): members, rounds' matches and met rate over `days`, and the
/// retention of newcomers who met someone against those of the same join weeks who did not.
pub async fn stats(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    days: i64,
    now: i64,
) -> anyhow::Result<String> {
    Ok(stats_figures(pool, config, guild_id, days, now)
        .await?
        .text())
}

/// The figures of [`stats`].
pub async fn stats_figures(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    days: i64,
    now: i64,
) -> anyhow::Result<ConnectStats> {
    let (active, paused) = db::connections::counts(pool, guild_id).await?;
    let matches =
        db::connections::matches_between(pool, guild_id, now - days * 86_400, now + 1).await?;
    let (made, met) = made_and_met(&matches);
    let tz = settings::timezone(pool, config, guild_id).await?;
    let today = crate::domain::analytics::day_number(local_date(now, tz));
    let first_met: HashMap<u64, i64> = db::connections::first_met(pool, guild_id)
        .await?
        .into_iter()
        .map(|(u, at)| {
            (
                u,
                crate::domain::analytics::day_number(crate::domain::schedule::local_date(at, tz)),
            )
        })
        .collect();
    let newcomers: Vec<event_rules::Newcomer> = db::events::newcomers(pool, guild_id, today - 400)
        .await?
        .into_iter()
        .map(|(user, join_day, r30, r90)| event_rules::Newcomer {
            join_day,
            retained_30: r30,
            retained_90: r90,
            first_attended_day: first_met.get(&db::from_sql_id(user)).copied(),
        })
        .collect();
    let (met_someone, did_not) = event_rules::attendee_retention(&newcomers, today);
    let to = local_date(now, tz);
    let at = DateTime::<Utc>::from_timestamp(now, 0).unwrap_or_default();
    crate::features::rollup::refresh(pool, guild_id, tz, at).await?;
    let connected = connected(
        pool,
        guild_id,
        (to - chrono::Duration::days(days - 1), to),
        None,
    )
    .await?;
    // The last eight weeks, whole, this one included.
    let today = crate::domain::analytics::day_number(to);
    let first_monday = crate::domain::connectedness::week_of(today) - 7 * 7;
    let weeks = db::connectedness::new_pairs_per_week(pool, guild_id, first_monday, today).await?;
    Ok(ConnectStats {
        days,
        active,
        paused,
        made,
        met,
        connected,
        weeks,
        met_someone,
        did_not,
    })
}

/// Connected members of the days `from..=to` (product §11): active members who exchanged a
/// reply with another or posted in the same thread within an hour, and pairs connected for the
/// first time. Reads the materialised days: call after the rollup's refresh (reports do).
///
/// `active`: the period's distinct active members when the caller counted them already (see
/// `Report::active_over_period`), which spares the longest count.
pub async fn connected(
    pool: &Pool,
    guild_id: u64,
    (from, to): (chrono::NaiveDate, chrono::NaiveDate),
    active: Option<usize>,
) -> anyhow::Result<Connected> {
    let day = crate::domain::analytics::day_number;
    let active = active.and_then(|a| u64::try_from(a).ok());
    Ok(
        db::connectedness::figures_knowing_active(pool, guild_id, (day(from), day(to)), active)
            .await?,
    )
}

/// `hearth report`'s `connections` object for the report's days: connected members, active
/// members, the rate, new pairs, and the matches made in rounds of those days and how many met.
pub async fn report_json(
    pool: &Pool,
    guild_id: u64,
    timezone: Tz,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> anyhow::Result<Value> {
    let (start, end) = crate::domain::schedule::days_span(from, to, timezone);
    let matches = db::connections::matches_between(pool, guild_id, start, end).await?;
    let (made, met) = made_and_met(&matches);
    let figures = connected(pool, guild_id, (from, to), None).await?;
    Ok(json!({
        "connected": figures.connected,
        "active": figures.active,
        "rate": figures.rate().map(|r| (r * 10_000.0).round() / 10_000.0),
        "new_pairs": figures.new_pairs,
        "matches": made,
        "met": met,
    }))
}

/// The monthly report's "Connections" field from `report_json`'s object: connected members,
/// new connections, and the rounds' matches once there were any (none without activity).
pub fn month_field(connections: &Value) -> Option<Value> {
    let active = connections["active"].as_u64().filter(|a| *a > 0)?;
    let connected = connections["connected"].as_u64().unwrap_or(0);
    #[allow(clippy::cast_precision_loss)]
    let share = connected as f64 / active as f64 * 100.0;
    let mut value = format!(
        "{share:.0}% connected ({connected} of {active} active) · {} new connection(s)",
        connections["new_pairs"].as_u64().unwrap_or(0)
    );
    if let Some(matches) = connections["matches"].as_u64().filter(|m| *m > 0) {
        let met = connections["met"].as_u64().unwrap_or(0);
        value.push_str(&format!(" · {matches} match(es), met {met}"));
    }
    Some(json!({ "name": "Connections", "value": value, "inline": false }))
}

/// A programme's round is due: it runs, and the next one is scheduled. Returns whether groups
/// were made and when the next round is due.
pub async fn scheduled_round(
    pool: &Pool,
    config: &Config,
    outbox: &outbox::Outbox,
    program_id: i64,
    now: i64,
) -> anyhow::Result<(bool, Option<i64>)> {
    let Some(program) = db::connections::program_by_id(pool, program_id).await? else {
        return Ok((false, None));
    };
    let outcome = run_round(pool, config, outbox, program.guild(), now).await;
    // The next round is scheduled even when this one failed: one bad round never ends them.
    let next = schedule_next_round(
        pool,
        config,
        program.guild(),
        program.id,
        &program.every,
        now,
    )
    .await?;
    let outcome = outcome?;
    tracing::info!(guild.id = program.guild(), round = ?outcome.round, groups = outcome.groups, members = outcome.members, "connections round");
    Ok((outcome.groups > 0, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_stats_read_as_before_and_the_met_rate_needs_matches() {
        let mut stats = ConnectStats {
            days: 90,
            active: 2,
            paused: 1,
            made: 4,
            met: 1,
            connected: Connected {
                connected: 2,
                active: 4,
                new_pairs: 1,
            },
            weeks: Vec::new(),
            met_someone: event_rules::Retained::default(),
            did_not: event_rules::Retained::default(),
        };
        assert_eq!(stats.met_rate(), Some(0.25));
        let text = stats.text();
        assert!(
            text.starts_with("**Connections** · 2 member(s) taking part, 1 paused\nLast 90 days: 4 match(es), met 1 (25%) · connected members 50% (2 of 4 active), 1 new connection(s)\nNew connections per week: none yet"),
            "{text}"
        );
        stats.made = 0;
        assert_eq!(stats.met_rate(), None);
    }
}
