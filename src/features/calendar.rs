//! What is scheduled in a guild (product §4): prompt runs, open AMAs, events, the monthly report and the
//! monthly shout-out. `/calendar` lists the coming days from it; `/calendar format:ical` exports
//! it as an .ics file. A new scheduled feature adds its items to [`scheduled`].

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::config::Config;
use crate::db::{self, Pool};
use crate::domain::ical::{self, CalendarEvent};
use crate::domain::schedule::Schedule;
use crate::domain::settings::{ChannelPurpose, GuildSettings};
use crate::features::{prompts, recognition, reports, settings};

/// What a calendar entry is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum What {
    Prompt {
        id: i64,
        theme: String,
        channel_id: u64,
    },
    Ama {
        title: String,
        host_id: u64,
        channel_id: u64,
    },
    Event {
        id: i64,
        title: String,
        /// `<#channel>` or the external location.
        place: String,
        minutes: u32,
    },
    MonthlyReport {
        channel_id: u64,
    },
    Shoutout {
        channel_id: u64,
    },
}

impl What {
    /// How the listing names the entry.
    pub fn label(&self) -> String {
        match self {
            Self::Prompt {
                theme, channel_id, ..
            } => format!("{theme} in <#{channel_id}>"),
            Self::Ama {
                title,
                host_id,
                channel_id,
            } => format!("AMA: {title} with <@{host_id}> in <#{channel_id}>"),
            Self::Event {
                id, title, place, ..
            } => format!("Event #{id}: {title} ({place})"),
            Self::MonthlyReport { channel_id } => {
                format!("Monthly community report in <#{channel_id}>")
            }
            Self::Shoutout { channel_id } => {
                format!("Monthly top-3 contributors shout-out in <#{channel_id}>")
            }
        }
    }
}

/// One scheduled thing: its next time and, if it repeats, its schedule.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub what: What,
    pub next: DateTime<Utc>,
    pub repeats: Option<Schedule>,
}

/// A guild's calendar as of `now`, in its time zone.
#[derive(Clone, Debug, PartialEq)]
pub struct Calendar {
    pub timezone: Tz,
    pub now: DateTime<Utc>,
    pub entries: Vec<Entry>,
}

/// Everything scheduled in a guild after `now`: running prompts, open AMAs that have not
/// started, the monthly report (with a reports channel) and the shout-out (with a spotlight
/// channel).
pub async fn scheduled(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    now: DateTime<Utc>,
) -> anyhow::Result<Calendar> {
    let settings = settings::resolve(pool, config, guild_id).await?;
    let tz = settings.timezone;
    let mut entries = Vec::new();
    for row in db::prompts::prompts(pool, guild_id).await? {
        if row.paused {
            continue;
        }
        let Ok(schedule) = prompts::schedule_of(&row) else {
            continue;
        };
        let what = What::Prompt {
            id: row.id,
            channel_id: row.channel(),
            theme: row.theme,
        };
        entries.extend(repeating(what, schedule, now, tz));
    }
    for ama in db::ama::list(pool, guild_id).await? {
        if ama.status != "open" {
            continue;
        }
        if let Some(start) = DateTime::from_timestamp(ama.start_at, 0).filter(|t| *t >= now) {
            let what = What::Ama {
                title: ama.title,
                host_id: db::from_sql_id(ama.host_id),
                channel_id: db::from_sql_id(ama.channel_id),
            };
            entries.push(Entry {
                what,
                next: start,
                repeats: None,
            });
        }
    }
    for event in db::events::upcoming(pool, guild_id, now.timestamp()).await? {
        let Some(start) = DateTime::from_timestamp(event.start_at, 0).filter(|t| *t >= now) else {
            continue;
        };
        if !event.is_scheduled() {
            continue;
        }
        let place = event.voice_channel().map_or_else(
            || event.location.clone().unwrap_or_default(),
            |channel| format!("<#{channel}>"),
        );
        entries.push(Entry {
            what: What::Event {
                id: event.id,
                minutes: u32::try_from((event.end_at - event.start_at) / 60)
                    .unwrap_or(60)
                    .max(1),
                title: event.title,
                place,
            },
            next: start,
            repeats: None,
        });
    }
    entries.extend(monthly_entries(pool, guild_id, &settings, now).await?);
    Ok(Calendar {
        timezone: tz,
        now,
        entries,
    })
}

