//! Rebuilding materialised days from raw records in one pass (issue 21: a year of 20M records
//! took 190-600 s as a handful of statements per day; SQLite spent 1.5-3 µs per record on each
//! day's grouping alone). A rebuild reads a chunk of days' records once and folds them here into
//! what the per-day statements produced: member days with their previous active and connected
//! days, members' firsts and totals, connected member-days, pairs, and each day's DAU/WAU/MAU.
//! The same definitions as the incremental path (`db::rollup::rebuild_day`, `finish_day`,
//! `db::connectedness::fold_day`), which `tests/rollup.rs` and `tests/connectedness.rs` hold
//! against raw records.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::analytics::{RETAINED_30, RETAINED_90};
use super::connectedness::{self, Contact, ThreadPost, Touch, THREAD_WINDOW_SECS};

/// Record kinds as stored (`db::activity::Kind`).
const MESSAGE: i64 = 1;
const THREAD_CREATED: i64 = 2;

/// One stored activity record, as a rebuild reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredRecord {
    pub id: i64,
    pub user_id: u64,
    pub at: i64,
    pub kind: i64,
    pub channel_id: u64,
    pub target_id: u64,
    pub reply_to: Option<u64>,
    pub in_thread: bool,
}

impl StoredRecord {
    fn is_message(&self) -> bool {
        self.kind == MESSAGE
    }
}

/// A local day: its number and `[start, end)` in unix seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DayBounds {
    pub day: i64,
    pub start: i64,
    pub end: i64,
}

/// What a rebuild carries from one chunk to the next (loaded from the days kept before it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Carried {
    /// Each member's last finished active day (`members.last_done_day`).
    pub last_active: HashMap<u64, i64>,
    /// Each member's last connected day (`members.last_connected_day`).
    pub last_connected: HashMap<u64, i64>,
    /// How many members have each last finished active day: WAU and MAU are sums over it.
    last_active_days: BTreeMap<i64, i64>,
}

impl Carried {
    pub fn new(last_active: HashMap<u64, i64>, last_connected: HashMap<u64, i64>) -> Self {
        let mut last_active_days = BTreeMap::new();
        for day in last_active.values() {
            *last_active_days.entry(*day).or_insert(0) += 1;
        }
        Self {
            last_active,
            last_connected,
            last_active_days,
        }
    }

    /// A member was active on `day` (days come in order).
    fn active_on(&mut self, user_id: u64, day: i64) {
        if let Some(previous) = self.last_active.insert(user_id, day) {
            if let Some(n) = self.last_active_days.get_mut(&previous) {
                *n -= 1;
            }
        }
        *self.last_active_days.entry(day).or_insert(0) += 1;
    }

    /// Members whose last active day is `day - back` or later.
    fn active_since(&self, day: i64, back: i64) -> i64 {
        self.last_active_days
            .range(day - back..)
            .map(|(_, n)| n)
            .sum()
    }
}

/// A member's day as stored in `member_days`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemberDay {
    pub user_id: u64,
    pub day: i64,
    pub activity: i64,
    pub messages: i64,
    pub replies: i64,
    pub threads: i64,
    pub prev_day: Option<i64>,
    pub connected: bool,
    pub prev_connected: Option<i64>,
}

/// What a chunk adds to a member's row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemberChange {
    pub user_id: u64,
    pub first_active_at: i64,
    pub first_message_at: Option<i64>,
    pub activity: i64,
    /// The member's last active day of the chunk.
    pub last_done_day: i64,
    /// The member's last connected day of the chunk, if any.
    pub last_connected_day: Option<i64>,
}

/// What a rebuild adds to members' rows across its chunks. Each chunk writes only the firsts the
/// store does not have yet (joins, activation and retention of its days read them); totals and
/// last days are added once, at the end: writing them with every chunk moved most members'
/// rows in three indexes, a fifth of a year's rebuild.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberTotals {
    /// Each member's first activity and first message as the store has them.
    firsts: HashMap<u64, (Option<i64>, Option<i64>)>,
    totals: BTreeMap<u64, MemberChange>,
}

