//! The pages: server list, health, retention, members. Each checks the session and the
//! manager rule, reads through the same feature code as `/stats` and `hearth report`, and
//! renders.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;
use maud::{html, Markup};
use serde::Deserialize;

use super::access::{self, Denied};
use super::auth::{self, Session};
use super::views::{self, frame, percent, Mention, PageError, UserBar};
use super::Web;
use crate::domain::analytics::CohortPeriod;

/// The longest range a page shows: three years (longer reports are `hearth report`'s job).
const MAX_DAYS: i64 = 3 * 366;

pub(super) fn bar(web: &Web, session: &Session) -> UserBar {
    UserBar {
        name: web.access.name_of(session.user_id),
        csrf: session.csrf(),
    }
}

fn path_and_query(uri: &Uri) -> String {
    uri.path_and_query()
        .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned())
}

/// `GET /`: the servers the user manages, or the login button.
pub async fn home(State(web): State<Web>, headers: HeaderMap) -> Result<Response, PageError> {
    let Some(session) = auth::session(&web, &headers).await? else {
        let page = frame(
            "Log in",
            None,
            html! {
                h1 { "Hearth dashboard" }
                p { "Community health, retention and more for the servers you manage." }
                p { a.button href="/login" { "Log in with Discord" } }
                p.small { "Hearth asks Discord who you are and which servers you are in (scopes identify and guilds). You see a server only if you manage it: Manage Server, Administrator or its manager role." }
            },
        );
        return Ok(page.into_response());
    };
    let servers = access::managed_servers(&web, session.user_id).await?;
    let page = frame(
        "Your servers",
        Some(&bar(&web, &session)),
        html! {
            h1 { "Your servers" }
            @if servers.is_empty() {
                p.notice { "You manage no server that Hearth is in. A manager has Manage Server, Administrator or the server's manager role (/config manager-role)." }
            } @else {
                ul.servers {
                    @for (id, name) in &servers {
                        li { a href=(format!("/servers/{id}")) { (name) } }
                    }
                }
            }
        },
    );
    Ok(page.into_response())
}

/// The server of a path (`/servers/{guild}/…`), once the session and the manager rule allow
/// it: a handler taking an `Allowed` only runs for a manager of that server.
pub(super) struct Allowed {
    pub(super) session: Session,
    pub(super) guild_id: u64,
    pub(super) name: String,
}

impl FromRequestParts<Web> for Allowed {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, web: &Web) -> Result<Self, PageError> {
        let unknown = || PageError::NotFound("Hearth is not in this server.".into());
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, web)
            .await
            .map_err(|_| unknown())?;
        let guild = params.get("guild").ok_or_else(unknown)?;
        allowed(web, &parts.headers, &parts.uri, guild).await
    }
}

impl Allowed {
    /// A server's page: the top bar, the heading, the tab bar (`query` carried to the tabs
    /// that read a date range) and `body`.
    pub(super) fn page(
        &self,
        web: &Web,
        (tab, heading): (&str, &str),
        query: &str,
        body: Markup,
    ) -> Markup {
        frame(
            &format!("{} · {heading}", self.name),
            Some(&bar(web, &self.session)),
            html! {
                h1 { (self.name) " · " (heading) }
                (tabs(self.guild_id, tab, query))
                (body)
            },
        )
    }
}

async fn allowed(
    web: &Web,
    headers: &HeaderMap,
    uri: &Uri,
    guild: &str,
) -> Result<Allowed, PageError> {
    let session = auth::require(web, headers, &path_and_query(uri)).await?;
    let unknown = || PageError::NotFound("Hearth is not in this server.".into());
    let guild_id = guild.parse::<u64>().map_err(|_| unknown())?;
    match access::guard(web, guild_id, session.user_id).await? {
        Ok(()) => {}
        Err(Denied::UnknownServer) => return Err(unknown()),
        Err(Denied::NotManager) => {
            return Err(PageError::Forbidden(
                "Only managers of this server can see its dashboard: Manage Server, Administrator or its manager role.".into(),
            ))
        }
    }
    let name = access::server_name(web, guild_id).await?;
    Ok(Allowed {
        session,
        guild_id,
        name,
    })
}

#[derive(Deserialize, Default)]
pub struct RangeQuery {
    pub(super) from: Option<String>,
    pub(super) to: Option<String>,
    pub(super) by: Option<String>,
}

