//! Moderation's pure parts (product §12): finding a saved reply by a few typed letters.

/// The best `limit` names for what was typed: a name starting with it first, then containing
/// it, then holding its letters in order (`hta` finds `how-to-ask`); shorter names first within
/// each kind, then by name. Case is ignored; an empty query lists names in order.
pub fn rank_names(names: &[String], typed: &str, limit: usize) -> Vec<String> {
    let typed = typed.trim().to_lowercase();
    let mut ranked: Vec<(u8, usize, &String)> = names
        .iter()
        .filter_map(|name| {
            let lower = name.to_lowercase();
            let kind = if lower.starts_with(&typed) {
                0
            } else if lower.contains(&typed) {
                1
            } else if is_subsequence(&typed, &lower) {
                2
            } else {
                return None;
            };
            Some((kind, name.chars().count(), name))
        })
        .collect();
    ranked.sort();
    ranked
        .into_iter()
        .take(limit)
        .map(|(_, _, name)| name.clone())
        .collect()
}

fn is_subsequence(needle: &str, haystack: &str) -> bool {
    let mut letters = haystack.chars();
    needle.chars().all(|c| letters.any(|h| h == c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn prefix_before_substring_before_letters_in_order() {
        let all = names(&["how-to-ask", "rules", "ask-first", "task", "spam"]);
        assert_eq!(
            rank_names(&all, "ask", 10),
            names(&["ask-first", "task", "how-to-ask"])
        );
        assert_eq!(rank_names(&all, "HTA", 10), names(&["how-to-ask"]));
        assert_eq!(rank_names(&all, "", 2), names(&["spam", "task"]));
        assert!(rank_names(&all, "zzz", 10).is_empty());
    }
}
