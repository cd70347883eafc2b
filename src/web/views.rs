//! The dashboard's HTML: the page frame, error pages, charts as inline SVG, and the headers
//! every answer carries.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};
use tracing::error;

use crate::domain::analytics::{Cohort, Daily};

/// Why a page is not shown; each becomes a page, never a panic or an internal message.
#[derive(Debug)]
pub enum PageError {
    /// No session: off to `/login`, coming back to this path.
    LoginNeeded(String),
    Forbidden(String),
    NotFound(String),
    BadRequest(String),
    /// Discord (or the emulator) did not answer as expected during login.
    Upstream(String),
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for PageError {
    fn from(err: anyhow::Error) -> Self {
        Self::Internal(err)
    }
}

impl From<sqlx::Error> for PageError {
    fn from(err: sqlx::Error) -> Self {
        Self::Internal(err.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, text) = match self {
            Self::LoginNeeded(path) => {
                let url = format!("/login?next={}", encode_query(&path));
                return axum::response::Redirect::to(&url).into_response();
            }
            Self::Forbidden(text) => (StatusCode::FORBIDDEN, "Not allowed", text),
            Self::NotFound(text) => (StatusCode::NOT_FOUND, "Not found", text),
            Self::BadRequest(text) => (StatusCode::BAD_REQUEST, "Cannot show this", text),
            Self::Upstream(problem) => {
                let reference = crate::error::reference_id();
                error!(reference = %reference, problem = %problem, "dashboard login failed");
                (
                    StatusCode::BAD_GATEWAY,
                    "Login failed",
                    format!("Discord did not complete the login. If it keeps happening, give the bot's admin this reference: {reference}."),
                )
            }
            Self::Internal(err) => {
                let reference = crate::error::reference_id();
                error!(reference = %reference, error = format!("{err:#}"), "dashboard page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    format!("Something went wrong on our side. If it keeps happening, give the bot's admin this reference: {reference}."),
                )
            }
        };
        let page = frame(
            title,
            None,
            html! {
                h1 { (title) }
                p.notice { (text) }
                p { a href="/" { "Back to your servers" } }
            },
        );
        (status, page).into_response()
    }
}

/// The logged-in user's bar: who, and the logout form with its CSRF token.
pub struct UserBar {
    pub name: String,
    pub csrf: String,
}

/// The page frame: head, top bar, content.
pub fn frame(title: &str, user: Option<&UserBar>, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Hearth" }
                link rel="stylesheet" href="/static/style.css";
            }
            body {
                header.top {
                    a.brand href="/" { "Hearth" span.tag { "dashboard" } }
                    @if let Some(user) = user {
                        span.who { "Logged in as " (user.name) }
                        form.logout method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(user.csrf);
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main { (content) }
            }
        }
    }
}

/// Headers for every answer: no framing, no referrer (a login URL carries a code), no sniffing,
/// a CSP that allows this origin's stylesheet and images only, and no caching of pages.
pub async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let fixed = [
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Percent-encodes a query value.
pub fn encode_query(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The inverse of [`encode_query`]; `None` for malformed input.
pub fn decode_query(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A percentage, or "n/a".
pub fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "n/a".to_owned(), |s| format!("{:.0}%", s * 100.0))
}

/// A moment in the server's time zone: `03 Dec 2026 19:00`.
pub fn local_time(unix: i64, tz: chrono_tz::Tz) -> String {
    chrono::DateTime::from_timestamp(unix, 0).map_or_else(String::new, |t| {
        t.with_timezone(&tz).format("%d %b %Y %H:%M").to_string()
    })
}

/// A count and its share: `3 (75%)`, or `0` when the whole is zero.
pub fn count_and_share(part: usize, share: Option<f64>) -> String {
    match share {
        Some(_) => format!("{part} ({})", percent(share)),
        None => part.to_string(),
    }
}

/// What a Discord mention in a text stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mention {
    Channel(u64),
    Role(u64),
    User(u64),
    /// `<t:unix>` or `<t:unix:style>`.
    Time(i64),
}

