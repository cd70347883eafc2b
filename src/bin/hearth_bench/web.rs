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

/// Every session asks for `path` `rounds` times, all sessions at once; the latency of each
/// answer (status 200 required), and the wall time of the whole load.
async fn load(
    origin: &str,
    cookies: &[String],
    path: &str,
    rounds: usize,
) -> anyhow::Result<(Vec<Duration>, Duration)> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for cookie in cookies {
        // A client per session: its own connection, kept alive, as a browser would.
        let http = reqwest::Client::builder().build()?;
        let (url, cookie) = (format!("{origin}{path}"), cookie.clone());
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::with_capacity(rounds);
            for _ in 0..rounds {
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

/// The load on each page, printed beside the static page's, as JSON for the report.
pub async fn run(emu: &Emulator, origin: &str, guild: u64, manager: u64) -> anyhow::Result<Value> {
    const SESSIONS: usize = 50;
    const ROUNDS: usize = 20;
    let cookies = sessions(emu, origin, manager, SESSIONS).await?;
    let pages = [
        ("static page (baseline)", "/static/style.css".to_owned()),
        ("health, last 30 days", format!("/servers/{guild}")),
        (
            "retention, weekly cohorts",
            format!("/servers/{guild}/retention"),
        ),
    ];
    let ms = |d: Duration| (d.as_secs_f64() * 10_000.0).round() / 10.0;
    let pct = |v: &[Duration], p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "\ndashboard, {SESSIONS} sessions at once, {ROUNDS} rounds each\n{:<34} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "", "req/s", "p50, ms", "p95, ms", "p99, ms", "max, ms"
    );
    let mut report = json!({ "sessions": SESSIONS, "rounds": ROUNDS });
    for (name, path) in pages {
        // One warm-up round (connections, statement cache, the first computation).
        load(origin, &cookies, &path, 1).await?;
        let (times, wall) = load(origin, &cookies, &path, ROUNDS).await?;
        let rate = times.len() as f64 / wall.as_secs_f64();
        println!(
            "{name:<34} {rate:>10.0} {:>10.1} {:>10.1} {:>10.1} {:>10.1}",
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
