//! The community pages: events and attendance, surveys and NPS, peer connections. Each reads
//! through the feature code of `/event report`, `/survey results` and `/connect stats` (and
//! `hearth report`), and renders; nothing here counts anything itself.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono_tz::Tz;
use maud::{html, Markup};
use serde::Deserialize;

use super::pages::{card, range, range_form, Allowed, RangeQuery};
use super::views::{self, count_and_share, local_time, percent, PageError};
use super::Web;
use crate::domain::surveys::{self as survey_rules, Nps, Question, Summary};
use crate::features::events::EventReport;
use crate::features::surveys::{CustomSummary, SurveyResults, WaveResult};

/// An average rating out of 5, or "n/a".
fn rating(score: Option<f64>) -> String {
    score.map_or_else(|| "n/a".to_owned(), |s| format!("{s:.1}/5"))
}

/// `GET /servers/{id}/events?from=&to=`: the events coming up with their answers, and those
/// that started in the range (default: the last 90 days) with the figures of `/event report`.
pub async fn events(
    State(web): State<Web>,
    allowed: Allowed,
    Query(query): Query<RangeQuery>,
) -> Result<Response, PageError> {
    let guild_id = allowed.guild_id;
    let (tz, from, to) = range(&web, guild_id, &query, 90).await?;
    let now = crate::domain::clock::unix_now();
    let upcoming =
        crate::features::events::upcoming_reports(&web.pool, &web.config, guild_id, now).await?;
    let (start, end) = crate::domain::schedule::days_span(from, to, tz);
    let held = crate::features::events::reports_between(
        &web.pool,
        &web.config,
        guild_id,
        start,
        end.min(now + 1),
        now,
    )
    .await?;
    let range_query = format!("?from={from}&to={to}");
    let page = allowed.page(
        &web,
        ("events", "events and attendance"),
        &range_query,
        html! {
            h2 { "Coming up" }
            p.small { "Times in server time (" (tz.name()) "). Answers so far, as /event list shows them." }
            @if upcoming.is_empty() {
                p.notice { "No events coming up: /event create schedules one (a Discord event with an RSVP card)." }
            } @else {
                (upcoming_table(&upcoming, tz))
            }
            h2 { "Held" }
            (range_form(&format!("/servers/{guild_id}/events"), from, to))
            p.small { "Events that started from " (from) " to " (to) ", as /event report and hearth report count them. Show-up rate: Going members who attended ÷ Going. Rating: the attendees' average (1-5); response rate: ratings ÷ attendees." }
            @if held.is_empty() {
                p.notice { "No event started in this range. /event create schedules one; attendance comes from the event's voice channel, check-ins and /event attendance." }
            } @else {
                (held_table(&held, tz))
            }
        },
    );
    Ok(page.into_response())
}

fn upcoming_table(reports: &[EventReport], tz: Tz) -> Markup {
    html! {
        table {
            thead { tr { th { "event" } th { "starts" } th { "going" } th { "maybe" } th { "can't" } th { "waitlist" } th { "interested in Discord" } } }
            tbody { @for r in reports {
                @let f = &r.figures;
                tr {
                    td { "#" (r.event.id) " " (r.event.title) }
                    td.when { (local_time(r.event.start_at, tz)) }
                    td.num { (f.going) @if let Some(c) = r.event.capacity() { " / " (c) } }
                    td.num { (f.maybe) }
                    td.num { (f.cant) }
                    td.num { (f.waitlist) }
                    td.num { (r.event.interested) }
                }
            } }
        }
    }
}

fn held_table(reports: &[EventReport], tz: Tz) -> Markup {
    let now = crate::domain::clock::unix_now();
    html! {
        div.scroll { table.wide {
            thead { tr {
                th { "event" } th { "started" } th { "going" } th { "maybe" } th { "can't" } th { "waitlist" }
                th { "attended" } th { "show-up" } th { "no-shows" } th { "walk-ins" } th { "rating" } th { "responses" }
            } }
            tbody { @for r in reports {
                @let f = &r.figures;
                tr {
                    td { "#" (r.event.id) " " (r.event.title) @if r.event.end_at > now { " " span.live { "live" } } }
                    td.when { (local_time(r.event.start_at, tz)) }
                    td.num { (f.going) }
                    td.num { (f.maybe) }
                    td.num { (f.cant) }
                    td.num { (f.waitlist) }
                    td.num { (f.attended) }
                    td.num { (percent(f.show_up_rate)) }
                    td.num { (f.no_shows) }
                    td.num { (f.walk_ins) }
                    td.num { (rating(r.average_score())) }
                    td.num { (count_and_share(r.feedback.len(), r.feedback_rate())) }
                }
            } }
        } }
    }
}

