//! REST under `/api/v10`: route by the spec, validate the body, inject faults, answer like
//! Discord, and record everything.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::world::{self, perm, Channel, World};
use crate::{gateway, Inner, RecordedRequest};

type Answer = (u16, Value);

fn error(status: u16, code: u64, message: &str) -> Answer {
    (status, json!({ "code": code, "message": message }))
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
                serde_json::from_slice(&bytes).unwrap_or(Value::String("<invalid JSON>".into())),
                Vec::new(),
            ),
            Err(_) => (Value::Null, Vec::new()),
        }
    };

    let matched = inner.spec.match_route(&method, &path);
    let fault = take_fault(&inner, &method, &path);
    let (status, response, retry_after) = if let Some(fault) = fault {
        (fault.status, fault.body.clone(), fault.retry_after)
    } else {
        match &matched {
            None => {
                inner
                    .violations
                    .lock()
                    .push(format!("{method} {path}: no such route in Discord's API"));
                let (s, r) = error(404, 0, "404: Not Found");
                (s, r, None)
            }
            Some(m) => {
                let problems = inner.spec.check_body(m, &body);
                if problems.is_empty() {
                    let (s, r) = operate(&inner, &m.operation_id, &m.params, &body, &query);
                    (s, r, None)
                } else {
                    inner.violations.lock().push(format!(
                        "{method} {path} ({}): {}",
                        m.operation_id,
                        problems.join("; ")
                    ));
                    let (s, r) = error(400, 50035, "Invalid Form Body");
                    (s, r, None)
                }
            }
        }
    };
    let seq = inner.request_seq.fetch_add(1, Ordering::SeqCst);
    inner.requests.lock().push(RecordedRequest {
        method,
        path,
        query,
        operation_id: matched.map(|m| m.operation_id),
        body,
        files,
        status,
        response: response.clone(),
        seq,
    });
    inner.changed.notify_waiters();
    let mut http = if status == 204 {
        Response::new(Body::empty())
    } else {
        let mut r = axum::Json(response).into_response();
        if status == 429 {
            r.headers_mut()
                .insert("x-ratelimit-global", HeaderValue::from_static("false"));
        }
        r
    };
    *http.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Some(secs) = retry_after {
        if let Ok(v) = HeaderValue::from_str(&format!("{secs}")) {
            http.headers_mut().insert("retry-after", v);
        }
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
            body = serde_json::from_slice(&bytes).unwrap_or(Value::String("<invalid JSON>".into()));
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
    if found.status == 429 && found.body.is_null() {
        found.body = json!({ "message": "You are being rate limited.", "retry_after": found.retry_after.unwrap_or(1.0), "global": false });
    }
    Some(found)
}