/// The days of a page: `?from=&to=` (YYYY-MM-DD), default the last 30 days in the server's
/// time zone.
pub(super) async fn range(
    web: &Web,
    guild_id: u64,
    query: &RangeQuery,
    default_days: i64,
) -> Result<(Tz, NaiveDate, NaiveDate), PageError> {
    let tz = crate::features::settings::timezone(&web.pool, &web.config, guild_id).await?;
    let date = |value: &Option<String>, name: &str| -> Result<Option<NaiveDate>, PageError> {
        match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(Some)
                .map_err(|_| {
                    PageError::BadRequest(format!(
                        "`{name}` must be a date written YYYY-MM-DD, not `{text}`."
                    ))
                }),
        }
    };
    let today = crate::domain::clock::now().with_timezone(&tz).date_naive();
    let to = date(&query.to, "to")?.unwrap_or(today);
    let from = date(&query.from, "from")?.unwrap_or(to - Duration::days(default_days - 1));
    if from > to {
        return Err(PageError::BadRequest(format!(
            "The range starts ({from}) after it ends ({to})."
        )));
    }
    if (to - from).num_days() + 1 > MAX_DAYS {
        return Err(PageError::BadRequest(format!(
            "A page shows at most {MAX_DAYS} days; `hearth report` covers longer ranges."
        )));
    }
    Ok((tz, from, to))
}

/// The pages of a server, in the order of the tab bar, and whether each reads a date range
/// (`?from=&to=`, carried from tab to tab).
const TABS: [(&str, &str, bool); 11] = [
    ("health", "", true),
    ("retention", "/retention", true),
    ("members", "/members", true),
    ("events", "/events", true),
    ("surveys", "/surveys", false),
    ("connections", "/connections", false),
    ("feedback", "/feedback", false),
    ("flags", "/flags", false),
    ("inbox", "/inbox", false),
    ("calendar", "/calendar", false),
    ("audit", "/audit", false),
];

pub(super) fn tabs(guild_id: u64, on: &str, query: &str) -> Markup {
    html! {
        nav.tabs {
            a href="/" { "← servers" }
            @for (name, path, ranged) in TABS {
                @let query = if ranged { query } else { "" };
                a class=@if name == on { "on" } href=(format!("/servers/{guild_id}{path}{query}")) { (name) }
            }
        }
    }
}

pub(super) fn range_form(action: &str, from: NaiveDate, to: NaiveDate) -> Markup {
    html! {
        form.range method="get" action=(action) {
            label { "from" input type="date" name="from" value=(from); }
            label { "to" input type="date" name="to" value=(to); }
            button type="submit" { "Show" }
        }
    }
}

pub(super) fn card(label: &str, value: String, sub: Option<String>) -> Markup {
    html! {
        div.card {
            div.label { (label) }
            div.value { (value) }
            @if let Some(sub) = sub { div.sub { (sub) } }
        }
    }
}

