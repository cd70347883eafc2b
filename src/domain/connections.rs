//! Peer connections (product §11), the pure part: one round's matching of opted-in members into
//! pairs (and one trio when the count is odd), preferring shared interests, newcomer-veteran
//! pairs and time zones close enough to meet, never pairing members who met in the last rounds
//! or who declined each other.
//!
//! An exact maximum-weight matching (Edmonds' blossom algorithm) is O(n³) on a complete graph:
//! for 10,000 members that is 10¹² steps and 50 million edges. Instead:
//! 1. candidates: each member's best `candidates` partners among members who share an interest
//!    (a few from each interest's posting list, rotated per member) and a few random others,
//!    scored exactly with bitsets: O(n · I · L) for I interests and L entries per list;
//! 2. greedy: candidate edges by score, highest first, both ends free → pair (the classic
//!    ½-approximation); this alone is the baseline [`greedy`];
//! 3. improvement (2-opt): for pairs (a,b) and (c,d) with c a candidate of a, swap to (a,c) and
//!    (b,d) when the total grows and both new pairs are allowed, until no swap helps (bounded
//!    passes): O(passes · n · C);
//! 4. leftovers (whose candidates were all taken) are paired among themselves, best allowed
//!    partner first; the odd one out joins the group it adds most to.
//!
//! Deterministic for a seed: every iteration is over sorted data, the randomness is one seeded
//! generator.

use std::collections::HashSet;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// An opted-in member as the matching sees them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub id: u64,
    /// Interned interest ids (the feature maps names to ids).
    pub interests: Vec<u32>,
    /// Joined less than 30 days ago.
    pub newcomer: bool,
    /// Minutes east of UTC, if the member said.
    pub utc_offset_minutes: Option<i32>,
    /// Asked for groups of three (`/connect join group_size:3`) rather than a pair.
    pub prefers_trio: bool,
}

/// Who may not be paired: pairs met in the last K rounds, and pairs one of them declined.
#[derive(Clone, Debug, Default)]
pub struct Constraints {
    met_recently: HashSet<(u64, u64)>,
    declined: HashSet<(u64, u64)>,
}

fn key(a: u64, b: u64) -> (u64, u64) {
    (a.min(b), a.max(b))
}

impl Constraints {
    pub fn met(&mut self, a: u64, b: u64) {
        self.met_recently.insert(key(a, b));
    }

    pub fn declined(&mut self, a: u64, b: u64) {
        self.declined.insert(key(a, b));
    }

    pub fn allowed(&self, a: u64, b: u64) -> bool {
        a != b && !self.met_recently.contains(&key(a, b)) && !self.declined.contains(&key(a, b))
    }

    /// Allowed when every other option is gone: a repeat, never a declined pair.
    fn allowed_as_last_resort(&self, a: u64, b: u64) -> bool {
        a != b && !self.declined.contains(&key(a, b))
    }
}

/// Tuning of the candidate search.
#[derive(Clone, Copy, Debug)]
pub struct Params {
    pub seed: u64,
    /// Partners kept per member.
    pub candidates: usize,
    /// Entries taken from each of a member's interests' posting lists.
    pub per_interest: usize,
    /// Random members added to each candidate search (newcomer-veteran and time-zone matches
    /// without a shared interest).
    pub random: usize,
    /// Improvement passes at most.
    pub passes: usize,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            seed: 0,
            candidates: 16,
            per_interest: 6,
            random: 6,
            passes: 4,
        }
    }
}

/// One round: the groups (pairs, and one trio when the count is odd) and their total score.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Round {
    pub groups: Vec<Vec<u64>>,
    pub score: i64,
    /// Pairs that repeat a recent meeting because nothing else was left (small groups).
    pub repeats: usize,
    /// Members who could not be placed without pairing them with someone they declined.
    pub left_out: Vec<u64>,
}

