//! REST under `/api/v10`: route by the spec, validate the body, inject faults, answer like
//! Discord, and record everything.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::world::{self, perm, Channel, Role, World};
use crate::{gateway, limits, Inner, RecordedRequest};

type Answer = (u16, Value);
type Params = HashMap<String, String>;
type Files = [(String, Vec<u8>)];

/// What a body that is not JSON reads as; answered 400 (Discord code 50109).
const INVALID_JSON: &str = "<invalid JSON>";

fn error(status: u16, code: u64, message: &str) -> Answer {
    (status, json!({ "code": code, "message": message }))
}

/// A 50035 Invalid Form Body naming one field (`a.b` for nested fields), as Discord answers a
/// body that is valid JSON but breaks a rule the schema cannot express.
fn invalid_form(field: &str, code: &str, message: &str) -> Answer {
    let mut errors = json!({});
    let mut node = &mut errors;
    for part in field.split('.') {
        node = &mut node[part];
    }
    node["_errors"] = json!([{ "code": code, "message": message }]);
    (
        400,
        json!({ "code": 50035, "message": "Invalid Form Body", "errors": errors }),
    )
}

fn unknown_channel() -> Answer {
    error(404, 10003, "Unknown Channel")
}

pub async fn handle(State(inner): State<Arc<Inner>>, request: Request) -> Response {
    let method = request.method().as_str().to_owned();
    let uri = request.uri().clone();
    let query = uri.query().unwrap_or_default().to_owned();
    let Some(path) = uri.path().strip_prefix("/api/v10").map(str::to_owned) else {
        return (StatusCode::NOT_FOUND, "not an API path").into_response();
    };
    let is_multipart = request
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let (body, files) = if is_multipart {
        read_multipart(request).await
    } else {
        match axum::body::to_bytes(request.into_body(), 64 * 1024 * 1024).await {
            Ok(bytes) if bytes.is_empty() => (Value::Null, Vec::new()),
            Ok(bytes) => (
                serde_json::from_slice(&bytes).unwrap_or(Value::String(INVALID_JSON.into())),
                Vec::new(),
            ),
            Err(_) => (Value::Null, Vec::new()),
        }
    };

    let matched = inner.spec.match_route(&method, &path);
    let mut headers: Vec<(&'static str, String)> = Vec::new();
    let banned = inner.limiter.lock().banned_for();
    if let Some(left) = banned {
        return banned_answer(&inner, method, path, query, matched, body, files, left);
    }
    let fault = take_fault(&inner, &method, &path);
    let (status, response) = if let Some(fault) = fault {
        if fault.status == 429 {
            let secs = fault.retry_after.unwrap_or(1.0);
            let global = fault.body["global"] == json!(true);
            let limited = limits::Limited {
                retry_after: secs,
                global,
                scope: if global { "global" } else { "user" },
                bucket: (!global).then(|| limits::BucketState {
                    bucket: "injected".into(),
                    limit: 1,
                    remaining: 0,
                    reset_after: std::time::Duration::from_secs_f64(secs.max(0.0)),
                }),
            };
            headers = limited.headers();
        }
        (fault.status, fault.body.clone())
    } else {
        match &matched {
            None => {
                inner
                    .violations
                    .lock()
                    .push(format!("{method} {path}: no such route in Discord's API"));
                error(404, 0, "404: Not Found")
            }
            Some(_) if body == INVALID_JSON => {
                inner
                    .violations
                    .lock()
                    .push(format!("{method} {path}: the body is not JSON"));
                error(400, 50109, "The request body contains invalid JSON.")
            }
            Some(m) => match rate_limit(&inner, &method, m) {
                Err(limited) => {
                    headers = limited.headers();
                    (429, limited.body())
                }
                Ok(bucket) => {
                    if let Some(bucket) = &bucket {
                        headers = limits::bucket_headers(bucket);
                    }
                    let problems = inner.spec.check_body(m, &body);
                    if problems.is_empty() {
                        operate(&inner, &m.operation_id, &m.params, &body, &query, &files)
                    } else {
                        inner.violations.lock().push(format!(
                            "{method} {path} ({}): {}",
                            m.operation_id,
                            problems.join("; ")
                        ));
                        let mut r = error(400, 50035, "Invalid Form Body").1;
                        r["errors"] = form_errors(&problems);
                        (400, r)
                    }
                }
            },
        }
    };
    let shared = headers
        .iter()
        .any(|(k, v)| *k == "x-ratelimit-scope" && v == "shared");
    if matches!(status, 401 | 403) || (status == 429 && !shared) {
        let cfg = &inner.cfg;
        inner.limiter.lock().count_invalid(
            cfg.invalid_request_limit,
            std::time::Duration::from_millis(cfg.invalid_request_window_ms),
            std::time::Duration::from_millis(cfg.invalid_request_ban_ms),
        );
    }
    record(
        &inner,
        method,
        path,
        query,
        matched,
        body,
        files,
        status,
        response.clone(),
    );
    let mut http = if status == 204 {
        Response::new(Body::empty())
    } else {
        axum::Json(response).into_response()
    };
    *http.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            http.headers_mut().insert(name, v);
        }
    }
    http
}

/// The per-route and global limits, when on. Interaction callbacks are not limited here (one
/// per interaction), and interaction webhooks are exempt from the global limit (Discord docs).
fn rate_limit(
    inner: &Inner,
    method: &str,
    m: &crate::spec::Matched,
) -> Result<Option<limits::BucketState>, limits::Limited> {
    let Some(cfg) = &inner.cfg.rate_limits else {
        return Ok(None);
    };
    if m.operation_id == "create_interaction_response" {
        return Ok(None);
    }
    let param = |name: &str| m.params.get(name).cloned();
    let major = param("channel_id")
        .or_else(|| param("guild_id"))
        .or_else(|| {
            param("webhook_id")
                .map(|w| format!("{w}/{}", param("webhook_token").unwrap_or_default()))
        })
        .unwrap_or_default();
    let exempt = m.params.contains_key("webhook_token");
    inner
        .limiter
        .lock()
        .take(cfg, method, &m.operation_id, &major, exempt)
        .map(Some)
}

#[allow(clippy::too_many_arguments)]
fn record(
    inner: &Inner,
    method: String,
    path: String,
    query: String,
    matched: Option<crate::spec::Matched>,
    body: Value,
    files: Vec<(String, Vec<u8>)>,
    status: u16,
    response: Value,
) {
    let seq = inner.request_seq.fetch_add(1, Ordering::SeqCst);
    if inner.trace {
        eprintln!("[discord-emulator] #{seq} {method} {path} -> {status} {body}");
    }
    inner.requests.lock().push(RecordedRequest {
        method,
        path,
        query,
        operation_id: matched.map(|m| m.operation_id),
        body,
        files,
        status,
        response,
        seq,
    });
    inner.changed.notify_waiters();
}

/// Cloudflare's answer to a banned IP: 429 with a plain-text body, not Discord's JSON.
#[allow(clippy::too_many_arguments)]
fn banned_answer(
    inner: &Inner,
    method: String,
    path: String,
    query: String,
    matched: Option<crate::spec::Matched>,
    body: Value,
    files: Vec<(String, Vec<u8>)>,
    left: std::time::Duration,
) -> Response {
    const TEXT: &str = "error code: 1015";
    record(
        inner,
        method,
        path,
        query,
        matched,
        body,
        files,
        429,
        Value::String(TEXT.into()),
    );
    let mut http = (StatusCode::TOO_MANY_REQUESTS, TEXT).into_response();
    if let Ok(v) = HeaderValue::from_str(&left.as_secs_f64().ceil().to_string()) {
        http.headers_mut().insert("retry-after", v);
    }
    http
}

async fn read_multipart(request: Request) -> (Value, Vec<(String, Vec<u8>)>) {
    let mut body = Value::Null;
    let mut files = Vec::new();
    let Ok(mut multipart) = Multipart::from_request(request, &()).await else {
        return (Value::String("<invalid multipart>".into()), files);
    };
    while let Ok(Some(field)) = multipart.next_field().await {
        let name = field.name().unwrap_or_default().to_owned();
        let filename = field.file_name().map(str::to_owned);
        let bytes = field.bytes().await.unwrap_or_default();
        if name == "payload_json" {
            body = serde_json::from_slice(&bytes).unwrap_or(Value::String(INVALID_JSON.into()));
        } else {
            files.push((filename.unwrap_or(name), bytes.to_vec()));
        }
    }
    (body, files)
}

fn take_fault(inner: &Inner, method: &str, path: &str) -> Option<crate::Fault> {
    let mut faults = inner.faults.lock();
    let fault = faults.iter_mut().find(|f| {
        f.times > 0
            && f.method.as_deref().is_none_or(|m| m == method)
            && path.contains(&f.path_contains)
    })?;
    fault.times -= 1;
    let mut found = fault.clone();
    if found.status == 429 {
        let secs = found.retry_after.unwrap_or(1.0);
        found.retry_after = Some(secs);
        if found.body.is_null() {
            found.body = limits::Limited {
                retry_after: secs,
                global: false,
                scope: "user",
                bucket: None,
            }
            .body();
        }
    }
    Some(found)
}

