//! The gateway: HELLO, IDENTIFY → READY + GUILD_CREATE, heartbeats, RESUME with replay,
//! RECONNECT, invalid sessions, and dispatch to every session of the shard that owns the event.
//!
//! Sharding is played as strictly as Discord: IDENTIFY's `shard: [shard_id, num_shards]` (absent:
//! `[0, 1]`) must satisfy `num_shards >= 1` and `shard_id < num_shards`, else the socket closes
//! with 4010 Invalid shard; a session that would hold more guilds than
//! [`EmulatorConfig::max_guilds_per_shard`](crate::EmulatorConfig) closes with 4011 Sharding
//! required. A guild belongs to shard `(guild_id >> 22) % num_shards`; a session sees only its
//! shard's guilds (READY, GUILD_CREATE) and dispatches, and events with no guild (DMs) go to
//! shard 0 only.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::Inner;

/// Dispatches taken under the sessions lock at a time by the bulk path.
const BULK_CHUNK: usize = 4096;

/// Discord lets `max_concurrency` shards IDENTIFY per this window: one per rate-limit key
/// (`shard_id % max_concurrency`).
pub const IDENTIFY_WINDOW: Duration = Duration::from_secs(5);

/// How long the daily session start limit lasts from the first IDENTIFY (Discord: 24 hours).
const SESSION_START_PERIOD_MS: u64 = 24 * 60 * 60 * 1000;

/// The shard that owns a guild among `num_shards` (Discord's formula).
pub fn shard_of(guild_id: u64, num_shards: u64) -> u64 {
    (guild_id >> 22) % num_shards.max(1)
}

/// What became of an IDENTIFY.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdentifyOutcome {
    /// A session started: READY and the shard's GUILD_CREATEs were sent.
    Ready,
    /// Closed with 4010: `shard` was malformed, `num_shards < 1` or `shard_id >= num_shards`.
    InvalidShard,
    /// Closed with 4011: the shard would have held more guilds than `max_guilds_per_shard`.
    ShardingRequired,
    /// Another shard of the same rate-limit key identified within [`IDENTIFY_WINDOW`]: answered
    /// with op 9 Invalid Session (`d: false`), the connection left open.
    RateLimited,
}

/// One IDENTIFY as the emulator received it, for tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentifyRecord {
    /// When it arrived.
    pub at: Instant,
    /// `[shard_id, num_shards]` as sent (`[0, 1]` when absent); `None` when not a pair of
    /// unsigned integers.
    pub shard: Option<[u64; 2]>,
    pub outcome: IdentifyOutcome,
}

/// Counters for tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GatewayStats {
    pub identifies: u64,
    pub resumes: u64,
    pub live_sessions: u64,
    pub heartbeats: u64,
    pub dispatched: u64,
}

enum Out {
    Text(String),
    Close(u16),
    /// Drop the TCP connection without a close frame.
    Drop,
}

struct Session {
    seq: u64,
    /// `[shard_id, num_shards]` from IDENTIFY.
    shard: [u64; 2],
    /// From IDENTIFY: what op 8 may ask for.
    intents: u64,
    buffer: VecDeque<(u64, String)>,
    /// The live connection, if any.
    conn: Option<(u64, mpsc::UnboundedSender<Out>)>,
}

#[derive(Default)]
pub struct Gateway {
    sessions: Mutex<HashMap<String, Session>>,
    last_identify: Mutex<Option<Value>>,
    connections: Mutex<HashMap<u64, mpsc::UnboundedSender<Out>>>,
    /// Every IDENTIFY, in order.
    identify_log: Mutex<Vec<IdentifyRecord>>,
    /// The last accepted IDENTIFY per rate-limit key (`shard_id % max_concurrency`).
    identify_buckets: Mutex<HashMap<u64, Instant>>,
    /// IDENTIFYs counted against the session start limit, and when the first one was.
    session_starts: AtomicU64,
    first_start: Mutex<Option<Instant>>,
    next_conn: AtomicU64,
    identifies: AtomicU64,
    resumes: AtomicU64,
    heartbeats: AtomicU64,
    dispatched: AtomicU64,
}