/// How good a pair is: 10 per shared interest, 15 for a newcomer with a veteran, and time
/// zones: +10 within 3 hours, +5 within 6, −10 beyond 9 (hard to find a time).
pub fn pair_score(a: &Member, b: &Member) -> i64 {
    let shared = a
        .interests
        .iter()
        .filter(|i| b.interests.contains(i))
        .count();
    score_parts(shared, a, b)
}

fn score_parts(shared: usize, a: &Member, b: &Member) -> i64 {
    let mut score = 10 * i64::try_from(shared).unwrap_or(i64::MAX / 20);
    if a.newcomer != b.newcomer {
        score += 15;
    }
    if let (Some(x), Some(y)) = (a.utc_offset_minutes, b.utc_offset_minutes) {
        let hours = (x - y).abs() / 60;
        score += match hours {
            0..=3 => 10,
            4..=6 => 5,
            7..=9 => 0,
            _ => -10,
        };
    }
    score
}

/// Members with their interests as bitsets, for exact scores in a few word operations.
struct Scorer<'a> {
    members: &'a [Member],
    bits: Vec<Vec<u64>>,
}

impl<'a> Scorer<'a> {
    fn new(members: &'a [Member]) -> Self {
        let universe = members
            .iter()
            .flat_map(|m| m.interests.iter())
            .max()
            .map_or(0, |m| *m as usize + 1);
        let words = universe.div_ceil(64);
        let bits = members
            .iter()
            .map(|m| {
                let mut set = vec![0u64; words];
                for &i in &m.interests {
                    set[i as usize / 64] |= 1 << (i % 64);
                }
                set
            })
            .collect();
        Self { members, bits }
    }

    fn score(&self, i: usize, j: usize) -> i64 {
        let shared: u32 = self.bits[i]
            .iter()
            .zip(&self.bits[j])
            .map(|(a, b)| (a & b).count_ones())
            .sum();
        score_parts(shared as usize, &self.members[i], &self.members[j])
    }
}

/// Each member's best candidate partners (indexes, best first), allowed pairs only.
fn candidates(
    scorer: &Scorer<'_>,
    constraints: &Constraints,
    params: &Params,
    rng: &mut StdRng,
) -> Vec<Vec<(i64, usize)>> {
    let members = scorer.members;
    let n = members.len();
    let universe = scorer.bits.first().map_or(0, Vec::len) * 64;
    let mut postings: Vec<Vec<usize>> = vec![Vec::new(); universe];
    for (index, m) in members.iter().enumerate() {
        for &i in &m.interests {
            postings[i as usize].push(index);
        }
    }
    for list in &mut postings {
        list.shuffle(rng);
    }
    let mut all = Vec::with_capacity(n);
    for i in 0..n {
        let mut seen: Vec<usize> = Vec::new();
        for &interest in &members[i].interests {
            let list = &postings[interest as usize];
            if list.is_empty() {
                continue;
            }
            let start = (i * 7919) % list.len();
            seen.extend(
                (0..params.per_interest.min(list.len())).map(|k| list[(start + k) % list.len()]),
            );
        }
        seen.extend((0..params.random).map(|_| rng.gen_range(0..n)));
        seen.sort_unstable();
        seen.dedup();
        let mut scored: Vec<(i64, usize)> = seen
            .into_iter()
            .filter(|&j| j != i && constraints.allowed(members[i].id, members[j].id))
            .map(|j| (scorer.score(i, j), j))
            .collect();
        scored.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.truncate(params.candidates);
        all.push(scored);
    }
    all
}

/// The baseline: greedy on the candidate edges, then leftovers.
pub fn greedy(members: &[Member], constraints: &Constraints, params: &Params) -> Round {
    run(members, constraints, params, false)
}

