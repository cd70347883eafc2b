//! `hearth import` of DiscordChatExporter exports written by the test: JSON and each CSV
//! generation, a truncated file, and a re-import that counts nothing twice.

use std::process::Command;

fn hearth(config: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn message(id: u64, author: u64, at: &str, kind: &str, bot: bool) -> String {
    format!(
        r#"{{ "id": "{id}", "type": "{kind}", "timestamp": "{at}", "content": "private words", "author": {{ "id": "{author}", "name": "x", "isBot": {bot} }}, "reactions": [{{ "emoji": {{ "name": "🔥" }}, "count": 2 }}] }}"#
    )
}

fn json_export(channel: u64, kind: &str, messages: &[String]) -> String {
    format!(
        r#"{{ "guild": {{ "id": "100", "name": "G" }}, "channel": {{ "id": "{channel}", "type": "{kind}", "name": "c" }}, "messages": [
{}
], "messageCount": {} }}"#,
        messages.join(",\n"),
        messages.len()
    )
}

#[test]
fn imports_every_format_reports_damage_and_never_counts_twice() {
    let dir = tempfile::tempdir().unwrap();
    let exports = dir.path().join("exports");
    std::fs::create_dir_all(exports.join("threads")).unwrap();
    std::fs::write(
        exports.join("G - general [200].json"),
        json_export(
            200,
            "GuildTextChat",
            &[
                message(1, 7, "2024-03-01T10:00:00+00:00", "Default", false),
                message(2, 8, "2024-03-01T11:00:00+00:00", "Default", false),
                message(3, 9, "2024-03-01T12:00:00+00:00", "Default", true),
            ],
        ),
    )
    .unwrap();
    std::fs::write(
        exports.join("threads").join("G - a thread [300].json"),
        json_export(
            300,
            "GuildPublicThread",
            &[message(4, 8, "2024-03-02T10:00:00+00:00", "Default", false)],
        ),
    )
    .unwrap();
    std::fs::write(
        exports.join("G - old [201].csv"),
        "AuthorID;Author;Date;Content;Attachments;Reactions\n7;a#1;02-Mar-24 09:15 AM;hi;;\n",
    )
    .unwrap();
    std::fs::write(
        exports.join("G - locale [202].csv"),
        "\"AuthorID\",\"Author\",\"Date\",\"Content\",\"Attachments\",\"Reactions\"\n\"10\",\"c\",\"03/03/2024 9:15 AM\",\"hi, all\",\"\",\"\"\n",
    )
    .unwrap();
    std::fs::write(
        exports.join("G - iso [203].csv"),
        "\"AuthorID\",\"Author\",\"Date\",\"Content\",\"Attachments\",\"Reactions\"\n\"11\",\"d\",\"2024-03-04T09:15:00.000+00:00\",\"hey\",\"\",\"\"\n",
    )
    .unwrap();
    let full = json_export(
        204,
        "GuildTextChat",
        &[
            message(20, 12, "2024-03-05T10:00:00+00:00", "Default", false),
            message(21, 13, "2024-03-05T11:00:00+00:00", "Default", false),
        ],
    );
    std::fs::write(
        exports.join("G - cut [204].json"),
        &full[..full.find(r#"{ "id": "21""#).unwrap() + 30],
    )
    .unwrap();

    let config = dir.path().join("h.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"sqlite://{}/h.db\"\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let (code, stdout, stderr) = hearth(
        &config,
        &["import", "--guild", "100", exports.to_str().unwrap()],
    );
    assert_eq!(
        code, 1,
        "a damaged file makes the exit code say so\n{stdout}\n{stderr}"
    );
    assert!(
        stderr.contains("G - cut [204].json:3:1: the file ends in the middle of a message"),
        "names the file and position: {stderr}"
    );
    assert!(
        stdout.contains("6 files") || stdout.contains("6 file(s)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("7 new activity records") && stdout.contains("1 bot messages skipped"),
        "{stdout}"
    );

    // A second import of the same exports adds nothing.
    let (_, stdout, _) = hearth(
        &config,
        &["import", "--guild", "100", exports.to_str().unwrap()],
    );
    assert!(stdout.contains(" 0 new activity records"), "{stdout}");

    // The report sees the imported history; imported members' first activity is their join.
    let (code, stdout, stderr) = hearth(
        &config,
        &[
            "report",
            "--guild",
            "100",
            "--from",
            "2024-03-01",
            "--to",
            "2024-03-05",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let messages: Vec<u64> = report["daily"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["messages"].as_u64().unwrap())
        .collect();
    assert_eq!(messages, [2, 2, 1, 1, 1]);
    let joins: u64 = report["daily"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["joins"].as_u64().unwrap())
        .sum();
    assert_eq!(
        joins, 5,
        "first activity of members 7, 8, 10, 11 and 12 counts as their join: {report}"
    );
    let db = std::fs::read(dir.path().join("h.db")).unwrap();
    assert!(!db.windows(13).any(|w| w == b"private words"));

    // A file that does not exist is a usage error.
    let (code, _, stderr) = hearth(&config, &["import", "--guild", "100", "/nope.json"]);
    assert_eq!(code, 2, "{stderr}");
}