impl Gateway {
    pub fn stats(&self) -> GatewayStats {
        GatewayStats {
            identifies: self.identifies.load(Ordering::SeqCst),
            resumes: self.resumes.load(Ordering::SeqCst),
            live_sessions: self
                .sessions
                .lock()
                .values()
                .filter(|s| s.conn.is_some())
                .count() as u64,
            heartbeats: self.heartbeats.load(Ordering::SeqCst),
            dispatched: self.dispatched.load(Ordering::SeqCst),
        }
    }

    /// The `d` of the last IDENTIFY (token, intents, properties).
    pub fn last_identify(&self) -> Option<Value> {
        self.last_identify.lock().clone()
    }

    /// Drops every connection without a close frame.
    pub fn drop_all(&self) {
        for tx in self.connections.lock().values() {
            let _ = tx.send(Out::Drop);
        }
    }

    /// Closes every connection with a close frame carrying `code`.
    pub fn close_all(&self, code: u16) {
        for tx in self.connections.lock().values() {
            let _ = tx.send(Out::Close(code));
        }
    }

    /// Sends a raw frame on every connection (identified or not).
    pub fn send_all(&self, text: &str) {
        for tx in self.connections.lock().values() {
            let _ = tx.send(Out::Text(text.to_owned()));
        }
    }

    /// Whether any session exists (live, or waiting to be resumed).
    pub fn has_sessions(&self) -> bool {
        !self.sessions.lock().is_empty()
    }

    /// Every IDENTIFY received, in order.
    pub fn identifies(&self) -> Vec<IdentifyRecord> {
        self.identify_log.lock().clone()
    }

    /// `session_start_limit` of `GET /gateway/bot`: `remaining` drops with every IDENTIFY
    /// (not RESUME); `reset_after` counts down from the first one. Running out is not modelled
    /// (Discord would end every session and reset the token).
    pub fn session_start_limit(&self, total: u64, max_concurrency: u64) -> Value {
        let started = self.session_starts.load(Ordering::SeqCst);
        let reset_after = self.first_start.lock().map_or(0, |first| {
            let elapsed = u64::try_from(first.elapsed().as_millis()).unwrap_or(u64::MAX);
            SESSION_START_PERIOD_MS.saturating_sub(elapsed)
        });
        json!({
            "total": total,
            "remaining": total.saturating_sub(started),
            "reset_after": reset_after,
            "max_concurrency": max_concurrency,
        })
    }
}

/// What an IDENTIFY leads to.
enum Admission {
    Ready([u64; 2]),
    Close(u16),
    InvalidSession,
}