/// One round of matching: greedy, improved by 2-opt swaps, then leftovers and the trio.
/// Members who asked for groups of three are matched among themselves and their pairs then
/// grown into trios (the best ⌈n/3⌉ pairs kept, the others taken apart and placed in them);
/// with fewer than three of them, or one member left for pairs, everyone is matched together.
pub fn match_round(members: &[Member], constraints: &Constraints, params: &Params) -> Round {
    let (mut trio, mut pair): (Vec<Member>, Vec<Member>) =
        members.iter().cloned().partition(|m| m.prefers_trio);
    if trio.len() < 3 {
        return run(members, constraints, params, true);
    }
    if pair.len() == 1 {
        trio.append(&mut pair);
    }
    let grown = into_trios(&trio, constraints, run(&trio, constraints, params, true));
    if pair.is_empty() {
        return grown;
    }
    let pairs = run(&pair, constraints, params, true);
    let mut groups = [pairs.groups, grown.groups].concat();
    groups.sort();
    Round {
        groups,
        score: pairs.score + grown.score,
        repeats: pairs.repeats + grown.repeats,
        left_out: [pairs.left_out, grown.left_out].concat(),
    }
}

/// Grows a round of pairs into groups of three: the best-scoring ⌈n/3⌉ groups stay, the
/// others are taken apart and each of their members joins the kept pair they add most to
/// (allowed with both; a repeat only as a last resort, never a declined pair). n = 3t+1 ends
/// with two pairs, 3t+2 with one.
fn into_trios(members: &[Member], constraints: &Constraints, round: Round) -> Round {
    let mut members = members.to_vec();
    members.sort_by_key(|m| m.id);
    members.dedup_by_key(|m| m.id);
    let scorer = Scorer::new(&members);
    let index = |id: u64| members.binary_search_by_key(&id, |m| m.id).ok();
    let mut groups: Vec<Vec<usize>> = round
        .groups
        .iter()
        .map(|g| g.iter().filter_map(|&id| index(id)).collect())
        .collect();
    // Best first (ties by members, for determinism); trios already full are kept first.
    groups.sort_by_cached_key(|g| {
        (
            std::cmp::Reverse(g.len()),
            std::cmp::Reverse(group_score(&scorer, g)),
            g.clone(),
        )
    });
    let placed: usize = groups.iter().map(Vec::len).sum();
    let keep = placed.div_ceil(3).min(groups.len());
    let mut singles: Vec<usize> = groups.split_off(keep).into_iter().flatten().collect();
    singles.sort_unstable();
    let id = |i: usize| members[i].id;
    let mut repeats = round.repeats;
    let mut left_out = round.left_out;
    for x in singles {
        let fits = |g: &Vec<usize>, strict: bool| {
            g.len() == 2
                && g.iter().all(|&m| {
                    if strict {
                        constraints.allowed(id(x), id(m))
                    } else {
                        constraints.allowed_as_last_resort(id(x), id(m))
                    }
                })
        };
        let best = |strict: bool| {
            groups
                .iter()
                .enumerate()
                .filter(|(_, g)| fits(g, strict))
                .max_by_key(|(k, g)| {
                    (
                        g.iter().map(|&m| scorer.score(x, m)).sum::<i64>(),
                        std::cmp::Reverse(*k),
                    )
                })
                .map(|(k, _)| k)
        };
        match best(true).or_else(|| best(false)) {
            Some(k) => {
                if !fits(&groups[k], true) {
                    repeats += 1;
                }
                groups[k].push(x);
            }
            // Every kept pair is declined by x: a pair of their own with another such single
            // would be smaller than asked; they wait for the next round.
            None => left_out.push(id(x)),
        }
    }
    round_of(&scorer, &members, groups, repeats, left_out)
}

/// The sum of a group's pair scores.
fn group_score(scorer: &Scorer<'_>, group: &[usize]) -> i64 {
    let mut s = 0;
    for (k, &a) in group.iter().enumerate() {
        for &b in &group[k + 1..] {
            s += scorer.score(a, b);
        }
    }
    s
}

/// The round of these groups (member indexes): ids sorted within and across groups, scored.
fn round_of(
    scorer: &Scorer<'_>,
    members: &[Member],
    groups: Vec<Vec<usize>>,
    repeats: usize,
    left_out: Vec<u64>,
) -> Round {
    let score = groups.iter().map(|g| group_score(scorer, g)).sum();
    let mut groups: Vec<Vec<u64>> = groups
        .into_iter()
        .map(|g| {
            let mut ids: Vec<u64> = g.into_iter().map(|i| members[i].id).collect();
            ids.sort_unstable();
            ids
        })
        .collect();
    groups.sort();
    Round {
        groups,
        score,
        repeats,
        left_out,
    }
}

