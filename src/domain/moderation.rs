//! Moderation's pure parts (product §12): finding a saved reply by a few typed letters, and
//! the Discord AutoMod rules `/guidelines automod` sets up.

use serde_json::{json, Value};

/// Discord's AutoMod trigger types Hearth uses: its own word lists, and mention spam. Discord
/// allows one rule of each per server.
pub const KEYWORD_PRESET: u64 = 4;
pub const MENTION_SPAM: u64 = 5;

/// The rules to create, by trigger type: Discord blocks the message (Hearth never deletes
/// anything itself) and alerts the managers in `alert_channel`.
pub fn automod_rules(alert_channel: u64, mention_limit: u32) -> Vec<(u64, Value)> {
    let actions = json!([
        { "type": 1, "metadata": { "custom_message": "Blocked by this server's rules." } },
        { "type": 2, "metadata": { "channel_id": alert_channel.to_string() } },
    ]);
    vec![
        (
            KEYWORD_PRESET,
            json!({
                "name": "Hearth: Discord's harmful word lists",
                "event_type": 1,
                "trigger_type": KEYWORD_PRESET,
                // profanity, sexual content, slurs
                "trigger_metadata": { "presets": [1, 2, 3] },
                "actions": actions,
                "enabled": true,
            }),
        ),
        (
            MENTION_SPAM,
            json!({
                "name": "Hearth: mention spam",
                "event_type": 1,
                "trigger_type": MENTION_SPAM,
                "trigger_metadata": {
                    "mention_total_limit": mention_limit,
                    "mention_raid_protection_enabled": true,
                },
                "actions": actions,
                "enabled": true,
            }),
        ),
    ]
}

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
    fn automod_rules_block_and_alert_and_never_delete() {
        let rules = automod_rules(77, 8);
        assert_eq!(
            rules.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
            vec![KEYWORD_PRESET, MENTION_SPAM]
        );
        for (_, rule) in &rules {
            let kinds: Vec<u64> = rule["actions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["type"].as_u64().unwrap())
                .collect();
            assert_eq!(kinds, vec![1, 2], "block and alert: {rule}");
            assert_eq!(rule["actions"][1]["metadata"]["channel_id"], "77");
        }
        assert_eq!(rules[1].1["trigger_metadata"]["mention_total_limit"], 8);
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
