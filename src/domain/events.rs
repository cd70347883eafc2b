//! Events (product §9), the pure part: who holds a spot, who waits and who is offered one (the
//! roster); when each member's reminders are due; who attended, from voice presence; and the
//! figures of an event report.

use std::collections::BTreeMap;
use std::fmt;

/// A member's answer on the RSVP card.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    Going,
    Maybe,
    Cant,
}

impl Choice {
    pub fn name(self) -> &'static str {
        match self {
            Self::Going => "going",
            Self::Maybe => "maybe",
            Self::Cant => "cant",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "going" => Some(Self::Going),
            "maybe" => Some(Self::Maybe),
            "cant" => Some(Self::Cant),
            _ => None,
        }
    }
}

/// Where a member stands for one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Going,
    Maybe,
    Cant,
    /// Asked for Going when the event was full; waits in `queued_ms` order.
    Waitlisted,
    /// A freed spot is held for this member until `offer_expires_at`.
    Offered,
}

impl Status {
    /// The name stored in the database.
    pub fn name(self) -> &'static str {
        match self {
            Self::Going => "going",
            Self::Maybe => "maybe",
            Self::Cant => "cant",
            Self::Waitlisted => "waitlist",
            Self::Offered => "offered",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "going" => Some(Self::Going),
            "maybe" => Some(Self::Maybe),
            "cant" => Some(Self::Cant),
            "waitlist" => Some(Self::Waitlisted),
            "offered" => Some(Self::Offered),
            _ => None,
        }
    }

    /// Whether the member holds (or is being offered) one of the capacity's spots.
    fn holds_spot(self) -> bool {
        matches!(self, Self::Going | Self::Offered)
    }
}

/// One member's RSVP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rsvp {
    pub user: u64,
    pub status: Status,
    /// When the member last changed their answer (ms); orders the waitlist.
    pub queued_ms: i64,
    /// Unix seconds until which an offered spot is held.
    pub offer_expires_at: Option<i64>,
}

/// What a member should be told after a roster change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// The member's own answer was recorded as Going.
    Going { user: u64 },
    /// The event is full: the member waits at `position` (1 = next).
    Waitlisted { user: u64, position: usize },
    /// A spot is held for the member until `expires_at`; they must confirm.
    Offered { user: u64, expires_at: i64 },
    /// The member did not confirm in time; the spot went to the next one.
    OfferExpired { user: u64 },
    /// The capacity was raised and the member moved from the waitlist to Going.
    Promoted { user: u64 },
}

/// Why an answer is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The RSVP cutoff has passed.
    CutoffPassed,
    /// The event has started or ended.
    Started,
    /// There is no offer to confirm (never made, expired, or already confirmed).
    NoOffer,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::CutoffPassed => "RSVPs for this event are closed (the cutoff has passed).",
            Self::Started => "This event has already started.",
            Self::NoOffer => "There is no spot held for you: the offer expired or was never made.",
        })
    }
}

/// The RSVPs of one event with its capacity and times: every rule of Going, the ordered
/// waitlist and offers lives here, so the store only saves what changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Roster {
    /// Spots for Going; `None` is unlimited.
    pub capacity: Option<u32>,
    /// Unix seconds the event starts; no answers and no offers after it.
    pub start_at: i64,
    /// Unix seconds after which answers are refused (before the start).
    pub cutoff_at: Option<i64>,
    /// How long an offered spot is held, seconds.
    pub offer_window_secs: i64,
    pub rsvps: Vec<Rsvp>,
}

impl Roster {
    fn find(&self, user: u64) -> Option<&Rsvp> {
        self.rsvps.iter().find(|r| r.user == user)
    }

    fn set(&mut self, user: u64, status: Status, now_ms: i64, offer_expires_at: Option<i64>) {
        match self.rsvps.iter_mut().find(|r| r.user == user) {
            Some(rsvp) => {
                rsvp.status = status;
                rsvp.queued_ms = now_ms;
                rsvp.offer_expires_at = offer_expires_at;
            }
            None => self.rsvps.push(Rsvp {
                user,
                status,
                queued_ms: now_ms,
                offer_expires_at,
            }),
        }
    }

