//! Peer connections (issue 18): opt-in, a round of private threads (a pair and a trio, nobody
//! left out, a paused member left out), "did you meet?" answered by group members only, no pair
//! repeated in the next round, three unanswered rounds pause a member who is told, the
//! `connections` figures in `/connect stats` and `hearth report`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::*;

/// Private threads the bot created in `channel`, in order.
fn threads_in(world: &World, channel: u64) -> Vec<u64> {
    let path = format!("/channels/{channel}/threads");
    world
        .emu
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == path && r.status == 201)
        .filter_map(|r| r.response["id"].as_str()?.parse().ok())
        .collect()
}

/// Waits until `count` threads exist in `channel`, each with its introduction posted.
async fn wait_threads(world: &World, channel: u64, count: usize) -> Vec<u64> {
    let deadline = Instant::now() + WAIT;
    loop {
        let threads = threads_in(world, channel);
        if threads.len() >= count && threads.iter().all(|t| !posts_in(&world.emu, *t).is_empty()) {
            return threads;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {count} threads",
            threads.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The groups of the given threads: the members of each (the bot left out).
fn groups(world: &World, threads: &[u64]) -> Vec<BTreeSet<u64>> {
    let bot = world.emu.bot_user_id();
    threads
        .iter()
        .map(|t| {
            world
                .emu
                .thread_members(*t)
                .into_iter()
                .filter(|u| *u != bot)
                .collect()
        })
        .collect()
}

fn pairs(groups: &[BTreeSet<u64>]) -> BTreeSet<(u64, u64)> {
    let mut pairs = BTreeSet::new();
    for group in groups {
        let members: Vec<u64> = group.iter().copied().collect();
        for (i, a) in members.iter().enumerate() {
            for b in &members[i + 1..] {
                pairs.insert((*a, *b));
            }
        }
    }
    pairs
}

async fn say(world: &World, user: u64, sub: &str, options: Value) -> String {
    text_of(&world.run(user, "connect", sub, options).await)
}

/// The manager sets connections up in `channel`, rounds on Mondays at 10:00, with `extra`
/// options; returns the answer.
async fn set_up(world: &World, channel: u64, extra: &[Value]) -> String {
    let mut options = vec![
        json!({"type": 7, "name": "channel", "value": channel.to_string()}),
        json!({"type": 3, "name": "every", "value": "mon 10:00"}),
    ];
    options.extend_from_slice(extra);
    say(world, world.manager, "setup", json!(options)).await
}

#[tokio::test]
async fn a_round_makes_private_threads_for_everyone_asks_if_they_met_and_never_repeats_a_pair() {
    let world = World::new().await;
    let channel = world.emu.add_channel(world.guild, "connections", 0);
    let _bot = world.start_bot(1).await;
    let setup = set_up(
        &world,
        channel,
        &[json!({"type": 3, "name": "follow_up", "value": "3s"})],
    )
    .await;
    assert!(setup.contains("Connections are set up"), "{setup}");
    let refused = say(&world, world.member, "run-now", json!([])).await;
    assert!(
        !refused.contains("Round"),
        "a member cannot run a round: {refused}"
    );

    let mut members = vec![world.member];
    for name in ["ana", "ben", "cleo", "dev", "eli", "fay", "gus"] {
        let user = world.emu.add_user(name, false);
        world.emu.add_member(world.guild, user, &[]);
        members.push(user);
    }
    let interests = [
        "rust, chess",
        "rust, tea",
        "chess",
        "hiking",
        "hiking, tea",
        "go, chess",
        "go",
        "tea",
    ];
    for (user, interests) in members.iter().zip(interests) {
        let joined = say(
            &world,
            *user,
            "join",
            json!([
                {"type": 3, "name": "interests", "value": interests},
                {"type": 3, "name": "timezone", "value": "Europe/Berlin"}
            ]),
        )
        .await;
        assert!(joined.contains("You're in"), "{joined}");
    }
    let bad = say(
        &world,
        world.member,
        "join",
        json!([{"type": 3, "name": "timezone", "value": "Mars/Olympus"}]),
    )
    .await;
    assert!(bad.contains("not a time zone name"), "{bad}");
    // The eighth member pauses: seven are matched, two pairs and a trio.
    let paused = members.pop().unwrap();
    let said = say(&world, paused, "pause", json!([])).await;
    assert!(said.contains("Paused"), "{said}");

    let round = say(&world, world.manager, "run-now", json!([])).await;
    assert!(
        round.contains("Round 1: 7 member(s) in 3 group(s)"),
        "{round}"
    );
    let threads = wait_threads(&world, channel, 3).await;
    let first = groups(&world, &threads);
    let mut sizes: Vec<usize> = first.iter().map(BTreeSet::len).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, vec![2, 2, 3], "{first:?}");
    let everyone: BTreeSet<u64> = first.iter().flatten().copied().collect();
    assert_eq!(
        everyone,
        members.iter().copied().collect::<BTreeSet<u64>>(),
        "everyone once, the paused member never"
    );
    for thread in &threads {
        let intro = &posts_in(&world.emu, *thread)[0].body;
        let text = intro["content"].as_str().unwrap();
        assert!(text.contains("meet your match"), "{text}");
        assert!(text.contains("<t:"), "suggested times: {text}");
        assert_eq!(intro["allowed_mentions"]["parse"], json!([]), "{intro}");
    }
    let thread_created = world
        .emu
        .requests()
        .into_iter()
        .find(|r| r.path == format!("/channels/{channel}/threads"))
        .unwrap();
    assert_eq!(thread_created.body["type"], json!(12), "a private thread");

    // "Did you meet?" comes after the follow-up delay, in each thread.
    let deadline = Instant::now() + WAIT;
    let asks: Vec<(u64, discord_emulator::RecordedRequest)> = loop {
        let asks: Vec<_> = threads
            .iter()
            .filter_map(|t| {
                posts_in(&world.emu, *t)
                    .into_iter()
                    .find(|p| {
                        p.body["content"]
                            .as_str()
                            .is_some_and(|c| c.contains("Did you meet?"))
                    })
                    .map(|p| (*t, p))
            })
            .collect();
        if asks.len() == threads.len() {
            break asks;
        }
        assert!(Instant::now() < deadline, "no follow-up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (thread, ask) = &asks[0];
    let group = &first[0];
    let message: u64 = ask.response["id"].as_str().unwrap().parse().unwrap();
    let button = |i: usize| {
        ask.body["components"][0]["components"][i]["custom_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let outsider = *everyone.iter().find(|u| !group.contains(u)).unwrap();
    let world = &world;
    let click = |user: u64, id: String| async move {
        let answer = world
            .emu
            .button_click(world.guild, *thread, user, message, &id)
            .response(WAIT)
            .await
            .unwrap();
        assert!(is_ephemeral(&answer.body["data"]), "{}", answer.body);
        text_of(&answer.body["data"])
    };
    let refused = click(outsider, button(0)).await;
    assert!(refused.contains("Only the members"), "{refused}");
    let met = *group.iter().next().unwrap();
    assert!(click(met, button(0)).await.contains("Wonderful"));

    let stats = say(world, world.manager, "stats", json!([])).await;
    assert!(stats.contains("3 match(es), met 1 (33%)"), "{stats}");
    assert!(
        stats.contains("7 member(s) taking part, 1 paused"),
        "{stats}"
    );
    let history = say(world, met, "history", json!([])).await;
    assert!(
        history.contains("Round 1") && history.contains("met"),
        "{history}"
    );

    // Round 2: no pair of round 1 again.
    let round = say(world, world.manager, "run-now", json!([])).await;
    assert!(round.contains("Round 2"), "{round}");
    let all = wait_threads(world, channel, 6).await;
    let second = groups(world, &all[3..]);
    let repeated: Vec<_> = pairs(&first)
        .intersection(&pairs(&second))
        .copied()
        .collect();
    assert!(
        repeated.is_empty(),
        "repeated pairs {repeated:?}: {first:?} then {second:?}"
    );

    // Nobody but `met` answered round 1 or 2, nobody answers round 3: at round 4 the silent
    // members have ignored three rounds in a row and are paused, told in their thread.
    let round = say(world, world.manager, "run-now", json!([])).await;
    assert!(round.contains("Round 3"), "{round}");
    wait_threads(world, channel, 9).await;
    let round = say(world, world.manager, "run-now", json!([])).await;
    assert!(round.contains("paused after three rounds"), "{round}");
    let deadline = Instant::now() + WAIT;
    while !threads_in(world, channel)[6..].iter().any(|t| {
        posts_in(&world.emu, *t).iter().any(|p| {
            p.body["content"]
                .as_str()
                .is_some_and(|c| c.contains("paused your connections"))
        })
    }) {
        assert!(Instant::now() < deadline, "nobody told they were paused");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Two members talk: a reply makes both connected members.
    let hello = world
        .emu
        .user_message(world.general, members[1], "anyone into synths?", None);
    world
        .emu
        .user_message(world.general, members[2], "me!", Some(hello));
    let deadline = Instant::now() + WAIT;
    let json: Value = loop {
        let json: Value =
            serde_json::from_str(&hearth_report(world, &["--format", "json"])).unwrap();
        if json["connections"]["connected"].as_u64() >= Some(2) {
            break json;
        }
        assert!(Instant::now() < deadline, "{}", json["connections"]);
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        json["connections"]["new_pairs"],
        json!(1),
        "{}",
        json["connections"]
    );
    // The new pair shows in this week's count (the last of eight weeks).
    let stats = say(world, world.manager, "stats", json!([])).await;
    let weekly = stats
        .lines()
        .find(|l| l.starts_with("New connections per week: week of "))
        .unwrap_or_else(|| panic!("{stats}"));
    assert_eq!(weekly.matches(" · ").count(), 7, "{weekly}");
    assert!(weekly.ends_with(": 1"), "{weekly}");
    assert_eq!(
        json["connections"]["matches"].as_u64().map(|m| m >= 9),
        Some(true),
        "{}",
        json["connections"]
    );
    assert_eq!(
        json["connections"]["met"],
        json!(1),
        "{}",
        json["connections"]
    );
    world.emu.assert_no_violations();
}

#[tokio::test]
async fn without_create_private_threads_the_round_is_reported_not_lost_silently() {
    let world = World::new().await;
    let channel = world.emu.add_channel(world.guild, "connections", 0);
    world.emu.set_role_permissions(
        world.guild,
        world.emu.bot_role(world.guild),
        BOT_PERMISSIONS & !(1 << 36),
    );
    let _bot = world.start_bot(1).await;
    set_up(&world, channel, &[]).await;
    for user in [world.member, world.manager] {
        say(
            &world,
            user,
            "join",
            json!([{"type": 3, "name": "interests", "value": "tea"}]),
        )
        .await;
    }
    let round = say(&world, world.manager, "run-now", json!([])).await;
    assert!(
        round.contains("Round 1: 2 member(s) in 1 group(s)"),
        "{round}"
    );
    // Discord refuses the private thread: the doctor names the permission and the post given up.
    let deadline = Instant::now() + WAIT;
    let doctor = loop {
        let doctor = text_of(
            &world
                .run(world.manager, "config", "doctor", json!([]))
                .await,
        );
        if doctor.contains("connect-thread") {
            break doctor;
        }
        assert!(Instant::now() < deadline, "{doctor}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(doctor.contains("Create Private Threads"), "{doctor}");
    assert!(threads_in(&world, channel).is_empty());
    let refused: Vec<_> = world
        .emu
        .requests()
        .into_iter()
        .filter(|r| r.path == format!("/channels/{channel}/threads"))
        .collect();
    assert_eq!(refused.len(), 1, "refused once, not retried: {refused:?}");
    assert_eq!(refused[0].status, 403);
}

/// `/connect join group_size` (product §11): members who ask for a group of three meet in a trio
/// of their own; the others still meet in pairs.
#[tokio::test]
async fn members_who_ask_for_three_meet_in_a_trio_and_the_others_in_pairs() {
    let world = World::new().await;
    let channel = world.emu.add_channel(world.guild, "connections", 0);
    let _bot = world.start_bot(1).await;
    let setup = set_up(&world, channel, &[]).await;
    assert!(setup.contains("Connections are set up"), "{setup}");
    let (mut trio, mut pairs) = (BTreeSet::new(), BTreeSet::new());
    for (i, name) in ["ana", "ben", "cleo", "dev", "eli", "fay", "gus"]
        .into_iter()
        .enumerate()
    {
        let user = world.emu.add_user(name, false);
        world.emu.add_member(world.guild, user, &[]);
        let mut options = vec![json!({"type": 3, "name": "interests", "value": "rust, tea"})];
        if i < 3 {
            // The choice "3: a small group".
            options.push(json!({"type": 4, "name": "group_size", "value": 1}));
            trio.insert(user);
        } else {
            pairs.insert(user);
        }
        let joined = say(&world, user, "join", json!(options)).await;
        assert!(joined.contains("You're in"), "{joined}");
    }
    let round = say(&world, world.manager, "run-now", json!([])).await;
    assert!(
        round.contains("Round 1: 7 member(s) in 3 group(s)"),
        "{round}"
    );
    let threads = wait_threads(&world, channel, 3).await;
    let made = groups(&world, &threads);
    assert!(
        made.contains(&trio),
        "the three who asked meet together: {made:?}"
    );
    let others: Vec<&BTreeSet<u64>> = made.iter().filter(|g| **g != trio).collect();
    assert_eq!(others.len(), 2, "{made:?}");
    assert!(
        others.iter().all(|g| g.len() == 2 && g.is_subset(&pairs)),
        "{made:?}"
    );
}