fn id_param(params: &std::collections::HashMap<String, String>, name: &str) -> u64 {
    params.get(name).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn parse_id(value: &Value) -> Option<u64> {
    match value {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

/// The operation itself, once routed and validated.
fn operate(
    inner: &Arc<Inner>,
    op: &str,
    params: &std::collections::HashMap<String, String>,
    body: &Value,
    _query: &str,
) -> Answer {
    let bot = inner.cfg.bot_user_id;
    let app = inner.cfg.application_id;
    match op {
        "get_gateway" => (
            200,
            json!({ "url": format!("ws://{}/gateway", inner.addr) }),
        ),
        "get_bot_gateway" => (
            200,
            json!({ "url": format!("ws://{}/gateway", inner.addr), "shards": 1,
                    "session_start_limit": { "total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1 } }),
        ),
        "get_my_user" => {
            let mut user = inner.world.lock().user_json(bot);
            user["verified"] = json!(true);
            user["mfa_enabled"] = json!(false);
            (200, user)
        }
        "get_my_oauth2_application" | "get_my_application" => {
            let owner = inner.world.lock().user_json(bot);
            (
                200,
                json!({ "id": app.to_string(), "name": "Hearth", "icon": null, "description": "", "bot_public": true,
                        "bot_require_code_grant": false, "verify_key": "0", "flags": 0, "owner": owner, "team": null }),
            )
        }
        "bulk_set_application_commands" | "bulk_set_guild_application_commands" => {
            let guild = params.get("guild_id").and_then(|g| g.parse::<u64>().ok());
            let commands: Vec<Value> = body
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    let mut c = c.clone();
                    c["id"] = json!(inner.ids.next().to_string());
                    c["application_id"] = json!(app.to_string());
                    c["version"] = json!(inner.ids.next().to_string());
                    if c.get("type").is_none() {
                        c["type"] = json!(1);
                    }
                    if c.get("description").is_none() {
                        c["description"] = json!("");
                    }
                    if let Some(g) = guild {
                        c["guild_id"] = json!(g.to_string());
                    }
                    c
                })
                .collect();
            let mut world = inner.world.lock();
            match guild {
                Some(g) => world.guild_commands.insert(g, commands.clone()),
                None => Some(std::mem::replace(
                    &mut world.global_commands,
                    commands.clone(),
                )),
            };
            (200, json!(commands))
        }
        "list_application_commands" => (200, json!(inner.world.lock().global_commands)),
        "list_guild_application_commands" => {
            let g = id_param(params, "guild_id");
            (
                200,
                json!(inner
                    .world
                    .lock()
                    .guild_commands
                    .get(&g)
                    .cloned()
                    .unwrap_or_default()),
            )
        }
        "create_interaction_response" => interaction_response(inner, params, body),
        "execute_webhook" => {
            let token = params.get("webhook_token").cloned().unwrap_or_default();
            let channel = inner.world.lock().interaction_channels.get(&token).copied();
            match channel {
                Some(channel) => create_message(inner, channel, bot, body, false),
                None => error(404, 10015, "Unknown Webhook"),
            }
        }
        "get_original_webhook_message"
        | "update_original_webhook_message"
        | "update_webhook_message"
        | "get_webhook_message" => {
            let token = params.get("webhook_token").cloned().unwrap_or_default();
            let world = inner.world.lock();
            let channel = world.interaction_channels.get(&token).copied().unwrap_or(0);
            let mut message = message_json(
                &world,
                inner.ids.next(),
                channel,
                bot,
                body["content"].as_str().unwrap_or_default(),
                body,
            );
            if let Some(embeds) = body.get("embeds") {
                message["embeds"] = embeds.clone();
            }
            (200, message)
        }
        "delete_original_webhook_message" | "delete_webhook_message" => (204, Value::Null),
        "get_guild" => {
            let g = id_param(params, "guild_id");
            let world = inner.world.lock();
            match world.guild_create_json(g) {
                Some(mut guild) => {
                    for key in [
                        "members",
                        "channels",
                        "threads",
                        "presences",
                        "voice_states",
                        "joined_at",
                        "large",
                        "member_count",
                        "unavailable",
                        "stage_instances",
                        "guild_scheduled_events",
                        "soundboard_sounds",
                    ] {
                        if let Some(map) = guild.as_object_mut() {
                            map.remove(key);
                        }
                    }
                    (200, guild)
                }
                None => error(404, 10004, "Unknown Guild"),
            }
        }
        "list_guild_channels" => {
            let g = id_param(params, "guild_id");
            let world = inner.world.lock();
            let Some(guild) = world.guilds.get(&g) else {
                return error(404, 10004, "Unknown Guild");
            };
            let channels: Vec<Value> = guild
                .channels
                .iter()
                .filter(|c| world.channels.get(c).is_some_and(|c| !c.is_thread()))
                .filter_map(|c| world.channel_json(*c))
                .collect();
            (200, json!(channels))
        }
        "list_guild_roles" => (
            200,
            json!(inner.world.lock().role_json(id_param(params, "guild_id"))),
        ),
        "get_guild_member" => {
            let world = inner.world.lock();
            match world.member_json(
                id_param(params, "guild_id"),
                id_param(params, "user_id"),
                true,
            ) {
                Some(m) => (200, m),
                None => error(404, 10007, "Unknown Member"),
            }
        }
        "list_guild_members" => {
            let g = id_param(params, "guild_id");
            let world = inner.world.lock();
            let members: Vec<Value> = world
                .guilds
                .get(&g)
                .map(|guild| {
                    guild
                        .members
                        .keys()
                        .filter_map(|u| world.member_json(g, *u, true))
                        .collect()
                })
                .unwrap_or_default();
            (200, json!(members))
        }
        "add_guild_member_role" | "delete_guild_member_role" => {
            member_role(inner, params, op == "add_guild_member_role")
        }
        "get_channel" => match inner
            .world
            .lock()
            .channel_json(id_param(params, "channel_id"))
        {
            Some(c) => (200, c),
            None => unknown_channel(),
        },
        "update_channel" => update_channel(inner, id_param(params, "channel_id"), body),
        "list_messages" => {
            let c = id_param(params, "channel_id");
            let world = inner.world.lock();
            if !world.channels.contains_key(&c) {
                return unknown_channel();
            }
            let mut messages = world.messages.get(&c).cloned().unwrap_or_default();
            messages.reverse();
            messages.truncate(50);
            (200, json!(messages))
        }
        "create_message" => create_message(inner, id_param(params, "channel_id"), bot, body, true),
        "get_message" | "update_message" | "delete_message" => {
            let (c, m) = (
                id_param(params, "channel_id"),
                id_param(params, "message_id"),
            );
            let mut world = inner.world.lock();
            let Some(messages) = world.messages.get_mut(&c) else {
                return unknown_channel();
            };
            let Some(index) = messages.iter().position(|x| parse_id(&x["id"]) == Some(m)) else {
                return error(404, 10008, "Unknown Message");
            };
            match op {
                "delete_message" => {
                    messages.remove(index);
                    (204, Value::Null)
                }
                "update_message" => {
                    if let (Some(target), Some(changes)) =
                        (messages[index].as_object_mut(), body.as_object())
                    {
                        for (k, v) in changes {
                            target.insert(k.clone(), v.clone());
                        }
                    }
                    (200, messages[index].clone())
                }
                _ => (200, messages[index].clone()),
            }
        }
        "create_thread" => create_thread(inner, id_param(params, "channel_id"), None, body),
        "create_thread_from_message" => create_thread(
            inner,
            id_param(params, "channel_id"),
            Some(id_param(params, "message_id")),
            body,
        ),
        "add_thread_member" | "join_thread" => {
            let c = id_param(params, "channel_id");
            let user = if op == "join_thread" {
                bot
            } else {
                id_param(params, "user_id")
            };
            let mut world = inner.world.lock();
            match world.channels.get_mut(&c) {
                Some(thread) if thread.is_thread() => {
                    if !thread.thread_members.contains(&user) {
                        thread.thread_members.push(user);
                    }
                    (204, Value::Null)
                }
                _ => unknown_channel(),
            }
        }
        "create_dm" => {
            let Some(user) = parse_id(&body["recipient_id"]) else {
                return error(400, 50035, "Invalid Form Body");
            };
            let mut world = inner.world.lock();
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
                        guild_id: None,
                        kind: 1,
                        name: String::new(),
                        position: 0,
                        parent_id: None,
                        overwrites: Vec::new(),
                        owner_id: None,
                        archived: false,
                        thread_members: Vec::new(),
                        recipient: Some(user),
                    },
                );
                id
            });
            (200, world.channel_json(id).unwrap_or_default())
        }
        "add_my_message_reaction" | "delete_my_message_reaction" => (204, Value::Null),
        "create_guild_scheduled_event" => {
            let g = id_param(params, "guild_id");
            let id = inner.ids.next();
            let mut event = body.clone();
            event["id"] = json!(id.to_string());
            event["guild_id"] = json!(g.to_string());
            event["creator_id"] = json!(bot.to_string());
            event["status"] = json!(1);
            event["user_count"] = json!(0);
            for key in [
                "channel_id",
                "scheduled_end_time",
                "description",
                "entity_metadata",
                "image",
            ] {
                if event.get(key).is_none() {
                    event[key] = Value::Null;
                }
            }
            event["entity_id"] = Value::Null;
            let mut world = inner.world.lock();
            let Some(guild) = world.guilds.get_mut(&g) else {
                return error(404, 10004, "Unknown Guild");
            };
            guild.scheduled_events.insert(id, event.clone());
            drop(world);
            gateway::dispatch(inner, "GUILD_SCHEDULED_EVENT_CREATE", &event);
            (200, event)
        }
        "list_guild_scheduled_events" => {
            let world = inner.world.lock();
            let events: Vec<Value> = world
                .guilds
                .get(&id_param(params, "guild_id"))
                .map(|g| g.scheduled_events.values().cloned().collect())
                .unwrap_or_default();
            (200, json!(events))
        }
        "get_guild_scheduled_event"
        | "update_guild_scheduled_event"
        | "delete_guild_scheduled_event" => {
            let (g, e) = (
                id_param(params, "guild_id"),
                id_param(params, "guild_scheduled_event_id"),
            );
            let mut world = inner.world.lock();
            let Some(event) = world
                .guilds
                .get_mut(&g)
                .and_then(|g| g.scheduled_events.get_mut(&e))
            else {
                return error(404, 10070, "Unknown Guild Scheduled Event");
            };
            if op == "update_guild_scheduled_event" {
                if let (Some(target), Some(changes)) = (event.as_object_mut(), body.as_object()) {
                    for (k, v) in changes {
                        target.insert(k.clone(), v.clone());
                    }
                }
                let updated = event.clone();
                drop(world);
                gateway::dispatch(inner, "GUILD_SCHEDULED_EVENT_UPDATE", &updated);
                return (200, updated);
            }
            if op == "delete_guild_scheduled_event" {
                if let Some(guild) = world.guilds.get_mut(&g) {
                    guild.scheduled_events.remove(&e);
                }
                return (204, Value::Null);
            }
            (200, event.clone())
        }
        other => {
            inner
                .violations
                .lock()
                .push(format!("the emulator does not implement `{other}` yet"));
            error(404, 0, "404: Not Found (not emulated)")
        }
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
        "mention_roles": [],
        "attachments": [],
        "embeds": body.get("embeds").cloned().unwrap_or(json!([])),
        "components": body.get("components").cloned().unwrap_or(json!([])),
        "pinned": false,
        "type": 0,
        "flags": 0,
    })
}

