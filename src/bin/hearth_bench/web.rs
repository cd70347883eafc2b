//! The dashboard under load (issue 20): sessions logged in through the emulator's OAuth2, each a
//! client with its own connection, all asking for the same page at once, round after round: the
//! health page, the retention page, and a static page of the same server as the baseline.

use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use discord_emulator::Emulator;
use serde_json::{json, Value};

/// Logs `user` in `count` times; returns one session cookie per login.
pub async fn sessions(
    emu: &Emulator,
    origin: &str,
    user: u64,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    emu.oauth_auto_approve(Some(user));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let mut cookies = Vec::with_capacity(count);
    for _ in 0..count {
        let login = http.get(format!("{origin}/login")).send().await?;
        let login_cookie = cookie(&login, "hearth_login")?;
        let authorize = location(&login)?;
        let back = location(&http.get(&authorize).send().await?)?;
        let done = http
            .get(&back)
            .header("cookie", &login_cookie)
            .send()
            .await?;
        if done.status() != 303 {
            bail!("login answered {} instead of 303", done.status());
        }
        cookies.push(cookie(&done, "hearth_session")?);
    }
    Ok(cookies)
}

fn location(response: &reqwest::Response) -> anyhow::Result<String> {
    Ok(response
        .headers()
        .get("location")
        .context("no Location")?
        .to_str()?
        .to_owned())
}

fn cookie(response: &reqwest::Response, name: &str) -> anyhow::Result<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
        .with_context(|| format!("no {name} cookie"))
}

/// Every session asks for `path(session, round)` `rounds` times, all sessions at once; the
/// latency of each answer (status 200 required), and the wall time of the whole load.
async fn load(
    origin: &str,
    cookies: &[String],
    path: &dyn Fn(usize, usize) -> String,
    rounds: usize,
) -> anyhow::Result<(Vec<Duration>, Duration)> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (session, cookie) in cookies.iter().enumerate() {
        // A client per session: its own connection, kept alive, as a browser would.
        let http = reqwest::Client::builder().build()?;
        let urls: Vec<String> = (0..rounds)
            .map(|round| format!("{origin}{}", path(session, round)))
            .collect();
        let cookie = cookie.clone();
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::with_capacity(urls.len());
            for url in urls {
                let asked = Instant::now();
                let response = http.get(&url).header("cookie", &cookie).send().await?;
                let status = response.status();
                response.bytes().await?;
                if status != 200 {
                    bail!("{url} answered {status}");
                }
                times.push(asked.elapsed());
            }
            anyhow::Ok(times)
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    all.sort();
    Ok((all, started.elapsed()))
}

/// A page as the bench asks for it: its name, the path of each (session, round), the rounds.
type Page = (&'static str, Box<dyn Fn(usize, usize) -> String>, usize);

/// The load on each page, printed beside the static page's, as JSON for the report.
pub async fn run(emu: &Emulator, origin: &str, guild: u64, manager: u64) -> anyhow::Result<Value> {
    const SESSIONS: usize = 50;
    const ROUNDS: usize = 20;
    let cookies = sessions(emu, origin, manager, SESSIONS).await?;
    // The pages as managers open them (one range, its figures shared for a minute), then the
    // health page with a different range for every request: nothing to share, each request
    // computes (the price of a first view, or of a minute's figures expiring, under load).
    let today = hearth::domain::clock::now().date_naive();
    let distinct_range = move |session: usize, round: usize| {
        let to = today - chrono::Duration::days(((session * 2 + round) % 300) as i64);
        let from = to - chrono::Duration::days(29);
        format!("/servers/{guild}?from={from}&to={to}")
    };
    let pages: [Page; 4] = [
        (
            "static page (baseline)",
            Box::new(|_, _| "/static/style.css".to_owned()),
            ROUNDS,
        ),
        (
            "health, last 30 days",
            Box::new(move |_, _| format!("/servers/{guild}")),
            ROUNDS,
        ),
        (
            "retention, a year by month",
            Box::new(move |_, _| format!("/servers/{guild}/retention")),
            ROUNDS,
        ),
        (
            "health, a new range each request",
            Box::new(distinct_range),
            2,
        ),
    ];
    let ms = |d: Duration| (d.as_secs_f64() * 10_000.0).round() / 10.0;
    let pct = |v: &[Duration], p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "\ndashboard, {SESSIONS} sessions at once, {ROUNDS} rounds each (new ranges: 2)\n{:<36} {:>9} {:>10} {:>10} {:>10} {:>10}",
        "", "req/s", "p50, ms", "p95, ms", "p99, ms", "max, ms"
    );
    let mut report = json!({ "sessions": SESSIONS, "rounds": ROUNDS });
    for (name, path, rounds) in pages {
        // One warm-up round (connections, statement cache, the first computation); for the new
        // ranges it asks a range the timed rounds never ask.
        let warm_up = |session: usize, _| path(session + 1_000, 0);
        load(origin, &cookies, &warm_up, 1).await?;
        let (times, wall) = load(origin, &cookies, &*path, rounds).await?;
        let rate = times.len() as f64 / wall.as_secs_f64();
        println!(
            "{name:<36} {rate:>9.0} {:>10.1} {:>10.1} {:>10.1} {:>10.1}",
            ms(pct(&times, 0.5)),
            ms(pct(&times, 0.95)),
            ms(pct(&times, 0.99)),
            ms(pct(&times, 1.0))
        );
        report[name] = json!({
            "requests": times.len(), "per_sec": rate.round(),
            "p50": ms(pct(&times, 0.5)), "p95": ms(pct(&times, 0.95)),
            "p99": ms(pct(&times, 0.99)), "max": ms(pct(&times, 1.0)),
        });
    }
    Ok(report)
}