    pub fn status_of(&self, user: u64) -> Option<Status> {
        self.find(user).map(|r| r.status)
    }

    pub fn count(&self, status: Status) -> usize {
        self.rsvps.iter().filter(|r| r.status == status).count()
    }

    fn spots_taken(&self) -> usize {
        self.rsvps.iter().filter(|r| r.status.holds_spot()).count()
    }

    fn has_free_spot(&self) -> bool {
        self.capacity
            .is_none_or(|cap| self.spots_taken() < cap as usize)
    }

    /// The waitlist, first in line first.
    pub fn waitlist(&self) -> Vec<u64> {
        let mut waiting: Vec<&Rsvp> = self
            .rsvps
            .iter()
            .filter(|r| r.status == Status::Waitlisted)
            .collect();
        waiting.sort_by_key(|r| (r.queued_ms, r.user));
        waiting.iter().map(|r| r.user).collect()
    }

    fn open_for_answers(&self, now: i64) -> Result<(), Refusal> {
        if now >= self.start_at {
            return Err(Refusal::Started);
        }
        if self.cutoff_at.is_some_and(|cutoff| now >= cutoff) {
            return Err(Refusal::CutoffPassed);
        }
        Ok(())
    }

    /// A member's click on Going, Maybe or Can't go. Going on a full event joins the waitlist;
    /// Going while a spot is offered confirms it; leaving Going offers the spot to the next in
    /// line.
    pub fn answer(
        &mut self,
        user: u64,
        choice: Choice,
        now_ms: i64,
    ) -> Result<Vec<Notice>, Refusal> {
        let now = now_ms.div_euclid(1000);
        self.open_for_answers(now)?;
        let current = self.status_of(user);
        let mut notices = Vec::new();
        match choice {
            Choice::Going => match current {
                Some(Status::Going) => notices.push(Notice::Going { user }),
                Some(Status::Offered) => return self.confirm(user, now_ms),
                Some(Status::Waitlisted) => notices.push(self.waitlisted(user)),
                _ if self.has_free_spot() && self.waitlist().is_empty() => {
                    self.set(user, Status::Going, now_ms, None);
                    notices.push(Notice::Going { user });
                }
                _ => {
                    self.set(user, Status::Waitlisted, now_ms, None);
                    notices.push(self.waitlisted(user));
                }
            },
            Choice::Maybe | Choice::Cant => {
                let status = if choice == Choice::Maybe {
                    Status::Maybe
                } else {
                    Status::Cant
                };
                if current != Some(status) {
                    self.set(user, status, now_ms, None);
                }
                notices.extend(self.offer_free_spots(now_ms));
            }
        }
        Ok(notices)
    }

    fn waitlisted(&self, user: u64) -> Notice {
        let position = self
            .waitlist()
            .iter()
            .position(|u| *u == user)
            .map_or(0, |p| p + 1);
        Notice::Waitlisted { user, position }
    }

    /// The member takes the spot held for them.
    pub fn confirm(&mut self, user: u64, now_ms: i64) -> Result<Vec<Notice>, Refusal> {
        let now = now_ms.div_euclid(1000);
        if now >= self.start_at {
            return Err(Refusal::Started);
        }
        match self.find(user) {
            Some(r)
                if r.status == Status::Offered
                    && r.offer_expires_at.is_some_and(|until| now < until) =>
            {
                self.set(user, Status::Going, now_ms, None);
                Ok(vec![Notice::Going { user }])
            }
            _ => Err(Refusal::NoOffer),
        }
    }

    /// Offers expired at `now_ms` go back to Maybe and their spots to the next in line.
    pub fn expire_offers(&mut self, now_ms: i64) -> Vec<Notice> {
        let now = now_ms.div_euclid(1000);
        let expired: Vec<u64> = self
            .rsvps
            .iter()
            .filter(|r| {
                r.status == Status::Offered && r.offer_expires_at.is_none_or(|until| until <= now)
            })
            .map(|r| r.user)
            .collect();
        let mut notices = Vec::new();
        for user in expired {
            self.set(user, Status::Maybe, now_ms, None);
            notices.push(Notice::OfferExpired { user });
        }
        notices.extend(self.offer_free_spots(now_ms));
        notices
    }

