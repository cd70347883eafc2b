//! Sharding with raw websocket sessions: each shard gets exactly its guilds and its guilds'
//! dispatches (DMs on shard 0 only), invalid shards close with 4010, too many guilds per shard
//! with 4011, identifying faster than `max_concurrency` gets op 9, and `GET /gateway/bot`.

use std::collections::BTreeSet;
use std::time::Duration;

use discord_emulator::{shard_of, Emulator, EmulatorConfig, IdentifyOutcome};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const WAIT: Duration = Duration::from_secs(10);

async fn connect(emu: &Emulator) -> Socket {
    let url = format!("{}/gateway", emu.base_url().replace("http://", "ws://"));
    let mut ws = tokio_tungstenite::connect_async(url).await.unwrap().0;
    assert_eq!(next(&mut ws).await["op"], 10, "HELLO first");
    ws
}

async fn next(ws: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame in time")
            .expect("the socket is open")
            .expect("a websocket message");
        match message {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Close(frame) => panic!("closed: {frame:?}"),
            _ => {}
        }
    }
}

/// IDENTIFY with `shard` (`None`: no shard field).
async fn identify(ws: &mut Socket, shard: Option<Value>) {
    let mut d = json!({"token": "t", "intents": 1 | 1 << 1 | 1 << 9 | 1 << 15,
        "properties": {"os": "linux", "browser": "x", "device": "x"}});
    if let Some(shard) = shard {
        d["shard"] = shard;
    }
    ws.send(Message::Text(json!({"op": 2, "d": d}).to_string()))
        .await
        .unwrap();
}

