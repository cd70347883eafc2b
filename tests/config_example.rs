//! `config.example.toml` documents every key: it must parse and validate, and so must its
//! commented-out examples once uncommented.

use std::collections::BTreeMap;

use hearth::config::load_from_str;

const EXAMPLE: &str = include_str!("../config.example.toml");

#[test]
fn example_config_parses_and_validates() {
    let env: BTreeMap<&str, &str> = BTreeMap::new();
    let config = load_from_str(EXAMPLE, "config.example.toml", &env).expect("example is valid");
    assert_eq!(config.database.url, "sqlite://hearth.db");
    assert!(!config.uses_custom_api());
}

#[test]
fn example_config_is_valid_with_every_example_uncommented() {
    let uncommented: String = EXAMPLE
        .lines()
        .map(|line| {
            let body = line.strip_prefix("# ").unwrap_or(line);
            // Only commented key = value lines and table headers are examples.
            let is_key = body
                .split_once(" = ")
                .is_some_and(|(k, _)| !k.contains(' '));
            let is_table = body.starts_with("[guilds.");
            if line.starts_with("# ") && (is_key || is_table) {
                body.to_owned()
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let env: BTreeMap<&str, &str> = BTreeMap::new();
    let config = load_from_str(&uncommented, "config.example.toml", &env)
        .unwrap_or_else(|e| panic!("{e}\n---\n{uncommented}"));
    assert_eq!(config.token(), Some("example-token"));
    let guild = config.guild_defaults(123_456_789_012_345_678);
    assert_eq!(guild.timezone.as_deref(), Some("Europe/Berlin"));
    assert_eq!(guild.channels.len(), 2, "welcome and reports");
}