fn run(members: &[Member], constraints: &Constraints, params: &Params, improve: bool) -> Round {
    // Sorted by id: the result depends on the members and the seed, not on their order.
    let mut members = members.to_vec();
    members.sort_by_key(|m| m.id);
    members.dedup_by_key(|m| m.id);
    let n = members.len();
    let mut rng = StdRng::seed_from_u64(params.seed);
    let scorer = Scorer::new(&members);
    let candidates = candidates(&scorer, constraints, params, &mut rng);
    let mut partner: Vec<Option<usize>> = vec![None; n];
    let mut edges: Vec<(i64, usize, usize)> = candidates
        .iter()
        .enumerate()
        .flat_map(|(i, list)| list.iter().map(move |&(s, j)| (s, i.min(j), i.max(j))))
        .collect();
    edges.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    edges.dedup();
    for &(_, i, j) in &edges {
        if partner[i].is_none() && partner[j].is_none() {
            partner[i] = Some(j);
            partner[j] = Some(i);
        }
    }
    let base = finish(&scorer, &members, constraints, partner.clone());
    if !improve {
        return base;
    }
    two_opt(
        &scorer,
        &members,
        constraints,
        &candidates,
        &mut partner,
        params.passes,
    );
    let improved = finish(&scorer, &members, constraints, partner);
    // The swaps raise the pairs' total, but the leftovers may then land elsewhere: keep the
    // better round (nobody left out and no repeats first), so this never does worse than greedy.
    let rank = |r: &Round| {
        (
            std::cmp::Reverse(r.left_out.len()),
            std::cmp::Reverse(r.repeats),
            r.score,
        )
    };
    if rank(&improved) >= rank(&base) {
        improved
    } else {
        base
    }
}

/// Swaps (a,b),(c,d) → (a,c),(b,d) while that raises the total.
fn two_opt(
    scorer: &Scorer<'_>,
    members: &[Member],
    constraints: &Constraints,
    candidates: &[Vec<(i64, usize)>],
    partner: &mut [Option<usize>],
    passes: usize,
) {
    for _ in 0..passes {
        let mut improved = false;
        for a in 0..members.len() {
            for &(ac, c) in &candidates[a] {
                let (Some(b), Some(d)) = (partner[a], partner[c]) else {
                    continue;
                };
                if b == c || d == a {
                    continue;
                }
                if !constraints.allowed(members[b].id, members[d].id) {
                    continue;
                }
                let gain = ac + scorer.score(b, d) - scorer.score(a, b) - scorer.score(c, d);
                if gain > 0 {
                    partner[a] = Some(c);
                    partner[c] = Some(a);
                    partner[b] = Some(d);
                    partner[d] = Some(b);
                    improved = true;
                }
            }
        }
        if !improved {
            break;
        }
    }
}