impl MemberTotals {
    /// Starts from the firsts the store has (member → first activity, first message).
    pub fn new(firsts: HashMap<u64, (Option<i64>, Option<i64>)>) -> Self {
        Self {
            firsts,
            totals: BTreeMap::new(),
        }
    }

    /// Adds a chunk's changes (chunks in day order); returns those whose first activity or
    /// first message is earlier than the store's, to write now.
    pub fn add(&mut self, changes: &[MemberChange]) -> Vec<MemberChange> {
        let earlier = |new: Option<i64>, known: Option<i64>| match (new, known) {
            (Some(new), Some(known)) => new < known,
            (new, known) => new.is_some() && known.is_none(),
        };
        let mut new_firsts = Vec::new();
        for change in changes {
            let known = self.firsts.entry(change.user_id).or_default();
            let active = Some(change.first_active_at);
            if earlier(active, known.0) || earlier(change.first_message_at, known.1) {
                if earlier(active, known.0) {
                    known.0 = active;
                }
                if earlier(change.first_message_at, known.1) {
                    known.1 = change.first_message_at;
                }
                new_firsts.push(*change);
            }
            self.totals
                .entry(change.user_id)
                .and_modify(|total| {
                    total.activity += change.activity;
                    total.last_done_day = total.last_done_day.max(change.last_done_day);
                    total.last_connected_day =
                        total.last_connected_day.max(change.last_connected_day);
                })
                .or_insert(*change);
        }
        new_firsts
    }

    /// Every member's activity and last days over the chunks added, by member.
    pub fn totals(&self) -> impl Iterator<Item = &MemberChange> {
        self.totals.values()
    }
}

/// One day's figures: final for a finished day, so far for a live one (`guild_days`). A
/// rebuild works out all but the joins and activation, which the store counts from members'
/// join times.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GuildDay {
    pub day: i64,
    pub dau: i64,
    pub wau: i64,
    pub mau: i64,
    pub messages: i64,
    /// Message replies and messages inside threads.
    pub replies: i64,
    /// Threads and forum posts started.
    pub threads: i64,
    /// Joins (events, or first activity where no join is known).
    pub joins: i64,
    /// Of the day's joins, (how many, how many posted a first message within 7 days): set once
    /// final, when the day 8 days later is finished.
    pub activation: Option<(i64, i64)>,
    /// Members active in the 6 and 29 days up to this one: the next day's WAU and MAU before
    /// its own activity.
    pub carry_wau: i64,
    pub carry_mau: i64,
}

/// A chunk of days folded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FoldedChunk {
    pub member_days: Vec<MemberDay>,
    pub members: Vec<MemberChange>,
    /// Member-days before the chunk that contacts connect (marked in the store, where the rows
    /// are; every one exists, as the touch is a record of that member on that day): day →
    /// members.
    pub earlier_connected: BTreeMap<i64, BTreeSet<u64>>,
    /// Pair → the earliest day a contact of this chunk connects it.
    pub pairs: HashMap<(u64, u64), i64>,
    /// The days' figures, joins and activation left to the store.
    pub figures: Vec<GuildDay>,
}

/// What a rebuild into tables without their indexes (PostgreSQL's bulk rebuild,
/// `db::rollup::BulkRebuild`) keeps in memory instead of looking it up in the store: the pairs
/// connected so far and how many first connected each day, the contacts' marks on member-days
/// of earlier chunks, made once the indexes are built again, and each member's active days,
/// from which members' join days and retention windows are settled once at the end
/// ([`Deferred::settle_cohorts`]). Only for a rebuild of a guild's every day (no member day or
/// pair kept from before).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Deferred {
    pairs: HashSet<(u64, u64)>,
    /// Day → pairs first connected on it. A contact near a chunk's end can connect a pair on
    /// the next chunk's first day (a thread neighbour up to an hour later).
    new_per_day: BTreeMap<i64, i64>,
    /// Day → members whose member-day a later chunk's contacts connect.
    pub earlier_connected: BTreeMap<i64, BTreeSet<u64>>,
    /// Each member's active days, in order (a year's 4.5M member days: ~20 MB).
    active_days: HashMap<u64, Vec<i32>>,
}

