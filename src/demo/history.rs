//! The demo community's past: a generated, deterministic history of the 90 days before today
//! (members joining, posting, replying, starting threads, reacting, leaving), written into the
//! demo's database before the bot starts so `/stats` has something to show. Nothing real is
//! shipped: every member, name and id comes from a fixed-seed generator, and like everything
//! Hearth stores, the records are ids, times and channels, never content.

use std::collections::HashSet;

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use chrono_tz::Tz;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::db::activity::{Kind, Record};
use crate::db::welcome::{Join, Membership};
use crate::db::{self};
use crate::features::rollup::start_of;

/// The same community every run (relative to today).
const SEED: u64 = 0x4845_4152_5448; // "HEARTH"
/// Members there from the first days (the server's founders): mostly the core.
const FOUNDERS: usize = 24;
const DISCORD_EPOCH_MS: i64 = 1_420_070_400_000;

/// How a member takes part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Persona {
    /// Posts most days, answers newcomers, starts threads.
    Core,
    /// Posts a few times a week, less as months pass.
    Regular,
    /// Posts now and then.
    Occasional,
    /// Posts once (an introduction, a question) and is not heard from again.
    OneTimer,
    /// Never posts; reacts now and then.
    Lurker,
}

/// How a member who keeps posting posts.
#[derive(Clone, Copy, Debug)]
struct Posting {
    /// Chance to post on a weekday.
    chance: f64,
    /// Messages on a day they post.
    messages: (u32, u32),
    /// Days until their interest halves, and the share of it that remains.
    half_life: f64,
    floor: f64,
    /// Chance a message replies to another, and that it starts a thread.
    reply: f64,
    thread: f64,
}

impl Persona {
    fn posting(self) -> Option<Posting> {
        let (chance, messages, half_life, floor, reply, thread) = match self {
            Persona::Core => (0.7, (2, 8), f64::INFINITY, 1.0, 0.4, 0.03),
            Persona::Regular => (0.32, (1, 4), 70.0, 0.4, 0.4, 0.03),
            Persona::Occasional => (0.07, (1, 2), 30.0, 0.25, 0.3, 0.01),
            Persona::OneTimer | Persona::Lurker => return None,
        };
        Some(Posting {
            chance,
            messages,
            half_life,
            floor,
            reply,
            thread,
        })
    }

    /// (chance to react on a weekday, reactions when reacting, half-life in days)
    fn reacting(self) -> (f64, (u32, u32), f64) {
        match self {
            Persona::Core => (0.6, (1, 6), f64::INFINITY),
            Persona::Regular => (0.3, (1, 3), 70.0),
            Persona::Occasional => (0.08, (1, 2), 30.0),
            Persona::OneTimer => (0.03, (1, 1), 10.0),
            Persona::Lurker => (0.06, (1, 2), 20.0),
        }
    }
}

/// Where the history happens.
#[derive(Clone, Copy, Debug)]
pub struct Channels {
    pub general: u64,
    pub intros: u64,
    pub projects: u64,
    pub help: u64,
}

/// One generated member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub user_id: u64,
    pub name: String,
    pub persona: Persona,
    pub joined_at: i64,
    /// Their first message, if it comes before now.
    pub first_message_at: Option<i64>,
    pub left_at: Option<i64>,
}

/// What is written to the store.
#[derive(Clone, Debug, Default)]
pub struct History {
    pub members: Vec<Member>,
    /// Joins and leaves, in time order.
    pub memberships: Vec<Membership>,
    /// Activity in time order.
    pub records: Vec<Record>,
    /// (guild, member, first message) for each member who posted.
    pub first_messages: Vec<(u64, u64, i64)>,
}

impl History {
    pub fn count(&self, kind: Kind) -> usize {
        self.records.iter().filter(|r| r.kind == kind).count()
    }

    pub fn replies(&self) -> usize {
        self.records
            .iter()
            .filter(|r| r.kind == Kind::Message && (r.reply_to.is_some() || r.in_thread))
            .count()
    }
}

/// A message others may answer or react to.
#[derive(Clone, Copy)]
struct Recent {
    id: u64,
    author: usize,
    channel: u64,
    at: i64,
}

/// Snowflakes whose time is the event's, so ids sort like Discord's.
struct Ids(u64);

