//! REST with a raw HTTP/1.1 client: routing and validation by the spec, Discord's answers and
//! errors, `enforce_nonce`, faults, interactions, threads, uploads.

use std::time::Duration;

use discord_emulator::{Emulator, EmulatorConfig, Fault, RateLimits};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const VIEW: u64 = 1 << 10;
const SEND: u64 = 1 << 11;
const BOT: u64 = VIEW | SEND | (1 << 15) | (1 << 16) | (1 << 35) | (1 << 38) | (1 << 6);

struct Reply {
    status: u16,
    headers: String,
    body: Value,
}

async fn raw(emu: &Emulator, method: &str, path: &str, content_type: &str, body: &[u8]) -> Reply {
    let addr = emu.base_url().trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "{method} /api/v10{path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (headers, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = headers
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Reply {
        status,
        headers: headers.to_ascii_lowercase(),
        body: serde_json::from_str(body).unwrap_or(Value::Null),
    }
}

async fn call(emu: &Emulator, method: &str, path: &str, body: Option<Value>) -> Reply {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    raw(emu, method, path, "application/json", body.as_bytes()).await
}

/// A multipart body with `payload_json` and one file.
fn multipart(payload: &Value, filename: &str, content: &[u8]) -> (String, Vec<u8>) {
    let boundary = "XyZzYboundary";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"payload_json\"\r\nContent-Type: application/json\r\n\r\n{payload}\r\n").as_bytes(),
    );
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"files[0]\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

struct World {
    emu: Emulator,
    guild: u64,
    general: u64,
    user: u64,
}

async fn world() -> World {
    let emu = Emulator::start().await.unwrap();
    let guild = emu.add_guild("G", BOT);
    let general = emu.add_channel(guild, "general", 0);
    let user = emu.add_user("alice", false);
    emu.add_member(guild, user, &[]);
    World {
        emu,
        guild,
        general,
        user,
    }
}

#[tokio::test]
async fn a_repeated_nonce_returns_the_first_message_and_creates_nothing() {
    let w = world().await;
    let path = format!("/channels/{}/messages", w.general);
    let body = json!({"content": "hello", "nonce": "abc-1", "enforce_nonce": true});
    let first = call(&w.emu, "POST", &path, Some(body.clone())).await;
    let second = call(&w.emu, "POST", &path, Some(body)).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(second.status, 200);
    assert_eq!(first.body["id"], second.body["id"]);
    assert_eq!(first.body["nonce"], "abc-1");
    assert_eq!(w.emu.messages_in(w.general).len(), 1);
    // Without enforce_nonce, Discord does not deduplicate.
    let loose = json!({"content": "hello", "nonce": "abc-1"});
    call(&w.emu, "POST", &path, Some(loose)).await;
    assert_eq!(w.emu.messages_in(w.general).len(), 2);
    // The message shows up in later GETs, newest first.
    let listed = call(&w.emu, "GET", &format!("{path}?limit=1"), None).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
    assert_ne!(listed.body[0]["id"], first.body["id"]);
    let got = call(
        &w.emu,
        "GET",
        &format!("{path}/{}", first.body["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(got.body["content"], "hello");
    let recorded = w.emu.requests();
    assert_eq!(recorded[0].operation_id.as_deref(), Some("create_message"));
    assert_eq!(recorded[0].path, path);
    w.emu.assert_no_violations();
}

#[tokio::test]
async fn a_body_against_the_spec_is_answered_400_and_recorded_as_a_violation() {
    let w = world().await;
    let path = format!("/channels/{}/messages", w.general);
    let bad = call(&w.emu, "POST", &path, Some(json!({"content": 5}))).await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.body["code"], 50035);
    assert_eq!(bad.body["message"], "Invalid Form Body");
    assert!(
        bad.body["errors"]["content"]["_errors"].is_array(),
        "{}",
        bad.body
    );
    let violations = w.emu.violations();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(violations[0].contains("create_message"), "{violations:?}");
    assert!(w.emu.messages_in(w.general).is_empty());

    let not_json = raw(&w.emu, "POST", &path, "application/json", b"{nope").await;
    assert_eq!(not_json.status, 400);
    assert_eq!(not_json.body["code"], 50109);

    let unknown = call(&w.emu, "GET", "/no/such/route", None).await;
    assert_eq!(unknown.status, 404);
    assert_eq!(
        unknown.body,
        json!({"code": 0, "message": "404: Not Found"})
    );
    assert!(w
        .emu
        .violations()
        .iter()
        .any(|v| v.contains("/no/such/route")));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        w.emu.assert_no_violations()
    }));
    assert!(result.is_err());
}

