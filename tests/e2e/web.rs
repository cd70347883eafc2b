//! The web dashboard (issue 20, product §13): login through the emulator's OAuth2 in a real
//! headless Chromium, what a manager and a non-manager see, CSRF and logout; and the OAuth2
//! edge cases over plain HTTP.

use std::path::PathBuf;
use std::time::Duration;

use hearth::demo::harness::BotProcess;
use serde_json::Value;

use crate::browser::{free_port, Browser};
use crate::common::*;

/// A world whose bot serves the dashboard; returns the bot and the dashboard's origin.
pub(crate) async fn with_dashboard(world: &World) -> (BotProcess, String) {
    let port = free_port();
    let origin = format!("http://127.0.0.1:{port}");
    world.emu.add_oauth_redirect(&format!("{origin}/callback"));
    let extra = format!(
        "[web]\nbind = \"127.0.0.1:{port}\"\nclient_secret = \"{}\"\n",
        world.emu.oauth_client_secret()
    );
    let bot = world.start_bot_with(1, &extra).await;
    // The server list shows servers the store knows the bot is in: wait for its GUILD_CREATE.
    let store = world.store().await;
    for _ in 0..100 {
        if hearth::db::guilds::present(&store)
            .await
            .unwrap()
            .contains(&world.guild)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    store.close().await;
    (bot, origin)
}

/// Where screenshots go: `target/web-screenshots/` (kept as artifacts).
fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/web-screenshots")
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Some activity, so the pages have figures; waits until `/stats overview` shows it.
async fn some_activity(world: &World) {
    let ana = world.emu.add_user("ana", false);
    world.emu.add_member(world.guild, ana, &[]);
    let first = world.emu.user_message(world.general, ana, "hello", None);
    world
        .emu
        .user_message(world.general, world.member, "welcome!", Some(first));
    world
        .emu
        .thread_create_by_user(world.general, world.member, "a question");
    let shown = stats_once(world, "overview", |s| s.contains("DAU: 2")).await;
    assert!(shown.contains("DAU: 2"), "{shown}");
}

/// The number in the health page's card labelled `label`.
fn card_value(text: &str, label: &str) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let at = lines
        .iter()
        .position(|l| *l == label)
        .unwrap_or_else(|| panic!("no card `{label}` in:\n{text}"));
    lines[at + 1].to_owned()
}