/// `GET /servers/{id}/surveys`: every survey with its waves, as `/survey results` shows them:
/// NPS with its margin, the groups, response rates, segments hidden under 5 answers, the
/// latest wave's comments without names; a custom survey's questions summarised.
pub async fn surveys(State(web): State<Web>, allowed: Allowed) -> Result<Response, PageError> {
    let guild_id = allowed.guild_id;
    let tz = crate::features::settings::timezone(&web.pool, &web.config, guild_id).await?;
    let all = crate::features::surveys::all_results(&web.pool, guild_id).await?;
    let page = allowed.page(
        &web,
        ("surveys", "surveys and NPS"),
        "",
        html! {
            @if all.is_empty() {
                p.notice { "No surveys yet: /survey nps starts an NPS survey, /survey create a custom one (up to 5 questions)." }
            } @else {
                p.small { "Answers are anonymous: only aggregates and comments without names. NPS = % promoters (9-10) − % detractors (0-6), ± its 95% margin of error. Events' feedback is on the events page." }
                @for s in &all { (survey_section(&web, guild_id, s, tz)) }
            }
        },
    );
    Ok(page.into_response())
}

fn survey_section(web: &Web, guild_id: u64, results: &SurveyResults, tz: Tz) -> Markup {
    let survey = &results.survey;
    let channel = web
        .directory
        .channel_name(guild_id, survey.channel())
        .unwrap_or_else(|| survey.channel().to_string());
    let kind = if results.custom.is_some() || survey.questions.is_some() {
        "custom survey"
    } else {
        "NPS"
    };
    html! {
        section.survey {
            h2 { "#" (survey.id) " " (survey.title) }
            p.small {
                (kind) " · #" (channel)
                @if let Some(every) = &survey.every { " · repeats: " (every) }
                " · " (results.waves.len()) " wave(s)"
            }
            @match (results.waves.last(), &results.custom) {
                (None, _) => { p.notice { "No wave yet." } },
                (Some(latest), Some(custom)) => { (custom_section(latest, custom, tz)) },
                (Some(latest), None) => {
                    (nps_section(&results.waves, latest, tz))
                    @if results.waves.iter().any(|w| w.nps.responses > 0) {
                        h3 { "NPS per wave" }
                        img.png src=(format!("/servers/{guild_id}/surveys/{}/trend.png", survey.id)) alt="NPS per wave with its margin of error (the chart of /survey results)";
                    }
                },
            }
        }
    }
}

fn wave_state(wave: &WaveResult) -> &'static str {
    if wave.wave.is_open() {
        "open"
    } else {
        "closed"
    }
}

fn nps_section(waves: &[WaveResult], latest: &WaveResult, tz: Tz) -> Markup {
    let segment = |s: &Option<Nps>| {
        s.as_ref().map_or_else(
            || {
                format!(
                    "hidden (under {} answers)",
                    survey_rules::MIN_SEGMENT_RESPONSES
                )
            },
            Nps::shown,
        )
    };
    html! {
        div.scroll { table.wide {
            thead { tr {
                th { "wave" } th { "opened" } th { "NPS" } th { "promoters" } th { "passives" } th { "detractors" }
                th { "responses" } th { "reached" } th { "response rate" }
            } }
            tbody { @for w in waves.iter().rev() {
                tr {
                    td { (w.wave.number) " (" (wave_state(w)) ")" }
                    td.when { (local_time(w.wave.opened_at, tz)) }
                    td.num.when { (w.nps.shown()) }
                    td.num { (w.nps.promoters) }
                    td.num { (w.nps.passives) }
                    td.num { (w.nps.detractors) }
                    td.num { (w.nps.responses) }
                    td.num { (w.wave.reached) }
                    td.num { (percent(w.response_rate())) }
                }
            } }
        } }
        p.small { "Wave " (latest.wave.number) ": newcomers " (segment(&latest.newcomers)) " · veterans " (segment(&latest.veterans)) }
        h3 { "Comments on wave " (latest.wave.number) " (no names)" }
        @if latest.comments.is_empty() {
            p.small { "No comments." }
        } @else {
            ul.comments { @for c in &latest.comments { li { (c) } } }
        }
    }
}

fn custom_section(latest: &WaveResult, custom: &CustomSummary, tz: Tz) -> Markup {
    html! {
        p.small {
            "Wave " (latest.wave.number) " (" (wave_state(latest)) "), opened " (local_time(latest.wave.opened_at, tz))
            " · " (custom.respondents) " respondent(s) of " (latest.wave.reached) " reached"
        }
        @for (question, summary) in &custom.questions {
            (question_summary(question, summary))
        }
    }
}

fn question_summary(question: &Question, summary: &Summary) -> Markup {
    html! {
        div.question {
            h3 { (question.text()) }
            @match summary {
                Summary::Scale { average, counts } => {
                    p { "Average " strong { (average.map_or_else(|| "n/a".to_owned(), |a| format!("{a:.1}"))) } " (1-5)" }
                    table {
                        thead { tr { @for i in 1..=5 { th { (i) } } } }
                        tbody { tr { @for c in counts { td.num { (c) } } } }
                    }
                },
                Summary::Choice { counts } => {
                    table {
                        thead { tr { th { "answer" } th { "count" } } }
                        tbody { @for (option, n) in counts { tr { td { (option) } td.num { (n) } } } }
                    }
                },
                Summary::Text { answers } => {
                    @if answers.is_empty() {
                        p.small { "No answers." }
                    } @else {
                        ul.comments { @for a in answers { li { (a) } } }
                    }
                }
            }
        }
    }
}