#[tokio::test]
async fn an_injected_fault_is_answered_then_clears() {
    let w = world().await;
    let path = format!("/channels/{}/messages", w.general);
    w.emu.inject_fault(Fault {
        method: Some("POST".into()),
        path_contains: path.clone(),
        status: 503,
        body: json!({"code": 0, "message": "503: Service Unavailable"}),
        times: 1,
        retry_after: None,
    });
    w.emu.inject_fault(Fault {
        method: None,
        path_contains: "/users/@me".into(),
        status: 429,
        body: Value::Null,
        times: 1,
        retry_after: Some(2.5),
    });
    let failed = call(&w.emu, "POST", &path, Some(json!({"content": "x"}))).await;
    assert_eq!(failed.status, 503);
    let ok = call(&w.emu, "POST", &path, Some(json!({"content": "x"}))).await;
    assert_eq!(ok.status, 200);
    let limited = call(&w.emu, "GET", "/users/@me", None).await;
    assert_eq!(limited.status, 429);
    // Discord: `Retry-After` in whole seconds, rounded up; the body keeps the fraction.
    assert!(
        limited.headers.contains("retry-after: 3\r\n"),
        "{}",
        limited.headers
    );
    assert!(limited.headers.contains("x-ratelimit-scope: user"));
    assert!(limited.headers.contains("x-ratelimit-remaining: 0"));
    assert!(!limited.headers.contains("x-ratelimit-global"));
    assert_eq!(limited.body["message"], "You are being rate limited.");
    assert_eq!(limited.body["retry_after"], 2.5);
    assert_eq!(limited.body["global"], false);
    let me = call(&w.emu, "GET", "/users/@me", None).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["id"], w.emu.bot_user_id().to_string());
    let statuses: Vec<u16> = w.emu.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [503, 200, 429, 200]);
    assert_eq!(w.emu.messages_in(w.general).len(), 1);
    w.emu.assert_no_violations();
}

#[tokio::test]
async fn discord_errors_for_permissions_dms_and_unknown_objects() {
    let w = world().await;
    let emu = &w.emu;
    let role = emu.bot_role(w.guild);
    let quiet = emu.add_channel(w.guild, "quiet", 0);
    emu.set_channel_overwrite(quiet, role, 0, 0, SEND);
    let hidden = emu.add_channel(w.guild, "hidden", 0);
    emu.set_channel_overwrite(hidden, w.guild, 0, 0, VIEW);
    let post = |c: u64| format!("/channels/{c}/messages");
    let denied = call(emu, "POST", &post(quiet), Some(json!({"content": "x"}))).await;
    assert_eq!(
        (denied.status, denied.body["code"].clone()),
        (403, json!(50013))
    );
    assert_eq!(denied.body["message"], "Missing Permissions");
    let invisible = call(emu, "POST", &post(hidden), Some(json!({"content": "x"}))).await;
    assert_eq!(invisible.status, 403);
    // A member overwrite allowing the bot wins over the role's deny.
    emu.set_channel_overwrite(quiet, emu.bot_user_id(), 1, SEND, 0);
    let allowed = call(emu, "POST", &post(quiet), Some(json!({"content": "x"}))).await;
    assert_eq!(allowed.status, 200);

    let dm = call(
        emu,
        "POST",
        "/users/@me/channels",
        Some(json!({"recipient_id": w.user.to_string()})),
    )
    .await;
    assert_eq!(dm.status, 200);
    assert_eq!(dm.body["type"], 1);
    let dm_id: u64 = dm.body["id"].as_str().unwrap().parse().unwrap();
    emu.set_dms_closed(w.user, true);
    let closed = call(emu, "POST", &post(dm_id), Some(json!({"content": "hi"}))).await;
    assert_eq!(closed.status, 403);
    assert_eq!(
        closed.body,
        json!({"code": 50007, "message": "Cannot send messages to this user"})
    );
    emu.set_dms_closed(w.user, false);
    assert_eq!(
        call(emu, "POST", &post(dm_id), Some(json!({"content": "hi"})))
            .await
            .status,
        200
    );

    let nowhere = call(emu, "GET", "/channels/123", None).await;
    assert_eq!(
        (nowhere.status, nowhere.body["code"].clone()),
        (404, json!(10003))
    );
    let no_message = call(
        emu,
        "GET",
        &format!("/channels/{}/messages/123", w.general),
        None,
    )
    .await;
    assert_eq!(no_message.body["code"], 10008);
    let no_member = call(
        emu,
        "GET",
        &format!("/guilds/{}/members/123", w.guild),
        None,
    )
    .await;
    assert_eq!(no_member.body["code"], 10007);
    let member = call(
        emu,
        "GET",
        &format!("/guilds/{}/members/{}", w.guild, w.user),
        None,
    )
    .await;
    assert_eq!(member.body["user"]["username"], "alice");
    emu.assert_no_violations();
}

