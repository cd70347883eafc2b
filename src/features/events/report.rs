//! An event's figures: `/event report`, `/stats events`, `hearth report`'s `events` array and
//! the monthly report's field.

use super::*;

/// An event's figures for `/event report` and `hearth report`.
#[derive(Clone, Debug)]
pub struct EventReport {
    pub event: Event,
    pub figures: rules::EventFigures,
    /// Attendees' ratings (from the event's feedback survey).
    pub feedback: Vec<surveys::Rating>,
    /// Attendees with no stay at an earlier event of the server.
    pub first_timers: usize,
    /// Attendees who joined the server less than 30 days before the event.
    pub newcomers: usize,
}

pub async fn report_of(
    pool: &Pool,
    config: &Config,
    event: Event,
    now: i64,
) -> anyhow::Result<EventReport> {
    let rows = db::events::rsvps(pool, event.id).await?;
    let rsvps: Vec<rules::Rsvp> = rows.iter().map(db::events::RsvpRow::rsvp).collect();
    let attendees = attendees(pool, config, &event, now).await?;
    let earlier = db::events::earlier_attendees(pool, event.guild(), event.start_at).await?;
    let recent =
        db::events::joined_since(pool, event.guild(), event.start_at - 30 * 86_400).await?;
    Ok(EventReport {
        figures: rules::figures(&rsvps, &attendees),
        feedback: surveys::event_ratings(pool, event.id).await?,
        first_timers: attendees.iter().filter(|u| !earlier.contains(u)).count(),
        newcomers: attendees.iter().filter(|u| recent.contains(u)).count(),
        event,
    })
}

pub async fn report(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    event_id: i64,
    now: i64,
) -> anyhow::Result<EventReport> {
    let event = event(pool, guild_id, event_id).await?;
    report_of(pool, config, event, now).await
}

/// Every event of a guild that started in `[from, to)`, with its figures.
pub async fn reports_between(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    from: i64,
    to: i64,
    now: i64,
) -> anyhow::Result<Vec<EventReport>> {
    let mut reports = Vec::new();
    for event in db::events::started_between(pool, guild_id, from, to).await? {
        if event.status == "cancelled" {
            continue;
        }
        reports.push(report_of(pool, config, event, now).await?);
    }
    Ok(reports)
}

/// The guild's scheduled events that have not started at `now`, soonest first, with their
/// answers so far (the events of `/event list`).
pub async fn upcoming_reports(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    now: i64,
) -> anyhow::Result<Vec<EventReport>> {
    let mut reports = Vec::new();
    for event in db::events::upcoming(pool, guild_id, now).await? {
        if event.is_scheduled() && event.start_at > now {
            reports.push(report_of(pool, config, event, now).await?);
        }
    }
    Ok(reports)
}

impl EventReport {
    /// The entry of `hearth report`'s `events` array.
    pub fn json(&self) -> Value {
        let f = &self.figures;
        json!({
            "id": self.event.id,
            "title": self.event.title,
            "start": DateTime::<Utc>::from_timestamp(self.event.start_at, 0).map(|t| t.to_rfc3339()),
            "going": f.going,
            "maybe": f.maybe,
            "cant": f.cant,
            "attended": f.attended,
            "no_shows": f.no_shows,
            "walk_ins": f.walk_ins,
            "score": self.average_score().map(|s| (s * 100.0).round() / 100.0),
            "responses": self.feedback.len(),
        })
    }

    /// The attendees' average rating (1-5).
    pub fn average_score(&self) -> Option<f64> {
        #[allow(clippy::cast_precision_loss)]
        (!self.feedback.is_empty()).then(|| {
            self.feedback.iter().map(|f| f.score).sum::<i64>() as f64 / self.feedback.len() as f64
        })
    }

    /// Feedback responses ÷ attendees; `None` when nobody attended.
    pub fn feedback_rate(&self) -> Option<f64> {
        #[allow(clippy::cast_precision_loss)]
        (self.figures.attended > 0)
            .then(|| self.feedback.len() as f64 / self.figures.attended as f64)
    }

    /// Ratings and comments: an anonymous one never names its author, to anyone.
    fn feedback_text(&self) -> String {
        let responses = self.feedback.len();
        if responses == 0 {
            return "\nNo feedback yet.".to_owned();
        }
        let rate = self
            .feedback_rate()
            .map_or_else(|| "n/a".to_owned(), |r| format!("{:.0}%", r * 100.0));
        let comments: Vec<String> = self
            .feedback
            .iter()
            .filter_map(|f| {
                let comment = f.comment.as_deref().filter(|c| !c.trim().is_empty())?;
                let who = f
                    .author
                    .map_or_else(|| "anonymous".to_owned(), |user| format!("<@{user}>"));
                Some(format!(
                    "> {} ({}/5, {who})",
                    comment.replace('\n', " "),
                    f.score
                ))
            })
            .collect();
        format!(
            "\nFeedback: average {:.1}/5 from {responses} response(s) · response rate {rate}{}{}",
            self.average_score().unwrap_or(0.0),
            if comments.is_empty() { "" } else { "\n" },
            comments.join("\n")
        )
    }

    /// The text of `/event report`.
    pub fn text(&self) -> String {
        let f = &self.figures;
        let e = &self.event;
        let rate = f.show_up_rate.map_or_else(
            || "n/a (nobody was Going)".to_owned(),
            |r| format!("{:.0}%", r * 100.0),
        );
        format!(
            "**Event #{}: {}** · <t:{}:F> · {}\nGoing {} · Maybe {} · Can't go {} · Waitlist {} · Interested in Discord {}\nAttended {} · show-up rate {rate} · no-shows {} · walk-ins {} · first-time attendees {} · newcomers (joined < 30 days) {}",
            e.id, e.title, e.start_at, e.status, f.going, f.maybe, f.cant, f.waitlist, e.interested, f.attended, f.no_shows, f.walk_ins, self.first_timers, self.newcomers
        ) + &self.feedback_text()
    }
}