/// Discord's `errors` object of a 50035 answer, keyed by the failing field's path.
fn form_errors(problems: &[String]) -> Value {
    let mut errors = json!({});
    for problem in problems {
        let path = problem
            .rsplit_once(" at `")
            .map_or("", |(_, p)| p.trim_end_matches('`'));
        let mut node = &mut errors;
        for part in path.split('/').filter(|p| !p.is_empty()) {
            node = &mut node[part];
        }
        if !node["_errors"].is_array() {
            node["_errors"] = json!([]);
        }
        if let Some(list) = node["_errors"].as_array_mut() {
            list.push(json!({ "code": "BASE_TYPE_INVALID", "message": problem }));
        }
    }
    errors
}

fn id_param(params: &Params, name: &str) -> u64 {
    params.get(name).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn parse_id(value: &Value) -> Option<u64> {
    match value {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

/// One routed, validated request.
struct Call<'a> {
    inner: &'a Arc<Inner>,
    op: &'a str,
    params: &'a Params,
    body: &'a Value,
    query: &'a str,
    files: &'a Files,
}

impl Call<'_> {
    fn id(&self, name: &str) -> u64 {
        id_param(self.params, name)
    }

    fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }

    fn query_u64(&self, name: &str) -> Option<u64> {
        self.query_param(name).and_then(|v| v.parse().ok())
    }

    fn bot(&self) -> u64 {
        self.inner.cfg.bot_user_id
    }
}

/// The operation itself, once routed and validated.
fn operate(
    inner: &Arc<Inner>,
    op: &str,
    params: &Params,
    body: &Value,
    query: &str,
    files: &Files,
) -> Answer {
    let call = Call {
        inner,
        op,
        params,
        body,
        query,
        files,
    };
    let bot = inner.cfg.bot_user_id;
    let app = inner.cfg.application_id;
    match op {
        "get_gateway" => (
            200,
            json!({ "url": format!("ws://{}/gateway", inner.addr) }),
        ),
        "get_bot_gateway" => {
            // Discord recommends a shard per 1,000 guilds.
            let guilds = inner.world.lock().guilds.len() as u64;
            let limit = inner
                .gateway
                .session_start_limit(inner.cfg.session_start_total, inner.cfg.max_concurrency);
            (
                200,
                json!({ "url": format!("ws://{}/gateway", inner.addr),
                        "shards": guilds.div_ceil(1000).max(1),
                        "session_start_limit": limit }),
            )
        }
        "get_my_user" => {
            let mut user = inner.world.lock().user_json(bot);
            user["verified"] = json!(true);
            user["mfa_enabled"] = json!(false);
            (200, user)
        }
        "get_user" => {
            let world = inner.world.lock();
            let user = call.id("user_id");
            if world.users.contains_key(&user) {
                (200, world.user_json(user))
            } else {
                error(404, 10013, "Unknown User")
            }
        }
        "get_my_oauth2_application" | "get_my_application" => {
            let owner = inner.world.lock().user_json(bot);
            (
                200,
                json!({ "id": app.to_string(), "name": "Hearth", "icon": null, "description": "", "summary": "",
                        "type": null, "bot_public": true, "bot_require_code_grant": false, "verify_key": "0",
                        "flags": 0, "owner": owner, "team": null, "bot": owner, "rpc_origins": [],
                        "redirect_uris": [], "interactions_endpoint_url": null, "tags": [],
                        "install_params": null, "integration_types_config": {}, "approximate_guild_count": 1 }),
            )
        }
        "bulk_set_application_commands" | "bulk_set_guild_application_commands" => {
            set_commands(&call)
        }
        "list_application_commands" => (200, json!(inner.world.lock().global_commands)),
        "list_guild_application_commands" => {
            let g = call.id("guild_id");
            let world = inner.world.lock();
            (
                200,
                json!(world.guild_commands.get(&g).cloned().unwrap_or_default()),
            )
        }
        "create_interaction_response" => interaction_response(&call),
        "execute_webhook" => followup(&call),
        "get_original_webhook_message"
        | "update_original_webhook_message"
        | "delete_original_webhook_message"
        | "get_webhook_message"
        | "update_webhook_message"
        | "delete_webhook_message" => webhook_message(&call),
        "list_my_guilds" => {
            // Discord: `limit` 1..=200, default 200; `after` a guild id.
            let limit = call.query_u64("limit").unwrap_or(200).clamp(1, 200);
            let after = call.query_u64("after").unwrap_or(0);
            let world = inner.world.lock();
            let guilds: Vec<Value> = world
                .guilds
                .range(after.saturating_add(1)..)
                .filter(|(_, g)| g.members.contains_key(&bot))
                .take(usize::try_from(limit).unwrap_or(200))
                .map(|(id, g)| {
                    json!({ "id": id.to_string(), "name": g.name, "icon": null, "banner": null,
                            "owner": g.owner_id == bot,
                            "permissions": world.base_permissions(*id, bot).to_string(),
                            "features": [] })
                })
                .collect();
            (200, json!(guilds))
        }
        "get_guild" => match inner.world.lock().guild_json(call.id("guild_id")) {
            Some(guild) => (200, guild),
            None => unknown_guild(),
        },
        "list_guild_channels" => {
            let g = call.id("guild_id");
            let world = inner.world.lock();
            let Some(guild) = world.guilds.get(&g) else {
                return unknown_guild();
            };
            let channels: Vec<Value> = guild
                .channels
                .iter()
                .filter(|c| world.channels.get(c).is_some_and(|c| !c.is_thread()))
                .filter_map(|c| world.channel_json(*c))
                .collect();
            (200, json!(channels))
        }
        "list_guild_roles" => {
            let world = inner.world.lock();
            let g = call.id("guild_id");
            if !world.guilds.contains_key(&g) {
                return unknown_guild();
            }
            (200, json!(world.role_json(g)))
        }
        "create_guild_role" => create_role(&call),
        "get_guild_member" => {
            let world = inner.world.lock();
            if !world.guilds.contains_key(&call.id("guild_id")) {
                return unknown_guild();
            }
            match world.member_json(call.id("guild_id"), call.id("user_id"), true) {
                Some(m) => (200, m),
                None => error(404, 10007, "Unknown Member"),
            }
        }
        "list_guild_members" => {
            let g = call.id("guild_id");
            // Discord: `limit` 1..=1000, default 1; `after` a user id.
            let limit = call.query_u64("limit").unwrap_or(1).clamp(1, 1000);
            let after = call.query_u64("after").unwrap_or(0);
            let world = inner.world.lock();
            let Some(guild) = world.guilds.get(&g) else {
                return unknown_guild();
            };
            let members: Vec<Value> = guild
                .members
                .range(after.saturating_add(1)..)
                .take(usize::try_from(limit).unwrap_or(1))
                .filter_map(|(u, _)| world.member_json(g, *u, true))
                .collect();
            (200, json!(members))
        }
        "add_guild_member_role" | "delete_guild_member_role" => {
            member_role(&call, op == "add_guild_member_role")
        }
        "get_channel" => match inner.world.lock().channel_json(call.id("channel_id")) {
            Some(c) => (200, c),
            None => unknown_channel(),
        },
        "update_channel" => update_channel(&call),
        "list_messages" => list_messages(&call),
        "create_message" => create_message(
            inner,
            call.id("channel_id"),
            body,
            files,
            &Post {
                check_permissions: true,
                ..Post::default()
            },
        ),
        "get_message" => {
            let (c, m) = (call.id("channel_id"), call.id("message_id"));
            let world = inner.world.lock();
            if !world.channels.contains_key(&c) {
                return unknown_channel();
            }
            match world
                .messages
                .get(&c)
                .and_then(|list| list.iter().find(|x| parse_id(&x["id"]) == Some(m)).cloned())
            {
                Some(message) => (200, message),
                None => unknown_message(),
            }
        }
        "update_message" => update_message(&call),
        "delete_message" => delete_message(&call),
        "create_thread" => create_thread(&call, None),
        "create_thread_from_message" => create_thread(&call, Some(call.id("message_id"))),
        "add_thread_member" | "join_thread" | "delete_thread_member" | "leave_thread" => {
            thread_member(&call)
        }
        "get_thread_member" => {
            let world = inner.world.lock();
            let (c, u) = (call.id("channel_id"), call.id("user_id"));
            match world.channels.get(&c) {
                Some(thread) if thread.thread_members.contains(&u) => (
                    200,
                    json!({ "id": c.to_string(), "user_id": u.to_string(),
                            "join_timestamp": world::iso(world::snowflake_ms(c)), "flags": 0 }),
                ),
                Some(_) => error(404, 10007, "Unknown Member"),
                None => unknown_channel(),
            }
        }
        "create_dm" => create_dm(&call),
        "add_my_message_reaction" | "delete_my_message_reaction" => {
            reaction(&call, op == "add_my_message_reaction")
        }
        "create_guild_scheduled_event" => create_event(&call),
        "list_guild_scheduled_events" => {
            let world = inner.world.lock();
            let Some(guild) = world.guilds.get(&call.id("guild_id")) else {
                return unknown_guild();
            };
            (
                200,
                json!(guild.scheduled_events.values().cloned().collect::<Vec<_>>()),
            )
        }
        "get_guild_scheduled_event"
        | "update_guild_scheduled_event"
        | "delete_guild_scheduled_event" => scheduled_event(&call),
        "list_auto_moderation_rules"
        | "create_auto_moderation_rule"
        | "get_auto_moderation_rule"
        | "update_auto_moderation_rule"
        | "delete_auto_moderation_rule" => automod(&call),
        other => {
            inner
                .violations
                .lock()
                .push(format!("the emulator does not implement `{other}` yet"));
            error(404, 0, "404: Not Found")
        }
    }
}