#[tokio::test]
async fn commands_interactions_replies_followups_and_edits() {
    let w = world().await;
    let emu = &w.emu;
    let app = emu.application_id();
    let put = call(
        emu,
        "PUT",
        &format!("/applications/{app}/guilds/{}/commands", w.guild),
        Some(
            json!([{"name": "config", "description": "Settings", "options": [
            {"type": 1, "name": "show", "description": "Show"}]}]),
        ),
    )
    .await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    let command = &put.body[0];
    for key in [
        "id",
        "application_id",
        "version",
        "type",
        "name",
        "description",
    ] {
        assert!(!command[key].is_null(), "{key} in {command}");
    }
    let listed = call(
        emu,
        "GET",
        &format!("/applications/{app}/guilds/{}/commands", w.guild),
        None,
    )
    .await;
    assert_eq!(listed.body[0]["id"], command["id"]);

    // A public reply becomes a channel message; a follow-up another; @original edits the first.
    let slash = emu.slash_command(
        w.guild,
        w.general,
        w.user,
        "config",
        json!([{"type": 1, "name": "show", "options": []}]),
    );
    let callback = format!("/interactions/{}/{}/callback", slash.id, slash.token);
    let r = call(
        emu,
        "POST",
        &callback,
        Some(json!({"type": 4, "data": {"content": "settings"}})),
    )
    .await;
    assert_eq!(r.status, 204);
    let again = call(
        emu,
        "POST",
        &callback,
        Some(json!({"type": 4, "data": {"content": "twice"}})),
    )
    .await;
    assert_eq!(again.body["code"], 40060);
    let response = slash.response(Duration::from_secs(1)).await.unwrap();
    assert_eq!(response.body["data"]["content"], "settings");
    let webhook = format!("/webhooks/{app}/{}", slash.token);
    let follow = call(
        emu,
        "POST",
        &format!("{webhook}?wait=true"),
        Some(json!({"content": "more"})),
    )
    .await;
    assert_eq!(follow.status, 200);
    assert_eq!(
        slash.followup(Duration::from_secs(1)).await.unwrap().body["content"],
        "more"
    );
    let edited = call(
        emu,
        "PATCH",
        &format!("{webhook}/messages/@original"),
        Some(json!({"content": "edited"})),
    )
    .await;
    assert_eq!(edited.status, 200);
    let messages = emu.messages_in(w.general);
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["content"], "edited");
    assert_eq!(messages[0]["type"], 20);
    assert!(messages[0]["edited_timestamp"].is_string());

    // Deferred: a "thinking" message the first follow-up fills; ephemeral ones stay out of the channel.
    let deferred = emu.slash_command(w.guild, w.general, w.user, "config", json!([]));
    call(
        emu,
        "POST",
        &format!("/interactions/{}/{}/callback", deferred.id, deferred.token),
        Some(json!({"type": 5, "data": {"flags": 64}})),
    )
    .await;
    let filled = call(
        emu,
        "POST",
        &format!("/webhooks/{app}/{}", deferred.token),
        Some(json!({"content": "done"})),
    )
    .await;
    assert_eq!(filled.body["content"], "done");
    assert_eq!(filled.body["flags"], 64);
    let original = call(
        emu,
        "GET",
        &format!("/webhooks/{app}/{}/messages/@original", deferred.token),
        None,
    )
    .await;
    assert_eq!(original.body["id"], filled.body["id"]);
    assert_eq!(emu.messages_in(w.general).len(), 2);

    // A button on the first reply, answered with UPDATE_MESSAGE.
    let first: u64 = messages[0]["id"].as_str().unwrap().parse().unwrap();
    let click = emu.button_click(w.guild, w.general, w.user, first, "hearth:x");
    call(
        emu,
        "POST",
        &format!("/interactions/{}/{}/callback", click.id, click.token),
        Some(json!({"type": 7, "data": {"content": "clicked"}})),
    )
    .await;
    assert_eq!(emu.messages_in(w.general)[0]["content"], "clicked");

    // A modal's answer with a file: payload_json is the body, the file is recorded.
    let modal = emu.modal_submit(w.guild, w.general, w.user, "hearth:modal", &[("q", "why?")]);
    let (content_type, body) = multipart(
        &json!({"type": 4, "data": {"content": "file", "attachments": [{"id": 0, "filename": "a.csv"}]}}),
        "a.csv",
        b"x,y\n1,2\n",
    );
    let uploaded = raw(
        emu,
        "POST",
        &format!("/interactions/{}/{}/callback", modal.id, modal.token),
        &content_type,
        &body,
    )
    .await;
    assert_eq!(uploaded.status, 204);
    let recorded = modal.response(Duration::from_secs(1)).await.unwrap();
    assert_eq!(
        recorded.files,
        vec![("a.csv".to_owned(), b"x,y\n1,2\n".to_vec())]
    );
    assert_eq!(recorded.body["data"]["content"], "file");
    let last = emu.messages_in(w.general).pop().unwrap();
    assert_eq!(last["attachments"][0]["filename"], "a.csv");
    assert_eq!(last["attachments"][0]["size"], 8);
    emu.assert_no_violations();
}