impl Ids {
    fn at(&mut self, secs: i64) -> u64 {
        self.0 += 1;
        let ms = u64::try_from(secs * 1000 - DISCORD_EPOCH_MS).unwrap_or(0);
        (ms << 22) | (self.0 & 0x3F_FFFF)
    }
}

/// Weights of the local hours: quiet nights, a lunch bump, busy evenings.
const HOURS: [f64; 24] = [
    1.0, 0.6, 0.3, 0.2, 0.2, 0.4, 1.0, 2.0, 3.0, 3.0, 3.0, 3.5, 4.5, 4.0, 3.0, 3.0, 3.5, 4.5, 6.0,
    7.0, 7.0, 6.0, 4.0, 2.0,
];

/// How busy a weekday is: the community meets after work, less at weekends.
fn rhythm(day: NaiveDate) -> f64 {
    match day.weekday() {
        Weekday::Sat => 0.5,
        Weekday::Sun => 0.45,
        Weekday::Fri => 0.85,
        _ => 1.0,
    }
}

/// The generator's state, day by day.
struct World {
    rng: StdRng,
    ids: Ids,
    guild_id: u64,
    channels: Channels,
    members: Vec<Member>,
    /// How keen each member is (scales how often and how much they take part): a community's
    /// activity is uneven even among its regulars.
    zeal: Vec<f64>,
    /// The community team: founders who also open the week's threads.
    hosts: Vec<u64>,
    names: HashSet<String>,
    records: Vec<Record>,
    recent: Vec<Recent>,
    reacted: HashSet<(usize, u64)>,
    /// Nothing happens at or after this instant (a minute before now).
    end: i64,
}

/// The `days` days before today (in `tz`) and today up to a minute before `now`. `hosts` (the
/// community team, members already) are among the founders and open a thread each Monday and
/// Friday; they keep their names (`Member::name` is empty).
pub fn generate(
    guild_id: u64,
    channels: Channels,
    tz: Tz,
    now: i64,
    days: i64,
    hosts: &[u64],
) -> History {
    let today = chrono::DateTime::from_timestamp(now, 0)
        .unwrap_or_default()
        .with_timezone(&tz)
        .date_naive();
    let mut world = World {
        rng: StdRng::seed_from_u64(SEED),
        ids: Ids(0),
        guild_id,
        channels,
        members: Vec::new(),
        zeal: Vec::new(),
        hosts: hosts.to_vec(),
        names: HashSet::new(),
        records: Vec::new(),
        recent: Vec::new(),
        reacted: HashSet::new(),
        end: now - 60,
    };
    for i in 0..=days {
        let day = today - Duration::days(days - i);
        let start = start_of(day, tz);
        let end = start_of(day + Duration::days(1), tz).min(world.end);
        if start >= end {
            break;
        }
        world.joins(i, days, day, (start, end));
        world.activity(day, (start, end));
        if matches!(day.weekday(), Weekday::Mon | Weekday::Fri) {
            let at = start + 10 * 3600 + world.rng.gen_range(0..1800);
            world.weekly_thread(at);
        }
    }
    world.finish()
}

/// Writes the history through the store's functions, as the activity writer would have over
/// the months (`ingest::write`): one transaction, in a database the bot then opens.
pub async fn write(url: &str, history: &History) -> anyhow::Result<()> {
    let pool = db::open(url).await?;
    let mut tx = pool.begin().await?;
    db::welcome::apply(&mut tx, &history.memberships).await?;
    db::activity::insert(&mut tx, &history.records).await?;
    db::welcome::record_first_messages(&mut tx, &history.first_messages).await?;
    tx.commit().await?;
    // The bot takes the database for itself (one process per database).
    pool.close().await;
    Ok(())
}

impl World {
    /// A time in `[lo, hi)`, following the hours of the day that starts at `day_start`.
    fn time_in(&mut self, day_start: i64, lo: i64, hi: i64) -> i64 {
        for _ in 0..8 {
            let mut pick = self.rng.gen::<f64>() * HOURS.iter().sum::<f64>();
            let hour = HOURS
                .iter()
                .position(|w| {
                    pick -= w;
                    pick < 0.0
                })
                .unwrap_or(23) as i64;
            let t = day_start + hour * 3600 + self.rng.gen_range(0..3600);
            if (lo..hi).contains(&t) {
                return t;
            }
        }
        self.rng.gen_range(lo..hi)
    }