/// A member's cohort: the day of their cohort instant (first join, or first activity where no
/// join is known) once that day is finished, and whether they were active 30-59 and 90-119
/// days after it (`members.join_day`, `retained_30`, `retained_90`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cohort {
    pub join_day: Option<i64>,
    pub retained_30: bool,
    pub retained_90: bool,
}

/// A member's row as a bulk rebuild's end reads it: their first join and first activity, and
/// their cohort as the store has it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoredCohort {
    pub user_id: u64,
    pub first_joined_at: Option<i64>,
    pub first_active_at: Option<i64>,
    pub cohort: Cohort,
}

impl Deferred {
    /// Takes a chunk (chunks in day order): returns its pairs not met in an earlier chunk (so
    /// each with its first day), and keeps its marks on earlier member-days for later.
    pub fn add(&mut self, chunk: &FoldedChunk) -> BTreeMap<(u64, u64), i64> {
        let mut new = BTreeMap::new();
        for (pair, day) in &chunk.pairs {
            if self.pairs.insert(*pair) {
                new.insert(*pair, *day);
                *self.new_per_day.entry(*day).or_insert(0) += 1;
            }
        }
        for (day, users) in &chunk.earlier_connected {
            self.earlier_connected
                .entry(*day)
                .or_default()
                .extend(users.iter().copied());
        }
        for row in &chunk.member_days {
            self.active_days
                .entry(row.user_id)
                .or_default()
                .push(row.day as i32);
        }
        new
    }

    /// Members' cohorts once the days `days` (every day rebuilt, in order) are finished, as
    /// finishing them one at a time sets them (`db::rollup::set_join_day`, then
    /// `db::rollup::retention_windows` over the days): a member whose cohort instant falls in
    /// one of the days gets it as join day (their windows start over if it moved), and a
    /// member whose windows reach the days is retained if active on a day in them. Returns
    /// every member's cohort whose row is read (changed or not), by member.
    pub fn settle_cohorts(
        &self,
        stored: &[StoredCohort],
        days: &[DayBounds],
    ) -> HashMap<u64, Cohort> {
        let (Some(first), Some(last)) = (days.first(), days.last()) else {
            return stored.iter().map(|m| (m.user_id, m.cohort)).collect();
        };
        let day_holding = |at: i64| {
            let i = days.partition_point(|d| d.end <= at);
            days.get(i).filter(|d| d.start <= at).map(|d| d.day)
        };
        let no_days = Vec::new();
        stored
            .iter()
            .map(|member| {
                let mut cohort = member.cohort;
                let instant = member.first_joined_at.or(member.first_active_at);
                if let Some(day) = instant.and_then(day_holding) {
                    if cohort.join_day != Some(day) {
                        cohort = Cohort {
                            join_day: Some(day),
                            ..Cohort::default()
                        };
                    }
                }
                if let Some(join_day) = cohort.join_day {
                    let active = self.active_days.get(&member.user_id).unwrap_or(&no_days);
                    let flags = [&mut cohort.retained_30, &mut cohort.retained_90];
                    for ((start, end), flag) in [RETAINED_30, RETAINED_90].into_iter().zip(flags) {
                        if join_day >= first.day - end && join_day <= last.day - start {
                            let (from, to) = (join_day + start, (join_day + end).min(last.day));
                            *flag = active
                                .iter()
                                .any(|d| i64::from(*d) >= from && i64::from(*d) <= to);
                        }
                    }
                }
                (member.user_id, cohort)
            })
            .collect()
    }

    /// How many pairs first connected on `day`, of the chunks added so far.
    pub fn new_pairs_on(&self, day: i64) -> i64 {
        self.new_per_day.get(&day).copied().unwrap_or(0)
    }
}

