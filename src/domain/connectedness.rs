//! Connected members (product §11, issue 18): who exchanged something with another member,
//! from reply links and thread co-activity only, never message content.
//!
//! A *contact* is two records by two different members that connect them:
//! - a reply and the message it answers (either direction: the replier and the author both
//!   count), or
//! - two messages in the same thread within [`THREAD_WINDOW_SECS`] of each other.
//!
//! Each member of a contact is connected on the local day of *their own* record (a member whose
//! message gets a reply days later is connected on the day of the message, a day they were
//! active), so every connected member-day is an active one and the rate never exceeds 1. A pair
//! of members connects at the later of the two records; a pair's first connection ever is what
//! *new connections* count, in its week.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

/// Two messages in one thread this close (inclusive) connect their authors.
pub const THREAD_WINDOW_SECS: i64 = 3_600;

/// One member's record in a contact: who, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Touch {
    pub user_id: u64,
    pub at: i64,
}

/// Two records of two different members that connect them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Contact {
    pub first: Touch,
    pub second: Touch,
}

impl Contact {
    /// `None` when both records are the same member's (a self-reply, a monologue in a thread).
    pub fn new(x: Touch, y: Touch) -> Option<Self> {
        (x.user_id != y.user_id).then_some(Self {
            first: x,
            second: y,
        })
    }

    /// The pair, smaller id first.
    pub fn pair(&self) -> (u64, u64) {
        pair(self.first.user_id, self.second.user_id)
    }

    /// When the two connected: the later record.
    pub fn at(&self) -> i64 {
        self.first.at.max(self.second.at)
    }
}

/// An unordered pair of members as stored: smaller id first.
pub fn pair(x: u64, y: u64) -> (u64, u64) {
    if x <= y {
        (x, y)
    } else {
        (y, x)
    }
}

/// A message inside a thread (`channel_id` is the thread).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThreadPost {
    pub id: i64,
    pub thread: u64,
    pub user_id: u64,
    pub at: i64,
}

/// Contacts by thread co-activity among `posts` (any order): two members' messages in the same
/// thread at most [`THREAD_WINDOW_SECS`] apart, each such pair of messages once, keeping only
/// those where `wanted` holds for at least one of the two (the records being folded; the
/// others are their neighbours, already folded).
pub fn thread_contacts(posts: &[ThreadPost], wanted: impl Fn(&ThreadPost) -> bool) -> Vec<Contact> {
    let mut sorted: Vec<&ThreadPost> = posts.iter().collect();
    sorted.sort_by_key(|p| (p.thread, p.at, p.id));
    sorted.dedup_by_key(|p| p.id);
    let mut contacts = Vec::new();
    for (i, &p) in sorted.iter().enumerate() {
        let p_wanted = wanted(p);
        for &q in &sorted[i + 1..] {
            if q.thread != p.thread || q.at - p.at > THREAD_WINDOW_SECS {
                break;
            }
            if !p_wanted && !wanted(q) {
                continue;
            }
            let touch = |post: &ThreadPost| Touch {
                user_id: post.user_id,
                at: post.at,
            };
            contacts.extend(Contact::new(touch(p), touch(q)));
        }
    }
    contacts
}

/// What contacts change in the store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Folded {
    /// (member, day): member-days to mark connected.
    pub connected: BTreeSet<(u64, i64)>,
    /// Pair → the earliest day the contacts connect it.
    pub pairs: BTreeMap<(u64, u64), i64>,
}

/// Folds contacts into connected member-days (each member on their own record's day) and pairs
/// (on the day of the contact, the earliest when a pair has several); `day_of` maps an instant
/// to its local day number.
pub fn fold(contacts: &[Contact], day_of: impl Fn(i64) -> i64) -> Folded {
    let mut folded = Folded::default();
    for c in contacts {
        for t in [c.first, c.second] {
            folded.connected.insert((t.user_id, day_of(t.at)));
        }
        let day = day_of(c.at());
        folded
            .pairs
            .entry(c.pair())
            .and_modify(|d| *d = (*d).min(day))
            .or_insert(day);
    }
    folded
}