#[tokio::test]
async fn threads_forum_posts_and_reactions() {
    let w = world().await;
    let emu = &w.emu;
    let forum = emu.add_channel(w.guild, "feedback", 15);
    let tags = emu.set_forum_tags(forum, &["bug", "idea"]);
    let post = call(
        emu,
        "POST",
        &format!("/channels/{forum}/threads"),
        Some(json!({"name": "Dark mode", "applied_tags": [tags[1].to_string()], "message": {"content": "please"}})),
    )
    .await;
    assert_eq!(post.status, 201, "{:?}", post.body);
    assert_eq!(post.body["type"], 11);
    assert_eq!(post.body["applied_tags"], json!([tags[1].to_string()]));
    assert_eq!(post.body["message"]["content"], "please");
    let thread: u64 = post.body["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        emu.channel(thread).unwrap()["thread_metadata"]["archived"],
        false
    );
    assert_eq!(emu.messages_in(thread).len(), 1);

    let message = emu.user_message(w.general, w.user, "hi", None);
    let from_message = call(
        emu,
        "POST",
        &format!("/channels/{}/messages/{message}/threads", w.general),
        Some(json!({"name": "chat"})),
    )
    .await;
    assert_eq!(from_message.status, 201);
    assert_eq!(from_message.body["id"], message.to_string());
    let joined = call(
        emu,
        "PUT",
        &format!("/channels/{message}/thread-members/{}", w.user),
        None,
    )
    .await;
    assert_eq!(joined.status, 204);
    let archived = call(
        emu,
        "PATCH",
        &format!("/channels/{message}"),
        Some(json!({"archived": true})),
    )
    .await;
    assert_eq!(archived.body["thread_metadata"]["archived"], true);
    // Locking takes MANAGE_THREADS, which this bot lacks; archiving its own thread does not.
    let lock = call(
        emu,
        "PATCH",
        &format!("/channels/{message}"),
        Some(json!({"locked": true})),
    )
    .await;
    assert_eq!(lock.body["code"], 50013);
    let refused = call(
        emu,
        "POST",
        &format!("/channels/{message}/messages"),
        Some(json!({"content": "late"})),
    )
    .await;
    assert_eq!(refused.body["code"], 50083);

    let react = call(
        emu,
        "PUT",
        &format!(
            "/channels/{}/messages/{message}/reactions/%F0%9F%91%8D/@me",
            w.general
        ),
        None,
    )
    .await;
    assert_eq!(react.status, 204);
    emu.reaction_add(w.general, message, w.user, "👍");
    let stored = &emu.messages_in(w.general)[0];
    assert_eq!(stored["reactions"][0]["count"], 2);
    assert_eq!(stored["reactions"][0]["me"], true);
    assert_eq!(stored["reactions"][0]["emoji"]["name"], "👍");
    emu.assert_no_violations();
}