/// `GET /servers/{id}?from=&to=`: the figures of `/stats overview` for the range.
pub async fn health(
    State(web): State<Web>,
    allowed: Allowed,
    Query(query): Query<RangeQuery>,
) -> Result<Response, PageError> {
    let guild_id = allowed.guild_id;
    let (tz, from, to) = range(&web, guild_id, &query, 30).await?;
    let (figures, computed) = web.figures.health(&web, guild_id, tz, (from, to)).await?;
    let super::figures::Health {
        report,
        talk,
        connected,
        events,
        surveys: waves,
    } = &*figures;
    let last = report.daily.last();
    let (dau, wau, mau) = last.map_or((0, 0, 0), |d| (d.dau, d.wau, d.mau));
    let stickiness = (mau > 0).then(|| dau as f64 / mau as f64);
    let messages: usize = report.daily.iter().map(|d| d.messages).sum();
    let joins: usize = report.daily.iter().map(|d| d.joins).sum();
    let leaves: usize = report.daily.iter().map(|d| d.leaves).sum();
    let activation = report.activation.rate.map(|_| {
        format!(
            "{} of {} joined",
            report.activation.activated, report.activation.joined
        )
    });
    let first_reply = talk
        .median_first_reply_secs
        .map_or_else(|| "n/a".to_owned(), crate::outbox::posts::human_duration);
    let range_query = format!("?from={from}&to={to}");
    let page = allowed.page(
        &web,
        ("health", "community health"),
        &range_query,
        html! {
            (range_form(&format!("/servers/{guild_id}"), from, to))
            p.small { (from) " to " (to) " · days in " (tz.name()) " · DAU, WAU and MAU of the last day · " (super::figures::age(computed)) }
            div.cards {
                (card("DAU", dau.to_string(), None))
                (card("WAU", wau.to_string(), None))
                (card("MAU", mau.to_string(), None))
                (card("Stickiness (DAU/MAU)", percent(stickiness), None))
                (card("Messages", messages.to_string(), None))
                (card("New members", joins.to_string(), Some(format!("{leaves} left"))))
                (card("Activation", percent(report.activation.rate), activation.or(Some("no one joined 7+ days ago".into()))))
                (card("Replies per post", talk.replies_per_post.map_or_else(|| "n/a".to_owned(), |r| format!("{r:.2}")), None))
                (card("Member-started threads", percent(talk.member_initiated), None))
                (card("Newcomers' first reply", first_reply, Some(format!("median · {} unanswered", talk.unanswered_newcomers))))
                (card("Connected members", connected.connected.to_string(), Some(match connected.new_pairs { 1 => "1 new connection".to_owned(), n => format!("{n} new connections") })))
            }
            h2 { "Active members per day" }
            (views::activity_svg(&report.daily))
            h2 { "Events" }
            @if events.is_empty() {
                p.small { "No event started in this range." }
            } @else {
                table {
                    thead { tr { th { "event" } th { "start" } th { "going" } th { "attended" } th { "show-up" } th { "no-shows" } th { "walk-ins" } th { "rating" } } }
                    tbody { @for e in events {
                        tr {
                            td { "#" (e.event.id) " " (e.event.title) }
                            td { (chrono::DateTime::from_timestamp(e.event.start_at, 0).map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default()) }
                            td.num { (e.figures.going) }
                            td.num { (e.figures.attended) }
                            td.num { (percent(e.figures.show_up_rate)) }
                            td.num { (e.figures.no_shows) }
                            td.num { (e.figures.walk_ins) }
                            td.num { (e.average_score().map_or_else(|| "n/a".to_owned(), |s| format!("{s:.1}/5"))) }
                        }
                    } }
                }
            }
            h2 { "NPS surveys" }
            @if waves.is_empty() {
                p.small { "No NPS wave in this range (/survey nps starts one)." }
            } @else {
                table {
                    thead { tr { th { "survey" } th { "wave" } th { "date" } th { "NPS" } th { "responses" } th { "promoters" } th { "passives" } th { "detractors" } } }
                    tbody { @for w in waves {
                        tr {
                            td.num { (w["id"]) }
                            td.num { (w["wave"]) }
                            td { (w["date"].as_str().unwrap_or_default()) }
                            td.num { (w["nps"].as_f64().map_or_else(|| "n/a".to_owned(), |n| format!("{n:.0}"))) }
                            td.num { (w["responses"]) " of " (w["reached"]) }
                            td.num { (w["promoters"]) }
                            td.num { (w["passives"]) }
                            td.num { (w["detractors"]) }
                        }
                    } }
                }
            }
        },
    );
    Ok(page.into_response())
}

/// `GET /servers/{id}/retention?by=month|week`: the cohorts of `hearth report` as a heatmap.
pub async fn retention(
    State(web): State<Web>,
    allowed: Allowed,
    Query(query): Query<RangeQuery>,
) -> Result<Response, PageError> {
    let guild_id = allowed.guild_id;
    let (tz, from, to) = range(&web, guild_id, &query, 365).await?;
    let (period, by) = match query.by.as_deref() {
        Some("week") => (CohortPeriod::IsoWeek, "week"),
        None | Some("" | "month") => (CohortPeriod::Month, "month"),
        Some(other) => {
            return Err(PageError::BadRequest(format!(
                "`by` is month or week, not `{other}`."
            )))
        }
    };
    let (report, computed) = web
        .figures
        .retention(&web, guild_id, tz, (from, to), period)
        .await?;
    let range_query = format!("?from={from}&to={to}");
    let page = allowed.page(
        &web,
        ("retention", "retention"),
        &range_query,
        html! {
            form.range method="get" action=(format!("/servers/{guild_id}/retention")) {
                label { "from" input type="date" name="from" value=(from); }
                label { "to" input type="date" name="to" value=(to); }
                label { "cohorts"
                    select name="by" {
                        option value="month" selected[by == "month"] { "by month" }
                        option value="week" selected[by == "week"] { "by ISO week" }
                    }
                }
                button type="submit" { "Show" }
            }
            p.small { "Members who joined in each " (by) ", and the share of them active 30-59 and 90-119 days after joining · " (super::figures::age(computed)) }
            (views::retention_table(&report.retention))
        },
    );
    Ok(page.into_response())
}