    /// Offers each free spot to the next in line, held for the offer window (never past the
    /// start: an offer nobody could confirm is no offer).
    fn offer_free_spots(&mut self, now_ms: i64) -> Vec<Notice> {
        let now = now_ms.div_euclid(1000);
        let mut notices = Vec::new();
        if now >= self.start_at {
            return notices;
        }
        let expires_at = (now + self.offer_window_secs).min(self.start_at);
        for user in self.waitlist() {
            if !self.has_free_spot() {
                break;
            }
            self.set(user, Status::Offered, now_ms, Some(expires_at));
            notices.push(Notice::Offered { user, expires_at });
        }
        notices
    }

    /// A manager's new capacity: raising it moves the waitlist to Going in order; lowering it
    /// never removes anyone who holds a spot.
    pub fn set_capacity(&mut self, capacity: Option<u32>, now_ms: i64) -> Vec<Notice> {
        self.capacity = capacity;
        let mut notices = Vec::new();
        if now_ms.div_euclid(1000) >= self.start_at {
            return notices;
        }
        for user in self.waitlist() {
            if !self.has_free_spot() {
                break;
            }
            self.set(user, Status::Going, now_ms, None);
            notices.push(Notice::Promoted { user });
        }
        notices
    }

    /// The earliest time an offer expires, for the scheduler.
    pub fn next_offer_expiry(&self) -> Option<i64> {
        self.rsvps
            .iter()
            .filter(|r| r.status == Status::Offered)
            .filter_map(|r| r.offer_expires_at)
            .min()
    }

    /// RSVPs that differ from `before` (new or changed), to store.
    pub fn changed_since<'a>(&'a self, before: &'a Roster) -> impl Iterator<Item = &'a Rsvp> {
        self.rsvps
            .iter()
            .filter(move |r| before.find(r.user) != Some(r))
    }
}

/// What a reminder says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ReminderKind {
    /// To a Going member, `offset_secs` before the start.
    Reminder { offset_secs: i64 },
    /// The one "still coming?" nudge to a Maybe member.
    StillComing,
}

/// A member's RSVP as far as reminders go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReminderWish {
    pub user: u64,
    pub status: Status,
    /// Seconds before the start, as the member chose (or the server's default).
    pub offsets_secs: Vec<i64>,
}

/// Every reminder of an event by due time (unix seconds). Going members get one per offset,
/// Maybe members one nudge at their earliest offset, everyone else nothing, ever.
pub fn reminder_plan(
    start_at: i64,
    wishes: &[ReminderWish],
) -> BTreeMap<i64, Vec<(u64, ReminderKind)>> {
    let mut plan: BTreeMap<i64, Vec<(u64, ReminderKind)>> = BTreeMap::new();
    for wish in wishes {
        match wish.status {
            Status::Going => {
                for &offset_secs in &wish.offsets_secs {
                    plan.entry(start_at - offset_secs)
                        .or_default()
                        .push((wish.user, ReminderKind::Reminder { offset_secs }));
                }
            }
            Status::Maybe => {
                if let Some(&earliest) = wish.offsets_secs.iter().max() {
                    plan.entry(start_at - earliest)
                        .or_default()
                        .push((wish.user, ReminderKind::StillComing));
                }
            }
            _ => {}
        }
    }
    for due in plan.values_mut() {
        due.sort();
        due.dedup();
    }
    plan
}

/// The first due time of a plan after `after` (the next wake-up of the event's reminder job).
pub fn next_reminder_after(
    plan: &BTreeMap<i64, Vec<(u64, ReminderKind)>>,
    after: i64,
) -> Option<i64> {
    plan.range(after + 1..).next().map(|(due, _)| *due)
}

/// Whether a reminder due at `due` is still worth sending at `now`: one whose time passed while
/// the bot was down is skipped, not sent late.
pub fn reminder_is_timely(due: i64, now: i64, grace_secs: i64) -> bool {
    now - due <= grace_secs
}