#[tokio::test]
async fn a_manager_logs_in_through_discord_and_sees_the_same_figures_as_hearth_report() {
    let world = World::new().await;
    let (mut bot, origin) = with_dashboard(&world).await;
    some_activity(&world).await;
    let shots = screenshots();
    let browser = Browser::start().await;

    // Not logged in: the landing page, then Discord's consent page (the emulator's).
    browser.goto(&origin).await;
    browser.wait_for_text("Log in with Discord").await;
    browser.screenshot(&shots, "01-login.png").await;
    browser.click("a.button").await;
    assert!(
        browser.url().await.starts_with(&world.emu.base_url()),
        "at Discord"
    );
    browser.screenshot(&shots, "02-discord-consent.png").await;
    browser
        .click(&format!("button[value=\"{}\"]", world.manager))
        .await;

    // Back on the dashboard, logged in: the server list.
    let text = browser.wait_for_text("Your servers").await;
    assert!(text.contains("Hearth Test Guild"), "{text}");
    let session = browser.cookie_json("hearth_session").await;
    assert_eq!(session["httpOnly"], Value::Bool(true), "{session}");
    assert_eq!(session["sameSite"], "Lax", "{session}");
    browser.screenshot(&shots, "03-servers.png").await;

    // The health page.
    browser.click("ul.servers a").await;
    let health = browser.wait_for_text("community health").await;
    let dau = card_value(&health, "DAU");
    for label in [
        "WAU",
        "MAU",
        "Stickiness (DAU/MAU)",
        "Activation",
        "Replies per post",
        "Member-started threads",
        "Newcomers' first reply",
    ] {
        card_value(&health, label);
    }
    assert!(
        browser.text_of("svg.chart").await.contains('0'),
        "the chart is drawn"
    );
    assert!(
        health.contains("No event started in this range"),
        "{health}"
    );
    assert!(health.contains("NPS surveys"), "{health}");
    browser.screenshot(&shots, "04-health.png").await;

    // A date range picked in the form.
    let url = browser.url().await;
    browser
        .goto(&format!("{url}?from=2026-01-01&to=2026-01-31"))
        .await;
    let january = browser.text().await;
    assert!(january.contains("2026-01-01 to 2026-01-31"), "{january}");

    browser
        .goto(&format!("{origin}/servers/{}/retention", world.guild))
        .await;
    let retention = browser.text().await;
    assert!(retention.contains("30-day"), "{retention}");
    browser.screenshot(&shots, "05-retention.png").await;
    browser
        .goto(&format!("{origin}/servers/{}/members", world.guild))
        .await;
    let members = browser.text().await;
    assert!(members.contains("Top contributors"), "{members}");
    assert!(members.contains("Quiet experts"), "{members}");
    browser.screenshot(&shots, "06-members.png").await;
    browser
        .goto(&format!("{origin}/servers/{}/feedback", world.guild))
        .await;
    let board = browser.text().await;
    let board = board.to_lowercase();
    assert!(
        board.contains("in-progress") && board.contains("shipped"),
        "{board}"
    );
    browser.screenshot(&shots, "09-feedback.png").await;
    browser
        .goto(&format!("{origin}/servers/{}/calendar", world.guild))
        .await;
    assert!(browser.text().await.contains("Download the .ics file"));
    browser.screenshot(&shots, "10-calendar.png").await;

    // A server the bot is not in: 404, not a crash.
    browser.goto(&format!("{origin}/servers/42")).await;
    assert!(browser
        .text()
        .await
        .contains("Hearth is not in this server"));

    // A POST without the CSRF token (or with a wrong one) is refused, even with the session.
    let cookie = browser.cookie("hearth_session").await.expect("a session");
    let http = client();
    for body in ["", "csrf=0123"] {
        let refused = http
            .post(format!("{origin}/logout"))
            .header("cookie", format!("hearth_session={cookie}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 403, "body `{body}`");
    }

    // The .ics export behind the same login.
    let ics = http
        .get(format!("{origin}/servers/{}/calendar.ics", world.guild))
        .header("cookie", format!("hearth_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(ics.status(), 200);
    assert!(ics.text().await.unwrap().starts_with("BEGIN:VCALENDAR"));

    // Logout (the page's form, with its token) ends the session on the server.
    browser
        .goto(&format!("{origin}/servers/{}", world.guild))
        .await;
    browser.click("form.logout button").await;
    browser.wait_for_text("Log in with Discord").await;
    let after = http
        .get(format!("{origin}/servers/{}", world.guild))
        .header("cookie", format!("hearth_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 303, "the old cookie no longer works");
    assert!(after.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/login"));
    browser.close().await;

    // The same DAU as `hearth report` on the same store.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(bot.terminate().await.unwrap(), 0);
    let report: Value =
        serde_json::from_str(&hearth_report(&world, &["--format", "json"])).unwrap();
    let last = report["daily"].as_array().unwrap().last().unwrap();
    assert_eq!(dau, last["dau"].to_string(), "{report}");
    world.emu.assert_no_violations();
}

#[tokio::test]
async fn a_member_who_is_not_a_manager_sees_no_server_and_is_refused_by_url() {
    let world = World::new().await;
    let (_bot, origin) = with_dashboard(&world).await;
    let shots = screenshots();
    let browser = Browser::start().await;
    // Straight to a server's page: login first, then back to where they wanted to go.
    browser
        .goto(&format!("{origin}/servers/{}", world.guild))
        .await;
    browser
        .click(&format!("button[value=\"{}\"]", world.member))
        .await;
    let refused = browser.wait_for_text("Not allowed").await;
    assert!(!refused.contains("DAU"), "{refused}");
    browser.screenshot(&shots, "07-forbidden.png").await;
    browser.goto(&origin).await;
    let list = browser.text().await;
    assert!(list.contains("You manage no server"), "{list}");
    assert!(!list.contains("Hearth Test Guild"), "{list}");
    browser.screenshot(&shots, "08-no-servers.png").await;
    let cookie = browser.cookie("hearth_session").await.expect("a session");
    browser.close().await;
    let status = client()
        .get(format!("{origin}/servers/{}/retention", world.guild))
        .header("cookie", format!("hearth_session={cookie}"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 403);
}

/// The query parameters of a `Location`.
pub(crate) fn query_of(location: &str) -> std::collections::HashMap<String, String> {
    location
        .split_once('?')
        .map(|(_, q)| q)
        .unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

pub(crate) fn set_cookie(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .unwrap_or_else(|| panic!("no {name} cookie"))
        .to_owned()
}

#[tokio::test]
async fn oauth_edge_cases_bad_state_reused_code_and_open_redirects_are_refused() {
    let world = World::new().await;
    let (_bot, origin) = with_dashboard(&world).await;
    world.emu.oauth_auto_approve(Some(world.manager));
    let http = client();

    // `next` pointing at another site is dropped: the login comes back to `/`.
    let login = http
        .get(format!("{origin}/login?next=//evil.example/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303);
    let login_cookie = set_cookie(&login, "hearth_login");
    assert!(login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("HttpOnly"));
    let authorize = login.headers()["location"].to_str().unwrap().to_owned();
    let at_discord = http.get(&authorize).send().await.unwrap();
    assert_eq!(at_discord.status(), 302);
    let back = at_discord.headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        back.starts_with(&format!("{origin}/callback?code=")),
        "{back}"
    );
    let params = query_of(&back);

    // A state that is not the one this browser started with is refused.
    let forged = back.replace(&params["state"], "forged");
    let refused = http
        .get(&forged)
        .header("cookie", &login_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    // Without the login cookie (someone else's browser), the real state is refused too.
    assert_eq!(http.get(&back).send().await.unwrap().status(), 400);

    let done = http
        .get(&back)
        .header("cookie", &login_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303);
    assert_eq!(done.headers()["location"], "/", "no open redirect");
    let session = set_cookie(&done, "hearth_session");
    let home = http
        .get(&origin)
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), 200);
    for (name, value) in [
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
    ] {
        assert_eq!(home.headers()[name], value, "{name}");
    }
    assert!(home.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    assert!(home.text().await.unwrap().contains("Hearth Test Guild"));
    // Bad input is a page that says what is wrong, never a crash.
    let get = |path: String| {
        http.get(format!("{origin}{path}"))
            .header("cookie", &session)
            .send()
    };
    let guild = world.guild;
    let bad_date = get(format!("/servers/{guild}?from=yesterday"))
        .await
        .unwrap();
    assert_eq!(bad_date.status(), 400);
    assert!(bad_date.text().await.unwrap().contains("YYYY-MM-DD"));
    let backwards = get(format!("/servers/{guild}?from=2026-02-01&to=2026-01-01"));
    assert_eq!(backwards.await.unwrap().status(), 400);
    let by = get(format!("/servers/{guild}/retention?by=year"))
        .await
        .unwrap();
    assert_eq!(by.status(), 400);
    assert_eq!(
        get("/servers/not-a-number".into()).await.unwrap().status(),
        404
    );
    assert_eq!(get("/no/such/page".into()).await.unwrap().status(), 404);

    // The same code a second time: Discord says invalid_grant, the dashboard refuses.
    let again = http
        .get(&back)
        .header("cookie", &login_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400);

    // The emulator's token endpoint is as strict as Discord's.
    let token_url = format!("{}/api/v10/oauth2/token", world.emu.base_url());
    let app = world.emu.application_id().to_string();
    let secret = world.emu.oauth_client_secret();
    let redirect = format!("{origin}/callback");
    let exchange = |code: &str, secret: &str, redirect: &str| {
        http.post(&token_url).form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect),
            ("client_id", &app),
            ("client_secret", secret),
        ])
    };
    let reused = exchange(&params["code"], &secret, &redirect)
        .send()
        .await
        .unwrap();
    assert_eq!(reused.status(), 400);
    let body: Value = serde_json::from_slice(&reused.bytes().await.unwrap()).unwrap();
    assert_eq!(body["error"], "invalid_grant");
    let wrong_secret = exchange("whatever", "nope", &redirect)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_secret.status(), 401);
    let json_body = http
        .post(&token_url)
        .header("content-type", "application/json")
        .body("{\"grant_type\":\"authorization_code\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(json_body.status(), 400);
    let body: Value = serde_json::from_slice(&json_body.bytes().await.unwrap()).unwrap();
    assert_eq!(body["error"], "unsupported_grant_type");

    // A fresh code must come back to the redirect URI it was issued for.
    let fresh = http.get(&authorize).send().await.unwrap();
    let code = query_of(fresh.headers()["location"].to_str().unwrap())["code"].clone();
    let elsewhere = exchange(&code, &secret, "http://127.0.0.1:1/callback")
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 400);

    // An unregistered redirect URI gets Discord's error page, never a redirect.
    let evil = authorize.replace(&encode(&redirect), &encode("https://evil.example/callback"));
    assert_ne!(evil, authorize);
    let page = http.get(&evil).send().await.unwrap();
    assert_eq!(page.status(), 400);
    assert!(page.headers().get("location").is_none());
}

/// Percent-encoding as the dashboard writes query values.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