/// Judges an IDENTIFY's shard as Discord does, and records it.
fn admit(inner: &Inner, d: &Value) -> Admission {
    let now = Instant::now();
    let shard = match &d["shard"] {
        Value::Null => Some([0, 1]),
        Value::Array(pair) if pair.len() == 2 => pair[0]
            .as_u64()
            .zip(pair[1].as_u64())
            .map(|(id, n)| [id, n]),
        _ => None,
    };
    let outcome = match shard {
        Some([id, n]) if n >= 1 && id < n => {
            // Discord: identifying faster than `max_concurrency` per 5 s is answered with op 9
            // Invalid Session (docs, Gateway → Identifying: "If your app exceeds this limit,
            // Discord will respond with a Invalid Session (opcode 9) event"). Not a close code:
            // 4008 Rate limited is for sending too many payloads on one connection, 4009 Session
            // timed out for a session that went quiet; neither is what Discord documents here.
            let key = id % inner.cfg.max_concurrency.max(1);
            let mut buckets = inner.gateway.identify_buckets.lock();
            let limited = inner.cfg.identify_rate_limit
                && buckets
                    .get(&key)
                    .is_some_and(|last| now.duration_since(*last) < IDENTIFY_WINDOW);
            if limited {
                IdentifyOutcome::RateLimited
            } else {
                let guilds = inner
                    .world
                    .lock()
                    .guilds
                    .keys()
                    .filter(|g| shard_of(**g, n) == id)
                    .count();
                if guilds > inner.cfg.max_guilds_per_shard {
                    IdentifyOutcome::ShardingRequired
                } else {
                    buckets.insert(key, now);
                    IdentifyOutcome::Ready
                }
            }
        }
        _ => IdentifyOutcome::InvalidShard,
    };
    // Discord counts IDENTIFY calls, refused ones included ("1000 IDENTIFY calls ... in a
    // 24-hour period"; RESUMEs do not count).
    inner.gateway.session_starts.fetch_add(1, Ordering::SeqCst);
    inner.gateway.first_start.lock().get_or_insert(now);
    inner.gateway.identify_log.lock().push(IdentifyRecord {
        at: now,
        shard,
        outcome,
    });
    match (outcome, shard) {
        (IdentifyOutcome::Ready, Some(shard)) => Admission::Ready(shard),
        (IdentifyOutcome::RateLimited, _) => Admission::InvalidSession,
        (IdentifyOutcome::ShardingRequired, _) => Admission::Close(4011),
        _ => Admission::Close(4010),
    }
}

/// `GET /gateway`: the websocket handshake, answered by hand so that the socket is served by the
/// tokio-tungstenite serenity already builds (axum's `ws` feature would build a second one).
pub async fn upgrade(State(inner): State<Arc<Inner>>, mut request: Request) -> Response {
    let Some(accept) = accept_key(request.headers()) else {
        return (StatusCode::BAD_REQUEST, "expected a websocket upgrade").into_response();
    };
    let on_upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let socket =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        connection(inner, socket).await;
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_ACCEPT, accept)
        .body(Body::empty())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// The `Sec-WebSocket-Accept` answer to a well-formed version-13 upgrade request.
fn accept_key(headers: &HeaderMap) -> Option<String> {
    let has = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|value| {
            value.to_str().is_ok_and(|v| {
                v.split(',')
                    .any(|part| part.trim().eq_ignore_ascii_case(token))
            })
        })
    };
    if !has(header::CONNECTION, "upgrade")
        || !has(header::UPGRADE, "websocket")
        || !has(header::SEC_WEBSOCKET_VERSION, "13")
    {
        return None;
    }
    let key = headers.get(header::SEC_WEBSOCKET_KEY)?;
    Some(derive_accept_key(key.as_bytes()))
}

