//! `hearth demo`, the README's first command, runs to the end and shows what the bot did, on a
//! community with a generated past.

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
        "The server's past, generated from a fixed seed",
        "registered its slash commands",
        "Time zone set to **Europe/Berlin**",
        "staged for the demo: Hearth's role may read #team-reports but not post there",
        "missing Send Messages in #team-reports",
        "1 of these is the staged problem; 7 are features that stay off",
        "Only community managers can use `/config timezone`",
        "Welcome aboard, @noor!",
        "opened the thread \"Welcome, jules\"",
        "Prompt by @maria",
        "has shipped",
        "a member (anonymous)",
        "Recap of the AMA",
        "is full: you are #1 on the waitlist",
        "jules clicks “Confirm my spot” → The spot is yours",
        "Comments (no names):",
        "meet your match for this round! You share: **synths**",
        "chart attached: nps.png",
        "chart attached: activity.png",
        "chart attached: retention.png",
        "web dashboard on http://127.0.0.1:",
        "`hearth demo --web` keeps it open",
        "Top contributors",
        "0 violation(s) of Discord's OpenAPI spec",
    ] {
        assert!(
            stdout.contains(expected),
            "missing `{expected}` in:\n{stdout}"
        );
    }
    // The doctor is told about the staged problem before it runs.
    let staged = stdout.find("staged for the demo").unwrap();
    assert!(staged < stdout.find("/config doctor\n").unwrap());

    // The seeded history reaches /stats: the figures are a community's, not three members'.
    let figure = |name: &str| -> u64 {
        let needle = format!("│ {name}: ");
        let at = stdout.find(&needle).unwrap_or_else(|| panic!("no {name}"));
        let rest = &stdout[at + needle.len()..];
        rest[..rest.find(|c: char| !c.is_ascii_digit()).unwrap()]
            .parse()
            .unwrap()
    };
    let (dau, mau) = (figure("DAU"), figure("MAU"));
    assert!((100..1000).contains(&mau), "MAU {mau}:\n{stdout}");
    // Today's DAU depends on the hour the demo runs (just after midnight, only the demo's own
    // three posters may be active): the month is what must be a community's.
    assert!(dau >= 3 && dau < mau, "DAU {dau}:\n{stdout}");
    assert!(figure("Messages") > 1000, "{stdout}");
    assert!(
        stdout.contains("Activation (first message within 7 days): ")
            && !stdout.contains("Activation (first message within 7 days): n/a"),
        "{stdout}"
    );
    // Retention cohorts, some with a finished 30-day window.
    let cohorts: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains(" joined · 30-day "))
        .collect();
    assert!(cohorts.len() >= 8, "{stdout}");
    assert!(
        cohorts
            .iter()
            .any(|l| l.contains("30-day ") && l.contains("% ·")),
        "{stdout}"
    );
    // Top contributors read as names, the first with a real month's activity.
    let top = stdout.find("1. @").unwrap();
    assert!(!stdout[top..top + 40].contains("<@"), "{stdout}");

    // Tidy: each time once (not "09:00 UTC (09:00 UTC)"), no "##1" before a thread's name.
    for (at, _) in stdout.match_indices("UTC (") {
        let next = stdout[at + 5..].chars().next().unwrap();
        assert!(
            !next.is_ascii_digit() && !next.is_ascii_uppercase(),
            "a time shown twice: {}",
            &stdout[at.saturating_sub(40)..(at + 40).min(stdout.len())]
        );
    }
    assert!(!stdout.contains("##"), "{stdout}");
    assert!(
        stdout.contains("thread “#1 Weekly show-and-tell”"),
        "{stdout}"
    );

    let transcript = std::fs::read_to_string(dir.path().join("transcript.md")).unwrap();
    assert!(transcript.contains("Welcome aboard"));
    for chart in ["activity.png", "retention.png"] {
        let png = std::fs::read(dir.path().join(chart)).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{chart}");
    }
}