/// Connected members of a period.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Connected {
    /// Active members who had a contact with another member in the period.
    pub connected: u64,
    /// Members with any activity in the period.
    pub active: u64,
    /// Pairs of members who connected for the first time ever in the period.
    pub new_pairs: u64,
}

impl Connected {
    /// Connected ÷ active, `None` without active members.
    pub fn rate(&self) -> Option<f64> {
        rate(self.connected, self.active)
    }
}

/// `connected ÷ active`, `None` when nobody was active.
pub fn rate(connected: u64, active: u64) -> Option<f64> {
    (active > 0).then(|| connected as f64 / active as f64)
}

/// The Monday starting the ISO week of a day number (days since 1970-01-01, a Thursday).
pub fn week_of(day: i64) -> i64 {
    day - (day + 3).rem_euclid(7)
}

/// New pairs per ISO week (its Monday's day number) over days `from..=to`, from counts per day;
/// every week touching the range is listed, with 0 when nobody connected for the first time.
pub fn per_week(by_day: &[(i64, u64)], from: i64, to: i64) -> Vec<(i64, u64)> {
    if from > to {
        return Vec::new();
    }
    let mut weeks: BTreeMap<i64, u64> = (week_of(from)..=week_of(to))
        .step_by(7)
        .map(|w| (w, 0))
        .collect();
    for &(day, n) in by_day {
        if (from..=to).contains(&day) {
            *weeks.entry(week_of(day)).or_default() += n;
        }
    }
    weeks.into_iter().collect()
}

/// New pairs per week for people, oldest first: `week of Nov 2: 12 · Nov 9: 15`.
pub fn render_weeks(weeks: &[(i64, u64)]) -> String {
    let parts: Vec<String> = weeks
        .iter()
        .map(|(monday, n)| {
            format!(
                "{}: {n}",
                crate::domain::analytics::date_of(*monday).format("%b %-d")
            )
        })
        .collect();
    if parts.is_empty() {
        "none yet".to_owned()
    } else {
        format!("week of {}", parts.join(" · "))
    }
}

/// How to count members distinct over days `from..=to` when each of their days knows the
/// previous one: directly, reading the period's days, when it is shorter than what lies after
/// it up to `last` (the latest day stored); otherwise everyone seen since `from` minus those
/// first seen after `to`, reading the days after the period.
pub fn count_directly(from: i64, to: i64, last: i64) -> bool {
    to - from < last - to
}

#[cfg(test)]
mod tests {
    #[test]
    fn weeks_read_as_their_mondays() {
        let monday = crate::domain::analytics::day_number(
            chrono::NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(),
        );
        assert_eq!(
            super::render_weeks(&[(monday, 12), (monday + 7, 0)]),
            "week of Nov 2: 12 · Nov 9: 0"
        );
        assert_eq!(super::render_weeks(&[]), "none yet");
    }

    use super::*;
    use chrono::NaiveDate;

    fn post(id: i64, thread: u64, user_id: u64, at: i64) -> ThreadPost {
        ThreadPost {
            id,
            thread,
            user_id,
            at,
        }
    }

    #[test]
    fn a_self_reply_is_no_contact_and_pairs_are_unordered() {
        let t = |user_id, at| Touch { user_id, at };
        assert_eq!(Contact::new(t(1, 10), t(1, 20)), None);
        let c = Contact::new(t(9, 50), t(2, 10)).unwrap();
        assert_eq!(c.pair(), (2, 9));
        assert_eq!(c.at(), 50);
        assert_eq!(pair(3, 3), (3, 3));
        assert_eq!(pair(4, 3), (3, 4));
    }