#[tokio::test]
async fn waiting_for_a_request_that_never_comes_lists_the_last_ones() {
    let w = world().await;
    call(&w.emu, "GET", "/users/@me", None).await;
    let err = w
        .emu
        .wait_for_request(|r| r.path == "/never", Duration::from_millis(200))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("GET /users/@me"), "{err}");
    let gateway = call(&w.emu, "GET", "/gateway", None).await;
    assert_eq!(
        gateway.body["url"],
        w.emu.base_url().replace("http://", "ws://") + "/gateway"
    );
}

async fn world_with(cfg: EmulatorConfig, permissions: u64) -> World {
    let emu = Emulator::start_with(cfg).await.unwrap();
    let guild = emu.add_guild("G", permissions);
    let general = emu.add_channel(guild, "general", 0);
    let user = emu.add_user("alice", false);
    emu.add_member(guild, user, &[]);
    World {
        emu,
        guild,
        general,
        user,
    }
}

const MANAGE_GUILD: u64 = 1 << 5;
const MANAGE_ROLES: u64 = 1 << 28;
const MANAGE_EVENTS: u64 = 1 << 33;
const MANAGE_THREADS: u64 = 1 << 34;
const CREATE_EVENTS: u64 = 1 << 44;

fn event_body() -> Value {
    json!({
        "name": "AMA", "privacy_level": 2, "entity_type": 3,
        "scheduled_start_time": "2030-01-01T10:00:00Z", "scheduled_end_time": "2030-01-01T11:00:00Z",
        "entity_metadata": { "location": "#ama" },
    })
}

#[tokio::test]
async fn scheduled_events_need_create_events_and_manage_events_alone_is_refused() {
    let old = world_with(EmulatorConfig::default(), BOT | MANAGE_EVENTS).await;
    let path = format!("/guilds/{}/scheduled-events", old.guild);
    let refused = call(&old.emu, "POST", &path, Some(event_body())).await;
    assert_eq!(refused.status, 403, "{:?}", refused.body);
    assert_eq!(refused.body["code"], 50013);
    assert_eq!(refused.body["message"], "Missing Permissions");

    let w = world_with(EmulatorConfig::default(), BOT | CREATE_EVENTS).await;
    let path = format!("/guilds/{}/scheduled-events", w.guild);
    let created = call(&w.emu, "POST", &path, Some(event_body())).await;
    assert_eq!(created.status, 200, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap();
    // Create Events lets the creator end its own event.
    let ended = call(
        &w.emu,
        "PATCH",
        &format!("{path}/{id}"),
        Some(json!({"status": 3})),
    )
    .await;
    assert_eq!(ended.status, 200, "{:?}", ended.body);
    w.emu.assert_no_violations();
}

#[tokio::test]
async fn injected_global_rate_limits_say_so_in_body_and_headers() {
    let w = world().await;
    w.emu.inject_global_rate_limit(0.25, 2);
    for path in ["/users/@me", &format!("/channels/{}", w.general)] {
        let limited = call(&w.emu, "GET", path, None).await;
        assert_eq!(limited.status, 429);
        assert_eq!(limited.body["global"], true);
        assert_eq!(limited.body["retry_after"], 0.25);
        assert!(limited.headers.contains("x-ratelimit-global: true"));
        assert!(limited.headers.contains("x-ratelimit-scope: global"));
        assert!(
            limited.headers.contains("retry-after: 1\r\n"),
            "{}",
            limited.headers
        );
    }
    assert_eq!(call(&w.emu, "GET", "/users/@me", None).await.status, 200);
}

#[tokio::test]
async fn the_limiter_mode_limits_per_channel_and_globally_with_headers_on_every_response() {
    // Windows of a minute, so that no run straddles one on a slow machine.
    let limits = RateLimits {
        global_per_second: 9,
        global_window_ms: 60_000,
        routes: vec![("create_message".into(), 5, 60_000)],
        default_route: (50, 60_000),
    };
    let w = world_with(
        EmulatorConfig {
            rate_limits: Some(limits),
            ..EmulatorConfig::default()
        },
        BOT,
    )
    .await;
    let other = w.emu.add_channel(w.guild, "other", 0);
    let path = format!("/channels/{}/messages", w.general);
    let mut bucket = String::new();
    for left in (0..5).rev() {
        let sent = call(&w.emu, "POST", &path, Some(json!({"content": "x"}))).await;
        assert_eq!(sent.status, 200);
        assert!(
            sent.headers.contains("x-ratelimit-limit: 5"),
            "{}",
            sent.headers
        );
        assert!(sent
            .headers
            .contains(&format!("x-ratelimit-remaining: {left}\r\n")));
        assert!(sent.headers.contains("x-ratelimit-reset: "));
        assert!(sent.headers.contains("x-ratelimit-reset-after: "));
        let line = sent
            .headers
            .lines()
            .find(|l| l.starts_with("x-ratelimit-bucket: "))
            .unwrap();
        bucket = line.to_owned();
    }
    let limited = call(&w.emu, "POST", &path, Some(json!({"content": "x"}))).await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.body["global"], false);
    assert!(limited.body["retry_after"].as_f64().unwrap() > 0.0);
    assert!(limited.headers.contains("x-ratelimit-scope: user"));
    assert!(limited.headers.contains("x-ratelimit-remaining: 0"));
    assert!(limited.headers.contains("retry-after: "));
    assert!(
        limited.headers.contains(&bucket),
        "same bucket: {}",
        limited.headers
    );
    assert_eq!(w.emu.messages_in(w.general).len(), 5);
    // Another channel has its own bucket, with the same bucket id.
    let elsewhere = call(
        &w.emu,
        "POST",
        &format!("/channels/{other}/messages"),
        Some(json!({"content": "x"})),
    )
    .await;
    assert_eq!(elsewhere.status, 200);
    assert!(elsewhere.headers.contains(&bucket));
    // Six requests went through: three more reach the global limit.
    for _ in 0..3 {
        assert_eq!(call(&w.emu, "GET", "/users/@me", None).await.status, 200);
    }
    let global = call(&w.emu, "GET", "/users/@me", None).await;
    assert_eq!(global.status, 429);
    assert_eq!(global.body["global"], true);
    assert!(global.headers.contains("x-ratelimit-global: true"));
    assert!(global.headers.contains("x-ratelimit-scope: global"));
    w.emu.assert_no_violations();
}