/// `GET /servers/{id}/members?from=&to=`: top contributors and quiet experts (managers only;
/// members who opted out never appear).
pub async fn members(
    State(web): State<Web>,
    allowed: Allowed,
    Query(query): Query<RangeQuery>,
) -> Result<Response, PageError> {
    let guild_id = allowed.guild_id;
    let (tz, from, to) = range(&web, guild_id, &query, 30).await?;
    let report =
        crate::features::stats::report(&web.pool, guild_id, tz, from, to, CohortPeriod::Month)
            .await?;
    // The report leaves opted-out members off its leaderboard already.
    let top: Vec<(u64, u64)> = report
        .top_contributors
        .iter()
        .filter_map(|c| Some((c.user_id.parse::<u64>().ok()?, c.activity)))
        .collect();
    let experts =
        crate::features::stats::quiet_experts(&web.pool, guild_id, tz, from, to, 5).await?;
    let name = |user: u64| member_name(&web, guild_id, user);
    let range_query = format!("?from={from}&to={to}");
    let page = allowed.page(
        &web,
        ("members", "members"),
        &range_query,
        html! {
            (range_form(&format!("/servers/{guild_id}/members"), from, to))
            h2 { "Top contributors" }
            @if top.is_empty() {
                p.notice { "No activity recorded in this range yet." }
            } @else {
                table {
                    thead { tr { th { "#" } th { "member" } th { "activities" } } }
                    tbody { @for (i, (user, activity)) in top.iter().enumerate() {
                        tr { td.num { (i + 1) } td { (name(*user)) } td.num { (activity) } }
                    } }
                }
            }
            h2 { "Quiet experts" }
            p.small { "Members whose messages draw the most replies and reactions per message (at least 5 messages). Never shown publicly." }
            @if experts.is_empty() {
                p.notice { "Nobody qualifies yet." }
            } @else {
                table {
                    thead { tr { th { "#" } th { "member" } th { "replies and reactions per message" } th { "messages" } } }
                    tbody { @for (i, e) in experts.iter().enumerate() {
                        tr { td.num { (i + 1) } td { (name(e.user_id)) } td.num { (format!("{:.1}", e.per_message())) } td.num { (e.messages) } }
                    } }
                }
            }
        },
    );
    Ok(page.into_response())
}

/// Discord's mentions (`<#channel>`, `<@member>`, `<@&role>`, `<t:unix:F>`) as plain names and
/// times in the server's zone.
pub(super) fn plain_mentions(web: &Web, guild_id: u64, tz: Tz, text: &str) -> String {
    views::plain_mentions(text, |mention| match mention {
        Mention::Channel(channel) => format!(
            "#{}",
            web.directory
                .channel_name(guild_id, channel)
                .unwrap_or_else(|| channel.to_string())
        ),
        Mention::Role(role) => format!("@role {role}"),
        Mention::User(user) => format!("@{}", member_name(web, guild_id, user)),
        Mention::Time(at) => chrono::DateTime::from_timestamp(at, 0).map_or_else(
            || at.to_string(),
            |t| t.with_timezone(&tz).format("%H:%M").to_string(),
        ),
    })
}

/// A member's display name, or their id when the bot does not know them.
pub(super) fn member_name(web: &Web, guild_id: u64, user: u64) -> String {
    web.directory
        .member_name(guild_id, user)
        .unwrap_or_else(|| format!("member {user}"))
}