    fn poisson(&mut self, mean: f64) -> usize {
        let limit = (-mean).exp();
        let (mut n, mut p) = (0, self.rng.gen::<f64>());
        while p > limit {
            n += 1;
            p *= self.rng.gen::<f64>();
        }
        n
    }

    fn name(&mut self) -> String {
        const FIRST: [&str; 24] = [
            "copper", "mossy", "amber", "quiet", "tin", "lucky", "brisk", "cedar", "dusty",
            "ember", "fuzzy", "gentle", "hazel", "inky", "jolly", "maple", "nimble", "olive",
            "pixel", "rusty", "sunny", "tidy", "velvet", "woolly",
        ];
        const SECOND: [&str; 24] = [
            "wren", "kiln", "lathe", "loom", "anvil", "rivet", "otter", "fern", "solder", "spool",
            "chisel", "badger", "gear", "quill", "heron", "tinker", "bobbin", "moth", "plank",
            "sprocket", "lark", "vise", "finch", "awl",
        ];
        loop {
            let first = FIRST[self.rng.gen_range(0..FIRST.len())];
            let second = SECOND[self.rng.gen_range(0..SECOND.len())];
            let name = match self.rng.gen_range(0..4) {
                0 => format!("{first}_{second}"),
                1 => format!("{first}{second}{}", self.rng.gen_range(1..100)),
                2 => format!("{first}.{second}"),
                _ => format!("{first}{second}"),
            };
            if self.names.insert(name.clone()) {
                return name;
            }
        }
    }

    /// Who joins on day `i`: the founders on the first days, then a growing stream, and a
    /// burst of mostly passers-by when a newsletter mentions the server.
    fn joins(&mut self, i: i64, days: i64, day: NaiveDate, (start, end): (i64, i64)) {
        let count = if i < 3 {
            FOUNDERS / 3
        } else {
            let growth = 1.2 + 3.6 * i as f64 / days as f64;
            let burst = match days - i {
                38 => 20.0,
                37 => 7.0,
                _ => 0.0,
            };
            let mean = growth * (0.6 + 0.4 * rhythm(day)) + burst;
            self.poisson(mean)
        };
        let burst = matches!(days - i, 37 | 38);
        for n in 0..count {
            let host = (i == 0).then(|| self.hosts.get(n).copied()).flatten();
            let persona = if host.is_some() {
                Persona::Core
            } else if i < 3 {
                if self.rng.gen_bool(0.75) {
                    Persona::Core
                } else {
                    Persona::Regular
                }
            } else {
                let roll = self.rng.gen::<f64>();
                let shares = if burst {
                    [0.0, 0.05, 0.15, 0.4]
                } else {
                    [0.03, 0.2, 0.45, 0.73]
                };
                match shares.iter().position(|s| roll < *s) {
                    Some(0) => Persona::Core,
                    Some(1) => Persona::Regular,
                    Some(2) => Persona::Occasional,
                    Some(_) => Persona::OneTimer,
                    None => Persona::Lurker,
                }
            };
            let joined_at = self.time_in(start, start, end);
            // Most post within a day; some take days; some only after their first week (not
            // activated); lurkers never.
            let delay = match persona {
                Persona::Lurker => None,
                Persona::Core | Persona::Regular => Some(self.rng.gen_range(300..2 * 86_400)),
                _ => Some(match self.rng.gen::<f64>() {
                    r if r < 0.55 => self.rng.gen_range(120..12 * 3600),
                    r if r < 0.8 => self.rng.gen_range(12 * 3600..3 * 86_400),
                    r if r < 0.88 => self.rng.gen_range(3 * 86_400..6 * 86_400),
                    _ => self.rng.gen_range(8 * 86_400..25 * 86_400),
                }),
            };
            let left_at = match persona {
                Persona::OneTimer | Persona::Lurker | Persona::Occasional
                    if self.rng.gen_bool(0.12) =>
                {
                    Some(joined_at + self.rng.gen_range(86_400..40 * 86_400))
                }
                _ => None,
            };
            let left_at = left_at.filter(|t| *t < self.end);
            let first_message_at = delay
                .map(|d| joined_at + d)
                .filter(|t| *t < self.end && left_at.is_none_or(|l| *t < l));
            // An account made some years before: its id carries that time.
            let created = joined_at - self.rng.gen_range(30..8 * 365) * 86_400;
            let (user_id, name) = match host {
                Some(id) => (id, String::new()),
                None => (self.ids.at(created), self.name()),
            };
            self.zeal.push(self.rng.gen_range(-0.7_f64..0.5).exp());
            let member = Member {
                user_id,
                name,
                persona,
                joined_at,
                first_message_at,
                left_at,
            };
            self.members.push(member);
        }
    }