#[tokio::test]
async fn without_the_limiter_mode_responses_carry_no_rate_limit_headers() {
    let w = world().await;
    let sent = call(
        &w.emu,
        "POST",
        &format!("/channels/{}/messages", w.general),
        Some(json!({"content": "x"})),
    )
    .await;
    assert_eq!(sent.status, 200);
    assert!(!sent.headers.contains("x-ratelimit"), "{}", sent.headers);
}

#[tokio::test]
async fn too_many_invalid_requests_get_the_ip_banned_with_a_cloudflare_answer() {
    let w = world_with(
        EmulatorConfig {
            invalid_request_limit: 3,
            ..EmulatorConfig::default()
        },
        VIEW,
    )
    .await;
    let path = format!("/channels/{}/messages", w.general);
    for _ in 0..3 {
        let refused = call(&w.emu, "POST", &path, Some(json!({"content": "x"}))).await;
        assert_eq!(refused.status, 403);
    }
    // Banned: even a valid request gets Cloudflare's plain-text 429.
    let banned = call(&w.emu, "GET", "/users/@me", None).await;
    assert_eq!(banned.status, 429);
    assert!(banned.body.is_null(), "not JSON: {:?}", banned.body);
    assert!(
        banned.headers.contains("retry-after: 3600"),
        "{}",
        banned.headers
    );
    assert!(!banned.headers.contains("application/json"));
    let last = w.emu.requests().pop().unwrap();
    assert_eq!(last.response, json!("error code: 1015"));
}

#[tokio::test]
async fn interaction_tokens_expire_like_discord() {
    // The initial response is late: Unknown interaction.
    let late = world_with(
        EmulatorConfig {
            interaction_response_ms: 100,
            ..EmulatorConfig::default()
        },
        BOT,
    )
    .await;
    let i = late
        .emu
        .slash_command(late.guild, late.general, late.user, "ping", json!([]));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let answer = call(
        &late.emu,
        "POST",
        &format!("/interactions/{}/{}/callback", i.id, i.token),
        Some(json!({"type": 4, "data": {"content": "pong"}})),
    )
    .await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.body["code"], 10062);
    assert_eq!(answer.body["message"], "Unknown interaction");
    assert!(late.emu.messages_in(late.general).is_empty());

    // In time, then follow-ups until the token expires.
    let w = world_with(
        EmulatorConfig {
            interaction_token_ms: 1_500,
            ..EmulatorConfig::default()
        },
        BOT,
    )
    .await;
    let i = w
        .emu
        .slash_command(w.guild, w.general, w.user, "ping", json!([]));
    let answer = call(
        &w.emu,
        "POST",
        &format!("/interactions/{}/{}/callback", i.id, i.token),
        Some(json!({"type": 5})),
    )
    .await;
    assert_eq!(answer.status, 204, "{:?}", answer.body);
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    let app = w.emu.application_id();
    let followup = call(
        &w.emu,
        "POST",
        &format!("/webhooks/{app}/{}", i.token),
        Some(json!({"content": "too late"})),
    )
    .await;
    assert_eq!(followup.status, 401);
    assert_eq!(followup.body["code"], 50027);
    assert_eq!(followup.body["message"], "Invalid Webhook Token");
    let edit = call(
        &w.emu,
        "PATCH",
        &format!("/webhooks/{app}/{}/messages/@original", i.token),
        Some(json!({"content": "too late"})),
    )
    .await;
    assert_eq!(edit.status, 401);
    assert_eq!(
        EmulatorConfig::default().interaction_response_ms,
        3_000,
        "Discord's 3 s by default"
    );
    assert_eq!(
        EmulatorConfig::default().interaction_token_ms,
        15 * 60 * 1000
    );
}

