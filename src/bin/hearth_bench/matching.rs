//! `hearth-bench --only matching` (issue 18): one round of peer connections for `--match-members`
//! opted-in members (default 10,000) with 50 interests each out of 500 (popular ones more
//! common), a fifth of them newcomers, time zones spread over the world, after 12 earlier rounds
//! whose pairs may not repeat. Times the greedy baseline and Hearth's matching (greedy + 2-opt)
//! on the same round, and compares their total scores.

use std::time::Instant;

use hearth::domain::connections::{greedy, match_round, pair_score, Constraints, Member, Params};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

/// Interests per member and how many there are in all.
const INTERESTS: usize = 50;
const UNIVERSE: u32 = 500;
/// Earlier rounds whose pairs may not repeat.
const HISTORY_ROUNDS: u64 = 12;

fn members(count: u64) -> Vec<Member> {
    let mut rng = StdRng::seed_from_u64(18);
    (0..count)
        .map(|id| {
            let mut interests: Vec<u32> = Vec::with_capacity(INTERESTS);
            while interests.len() < INTERESTS {
                // Squaring a uniform draw makes low ids (the popular interests) more common.
                let x: f64 = rng.gen();
                let interest = (x * x * f64::from(UNIVERSE)) as u32;
                if !interests.contains(&interest) {
                    interests.push(interest);
                }
            }
            Member {
                id: 1_000_000 + id,
                interests,
                newcomer: rng.gen_bool(0.2),
                utc_offset_minutes: Some(rng.gen_range(-10..=12) * 60),
                prefers_trio: false,
            }
        })
        .collect()
}

pub fn run(count: u64) -> anyhow::Result<Value> {
    let members = members(count);
    let mut constraints = Constraints::default();
    let started = Instant::now();
    for round in 0..HISTORY_ROUNDS {
        let past = match_round(
            &members,
            &constraints,
            &Params {
                seed: 100 + round,
                ..Params::default()
            },
        );
        for group in &past.groups {
            for (i, a) in group.iter().enumerate() {
                for b in &group[i + 1..] {
                    constraints.met(*a, *b);
                }
            }
        }
    }
    let history_secs = started.elapsed().as_secs_f64();
    let params = Params {
        seed: 2026,
        ..Params::default()
    };
    let timed = |f: &dyn Fn() -> hearth::domain::connections::Round| {
        let started = Instant::now();
        let round = f();
        (started.elapsed().as_secs_f64(), round)
    };
    // What the coffee bots do: shuffle and pair in order (the last three together when odd).
    let started = Instant::now();
    let mut order: Vec<&Member> = members.iter().collect();
    order.shuffle(&mut StdRng::seed_from_u64(2026));
    let (mut random_score, mut random_repeats) = (0i64, 0usize);
    for pair in order.chunks(2) {
        if let [a, b] = pair {
            random_score += pair_score(a, b);
            random_repeats += usize::from(!constraints.allowed(a.id, b.id));
        }
    }
    let random_secs = started.elapsed().as_secs_f64();
    let (greedy_secs, base) = timed(&|| greedy(&members, &constraints, &params));
    let (match_secs, round) = timed(&|| match_round(&members, &constraints, &params));
    let trios =
        |r: &hearth::domain::connections::Round| r.groups.iter().filter(|g| g.len() == 3).count();
    eprintln!("matching: {count} members, {INTERESTS} interests each of {UNIVERSE}, {HISTORY_ROUNDS} rounds of history ({history_secs:.1} s to build)");
    let cell = |r: &hearth::domain::connections::Round| {
        (
            format!("{} ({})", r.groups.len(), trios(r)),
            format!("{} / {}", r.repeats, r.left_out.len()),
        )
    };
    let ((base_groups, base_rep), (our_groups, our_rep)) = (cell(&base), cell(&round));
    eprintln!("{:<44}{:>12}{:>12}{:>14}", "", "random", "greedy", "hearth");
    eprintln!(
        "{:<44}{random_secs:>12.3}{greedy_secs:>12.3}{match_secs:>14.3}",
        "time, s"
    );
    eprintln!(
        "{:<44}{random_score:>12}{:>12}{:>14}",
        "total score", base.score, round.score
    );
    eprintln!(
        "{:<44}{:>12}{base_groups:>12}{our_groups:>14}",
        "groups (trios)", ""
    );
    eprintln!(
        "{:<44}{:>12}{base_rep:>12}{our_rep:>14}",
        "repeats of the last 12 rounds / left out",
        format!("{random_repeats} / 0")
    );
    #[allow(clippy::cast_precision_loss)]
    let gain = (round.score - base.score) as f64 / base.score.max(1) as f64 * 100.0;
    eprintln!("score over greedy: {gain:+.1}%");
    Ok(json!({
        "members": count,
        "interests_per_member": INTERESTS,
        "history_rounds": HISTORY_ROUNDS,
        "random": { "secs": random_secs, "score": random_score, "repeats": random_repeats },
        "greedy": { "secs": greedy_secs, "score": base.score, "repeats": base.repeats, "left_out": base.left_out.len() },
        "hearth": { "secs": match_secs, "score": round.score, "repeats": round.repeats, "left_out": round.left_out.len() },
        "score_gain_percent": gain,
    }))
}