    /// A day's messages, replies, threads and reactions.
    fn activity(&mut self, day: NaiveDate, (start, end): (i64, i64)) {
        let rhythm = rhythm(day);
        let mut messages: Vec<(i64, usize, bool)> = Vec::new();
        let mut reactions: Vec<(i64, usize)> = Vec::new();
        for idx in 0..self.members.len() {
            let m = self.members[idx].clone();
            let zeal = self.zeal[idx];
            let lo = start.max(m.joined_at + 1);
            let hi = end.min(m.left_at.unwrap_or(i64::MAX));
            if lo >= hi {
                continue;
            }
            let age = (start - m.joined_at) as f64 / 86_400.0;
            let interest = |half_life: f64, floor: f64| {
                if half_life.is_infinite() || age <= 0.0 {
                    1.0
                } else {
                    floor + (1.0 - floor) * (-age / half_life).exp2()
                }
            };
            if let Some(first) = m.first_message_at.filter(|t| (lo..hi).contains(t)) {
                messages.push((first, idx, true));
            }
            if let (Some(first), Some(p)) = (m.first_message_at, m.persona.posting()) {
                let from = lo.max(first + 1);
                let chance = (p.chance * zeal).min(0.95) * interest(p.half_life, p.floor) * rhythm;
                if from < hi && self.rng.gen_bool(chance) {
                    let (few, many) = p.messages;
                    let many = ((f64::from(many) * zeal).round() as u32).max(few);
                    for _ in 0..self.rng.gen_range(few..=many) {
                        let at = self.time_in(start, from, hi);
                        messages.push((at, idx, false));
                    }
                }
            }
            let (chance, (few, many), half_life) = m.persona.reacting();
            if self
                .rng
                .gen_bool((chance * zeal * interest(half_life, 0.1) * rhythm).min(0.95))
            {
                for _ in 0..self.rng.gen_range(few..=many) {
                    let at = self.time_in(start, lo, hi);
                    reactions.push((at, idx));
                }
            }
        }
        messages.sort_unstable();
        for (at, author, first) in messages {
            self.message(at, author, first);
        }
        reactions.sort_unstable();
        for (at, member) in reactions {
            self.reaction(at, member);
        }
    }

    /// Adds a record; the caller sets its reply link or thread flag on the returned one.
    fn record(
        &mut self,
        author: usize,
        at: i64,
        kind: Kind,
        channel: u64,
        target: u64,
    ) -> &mut Record {
        let record = Record {
            guild_id: self.guild_id,
            user_id: self.members[author].user_id,
            at,
            kind,
            channel_id: channel,
            target_id: target,
            reply_to: None,
            in_thread: false,
        };
        self.records.push(record);
        self.records.last_mut().expect("just pushed")
    }

    /// A message; a reply to a recent one now and then, a thread now and then. A newcomer's
    /// first message is usually answered by one of the core.
    fn message(&mut self, at: i64, author: usize, first: bool) {
        let c = self.channels;
        let channel = if first {
            if self.rng.gen_bool(0.6) {
                c.intros
            } else {
                c.general
            }
        } else {
            [c.general, c.general, c.projects, c.help][self.rng.gen_range(0..4)]
        };
        let (reply_chance, thread_chance) = self.members[author]
            .persona
            .posting()
            .map_or((0.0, 0.0), |p| (p.reply, p.thread));
        let reply_to = if !first && self.rng.gen_bool(reply_chance) {
            let candidates: Vec<u64> = self
                .recent
                .iter()
                .rev()
                .filter(|r| r.channel == channel && r.author != author && r.at > at - 2 * 86_400)
                .take(20)
                .map(|r| r.id)
                .collect();
            (!candidates.is_empty()).then(|| candidates[self.rng.gen_range(0..candidates.len())])
        } else {
            None
        };
        let id = self.ids.at(at);
        self.record(author, at, Kind::Message, channel, id).reply_to = reply_to;
        self.recent.push(Recent {
            id,
            author,
            channel,
            at,
        });
        if self.recent.len() > 600 {
            self.recent.drain(..100);
        }
        if first {
            if self.rng.gen_bool(0.8) {
                // Minutes to hours, most within the hour.
                let delay = (self.rng.gen_range(4.0_f64..9.9)).exp() as i64;
                if let Some(by) = self.core_member(at + delay, author) {
                    let reply_at = at + delay;
                    if reply_at < self.end {
                        let rid = self.ids.at(reply_at);
                        self.record(by, reply_at, Kind::Message, channel, rid)
                            .reply_to = Some(id);
                    }
                }
            }
        } else if self.rng.gen_bool(thread_chance) {
            self.thread(at + 20, author, channel, 2..8);
        }
    }