/// A series' `repeat`, normalised to the text stored and shown: `weekly` becomes the first
/// start's weekday and time (`thu 19:00`); `<days> <HH:MM>` is the prompts' grammar
/// (`mon,wed 18:30`, `daily 09:00`, `weekdays 12:00`); `cron <5 fields>` a crontab line.
pub fn normalise_repeat(text: &str, first_start: chrono::NaiveDateTime) -> Result<String, String> {
    let text = text.trim();
    let normalised = if text.eq_ignore_ascii_case("weekly") {
        first_start.format("%a %H:%M").to_string().to_lowercase()
    } else if let Some(expression) = text.strip_prefix("cron ") {
        format!("cron {}", expression.trim())
    } else {
        text.to_lowercase()
    };
    repeat_schedule(&normalised)?;
    Ok(normalised)
}

/// The schedule of a normalised `repeat`.
pub fn repeat_schedule(repeat: &str) -> Result<crate::domain::schedule::Schedule, String> {
    crate::domain::schedule::Schedule::from_text(repeat)
}

/// A duration like `90s`, `15m`, `2h`, `1d` or `1h30m`, in seconds.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let text = text.trim().to_lowercase();
    let bad = || {
        format!("`{text}` is not a duration like 15m, 2h, 1d or 1h30m (s, m, h, d for seconds, minutes, hours, days).")
    };
    if text.is_empty() {
        return Err(bad());
    }
    let mut total: i64 = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            ' ' => continue,
            _ => return Err(bad()),
        };
        let n: i64 = number.parse().map_err(|_| bad())?;
        total = total
            .checked_add(n.checked_mul(unit).ok_or_else(bad)?)
            .ok_or_else(bad)?;
        number.clear();
    }
    if !number.is_empty() {
        return Err(bad());
    }
    Ok(total)
}

/// Reminder offsets like `24h, 1h` or `none`: seconds before the start, largest first, at most 5.
pub fn parse_offsets(text: &str) -> Result<Vec<i64>, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("none") || text.is_empty() {
        return Ok(Vec::new());
    }
    let mut offsets = text
        .split(',')
        .map(parse_duration)
        .collect::<Result<Vec<_>, _>>()?;
    if offsets.iter().any(|o| *o <= 0 || *o > 30 * 86_400) {
        return Err("each reminder must be between 1 second and 30 days before the event.".into());
    }
    offsets.sort_unstable_by(|a, b| b.cmp(a));
    offsets.dedup();
    if offsets.len() > 5 {
        return Err("at most 5 reminders per event.".into());
    }
    Ok(offsets)
}

