//! The web dashboard (issue 20, product §13): login through the emulator's OAuth2 in a real
//! headless Chromium, what a manager and a non-manager see, CSRF and logout; and the OAuth2
//! edge cases over plain HTTP.

use std::path::PathBuf;
use std::time::Duration;

use hearth::demo::harness::BotProcess;
use serde_json::{json, Value};

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
    world
        .run(
            world.manager,
            "config",
            "timezone",
            json!([{"type": 3, "name": "name", "value": "Europe/Berlin"}]),
        )
        .await;
    // The change is recorded after the command's reply (poise's post_command), so the page can
    // be read a moment before it lands.
    let mut audit = String::new();
    for _ in 0..50 {
        browser
            .goto(&format!("{origin}/servers/{}/audit", world.guild))
            .await;
        audit = browser.text().await;
        if audit.contains("/config timezone") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        audit.contains("/config timezone") && audit.contains("name: Europe/Berlin"),
        "{audit}"
    );
    browser.screenshot(&shots, "16-audit.png").await;

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

/// Logs `user` in over plain HTTP (the emulator approves at once); returns the session cookie
/// (`hearth_session=...`).
pub(crate) async fn http_login(world: &World, origin: &str, user: u64) -> String {
    world.emu.oauth_auto_approve(Some(user));
    let http = client();
    let login = http.get(format!("{origin}/login")).send().await.unwrap();
    let login_cookie = set_cookie(&login, "hearth_login");
    let authorize = login.headers()["location"].to_str().unwrap().to_owned();
    let at_discord = http.get(&authorize).send().await.unwrap();
    let back = at_discord.headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    let done = http
        .get(&back)
        .header("cookie", &login_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303);
    set_cookie(&done, "hearth_session")
}

/// A page's status and its text: cells separated by tabs, blocks by lines, tags dropped.
async fn page(origin: &str, session: &str, path: &str) -> (u16, String) {
    let response = client()
        .get(format!("{origin}{path}"))
        .header("cookie", session)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, html_text(&response.text().await.unwrap()))
}

fn html_text(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('>').map_or(rest.len(), |e| start + e);
        let tag = &rest[start + 1..end];
        if tag == "/td" || tag == "/th" {
            out.push('\t');
        } else if ["/tr", "/div", "/p", "/li", "/h1", "/h2", "/h3", "br"].contains(&tag) {
            out.push('\n');
        } else if let Some(href) = tag
            .strip_prefix("a ")
            .and_then(|a| a.split("href=\"").nth(1))
        {
            // Links keep their target, to compare with the commands' links.
            out.push_str(&format!(
                "[{}] ",
                href.split('"').next().unwrap_or_default()
            ));
        }
        rest = rest.get(end + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    out.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The cells of the table row whose first cell starts with `first`.
fn row(text: &str, first: &str) -> Vec<String> {
    text.lines()
        .find(|l| l.trim_start().starts_with(first))
        .unwrap_or_else(|| panic!("no row `{first}` in:\n{text}"))
        .split('\t')
        .map(|c| c.trim().to_owned())
        .collect()
}

/// The text after `prefix` up to `end` in `text`.
fn between<'a>(text: &'a str, prefix: &str, end: &str) -> &'a str {
    let from = text
        .find(prefix)
        .unwrap_or_else(|| panic!("no `{prefix}` in:\n{text}"))
        + prefix.len();
    let to = text[from..].find(end).map_or(text.len(), |e| from + e);
    &text[from..to]
}

/// The new pages of a server (issue 20): events, surveys, connections, flags, inbox.
const COMMUNITY_PAGES: [&str; 5] = ["events", "surveys", "connections", "flags", "inbox"];