    /// The community team's thread of the day ("What are you working on?", show-and-tell).
    fn weekly_thread(&mut self, at: i64) {
        let Some(&host) = self.hosts.first() else {
            return;
        };
        if let Some(author) = self.members.iter().position(|m| m.user_id == host) {
            self.thread(at, author, self.channels.general, 6..16);
        }
    }

    /// A thread started from a message, and the conversation in it.
    fn thread(&mut self, at: i64, author: usize, parent: u64, replies: std::ops::Range<u32>) {
        if at >= self.end {
            return;
        }
        let thread = self.ids.at(at);
        self.record(author, at, Kind::ThreadCreated, parent, thread);
        let mut t = at;
        for _ in 0..self.rng.gen_range(replies) {
            t += self.rng.gen_range(60..3 * 3600);
            if t >= self.end {
                break;
            }
            let Some(by) = self.core_member(t, usize::MAX) else {
                break;
            };
            let id = self.ids.at(t);
            self.record(by, t, Kind::Message, thread, id).in_thread = true;
        }
    }

    /// A core member who had posted before `at`, other than `not`.
    fn core_member(&mut self, at: i64, not: usize) -> Option<usize> {
        let core: Vec<usize> = (0..self.members.len())
            .filter(|&i| {
                let m = &self.members[i];
                i != not && m.persona == Persona::Core && m.first_message_at.is_some_and(|f| f < at)
            })
            .collect();
        (!core.is_empty()).then(|| core[self.rng.gen_range(0..core.len())])
    }

    /// A reaction to a recent message by someone else (once per message and member).
    fn reaction(&mut self, at: i64, member: usize) {
        let candidates: Vec<Recent> = self
            .recent
            .iter()
            .rev()
            .filter(|r| r.author != member && r.at < at && r.at > at - 2 * 86_400)
            .take(40)
            .copied()
            .collect();
        if candidates.is_empty() {
            return;
        }
        let target = candidates[self.rng.gen_range(0..candidates.len())];
        if self.reacted.insert((member, target.id)) {
            self.record(member, at, Kind::Reaction, target.channel, target.id);
        }
    }