    #[test]
    fn thread_posts_an_hour_apart_connect_and_later_ones_do_not() {
        let posts = [
            post(1, 7, 1, 0),
            post(2, 7, 2, 1_800),             // 30 min after member 1
            post(3, 7, 3, 1_800 + 3_600),     // exactly an hour after member 2
            post(4, 7, 4, 1_800 + 3_600 * 3), // two hours after anyone
            post(5, 8, 5, 100),               // another thread
            post(6, 7, 1, 60),                // member 1 again: no contact with themself
        ];
        let mut pairs: Vec<(u64, u64)> = thread_contacts(&posts, |_| true)
            .iter()
            .map(Contact::pair)
            .collect();
        pairs.sort();
        assert_eq!(pairs, vec![(1, 2), (1, 2), (2, 3)]);
    }

    #[test]
    fn only_contacts_with_a_record_being_folded_are_kept() {
        let posts = [post(1, 7, 1, 0), post(2, 7, 2, 600), post(3, 7, 3, 1_200)];
        let contacts = thread_contacts(&posts, |p| p.id == 3);
        let pairs: BTreeSet<(u64, u64)> = contacts.iter().map(Contact::pair).collect();
        assert_eq!(pairs, BTreeSet::from([(1, 3), (2, 3)]));
        // The same post twice (a batch and its neighbours overlap) counts once.
        let doubled = [posts[0], posts[1], posts[1]];
        assert_eq!(thread_contacts(&doubled, |_| true).len(), 1);
    }

    #[test]
    fn each_member_is_connected_on_their_own_day_and_a_pair_on_its_first_day() {
        let day = |at: i64| at.div_euclid(100);
        let t = |user_id, at| Touch { user_id, at };
        // Member 2 replies on day 3 to member 1's message of day 1, and again on day 5.
        let contacts = [
            Contact::new(t(2, 350), t(1, 120)).unwrap(),
            Contact::new(t(1, 130), t(2, 510)).unwrap(),
        ];
        let folded = fold(&contacts, day);
        assert_eq!(folded.connected, BTreeSet::from([(1, 1), (2, 3), (2, 5)]));
        assert_eq!(folded.pairs, BTreeMap::from([((1, 2), 3)]));
        let later_only = fold(&contacts[1..], day);
        assert_eq!(later_only.pairs, BTreeMap::from([((1, 2), 5)]));
    }

    #[test]
    fn rate_is_connected_over_active() {
        let c = Connected {
            connected: 3,
            active: 12,
            new_pairs: 2,
        };
        assert_eq!(c.rate(), Some(0.25));
        assert_eq!(rate(0, 0), None);
    }

    #[test]
    fn weeks_start_on_monday_and_empty_weeks_are_listed() {
        let n = |y, m, d| {
            crate::domain::analytics::day_number(NaiveDate::from_ymd_opt(y, m, d).unwrap())
        };
        // 2026-11-30 is a Monday.
        assert_eq!(week_of(n(2026, 11, 30)), n(2026, 11, 30));
        assert_eq!(week_of(n(2026, 12, 6)), n(2026, 11, 30));
        assert_eq!(week_of(n(2026, 12, 7)), n(2026, 12, 7));
        assert_eq!(week_of(0), n(1969, 12, 29));
        let by_day = [
            (n(2026, 11, 29), 9),
            (n(2026, 12, 1), 2),
            (n(2026, 12, 3), 1),
            (n(2026, 12, 15), 4),
        ];
        assert_eq!(
            per_week(&by_day, n(2026, 11, 30), n(2026, 12, 16)),
            vec![
                (n(2026, 11, 30), 3),
                (n(2026, 12, 7), 0),
                (n(2026, 12, 14), 4)
            ]
        );
        assert_eq!(per_week(&by_day, 10, 9), vec![]);
    }

    #[test]
    fn a_short_period_far_from_the_last_day_is_counted_directly() {
        assert!(count_directly(100, 129, 400));
        assert!(!count_directly(36, 400, 400));
        assert!(!count_directly(370, 399, 400));
    }
}