/// `GET /servers/{id}/surveys/{survey}/trend.png`: the NPS trend over the waves, the PNG of
/// `/survey results`.
pub async fn survey_trend_png(
    State(web): State<Web>,
    allowed: Allowed,
    Path((_, survey)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let missing = || PageError::NotFound("This survey has no NPS chart.".into());
    let survey = survey.parse::<i64>().map_err(|_| missing())?;
    let results = match crate::features::surveys::results(&web.pool, allowed.guild_id, survey).await
    {
        Ok(results) => results,
        // No such survey, or no wave yet.
        Err(err) if err.is::<crate::error::UserError>() => return Err(missing()),
        Err(err) => return Err(err.into()),
    };
    let png = results.chart.ok_or_else(missing)?;
    Ok(([(header::CONTENT_TYPE, "image/png")], png).into_response())
}

#[derive(Deserialize, Default)]
pub struct DaysQuery {
    days: Option<String>,
}

/// `GET /servers/{id}/connections?days=`: the figures of `/connect stats` (default 90 days).
pub async fn connections(
    State(web): State<Web>,
    allowed: Allowed,
    Query(query): Query<DaysQuery>,
) -> Result<Response, PageError> {
    let guild_id = allowed.guild_id;
    let days = match query
        .days
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        None => 90,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|d| (1..=3650).contains(d))
            .ok_or_else(|| {
                PageError::BadRequest(format!(
                    "`days` is a number of days from 1 to 3650, not `{text}`."
                ))
            })?,
    };
    let now = crate::domain::clock::unix_now();
    let stats =
        crate::features::connections::stats_figures(&web.pool, &web.config, guild_id, days, now)
            .await?;
    let c = &stats.connected;
    let weeks: Vec<(String, u64)> = stats
        .weeks
        .iter()
        .map(|(monday, n)| {
            (
                crate::domain::analytics::date_of(*monday)
                    .format("%b %-d")
                    .to_string(),
                *n,
            )
        })
        .collect();
    let retention_row = |group: &str, r: &crate::domain::events::Retained| {
        html! {
            tr {
                td { (group) }
                td.num { (percent(r.rate_30())) } td.num { (r.members_30) }
                td.num { (percent(r.rate_90())) } td.num { (r.members_90) }
            }
        }
    };
    let nobody = stats.active == 0 && stats.paused == 0 && stats.made == 0;
    let page = allowed.page(
        &web,
        ("connections", "connections"),
        "",
        html! {
            form.range method="get" action=(format!("/servers/{guild_id}/connections")) {
                label { "days" input type="number" name="days" min="1" max="3650" value=(days); }
                button type="submit" { "Show" }
            }
            p.small { "The last " (days) " days, as /connect stats shows them. Connected members: active members who exchanged replies with another member (or posted in the same thread within an hour)." }
            @if nobody {
                p.notice { "Nobody takes part in connection rounds yet: /connect setup starts them, members opt in with /connect join. Connected members below count everyone's conversations anyway." }
            }
            div.cards {
                (card("Connected members", percent(c.rate()), Some(format!("{} of {} active", c.connected, c.active))))
                (card("New connections", c.new_pairs.to_string(), Some("pairs who talked for the first time".into())))
                (card("Taking part", stats.active.to_string(), Some(format!("{} paused", stats.paused))))
                (card("Matches", stats.made.to_string(), Some(format!("met: {}", stats.met))))
                (card("Met rate", percent(stats.met_rate()), None))
            }
            h2 { "New connections per week" }
            (views::bars_svg("New connections per week", &weeks))
            h2 { "Do connections keep newcomers?" }
            p.small { "Newcomers (joined in the last year) who met someone in their first 30 days against those of the same join weeks who did not; only members whose window is over count." }
            table {
                thead { tr { th { "newcomers" } th { "30-day retention" } th { "of" } th { "90-day retention" } th { "of" } } }
                tbody {
                    (retention_row("met someone", &stats.met_someone))
                    (retention_row("did not", &stats.did_not))
                }
            }
        },
    );
    Ok(page.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratings_have_one_decimal_out_of_five() {
        assert_eq!(rating(Some(4.25)), "4.2/5");
        assert_eq!(rating(Some(5.0)), "5.0/5");
        assert_eq!(rating(None), "n/a");
    }

    #[test]
    fn a_scale_question_shows_its_average_and_counts() {
        let question = Question::parse("scale: How was onboarding?").unwrap();
        let summary = Summary::Scale {
            average: Some(4.5),
            counts: [0, 0, 0, 1, 1],
        };
        let html = question_summary(&question, &summary).into_string();
        assert!(html.contains("How was onboarding?"), "{html}");
        assert!(html.contains("<strong>4.5</strong>"), "{html}");
        assert_eq!(
            html.matches("<td class=\"num\">1</td>").count(),
            2,
            "{html}"
        );
    }

    #[test]
    fn text_answers_are_escaped() {
        let question = Question::parse("text: Anything else?").unwrap();
        let summary = Summary::Text {
            answers: vec!["<script>x</script>".into()],
        };
        let html = question_summary(&question, &summary).into_string();
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }
}