    fn finish(mut self) -> History {
        self.records.sort_by_key(|r| (r.at, r.target_id));
        let mut memberships: Vec<(i64, Membership)> = Vec::new();
        for m in &self.members {
            memberships.push((
                m.joined_at,
                Membership::Joined(Join {
                    guild_id: self.guild_id,
                    user_id: m.user_id,
                    joined_at: m.joined_at,
                    pending: false,
                    // History: nothing is left to do for these joins.
                    welcomed: true,
                }),
            ));
            if let Some(at) = m.left_at {
                memberships.push((
                    at,
                    Membership::Left {
                        guild_id: self.guild_id,
                        user_id: m.user_id,
                        at,
                    },
                ));
            }
        }
        memberships.sort_by_key(|(at, _)| *at);
        // A member's first message is whatever they posted first (a thread reply by a founder
        // may come before the message drawn as their first).
        let mut firsts = std::collections::BTreeMap::new();
        for r in self.records.iter().filter(|r| r.kind == Kind::Message) {
            firsts.entry(r.user_id).or_insert(r.at);
        }
        for m in &mut self.members {
            m.first_message_at = firsts.get(&m.user_id).copied();
        }
        History {
            first_messages: firsts
                .into_iter()
                .map(|(user, at)| (self.guild_id, user, at))
                .collect(),
            members: self.members,
            memberships: memberships.into_iter().map(|(_, m)| m).collect(),
            records: self.records,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const CHANNELS: Channels = Channels {
        general: 1,
        intros: 2,
        projects: 3,
        help: 4,
    };
    // Wed 2026-12-02 20:00 UTC.
    const NOW: i64 = 1_796_241_600;
    const HOST: u64 = 42;

    fn history() -> History {
        generate(7, CHANNELS, chrono_tz::Europe::Berlin, NOW, 90, &[HOST])
    }

    #[test]
    fn the_same_history_every_run() {
        let (a, b) = (history(), history());
        assert_eq!(a.members, b.members);
        assert_eq!(a.records, b.records);
    }

    #[test]
    fn a_few_hundred_members_grow_over_ninety_days_and_nothing_is_in_the_future() {
        let h = history();
        assert!((200..500).contains(&h.members.len()), "{}", h.members.len());
        let first = NOW - 91 * 86_400;
        assert!(h.records.iter().all(|r| r.at >= first && r.at < NOW - 59));
        assert!(h
            .members
            .iter()
            .all(|m| m.joined_at >= first && m.joined_at < NOW));
        let joined_in = |from: i64, to: i64| {
            h.members
                .iter()
                .filter(|m| m.joined_at >= NOW - from * 86_400 && m.joined_at < NOW - to * 86_400)
                .count()
        };
        // Growth: the last month brings more newcomers than the month before it.
        assert!(joined_in(30, 0) > joined_in(60, 30), "{h:?}");
        let ids: HashSet<u64> = h.members.iter().map(|m| m.user_id).collect();
        assert_eq!(ids.len(), h.members.len());
        // The host is a founder under their own name, and opens the week's threads.
        let host = h.members.iter().find(|m| m.user_id == HOST).unwrap();
        assert_eq!((host.persona, host.name.as_str()), (Persona::Core, ""));
        let opened = h
            .records
            .iter()
            .filter(|r| r.user_id == HOST && r.kind == Kind::ThreadCreated)
            .count();
        assert!(opened >= 2 * 12, "{opened}");
    }

    #[test]
    fn weekdays_are_busier_than_weekends() {
        let h = history();
        let tz = chrono_tz::Europe::Berlin;
        let mut active: HashMap<NaiveDate, HashSet<u64>> = HashMap::new();
        for r in &h.records {
            let day = chrono::DateTime::from_timestamp(r.at, 0)
                .unwrap()
                .with_timezone(&tz)
                .date_naive();
            active.entry(day).or_default().insert(r.user_id);
        }
        let mean = |weekend: bool| {
            let days: Vec<usize> = active
                .iter()
                .filter(|(d, _)| matches!(d.weekday(), Weekday::Sat | Weekday::Sun) == weekend)
                .map(|(_, a)| a.len())
                .collect();
            days.iter().sum::<usize>() as f64 / days.len() as f64
        };
        assert!(
            mean(false) > 1.3 * mean(true),
            "{} {}",
            mean(false),
            mean(true)
        );
    }

    #[test]
    fn a_core_a_long_tail_replies_threads_and_newcomers_who_do_not_activate() {
        let h = history();
        let mut messages: HashMap<u64, usize> = HashMap::new();
        for r in h.records.iter().filter(|r| r.kind == Kind::Message) {
            *messages.entry(r.user_id).or_default() += 1;
        }
        let regulars = messages.values().filter(|n| **n >= 100).count();
        let once = messages.values().filter(|n| **n == 1).count();
        assert!((10..60).contains(&regulars), "{regulars}");
        assert!(once >= h.members.len() / 5, "{once}");
        assert!(h.replies() > h.count(Kind::Message) / 5);
        assert!(h.count(Kind::ThreadCreated) >= 20);
        assert!(h.count(Kind::Reaction) > 1000);
        let week_old: Vec<&Member> = h
            .members
            .iter()
            .filter(|m| m.joined_at < NOW - 8 * 86_400)
            .collect();
        let activated = week_old
            .iter()
            .filter(|m| {
                m.first_message_at
                    .is_some_and(|f| f >= m.joined_at && f <= m.joined_at + 7 * 86_400)
            })
            .count();
        assert!(activated > week_old.len() / 2 && activated < week_old.len() * 9 / 10);
        assert!(h
            .memberships
            .iter()
            .any(|m| matches!(m, Membership::Left { .. })));
        // One record per (kind, member, target), as the store's key wants.
        let keys: HashSet<(i64, u64, u64)> = h
            .records
            .iter()
            .map(|r| (r.kind as i64, r.user_id, r.target_id))
            .collect();
        assert_eq!(keys.len(), h.records.len());
    }
}