/// The monthly report and the monthly shout-out, where each has somewhere to go.
async fn monthly_entries(
    pool: &Pool,
    guild_id: u64,
    settings: &GuildSettings,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Entry>> {
    let tz = settings.timezone;
    let mut entries = Vec::new();
    if let Some(channel_id) = settings.channel(ChannelPurpose::Reports) {
        let what = What::MonthlyReport { channel_id };
        entries.extend(repeating(what, reports::schedule(), now, tz));
    }
    if let Some(channel_id) = settings.channel(ChannelPurpose::Spotlight) {
        let shoutout = db::recognition::shoutout(pool, guild_id).await?;
        if let Some(schedule) = shoutout.as_ref().and_then(recognition::schedule) {
            let what = What::Shoutout { channel_id };
            entries.extend(repeating(what, schedule, now, tz));
        }
    }
    Ok(entries)
}

/// A repeating entry, if its schedule fires again after `now`.
fn repeating(what: What, schedule: Schedule, now: DateTime<Utc>, tz: Tz) -> Option<Entry> {
    let next = schedule.next_after(now, tz)?;
    Some(Entry {
        what,
        next,
        repeats: Some(schedule),
    })
}

impl Calendar {
    /// Every occurrence up to `until` (inclusive), in time order (then by label).
    pub fn occurrences(&self, until: DateTime<Utc>) -> Vec<(DateTime<Utc>, String)> {
        let mut items = Vec::new();
        for entry in &self.entries {
            let mut at = Some(entry.next);
            while let Some(t) = at.filter(|t| *t <= until) {
                items.push((t, entry.what.label()));
                at = entry
                    .repeats
                    .as_ref()
                    .and_then(|s| s.next_after(t, self.timezone));
            }
        }
        items.sort();
        items
    }

    /// The `/calendar` listing of the next `days` days.
    pub fn listing(&self, days: i64) -> String {
        let items = self.occurrences(self.now + chrono::Duration::days(days));
        if items.is_empty() {
            return format!("Nothing scheduled in the next {days} days.");
        }
        let lines: Vec<String> = items
            .iter()
            .map(|(t, what)| {
                format!(
                    "{} · <t:{}:F> · {what}",
                    t.with_timezone(&self.timezone).format("%a %d %b %H:%M"),
                    t.timestamp()
                )
            })
            .collect();
        format!(
            "**Next {days} days** (server time {}; Discord shows each in your own time):\n{}",
            self.timezone.name(),
            lines.join("\n")
        )
    }

    /// The events of the .ics export: everything the listing shows (product §4). Prompts repeat
    /// from their next run where their schedule has an RRULE; an AMA is its one occurrence; the
    /// monthly report and shout-out are their next run (a cron schedule has no RRULE here).
    pub fn ical_events(&self, guild_id: u64) -> Vec<CalendarEvent> {
        self.entries
            .iter()
            .map(|entry| {
                let (uid, summary, description, duration_minutes) = match &entry.what {
                    What::Prompt {
                        id,
                        theme,
                        channel_id,
                    } => (
                        format!("prompt-{id}-{guild_id}@hearth"),
                        theme.clone(),
                        format!("Themed-day prompt in #{channel_id}"),
                        30,
                    ),
                    What::Ama {
                        title, channel_id, ..
                    } => (
                        format!("ama-{}-{guild_id}@hearth", entry.next.timestamp()),
                        format!("AMA: {title}"),
                        format!("Ask-me-anything in #{channel_id}"),
                        60,
                    ),
                    What::Event {
                        id,
                        title,
                        place,
                        minutes,
                    } => (
                        format!("event-{id}-{guild_id}@hearth"),
                        title.clone(),
                        format!("Event: {place}"),
                        *minutes,
                    ),
                    What::MonthlyReport { channel_id } => (
                        format!("monthly-report-{guild_id}@hearth"),
                        "Monthly community report".to_owned(),
                        format!("Posted in #{channel_id}"),
                        15,
                    ),
                    What::Shoutout { channel_id } => (
                        format!("shoutout-{guild_id}@hearth"),
                        "Top-3 contributors shout-out".to_owned(),
                        format!("Posted in #{channel_id}"),
                        15,
                    ),
                };
                CalendarEvent {
                    uid,
                    summary,
                    description,
                    start: entry.next,
                    duration_minutes,
                    rrule: entry.repeats.as_ref().and_then(Schedule::rrule),
                }
            })
            .collect()
    }

    /// The .ics file (RFC 5545) named after the guild, and how many events it holds.
    pub fn ics(&self, guild_id: u64, guild_name: &str) -> (String, usize) {
        let events = self.ical_events(guild_id);
        let text = ical::calendar(
            &format!("{guild_name} calendar"),
            self.timezone,
            &events,
            self.now,
        );
        (text, events.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn berlin() -> Tz {
        "Europe/Berlin".parse().unwrap()
    }

    fn calendar(entries: Vec<Entry>) -> Calendar {
        Calendar {
            timezone: berlin(),
            now: at("2026-03-04T12:00:00Z"),
            entries,
        }
    }

    fn prompt(id: i64, theme: &str, days: &str, time: &str, now: DateTime<Utc>) -> Entry {
        let what = What::Prompt {
            id,
            theme: theme.into(),
            channel_id: 7,
        };
        repeating(what, Schedule::weekly(days, time).unwrap(), now, berlin()).unwrap()
    }

    #[test]
    fn repeating_entries_expand_up_to_the_end_and_one_offs_appear_once() {
        let now = at("2026-03-04T12:00:00Z"); // a Wednesday
        let cal = calendar(vec![
            prompt(1, "Monday goals", "mon", "09:00", now),
            Entry {
                what: What::Ama {
                    title: "Ask us".into(),
                    host_id: 5,
                    channel_id: 6,
                },
                next: at("2026-03-10T18:00:00Z"),
                repeats: None,
            },
        ]);
        let items = cal.occurrences(now + chrono::Duration::days(14));
        let labels: Vec<&str> = items.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(
            labels,
            [
                "Monday goals in <#7>",
                "AMA: Ask us with <@5> in <#6>",
                "Monday goals in <#7>"
            ]
        );
        assert_eq!(items[0].0, at("2026-03-09T08:00:00Z"));
    }

    #[test]
    fn ties_are_ordered_by_label() {
        let now = at("2026-03-04T12:00:00Z");
        let cal = calendar(vec![
            prompt(1, "Zebra", "mon", "09:00", now),
            prompt(2, "Apple", "mon", "09:00", now),
        ]);
        let items = cal.occurrences(now + chrono::Duration::days(7));
        assert_eq!(items[0].1, "Apple in <#7>");
        assert_eq!(items[1].1, "Zebra in <#7>");
    }

    #[test]
    fn the_listing_says_when_nothing_is_scheduled_and_names_the_time_zone() {
        let now = at("2026-03-04T12:00:00Z");
        assert_eq!(
            calendar(Vec::new()).listing(14),
            "Nothing scheduled in the next 14 days."
        );
        let text = calendar(vec![prompt(1, "Monday goals", "mon", "09:00", now)]).listing(7);
        assert!(
            text.starts_with("**Next 7 days** (server time Europe/Berlin;"),
            "{text}"
        );
        assert!(
            text.contains("Mon 09 Mar 09:00 · <t:1773043200:F> · Monday goals in <#7>"),
            "{text}"
        );
    }

    #[test]
    fn the_ics_export_holds_everything_the_listing_shows() {
        let now = at("2026-03-04T12:00:00Z");
        let cal = calendar(vec![
            prompt(3, "Friday wins", "fri", "16:00", now),
            Entry {
                what: What::MonthlyReport { channel_id: 9 },
                next: at("2026-04-01T07:00:00Z"),
                repeats: Some(reports::schedule()),
            },
        ]);
        let events = cal.ical_events(42);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].uid, "prompt-3-42@hearth");
        assert_eq!(events[0].description, "Themed-day prompt in #7");
        assert_eq!(
            events[0].rrule.as_deref(),
            Some("FREQ=WEEKLY;BYDAY=FR;BYHOUR=16;BYMINUTE=0")
        );
        assert_eq!(events[1].uid, "monthly-report-42@hearth");
        assert_eq!(events[1].start, at("2026-04-01T07:00:00Z"));
        assert_eq!(
            events[1].rrule, None,
            "a cron schedule exports its next run"
        );
        let (text, count) = cal.ics(42, "Acme");
        assert_eq!(count, 2);
        assert!(text.contains("Acme calendar"), "{text}");
        assert!(text.contains("Monthly community report"), "{text}");
    }
}