/// Pairs the leftovers among themselves (a repeat only as a last resort), puts the odd one out
/// in the group it adds most to, and scores the round.
fn finish(
    scorer: &Scorer<'_>,
    members: &[Member],
    constraints: &Constraints,
    mut partner: Vec<Option<usize>>,
) -> Round {
    let id = |i: usize| members[i].id;
    let mut repeats = 0;
    let mut left: Vec<usize> = (0..members.len())
        .filter(|&i| partner[i].is_none())
        .collect();
    for last_resort in [false, true] {
        if last_resort {
            left = repair(members, constraints, &mut partner, left);
        }
        let mut still = Vec::new();
        while let Some(a) = left.first().copied() {
            left.remove(0);
            let ok = |b: usize| {
                if last_resort {
                    constraints.allowed_as_last_resort(id(a), id(b))
                } else {
                    constraints.allowed(id(a), id(b))
                }
            };
            let best = left
                .iter()
                .enumerate()
                .filter(|(_, &b)| ok(b))
                .max_by_key(|(_, &b)| (scorer.score(a, b), std::cmp::Reverse(b)))
                .map(|(k, &b)| (k, b));
            match best {
                Some((k, b)) => {
                    left.remove(k);
                    partner[a] = Some(b);
                    partner[b] = Some(a);
                    if last_resort && !constraints.allowed(id(a), id(b)) {
                        repeats += 1;
                    }
                }
                None => still.push(a),
            }
        }
        left = still;
    }
    let mut groups: Vec<Vec<usize>> = partner
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.filter(|&j| i < j).map(|j| vec![i, j]))
        .collect();
    // The odd one out (and anyone else left) joins the group they add most to, if allowed with
    // everyone in it; a group takes at most one extra member.
    let mut left_out = Vec::new();
    for x in left {
        // A group where x has met nobody recently first; a repeat only as a last resort.
        let best = groups
            .iter()
            .enumerate()
            .filter(|(_, g)| g.len() == 2)
            .filter(|(_, g)| {
                g.iter()
                    .all(|&m| constraints.allowed_as_last_resort(id(x), id(m)))
            })
            .max_by_key(|(k, g)| {
                (
                    g.iter().all(|&m| constraints.allowed(id(x), id(m))),
                    g.iter().map(|&m| scorer.score(x, m)).sum::<i64>(),
                    std::cmp::Reverse(*k),
                )
            })
            .map(|(k, _)| k);
        match best {
            Some(k) => {
                if groups[k]
                    .iter()
                    .any(|&m| !constraints.allowed(id(x), id(m)))
                {
                    if trade_for(x, &mut groups, members, constraints) {
                        continue;
                    }
                    repeats += 1;
                }
                groups[k].push(x);
            }
            None => left_out.push(id(x)),
        }
    }
    round_of(scorer, members, groups, repeats, left_out)
}

/// Places `x` without a repeat by trading, if it can: (c, d) and (e, f) become (c, e, x) and
/// (d, f) when x may meet c and e and the new groups are allowed; or x takes c's place beside d
/// and c joins (e, f). False when neither trade exists.
fn trade_for(
    x: usize,
    groups: &mut [Vec<usize>],
    members: &[Member],
    constraints: &Constraints,
) -> bool {
    let ok = |a: usize, b: usize| constraints.allowed(members[a].id, members[b].id);
    let pairs: Vec<usize> = (0..groups.len())
        .filter(|&k| groups[k].len() == 2)
        .collect();
    for &g in &pairs {
        for (ci, di) in [(0, 1), (1, 0)] {
            let (c, d) = (groups[g][ci], groups[g][di]);
            if !ok(x, c) {
                continue;
            }
            for &h in &pairs {
                if h == g {
                    continue;
                }
                for (ei, fi) in [(0, 1), (1, 0)] {
                    let (e, f) = (groups[h][ei], groups[h][fi]);
                    if ok(x, e) && ok(c, e) && ok(d, f) {
                        groups[g] = vec![c, e, x];
                        groups[h] = vec![d, f];
                        return true;
                    }
                }
            }
        }
    }
    for &g in &pairs {
        for (ci, di) in [(0, 1), (1, 0)] {
            let (c, d) = (groups[g][ci], groups[g][di]);
            if !ok(x, d) {
                continue;
            }
            for &h in &pairs {
                if h != g && groups[h].iter().all(|&e| ok(c, e)) {
                    groups[g] = vec![x, d];
                    groups[h].push(c);
                    return true;
                }
            }
        }
    }
    false
}

/// Leftovers who may not meet each other: each two of them trade places with a pair, (a, b)
/// and (c, d) becoming (a, c) and (b, d), when all of that is allowed. Returns who is still
/// left.
fn repair(
    members: &[Member],
    constraints: &Constraints,
    partner: &mut [Option<usize>],
    mut left: Vec<usize>,
) -> Vec<usize> {
    let id = |i: usize| members[i].id;
    let mut still = Vec::new();
    while left.len() >= 2 {
        let (a, b) = (left[0], left[1]);
        let swap = (0..members.len()).find_map(|c| {
            let d = partner[c]?;
            if constraints.allowed(id(a), id(c)) && constraints.allowed(id(b), id(d)) {
                Some((c, d))
            } else {
                None
            }
        });
        match swap {
            Some((c, d)) => {
                partner[a] = Some(c);
                partner[c] = Some(a);
                partner[b] = Some(d);
                partner[d] = Some(b);
                left.drain(..2);
            }
            None => still.push(left.remove(0)),
        }
    }
    still.extend(left);
    still
}