#[tokio::test]
async fn threads_roles_and_automod_check_permissions_like_discord() {
    let w = world_with(EmulatorConfig::default(), BOT).await;
    let thread = call(
        &w.emu,
        "POST",
        &format!("/channels/{}/threads", w.general),
        Some(json!({"name": "t", "type": 11})),
    )
    .await;
    assert_eq!(thread.status, 201, "{:?}", thread.body);
    let t = thread.body["id"].as_str().unwrap().to_owned();
    // Adding a member needs Send Messages in Threads (the bot has it); removing one needs
    // Manage Threads (it has not); a non-member is unknown.
    let add = call(
        &w.emu,
        "PUT",
        &format!("/channels/{t}/thread-members/{}", w.user),
        None,
    )
    .await;
    assert_eq!(add.status, 204, "{:?}", add.body);
    let stranger = w.emu.add_user("stranger", false);
    let add = call(
        &w.emu,
        "PUT",
        &format!("/channels/{t}/thread-members/{stranger}"),
        None,
    )
    .await;
    assert_eq!(add.body["code"], 10007);
    let remove = call(
        &w.emu,
        "DELETE",
        &format!("/channels/{t}/thread-members/{}", w.user),
        None,
    )
    .await;
    assert_eq!(remove.status, 403);
    assert_eq!(remove.body["code"], 50013);
    // Without Create Public Threads no thread.
    w.emu
        .set_role_permissions(w.guild, w.emu.bot_role(w.guild), BOT & !(1 << 35));
    let refused = call(
        &w.emu,
        "POST",
        &format!("/channels/{}/threads", w.general),
        Some(json!({"name": "t2", "type": 11})),
    )
    .await;
    assert_eq!(refused.body["code"], 50013);
    // Without Send Messages in Threads no one is added.
    w.emu
        .set_role_permissions(w.guild, w.emu.bot_role(w.guild), BOT & !(1 << 38));
    let add = call(
        &w.emu,
        "PUT",
        &format!("/channels/{t}/thread-members/{}", w.user),
        None,
    )
    .await;
    assert_eq!(add.body["code"], 50013);
    w.emu
        .set_role_permissions(w.guild, w.emu.bot_role(w.guild), BOT | MANAGE_THREADS);
    let remove = call(
        &w.emu,
        "DELETE",
        &format!("/channels/{t}/thread-members/{}", w.user),
        None,
    )
    .await;
    assert_eq!(remove.status, 204);

    // Roles: Manage Roles, no permission the bot lacks, only below the bot's highest role.
    let roles = format!("/guilds/{}/roles", w.guild);
    let role = call(&w.emu, "POST", &roles, Some(json!({"name": "r"}))).await;
    assert_eq!(role.body["code"], 50013, "no Manage Roles");
    w.emu
        .set_role_permissions(w.guild, w.emu.bot_role(w.guild), BOT | MANAGE_ROLES);
    let admin = call(
        &w.emu,
        "POST",
        &roles,
        Some(json!({"name": "r", "permissions": 8})),
    )
    .await;
    assert_eq!(admin.body["code"], 50013, "Administrator the bot lacks");
    let role = call(
        &w.emu,
        "POST",
        &roles,
        Some(json!({"name": "r", "permissions": 1024})),
    )
    .await;
    assert_eq!(role.status, 200, "{:?}", role.body);
    let r = role.body["id"].as_str().unwrap();
    let grant = format!("/guilds/{}/members/{}/roles/{r}", w.guild, w.user);
    assert_eq!(call(&w.emu, "PUT", &grant, None).await.status, 204);
    let high = w.emu.add_role(w.guild, "high", 0);
    w.emu.set_role_position(w.guild, high, 200);
    let grant_high = format!("/guilds/{}/members/{}/roles/{high}", w.guild, w.user);
    let above = call(&w.emu, "PUT", &grant_high, None).await;
    assert_eq!(above.body["code"], 50013, "above the bot's highest role");

    // AutoMod: Manage Guild for every endpoint.
    let rules = format!("/guilds/{}/auto-moderation/rules", w.guild);
    let rule =
        json!({"name": "no spam", "event_type": 1, "trigger_type": 3, "actions": [{"type": 1}]});
    let listed = call(&w.emu, "GET", &rules, None).await;
    assert_eq!(listed.body["code"], 50013);
    let created = call(&w.emu, "POST", &rules, Some(rule.clone())).await;
    assert_eq!(created.body["code"], 50013);
    w.emu
        .set_role_permissions(w.guild, w.emu.bot_role(w.guild), BOT | MANAGE_GUILD);
    let created = call(&w.emu, "POST", &rules, Some(rule)).await;
    assert_eq!(created.status, 200, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap();
    assert_eq!(
        call(&w.emu, "GET", &rules, None)
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        call(&w.emu, "DELETE", &format!("{rules}/{id}"), None)
            .await
            .status,
        204
    );
    assert_eq!(
        call(&w.emu, "GET", &format!("{rules}/{id}"), None)
            .await
            .body["code"],
        10066
    );
    w.emu.assert_no_violations();
}

#[tokio::test]
async fn system_messages_join_pin_and_thread_created() {
    let w = world_with(
        EmulatorConfig {
            system_messages: true,
            ..EmulatorConfig::default()
        },
        BOT,
    )
    .await;
    w.emu.set_system_channel(w.guild, Some(w.general));
    let bob = w.emu.add_user("bob", false);
    w.emu.member_join(w.guild, bob, false);
    let notices = w.emu.messages_in(w.general);
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0]["type"], 7);
    assert_eq!(notices[0]["author"]["id"], bob.to_string());
    assert_eq!(notices[0]["content"], "");
    // Suppressed by the system channel flags.
    w.emu
        .set_system_channel_flags(w.guild, discord_emulator::SUPPRESS_JOIN_NOTIFICATIONS);
    let eve = w.emu.add_user("eve", false);
    w.emu.member_join(w.guild, eve, false);
    assert_eq!(w.emu.messages_in(w.general).len(), 1);

    let said = w.emu.user_message(w.general, bob, "pin me", None);
    w.emu.pin_message(w.general, said, w.user);
    let pin = w.emu.messages_in(w.general).pop().unwrap();
    assert_eq!(pin["type"], 6);
    assert_eq!(pin["message_reference"]["message_id"], said.to_string());

    let thread = w.emu.thread_create_by_user(w.general, bob, "a question");
    let created = w.emu.messages_in(w.general).pop().unwrap();
    assert_eq!(created["type"], 18);
    assert_eq!(created["content"], "a question");
    assert_eq!(
        created["message_reference"]["channel_id"],
        thread.to_string()
    );
    // The bot's own thread without a message: the notice is the bot's.
    let made = call(
        &w.emu,
        "POST",
        &format!("/channels/{}/threads", w.general),
        Some(json!({"name": "bot thread", "type": 11})),
    )
    .await;
    assert_eq!(made.status, 201);
    let created = w.emu.messages_in(w.general).pop().unwrap();
    assert_eq!(created["type"], 18);
    assert_eq!(created["author"]["id"], w.emu.bot_user_id().to_string());
    let id = w.emu.send_system_message(w.guild, w.general, bob, 7);
    assert_eq!(
        w.emu.messages_in(w.general).pop().unwrap()["id"],
        id.to_string()
    );
    w.emu.assert_no_violations();

    // Switched off (for tests that count a channel's messages exactly): no notices.
    let quiet = world_with(
        EmulatorConfig {
            system_messages: false,
            ..EmulatorConfig::default()
        },
        BOT,
    )
    .await;
    quiet
        .emu
        .set_system_channel(quiet.guild, Some(quiet.general));
    quiet.emu.member_join(quiet.guild, bob, false);
    assert!(quiet.emu.messages_in(quiet.general).is_empty());
}