/// `GET /servers/{id}/feedback`: the feedback board, one column per status.
pub async fn feedback(State(web): State<Web>, allowed: Allowed) -> Result<Response, PageError> {
    use crate::domain::feedback::Status;
    let guild_id = allowed.guild_id;
    let tz = crate::features::settings::timezone(&web.pool, &web.config, guild_id).await?;
    let items = crate::db::feedback::list(&web.pool, guild_id, None, None, 0).await?;
    let sla_days = i64::from(web.config.feedback.sla_days);
    let now = crate::domain::clock::unix_now();
    let day_of = |secs: i64| {
        chrono::DateTime::from_timestamp(secs, 0)
            .map(|t| t.with_timezone(&tz).date_naive().to_string())
            .unwrap_or_default()
    };
    let page = allowed.page(
        &web,
        ("feedback", "feedback"),
        "",
        html! {
            p.small { (items.len()) " item(s), newest first. Late: new for more than " (sla_days) " days without a first answer (feedback.sla_days)." }
            div.board {
                @for status in Status::ALL {
                    @let column: Vec<_> = items.iter().filter(|i| i.status == status.name()).collect();
                    section.column {
                        h2 { (status.name()) " " span.count { (column.len()) } }
                        @for item in &column {
                            @let late = status == Status::New && now - item.created_at > sla_days * 86_400;
                            div.item {
                                div.title { "#" (item.id) " " (item.title) }
                                div.small {
                                    (item.category) " · " (day_of(item.created_at))
                                    @if late { " · " span.late { "late" } }
                                }
                            }
                        }
                    }
                }
            }
        },
    );
    Ok(page.into_response())
}

/// `GET /servers/{id}/calendar`: what is scheduled in the next 30 days, and the .ics link.
pub async fn calendar(State(web): State<Web>, allowed: Allowed) -> Result<Response, PageError> {
    let guild_id = allowed.guild_id;
    let now = crate::domain::clock::now();
    let calendar =
        crate::features::calendar::scheduled(&web.pool, &web.config, guild_id, now).await?;
    let items = calendar.occurrences(now + Duration::days(30));
    let tz = calendar.timezone;
    let page = allowed.page(
        &web,
        ("calendar", "calendar"),
        "",
        html! {
            p.small {
                "Prompts, AMAs, events and reports of the next 30 days, in server time (" (tz.name()) "). "
                a href=(format!("/servers/{guild_id}/calendar.ics")) { "Download the .ics file" }
                " for your calendar app (the same as /calendar format:ical)."
            }
            @if items.is_empty() {
                p.notice { "Nothing scheduled in the next 30 days." }
            } @else {
                table {
                    thead { tr { th { "when" } th { "what" } } }
                    tbody { @for (at, what) in &items {
                        tr {
                            td { (at.with_timezone(&tz).format("%a %d %b %Y %H:%M")) }
                            td { (plain_mentions(&web, guild_id, tz, what)) }
                        }
                    } }
                }
            }
        },
    );
    Ok(page.into_response())
}

/// `GET /servers/{id}/calendar.ics`: the calendar as an RFC 5545 file.
pub async fn calendar_ics(State(web): State<Web>, allowed: Allowed) -> Result<Response, PageError> {
    let calendar = crate::features::calendar::scheduled(
        &web.pool,
        &web.config,
        allowed.guild_id,
        crate::domain::clock::now(),
    )
    .await?;
    let (text, _) = calendar.ics(allowed.guild_id, &allowed.name);
    Ok((
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"hearth-calendar.ics\"",
            ),
        ],
        text,
    )
        .into_response())
}

/// `GET /servers/{id}/activity.png?from=&to=`: the PNG chart of `/stats overview`.
pub async fn activity_png(
    State(web): State<Web>,
    allowed: Allowed,
    Query(query): Query<RangeQuery>,
) -> Result<Response, PageError> {
    let (tz, from, to) = range(&web, allowed.guild_id, &query, 30).await?;
    let report = crate::features::stats::report(
        &web.pool,
        allowed.guild_id,
        tz,
        from,
        to,
        CohortPeriod::Month,
    )
    .await?;
    let png = crate::features::stats::chart::activity_png(&report)?;
    Ok(([(header::CONTENT_TYPE, "image/png")], png).into_response())
}

/// `GET /static/style.css`.
pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        views::STYLE,
    )
        .into_response()
}

/// Any other path.
pub async fn not_found() -> Response {
    let mut response = PageError::NotFound("There is no page here.".into()).into_response();
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}