/// Start times to suggest to a group: up to `count` whole hours in the week after `now`, a day
/// apart, when it is between 10:00 and 20:00 for every member who gave a time zone (minutes east
/// of UTC). Empty when no hour suits everyone.
pub fn suggested_times(offsets: &[Option<i32>], now: i64, count: usize) -> Vec<i64> {
    let suits = |at: i64| {
        offsets.iter().flatten().all(|offset| {
            let local_hour = (at + i64::from(*offset) * 60)
                .div_euclid(3600)
                .rem_euclid(24);
            (10..=20).contains(&local_hour)
        })
    };
    // From the next whole hour a day ahead: time to arrange it.
    let start = (now + 86_400).div_euclid(3600) * 3600 + 3600;
    let mut times = Vec::new();
    let mut at = start;
    while times.len() < count && at < start + 7 * 86_400 {
        if suits(at) {
            times.push(at);
            at += 86_400;
        } else {
            at += 3600;
        }
    }
    times
}

/// Interests a group has in common, in the order of the first member's list.
pub fn shared_interests(lists: &[Vec<String>]) -> Vec<String> {
    let Some((first, rest)) = lists.split_first() else {
        return Vec::new();
    };
    first
        .iter()
        .filter(|i| rest.iter().all(|other| other.contains(i)))
        .cloned()
        .collect()
}

/// A member's interests as given (`"Rust, board games,rust"`): trimmed, lower case, each once,
/// at most 20.
pub fn parse_interests(text: &str) -> Vec<String> {
    let mut seen = Vec::new();
    for interest in text.split(',').map(|i| i.trim().to_lowercase()) {
        if !interest.is_empty() && !seen.contains(&interest) && seen.len() < 20 {
            seen.push(interest);
        }
    }
    seen
}

