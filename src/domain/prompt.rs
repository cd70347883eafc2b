//! Themed-day prompts: which text to post from a rotating bank, and the classic week preset.

use rand::seq::SliceRandom;
use rand::Rng;

/// Picks the next bank text: never one already used in the current cycle; when every text has
/// been used, a new cycle starts (avoiding an immediate repeat of `last` when possible).
/// Returns the chosen index and whether a new cycle started.
pub fn pick_from_bank(
    used: &[bool],
    last: Option<usize>,
    rng: &mut impl Rng,
) -> Option<(usize, bool)> {
    if used.is_empty() {
        return None;
    }
    let unused: Vec<usize> = (0..used.len()).filter(|i| !used[*i]).collect();
    if let Some(choice) = unused.choose(rng) {
        return Some((*choice, false));
    }
    let fresh: Vec<usize> = (0..used.len())
        .filter(|i| Some(*i) != last || used.len() == 1)
        .collect();
    fresh.choose(rng).map(|i| (*i, true))
}

/// One prompt of the classic week (product §4).
#[derive(Clone, Copy, Debug)]
pub struct PresetPrompt {
    pub theme: &'static str,
    pub days: &'static str,
    pub time: &'static str,
    pub text: &'static str,
    pub poll: Option<(&'static str, &'static [&'static str])>,
    pub thread: bool,
}

/// The classic week: installed paused, for the manager to edit and resume.
pub const CLASSIC_WEEK: [PresetPrompt; 5] = [
    PresetPrompt {
        theme: "Monday goals",
        days: "mon",
        time: "09:00",
        text: "What is one thing you want to get done this week? Share it below and check back Friday!",
        poll: None,
        thread: true,
    },
    PresetPrompt {
        theme: "Tool-Tip Tuesday",
        days: "tue",
        time: "10:00",
        text: "Share a tool, shortcut or trick that saves you time, and how you use it.",
        poll: None,
        thread: true,
    },
    PresetPrompt {
        theme: "Wednesday poll",
        days: "wed",
        time: "12:00",
        text: "Midweek poll: vote and tell us why in the thread!",
        poll: Some(("How do you learn best?", &["Docs", "Videos", "Building things", "Asking people"])),
        thread: true,
    },
    PresetPrompt {
        theme: "Feedback Friday",
        days: "fri",
        time: "11:00",
        text: "What should we improve in this community? Every idea is read by the team.",
        poll: None,
        thread: true,
    },
    PresetPrompt {
        theme: "Friday wins",
        days: "fri",
        time: "16:00",
        text: "Big or small: what went well for you this week? 🎉",
        poll: None,
        thread: true,
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::schedule::Schedule;
    use rand::SeedableRng;

    #[test]
    fn a_bank_does_not_repeat_until_exhausted() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut used = vec![false; 4];
        let mut seen = Vec::new();
        for _ in 0..4 {
            let (i, new_cycle) = pick_from_bank(&used, seen.last().copied(), &mut rng).unwrap();
            assert!(!new_cycle);
            assert!(!seen.contains(&i));
            used[i] = true;
            seen.push(i);
        }
        let (i, new_cycle) = pick_from_bank(&used, seen.last().copied(), &mut rng).unwrap();
        assert!(new_cycle);
        assert_ne!(
            Some(i),
            seen.last().copied(),
            "no immediate repeat across cycles"
        );
        assert_eq!(pick_from_bank(&[], None, &mut rng), None);
        assert_eq!(pick_from_bank(&[true], Some(0), &mut rng), Some((0, true)));
    }

    #[test]
    fn the_preset_is_valid() {
        for p in CLASSIC_WEEK {
            Schedule::weekly(p.days, p.time).unwrap();
            if let Some((_, answers)) = p.poll {
                assert!(answers.len() <= 10);
            }
        }
    }
}