/// The close code the server ends the connection with.
async fn close_code(ws: &mut Socket) -> u16 {
    loop {
        let message = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("the server answers in time");
        match message {
            Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
            Some(Ok(Message::Text(text))) => panic!("expected a close, got {text}"),
            Some(Ok(_)) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

/// Guild ids whose shard (of 2) alternates 0, 1, 0, 1...: the shard comes from the id's
/// timestamp bits, and ids made in one millisecond would all land on one shard.
fn spread_ids(count: u64) -> Vec<u64> {
    let base = 1_700_000_000_000u64 - 1_420_070_400_000;
    let base = base - base % 2;
    (0..count).map(|k| ((base + k) << 22) | 7).collect()
}

/// The guild a dispatch belongs to, as Discord routes it (`id` for the guild's own events).
fn guild_of(frame: &Value) -> Option<u64> {
    let d = &frame["d"];
    let field = match frame["t"].as_str() {
        Some("GUILD_CREATE" | "GUILD_UPDATE" | "GUILD_DELETE") => &d["id"],
        _ => &d["guild_id"],
    };
    field.as_str().and_then(|g| g.parse().ok())
}

struct Shard {
    ws: Socket,
    id: u64,
}

#[tokio::test]
async fn two_shards_get_exactly_their_guilds_and_their_guilds_dispatches() {
    let emu = Emulator::start().await.unwrap();
    let guilds = spread_ids(6);
    let mut channels = Vec::new();
    let user = emu.add_user("joiner", false);
    for (i, id) in guilds.iter().enumerate() {
        emu.add_guild_with_id(*id, &format!("G{i}"), 1 << 10 | 1 << 11);
        channels.push(emu.add_channel(*id, "general", 0));
    }
    let mine = |shard: u64| -> BTreeSet<String> {
        guilds
            .iter()
            .filter(|g| shard_of(**g, 2) == shard)
            .map(u64::to_string)
            .collect()
    };
    assert_eq!(mine(0).len(), 3);
    assert_eq!(mine(1).len(), 3);

    let mut shards = Vec::new();
    for id in [0, 1] {
        let mut ws = connect(&emu).await;
        identify(&mut ws, Some(json!([id, 2]))).await;
        let ready = next(&mut ws).await;
        assert_eq!(ready["t"], "READY");
        assert_eq!(
            ready["d"]["shard"],
            json!([id, 2]),
            "READY echoes the shard"
        );
        let listed: BTreeSet<String> = ready["d"]["guilds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                assert_eq!(g["unavailable"], true);
                g["id"].as_str().unwrap().to_owned()
            })
            .collect();
        assert_eq!(listed, mine(id), "READY lists only shard {id}'s guilds");
        let mut created = BTreeSet::new();
        for _ in 0..3 {
            let frame = next(&mut ws).await;
            assert_eq!(frame["t"], "GUILD_CREATE");
            created.insert(frame["d"]["id"].as_str().unwrap().to_owned());
        }
        assert_eq!(
            created,
            mine(id),
            "GUILD_CREATE for shard {id}'s guilds only"
        );
        shards.push(Shard { ws, id });
    }

    // Guild-scoped events of every kind, in every guild.
    for (guild, channel) in guilds.iter().zip(&channels) {
        emu.member_join(*guild, user, false);
        emu.member_update(*guild, user, false);
        let message = emu.user_message(*channel, user, "hello", None);
        emu.reaction_add(*channel, message, user, "👍");
        emu.thread_create_by_user(*channel, user, "a thread");
        emu.slash_command(*guild, *channel, user, "config", json!([]));
        emu.add_role(*guild, "Mods", 0);
        emu.set_system_channel(*guild, Some(*channel));
        emu.add_channel(*guild, "later", 0);
        emu.member_leave(*guild, user);
    }
    // No guild: a DM interaction and a typing event in a DM go to shard 0 only.
    emu.button_click(0, 42, user, 43, "dm-button");
    emu.dispatch(
        "TYPING_START",
        json!({"channel_id": "42", "user_id": user.to_string(), "timestamp": 1}),
    );
    // A guild added while connected goes to its own shard.
    let late = spread_ids(7)[6];
    emu.add_guild_with_id(late, "Late", 0);
    // Markers, one per shard, end each stream.
    for (guild, channel) in guilds.iter().zip(&channels).take(2) {
        emu.dispatch(
            "TYPING_START",
            json!({"channel_id": channel.to_string(), "guild_id": guild.to_string(), "user_id": "1", "timestamp": 2}),
        );
    }

    for shard in &mut shards {
        let mut per_guild: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        let mut without_guild = Vec::new();
        loop {
            let frame = next(&mut shard.ws).await;
            let name = frame["t"].as_str().unwrap().to_owned();
            if name == "TYPING_START" && frame["d"]["timestamp"] == 2 {
                break;
            }
            match guild_of(&frame) {
                Some(guild) => {
                    assert_eq!(
                        shard_of(guild, 2),
                        shard.id,
                        "shard {} got {name} of guild {guild}",
                        shard.id
                    );
                    per_guild.entry(guild.to_string()).or_default().push(name);
                }
                None => without_guild.push(name),
            }
        }
        let mut expected: BTreeSet<String> = mine(shard.id);
        if shard_of(late, 2) == shard.id {
            expected.insert(late.to_string());
        }
        assert_eq!(
            per_guild.keys().cloned().collect::<BTreeSet<_>>(),
            expected,
            "shard {} got every one of its guilds' events",
            shard.id
        );
        for (guild, events) in &per_guild {
            if *guild == late.to_string() {
                assert_eq!(events, &["GUILD_CREATE"]);
                continue;
            }
            for wanted in [
                "GUILD_MEMBER_ADD",
                "GUILD_MEMBER_UPDATE",
                "MESSAGE_CREATE",
                "MESSAGE_REACTION_ADD",
                "THREAD_CREATE",
                "INTERACTION_CREATE",
                "GUILD_ROLE_CREATE",
                "GUILD_UPDATE",
                "CHANNEL_CREATE",
                "GUILD_MEMBER_REMOVE",
            ] {
                assert!(
                    events.iter().any(|e| e == wanted),
                    "shard {} missed {wanted} of guild {guild}: {events:?}",
                    shard.id
                );
            }
            let joins = events.iter().filter(|e| *e == "GUILD_MEMBER_ADD").count();
            assert_eq!(joins, 1, "one GUILD_MEMBER_ADD per guild, once");
        }
        if shard.id == 0 {
            assert_eq!(without_guild, ["INTERACTION_CREATE", "TYPING_START"]);
        } else {
            assert!(
                without_guild.is_empty(),
                "DM events reach shard 0 only: {without_guild:?}"
            );
        }
    }
    emu.assert_no_violations();
}

#[tokio::test]
async fn no_shard_field_means_shard_0_of_1_with_every_guild() {
    let emu = Emulator::start().await.unwrap();
    for id in spread_ids(3) {
        emu.add_guild_with_id(id, "G", 0);
    }
    let mut ws = connect(&emu).await;
    identify(&mut ws, None).await;
    let ready = next(&mut ws).await;
    assert_eq!(ready["d"]["shard"], json!([0, 1]));
    assert_eq!(ready["d"]["guilds"].as_array().unwrap().len(), 3);
    let records = emu.identifies();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].shard, Some([0, 1]));
    assert_eq!(records[0].outcome, IdentifyOutcome::Ready);
}