/// Folds the days `days` (consecutive, in order) from `records` (the chunk's records and those
/// up to [`THREAD_WINDOW_SECS`] either side of it, sorted by time), as the per-day path would
/// build and finish them one after the other: a contact marks a member-day connected only if
/// that row exists by then (an earlier day, or the day itself). `messages` finds the message a
/// reply answers (target id → author and time); `day_of` maps an instant to its local day.
pub fn fold_chunk(
    days: &[DayBounds],
    records: &[StoredRecord],
    messages: &HashMap<u64, (u64, i64)>,
    carried: &mut Carried,
    day_of: impl Fn(i64) -> i64,
) -> FoldedChunk {
    let mut folded = FoldedChunk::default();
    let Some(first_day) = days.first().map(|d| d.day) else {
        return folded;
    };
    // Row index by (member, day) for this chunk's member days.
    let mut rows: HashMap<(u64, i64), usize> = HashMap::new();
    let mut members: BTreeMap<u64, MemberChange> = BTreeMap::new();
    let within = |since: i64, until: i64| {
        let from = records.partition_point(|r| r.at < since);
        let to = records.partition_point(|r| r.at < until);
        &records[from..to]
    };
    for bounds in days {
        let day = bounds.day;
        let todays = within(bounds.start, bounds.end);
        let first_row = folded.member_days.len();
        for r in todays {
            let index = *rows.entry((r.user_id, day)).or_insert_with(|| {
                folded.member_days.push(MemberDay {
                    user_id: r.user_id,
                    day,
                    prev_day: carried.last_active.get(&r.user_id).copied(),
                    ..MemberDay::default()
                });
                folded.member_days.len() - 1
            });
            let row = &mut folded.member_days[index];
            row.activity += 1;
            if r.is_message() {
                row.messages += 1;
                if r.reply_to.is_some() || r.in_thread {
                    row.replies += 1;
                }
            }
            if r.kind == THREAD_CREATED {
                row.threads += 1;
            }
            let member = members.entry(r.user_id).or_insert(MemberChange {
                user_id: r.user_id,
                first_active_at: r.at,
                first_message_at: None,
                activity: 0,
                last_done_day: day,
                last_connected_day: None,
            });
            member.first_active_at = member.first_active_at.min(r.at);
            if r.is_message() {
                member.first_message_at =
                    Some(member.first_message_at.map_or(r.at, |t| t.min(r.at)));
            }
            member.activity += 1;
            member.last_done_day = day;
        }

        // The day's contacts: its replies and the messages they answer, its thread messages
        // and their neighbours.
        let mut contacts: Vec<Contact> = todays
            .iter()
            .filter(|r| r.is_message())
            .filter_map(|r| {
                let (author, message_at) = *messages.get(&r.reply_to?)?;
                Contact::new(
                    Touch {
                        user_id: r.user_id,
                        at: r.at,
                    },
                    Touch {
                        user_id: author,
                        at: message_at,
                    },
                )
            })
            .collect();
        let posts: Vec<ThreadPost> = within(
            bounds.start - THREAD_WINDOW_SECS,
            bounds.end + THREAD_WINDOW_SECS,
        )
        .iter()
        .filter(|r| r.is_message() && r.in_thread)
        .map(|r| ThreadPost {
            id: r.id,
            thread: r.channel_id,
            user_id: r.user_id,
            at: r.at,
        })
        .collect();
        contacts.extend(connectedness::thread_contacts(&posts, |p| {
            p.at >= bounds.start && p.at < bounds.end
        }));
        let contacts_folded = connectedness::fold(&contacts, &day_of);
        for (user_id, touched) in contacts_folded.connected {
            if touched < first_day {
                folded
                    .earlier_connected
                    .entry(touched)
                    .or_default()
                    .insert(user_id);
            } else if touched <= day {
                if let Some(index) = rows.get(&(user_id, touched)) {
                    folded.member_days[*index].connected = true;
                }
            }
        }
        for (pair, at_day) in contacts_folded.pairs {
            folded
                .pairs
                .entry(pair)
                .and_modify(|d| *d = (*d).min(at_day))
                .or_insert(at_day);
        }

        // The day is finished: its active members' last day moves to it.
        let mut figures = GuildDay {
            day,
            ..GuildDay::default()
        };
        for row in &folded.member_days[first_row..] {
            carried.active_on(row.user_id, day);
            figures.dau += 1;
            figures.messages += row.messages;
            figures.replies += row.replies;
            figures.threads += row.threads;
        }
        figures.wau = carried.active_since(day, 6);
        figures.mau = carried.active_since(day, 29);
        figures.carry_wau = carried.active_since(day, 5);
        figures.carry_mau = carried.active_since(day, 28);
        folded.figures.push(figures);
    }

    // A contact's member-day before the chunk exists (the contact is one of its records, and
    // those days are built), so it is the member's latest connected day so far if later.
    for (day, users) in &folded.earlier_connected {
        for user in users {
            let last = carried.last_connected.entry(*user).or_insert(*day);
            *last = (*last).max(*day);
        }
    }
    // Each connected day's previous connected day, in day order per member.
    let mut connected: Vec<usize> = (0..folded.member_days.len())
        .filter(|i| folded.member_days[*i].connected)
        .collect();
    connected.sort_by_key(|i| (folded.member_days[*i].user_id, folded.member_days[*i].day));
    for i in connected {
        let row = &mut folded.member_days[i];
        row.prev_connected = carried.last_connected.insert(row.user_id, row.day);
        if let Some(member) = members.get_mut(&row.user_id) {
            member.last_connected_day = Some(row.day);
        }
    }
    folded.members = members.into_values().collect();
    folded
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    fn record(id: i64, user_id: u64, at: i64, kind: i64) -> StoredRecord {
        StoredRecord {
            id,
            user_id,
            at,
            kind,
            channel_id: 1,
            target_id: id as u64,
            reply_to: None,
            in_thread: false,
        }
    }

    fn days(first: i64, n: i64) -> Vec<DayBounds> {
        (first..first + n)
            .map(|day| DayBounds {
                day,
                start: day * DAY,
                end: (day + 1) * DAY,
            })
            .collect()
    }

    #[test]
    fn member_days_count_and_chain_each_members_previous_day() {
        let mut carried = Carried::new(HashMap::from([(1, 7)]), HashMap::new());
        let mut reply = record(3, 2, 10 * DAY + 60, MESSAGE);
        reply.reply_to = Some(1);
        let records = [
            record(1, 1, 10 * DAY + 5, MESSAGE),
            record(2, 1, 10 * DAY + 9, THREAD_CREATED),
            reply,
            record(4, 1, 12 * DAY, 3),
        ];
        let messages = HashMap::from([(1, (1, 10 * DAY + 5))]);
        let folded = fold_chunk(&days(10, 3), &records, &messages, &mut carried, |at| {
            at.div_euclid(DAY)
        });
        let row = |user, day| {
            *folded
                .member_days
                .iter()
                .find(|r| r.user_id == user && r.day == day)
                .unwrap()
        };
        assert_eq!(
            row(1, 10),
            MemberDay {
                user_id: 1,
                day: 10,
                activity: 2,
                messages: 1,
                replies: 0,
                threads: 1,
                prev_day: Some(7),
                connected: true,
                prev_connected: None,
            }
        );
        assert_eq!((row(2, 10).replies, row(2, 10).connected), (1, true));
        assert_eq!(
            (row(1, 12).prev_day, row(1, 12).connected),
            (Some(10), false)
        );
        assert_eq!(folded.pairs, HashMap::from([((1, 2), 10)]));
        // Day 7 (carried) is within the week of day 10 and 12 is not; two members on day 10.
        let figures: Vec<(i64, i64, i64)> = folded
            .figures
            .iter()
            .map(|f| (f.dau, f.wau, f.mau))
            .collect();
        assert_eq!(figures, vec![(2, 2, 2), (0, 2, 2), (1, 2, 2)]);
        let member = folded.members.iter().find(|m| m.user_id == 1).unwrap();
        assert_eq!(
            (
                member.activity,
                member.last_done_day,
                member.last_connected_day
            ),
            (3, 12, Some(10))
        );
        assert_eq!(carried.last_active.get(&1), Some(&12));
    }

    #[test]
    fn a_reply_to_an_earlier_chunk_marks_that_day_in_the_store_and_a_later_day_waits() {
        let mut carried = Carried::default();
        let mut reply = record(5, 2, 20 * DAY, MESSAGE);
        reply.reply_to = Some(1);
        let mut early = record(6, 3, 20 * DAY + 100, MESSAGE);
        // Answers a message of tomorrow (imported history can hold such links): tomorrow's row
        // does not exist yet when today is folded, and tomorrow folds its own replies only.
        early.reply_to = Some(9);
        let records = [reply, early, record(9, 4, 21 * DAY + 5, MESSAGE)];
        let messages = HashMap::from([(1, (1, 15 * DAY)), (9, (4, 21 * DAY + 5))]);
        let folded = fold_chunk(&days(20, 2), &records, &messages, &mut carried, |at| {
            at.div_euclid(DAY)
        });
        assert_eq!(
            folded.earlier_connected,
            BTreeMap::from([(15, BTreeSet::from([1]))])
        );
        let four = folded.member_days.iter().find(|r| r.user_id == 4).unwrap();
        assert!(!four.connected);
        assert_eq!(folded.pairs.get(&(3, 4)), Some(&21));
    }

    #[test]
    fn thread_neighbours_across_midnight_connect_each_member_on_their_own_day() {
        let mut carried = Carried::new(HashMap::new(), HashMap::from([(2, 3)]));
        let mut a = record(1, 1, 31 * DAY - 600, MESSAGE);
        let mut b = record(2, 2, 31 * DAY + 600, MESSAGE);
        a.in_thread = true;
        b.in_thread = true;
        let folded = fold_chunk(&days(30, 2), &[a, b], &HashMap::new(), &mut carried, |at| {
            at.div_euclid(DAY)
        });
        let connected: Vec<(u64, i64, Option<i64>)> = folded
            .member_days
            .iter()
            .filter(|r| r.connected)
            .map(|r| (r.user_id, r.day, r.prev_connected))
            .collect();
        assert_eq!(connected, vec![(1, 30, None), (2, 31, Some(3))]);
        assert_eq!(folded.pairs.get(&(1, 2)), Some(&31));
        assert_eq!(carried.last_connected.get(&2), Some(&31));
    }

    #[test]
    fn member_totals_add_up_chunks_and_hand_back_only_firsts_the_store_lacks() {
        let change =
            |user_id, first_active_at, first_message_at, activity, day, connected| MemberChange {
                user_id,
                first_active_at,
                first_message_at,
                activity,
                last_done_day: day,
                last_connected_day: connected,
            };
        // Member 1: known active and messaging before; member 2: known active only; 3: new.
        let mut totals = MemberTotals::new(HashMap::from([
            (1, (Some(10), Some(10))),
            (2, (Some(10), None)),
        ]));
        let first = totals.add(&[
            change(1, 100, Some(100), 2, 5, Some(5)),
            change(2, 100, None, 1, 5, None),
            change(3, 120, None, 1, 5, None),
        ]);
        assert_eq!(first.iter().map(|m| m.user_id).collect::<Vec<_>>(), vec![3]);
        let second = totals.add(&[
            change(1, 200, Some(200), 3, 9, None),
            change(2, 200, Some(210), 1, 8, Some(8)),
            change(3, 200, Some(220), 1, 9, None),
        ]);
        assert_eq!(
            second.iter().map(|m| m.user_id).collect::<Vec<_>>(),
            vec![2, 3]
        );
        // Handed back once: a later chunk's first message is not earlier.
        assert!(totals
            .add(&[change(3, 300, Some(300), 1, 12, None)])
            .is_empty());
        let summed: Vec<(u64, i64, i64, Option<i64>)> = totals
            .totals()
            .map(|m| (m.user_id, m.activity, m.last_done_day, m.last_connected_day))
            .collect();
        assert_eq!(
            summed,
            vec![(1, 5, 9, Some(5)), (2, 2, 8, Some(8)), (3, 3, 12, None)]
        );
    }
    #[test]
    fn deferred_pairs_are_new_once_with_their_first_day_and_marks_add_up() {
        let mut deferred = Deferred::default();
        // (1, 3) first connects on day 12, the next chunk's first day (a thread neighbour).
        let first = FoldedChunk {
            pairs: HashMap::from([((1, 2), 10), ((1, 3), 12), ((2, 3), 11)]),
            earlier_connected: BTreeMap::from([(5, BTreeSet::from([1]))]),
            ..FoldedChunk::default()
        };
        let new = deferred.add(&first);
        assert_eq!(
            new,
            BTreeMap::from([((1, 2), 10), ((1, 3), 12), ((2, 3), 11)])
        );
        let second = FoldedChunk {
            pairs: HashMap::from([((1, 2), 20), ((1, 3), 12), ((4, 5), 12)]),
            earlier_connected: BTreeMap::from([(5, BTreeSet::from([2])), (9, BTreeSet::from([4]))]),
            ..FoldedChunk::default()
        };
        let new = deferred.add(&second);
        assert_eq!(new, BTreeMap::from([((4, 5), 12)]));
        let per_day: Vec<i64> = (10..=13).map(|d| deferred.new_pairs_on(d)).collect();
        assert_eq!(per_day, [1, 1, 2, 0]);
        assert_eq!(
            deferred.earlier_connected,
            BTreeMap::from([(5, BTreeSet::from([1, 2])), (9, BTreeSet::from([4]))])
        );
    }

    #[test]
    fn cohorts_settle_as_finishing_each_day_would() {
        let mut deferred = Deferred::default();
        let active = |user_id, day| MemberDay {
            user_id,
            day,
            ..MemberDay::default()
        };
        // Days 100-250 rebuilt.
        deferred.add(&FoldedChunk {
            member_days: vec![active(1, 100), active(2, 140), active(3, 205)],
            ..FoldedChunk::default()
        });
        deferred.add(&FoldedChunk {
            member_days: vec![
                active(1, 135),
                active(2, 215),
                active(4, 230),
                active(3, 240),
            ],
            ..FoldedChunk::default()
        });
        let stored =
            |user_id, first_joined_at: Option<i64>, first_active_at: Option<i64>, cohort| {
                StoredCohort {
                    user_id,
                    first_joined_at,
                    first_active_at,
                    cohort,
                }
            };
        let cohort = |join_day, retained_30, retained_90| Cohort {
            join_day,
            retained_30,
            retained_90,
        };
        let members = [
            // First active on day 100, back on day 135: retained at 30, not at 90.
            stored(1, None, Some(100 * DAY + 7), Cohort::default()),
            // Joined on day 110 (first active earlier does not count): active 30 and 105 days
            // after it.
            stored(
                2,
                Some(110 * DAY + 5),
                Some(100 * DAY),
                cohort(Some(90), true, true),
            ),
            // Joined on day 30, before the days rebuilt: the join day stays, its 30-day window
            // (60-89) is not reached and its flag stays, its 90-day window (120-149) finds
            // nothing.
            stored(
                3,
                Some(30 * DAY),
                Some(205 * DAY),
                cohort(Some(30), true, true),
            ),
            // Joined on day 200, active 30 days later: window open, retained.
            stored(4, Some(200 * DAY + 1), Some(230 * DAY), Cohort::default()),
            // Joins after the last day: not settled (the day is not finished).
            stored(5, Some(251 * DAY), None, Cohort::default()),
            // A join long before, with no activity: its 90-day window (93-122) is looked at.
            stored(6, Some(3 * DAY), None, cohort(Some(3), true, true)),
            // Its join moved to day 240: the old windows' flags go, the new ones are not open.
            stored(7, Some(240 * DAY), None, cohort(Some(95), true, true)),
        ];
        let settled = deferred.settle_cohorts(&members, &days(100, 151));
        let of = |user| settled.get(&user).copied();
        assert_eq!(of(1), Some(cohort(Some(100), true, false)));
        assert_eq!(of(2), Some(cohort(Some(110), true, true)));
        assert_eq!(of(3), Some(cohort(Some(30), true, false)));
        assert_eq!(of(4), Some(cohort(Some(200), true, false)));
        assert_eq!(of(5), Some(Cohort::default()));
        assert_eq!(of(6), Some(cohort(Some(3), true, false)));
        assert_eq!(of(7), Some(cohort(Some(240), false, false)));
    }
}