/// Whether a member who ignored `ignored` rounds in a row (no answer to "did you meet?") is
/// paused.
pub fn pauses_after(ignored: i64) -> bool {
    ignored >= 3
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: u64, interests: &[u32], newcomer: bool, offset: Option<i32>) -> Member {
        Member {
            id,
            interests: interests.to_vec(),
            newcomer,
            utc_offset_minutes: offset,
            prefers_trio: false,
        }
    }

    #[test]
    fn shared_interests_newcomer_veteran_and_nearby_time_zones_score() {
        let a = member(1, &[1, 2, 3], true, Some(60));
        let b = member(2, &[2, 3, 4], false, Some(120));
        assert_eq!(pair_score(&a, &b), 20 + 15 + 10);
        let far = member(3, &[], true, Some(-600));
        assert_eq!(pair_score(&a, &far), -10);
    }

    #[test]
    fn an_odd_count_makes_one_trio_and_nobody_is_left_out() {
        let members: Vec<Member> = (1..=7)
            .map(|i| member(i, &[i as u32 % 3], i % 2 == 0, None))
            .collect();
        let round = match_round(&members, &Constraints::default(), &Params::default());
        let sizes: Vec<usize> = round.groups.iter().map(Vec::len).collect();
        assert_eq!(sizes.iter().filter(|s| **s == 3).count(), 1, "{round:?}");
        assert_eq!(sizes.iter().sum::<usize>(), 7);
        assert!(round.left_out.is_empty());
    }

    #[test]
    fn recent_pairs_are_avoided_and_declined_pairs_never_happen() {
        let members = vec![
            member(1, &[1], false, None),
            member(2, &[1], false, None),
            member(3, &[2], false, None),
            member(4, &[2], false, None),
        ];
        let mut constraints = Constraints::default();
        constraints.met(1, 2);
        constraints.met(3, 4);
        let round = match_round(&members, &constraints, &Params::default());
        assert_eq!(round.repeats, 0);
        assert!(
            !round.groups.contains(&vec![1, 2]) && !round.groups.contains(&vec![3, 4]),
            "{round:?}"
        );
        // Two members who met last round and nobody else: a repeat, said so.
        let two = &members[..2];
        let round = match_round(two, &constraints, &Params::default());
        assert_eq!((round.groups.clone(), round.repeats), (vec![vec![1, 2]], 1));
        // Declined: never, even if that leaves someone out.
        let mut declined = Constraints::default();
        declined.declined(1, 2);
        let round = match_round(two, &declined, &Params::default());
        assert!(round.groups.is_empty());
        assert_eq!(round.left_out, vec![1, 2]);
    }

    #[test]
    fn swaps_fix_greedys_worst_case() {
        // a-b share 3 interests, a-c and b-d share 2, c-d nothing: greedy takes a-b first and
        // is left with c-d (30 in all); the swap gives a-c and b-d (40).
        let members = vec![
            member(1, &[1, 2, 3, 4, 5], false, None),
            member(2, &[1, 2, 3, 6, 7], false, None),
            member(3, &[4, 5], false, None),
            member(4, &[6, 7], false, None),
        ];
        let params = Params::default();
        assert_eq!(greedy(&members, &Constraints::default(), &params).score, 30);
        let round = match_round(&members, &Constraints::default(), &params);
        assert_eq!(
            (round.score, round.groups),
            (40, vec![vec![1, 3], vec![2, 4]])
        );
    }

    #[test]
    fn the_improvement_never_scores_below_greedy() {
        let mut rng = StdRng::seed_from_u64(7);
        let members: Vec<Member> = (0..400)
            .map(|i| {
                let interests: Vec<u32> = (0..8).map(|_| rng.gen_range(0..60)).collect();
                member(
                    i,
                    &interests,
                    rng.gen_bool(0.2),
                    Some(rng.gen_range(-8..9) * 60),
                )
            })
            .collect();
        let params = Params {
            seed: 3,
            ..Params::default()
        };
        let base = greedy(&members, &Constraints::default(), &params);
        let better = match_round(&members, &Constraints::default(), &params);
        assert!(
            better.score >= base.score,
            "{} < {}",
            better.score,
            base.score
        );
    }

    #[test]
    fn suggested_times_suit_everyone_a_day_apart() {
        // 2027-01-04 00:00 UTC; Berlin (+60) and New York (-300).
        let now = 1_798_934_400;
        let times = suggested_times(&[Some(60), Some(-300)], now, 2);
        assert_eq!(times.len(), 2);
        for t in &times {
            let berlin = (t + 3600).div_euclid(3600).rem_euclid(24);
            let new_york = (t - 5 * 3600).div_euclid(3600).rem_euclid(24);
            assert!((10..=20).contains(&berlin) && (10..=20).contains(&new_york));
        }
        assert_eq!(times[1] - times[0], 86_400);
        assert!(times[0] > now + 86_400);
        // Twelve hours apart: no hour suits both.
        assert!(suggested_times(&[Some(0), Some(720)], now, 2).is_empty());
        // Nobody gave a time zone: any hour.
        assert_eq!(suggested_times(&[None, None], now, 1).len(), 1);
    }

    #[test]
    fn interests_are_normalised_and_shared_ones_found() {
        assert_eq!(
            parse_interests(" Rust, board games,rust,, "),
            vec!["rust".to_owned(), "board games".to_owned()]
        );
        let lists = [
            parse_interests("rust, chess, go"),
            parse_interests("go, rust"),
            parse_interests("rust, go, tea"),
        ];
        assert_eq!(
            shared_interests(&lists),
            vec!["rust".to_owned(), "go".to_owned()]
        );
        assert!(shared_interests(&[]).is_empty());
        assert!(!pauses_after(2) && pauses_after(3));
    }
}