#[tokio::test]
async fn an_invalid_shard_closes_with_4010() {
    let emu = Emulator::start().await.unwrap();
    emu.add_guild("G", 0);
    for shard in [
        json!([2, 2]),
        json!([3, 2]),
        json!([0, 0]),
        json!([0]),
        json!([-1, 2]),
        json!("0,1"),
    ] {
        let mut ws = connect(&emu).await;
        identify(&mut ws, Some(shard.clone())).await;
        assert_eq!(close_code(&mut ws).await, 4010, "shard {shard}");
    }
    let records = emu.identifies();
    assert_eq!(records.len(), 6);
    assert!(records
        .iter()
        .all(|r| r.outcome == IdentifyOutcome::InvalidShard));
    assert_eq!(records[0].shard, Some([2, 2]));
    assert_eq!(emu.gateway_stats().live_sessions, 0);
}

#[tokio::test]
async fn too_many_guilds_for_one_shard_closes_with_4011() {
    let emu = Emulator::start_with(EmulatorConfig {
        max_guilds_per_shard: 2,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    for id in spread_ids(4) {
        emu.add_guild_with_id(id, "G", 0);
    }
    // Unsharded, the session would hold 4 guilds.
    let mut ws = connect(&emu).await;
    identify(&mut ws, None).await;
    assert_eq!(close_code(&mut ws).await, 4011);
    // Two shards of two guilds each are fine.
    let mut ws = connect(&emu).await;
    identify(&mut ws, Some(json!([1, 2]))).await;
    let ready = next(&mut ws).await;
    assert_eq!(ready["t"], "READY");
    assert_eq!(ready["d"]["guilds"].as_array().unwrap().len(), 2);
    let outcomes: Vec<IdentifyOutcome> = emu.identifies().iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [IdentifyOutcome::ShardingRequired, IdentifyOutcome::Ready]
    );
}

#[tokio::test]
async fn identifying_faster_than_max_concurrency_gets_an_invalid_session() {
    let emu = Emulator::start_with(EmulatorConfig {
        identify_rate_limit: true,
        max_concurrency: 2,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    // Shards 0 and 1 have different rate-limit keys (id % 2): both may identify at once.
    let mut a = connect(&emu).await;
    identify(&mut a, Some(json!([0, 4]))).await;
    assert_eq!(next(&mut a).await["t"], "READY");
    let mut b = connect(&emu).await;
    identify(&mut b, Some(json!([1, 4]))).await;
    assert_eq!(next(&mut b).await["t"], "READY");
    // Shard 2 shares shard 0's key: within 5 s it is refused with op 9, the socket left open.
    let mut c = connect(&emu).await;
    identify(&mut c, Some(json!([2, 4]))).await;
    let answer = next(&mut c).await;
    let records = emu.identifies();
    assert_eq!(records[2].shard, Some([2, 4]));
    // Judged by the emulator's own clock, so a slow machine cannot make this flaky.
    if records[2].at.duration_since(records[0].at) < discord_emulator::IDENTIFY_WINDOW {
        assert_eq!(answer, json!({"op": 9, "d": false}));
        assert_eq!(records[2].outcome, IdentifyOutcome::RateLimited);
        // It started no session, but Discord counts every IDENTIFY call.
        assert_eq!(emu.gateway_stats().live_sessions, 2);
        let limit = get(&emu, "/gateway/bot").await["session_start_limit"].clone();
        assert_eq!(limit["remaining"], 997);
    } else {
        assert_eq!(answer["t"], "READY");
    }
}

/// `GET /api/v10{path}` over a raw HTTP/1.1 connection; the JSON body.
async fn get(emu: &Emulator, path: &str) -> Value {
    let addr = emu.base_url().trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "GET /api/v10{path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bot t\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).unwrap()
}

#[tokio::test]
async fn gateway_bot_recommends_shards_and_counts_session_starts() {
    let emu = Emulator::start_with(EmulatorConfig {
        max_concurrency: 16,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let fresh = get(&emu, "/gateway/bot").await;
    assert!(fresh["url"].as_str().unwrap().starts_with("ws://"));
    assert_eq!(fresh["shards"], 1, "at least one shard");
    assert_eq!(
        fresh["session_start_limit"],
        json!({"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 16})
    );
    for id in spread_ids(1001) {
        emu.add_guild_with_id(id, "G", 0);
    }
    assert_eq!(
        get(&emu, "/gateway/bot").await["shards"],
        2,
        "a shard per 1000 guilds"
    );
    for shard in 0..2 {
        let mut ws = connect(&emu).await;
        identify(&mut ws, Some(json!([shard, 2]))).await;
        assert_eq!(next(&mut ws).await["t"], "READY");
    }
    // A refused IDENTIFY counts too.
    let mut ws = connect(&emu).await;
    identify(&mut ws, Some(json!([2, 2]))).await;
    assert_eq!(close_code(&mut ws).await, 4010);
    let limit = get(&emu, "/gateway/bot").await["session_start_limit"].clone();
    assert_eq!(limit["total"], 1000);
    assert_eq!(limit["remaining"], 997, "every IDENTIFY counts");
    assert_eq!(limit["max_concurrency"], 16);
    let reset_after = limit["reset_after"].as_u64().unwrap();
    assert!(
        reset_after > 0 && reset_after <= 86_400_000,
        "{reset_after}"
    );
    emu.assert_no_violations();
}

#[tokio::test]
async fn a_shard_resumes_with_its_own_guilds_events_while_another_shard_reidentifies() {
    let emu = Emulator::start_with(EmulatorConfig {
        member_request_window_ms: 0,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let guilds = spread_ids(2);
    let mut channels = Vec::new();
    for id in &guilds {
        emu.add_guild_with_id(*id, "G", 1 << 10 | 1 << 11);
        channels.push(emu.add_channel(*id, "general", 0));
    }
    let user = emu.add_user("u", false);
    let mut sessions = Vec::new();
    let mut sockets = Vec::new();
    for id in [0, 1] {
        let mut ws = connect(&emu).await;
        identify(&mut ws, Some(json!([id, 2]))).await;
        let ready = next(&mut ws).await;
        sessions.push(ready["d"]["session_id"].as_str().unwrap().to_owned());
        assert_eq!(next(&mut ws).await["t"], "GUILD_CREATE");
        sockets.push(ws);
    }
    // op 8 for the other shard's guild goes unanswered; for its own, a chunk.
    let mut shard0 = sockets.remove(0);
    let mut shard1 = sockets.remove(0);
    for guild in [guilds[1], guilds[0]] {
        shard0
            .send(Message::Text(
                json!({"op": 8, "d": {"guild_id": guild.to_string(), "user_ids": ["1"], "limit": 0}})
                    .to_string(),
            ))
            .await
            .unwrap();
    }
    let chunk = next(&mut shard0).await;
    assert_eq!(chunk["t"], "GUILD_MEMBERS_CHUNK");
    assert_eq!(chunk["d"]["guild_id"], guilds[0].to_string());

    // Shard 1 drops; while it is away each guild gets a message, and shard 0 starts afresh.
    drop(shard1);
    drop(shard0);
    tokio::time::sleep(Duration::from_millis(100)).await;
    for channel in &channels {
        emu.user_message(*channel, user, "while away", None);
    }
    let mut fresh = connect(&emu).await;
    identify(&mut fresh, Some(json!([0, 2]))).await;
    assert_eq!(next(&mut fresh).await["t"], "READY");
    // Shard 1's session survived shard 0's new IDENTIFY and replays only its guild's message.
    shard1 = connect(&emu).await;
    shard1
        .send(Message::Text(
            json!({"op": 6, "d": {"token": "t", "session_id": sessions[1], "seq": 2}}).to_string(),
        ))
        .await
        .unwrap();
    let replayed = next(&mut shard1).await;
    assert_eq!(replayed["t"], "MESSAGE_CREATE");
    assert_eq!(replayed["d"]["guild_id"], guilds[1].to_string());
    assert_eq!(next(&mut shard1).await["t"], "RESUMED");
    // Shard 0's old session was forgotten by its new IDENTIFY.
    let mut stale = connect(&emu).await;
    stale
        .send(Message::Text(
            json!({"op": 6, "d": {"token": "t", "session_id": sessions[0], "seq": 2}}).to_string(),
        ))
        .await
        .unwrap();
    assert_eq!(next(&mut stale).await, json!({"op": 9, "d": false}));
    emu.assert_no_violations();
}
