//! RFC 5545 calendars for `/calendar ical`.

use chrono::{DateTime, Utc};

/// One scheduled item.
#[derive(Clone, Debug)]
pub struct CalendarEvent {
    pub uid: String,
    pub summary: String,
    pub description: String,
    pub start: DateTime<Utc>,
    pub duration_minutes: u32,
    /// An RRULE value (without `RRULE:`) for repeating items, in the time zone below.
    pub rrule: Option<String>,
}

/// A VCALENDAR with one VEVENT per item. Repeating items carry their RRULE with a DTSTART in
/// the guild's time zone (`TZID`), so calendar apps keep the wall-clock time across DST.
pub fn calendar(
    name: &str,
    tz: chrono_tz::Tz,
    events: &[CalendarEvent],
    now: DateTime<Utc>,
) -> String {
    let mut lines = vec![
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//Hearth//Community calendar//EN".to_owned(),
        "CALSCALE:GREGORIAN".to_owned(),
        format!("X-WR-CALNAME:{}", escape(name)),
        format!("X-WR-TIMEZONE:{}", tz.name()),
    ];
    for event in events {
        lines.push("BEGIN:VEVENT".to_owned());
        lines.push(format!("UID:{}", escape(&event.uid)));
        lines.push(format!("DTSTAMP:{}", now.format("%Y%m%dT%H%M%SZ")));
        match &event.rrule {
            Some(rule) => {
                let local = event.start.with_timezone(&tz);
                lines.push(format!(
                    "DTSTART;TZID={}:{}",
                    tz.name(),
                    local.format("%Y%m%dT%H%M%S")
                ));
                lines.push(format!("RRULE:{rule}"));
            }
            None => lines.push(format!("DTSTART:{}", event.start.format("%Y%m%dT%H%M%SZ"))),
        }
        lines.push(format!("DURATION:PT{}M", event.duration_minutes));
        lines.push(format!("SUMMARY:{}", escape(&event.summary)));
        if !event.description.is_empty() {
            lines.push(format!("DESCRIPTION:{}", escape(&event.description)));
        }
        lines.push("END:VEVENT".to_owned());
    }
    lines.push("END:VCALENDAR".to_owned());
    lines
        .iter()
        .map(|l| fold(l))
        .collect::<Vec<_>>()
        .join("\r\n")
        + "\r\n"
}

/// TEXT escaping (RFC 5545 §3.3.11).
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace('\n', "\\n")
}

/// Lines longer than 75 octets are folded (RFC 5545 §3.1), never inside a character.
fn fold(line: &str) -> String {
    let mut out = String::new();
    let mut width = 0;
    for c in line.chars() {
        let len = c.len_utf8();
        if width + len > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekly_items_keep_local_time_with_rrule() {
        let start = DateTime::parse_from_rfc3339("2026-03-30T07:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let text = calendar(
            "Emberfall, events",
            chrono_tz::Europe::Berlin,
            &[CalendarEvent {
                uid: "prompt-1@hearth".into(),
                summary: "Monday goals".into(),
                description: "Share; your goals".into(),
                start,
                duration_minutes: 30,
                rrule: Some("FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0".into()),
            }],
            start,
        );
        assert!(text.contains("DTSTART;TZID=Europe/Berlin:20260330T090000\r\n"));
        assert!(text.contains("RRULE:FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0\r\n"));
        assert!(text.contains("X-WR-CALNAME:Emberfall\\, events"));
        assert!(text.contains("DESCRIPTION:Share\\; your goals"));
        assert!(text.lines().all(|l| l.len() <= 75));
    }

    #[test]
    fn long_lines_are_folded() {
        let folded = fold(&"é".repeat(60));
        assert!(folded.split("\r\n").all(|l| l.len() <= 75));
        assert_eq!(folded.replace("\r\n ", ""), "é".repeat(60));
    }
}
