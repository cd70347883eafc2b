//! Spotlight candidates: analytics and nominations merged into one ranked list.

use std::collections::{BTreeMap, HashSet};

/// A suggested member and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub user_id: u64,
    pub score: f64,
    pub reasons: Vec<String>,
}

/// Ranks candidates. Each source adds to a member's score: a top-contributor rank (10 for the
/// first, down to 1), a quiet-expert rank (8 down), and 5 per nomination. Members in `exclude`
/// (opted out, or spotlighted recently) never appear.
pub fn suggest(
    top: &[(u64, u64)],
    experts: &[(u64, f64)],
    nominations: &[(u64, u64, String)],
    exclude: &HashSet<u64>,
    n: usize,
) -> Vec<Candidate> {
    let mut by_member: BTreeMap<u64, Candidate> = BTreeMap::new();
    let mut add = |user: u64, score: f64, reason: String| {
        if exclude.contains(&user) {
            return;
        }
        let entry = by_member.entry(user).or_insert(Candidate {
            user_id: user,
            score: 0.0,
            reasons: Vec::new(),
        });
        entry.score += score;
        entry.reasons.push(reason);
    };
    for (rank, (user, activity)) in top.iter().take(10).enumerate() {
        add(
            *user,
            10.0 - rank as f64,
            format!("#{} contributor ({activity} activities)", rank + 1),
        );
    }
    for (rank, (user, per_message)) in experts.iter().take(8).enumerate() {
        add(
            *user,
            8.0 - rank as f64,
            format!("quiet expert ({per_message:.1} replies and reactions per message)"),
        );
    }
    for (user, count, reason) in nominations {
        let times = if *count == 1 {
            "once".to_owned()
        } else {
            format!("{count} times")
        };
        add(
            *user,
            5.0 * *count as f64,
            format!("nominated {times}: “{reason}”"),
        );
    }
    let mut ranked: Vec<Candidate> = by_member.into_values().collect();
    ranked.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.user_id.cmp(&b.user_id)));
    ranked.truncate(n);
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_add_up_and_excluded_members_never_appear() {
        let top = [(1, 50), (2, 40), (3, 30)];
        let experts = [(3, 4.0)];
        let nominations = [
            (4, 2, "helps everyone".to_owned()),
            (2, 1, "great docs".to_owned()),
        ];
        let exclude = HashSet::from([1]);
        let ranked = suggest(&top, &experts, &nominations, &exclude, 10);
        let order: Vec<u64> = ranked.iter().map(|c| c.user_id).collect();
        // 3: 8 (#3) + 8 (expert) = 16; 2: 9 + 5 = 14; 4: 10.
        assert_eq!(order, [3, 2, 4]);
        assert_eq!(ranked[1].reasons.len(), 2);
        assert!(ranked[2].reasons[0].contains("2 times"));
    }
}
