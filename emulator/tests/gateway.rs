//! The gateway with a raw websocket client: handshake, heartbeats, RESUME replay, and the
//! dispatch rate (printed, not asserted: these machines are shared).

use std::time::{Duration, Instant};

use discord_emulator::{Emulator, EmulatorConfig};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(emu: &Emulator) -> Socket {
    let url = format!("{}/gateway", emu.base_url().replace("http://", "ws://"));
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

async fn next(ws: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

async fn send(ws: &mut Socket, value: Value) {
    ws.send(Message::Text(value.to_string())).await.unwrap();
}

async fn identify(ws: &mut Socket) -> Value {
    send(
        ws,
        json!({"op": 2, "d": {"token": "t", "intents": 1, "properties": {"os": "linux", "browser": "x", "device": "x"}}}),
    )
    .await;
    next(ws).await
}

#[tokio::test]
async fn handshake_heartbeat_and_resume_with_replay() {
    let emu = Emulator::start().await.unwrap();
    let guild = emu.add_guild("G", 0);
    let channel = emu.add_channel(guild, "general", 0);
    let user = emu.add_user("u", false);
    emu.add_member(guild, user, &[]);

    let mut ws = connect(&emu).await;
    assert_eq!(next(&mut ws).await["op"], 10, "HELLO first");
    let ready = identify(&mut ws).await;
    assert_eq!(ready["t"], "READY");
    assert_eq!(
        ready["d"]["application"]["id"],
        emu.application_id().to_string()
    );
    let guild_create = next(&mut ws).await;
    assert_eq!(guild_create["t"], "GUILD_CREATE");
    assert_eq!(guild_create["d"]["members"].as_array().unwrap().len(), 3);
    send(&mut ws, json!({"op": 1, "d": 2})).await;
    assert_eq!(next(&mut ws).await["op"], 11, "heartbeat ACK");

    // Drop the client; what is dispatched meanwhile is replayed on RESUME.
    let session = ready["d"]["session_id"].as_str().unwrap().to_owned();
    drop(ws);
    tokio::time::sleep(Duration::from_millis(100)).await;
    emu.user_message(channel, user, "while you were away", None);
    let mut ws = connect(&emu).await;
    next(&mut ws).await;
    send(
        &mut ws,
        json!({"op": 6, "d": {"token": "t", "session_id": session, "seq": 2}}),
    )
    .await;
    let replayed = next(&mut ws).await;
    assert_eq!(replayed["t"], "MESSAGE_CREATE");
    assert_eq!(replayed["s"], 3);
    assert_eq!(next(&mut ws).await["t"], "RESUMED");

    // An unknown session gets op 9 (invalid session, not resumable).
    let mut other = connect(&emu).await;
    next(&mut other).await;
    send(
        &mut other,
        json!({"op": 6, "d": {"token": "t", "session_id": "nope", "seq": 1}}),
    )
    .await;
    assert_eq!(next(&mut other).await, json!({"op": 9, "d": false}));
    emu.assert_no_violations();
}

#[tokio::test]
async fn heartbeats_go_unanswered_when_acks_are_off() {
    let emu = Emulator::start().await.unwrap();
    let mut ws = connect(&emu).await;
    next(&mut ws).await;
    identify(&mut ws).await;
    emu.set_heartbeat_ack(false);
    send(&mut ws, json!({"op": 1, "d": 1})).await;
    let quiet = tokio::time::timeout(Duration::from_millis(300), ws.next()).await;
    assert!(quiet.is_err(), "no ACK: {quiet:?}");
    emu.set_heartbeat_ack(true);
    send(&mut ws, json!({"op": 1, "d": 1})).await;
    assert_eq!(next(&mut ws).await["op"], 11);
}

#[tokio::test]
async fn dispatch_rate_with_validation_off() {
    let emu = Emulator::start_with(EmulatorConfig {
        validate_gateway: false,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let guild = emu.add_guild("G", 0);
    let channel = emu.add_channel(guild, "general", 0);
    let mut ws = connect(&emu).await;
    next(&mut ws).await;
    identify(&mut ws).await;
    next(&mut ws).await;
    let n: usize = std::env::var("EMULATOR_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let frame = json!({"id": "1", "channel_id": channel.to_string(), "guild_id": guild.to_string(), "content": "", "author": {"id": "2", "username": "u"}});
    let started = Instant::now();
    let reader = tokio::spawn(async move {
        let mut seen = 0;
        while seen < n {
            if let Some(Ok(Message::Text(_))) = ws.next().await {
                seen += 1;
            }
        }
    });
    emu.dispatch_many((0..n).map(|_| ("MESSAGE_CREATE".to_owned(), frame.clone())));
    reader.await.unwrap();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "emulator: {n} dispatches delivered over the websocket in {secs:.3} s = {:.0} dispatches/s",
        n as f64 / secs
    );
}

#[tokio::test]
async fn every_generated_dispatch_passes_its_schema() {
    let emu = Emulator::start().await.unwrap();
    let guild = emu.add_guild("G", 1 << 10 | 1 << 11);
    let channel = emu.add_channel(guild, "general", 0);
    let voice = emu.add_channel(guild, "Lounge", 2);
    let user = emu.add_user("u", false);
    let mut ws = connect(&emu).await;
    next(&mut ws).await;
    // serenity's IDENTIFY: presence.since as an object, compress true.
    send(
        &mut ws,
        json!({"op": 2, "d": {"token": "Bot t", "intents": 53608447, "compress": true, "large_threshold": 250,
            "shard": [0, 1], "properties": {"os": "linux", "browser": "serenity", "device": "serenity"},
            "presence": {"since": {"secs_since_epoch": 1, "nanos_since_epoch": 0}, "activities": [], "status": "online", "afk": false}}}),
    )
    .await;
    assert_eq!(next(&mut ws).await["t"], "READY");
    assert_eq!(next(&mut ws).await["t"], "GUILD_CREATE");
    emu.member_join(guild, user, true);
    emu.member_update(guild, user, false);
    let first = emu.user_message(channel, user, "hello <@1>", None);
    emu.user_message(channel, user, "a reply", Some(first));
    emu.reaction_add(channel, first, user, "👍");
    emu.voice_join(guild, voice, user);
    emu.thread_create_by_user(channel, user, "a thread");
    emu.slash_command(guild, channel, user, "config", json!([]));
    emu.member_leave(guild, user);
    let mut seen = Vec::new();
    while seen.len() < 10 {
        let frame = next(&mut ws).await;
        seen.push(frame["t"].as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(
        seen,
        [
            "GUILD_MEMBER_ADD",
            "GUILD_MEMBER_UPDATE",
            "MESSAGE_CREATE",
            "MESSAGE_CREATE",
            "MESSAGE_REACTION_ADD",
            "VOICE_STATE_UPDATE",
            "THREAD_CREATE",
            // Discord's thread-created notice (type 18) in the parent channel.
            "MESSAGE_CREATE",
            "INTERACTION_CREATE",
            "GUILD_MEMBER_REMOVE"
        ]
    );
    assert_eq!(emu.last_identify().unwrap()["intents"], 53608447);
    emu.assert_no_violations();

    // A payload that does not fit its schema is a violation.
    emu.dispatch("MESSAGE_CREATE", json!({"id": 5, "content": "no author"}));
    let violations = emu.violations();
    assert!(!violations.is_empty());
    assert!(
        violations.iter().all(|v| v.contains("MESSAGE_CREATE")),
        "{violations:?}"
    );
}

#[tokio::test]
async fn world_changes_after_identify_are_dispatched() {
    let emu = Emulator::start().await.unwrap();
    let guild = emu.add_guild("G", 0);
    let mut ws = connect(&emu).await;
    next(&mut ws).await;
    identify(&mut ws).await;
    next(&mut ws).await;
    let channel = emu.add_channel(guild, "new", 0);
    let created = next(&mut ws).await;
    assert_eq!(created["t"], "CHANNEL_CREATE");
    assert_eq!(created["d"]["id"], channel.to_string());
    emu.add_role(guild, "Mods", 0);
    assert_eq!(next(&mut ws).await["t"], "GUILD_ROLE_CREATE");
    emu.set_channel_overwrite(channel, guild, 0, 0, 1 << 10);
    let updated = next(&mut ws).await;
    assert_eq!(updated["t"], "CHANNEL_UPDATE");
    assert_eq!(updated["d"]["permission_overwrites"][0]["deny"], "1024");
    emu.assert_no_violations();
}

#[tokio::test]
async fn every_identified_session_gets_dispatches_and_faults_reach_them_all() {
    let emu = Emulator::start().await.unwrap();
    let guild = emu.add_guild("G", 0);
    let channel = emu.add_channel(guild, "general", 0);
    let mut a = connect(&emu).await;
    next(&mut a).await;
    identify(&mut a).await;
    next(&mut a).await;
    let mut b = connect(&emu).await;
    next(&mut b).await;
    identify(&mut b).await;
    next(&mut b).await;
    emu.wait_for_identified(2, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(emu.gateway_stats().live_sessions, 2);
    emu.dispatch(
        "TYPING_START",
        json!({"channel_id": channel.to_string(), "user_id": "1", "timestamp": 1}),
    );
    assert_eq!(next(&mut a).await["t"], "TYPING_START");
    assert_eq!(next(&mut b).await["t"], "TYPING_START");

    emu.send_reconnect();
    assert_eq!(next(&mut a).await["op"], 7);
    assert_eq!(next(&mut b).await["op"], 7);

    emu.close_connections(4000);
    for ws in [&mut a, &mut b] {
        let closed = tokio::time::timeout(Duration::from_secs(2), ws.next())
            .await
            .unwrap();
        match closed {
            Some(Ok(Message::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), 4000),
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_dropped_connection_ends_without_a_close_frame_and_the_last_handle_stops_the_server() {
    let emu = Emulator::start().await.unwrap();
    let mut ws = connect(&emu).await;
    next(&mut ws).await;
    identify(&mut ws).await;
    emu.drop_connections();
    let end = tokio::time::timeout(Duration::from_secs(2), ws.next())
        .await
        .unwrap();
    assert!(
        !matches!(end, Some(Ok(Message::Close(Some(_))))),
        "no close frame on a drop: {end:?}"
    );
    let base = emu.base_url();
    let handle = emu.clone();
    drop(emu);
    assert!(
        tokio::net::TcpStream::connect(base.trim_start_matches("http://"))
            .await
            .is_ok(),
        "a clone keeps it running"
    );
    drop(handle);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        tokio::net::TcpStream::connect(base.trim_start_matches("http://"))
            .await
            .is_err(),
        "stopped"
    );
}

/// IDENTIFY with chosen intents and `large_threshold`; returns READY.
async fn identify_with(ws: &mut Socket, intents: u64, large_threshold: Option<u64>) -> Value {
    let mut d = json!({"token": "t", "intents": intents, "properties": {"os": "linux", "browser": "x", "device": "x"}});
    if let Some(t) = large_threshold {
        d["large_threshold"] = json!(t);
    }
    send(ws, json!({"op": 2, "d": d})).await;
    next(ws).await
}

const GUILD_MEMBERS: u64 = 1 << 1;

#[tokio::test]
async fn a_large_guild_sends_a_partial_member_list() {
    let emu = Emulator::start().await.unwrap();
    let guild = emu.add_guild("Big", 0);
    let voice = emu.add_channel(guild, "voice", 2);
    for i in 0..60 {
        let user = emu.add_user(&format!("m{i}"), false);
        emu.add_member(guild, user, &[]);
    }
    let talker = emu.add_user("talker", false);
    emu.add_member(guild, talker, &[]);
    emu.voice_join(guild, voice, talker);

    // Discord's default threshold is 50: 63 members make the guild large.
    let mut ws = connect(&emu).await;
    next(&mut ws).await;
    identify_with(&mut ws, 1, None).await;
    let created = next(&mut ws).await;
    assert_eq!(created["t"], "GUILD_CREATE");
    assert_eq!(created["d"]["large"], true);
    assert_eq!(created["d"]["member_count"], 63);
    let mut listed: Vec<String> = created["d"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user"]["id"].as_str().unwrap().to_owned())
        .collect();
    listed.sort();
    let mut expected = vec![emu.bot_user_id().to_string(), talker.to_string()];
    expected.sort();
    assert_eq!(listed, expected, "the bot and the members in voice");

    // With the maximum threshold (250) it is small and complete.
    let mut ws = connect(&emu).await;
    next(&mut ws).await;
    identify_with(&mut ws, 1, Some(250)).await;
    let created = next(&mut ws).await;
    assert_eq!(created["d"]["large"], false);
    assert_eq!(created["d"]["members"].as_array().unwrap().len(), 63);
    emu.assert_no_violations();
}

#[tokio::test]
async fn request_guild_members_sends_chunks_then_is_rate_limited() {
    let emu = Emulator::start().await.unwrap();
    let guild = emu.add_guild("Big", 0);
    let channel = emu.add_channel(guild, "general", 0);
    let long_ago = 1_600_000_000_000;
    let old_timer = emu.add_user("old timer", false);
    emu.add_member_joined_at(guild, old_timer, &[], long_ago);
    for i in 0..2_100 {
        let user = emu.add_user(&format!("m{i}"), false);
        emu.add_member(guild, user, &[]);
    }
    let mut ws = connect(&emu).await;
    next(&mut ws).await;
    identify_with(&mut ws, 1 | GUILD_MEMBERS, None).await;
    let created = next(&mut ws).await;
    assert_eq!(created["d"]["large"], true);
    assert_eq!(created["d"]["members"].as_array().unwrap().len(), 1);

    let request = json!({"op": 8, "d": {"guild_id": guild.to_string(), "query": "", "limit": 0, "nonce": "n1"}});
    send(&mut ws, request.clone()).await;
    let mut members = Vec::new();
    for index in 0..3 {
        let chunk = next(&mut ws).await;
        assert_eq!(chunk["t"], "GUILD_MEMBERS_CHUNK");
        assert_eq!(chunk["d"]["chunk_index"], index);
        assert_eq!(chunk["d"]["chunk_count"], 3);
        assert_eq!(chunk["d"]["nonce"], "n1");
        assert_eq!(chunk["d"]["guild_id"], guild.to_string());
        let list = chunk["d"]["members"].as_array().unwrap();
        assert!(list.len() <= 1000);
        members.extend(list.iter().cloned());
    }
    // 2,100 members, the old timer, the owner and the bot.
    assert_eq!(members.len(), 2_103);
    let old = members
        .iter()
        .find(|m| m["user"]["id"] == json!(old_timer.to_string()))
        .unwrap();
    assert_eq!(old["joined_at"], "2020-09-13T12:26:40.000000+00:00");

    // Again within 30 s: RATE_LIMITED, no chunks.
    send(&mut ws, request).await;
    let limited = next(&mut ws).await;
    assert_eq!(limited["t"], "RATE_LIMITED");
    assert_eq!(limited["d"]["opcode"], 8);
    assert!(limited["d"]["retry_after"].as_f64().unwrap() > 0.0);
    assert_eq!(limited["d"]["meta"]["guild_id"], guild.to_string());
    assert_eq!(limited["d"]["meta"]["nonce"], "n1");

    emu.user_message(channel, old_timer, "hello", None);
    assert_eq!(next(&mut ws).await["t"], "MESSAGE_CREATE");
    emu.assert_no_violations();
}

#[tokio::test]
async fn without_the_guild_members_intent_the_whole_list_is_not_sent() {
    let emu = Emulator::start_with(EmulatorConfig {
        member_request_window_ms: 0,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let guild = emu.add_guild("G", 0);
    let channel = emu.add_channel(guild, "general", 0);
    let user = emu.add_user("somebody", false);
    emu.add_member(guild, user, &[]);
    let mut ws = connect(&emu).await;
    next(&mut ws).await;
    identify_with(&mut ws, 1, None).await;
    next(&mut ws).await;
    send(
        &mut ws,
        json!({"op": 8, "d": {"guild_id": guild.to_string(), "query": "", "limit": 0}}),
    )
    .await;
    // Asking for named users needs no intent: found and not found.
    send(
        &mut ws,
        json!({"op": 8, "d": {"guild_id": guild.to_string(), "user_ids": [user.to_string(), "42"], "limit": 0}}),
    )
    .await;
    let chunk = next(&mut ws).await;
    assert_eq!(
        chunk["t"], "GUILD_MEMBERS_CHUNK",
        "no chunk for the whole list"
    );
    assert_eq!(chunk["d"]["members"].as_array().unwrap().len(), 1);
    assert_eq!(chunk["d"]["not_found"], json!(["42"]));
    emu.user_message(channel, user, "after", None);
    assert_eq!(next(&mut ws).await["t"], "MESSAGE_CREATE");
}
