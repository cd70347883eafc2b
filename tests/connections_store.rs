//! Connections at the store level: opted-out and paused members are never matched, a declined
//! pair is never paired again, and privacy export and forget cover matches.

mod support;

use hearth::config::Config;
use hearth::db;
use hearth::features::connections::{self, Join, Setup};
use hearth::outbox::Outbox;

const GUILD: u64 = 1;

async fn join(pool: &db::Pool, user: u64, interests: &str) {
    let wish = Join {
        interests: Some(interests),
        ..Join::default()
    };
    connections::join(pool, &Config::default(), GUILD, user, &wish, 0)
        .await
        .unwrap();
}

#[tokio::test]
async fn opted_out_members_are_never_matched_declines_hold_and_forget_anonymises() {
    let (_dir, pool) = support::temp_store().await;
    let (config, outbox) = (Config::default(), Outbox::new(pool.clone()));
    let setup = Setup {
        guild_id: GUILD,
        channel: 2,
        every: "mon 10:00",
        repeat_rounds: Some(1),
        follow_up: None,
        by: 3,
    };
    connections::setup(&pool, &config, &setup, 1_000)
        .await
        .unwrap();
    for user in [5, 6, 7, 8] {
        join(&pool, user, "chess").await;
    }
    db::activity::set_optout(&pool, GUILD, 8, true, 0)
        .await
        .unwrap();
    let round = connections::run_round(&pool, &config, &outbox, GUILD, 2_000)
        .await
        .unwrap();
    assert_eq!((round.round, round.members, round.groups), (Some(1), 3, 1));
    let first = db::connections::history(&pool, Some(GUILD), 5)
        .await
        .unwrap();
    let together: Vec<u64> = first[0].members.iter().map(|(u, _)| *u).collect();
    assert_eq!(together, vec![5, 6, 7], "the opted-out member is left out");

    // 6 never wants to meet 5 and 7 again; with repeats allowed after one round, 5 and 7 may
    // meet again, 6 never with either.
    let said = connections::answer_met(&pool, GUILD, first[0].id, 6, "never", 2_100)
        .await
        .unwrap();
    assert!(said.contains("won't be paired"), "{said}");
    join(&pool, 9, "chess").await;
    for round in 2..6 {
        connections::run_round(&pool, &config, &outbox, GUILD, 2_000 + round * 100)
            .await
            .unwrap();
    }
    for group in db::connections::history(&pool, Some(GUILD), 6)
        .await
        .unwrap()
    {
        let others: Vec<u64> = group.members.iter().map(|(u, _)| *u).collect();
        if group.round_number > 1 {
            assert!(
                !others.contains(&5) && !others.contains(&7),
                "round {}: {others:?}",
                group.round_number
            );
        }
    }

    let export = db::privacy::export(&pool, Some(GUILD), 5).await.unwrap();
    let matches = export["connection_matches"].as_array().unwrap();
    assert!(!matches.is_empty(), "{export}");
    assert!(
        matches[0]["with"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("6"))
            || matches.iter().any(|m| m["round"] == 1)
    );
    assert_eq!(export["connections"][0]["interests"], "chess");

    let anonymous = db::privacy::anonymous_id();
    db::privacy::forget(&pool, Some(GUILD), 5, anonymous)
        .await
        .unwrap();
    assert!(db::connections::history(&pool, Some(GUILD), 5)
        .await
        .unwrap()
        .is_empty());
    assert!(db::connections::participant(&pool, GUILD, 5)
        .await
        .unwrap()
        .is_none());
    // Past groups keep their size, under the anonymous id.
    let round_one = db::connections::history(&pool, Some(GUILD), 7)
        .await
        .unwrap();
    let first_again = round_one.iter().find(|m| m.round_number == 1).unwrap();
    assert_eq!(first_again.members.len(), 3);
    assert!(first_again.members.iter().any(|(u, _)| *u == anonymous));
    // Out of future rounds (the others are paused by now: four silent rounds).
    assert!(db::connections::active_participants(&pool, GUILD)
        .await
        .unwrap()
        .iter()
        .all(|p| p.user() != 5));
    let paused = db::connections::participant(&pool, GUILD, 7)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(paused.status, "paused", "three silent rounds in a row");
}

#[tokio::test]
async fn members_who_ask_for_groups_of_three_meet_in_threes_the_others_in_pairs() {
    let (_dir, pool) = support::temp_store().await;
    let (config, outbox) = (Config::default(), Outbox::new(pool.clone()));
    let setup = Setup {
        guild_id: GUILD,
        channel: 2,
        every: "mon 10:00",
        repeat_rounds: None,
        follow_up: None,
        by: 3,
    };
    connections::setup(&pool, &config, &setup, 1_000)
        .await
        .unwrap();
    for (user, size) in [
        (5, 3),
        (6, 3),
        (7, 3),
        (8, 3),
        (9, 3),
        (10, 3),
        (11, 2),
        (12, 2),
    ] {
        let wish = Join {
            interests: Some("chess"),
            group_size: Some(size),
            ..Join::default()
        };
        let said = connections::join(&pool, &config, GUILD, user, &wish, 0)
            .await
            .unwrap();
        let expected = if size == 3 {
            "group of three"
        } else {
            "one other member"
        };
        assert!(said.contains(expected), "{said}");
    }
    // Joining again without group_size keeps the choice.
    join(&pool, 5, "chess, go").await;
    let export = db::privacy::export(&pool, Some(GUILD), 5).await.unwrap();
    assert_eq!(export["connections"][0]["group_size"], 3, "{export}");

    let round = connections::run_round(&pool, &config, &outbox, GUILD, 2_000)
        .await
        .unwrap();
    assert_eq!((round.members, round.groups), (8, 3));
    let mut groups: Vec<Vec<u64>> = Vec::new();
    for user in [5, 6, 7, 8, 9, 10, 11] {
        let mine = db::connections::history(&pool, Some(GUILD), user)
            .await
            .unwrap();
        let mut members: Vec<u64> = mine[0].members.iter().map(|(u, _)| *u).collect();
        members.sort_unstable();
        if !groups.contains(&members) {
            groups.push(members);
        }
    }
    groups.sort();
    let sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
    assert_eq!(sizes.iter().filter(|s| **s == 3).count(), 2, "{groups:?}");
    assert!(
        groups.contains(&vec![11, 12]),
        "pairs for those who asked: {groups:?}"
    );
}