/// POST a message as the bot: permissions, DMs, `enforce_nonce`, the MESSAGE_CREATE echo.
fn create_message(
    inner: &Arc<Inner>,
    channel_id: u64,
    author: u64,
    body: &Value,
    check_permissions: bool,
) -> Answer {
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
        if check_permissions && channel.guild_id.is_some() {
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
                return error(403, 50013, "Missing Permissions");
            }
            if channel.is_thread() && channel.archived {
                return error(400, 50083, "Thread is archived");
            }
        }
        let guild = channel.guild_id;
        let nonce = body["nonce"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| body["nonce"].as_u64().map(|n| n.to_string()));
        if let (Some(nonce), true) = (&nonce, body["enforce_nonce"] == json!(true)) {
            if let Some(existing) = world
                .nonces
                .get(&(channel_id, author, nonce.clone()))
                .copied()
            {
                let found = world.messages.get(&channel_id).and_then(|m| {
                    m.iter()
                        .find(|m| parse_id(&m["id"]) == Some(existing))
                        .cloned()
                });
                if let Some(found) = found {
                    return (200, found);
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
        if let Some(nonce) = nonce {
            message["nonce"] = json!(nonce);
            world.nonces.insert((channel_id, author, nonce), id);
        }
        if let Some(poll) = body.get("poll") {
            message["poll"] = poll.clone();
        }
        if let Some(reference) = body.get("message_reference") {
            message["message_reference"] = reference.clone();
            message["type"] = json!(19);
        }
        world
            .messages
            .entry(channel_id)
            .or_default()
            .push(message.clone());
        (message, guild)
    };
    let mut event = message.clone();
    if let Some(g) = guild {
        event["guild_id"] = json!(g.to_string());
        if let Some(member) = inner.world.lock().member_json(g, author, false) {
            event["member"] = member;
        }
    }
    gateway::dispatch(inner, "MESSAGE_CREATE", &event);
    (200, message)
}

fn create_thread(
    inner: &Arc<Inner>,
    parent_id: u64,
    from_message: Option<u64>,
    body: &Value,
) -> Answer {
    let bot = inner.cfg.bot_user_id;
    let (thread, starter) = {
        let mut world = inner.world.lock();
        let Some(parent) = world.channels.get(&parent_id) else {
            return unknown_channel();
        };
        let guild = parent.guild_id;
        let forum = parent.kind == 15;
        let perms = world.channel_permissions(parent_id, bot);
        if perms & (1 << 35) == 0 {
            return error(403, 50013, "Missing Permissions");
        }
        let id = match from_message {
            Some(message) => {
                let exists = world
                    .messages
                    .get(&parent_id)
                    .is_some_and(|m| m.iter().any(|x| parse_id(&x["id"]) == Some(message)));
                if !exists {
                    return error(404, 10008, "Unknown Message");
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
        let kind = if forum {
            11
        } else {
            u8::try_from(body["type"].as_u64().unwrap_or(11)).unwrap_or(11)
        };
        world.channels.insert(
            id,
            Channel {
                id,
                guild_id: guild,
                kind,
                name: body["name"].as_str().unwrap_or("thread").to_owned(),
                position: 0,
                parent_id: Some(parent_id),
                overwrites: Vec::new(),
                owner_id: Some(bot),
                archived: false,
                thread_members: vec![bot],
                recipient: None,
            },
        );
        if let Some(g) = guild.and_then(|g| world.guilds.get_mut(&g)) {
            g.channels.push(id);
        }
        (
            world.channel_json(id).unwrap_or_default(),
            forum.then(|| body["message"].clone()),
        )
    };
    let mut event = thread.clone();
    event["newly_created"] = json!(true);
    gateway::dispatch(inner, "THREAD_CREATE", &event);
    if let Some(message) = starter {
        let id = parse_id(&thread["id"]).unwrap_or(0);
        let (status, created) = create_message(inner, id, bot, &message, false);
        if status != 200 {
            return (status, created);
        }
        let mut with_message = thread;
        with_message["message"] = created;
        return (201, with_message);
    }
    (201, thread)
}

fn update_channel(inner: &Arc<Inner>, channel_id: u64, body: &Value) -> Answer {
    let updated = {
        let mut world = inner.world.lock();
        let Some(channel) = world.channels.get_mut(&channel_id) else {
            return unknown_channel();
        };
        if let Some(archived) = body["archived"].as_bool() {
            channel.archived = archived;
        }
        if let Some(name) = body["name"].as_str() {
            channel.name = name.to_owned();
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

fn member_role(
    inner: &Arc<Inner>,
    params: &std::collections::HashMap<String, String>,
    add: bool,
) -> Answer {
    let (g, u, r) = (
        id_param(params, "guild_id"),
        id_param(params, "user_id"),
        id_param(params, "role_id"),
    );
    let bot = inner.cfg.bot_user_id;
    let event = {
        let mut world = inner.world.lock();
        let Some(guild) = world.guilds.get(&g) else {
            return error(404, 10004, "Unknown Guild");
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
        if world.base_permissions(g, bot) & (1 << 28) == 0 || role.position >= bot_top {
            return error(403, 50013, "Missing Permissions");
        }
        let Some(member) = world
            .guilds
            .get_mut(&g)
            .and_then(|guild| guild.members.get_mut(&u))
        else {
            return error(404, 10007, "Unknown Member");
        };
        if add && !member.roles.contains(&r) {
            member.roles.push(r);
        } else if !add {
            member.roles.retain(|x| *x != r);
        }
        let mut event = world.member_json(g, u, true).unwrap_or_default();
        event["guild_id"] = json!(g.to_string());
        event
    };
    gateway::dispatch(inner, "GUILD_MEMBER_UPDATE", &event);
    (204, Value::Null)
}

fn interaction_response(
    inner: &Arc<Inner>,
    params: &std::collections::HashMap<String, String>,
    body: &Value,
) -> Answer {
    let token = params.get("interaction_token").cloned().unwrap_or_default();
    let Some(channel) = inner.world.lock().interaction_channels.get(&token).copied() else {
        return error(404, 10062, "Unknown interaction");
    };
    let kind = body["type"].as_u64().unwrap_or(0);
    let ephemeral = body["data"]["flags"].as_u64().unwrap_or(0) & 64 != 0;
    if kind == 4 && !ephemeral {
        // A public reply becomes a channel message.
        let _ = create_message(inner, channel, inner.cfg.bot_user_id, &body["data"], false);
    }
    (204, Value::Null)
}