async fn connection(inner: Arc<Inner>, socket: WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>) {
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Out>();
    // Heartbeat ACKs, closes and drops go ahead of queued dispatches. A replay can queue hundreds
    // of thousands of dispatches at once, which Discord never does; behind them an ACK would
    // arrive late, and the client would take the connection for a zombie and reconnect.
    let (control_tx, mut control_rx) = mpsc::unbounded_channel::<Out>();
    let conn_id = inner.gateway.next_conn.fetch_add(1, Ordering::SeqCst);
    inner
        .gateway
        .connections
        .lock()
        .insert(conn_id, control_tx.clone());
    let writer = tokio::spawn(async move {
        // Frames are fed without flushing while more are queued, then flushed once: one syscall
        // for a burst of dispatches instead of one per frame.
        loop {
            let first = tokio::select! {
                biased;
                out = control_rx.recv() => out,
                out = rx.recv() => out,
            };
            let Some(out) = first else { return };
            let mut next = Some(out);
            while let Some(out) = next.take() {
                match out {
                    Out::Text(text) => {
                        if sink.feed(Message::Text(text)).await.is_err() {
                            return;
                        }
                    }
                    Out::Close(code) => {
                        let frame = CloseFrame {
                            code: CloseCode::from(code),
                            reason: "".into(),
                        };
                        let _ = sink.send(Message::Close(Some(frame))).await;
                        return;
                    }
                    Out::Drop => return,
                }
                next = control_rx.try_recv().or_else(|_| rx.try_recv()).ok();
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
    });
    let hello = json!({ "op": 10, "d": { "heartbeat_interval": inner.cfg.heartbeat_interval_ms }, "s": null, "t": null });
    check(&inner, "HELLO", &hello);
    let _ = tx.send(Out::Text(hello.to_string()));

    let mut session_id: Option<String> = None;
    let mut writer = writer;
    loop {
        // When the writer stops (a drop, a close, a dead socket), the reader half is dropped too,
        // which closes the TCP connection.
        let message = tokio::select! {
            message = stream.next() => message,
            _ = &mut writer => break,
        };
        let Some(Ok(message)) = message else { break };
        let text = match message {
            Message::Text(t) => t,
            Message::Binary(b) => String::from_utf8_lossy(&b).into_owned(),
            Message::Close(_) => break,
            _ => continue,
        };
        let Ok(frame) = serde_json::from_str::<Value>(&text) else {
            let _ = control_tx.send(Out::Close(4002));
            break;
        };
        match frame["op"].as_u64() {
            Some(1) => {
                inner.gateway.heartbeats.fetch_add(1, Ordering::SeqCst);
                if inner.heartbeat_ack.load(Ordering::SeqCst) {
                    let _ = control_tx.send(Out::Text(r#"{"op":11,"d":null}"#.to_owned()));
                }
            }
            Some(8) => {
                if let Some(id) = &session_id {
                    request_members(&inner, id, &frame["d"]);
                } else {
                    // Discord: a payload before IDENTIFY closes with 4003 Not authenticated.
                    let _ = control_tx.send(Out::Close(4003));
                    break;
                }
            }
            Some(2) => {
                let mut lenient = frame.clone();
                // serenity sends presence.since as an object; Discord tolerates it.
                if lenient["d"]["presence"]["since"].is_object() {
                    lenient["d"]["presence"]["since"] = Value::Null;
                }
                check(&inner, "IDENTIFY", &lenient);
                *inner.gateway.last_identify.lock() = Some(frame["d"].clone());
                inner.gateway.identifies.fetch_add(1, Ordering::SeqCst);
                match admit(&inner, &frame["d"]) {
                    Admission::Ready(shard) => {
                        session_id = Some(identify(&inner, conn_id, &tx, &frame["d"], shard));
                    }
                    Admission::InvalidSession => {
                        let _ = tx.send(Out::Text(r#"{"op":9,"d":false}"#.to_owned()));
                    }
                    Admission::Close(code) => {
                        let _ = control_tx.send(Out::Close(code));
                        // Let the writer send the close frame before the socket goes.
                        let _ = tokio::time::timeout(Duration::from_secs(2), &mut writer).await;
                        break;
                    }
                }
            }
            Some(6) => {
                let d = &frame["d"];
                let id = d["session_id"].as_str().unwrap_or_default().to_owned();
                let seq = d["seq"].as_u64().unwrap_or(0);
                if resume(&inner, &id, seq, conn_id, &tx) {
                    inner.gateway.resumes.fetch_add(1, Ordering::SeqCst);
                    session_id = Some(id);
                } else {
                    let _ = tx.send(Out::Text(r#"{"op":9,"d":false}"#.to_owned()));
                }
            }
            _ => {}
        }
    }
    inner.gateway.connections.lock().remove(&conn_id);
    if let Some(id) = session_id {
        if let Some(session) = inner.gateway.sessions.lock().get_mut(&id) {
            if session.conn.as_ref().is_some_and(|(c, _)| *c == conn_id) {
                session.conn = None;
            }
        }
    }
    writer.abort();
}

/// A fresh session: READY, then GUILD_CREATE for every guild of its shard. Sessions of the
/// same shard left behind by earlier connections that were not resumed are forgotten (a new
/// process never resumes them).
fn identify(
    inner: &Arc<Inner>,
    conn_id: u64,
    tx: &mpsc::UnboundedSender<Out>,
    d: &Value,
    shard: [u64; 2],
) -> String {
    let session_id = format!("session-{}", inner.ids.next());
    let intents = d["intents"].as_u64().unwrap_or(0);
    // Discord: 50 to 250, default 50.
    let large_threshold = d["large_threshold"]
        .as_u64()
        .map_or(50, |t| t.clamp(50, 250)) as usize;
    let (ready, guilds) = {
        let world = inner.world.lock();
        let mut user = world.user_json(inner.cfg.bot_user_id);
        user["verified"] = json!(true);
        user["mfa_enabled"] = json!(false);
        let guild_ids: Vec<u64> = world
            .guilds
            .keys()
            .copied()
            .filter(|g| shard_of(*g, shard[1]) == shard[0])
            .collect();
        let ready = json!({
            "v": 10,
            "user": user,
            "guilds": guild_ids.iter().map(|g| json!({ "id": g.to_string(), "unavailable": true })).collect::<Vec<_>>(),
            "session_id": session_id,
            "resume_gateway_url": format!("ws://{}/gateway", inner.addr),
            "shard": shard,
            "application": { "id": inner.cfg.application_id.to_string(), "flags": 0, "flags_new": "0" },
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "auth_session_id_hash": "",
        });
        let guilds: Vec<Value> = guild_ids
            .iter()
            .filter_map(|g| world.guild_create_json(*g, large_threshold))
            .collect();
        (ready, guilds)
    };
    {
        let mut sessions = inner.gateway.sessions.lock();
        // Another shard's session waiting to be resumed stays (same shard count, other id).
        sessions
            .retain(|_, s| s.conn.is_some() || (s.shard[1] == shard[1] && s.shard[0] != shard[0]));
        sessions.insert(
            session_id.clone(),
            Session {
                seq: 0,
                shard,
                intents,
                buffer: VecDeque::new(),
                conn: Some((conn_id, tx.clone())),
            },
        );
    }
    send_to(inner, &session_id, "READY", &ready);
    for guild in guilds {
        send_to(inner, &session_id, "GUILD_CREATE", &guild);
    }
    session_id
}

fn resume(
    inner: &Arc<Inner>,
    id: &str,
    seq: u64,
    conn_id: u64,
    tx: &mpsc::UnboundedSender<Out>,
) -> bool {
    let mut sessions = inner.gateway.sessions.lock();
    let Some(session) = sessions.get_mut(id) else {
        return false;
    };
    session.conn = Some((conn_id, tx.clone()));
    for (_, text) in session.buffer.iter().filter(|(s, _)| *s > seq) {
        let _ = tx.send(Out::Text(text.clone()));
    }
    session.seq += 1;
    let resumed = json!({ "op": 0, "t": "RESUMED", "s": session.seq, "d": {} }).to_string();
    session.buffer.push_back((session.seq, resumed.clone()));
    let _ = tx.send(Out::Text(resumed));
    true
}

/// The intent that lets a bot ask for a guild's whole member list.
const GUILD_MEMBERS_INTENT: u64 = 1 << 1;
/// Members per GUILD_MEMBERS_CHUNK, and at most for a query or `user_ids`.
const CHUNK_SIZE: usize = 1000;
const QUERY_LIMIT: usize = 100;

/// op 8 REQUEST_GUILD_MEMBERS: GUILD_MEMBERS_CHUNK dispatches of up to 1000 members, or a
/// RATE_LIMITED dispatch when the guild's members were asked for within the window.
fn request_members(inner: &Arc<Inner>, session_id: &str, d: &Value) {
    let Some(guild_id) = d["guild_id"].as_str().and_then(|g| g.parse::<u64>().ok()) else {
        return;
    };
    let nonce = d["nonce"].as_str().map(str::to_owned);
    let Some((intents, shard)) = inner
        .gateway
        .sessions
        .lock()
        .get(session_id)
        .map(|s| (s.intents, s.shard))
    else {
        return;
    };
    // A guild of another shard is not this session's to ask about: Discord sends nothing.
    if shard_of(guild_id, shard[1]) != shard[0] {
        return;
    }
    let query = d["query"].as_str();
    let limit = d["limit"].as_u64().unwrap_or(0) as usize;
    let user_ids: Option<Vec<u64>> = match &d["user_ids"] {
        Value::String(id) => Some(id.parse().ok().into_iter().collect()),
        Value::Array(ids) => Some(
            ids.iter()
                .filter_map(|id| id.as_str().and_then(|i| i.parse().ok()))
                .collect(),
        ),
        _ => None,
    };
    let whole_list = user_ids.is_none() && query == Some("") && limit == 0;
    // Without GUILD_MEMBERS Discord sends no list: the request goes unanswered.
    if whole_list && intents & GUILD_MEMBERS_INTENT == 0 {
        return;
    }
    {
        let window = std::time::Duration::from_millis(inner.cfg.member_request_window_ms);
        let now = std::time::Instant::now();
        let mut last = inner.member_requests.lock();
        if let Some(at) = last
            .get(&guild_id)
            .filter(|at| now.duration_since(**at) < window)
        {
            let retry_after = window.saturating_sub(now.duration_since(*at)).as_secs_f64();
            let mut meta = json!({ "guild_id": guild_id.to_string() });
            if let Some(nonce) = &nonce {
                meta["nonce"] = json!(nonce);
            }
            let limited = json!({ "opcode": 8, "retry_after": (retry_after * 1000.0).round() / 1000.0, "meta": meta });
            drop(last);
            send_to(inner, session_id, "RATE_LIMITED", &limited);
            return;
        }
        last.insert(guild_id, now);
    }
    let (members, not_found) = {
        let world = inner.world.lock();
        let Some(guild) = world.guilds.get(&guild_id) else {
            return;
        };
        let member = |u: &u64| world.member_json(guild_id, *u, true);
        match (&user_ids, query) {
            (Some(ids), _) => {
                let ids = &ids[..ids.len().min(QUERY_LIMIT)];
                let found: Vec<Value> = ids.iter().filter_map(member).collect();
                let missing: Vec<String> = ids
                    .iter()
                    .filter(|u| !guild.members.contains_key(u))
                    .map(u64::to_string)
                    .collect();
                (found, Some(missing))
            }
            (None, Some(prefix)) if !prefix.is_empty() || limit > 0 => {
                let prefix = prefix.to_lowercase();
                let found = guild
                    .members
                    .keys()
                    .filter(|u| {
                        world
                            .users
                            .get(u)
                            .is_some_and(|user| user.username.to_lowercase().starts_with(&prefix))
                    })
                    .take(limit.clamp(1, QUERY_LIMIT))
                    .filter_map(member)
                    .collect();
                (found, None)
            }
            (None, Some(_)) => (guild.members.keys().filter_map(member).collect(), None),
            (None, None) => return,
        }
    };
    let count = members.len().div_ceil(CHUNK_SIZE).max(1);
    let mut chunks = members.chunks(CHUNK_SIZE);
    for index in 0..count {
        let mut chunk = json!({
            "guild_id": guild_id.to_string(),
            "members": chunks.next().unwrap_or_default(),
            "chunk_index": index,
            "chunk_count": count,
        });
        if let (0, Some(missing)) = (index, &not_found) {
            chunk["not_found"] = json!(missing);
        }
        if let Some(nonce) = &nonce {
            chunk["nonce"] = json!(nonce);
        }
        send_to(inner, session_id, "GUILD_MEMBERS_CHUNK", &chunk);
    }
}

fn check(inner: &Inner, name: &str, frame: &Value) {
    if !inner.cfg.validate_gateway {
        return;
    }
    let problems = inner.spec.check_gateway(name, frame);
    if !problems.is_empty() {
        inner
            .violations
            .lock()
            .extend(problems.into_iter().map(|p| format!("gateway {p}")));
    }
}

fn frame(seq: u64, name: &str, d: &str) -> String {
    format!(r#"{{"op":0,"t":"{name}","s":{seq},"d":{d}}}"#)
}

/// Sends one dispatch to one session.
fn send_to(inner: &Arc<Inner>, session_id: &str, name: &str, d: &Value) {
    if inner.cfg.validate_gateway {
        check(inner, name, &json!({ "op": 0, "t": name, "s": 1, "d": d }));
    }
    let d = d.to_string();
    let limit = inner.cfg.replay_buffer;
    let mut sessions = inner.gateway.sessions.lock();
    if let Some(session) = sessions.get_mut(session_id) {
        push(session, name, &d, limit);
    }
    inner.gateway.dispatched.fetch_add(1, Ordering::Relaxed);
}

/// The guild a dispatch belongs to: `id` for the guild's own events, `guild_id` for the rest;
/// `None` for events outside any guild (DMs), which Discord sends to shard 0 only.
fn guild_of(name: &str, d: &Value) -> Option<u64> {
    let field = if matches!(name, "GUILD_CREATE" | "GUILD_UPDATE" | "GUILD_DELETE") {
        &d["id"]
    } else {
        &d["guild_id"]
    };
    match field {
        Value::String(id) => id.parse().ok(),
        Value::Number(id) => id.as_u64(),
        _ => None,
    }
}

impl Session {
    /// Whether a dispatch for `guild` (`None`: no guild) goes to this session's shard.
    fn receives(&self, guild: Option<u64>) -> bool {
        let [id, n] = self.shard;
        match guild {
            Some(guild) => shard_of(guild, n) == id,
            None => id == 0,
        }
    }
}

fn push(session: &mut Session, name: &str, d: &str, limit: usize) {
    session.seq += 1;
    let text = frame(session.seq, name, d);
    if limit > 0 {
        while session.buffer.len() >= limit {
            session.buffer.pop_front();
        }
        session.buffer.push_back((session.seq, text.clone()));
    }
    if let Some((_, tx)) = &session.conn {
        let _ = tx.send(Out::Text(text));
    }
}

/// Sends a dispatch to every session of the shard that owns it (live ones now, disconnected
/// ones on RESUME).
pub fn dispatch(inner: &Arc<Inner>, name: &str, d: &Value) {
    if inner.cfg.validate_gateway {
        check(inner, name, &json!({ "op": 0, "t": name, "s": 1, "d": d }));
    }
    let guild = guild_of(name, d);
    let d = d.to_string();
    let limit = inner.cfg.replay_buffer;
    let mut sessions = inner.gateway.sessions.lock();
    for session in sessions.values_mut().filter(|s| s.receives(guild)) {
        push(session, name, &d, limit);
    }
    inner.gateway.dispatched.fetch_add(1, Ordering::Relaxed);
}

/// The bulk path: each payload serialized once, the sessions lock taken once per chunk.
pub fn dispatch_many(inner: &Arc<Inner>, frames: impl IntoIterator<Item = (String, Value)>) {
    let limit = inner.cfg.replay_buffer;
    let mut frames = frames.into_iter().peekable();
    let mut chunk: Vec<(String, String, Option<u64>)> = Vec::with_capacity(BULK_CHUNK);
    while frames.peek().is_some() {
        chunk.clear();
        for (name, d) in frames.by_ref().take(BULK_CHUNK) {
            if inner.cfg.validate_gateway {
                check(inner, &name, &json!({ "op": 0, "t": name, "s": 1, "d": d }));
            }
            let guild = guild_of(&name, &d);
            let d = d.to_string();
            chunk.push((name, d, guild));
        }
        let mut sessions = inner.gateway.sessions.lock();
        for session in sessions.values_mut() {
            for (name, d, guild) in &chunk {
                if session.receives(*guild) {
                    push(session, name, d, limit);
                }
            }
        }
        drop(sessions);
        inner
            .gateway
            .dispatched
            .fetch_add(chunk.len() as u64, Ordering::Relaxed);
    }
}