/// Discord's mentions in `text` (`<#channel>`, `<@member>`, `<@&role>`, `<t:unix:F>`) replaced
/// by what `shown` makes of them; anything else between `<` and `>` is kept as it is.
pub fn plain_mentions(text: &str, shown: impl Fn(Mention) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let Some(end) = tail.find('>') else {
            out.push_str(tail);
            return out;
        };
        let inner = &tail[1..end];
        let id = |prefix: &str| {
            inner
                .strip_prefix(prefix)
                .and_then(|v| v.parse::<u64>().ok())
        };
        let time = inner
            .strip_prefix("t:")
            .and_then(|v| v.split(':').next())
            .and_then(|v| v.parse::<i64>().ok());
        let mention = if let Some(channel) = id("#") {
            Some(Mention::Channel(channel))
        } else if let Some(role) = id("@&") {
            Some(Mention::Role(role))
        } else if let Some(user) = id("@").or_else(|| id("@!")) {
            Some(Mention::User(user))
        } else {
            time.map(Mention::Time)
        };
        match mention {
            Some(mention) => out.push_str(&shown(mention)),
            None => out.push_str(&tail[..=end]),
        }
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Labelled counts as an SVG bar chart (new connections per week, ...).
pub fn bars_svg(label: &str, bars: &[(String, u64)]) -> Markup {
    const W: f64 = 760.0;
    const H: f64 = 200.0;
    const BOTTOM: f64 = 28.0;
    const TOP: f64 = 18.0;
    let top = bars.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    #[allow(clippy::cast_precision_loss)]
    let slot = W / bars.len().max(1) as f64;
    let plot = H - BOTTOM - TOP;
    #[allow(clippy::cast_precision_loss)]
    let height = |n: u64| plot * n as f64 / top as f64;
    html! {
        svg.chart viewBox=(format!("0 0 {W} {H}")) role="img" aria-label=(label) {
            line x1="0" y1=(H - BOTTOM) x2=(W) y2=(H - BOTTOM) stroke="#9a8f84" {}
            @for (i, (name, n)) in bars.iter().enumerate() {
                @let x = slot * i as f64;
                rect x=(format!("{:.1}", x + slot * 0.2)) y=(format!("{:.1}", H - BOTTOM - height(*n))) width=(format!("{:.1}", slot * 0.6)) height=(format!("{:.1}", height(*n))) fill="#c2410c" {}
                text x=(format!("{:.1}", x + slot / 2.0)) y=(format!("{:.1}", H - BOTTOM - height(*n) - 4.0)) text-anchor="middle" font-size="12" fill="#2b2520" { (n) }
                text x=(format!("{:.1}", x + slot / 2.0)) y=(H - 8.0) text-anchor="middle" font-size="12" fill="#5b524a" { (name) }
            }
        }
    }
}

/// DAU, WAU and MAU per day as an SVG line chart (no script, no external file).
pub fn activity_svg(daily: &[Daily]) -> Markup {
    const W: f64 = 760.0;
    const H: f64 = 240.0;
    const LEFT: f64 = 44.0;
    const BOTTOM: f64 = 28.0;
    let top = daily
        .iter()
        .map(|d| d.mau.max(d.wau).max(d.dau))
        .max()
        .unwrap_or(0)
        .max(1);
    let (plot_w, plot_h) = (W - LEFT - 10.0, H - BOTTOM - 10.0);
    let x = |i: usize| {
        let span = daily.len().saturating_sub(1).max(1) as f64;
        LEFT + plot_w * i as f64 / span
    };
    let y = |v: usize| 10.0 + plot_h * (1.0 - v as f64 / top as f64);
    let line = |pick: fn(&Daily) -> usize| -> String {
        daily
            .iter()
            .enumerate()
            .map(|(i, d)| format!("{:.1},{:.1}", x(i), y(pick(d))))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let first = daily
        .first()
        .map(|d| d.date.to_string())
        .unwrap_or_default();
    let last = daily.last().map(|d| d.date.to_string()).unwrap_or_default();
    html! {
        svg.chart viewBox=(format!("0 0 {W} {H}")) role="img" aria-label="DAU, WAU and MAU per day" {
            line x1=(LEFT) y1=(y(0)) x2=(W - 10.0) y2=(y(0)) stroke="#9a8f84" {}
            line x1=(LEFT) y1="10" x2=(LEFT) y2=(y(0)) stroke="#9a8f84" {}
            text x=(LEFT - 6.0) y="16" text-anchor="end" font-size="12" fill="#5b524a" { (top) }
            text x=(LEFT - 6.0) y=(y(0)) text-anchor="end" font-size="12" fill="#5b524a" { "0" }
            text x=(LEFT) y=(H - 8.0) font-size="12" fill="#5b524a" { (first) }
            text x=(W - 10.0) y=(H - 8.0) text-anchor="end" font-size="12" fill="#5b524a" { (last) }
            polyline points=(line(|d| d.mau)) fill="none" stroke="#c2410c" stroke-width="2" {}
            polyline points=(line(|d| d.wau)) fill="none" stroke="#d97706" stroke-width="2" {}
            polyline points=(line(|d| d.dau)) fill="none" stroke="#1d4ed8" stroke-width="2" {}
        }
        p.legend {
            span.k-dau { "■ DAU" } " " span.k-wau { "■ WAU" } " " span.k-mau { "■ MAU" }
        }
    }
}

/// The heat class of a retention share: `h0` (none) to `h10` (everyone).
fn heat(share: Option<f64>) -> String {
    match share {
        None => "na".to_owned(),
        Some(s) => format!("h{}", (s.clamp(0.0, 1.0) * 10.0).round() as u8),
    }
}

/// Join cohorts as a heatmap table: size, 30-day and 90-day retention.
pub fn retention_table(cohorts: &[Cohort]) -> Markup {
    html! {
        @if cohorts.is_empty() {
            p.notice { "No cohort in this range yet: cohorts appear as members join (or as history is imported)." }
        } @else {
            table.heatmap {
                thead { tr { th { "cohort" } th { "members" } th { "30-day" } th { "90-day" } } }
                tbody {
                    @for c in cohorts {
                        tr {
                            th { (c.cohort) }
                            td.num { (c.size) }
                            td class=(heat(c.d30)) { (percent(c.d30)) }
                            td class=(heat(c.d90)) { (percent(c.d90)) }
                        }
                    }
                }
            }
            p.small { "n/a: the window has not ended yet. 30-day: active on days 30-59 after joining; 90-day: days 90-119." }
        }
    }
}

/// The stylesheet (served at `/static/style.css`; the CSP allows no inline style).
pub const STYLE: &str = r#"
:root { --ink: #2b2520; --muted: #6b6158; --line: #e7dfd6; --bg: #fbf8f4; --card: #fff; --accent: #c2410c; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg); }
header.top { display: flex; align-items: center; gap: 1rem; padding: .6rem 1.2rem; background: #2b2520; color: #fff; }
header.top a.brand { color: #fff; font-weight: 700; text-decoration: none; margin-right: auto; }
header.top .tag { font-weight: 400; color: #fdba74; margin-left: .4rem; }
header.top .who { color: #e7dfd6; font-size: .9rem; }
form.logout { margin: 0; }
button, .button { font: inherit; background: var(--accent); color: #fff; border: 0; border-radius: 6px; padding: .35rem .8rem; cursor: pointer; text-decoration: none; display: inline-block; }
main { max-width: 980px; margin: 0 auto; padding: 1.2rem; }
h1 { font-size: 1.5rem; margin: .4rem 0 1rem; }
h2 { font-size: 1.15rem; margin: 1.6rem 0 .6rem; }
nav.tabs { display: flex; gap: .3rem; margin-bottom: 1rem; flex-wrap: wrap; }
nav.tabs a { padding: .3rem .55rem; border-radius: 6px; background: var(--card); border: 1px solid var(--line); color: var(--ink); text-decoration: none; }
nav.tabs a.on { background: var(--accent); border-color: var(--accent); color: #fff; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: .7rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: .7rem .9rem; }
.card .label { color: var(--muted); font-size: .85rem; }
.card .value { font-size: 1.6rem; font-weight: 700; }
.card .sub { color: var(--muted); font-size: .8rem; }
form.range { display: flex; gap: .6rem; align-items: end; flex-wrap: wrap; margin-bottom: 1rem; }
form.range label { display: flex; flex-direction: column; font-size: .85rem; color: var(--muted); }
form.range input { font: inherit; padding: .25rem .4rem; border: 1px solid var(--line); border-radius: 6px; }
svg.chart { width: 100%; height: auto; background: var(--card); border: 1px solid var(--line); border-radius: 10px; }
.legend { font-size: .85rem; color: var(--muted); }
.k-dau { color: #1d4ed8; } .k-wau { color: #d97706; } .k-mau { color: #c2410c; }
table { border-collapse: collapse; background: var(--card); }
th, td { border: 1px solid var(--line); padding: .35rem .7rem; text-align: left; }
td.num { text-align: right; }
table.heatmap td { text-align: center; min-width: 5.5rem; }
.na { color: var(--muted); }
.h0 { background: #fff7ed; } .h1 { background: #ffedd5; } .h2 { background: #fed7aa; } .h3 { background: #fdba74; }
.h4 { background: #fb923c; } .h5 { background: #f97316; color: #fff; } .h6 { background: #ea580c; color: #fff; }
.h7 { background: #c2410c; color: #fff; } .h8 { background: #9a3412; color: #fff; } .h9 { background: #7c2d12; color: #fff; } .h10 { background: #431407; color: #fff; }
ul.servers { list-style: none; padding: 0; display: grid; gap: .6rem; }
ul.servers a { display: block; background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: .8rem 1rem; color: var(--ink); text-decoration: none; font-weight: 600; }
.notice { background: #fff7ed; border: 1px solid #fed7aa; border-radius: 8px; padding: .6rem .8rem; }
.small { font-size: .85rem; color: var(--muted); }
.board { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: .6rem; }
.board .column { background: #f3ede6; border-radius: 10px; padding: .5rem; }
.board h2 { font-size: .95rem; margin: .2rem .2rem .5rem; }
.board .count { color: var(--muted); font-weight: 400; }
.board .item { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .45rem .55rem; margin-bottom: .45rem; }
.board .title { font-weight: 600; font-size: .9rem; overflow-wrap: anywhere; }
.late { color: #b91c1c; font-weight: 600; }
img.png { max-width: 100%; border: 1px solid var(--line); border-radius: 10px; }
h3 { font-size: 1rem; margin: 1rem 0 .4rem; }
.live { color: #fff; background: #15803d; border-radius: 4px; padding: 0 .35rem; font-size: .8rem; }
section.survey { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: .2rem 1rem 1rem; margin-bottom: 1rem; }
section.survey h2 { margin-top: .8rem; }
ul.comments { padding-left: 1.1rem; }
ul.comments li { margin: .2rem 0; overflow-wrap: anywhere; }
.reason + .reason { border-top: 1px dashed var(--line); margin-top: .2rem; padding-top: .2rem; }
table { max-width: 100%; }
td.when { white-space: nowrap; }
div.scroll { overflow-x: auto; max-width: 100%; }
table.wide { font-size: .88rem; }
table.wide th, table.wide td { padding: .3rem .45rem; }
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_round_trip() {
        for value in ["/servers/1?from=2026-01-01&to=x", "ü é", ""] {
            assert_eq!(decode_query(&encode_query(value)).as_deref(), Some(value));
        }
        assert_eq!(decode_query("%zz"), None);
    }

    #[test]
    fn mentions_become_names_and_times() {
        let shown = plain_mentions(
            "<t:1700000000:t> AMA in <#5> with <@7> and <@!8>, <@&9> <b> <t:x> a < b",
            |m| format!("[{m:?}]"),
        );
        assert_eq!(
            shown,
            "[Time(1700000000)] AMA in [Channel(5)] with [User(7)] and [User(8)], [Role(9)] <b> <t:x> a < b"
        );
        assert_eq!(
            plain_mentions("no mention", |_| unreachable!()),
            "no mention"
        );
    }

    #[test]
    fn times_are_shown_in_the_servers_zone() {
        let berlin: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
        // 2026-07-01 17:00 UTC is 19:00 in Berlin (summer time).
        assert_eq!(local_time(1_782_925_200, berlin), "01 Jul 2026 19:00");
        assert_eq!(
            local_time(1_782_925_200, chrono_tz::UTC),
            "01 Jul 2026 17:00"
        );
    }

    #[test]
    fn counts_show_their_share_when_there_is_one() {
        assert_eq!(count_and_share(3, Some(0.75)), "3 (75%)");
        assert_eq!(count_and_share(0, None), "0");
    }

    #[test]
    fn bars_are_scaled_to_the_largest() {
        let svg = bars_svg(
            "per week",
            &[
                ("Nov 2".into(), 0),
                ("Nov 9".into(), 4),
                ("Nov 16".into(), 2),
            ],
        )
        .into_string();
        assert_eq!(svg.matches("<rect").count(), 3, "{svg}");
        assert!(
            svg.contains("height=\"154.0\""),
            "the largest fills the plot: {svg}"
        );
        assert!(svg.contains("height=\"77.0\""), "half of it: {svg}");
        assert!(svg.contains(">Nov 16<"), "{svg}");
        // No bars: still a chart, nothing divided by zero.
        assert_eq!(
            bars_svg("none", &[]).into_string().matches("<rect").count(),
            0
        );
    }

    #[test]
    fn heat_classes_cover_the_range() {
        assert_eq!(heat(Some(0.0)), "h0");
        assert_eq!(heat(Some(0.44)), "h4");
        assert_eq!(heat(Some(1.0)), "h10");
        assert_eq!(heat(None), "na");
    }
}