/// Offsets shown to a member: `24h, 1h`.
pub fn format_offsets(offsets: &[i64]) -> String {
    if offsets.is_empty() {
        return "none".to_owned();
    }
    offsets
        .iter()
        .map(|&o| format_duration(o))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A duration as a person would write it: `2d`, `24h`, `90m`, `45s` (days only from two days
/// on: "24h" reads better than "1d" for a reminder).
pub fn format_duration(secs: i64) -> String {
    match secs {
        s if s % 86_400 == 0 && s >= 2 * 86_400 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 && s > 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 && s > 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// When attendance counts: at least `min_secs` in the channel during the event, or a
/// `min_share` of the event's length, whichever is shorter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AttendanceRule {
    pub min_secs: i64,
    pub min_share: f64,
}

impl AttendanceRule {
    /// Seconds of presence that count for an event from `start_at` to `end_at`.
    pub fn threshold(&self, start_at: i64, end_at: i64) -> i64 {
        #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
        let share = ((end_at - start_at).max(0) as f64 * self.min_share).ceil() as i64;
        self.min_secs.min(share).max(1)
    }
}

/// Seconds a member spent in the event's channel during the event: each stay (join, leave or
/// `None` while still there) clipped to the window, overlaps counted once.
pub fn presence_secs(stays: &[(i64, Option<i64>)], start_at: i64, end_at: i64, now: i64) -> i64 {
    let mut clipped: Vec<(i64, i64)> = stays
        .iter()
        .map(|&(from, to)| {
            let to = to.unwrap_or(now).min(end_at);
            (from.max(start_at), to)
        })
        .filter(|(from, to)| to > from)
        .collect();
    clipped.sort_unstable();
    let mut total = 0;
    let mut covered_until = i64::MIN;
    for (from, to) in clipped {
        let from = from.max(covered_until);
        if to > from {
            total += to - from;
            covered_until = to;
        }
    }
    total
}

/// The figures of `/event report` and `hearth report`'s `events` array.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EventFigures {
    pub going: usize,
    pub maybe: usize,
    pub cant: usize,
    pub waitlist: usize,
    pub attended: usize,
    /// Going (at the start) but not there.
    pub no_shows: usize,
    /// There without answering Going.
    pub walk_ins: usize,
    /// Attended ÷ Going; `None` with nobody Going.
    pub show_up_rate: Option<f64>,
}

/// Works out an event's figures from the final RSVPs and who attended.
pub fn figures(rsvps: &[Rsvp], attendees: &[u64]) -> EventFigures {
    let going: Vec<u64> = rsvps
        .iter()
        .filter(|r| r.status == Status::Going)
        .map(|r| r.user)
        .collect();
    let attended_going = going.iter().filter(|u| attendees.contains(u)).count();
    #[allow(clippy::cast_precision_loss)]
    let show_up_rate = (!going.is_empty()).then(|| attended_going as f64 / going.len() as f64);
    EventFigures {
        going: going.len(),
        maybe: rsvps.iter().filter(|r| r.status == Status::Maybe).count(),
        cant: rsvps.iter().filter(|r| r.status == Status::Cant).count(),
        waitlist: rsvps
            .iter()
            .filter(|r| matches!(r.status, Status::Waitlisted | Status::Offered))
            .count(),
        attended: attendees.len(),
        no_shows: going.len() - attended_going,
        walk_ins: attendees.iter().filter(|u| !going.contains(u)).count(),
        show_up_rate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: i64 = 1_000_000;

    fn roster(capacity: Option<u32>) -> Roster {
        Roster {
            capacity,
            start_at: START,
            cutoff_at: None,
            offer_window_secs: 600,
            rsvps: Vec::new(),
        }
    }

    fn ms(secs: i64) -> i64 {
        secs * 1000
    }

    #[test]
    fn the_third_going_of_two_spots_waits_and_is_offered_the_first_freed_spot() {
        let mut r = roster(Some(2));
        let t = START - 3600;
        assert_eq!(
            r.answer(1, Choice::Going, ms(t)).unwrap(),
            vec![Notice::Going { user: 1 }]
        );
        r.answer(2, Choice::Going, ms(t + 1)).unwrap();
        assert_eq!(
            r.answer(3, Choice::Going, ms(t + 2)).unwrap(),
            vec![Notice::Waitlisted {
                user: 3,
                position: 1
            }]
        );
        let notices = r.answer(1, Choice::Cant, ms(t + 10)).unwrap();
        assert_eq!(
            notices,
            vec![Notice::Offered {
                user: 3,
                expires_at: t + 610
            }]
        );
        assert_eq!(r.status_of(3), Some(Status::Offered));
        // Someone else cannot take the held spot.
        assert_eq!(
            r.answer(4, Choice::Going, ms(t + 20)).unwrap(),
            vec![Notice::Waitlisted {
                user: 4,
                position: 1
            }]
        );
        assert_eq!(
            r.confirm(3, ms(t + 600)).unwrap(),
            vec![Notice::Going { user: 3 }]
        );
        assert_eq!(r.count(Status::Going), 2);
    }

    #[test]
    fn an_expired_offer_passes_to_the_next_in_line() {
        let mut r = roster(Some(1));
        let t = START - 3600;
        r.answer(1, Choice::Going, ms(t)).unwrap();
        r.answer(2, Choice::Going, ms(t + 1)).unwrap();
        r.answer(3, Choice::Going, ms(t + 2)).unwrap();
        r.answer(1, Choice::Maybe, ms(t + 5)).unwrap();
        assert_eq!(r.next_offer_expiry(), Some(t + 605));
        assert!(r.expire_offers(ms(t + 604)).is_empty(), "not yet");
        assert_eq!(
            r.expire_offers(ms(t + 605)),
            vec![
                Notice::OfferExpired { user: 2 },
                Notice::Offered {
                    user: 3,
                    expires_at: t + 1205
                }
            ]
        );
        assert_eq!(r.confirm(2, ms(t + 606)), Err(Refusal::NoOffer));
        assert_eq!(r.status_of(2), Some(Status::Maybe));
        // Clicking Going while offered confirms.
        assert_eq!(
            r.answer(3, Choice::Going, ms(t + 700)).unwrap(),
            vec![Notice::Going { user: 3 }]
        );
    }

    #[test]
    fn raising_the_capacity_promotes_in_order_and_lowering_it_removes_nobody() {
        let mut r = roster(Some(1));
        let t = START - 3600;
        for user in 1..=4 {
            r.answer(user, Choice::Going, ms(t + i64::try_from(user).unwrap()))
                .unwrap();
        }
        assert_eq!(r.waitlist(), vec![2, 3, 4]);
        assert_eq!(
            r.set_capacity(Some(3), ms(t + 10)),
            vec![Notice::Promoted { user: 2 }, Notice::Promoted { user: 3 }]
        );
        assert!(r.set_capacity(Some(1), ms(t + 20)).is_empty());
        assert_eq!(r.count(Status::Going), 3, "nobody removed");
        r.answer(1, Choice::Cant, ms(t + 30)).unwrap();
        assert_eq!(
            r.status_of(4),
            Some(Status::Waitlisted),
            "still over capacity: no offer"
        );
    }

    #[test]
    fn unlimited_events_take_everyone_and_answers_close_at_the_cutoff_and_start() {
        let mut r = roster(None);
        r.cutoff_at = Some(START - 60);
        for user in 1..=50 {
            r.answer(user, Choice::Going, ms(START - 100)).unwrap();
        }
        assert_eq!(r.count(Status::Going), 50);
        assert_eq!(
            r.answer(51, Choice::Going, ms(START - 60)),
            Err(Refusal::CutoffPassed)
        );
        r.cutoff_at = None;
        assert_eq!(
            r.answer(51, Choice::Going, ms(START)),
            Err(Refusal::Started)
        );
    }

    #[test]
    fn offers_never_outlive_the_start() {
        let mut r = roster(Some(1));
        r.answer(1, Choice::Going, ms(START - 100)).unwrap();
        r.answer(2, Choice::Going, ms(START - 99)).unwrap();
        let notices = r.answer(1, Choice::Cant, ms(START - 50)).unwrap();
        assert_eq!(
            notices,
            vec![Notice::Offered {
                user: 2,
                expires_at: START
            }]
        );
    }

    #[test]
    fn changed_rows_are_only_those_that_moved() {
        let mut r = roster(Some(1));
        r.answer(1, Choice::Going, ms(START - 100)).unwrap();
        r.answer(2, Choice::Going, ms(START - 99)).unwrap();
        let before = r.clone();
        r.answer(1, Choice::Cant, ms(START - 90)).unwrap();
        let changed: Vec<u64> = r.changed_since(&before).map(|c| c.user).collect();
        assert_eq!(changed, vec![1, 2]);
    }

    #[test]
    fn reminders_go_to_going_once_per_offset_maybe_gets_one_nudge_cant_nothing() {
        let wishes = [
            ReminderWish {
                user: 1,
                status: Status::Going,
                offsets_secs: vec![86_400, 3600],
            },
            ReminderWish {
                user: 2,
                status: Status::Maybe,
                offsets_secs: vec![86_400, 3600],
            },
            ReminderWish {
                user: 3,
                status: Status::Cant,
                offsets_secs: vec![86_400, 3600],
            },
            ReminderWish {
                user: 4,
                status: Status::Waitlisted,
                offsets_secs: vec![3600],
            },
            ReminderWish {
                user: 5,
                status: Status::Going,
                offsets_secs: vec![],
            },
        ];
        let plan = reminder_plan(START, &wishes);
        assert_eq!(plan.len(), 2);
        assert_eq!(
            plan[&(START - 86_400)],
            vec![
                (
                    1,
                    ReminderKind::Reminder {
                        offset_secs: 86_400
                    }
                ),
                (2, ReminderKind::StillComing)
            ]
        );
        assert_eq!(
            plan[&(START - 3600)],
            vec![(1, ReminderKind::Reminder { offset_secs: 3600 })]
        );
        assert_eq!(
            next_reminder_after(&plan, START - 86_400),
            Some(START - 3600)
        );
        assert_eq!(next_reminder_after(&plan, START - 3600), None);
        assert!(reminder_is_timely(START - 3600, START - 3600 + 60, 60));
        assert!(!reminder_is_timely(START - 3600, START - 3600 + 61, 60));
    }

    #[test]
    fn durations_and_offsets_read_as_managers_write_them() {
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("1h30m"), Ok(5400));
        assert_eq!(parse_duration(" 2 h "), Ok(7200));
        assert!(parse_duration("2").is_err());
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("").is_err());
        assert_eq!(parse_offsets("1h, 24h, 1h"), Ok(vec![86_400, 3600]));
        assert_eq!(parse_offsets("none"), Ok(vec![]));
        assert!(parse_offsets("0s").is_err());
        assert!(parse_offsets("1m,2m,3m,4m,5m,6m").is_err());
        assert_eq!(
            format_offsets(&[172_800, 86_400, 3600, 5400, 90]),
            "2d, 24h, 1h, 90m, 90s"
        );
    }

    #[test]
    fn a_weekly_series_keeps_its_local_time_across_a_dst_change() {
        let berlin: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
        let first = chrono::NaiveDate::from_ymd_opt(2027, 3, 25)
            .unwrap()
            .and_hms_opt(19, 0, 0)
            .unwrap();
        let repeat = normalise_repeat("weekly", first).unwrap();
        assert_eq!(repeat, "thu 19:00");
        let schedule = repeat_schedule(&repeat).unwrap();
        let start = crate::domain::schedule::resolve(first, berlin);
        let next = schedule.next_after(start, berlin).unwrap();
        assert_eq!(start.to_rfc3339(), "2027-03-25T18:00:00+00:00", "CET");
        assert_eq!(
            next.to_rfc3339(),
            "2027-04-01T17:00:00+00:00",
            "CEST: still 19:00 local"
        );
        assert!(normalise_repeat("someday", first).is_err());
        assert!(normalise_repeat("cron 0 19 * * 5", first).is_ok());
        assert!(normalise_repeat("cron 0 19", first).is_err());
    }

    #[test]
    fn presence_counts_only_the_event_window_and_overlaps_once() {
        let (start, end) = (1000, 1000 + 3600);
        assert_eq!(presence_secs(&[(400, Some(1900))], start, end, end), 900);
        assert_eq!(
            presence_secs(&[(1000, Some(1300)), (1200, Some(1500))], start, end, end),
            500
        );
        assert_eq!(presence_secs(&[(4000, None)], start, end, 9000), 600);
        assert_eq!(presence_secs(&[(5000, Some(6000))], start, end, 9000), 0);
        let rule = AttendanceRule {
            min_secs: 600,
            min_share: 0.25,
        };
        assert_eq!(rule.threshold(start, end), 600, "10 minutes of an hour");
        assert_eq!(rule.threshold(0, 1200), 300, "a quarter of 20 minutes");
        assert!(
            presence_secs(&[(1000, Some(1900))], start, end, end) >= rule.threshold(start, end)
        );
        assert!(presence_secs(&[(1000, Some(1120))], start, end, end) < rule.threshold(start, end));
    }

    #[test]
    fn figures_split_going_attendance_no_shows_and_walk_ins() {
        let rsvp = |user, status| Rsvp {
            user,
            status,
            queued_ms: 0,
            offer_expires_at: None,
        };
        let rsvps = [
            rsvp(1, Status::Going),
            rsvp(2, Status::Going),
            rsvp(3, Status::Maybe),
            rsvp(4, Status::Cant),
            rsvp(5, Status::Waitlisted),
        ];
        let f = figures(&rsvps, &[1, 3, 9]);
        assert_eq!((f.going, f.maybe, f.cant, f.waitlist), (2, 1, 1, 1));
        assert_eq!((f.attended, f.no_shows, f.walk_ins), (3, 1, 2));
        assert_eq!(f.show_up_rate, Some(0.5));
        assert_eq!(figures(&[], &[]).show_up_rate, None);
    }
}

/// A newcomer for the event retention comparison: their cohort day (days since the epoch in the
/// server's time zone), whether they were active in days 30-59 and 90-119 after it, and the
/// first day they attended an event (if they did).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Newcomer {
    pub join_day: i64,
    pub retained_30: bool,
    pub retained_90: bool,
    pub first_attended_day: Option<i64>,
}