fn unknown_guild() -> Answer {
    error(404, 10004, "Unknown Guild")
}

fn unknown_message() -> Answer {
    error(404, 10008, "Unknown Message")
}

fn missing_permissions() -> Answer {
    error(403, 50013, "Missing Permissions")
}

fn set_commands(call: &Call<'_>) -> Answer {
    let inner = call.inner;
    let app = inner.cfg.application_id;
    let guild = call
        .params
        .get("guild_id")
        .and_then(|g| g.parse::<u64>().ok());
    let mut world = inner.world.lock();
    let previous: Vec<Value> = match guild {
        Some(g) => world.guild_commands.get(&g).cloned().unwrap_or_default(),
        None => world.global_commands.clone(),
    };
    let commands: Vec<Value> = call
        .body
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let mut c = c.clone();
            let kind = c["type"].as_u64().unwrap_or(1);
            // Discord keeps the id of a command that is overwritten with the same name and type.
            let id = previous
                .iter()
                .find(|p| p["name"] == c["name"] && p["type"].as_u64() == Some(kind))
                .and_then(|p| parse_id(&p["id"]))
                .unwrap_or_else(|| inner.ids.next());
            c["id"] = json!(id.to_string());
            c["type"] = json!(kind);
            c["application_id"] = json!(app.to_string());
            c["version"] = json!(inner.ids.next().to_string());
            if c.get("description").is_none_or(Value::is_null) {
                c["description"] = json!("");
            }
            for (key, default) in [
                ("default_member_permissions", Value::Null),
                ("nsfw", json!(false)),
                ("options", json!([])),
                ("dm_permission", json!(true)),
            ] {
                if c.get(key).is_none() {
                    c[key] = default;
                }
            }
            if c.get("integration_types").is_none() {
                c["integration_types"] = json!([0]);
            }
            if c.get("contexts").is_none() {
                c["contexts"] = Value::Null;
            }
            match guild {
                Some(g) => c["guild_id"] = json!(g.to_string()),
                None => {
                    if let Some(map) = c.as_object_mut() {
                        map.remove("guild_id");
                    }
                }
            }
            c
        })
        .collect();
    match guild {
        Some(g) => {
            world.guild_commands.insert(g, commands.clone());
        }
        None => world.global_commands = commands.clone(),
    }
    (200, json!(commands))
}

/// How a message is posted.
#[derive(Default)]
struct Post {
    /// Check the bot's permissions in the channel (not for interaction replies).
    check_permissions: bool,
    /// Seen only by the user of an interaction: not stored in the channel, no gateway echo.
    ephemeral: bool,
    /// Message type (0 default, 20 slash command reply, 23 context menu reply).
    kind: u8,
    /// Posted through the interaction webhook.
    webhook: bool,
    /// Extra message flags (64 ephemeral, 128 loading).
    flags: u64,
}

/// `attachments` of a message built from the uploaded files.
fn attachments_json(inner: &Inner, body: &Value, files: &Files, channel: u64) -> Vec<Value> {
    files
        .iter()
        .enumerate()
        .map(|(index, (name, bytes))| {
            let described = body["attachments"]
                .as_array()
                .and_then(|a| {
                    a.iter()
                        .find(|x| parse_id(&x["id"]) == Some(index as u64))
                        .or_else(|| a.get(index))
                })
                .cloned()
                .unwrap_or(Value::Null);
            let filename = described["filename"].as_str().unwrap_or(name).to_owned();
            let id = inner.ids.next();
            let mut attachment = json!({
                "id": id.to_string(),
                "filename": filename,
                "size": bytes.len(),
                "url": format!("https://cdn.discordapp.com/attachments/{channel}/{id}/{filename}"),
                "proxy_url": format!("https://media.discordapp.net/attachments/{channel}/{id}/{filename}"),
            });
            if let Some(description) = described["description"].as_str() {
                attachment["description"] = json!(description);
            }
            if let Some(kind) = content_type(&filename) {
                attachment["content_type"] = json!(kind);
            }
            attachment
        })
        .collect()
}

fn content_type(filename: &str) -> Option<&'static str> {
    let ext = filename.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "csv" => "text/csv; charset=utf-8",
        "json" => "application/json; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "ics" => "text/calendar; charset=utf-8",
        _ => return None,
    })
}

/// How long Discord remembers a nonce for `enforce_nonce`.
const NONCE_WINDOW_MS: u64 = 5 * 60 * 1000;

/// POST a message as the bot: permissions, DMs, `enforce_nonce`, the MESSAGE_CREATE echo.
fn create_message(
    inner: &Arc<Inner>,
    channel_id: u64,
    body: &Value,
    files: &Files,
    post: &Post,
) -> Answer {
    let author = inner.cfg.bot_user_id;
    if body["content"].as_str().is_none_or(str::is_empty)
        && body["embeds"].as_array().is_none_or(Vec::is_empty)
        && body["components"].as_array().is_none_or(Vec::is_empty)
        && body.get("poll").is_none_or(Value::is_null)
        && body["sticker_ids"].as_array().is_none_or(Vec::is_empty)
        && files.is_empty()
        && post.flags & 128 == 0
    {
        return error(400, 50006, "Cannot send an empty message");
    }
    let (message, guild) = {
        let mut world = inner.world.lock();
        let Some(channel) = world.channels.get(&channel_id) else {
            return unknown_channel();
        };
        if let Some(recipient) = channel.recipient {
            if world.dms_closed.contains(&recipient) {
                return error(403, 50007, "Cannot send messages to this user");
            }
        }
        if post.check_permissions && channel.guild_id.is_some() {
            let perms = world.channel_permissions(channel_id, author);
            let send = if channel.is_thread() {
                perm::SEND_MESSAGES_IN_THREADS
            } else {
                perm::SEND_MESSAGES
            };
            if perms & perm::VIEW_CHANNEL == 0 {
                return error(403, 50001, "Missing Access");
            }
            if perms & send == 0 {
                return missing_permissions();
            }
            if !files.is_empty() && perms & perm::ATTACH_FILES == 0 {
                return missing_permissions();
            }
            if channel.is_thread() && (channel.archived || channel.locked) {
                return error(400, 50083, "Thread is archived");
            }
        }
        let guild = channel.guild_id;
        let nonce = body["nonce"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| body["nonce"].as_u64().map(|n| n.to_string()));
        let now = world::now_ms();
        if let (Some(nonce), true) = (&nonce, body["enforce_nonce"] == json!(true)) {
            if let Some((existing, at)) = world
                .nonces
                .get(&(channel_id, author, nonce.clone()))
                .copied()
            {
                if now.saturating_sub(at) < NONCE_WINDOW_MS {
                    if let Some(found) = world.message(channel_id, existing) {
                        return (200, found.clone());
                    }
                }
            }
        }
        let id = inner.ids.next();
        let mut message = message_json(
            &world,
            id,
            channel_id,
            author,
            body["content"].as_str().unwrap_or_default(),
            body,
        );
        message["type"] = json!(post.kind);
        message["attachments"] = json!(attachments_json(inner, body, files, channel_id));
        let flags = body["flags"].as_u64().unwrap_or(0) & (4 | 4096 | 32768) | post.flags;
        message["flags"] = json!(flags);
        if post.webhook {
            message["webhook_id"] = json!(inner.cfg.application_id.to_string());
            message["application_id"] = json!(inner.cfg.application_id.to_string());
        }
        if let Some(nonce) = nonce {
            message["nonce"] = json!(nonce);
            world.nonces.insert((channel_id, author, nonce), (id, now));
        }
        if let Some(poll) = body.get("poll").filter(|p| !p.is_null()) {
            message["poll"] = poll_json(poll);
        }
        if let Some(reference) = body.get("message_reference").filter(|r| !r.is_null()) {
            let mut reference = reference.clone();
            if reference.get("channel_id").is_none() {
                reference["channel_id"] = json!(channel_id.to_string());
            }
            if let Some(g) = guild {
                reference["guild_id"] = json!(g.to_string());
            }
            if reference["type"].as_u64().unwrap_or(0) == 0 {
                message["type"] = json!(19);
                if let Some(target) = parse_id(&reference["message_id"]) {
                    if let Some(found) = world.message(channel_id, target) {
                        message["referenced_message"] = found.clone();
                    }
                }
            }
            message["message_reference"] = reference;
        }
        if post.ephemeral {
            world.ephemeral.insert(id, message.clone());
        } else {
            world
                .messages
                .entry(channel_id)
                .or_default()
                .push(message.clone());
        }
        (message, guild)
    };
    if !post.ephemeral {
        echo_message(inner, "MESSAGE_CREATE", &message, guild);
    }
    (200, message)
}