#[tokio::test]
async fn events_surveys_connections_flags_and_the_inbox_show_what_the_commands_show() {
    let world = World::new().await;
    let events = world.emu.add_channel(world.guild, "events", 0);
    let connections = world.emu.add_channel(world.guild, "connections", 0);
    let (_bot, origin) = with_dashboard(&world).await;
    let guild = world.guild;
    let manager = http_login(&world, &origin, world.manager).await;

    // A new server: each page says what to do.
    for (name, empty) in [
        ("events", "No events coming up: /event create"),
        ("surveys", "No surveys yet: /survey nps"),
        ("connections", "/connect setup starts them"),
        ("flags", "No open flags."),
        (
            "inbox",
            "None: no newcomer's first message is waiting for a reply.",
        ),
    ] {
        let (status, text) = page(&origin, &manager, &format!("/servers/{guild}/{name}")).await;
        assert_eq!(status, 200, "{name}: {text}");
        assert!(text.contains(empty), "{name}: {text}");
        for tab in COMMUNITY_PAGES {
            assert!(
                text.contains(&format!("[/servers/{guild}/{tab}")),
                "the {tab} tab on {name}: {text}"
            );
        }
    }

    // Events: one starting now (checked in), one in two days with a waitlist.
    world.set_channel("events", events).await;
    world.set_channel("reports", world.reports).await;
    let ana = world.emu.add_user("ana", false);
    world.emu.add_member(world.guild, ana, &[]);
    let bo = world.emu.add_user("bo", false);
    world.emu.add_member(world.guild, bo, &[]);
    let created = crate::events::create(
        &world,
        json!([
            {"type": 3, "name": "title", "value": "Board games"},
            {"type": 3, "name": "start", "value": "in 3s"},
            {"type": 3, "name": "duration", "value": "2h"},
            {"type": 3, "name": "location", "value": "Cafe Luna"}
        ]),
    )
    .await;
    assert!(created.contains("Event #1 is created"), "{created}");
    let created = crate::events::create(
        &world,
        json!([
            {"type": 3, "name": "title", "value": "Summer picnic"},
            {"type": 3, "name": "start", "value": "in 2d"},
            {"type": 3, "name": "location", "value": "City park"},
            {"type": 4, "name": "capacity", "value": 1}
        ]),
    )
    .await;
    assert!(created.contains("Event #2 is created"), "{created}");
    let cards = wait_posts(&world.emu, events, 2).await;
    let card = |i: usize| {
        let post = &cards[i];
        let id: u64 = post.response["id"].as_str().unwrap().parse().unwrap();
        let buttons: Vec<(String, String)> = post.body["components"][0]["components"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    b["label"].as_str().unwrap().to_owned(),
                    b["custom_id"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        (id, buttons)
    };
    let (games, games_buttons) = card(0);
    let (picnic, picnic_buttons) = card(1);
    let rsvp = |card: u64, buttons: &[(String, String)], user: u64, label: &str| {
        let id = crate::events::button(buttons, label).to_owned();
        let world = &world;
        async move { crate::events::click(world, events, user, card, &id).await }
    };
    rsvp(games, &games_buttons, world.member, "Going").await;
    rsvp(games, &games_buttons, ana, "Going").await;
    rsvp(games, &games_buttons, bo, "Maybe").await;
    let checked = rsvp(games, &games_buttons, world.member, "Check in").await;
    assert!(checked.contains("Checked in"), "{checked}");
    rsvp(picnic, &picnic_buttons, world.member, "Going").await;
    let waiting = rsvp(picnic, &picnic_buttons, ana, "Going").await;
    assert!(waiting.contains("waitlist"), "{waiting}");
    rsvp(picnic, &picnic_buttons, bo, "Can't go").await;
    tokio::time::sleep(Duration::from_secs(4)).await;

    let report = |id: i64| {
        let world = &world;
        async move {
            text_of(
                &world
                    .run(
                        world.manager,
                        "event",
                        "report",
                        json!([{"type": 4, "name": "id", "value": id}]),
                    )
                    .await,
            )
        }
    };
    let games_report = report(1).await;
    assert!(
        games_report.contains("Going 2 · Maybe 1 · Can't go 0 · Waitlist 0"),
        "{games_report}"
    );
    assert!(
        games_report.contains("Attended 1 · show-up rate 50% · no-shows 1 · walk-ins 0"),
        "{games_report}"
    );
    let picnic_report = report(2).await;
    assert!(
        picnic_report.contains("Going 1 · Maybe 0 · Can't go 1 · Waitlist 1"),
        "{picnic_report}"
    );
    let (_, text) = page(&origin, &manager, &format!("/servers/{guild}/events")).await;
    // event, starts, going, maybe, can't, waitlist, interested
    let coming = row(&text, "#2 Summer picnic");
    assert_eq!(coming[2..6], ["1 / 1", "0", "1", "1"], "{text}");
    // event, started, going, maybe, can't, waitlist, attended, show-up, no-shows, walk-ins,
    // rating, responses
    let held = row(&text, "#1 Board games");
    assert!(held[0].ends_with("live"), "{held:?}");
    assert_eq!(
        held[2..12],
        ["2", "1", "0", "0", "1", "50%", "1", "0", "n/a", "0 (0%)"],
        "{text}"
    );
    let json: Value = serde_json::from_str(&hearth_report(&world, &["--format", "json"])).unwrap();
    let reported = json["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == 1)
        .unwrap_or_else(|| panic!("{}", json["events"]));
    assert_eq!(
        [
            &reported["going"],
            &reported["maybe"],
            &reported["attended"],
            &reported["no_shows"],
            &reported["responses"]
        ],
        [&json!(2), &json!(1), &json!(1), &json!(1), &json!(0)],
        "{reported}"
    );

    // Surveys: an NPS wave with answers and a comment, and a custom survey.
    let started = text_of(&world.run(world.manager, "survey", "nps", json!([])).await);
    assert!(started.contains("Survey #1 is open"), "{started}");
    let deadline = std::time::Instant::now() + WAIT;
    let post = loop {
        let survey = posts_in(&world.emu, world.general).into_iter().find(|p| {
            p.body["components"][0]["components"][0]["custom_id"]
                .as_str()
                .is_some_and(|id| id.starts_with("hearth:survey:open:"))
        });
        if let Some(post) = survey {
            break post;
        }
        assert!(std::time::Instant::now() < deadline, "no survey post");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    crate::surveys::answer(&world, &post, world.member, "10", "More game nights", "no").await;
    crate::surveys::answer(&world, &post, ana, "9", "", "no").await;
    crate::surveys::answer(&world, &post, bo, "4", "", "no").await;
    let custom = text_of(
        &world
            .run(
                world.manager,
                "survey",
                "create",
                json!([
                    {"type": 3, "name": "title", "value": "Onboarding check"},
                    {"type": 3, "name": "q1", "value": "scale: How was onboarding?"},
                    {"type": 3, "name": "q2", "value": "choice: Best day? | Mon | Wed"}
                ]),
            )
            .await,
    );
    assert!(custom.contains("with 2 question(s)"), "{custom}");
    let results = text_of(
        &world
            .run(
                world.manager,
                "survey",
                "results",
                json!([{"type": 4, "name": "id", "value": 1}]),
            )
            .await,
    );
    let nps = between(&results, "NPS **", "**");
    let (_, text) = page(&origin, &manager, &format!("/servers/{guild}/surveys")).await;
    // wave, opened, NPS, promoters, passives, detractors, responses, reached, rate
    let wave = row(&text, "1 (open)");
    assert_eq!(wave[2], nps, "{results}\n{text}");
    assert!(
        results.contains(&format!(
            "Promoters {} · passives {} · detractors {} · {} answer(s) from {} members reached: response rate {}",
            wave[3], wave[4], wave[5], wave[6], wave[7], wave[8]
        )),
        "{results}\n{text}"
    );
    assert!(
        text.contains("More game nights") && results.contains("> More game nights"),
        "{text}"
    );
    assert!(
        text.contains("newcomers hidden (under 5 answers)"),
        "{text}"
    );
    for user in [world.member, ana, bo] {
        assert!(!text.contains(&user.to_string()), "no names: {text}");
    }
    assert!(
        text.contains("#2 Onboarding check")
            && text.contains("How was onboarding?")
            && text.contains("0 respondent(s)"),
        "{text}"
    );
    let trend = |session: &str| {
        client()
            .get(format!("{origin}/servers/{guild}/surveys/1/trend.png"))
            .header("cookie", session)
            .send()
    };
    let png = trend(&manager).await.unwrap();
    assert_eq!(png.status(), 200);
    assert_eq!(png.headers()["content-type"], "image/png");
    assert_eq!(&png.bytes().await.unwrap()[1..4], b"PNG");
    let html = client()
        .get(format!("{origin}/servers/{guild}/surveys"))
        .header("cookie", &manager)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(&format!("src=\"/servers/{guild}/surveys/1/trend.png\"")),
        "the chart is on the page: {html}"
    );
    let (status, _) = page(
        &origin,
        &manager,
        &format!("/servers/{guild}/surveys/9/trend.png"),
    )
    .await;
    assert_eq!(status, 404, "no such survey");
    let wave = &json_surveys(&world)[0];
    assert_eq!(wave["responses"], json!(3), "{wave}");

    // Connections: a round pairs two members; one reply connects them.
    let setup = text_of(
        &world
            .run(
                world.manager,
                "connect",
                "setup",
                json!([
                    {"type": 7, "name": "channel", "value": connections.to_string()},
                    {"type": 3, "name": "every", "value": "mon 10:00"}
                ]),
            )
            .await,
    );
    assert!(setup.contains("Connections are set up"), "{setup}");
    for user in [world.member, ana] {
        let joined = text_of(&world.run(user, "connect", "join", json!([])).await);
        assert!(joined.contains("You're in"), "{joined}");
    }
    let round = text_of(
        &world
            .run(world.manager, "connect", "run-now", json!([]))
            .await,
    );
    assert!(round.contains("Round"), "{round}");
    let hello = world
        .emu
        .user_message(world.general, ana, "who is up for chess?", None);
    world
        .emu
        .user_message(world.general, world.member, "me!", Some(hello));
    let deadline = std::time::Instant::now() + WAIT;
    let stats = loop {
        let stats = text_of(
            &world
                .run(world.manager, "connect", "stats", json!([]))
                .await,
        );
        if !stats.contains("connected members n/a (0 of 0 active)") && !stats.contains("(0 of ") {
            break stats;
        }
        assert!(std::time::Instant::now() < deadline, "{stats}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (_, text) = page(&origin, &manager, &format!("/servers/{guild}/connections")).await;
    let matches = between(&stats, "Last 90 days: ", " match(es)");
    assert_eq!(card_value(&text, "Matches"), matches, "{stats}\n{text}");
    let met_rate = between(&stats, ", met ", ")");
    assert!(
        met_rate.ends_with(&card_value(&text, "Met rate")),
        "{stats}\n{text}"
    );
    let connected = between(&stats, "connected members ", " active),");
    assert_eq!(
        connected,
        format!(
            "{} ({}",
            card_value(&text, "Connected members"),
            between(&text, "Connected members\n", " active")
                .lines()
                .nth(1)
                .unwrap()
                .trim()
        ),
        "{stats}\n{text}"
    );
    for bad in ["0", "a-week", "99999"] {
        let (status, text) = page(
            &origin,
            &manager,
            &format!("/servers/{guild}/connections?days={bad}"),
        )
        .await;
        assert_eq!(status, 400, "days={bad}: {text}");
        assert!(text.contains("`days` is a number of days"), "{text}");
    }
    let taking_part = between(&stats, "**Connections** · ", " member(s) taking part");
    let paused = between(&stats, "taking part, ", " paused");
    assert_eq!(taking_part, "2", "{stats}");
    assert!(
        text.contains(&format!("Taking part\n{taking_part}\n{paused} paused")),
        "{stats}\n{text}"
    );

    // Flags: a member flags a message; the queue shows the link and the reason, not who.
    let zed = world.emu.add_user("zed_flagger", false);
    world.emu.add_member(world.guild, zed, &[]);
    let troll = world.emu.add_user("troll", false);
    world.emu.add_member(world.guild, troll, &[]);
    let message = world
        .emu
        .user_message(world.general, troll, "buy cheap followers", None);
    crate::moderation::flag(&world, zed, message, "Spam link").await;
    let listed = text_of(&world.run(world.manager, "flags", "list", json!([])).await);
    let link = format!(
        "https://discord.com/channels/{guild}/{}/{message}",
        world.general
    );
    assert!(
        listed.contains(&link) && listed.contains("1 flag(s)"),
        "{listed}"
    );
    let (_, text) = page(&origin, &manager, &format!("/servers/{guild}/flags")).await;
    // flag, status, message, channel, author, flagged by, reasons, since
    let flag = row(&text, "#1");
    assert_eq!(flag[1], "open", "{text}");
    assert_eq!(flag[2], format!("[{link}] open in Discord"), "{text}");
    assert_eq!(flag[5], "1 member(s)", "{text}");
    assert_eq!(flag[6], "Spam link", "{text}");
    assert!(
        !text.contains("zed_flagger") && !text.contains(&zed.to_string()),
        "{text}"
    );
    assert!(
        !text.contains("buy cheap followers"),
        "never message text: {text}"
    );

    // The inbox: a newcomer's first message nobody answered, as `/today` lists it.
    let ten_hours_ago =
        u64::try_from(hearth::domain::clock::now().timestamp_millis()).unwrap() - 10 * 3_600_000;
    let ada = world.emu.add_user("ada", false);
    world
        .emu
        .add_member_joined_at(world.guild, ada, &[], ten_hours_ago);
    let unanswered = world.emu.user_message_sent_ago(
        world.general,
        ada,
        "how do I get started?",
        Duration::from_secs(6 * 3600),
    );
    let unanswered_link = format!(
        "https://discord.com/channels/{guild}/{}/{unanswered}",
        world.general
    );
    let deadline = std::time::Instant::now() + WAIT;
    let today = loop {
        let answer = world
            .emu
            .slash_command(
                world.guild,
                world.general,
                world.manager,
                "today",
                json!([]),
            )
            .response(WAIT)
            .await
            .unwrap();
        let today = text_of(&answer.body["data"]);
        if today.contains(&unanswered_link) {
            break today;
        }
        assert!(std::time::Instant::now() < deadline, "{today}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (_, text) = page(&origin, &manager, &format!("/servers/{guild}/inbox")).await;
    let count = between(
        &today,
        "Newcomers' first messages with no reply after 4 h** (",
        ")",
    );
    assert_eq!(
        card_value(&text, "Unanswered first messages"),
        count,
        "{today}\n{text}"
    );
    let listed = text
        .lines()
        .find(|l| l.contains(&unanswered_link))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        listed.ends_with(&format!("[{unanswered_link}] open in Discord\t")),
        "{text}"
    );
    assert!(today.contains("**Open flags** (1)"), "{today}");
    assert_eq!(card_value(&text, "Open flags"), "1", "{text}");
    assert!(
        !text.contains("how do I get started"),
        "never message text: {text}"
    );

    // The browser: each page as a manager sees it (screenshots for review).
    let shots = screenshots();
    let browser = Browser::start().await;
    world.emu.oauth_auto_approve(Some(world.manager));
    browser
        .goto(&format!("{origin}/servers/{guild}/events"))
        .await;
    browser.wait_for_text("events and attendance").await;
    for (i, name) in COMMUNITY_PAGES.iter().enumerate() {
        browser
            .goto(&format!("{origin}/servers/{guild}/{name}"))
            .await;
        let text = browser.text().await;
        assert!(text.contains(&format!("· {name}")), "{text}");
        browser
            .screenshot_page(&shots, &format!("{}-{name}.png", 11 + i))
            .await;
    }
    browser.close().await;

    // A member who is not a manager: 403 on each.
    let member = http_login(&world, &origin, world.member).await;
    for name in COMMUNITY_PAGES {
        let (status, text) = page(&origin, &member, &format!("/servers/{guild}/{name}")).await;
        assert_eq!(status, 403, "{name}: {text}");
        assert!(
            !text.contains("Board games") && !text.contains("Spam link"),
            "{text}"
        );
    }
    assert_eq!(trend(&member).await.unwrap().status(), 403);
    world.emu.assert_no_violations();
}

/// `hearth report`'s `surveys` array.
fn json_surveys(world: &World) -> Vec<Value> {
    let json: Value = serde_json::from_str(&hearth_report(world, &["--format", "json"])).unwrap();
    json["surveys"].as_array().cloned().unwrap_or_default()
}

/// The query parameters of a `Location`.
fn query_of(location: &str) -> std::collections::HashMap<String, String> {
    location
        .split_once('?')
        .map(|(_, q)| q)
        .unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn set_cookie(response: &reqwest::Response, name: &str) -> String {
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
