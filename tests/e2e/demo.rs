//! `hearth demo`, the README's first command, runs to the end and shows what the bot did.

#[test]
fn demo_plays_the_scripted_community_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(["demo", "--out"])
        .arg(dir.path())
        .env_remove("HEARTH_CONFIG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "registered its slash commands",
        "Time zone set to **Europe/Berlin**",
        "missing Send Messages in #team-reports",
        "Only community managers can use `/config timezone`",
        "Welcome aboard, @noor!",
        "opened the thread \"Welcome, jules\"",
        "Prompt by @maria",
        "has shipped",
        "a member (anonymous)",
        "Recap of the AMA",
        "DAU: 3",
        "chart attached: activity.png",
        "0 violation(s) of Discord's OpenAPI spec",
    ] {
        assert!(
            stdout.contains(expected),
            "missing `{expected}` in:\n{stdout}"
        );
    }
    let transcript = std::fs::read_to_string(dir.path().join("transcript.md")).unwrap();
    assert!(transcript.contains("Welcome aboard"));
}