/// `hearth report`'s `events` array: the events that started on the report's days (in the
/// server's time zone), with their figures.
pub async fn report_json(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    timezone: Tz,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    now: i64,
) -> anyhow::Result<Value> {
    let (start, end) = crate::domain::schedule::days_span(from, to, timezone);
    let reports = reports_between(pool, config, guild_id, start, end, now).await?;
    Ok(Value::Array(
        reports.iter().map(EventReport::json).collect(),
    ))
}

/// `/stats events [days]`: each event that started in the last `days` with its figures, and
/// the retention of newcomers who attended an event in their first 30 days against those of
/// the same join weeks who did not (over the last year of joins).
pub async fn stats(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    days: i64,
    now: i64,
) -> anyhow::Result<String> {
    let tz = settings::timezone(pool, config, guild_id).await?;
    let recent = reports_between(pool, config, guild_id, now - days * 86_400, now + 1, now).await?;
    let mut lines = vec![format!("**Events, last {days} days**")];
    if recent.is_empty() {
        lines.push("No events in this period.".into());
    }
    for report in &recent {
        let f = &report.figures;
        let rate = f
            .show_up_rate
            .map_or_else(|| "n/a".to_owned(), |r| format!("{:.0}%", r * 100.0));
        lines.push(format!(
            "#{} {} · <t:{}:d> · Going {} · attended {} · show-up {rate} · no-shows {} · walk-ins {}",
            report.event.id, report.event.title, report.event.start_at, f.going, f.attended, f.no_shows, f.walk_ins
        ));
    }
    let mut series: std::collections::BTreeMap<i64, Vec<&EventReport>> =
        std::collections::BTreeMap::new();
    for report in &recent {
        if let Some(id) = report.event.series_id {
            series.entry(id).or_default().push(report);
        }
    }
    for (id, occurrences) in &series {
        let total = |f: fn(&rules::EventFigures) -> usize| {
            occurrences.iter().map(|r| f(&r.figures)).sum::<usize>()
        };
        let (going, attended, no_shows) = (
            total(|f| f.going),
            total(|f| f.attended),
            total(|f| f.no_shows),
        );
        #[allow(clippy::cast_precision_loss)]
        let rate = if going > 0 {
            format!("{:.0}%", (going - no_shows) as f64 / going as f64 * 100.0)
        } else {
            "n/a".to_owned()
        };
        lines.push(format!(
            "Series #{id} {} · {} occurrence(s) · Going {going} · attended {attended} · show-up {rate}",
            occurrences[0].event.title,
            occurrences.len()
        ));
    }
    let local_day =
        |ts: i64| crate::domain::analytics::day_number(crate::domain::schedule::local_date(ts, tz));
    let today = local_day(now);
    let year = reports_between(pool, config, guild_id, now - 400 * 86_400, now + 1, now).await?;
    let mut first_attended: std::collections::HashMap<u64, i64> = std::collections::HashMap::new();
    for report in &year {
        for user in attendees(pool, config, &report.event, now).await? {
            let day = local_day(report.event.start_at);
            first_attended
                .entry(user)
                .and_modify(|d| *d = (*d).min(day))
                .or_insert(day);
        }
    }
    let newcomers: Vec<rules::Newcomer> = db::events::newcomers(pool, guild_id, today - 400)
        .await?
        .into_iter()
        .map(|(user, join_day, r30, r90)| rules::Newcomer {
            join_day,
            retained_30: r30,
            retained_90: r90,
            first_attended_day: first_attended.get(&db::from_sql_id(user)).copied(),
        })
        .collect();
    let (went, did_not) = rules::attendee_retention(&newcomers, today);
    let pct = |r: Option<f64>| r.map_or_else(|| "n/a".to_owned(), |r| format!("{:.0}%", r * 100.0));
    lines.push(String::new());
    lines.push("**Do events keep newcomers?** (joined in the last year; attended in their first 30 days vs the same join weeks who did not)".into());
    lines.push(format!(
        "30-day retention: attended {} of {} · did not {} of {}",
        pct(went.rate_30()),
        went.members_30,
        pct(did_not.rate_30()),
        did_not.members_30
    ));
    lines.push(format!(
        "90-day retention: attended {} of {} · did not {} of {}",
        pct(went.rate_90()),
        went.members_90,
        pct(did_not.rate_90()),
        did_not.members_90
    ));
    Ok(posts::truncate(&lines.join("\n"), posts::MESSAGE_LIMIT))
}

/// The monthly report's "Events" field from `report_json`'s array; none in a month without
/// events.
pub fn month_field(events: &Value) -> Option<Value> {
    let events = events.as_array().filter(|e| !e.is_empty())?;
    let sum = |key: &str| events.iter().filter_map(|e| e[key].as_u64()).sum::<u64>();
    let (going, attended, no_shows) = (sum("going"), sum("attended"), sum("no_shows"));
    let show_up = if going > 0 {
        #[allow(clippy::cast_precision_loss)]
        let rate = (going - no_shows) as f64 / going as f64;
        format!("{:.0}%", rate * 100.0)
    } else {
        "n/a".to_owned()
    };
    Some(json!({
        "name": "Events",
        "value": format!("{} held · {going} going · {attended} attended · show-up {show_up}", events.len()),
        "inline": true,
    }))
}