/// Retention of one group: members whose window is over, and how many of them were retained.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Retained {
    pub members_30: usize,
    pub retained_30: usize,
    pub members_90: usize,
    pub retained_90: usize,
}

impl Retained {
    pub fn rate_30(&self) -> Option<f64> {
        rate(self.retained_30, self.members_30)
    }

    pub fn rate_90(&self) -> Option<f64> {
        rate(self.retained_90, self.members_90)
    }
}

fn rate(part: usize, whole: usize) -> Option<f64> {
    #[allow(clippy::cast_precision_loss)]
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Newcomers who attended an event in their first 30 days against those of the same join
/// weeks who did not: 30- and 90-day retention (§6 windows), counting only members whose
/// window has finished by `today` and only join weeks in which someone attended.
pub fn attendee_retention(newcomers: &[Newcomer], today: i64) -> (Retained, Retained) {
    let attended = |n: &Newcomer| {
        n.first_attended_day
            .is_some_and(|d| d >= n.join_day && d < n.join_day + 30)
    };
    let week = |n: &Newcomer| n.join_day.div_euclid(7);
    let weeks: std::collections::BTreeSet<i64> =
        newcomers.iter().filter(|n| attended(n)).map(week).collect();
    let (mut went, mut did_not) = (Retained::default(), Retained::default());
    for n in newcomers.iter().filter(|n| weeks.contains(&week(n))) {
        let group = if attended(n) { &mut went } else { &mut did_not };
        if n.join_day + 60 <= today {
            group.members_30 += 1;
            group.retained_30 += usize::from(n.retained_30);
        }
        if n.join_day + 120 <= today {
            group.members_90 += 1;
            group.retained_90 += usize::from(n.retained_90);
        }
    }
    (went, did_not)
}

#[cfg(test)]
mod retention_tests {
    use super::*;

    fn n(join_day: i64, r30: bool, r90: bool, attended: Option<i64>) -> Newcomer {
        Newcomer {
            join_day,
            retained_30: r30,
            retained_90: r90,
            first_attended_day: attended,
        }
    }

    #[test]
    fn attendees_are_compared_with_their_own_join_weeks_and_finished_windows_only() {
        let today = 200;
        let newcomers = [
            n(7, true, true, Some(10)),     // week 1, attended
            n(8, false, false, None),       // week 1, did not
            n(9, true, false, None),        // week 1, did not
            n(14, true, true, None),        // week 2: nobody attended, left out
            n(21, true, true, Some(60)),    // attended only after 30 days: did not
            n(100, true, false, Some(100)), // 90-day window not finished
        ];
        let (went, did_not) = attendee_retention(&newcomers, today);
        assert_eq!(
            went,
            Retained {
                members_30: 2,
                retained_30: 2,
                members_90: 1,
                retained_90: 1
            }
        );
        assert_eq!(
            did_not,
            Retained {
                members_30: 2,
                retained_30: 1,
                members_90: 2,
                retained_90: 0
            }
        );
        assert_eq!(did_not.rate_30(), Some(0.5));
        assert_eq!(Retained::default().rate_90(), None);
    }
}