/// A poll as a message carries it (the request's shape plus ids and results).
fn poll_json(request: &Value) -> Value {
    let answers: Vec<Value> = request["answers"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, a)| json!({ "answer_id": i + 1, "poll_media": a["poll_media"] }))
        .collect();
    let hours = request["duration"].as_u64().unwrap_or(24);
    json!({
        "question": request["question"],
        "answers": answers,
        "expiry": world::iso(world::now_ms() + hours * 3_600_000),
        "allow_multiselect": request["allow_multiselect"].as_bool().unwrap_or(false),
        "layout_type": request["layout_type"].as_u64().unwrap_or(1),
        "results": { "is_finalized": false, "answer_counts": [] },
    })
}

/// MESSAGE_CREATE / MESSAGE_UPDATE as Discord sends them in a guild: with `guild_id` and the
/// author's `member`.
fn echo_message(inner: &Arc<Inner>, event: &str, message: &Value, guild: Option<u64>) {
    let mut d = message.clone();
    if let Some(g) = guild {
        d["guild_id"] = json!(g.to_string());
        let author = parse_id(&message["author"]["id"]).unwrap_or(0);
        if let Some(member) = inner.world.lock().member_json(g, author, false) {
            d["member"] = member;
        }
    }
    gateway::dispatch(inner, event, &d);
}

/// Applies an edit body to a stored message.
fn apply_edit(inner: &Inner, message: &mut Value, body: &Value, files: &Files) {
    let channel = parse_id(&message["channel_id"]).unwrap_or(0);
    for key in ["content", "embeds", "components"] {
        if let Some(value) = body.get(key) {
            message[key] = if value.is_null() {
                match key {
                    "content" => json!(""),
                    _ => json!([]),
                }
            } else {
                value.clone()
            };
        }
    }
    if let Some(kept) = body["attachments"].as_array() {
        let old = message["attachments"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut attachments: Vec<Value> = old
            .into_iter()
            .filter(|a| kept.iter().any(|k| k["id"] == a["id"]))
            .collect();
        attachments.extend(attachments_json(inner, body, files, channel));
        message["attachments"] = json!(attachments);
    } else if !files.is_empty() {
        let mut attachments = message["attachments"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        attachments.extend(attachments_json(inner, body, files, channel));
        message["attachments"] = json!(attachments);
    }
    let flags = message["flags"].as_u64().unwrap_or(0);
    if flags & 128 != 0 {
        // The first edit of a deferred ("thinking") reply is its content, not an edit.
        message["flags"] = json!(flags & !128);
    } else {
        message["edited_timestamp"] = json!(world::iso(world::now_ms()));
    }
    if let Some(f) = body["flags"].as_u64() {
        let kept = message["flags"].as_u64().unwrap_or(0) & 64;
        message["flags"] = json!(kept | (f & 4));
    }
}

fn list_messages(call: &Call<'_>) -> Answer {
    let c = call.id("channel_id");
    let world = call.inner.world.lock();
    if !world.channels.contains_key(&c) {
        return unknown_channel();
    }
    let perms = world.channel_permissions(c, call.bot());
    if perms & perm::VIEW_CHANNEL == 0 {
        return error(403, 50001, "Missing Access");
    }
    if perms & perm::READ_MESSAGE_HISTORY == 0 {
        return (200, json!([]));
    }
    let limit = usize::try_from(call.query_u64("limit").unwrap_or(50).clamp(1, 100)).unwrap_or(50);
    let all = world.messages.get(&c).cloned().unwrap_or_default();
    let id_of = |m: &Value| parse_id(&m["id"]).unwrap_or(0);
    let mut picked: Vec<Value> = if let Some(after) = call.query_u64("after") {
        all.into_iter()
            .filter(|m| id_of(m) > after)
            .take(limit)
            .collect()
    } else if let Some(before) = call.query_u64("before") {
        let older: Vec<Value> = all.into_iter().filter(|m| id_of(m) < before).collect();
        let skip = older.len().saturating_sub(limit);
        older.into_iter().skip(skip).collect()
    } else if let Some(around) = call.query_u64("around") {
        let at = all
            .iter()
            .position(|m| id_of(m) >= around)
            .unwrap_or(all.len());
        let start = at.saturating_sub(limit / 2);
        all.into_iter().skip(start).take(limit).collect()
    } else {
        let skip = all.len().saturating_sub(limit);
        all.into_iter().skip(skip).collect()
    };
    picked.reverse();
    (200, json!(picked))
}

fn update_message(call: &Call<'_>) -> Answer {
    let inner = call.inner;
    let (c, m) = (call.id("channel_id"), call.id("message_id"));
    let (updated, guild) = {
        let mut world = inner.world.lock();
        let Some(guild) = world.channels.get(&c).map(|ch| ch.guild_id) else {
            return unknown_channel();
        };
        let bot = call.bot();
        let Some(message) = world
            .messages
            .get_mut(&c)
            .and_then(|list| list.iter_mut().find(|x| parse_id(&x["id"]) == Some(m)))
        else {
            return unknown_message();
        };
        if parse_id(&message["author"]["id"]) != Some(bot) {
            let only_flags = call
                .body
                .as_object()
                .is_some_and(|b| b.keys().all(|k| k == "flags"));
            if !only_flags {
                return error(403, 50005, "Cannot edit a message authored by another user");
            }
        }
        apply_edit(inner, message, call.body, call.files);
        (message.clone(), guild)
    };
    echo_message(inner, "MESSAGE_UPDATE", &updated, guild);
    (200, updated)
}

fn delete_message(call: &Call<'_>) -> Answer {
    let inner = call.inner;
    let (c, m) = (call.id("channel_id"), call.id("message_id"));
    let guild = {
        let mut world = inner.world.lock();
        let Some(guild) = world.channels.get(&c).map(|ch| ch.guild_id) else {
            return unknown_channel();
        };
        let bot = call.bot();
        let may_manage = world.channel_permissions(c, bot) & perm::MANAGE_MESSAGES != 0;
        let Some(list) = world.messages.get_mut(&c) else {
            return unknown_message();
        };
        let Some(index) = list.iter().position(|x| parse_id(&x["id"]) == Some(m)) else {
            return unknown_message();
        };
        if parse_id(&list[index]["author"]["id"]) != Some(bot) && !may_manage {
            return missing_permissions();
        }
        list.remove(index);
        guild
    };
    echo_delete(inner, c, m, guild);
    (204, Value::Null)
}

fn echo_delete(inner: &Arc<Inner>, channel: u64, message: u64, guild: Option<u64>) {
    let mut d = json!({ "id": message.to_string(), "channel_id": channel.to_string() });
    if let Some(g) = guild {
        d["guild_id"] = json!(g.to_string());
    }
    gateway::dispatch(inner, "MESSAGE_DELETE", &d);
}

/// A system message (join notice 7, pin 6, thread created 18...) posted by Discord itself:
/// stored in the channel and dispatched as MESSAGE_CREATE with the author's member. Returns
/// its id.
pub fn post_system_message(
    inner: &Arc<Inner>,
    channel: u64,
    author: u64,
    kind: u8,
    content: &str,
    reference: Option<Value>,
) -> u64 {
    let id = inner.ids.next();
    let (message, guild) = {
        let mut world = inner.world.lock();
        let guild = world.channels.get(&channel).and_then(|c| c.guild_id);
        let mut message = message_json(&world, id, channel, author, content, &json!({}));
        message["type"] = json!(kind);
        message["mentions"] = json!([]);
        if let Some(mut reference) = reference {
            if let Some(g) = guild {
                reference["guild_id"] = json!(g.to_string());
            }
            message["message_reference"] = reference;
        }
        world
            .messages
            .entry(channel)
            .or_default()
            .push(message.clone());
        (message, guild)
    };
    echo_message(inner, "MESSAGE_CREATE", &message, guild);
    id
}

/// Discord's "started a thread" notice (type 18) in the parent of a public thread that was not
/// started from a message, authored by whoever started it.
pub fn thread_created_notice(inner: &Arc<Inner>, parent: u64, thread: u64, owner: u64, name: &str) {
    if !inner.cfg.system_messages {
        return;
    }
    let reference = json!({ "type": 0, "channel_id": thread.to_string() });
    post_system_message(inner, parent, owner, 18, name, Some(reference));
}

fn create_thread(call: &Call<'_>, from_message: Option<u64>) -> Answer {
    let inner = call.inner;
    let body = call.body;
    let parent_id = call.id("channel_id");
    let bot = call.bot();
    let (thread, starter) = {
        let mut world = inner.world.lock();
        let Some(parent) = world.channels.get(&parent_id) else {
            return unknown_channel();
        };
        let guild = parent.guild_id;
        let forum = matches!(parent.kind, 15 | 16);
        if parent.is_thread() || !matches!(parent.kind, 0 | 5 | 15 | 16) {
            return error(400, 50024, "Cannot execute action on this channel type");
        }
        let kind: u8 = if forum || from_message.is_some() {
            if parent.kind == 5 {
                10
            } else {
                11
            }
        } else {
            // Discord's default for a thread without a message is a private thread.
            u8::try_from(body["type"].as_u64().unwrap_or(12)).unwrap_or(12)
        };
        let perms = world.channel_permissions(parent_id, bot);
        let needed = if forum {
            perm::VIEW_CHANNEL | perm::SEND_MESSAGES
        } else if kind == 12 {
            perm::VIEW_CHANNEL | perm::CREATE_PRIVATE_THREADS
        } else {
            perm::VIEW_CHANNEL | perm::CREATE_PUBLIC_THREADS
        };
        if perms & perm::VIEW_CHANNEL == 0 {
            return error(403, 50001, "Missing Access");
        }
        if perms & needed != needed {
            return missing_permissions();
        }
        if forum && body["message"].is_null() {
            return error(400, 50035, "Invalid Form Body");
        }
        let applied: Vec<u64> = body["applied_tags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(parse_id)
            .collect();
        if forum
            && applied
                .iter()
                .any(|t| !parent.available_tags.iter().any(|(id, _)| id == t))
        {
            return error(400, 50035, "Invalid Form Body");
        }
        let id = match from_message {
            Some(message) => {
                if world.message(parent_id, message).is_none() {
                    return unknown_message();
                }
                if world.channels.contains_key(&message) {
                    return error(
                        400,
                        160_004,
                        "A thread has already been created for this message",
                    );
                }
                message
            }
            None => inner.ids.next(),
        };
        world.channels.insert(
            id,
            Channel {
                id,
                guild_id: guild,
                kind,
                name: body["name"].as_str().unwrap_or("thread").to_owned(),
                parent_id: Some(parent_id),
                owner_id: Some(bot),
                thread_members: vec![bot],
                applied_tags: applied,
                ..Channel::default()
            },
        );
        if let Some(g) = guild.and_then(|g| world.guilds.get_mut(&g)) {
            g.channels.push(id);
        }
        if let Some(message) = from_message {
            let thread = world.channel_json(id);
            if let (Some(starter), Some(thread)) = (world.message_mut(parent_id, message), thread) {
                starter["thread"] = thread;
                starter["flags"] = json!(starter["flags"].as_u64().unwrap_or(0) | 32);
            }
        }
        (
            world.channel_json(id).unwrap_or_default(),
            forum.then(|| body["message"].clone()),
        )
    };
    let mut event = thread.clone();
    event["newly_created"] = json!(true);
    gateway::dispatch(inner, "THREAD_CREATE", &event);
    if starter.is_none() && from_message.is_none() && thread["type"] != json!(12) {
        let id = parse_id(&thread["id"]).unwrap_or(0);
        let name = thread["name"].as_str().unwrap_or_default();
        thread_created_notice(inner, parent_id, id, bot, name);
    }
    if let Some(message) = starter {
        let id = parse_id(&thread["id"]).unwrap_or(0);
        let (status, created) = create_message(inner, id, &message, call.files, &Post::default());
        if status != 200 {
            return (status, created);
        }
        let mut with_message = inner.world.lock().channel_json(id).unwrap_or(thread);
        with_message["message"] = created;
        return (201, with_message);
    }
    (201, thread)
}

fn thread_member(call: &Call<'_>) -> Answer {
    let c = call.id("channel_id");
    let joining = matches!(call.op, "add_thread_member" | "join_thread");
    let user = if matches!(call.op, "join_thread" | "leave_thread") {
        call.bot()
    } else {
        call.id("user_id")
    };
    let bot = call.bot();
    let mut world = call.inner.world.lock();
    let perms = world.channel_permissions(c, bot);
    let guild = world.channels.get(&c).and_then(|t| t.guild_id).unwrap_or(0);
    let is_member = world
        .guilds
        .get(&guild)
        .is_some_and(|g| g.members.contains_key(&user));
    match world.channels.get_mut(&c) {
        Some(thread) if thread.is_thread() => {
            if perms & perm::VIEW_CHANNEL == 0 {
                return error(403, 50001, "Missing Access");
            }
            if thread.archived && joining {
                return error(400, 50083, "Thread is archived");
            }
            let private = thread.kind == 12;
            let manage = perms & perm::MANAGE_THREADS != 0;
            match call.op {
                // Docs: adding someone needs Send Messages in Threads (and, in a private thread,
                // being in it or Manage Threads); they must be a member of the server.
                "add_thread_member" => {
                    if perms & perm::SEND_MESSAGES_IN_THREADS == 0
                        || (private && !manage && !thread.thread_members.contains(&bot))
                    {
                        return missing_permissions();
                    }
                    if !is_member {
                        return error(404, 10007, "Unknown Member");
                    }
                }
                // Joining a private thread one was not added to is not possible.
                "join_thread" if private && !manage && !thread.thread_members.contains(&bot) => {
                    return missing_permissions();
                }
                // Docs: removing someone needs Manage Threads, or being the private thread's
                // creator.
                "delete_thread_member"
                    if !(manage || (private && thread.owner_id == Some(bot))) =>
                {
                    return missing_permissions();
                }
                _ => {}
            }
            if joining {
                if !thread.thread_members.contains(&user) {
                    thread.thread_members.push(user);
                }
            } else {
                thread.thread_members.retain(|u| *u != user);
            }
            (204, Value::Null)
        }
        Some(_) => error(400, 50024, "Cannot execute action on this channel type"),
        None => unknown_channel(),
    }
}

fn update_channel(call: &Call<'_>) -> Answer {
    let inner = call.inner;
    let body = call.body;
    let channel_id = call.id("channel_id");
    let updated = {
        let mut world = inner.world.lock();
        let Some(channel) = world.channels.get(&channel_id) else {
            return unknown_channel();
        };
        let is_thread = channel.is_thread();
        let own_thread = is_thread && channel.owner_id == Some(call.bot());
        let perms = world.channel_permissions(channel_id, call.bot());
        // Discord: a thread's owner may rename or archive it, anyone who may talk in it may
        // unarchive it (unless locked), MANAGE_THREADS may do everything.
        let only_unarchive = body
            .as_object()
            .is_some_and(|b| b.len() == 1 && b.get("archived") == Some(&json!(false)));
        let allowed = if is_thread {
            perms & perm::MANAGE_THREADS != 0
                || (!channel.locked && body.get("locked").is_none() && own_thread)
                || (!channel.locked
                    && only_unarchive
                    && perms & perm::SEND_MESSAGES_IN_THREADS != 0)
        } else {
            perms & perm::MANAGE_CHANNELS != 0
        };
        if !allowed {
            return missing_permissions();
        }
        let Some(channel) = world.channels.get_mut(&channel_id) else {
            return unknown_channel();
        };
        if let Some(archived) = body["archived"].as_bool() {
            channel.archived = archived;
        }
        if let Some(locked) = body["locked"].as_bool() {
            channel.locked = locked;
        }
        if let Some(name) = body["name"].as_str() {
            channel.name = name.to_owned();
        }
        if body.get("topic").is_some() {
            channel.topic = body["topic"].as_str().map(str::to_owned);
        }
        if let Some(tags) = body["applied_tags"].as_array() {
            channel.applied_tags = tags.iter().filter_map(parse_id).collect();
        }
        // A forum's tags: existing ones keep their id, new ones (no id) get one.
        if let Some(tags) = body["available_tags"].as_array() {
            channel.available_tags = tags
                .iter()
                .map(|t| {
                    let id = parse_id(&t["id"]).unwrap_or_else(|| inner.ids.next());
                    (id, t["name"].as_str().unwrap_or_default().to_owned())
                })
                .collect();
        }
        world.channel_json(channel_id).unwrap_or_default()
    };
    let name = if updated.get("thread_metadata").is_some() {
        "THREAD_UPDATE"
    } else {
        "CHANNEL_UPDATE"
    };
    gateway::dispatch(inner, name, &updated);
    (200, updated)
}

fn create_role(call: &Call<'_>) -> Answer {
    let inner = call.inner;
    let g = call.id("guild_id");
    let role = {
        let mut world = inner.world.lock();
        if !world.guilds.contains_key(&g) {
            return unknown_guild();
        }
        let bot_perms = world.base_permissions(g, call.bot());
        if bot_perms & perm::MANAGE_ROLES == 0 {
            return missing_permissions();
        }
        let requested = call.body["permissions"]
            .as_str()
            .and_then(|p| p.parse::<u64>().ok())
            .or_else(|| call.body["permissions"].as_u64())
            .unwrap_or(0);
        // Docs: a role cannot be given permissions its creator does not have.
        if requested & !bot_perms != 0 {
            return missing_permissions();
        }
        let id = inner.ids.next();
        let Some(guild) = world.guilds.get_mut(&g) else {
            return unknown_guild();
        };
        let role = Role {
            id,
            name: call.body["name"].as_str().unwrap_or("new role").to_owned(),
            permissions: call.body["permissions"]
                .as_str()
                .and_then(|p| p.parse().ok())
                .or_else(|| call.body["permissions"].as_u64())
                .unwrap_or(0),
            position: 1,
            managed_by_bot: None,
        };
        let json = role.json();
        guild.roles.insert(id, role);
        json
    };
    gateway::dispatch(
        inner,
        "GUILD_ROLE_CREATE",
        &json!({ "guild_id": g.to_string(), "role": role }),
    );
    (200, role)
}

fn member_role(call: &Call<'_>, add: bool) -> Answer {
    let inner = call.inner;
    let (g, u, r) = (call.id("guild_id"), call.id("user_id"), call.id("role_id"));
    let bot = call.bot();
    let event = {
        let mut world = inner.world.lock();
        let Some(guild) = world.guilds.get(&g) else {
            return unknown_guild();
        };
        let Some(role) = guild.roles.get(&r) else {
            return error(404, 10011, "Unknown Role");
        };
        let bot_top = guild.members.get(&bot).map_or(0, |m| {
            m.roles
                .iter()
                .filter_map(|x| guild.roles.get(x))
                .map(|x| x.position)
                .max()
                .unwrap_or(0)
        });
        if world.base_permissions(g, bot) & perm::MANAGE_ROLES == 0
            || role.position >= bot_top
            || role.managed_by_bot.is_some()
        {
            return missing_permissions();
        }
        let Some(member) = world
            .guilds
            .get_mut(&g)
            .and_then(|guild| guild.members.get_mut(&u))
        else {
            return error(404, 10007, "Unknown Member");
        };
        let before = member.roles.clone();
        if add && !member.roles.contains(&r) {
            member.roles.push(r);
        } else if !add {
            member.roles.retain(|x| *x != r);
        }
        if member.roles == before {
            return (204, Value::Null);
        }
        let mut event = world.member_json(g, u, true).unwrap_or_default();
        event["guild_id"] = json!(g.to_string());
        event
    };
    gateway::dispatch(inner, "GUILD_MEMBER_UPDATE", &event);
    (204, Value::Null)
}

fn create_dm(call: &Call<'_>) -> Answer {
    let inner = call.inner;
    let Some(user) = parse_id(&call.body["recipient_id"]) else {
        return error(400, 50035, "Invalid Form Body");
    };
    let mut world = inner.world.lock();
    if !world.users.contains_key(&user) {
        return error(400, 50035, "Invalid Form Body");
    }
    let existing = world
        .channels
        .values()
        .find(|c| c.recipient == Some(user))
        .map(|c| c.id);
    let id = existing.unwrap_or_else(|| {
        let id = inner.ids.next();
        world.channels.insert(
            id,
            Channel {
                id,
                kind: 1,
                recipient: Some(user),
                ..Channel::default()
            },
        );
        id
    });
    (200, world.channel_json(id).unwrap_or_default())
}

/// `%F0%9F%91%8D` → 👍; custom emojis arrive as `name:id`.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| char::from(b).to_digit(16);
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn reaction(call: &Call<'_>, add: bool) -> Answer {
    let inner = call.inner;
    let (c, m) = (call.id("channel_id"), call.id("message_id"));
    let bot = call.bot();
    let emoji = percent_decode(call.params.get("emoji_name").map_or("", String::as_str));
    let (emoji_json, name) = match emoji.split_once(':') {
        Some((name, id)) => (json!({ "id": id, "name": name }), name.to_owned()),
        None => (json!({ "id": null, "name": emoji }), emoji.clone()),
    };
    let d = {
        let mut world = inner.world.lock();
        let Some(guild) = world.channels.get(&c).map(|ch| ch.guild_id) else {
            return unknown_channel();
        };
        let perms = world.channel_permissions(c, bot);
        if perms & perm::VIEW_CHANNEL == 0 {
            return error(403, 50001, "Missing Access");
        }
        if world.message(c, m).is_none() {
            return unknown_message();
        }
        let exists = world.message(c, m).is_some_and(|msg| {
            msg["reactions"]
                .as_array()
                .is_some_and(|r| r.iter().any(|r| r["emoji"]["name"] == name.as_str()))
        });
        if add && !exists && perms & perm::ADD_REACTIONS == 0 {
            return missing_permissions();
        }
        let author = if add {
            world.add_reaction(c, m, &name, true)
        } else {
            world.remove_reaction(c, m, &name, true);
            None
        };
        let mut d = json!({
            "user_id": bot.to_string(),
            "channel_id": c.to_string(),
            "message_id": m.to_string(),
            "emoji": emoji_json,
            "burst": false,
            "type": 0,
        });
        if let Some(g) = guild {
            d["guild_id"] = json!(g.to_string());
            if add {
                if let Some(member) = world.member_json(g, bot, true) {
                    d["member"] = member;
                }
            }
        }
        if let Some(author) = author {
            d["message_author_id"] = json!(author.to_string());
        }
        d
    };
    let event = if add {
        "MESSAGE_REACTION_ADD"
    } else {
        "MESSAGE_REACTION_REMOVE"
    };
    gateway::dispatch(inner, event, &d);
    (204, Value::Null)
}

fn create_event(call: &Call<'_>) -> Answer {
    let inner = call.inner;
    let body = call.body;
    let g = call.id("guild_id");
    let bot = call.bot();
    let id = inner.ids.next();
    let mut event = body.clone();
    event["id"] = json!(id.to_string());
    event["guild_id"] = json!(g.to_string());
    event["creator_id"] = json!(bot.to_string());
    event["status"] = json!(1);
    event["user_count"] = json!(0);
    event["entity_id"] = Value::Null;
    for key in [
        "channel_id",
        "scheduled_end_time",
        "description",
        "entity_metadata",
        "image",
        "recurrence_rule",
    ] {
        if event.get(key).is_none() {
            event[key] = Value::Null;
        }
    }
    if event.get("privacy_level").is_none() {
        event["privacy_level"] = json!(2);
    }
    let mut world = inner.world.lock();
    if !world.guilds.contains_key(&g) {
        return unknown_guild();
    }
    // Since February 2026 only Create Events allows creating an event; Manage Events does not.
    if world.base_permissions(g, bot) & perm::CREATE_EVENTS == 0 {
        return missing_permissions();
    }
    // Discord refuses a start that has passed, and an end that is not after the start.
    let instant = |key: &str| event[key].as_str().and_then(world::parse_iso_ms);
    if instant("scheduled_start_time").is_some_and(|start| start <= world::now_ms()) {
        return invalid_form(
            "scheduled_start_time",
            "GUILD_SCHEDULED_EVENT_SCHEDULE_PAST",
            "Cannot schedule event in the past.",
        );
    }
    if let (Some(start), Some(end)) = (
        instant("scheduled_start_time"),
        instant("scheduled_end_time"),
    ) {
        if end <= start {
            return invalid_form(
                "scheduled_end_time",
                "GUILD_SCHEDULED_EVENT_END_BEFORE_START",
                "Cannot schedule event to end before starting.",
            );
        }
    }
    // Per entity type (docs, "Permissions for events with entity_type ..."): a voice event
    // needs View Channel and Connect in its channel, a stage event also Manage Channels, Mute
    // Members and Move Members; an external one needs a location and an end time.
    let entity_type = event["entity_type"].as_u64().unwrap_or(0);
    match entity_type {
        1 | 2 => {
            let Some(channel) = parse_id(&event["channel_id"]) else {
                return invalid_form("channel_id", "BASE_TYPE_REQUIRED", "This field is required");
            };
            let needed = if entity_type == 1 {
                perm::VIEW_CHANNEL
                    | perm::CONNECT
                    | perm::MANAGE_CHANNELS
                    | perm::MUTE_MEMBERS
                    | perm::MOVE_MEMBERS
            } else {
                perm::VIEW_CHANNEL | perm::CONNECT
            };
            if world.channel_permissions(channel, bot) & needed != needed {
                return missing_permissions();
            }
        }
        3 => {
            if event["entity_metadata"]["location"]
                .as_str()
                .is_none_or(str::is_empty)
            {
                return invalid_form(
                    "entity_metadata.location",
                    "BASE_TYPE_REQUIRED",
                    "This field is required",
                );
            }
            if event["scheduled_end_time"].is_null() {
                return invalid_form(
                    "scheduled_end_time",
                    "BASE_TYPE_REQUIRED",
                    "This field is required",
                );
            }
        }
        _ => {}
    }
    // Discord allows 100 events that are scheduled or active per guild.
    let uncompleted = world.guilds.get(&g).map_or(0, |guild| {
        guild
            .scheduled_events
            .values()
            .filter(|e| matches!(e["status"].as_u64(), Some(1 | 2)))
            .count()
    });
    if uncompleted >= 100 {
        return error(
            400,
            30038,
            "Maximum number of uncompleted guild scheduled events reached (100)",
        );
    }
    event["creator"] = world.user_json(bot);
    if let Some(guild) = world.guilds.get_mut(&g) {
        guild.scheduled_events.insert(id, event.clone());
    }
    drop(world);
    gateway::dispatch(inner, "GUILD_SCHEDULED_EVENT_CREATE", &event);
    (200, event)
}

fn scheduled_event(call: &Call<'_>) -> Answer {
    let inner = call.inner;
    let (g, e) = (call.id("guild_id"), call.id("guild_scheduled_event_id"));
    let mut world = inner.world.lock();
    if !world.guilds.contains_key(&g) {
        return unknown_guild();
    }
    let perms = world.base_permissions(g, call.bot());
    let Some(event) = world
        .guilds
        .get_mut(&g)
        .and_then(|g| g.scheduled_events.get_mut(&e))
    else {
        return error(404, 10070, "Unknown Guild Scheduled Event");
    };
    // Editing or deleting: Manage Events for anyone's event, Create Events for one's own.
    let own = parse_id(&event["creator_id"]) == Some(call.bot());
    if call.op != "get_guild_scheduled_event"
        && perms & perm::MANAGE_EVENTS == 0
        && !(own && perms & perm::CREATE_EVENTS != 0)
    {
        return missing_permissions();
    }
    match call.op {
        "update_guild_scheduled_event" => {
            if let (Some(target), Some(changes)) = (event.as_object_mut(), call.body.as_object()) {
                for (k, v) in changes {
                    target.insert(k.clone(), v.clone());
                }
            }
            let updated = event.clone();
            drop(world);
            gateway::dispatch(inner, "GUILD_SCHEDULED_EVENT_UPDATE", &updated);
            (200, updated)
        }
        "delete_guild_scheduled_event" => {
            let deleted = event.clone();
            if let Some(guild) = world.guilds.get_mut(&g) {
                guild.scheduled_events.remove(&e);
            }
            drop(world);
            gateway::dispatch(inner, "GUILD_SCHEDULED_EVENT_DELETE", &deleted);
            (204, Value::Null)
        }
        _ => (200, event.clone()),
    }
}

/// AutoMod rules: every endpoint needs Manage Guild (docs), including reading them.
fn automod(call: &Call<'_>) -> Answer {
    let inner = call.inner;
    let g = call.id("guild_id");
    let mut world = inner.world.lock();
    if !world.guilds.contains_key(&g) {
        return unknown_guild();
    }
    if world.base_permissions(g, call.bot()) & perm::MANAGE_GUILD == 0 {
        return missing_permissions();
    }
    let Some(guild) = world.guilds.get_mut(&g) else {
        return unknown_guild();
    };
    let unknown_rule = || error(404, 10066, "Unknown auto moderation rule");
    let rule_id = call.id("rule_id");
    let (event, answer) = match call.op {
        "list_auto_moderation_rules" => {
            return (200, json!(guild.automod_rules.values().collect::<Vec<_>>()));
        }
        "get_auto_moderation_rule" => {
            return guild
                .automod_rules
                .get(&rule_id)
                .map_or_else(unknown_rule, |r| (200, r.clone()));
        }
        "create_auto_moderation_rule" => {
            // Docs: one rule per server of each trigger type but keyword (six of those).
            let kind = call.body["trigger_type"].as_u64().unwrap_or(0);
            let same = guild
                .automod_rules
                .values()
                .filter(|r| r["trigger_type"].as_u64() == Some(kind))
                .count();
            if same >= if kind == 1 { 6 } else { 1 } {
                return (
                    400,
                    json!({"code": 50035, "message": "Invalid Form Body", "errors": {"trigger_type": {"_errors": [{"code": "AUTO_MODERATION_MAX_RULES_OF_TYPE_EXCEEDED", "message": "Maximum number of rules of this type exceeded"}]}}}),
                );
            }
            let id = inner.ids.next();
            let mut rule = call.body.clone();
            rule["id"] = json!(id.to_string());
            rule["guild_id"] = json!(g.to_string());
            rule["creator_id"] = json!(call.bot().to_string());
            for (key, default) in [
                ("enabled", json!(false)),
                ("exempt_roles", json!([])),
                ("exempt_channels", json!([])),
                ("trigger_metadata", json!({})),
            ] {
                if rule.get(key).is_none_or(Value::is_null) {
                    rule[key] = default;
                }
            }
            // Discord answers with every metadata field of the trigger type, defaults included.
            let defaults = match kind {
                1 => json!({"keyword_filter": [], "regex_patterns": [], "allow_list": []}),
                4 => json!({"presets": [], "allow_list": []}),
                5 => json!({"mention_total_limit": 0, "mention_raid_protection_enabled": false}),
                _ => json!({}),
            };
            if let Some(defaults) = defaults.as_object() {
                for (key, value) in defaults {
                    if rule["trigger_metadata"].get(key).is_none() {
                        rule["trigger_metadata"][key] = value.clone();
                    }
                }
            }
            guild.automod_rules.insert(id, rule.clone());
            ("AUTO_MODERATION_RULE_CREATE", (200, rule))
        }
        "update_auto_moderation_rule" => {
            let Some(rule) = guild.automod_rules.get_mut(&rule_id) else {
                return unknown_rule();
            };
            if let (Some(target), Some(changes)) = (rule.as_object_mut(), call.body.as_object()) {
                for (k, v) in changes {
                    target.insert(k.clone(), v.clone());
                }
            }
            ("AUTO_MODERATION_RULE_UPDATE", (200, rule.clone()))
        }
        _ => {
            let Some(rule) = guild.automod_rules.remove(&rule_id) else {
                return unknown_rule();
            };
            drop(world);
            gateway::dispatch(inner, "AUTO_MODERATION_RULE_DELETE", &rule);
            return (204, Value::Null);
        }
    };
    drop(world);
    gateway::dispatch(inner, event, &answer.1);
    answer
}

/// An interaction's token works for follow-ups and edits for 15 minutes (configurable).
fn token_expired(inner: &Inner, interaction: &world::Interaction) -> bool {
    world::now_ms().saturating_sub(interaction.created_ms) > inner.cfg.interaction_token_ms
}

fn invalid_webhook_token() -> Answer {
    error(401, 50027, "Invalid Webhook Token")
}

/// `POST /interactions/{id}/{token}/callback`.
fn interaction_response(call: &Call<'_>) -> Answer {
    let inner = call.inner;
    let body = call.body;
    let token = call
        .params
        .get("interaction_token")
        .cloned()
        .unwrap_or_default();
    let interaction = {
        let mut world = inner.world.lock();
        let Some(interaction) = world.interactions.get_mut(&token) else {
            return error(404, 10062, "Unknown interaction");
        };
        let age = world::now_ms().saturating_sub(interaction.created_ms);
        if inner.trace {
            eprintln!("[discord-emulator] interaction answered {age} ms after it was sent");
        }
        if age > inner.cfg.interaction_response_ms {
            return error(404, 10062, "Unknown interaction");
        }
        if interaction.responded {
            return error(400, 40060, "Interaction has already been acknowledged.");
        }
        interaction.responded = true;
        interaction.clone()
    };
    let kind = body["type"].as_u64().unwrap_or(0);
    let data = &body["data"];
    let ephemeral = data["flags"].as_u64().unwrap_or(0) & 64 != 0;
    let post = Post {
        ephemeral,
        kind: interaction.reply_type,
        webhook: true,
        flags: if ephemeral { 64 } else { 0 },
        ..Post::default()
    };
    let original = match kind {
        // CHANNEL_MESSAGE_WITH_SOURCE: the reply is a message.
        4 => {
            let (status, message) =
                create_message(inner, interaction.channel, data, call.files, &post);
            if status != 200 {
                return (status, message);
            }
            parse_id(&message["id"])
        }
        // DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE: a "thinking" message, edited later.
        5 => {
            let post = Post {
                flags: post.flags | 128,
                ..post
            };
            let (_, message) = create_message(inner, interaction.channel, &json!({}), &[], &post);
            parse_id(&message["id"])
        }
        // DEFERRED_UPDATE_MESSAGE: the original is the component's message.
        6 => interaction.message,
        // UPDATE_MESSAGE: edit the component's message now.
        7 => {
            let Some(target) = interaction.message else {
                return error(400, 50035, "Invalid Form Body");
            };
            let (updated, guild) = {
                let mut world = inner.world.lock();
                let guild = world
                    .channels
                    .get(&interaction.channel)
                    .and_then(|c| c.guild_id);
                let Some(message) = world.message_mut(interaction.channel, target) else {
                    return unknown_message();
                };
                apply_edit(inner, message, data, call.files);
                (message.clone(), guild)
            };
            echo_message(inner, "MESSAGE_UPDATE", &updated, guild);
            Some(target)
        }
        // PONG, autocomplete results, modals, premium, activities: nothing to store.
        _ => None,
    };
    if let Some(original) = original {
        if let Some(i) = inner.world.lock().interactions.get_mut(&token) {
            i.original = Some(original);
        }
    }
    (204, Value::Null)
}

/// `POST /webhooks/{app}/{token}`: a follow-up message. The first one after a deferred reply
/// fills the "thinking" message instead, as Discord does.
fn followup(call: &Call<'_>) -> Answer {
    let inner = call.inner;
    let token = call
        .params
        .get("webhook_token")
        .cloned()
        .unwrap_or_default();
    let app = call.id("webhook_id");
    let Some(interaction) = inner.world.lock().interactions.get(&token).cloned() else {
        return error(404, 10015, "Unknown Webhook");
    };
    if app != inner.cfg.application_id {
        return error(404, 10015, "Unknown Webhook");
    }
    if token_expired(inner, &interaction) {
        return invalid_webhook_token();
    }
    if !interaction.responded {
        return error(404, 10015, "Unknown Webhook");
    }
    if let Some(original) = interaction.original {
        let filled = {
            let mut world = inner.world.lock();
            let guild = world
                .channels
                .get(&interaction.channel)
                .and_then(|c| c.guild_id);
            let ephemeral = world.ephemeral.contains_key(&original);
            match world.message_mut(interaction.channel, original) {
                Some(message) if message["flags"].as_u64().unwrap_or(0) & 128 != 0 => {
                    apply_edit(inner, message, call.body, call.files);
                    Some((message.clone(), guild, ephemeral))
                }
                _ => None,
            }
        };
        if let Some((message, guild, ephemeral)) = filled {
            if !ephemeral {
                echo_message(inner, "MESSAGE_UPDATE", &message, guild);
            }
            return (200, message);
        }
    }
    let ephemeral = call.body["flags"].as_u64().unwrap_or(0) & 64 != 0;
    create_message(
        inner,
        interaction.channel,
        call.body,
        call.files,
        &Post {
            ephemeral,
            kind: interaction.reply_type,
            webhook: true,
            flags: if ephemeral { 64 } else { 0 },
            ..Post::default()
        },
    )
}

/// GET, PATCH and DELETE of `/webhooks/{app}/{token}/messages/{@original | id}`.
fn webhook_message(call: &Call<'_>) -> Answer {
    let inner = call.inner;
    let token = call
        .params
        .get("webhook_token")
        .cloned()
        .unwrap_or_default();
    let Some(interaction) = inner.world.lock().interactions.get(&token).cloned() else {
        return error(404, 10015, "Unknown Webhook");
    };
    if call.id("webhook_id") != inner.cfg.application_id {
        return error(404, 10015, "Unknown Webhook");
    }
    if token_expired(inner, &interaction) {
        return invalid_webhook_token();
    }
    let target = if call.op.contains("original") {
        match interaction.original {
            Some(id) => id,
            None => return unknown_message(),
        }
    } else {
        call.id("message_id")
    };
    let channel = interaction.channel;
    let mut world = inner.world.lock();
    let guild = world.channels.get(&channel).and_then(|c| c.guild_id);
    let ephemeral = world.ephemeral.contains_key(&target);
    if world.message(channel, target).is_none() {
        return unknown_message();
    }
    match call.op {
        "update_original_webhook_message" | "update_webhook_message" => {
            let Some(message) = world.message_mut(channel, target) else {
                return unknown_message();
            };
            apply_edit(inner, message, call.body, call.files);
            let updated = message.clone();
            drop(world);
            if !ephemeral {
                echo_message(inner, "MESSAGE_UPDATE", &updated, guild);
            }
            (200, updated)
        }
        "delete_original_webhook_message" | "delete_webhook_message" => {
            if ephemeral {
                world.ephemeral.remove(&target);
                return (204, Value::Null);
            }
            if let Some(list) = world.messages.get_mut(&channel) {
                list.retain(|m| parse_id(&m["id"]) != Some(target));
            }
            drop(world);
            echo_delete(inner, channel, target, guild);
            (204, Value::Null)
        }
        _ => (
            200,
            world.message(channel, target).cloned().unwrap_or_default(),
        ),
    }
}

/// The id of a registered command by name (guild commands first).
pub fn command_id(world: &World, guild: u64, name: &str) -> u64 {
    world
        .guild_commands
        .get(&guild)
        .into_iter()
        .flatten()
        .chain(world.global_commands.iter())
        .find(|c| c["name"] == json!(name))
        .and_then(|c| parse_id(&c["id"]))
        .unwrap_or(1)
}

/// `data.resolved` for user (6), channel (7), role (8) and mentionable (9) options.
pub fn resolve_options(world: &World, guild: u64, options: &Value) -> Value {
    let mut resolved = json!({});
    let mut stack: Vec<&Value> = options
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    while let Some(option) = stack.pop() {
        if let Some(children) = option["options"].as_array() {
            stack.extend(children.iter());
        }
        let Some(id) = parse_id(&option["value"]) else {
            continue;
        };
        let key = id.to_string();
        match option["type"].as_u64() {
            Some(6 | 9) if world.users.contains_key(&id) => {
                resolved["users"][&key] = world.user_json(id);
                if let Some(mut member) = world.member_json(guild, id, false) {
                    member["permissions"] = json!(world.base_permissions(guild, id).to_string());
                    resolved["members"][&key] = member;
                }
            }
            Some(7) => {
                if let Some(mut channel) = world.channel_json(id) {
                    channel["permissions"] = json!(perm::ALL.to_string());
                    resolved["channels"][&key] = channel;
                }
            }
            Some(8 | 9) => {
                if let Some(role) = world.guilds.get(&guild).and_then(|g| g.roles.get(&id)) {
                    resolved["roles"][&key] = role.json();
                }
            }
            _ => {}
        }
    }
    resolved
}

/// A message object as Discord returns it.
pub fn message_json(
    world: &World,
    id: u64,
    channel: u64,
    author: u64,
    content: &str,
    body: &Value,
) -> Value {
    let allowed = &body["allowed_mentions"];
    let may_ping_user = |user: u64| -> bool {
        if allowed.is_null() {
            return true;
        }
        let parsed = allowed["parse"]
            .as_array()
            .is_some_and(|p| p.iter().any(|v| v == "users"));
        parsed
            || allowed["users"]
                .as_array()
                .is_some_and(|u| u.iter().any(|v| parse_id(v) == Some(user)))
    };
    let mentions: Vec<Value> = content
        .split("<@")
        .skip(1)
        .filter_map(|rest| rest.split('>').next())
        .filter(|id| !id.starts_with('&'))
        .filter_map(|id| id.trim_start_matches('!').parse::<u64>().ok())
        .filter(|u| may_ping_user(*u))
        .map(|u| world.user_json(u))
        .collect();
    let roles: Vec<Value> = content
        .split("<@&")
        .skip(1)
        .filter_map(|rest| rest.split('>').next())
        .filter_map(|id| id.parse::<u64>().ok())
        .filter(|r| {
            allowed.is_null()
                || allowed["parse"]
                    .as_array()
                    .is_some_and(|p| p.iter().any(|v| v == "roles"))
                || allowed["roles"]
                    .as_array()
                    .is_some_and(|l| l.iter().any(|v| parse_id(v) == Some(*r)))
        })
        .map(|r| json!(r.to_string()))
        .collect();
    let everyone = content.contains("@everyone")
        && allowed["parse"]
            .as_array()
            .is_some_and(|p| p.iter().any(|v| v == "everyone"));
    json!({
        "id": id.to_string(),
        "channel_id": channel.to_string(),
        "author": world.user_json(author),
        "content": content,
        "timestamp": world::iso(world::snowflake_ms(id)),
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": everyone,
        "mentions": mentions,
        "mention_roles": roles,
        "attachments": [],
        "embeds": body.get("embeds").cloned().unwrap_or(json!([])),
        "components": body.get("components").cloned().unwrap_or(json!([])),
        "pinned": false,
        "type": 0,
        "flags": 0,
    })
}
