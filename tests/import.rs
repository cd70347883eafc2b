//! `hearth import` of DiscordChatExporter exports written by the test: JSON and each CSV
//! generation, a truncated file, and a re-import that counts nothing twice.

mod support;

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

#[tokio::test]
async fn imports_every_format_reports_damage_and_never_counts_twice() {
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
            "[database]\nurl = \"{}\"\n",
            support::store_url(&dir.path().join("h.db"))
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
    assert!(!support::store_holds(&dir.path().join("h.db"), "private words").await);

    // A file that does not exist is a usage error.
    let (code, _, stderr) = hearth(&config, &["import", "--guild", "100", "/nope.json"]);
    assert_eq!(code, 2, "{stderr}");
}

fn config_in(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let config = dir.join(format!("{name}.toml"));
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"{}\"\n",
            support::store_url(&dir.join(format!("{name}.db")))
        ),
    )
    .unwrap();
    config
}

fn report(config: &std::path::Path, from: &str, to: &str) -> serde_json::Value {
    let (code, stdout, stderr) = hearth(
        config,
        &[
            "report", "--guild", "100", "--from", from, "--to", to, "--format", "json",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str(&stdout).unwrap()
}

/// (date, dau, wau, mau, messages, joins) of the report's first days.
fn days(report: &serde_json::Value, n: usize) -> Vec<(String, u64, u64, u64, u64, u64)> {
    report["daily"].as_array().unwrap()[..n]
        .iter()
        .map(|d| {
            let n = |k: &str| d[k].as_u64().unwrap();
            (
                d["date"].as_str().unwrap().to_owned(),
                n("dau"),
                n("wau"),
                n("mau"),
                n("messages"),
                n("joins"),
            )
        })
        .collect()
}

/// System notices are not messages (product §6, issue 23): a join notice is the member's join,
/// a pin notice and a boost notice are no activity; JSON by the message type, CSV by the text
/// DiscordChatExporter writes for them.
#[test]
fn join_and_pin_notices_are_a_join_and_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("G - general [200].json");
    std::fs::write(
        &json,
        json_export(
            200,
            "GuildTextChat",
            &[
                message(1, 7, "2024-03-01T09:00:00+00:00", "GuildMemberJoin", false),
                message(
                    2,
                    8,
                    "2024-03-01T12:00:00+00:00",
                    "ChannelPinnedMessage",
                    false,
                ),
                message(3, 7, "2024-03-02T10:00:00+00:00", "Default", false),
                message(4, 9, "2024-03-03T08:00:00+00:00", "GuildMemberJoin", false),
                // A boost: DiscordChatExporter writes the number of types it has no name for.
                message(5, 11, "2024-03-04T08:00:00+00:00", "8", false),
                message(6, 8, "2024-03-05T10:00:00+00:00", "Default", false),
            ],
        ),
    )
    .unwrap();
    let csv = dir.path().join("G - general [200].csv");
    std::fs::write(
        &csv,
        "AuthorID,Author,Date,Content,Attachments,Reactions\n\
         \"7\",\"a\",\"2024-03-01T09:00:00.000+00:00\",\"Joined the server.\",\"\",\"\"\n\
         \"8\",\"b\",\"2024-03-01T12:00:00.000+00:00\",\"Pinned a message.\",\"\",\"\"\n\
         \"7\",\"a\",\"2024-03-02T10:00:00.000+00:00\",\"hello\",\"\",\"\"\n\
         \"9\",\"c\",\"2024-03-03T08:00:00.000+00:00\",\"Joined the server.\",\"\",\"\"\n\
         \"8\",\"b\",\"2024-03-05T10:00:00.000+00:00\",\"Joined the server. Welcome!\",\"\",\"\"\n",
    )
    .unwrap();
    for (name, file) in [("json", &json), ("csv", &csv)] {
        let config = config_in(dir.path(), name);
        let (code, stdout, stderr) = hearth(
            &config,
            &["import", "--guild", "100", file.to_str().unwrap()],
        );
        assert_eq!(code, 0, "{name}: {stdout}\n{stderr}");
        assert!(
            stdout.contains("2 new activity records"),
            "{name}: {stdout}"
        );
        let r = report(&config, "2024-03-01", "2024-03-20");
        let d = |date: &str, dau, wau, mau, messages, joins| {
            (date.to_owned(), dau, wau, mau, messages, joins)
        };
        // Member 7 joined on the 1st (the notice) and posted on the 2nd; member 9 joined on
        // the 3rd and never posted; member 8's pin is nothing, so their first message (the
        // 5th) is their join (imported history without a join notice).
        assert_eq!(
            days(&r, 5),
            [
                d("2024-03-01", 0, 0, 0, 0, 1),
                d("2024-03-02", 1, 1, 1, 1, 0),
                d("2024-03-03", 0, 1, 1, 0, 1),
                d("2024-03-04", 0, 1, 1, 0, 0),
                d("2024-03-05", 1, 2, 2, 1, 1),
            ],
            "{name}: {r}"
        );
        assert_eq!(
            r["activation"],
            serde_json::json!({ "joined": 3, "activated": 2, "rate": 2.0 / 3.0 }),
            "{name}: {r}"
        );
        assert_eq!(r["retention"][0]["size"], 3, "{name}: {r}");
        let top: Vec<&str> = r["top_contributors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["user_id"].as_str().unwrap())
            .collect();
        assert_eq!(top, ["7", "8"], "{name}: {r}");
    }
}

/// Thread exports are known by the channel's type, not its name (issue 23: a text channel
/// named "Thread-ideas" was imported as thread messages, all replies).
#[tokio::test]
async fn a_text_channel_named_like_a_thread_is_not_a_thread() {
    let dir = tempfile::tempdir().unwrap();
    let exports = dir.path().join("exports");
    std::fs::create_dir_all(&exports).unwrap();
    let export = |channel: u64, kind: &str, name: &str, first_id: u64| {
        json_export(
            channel,
            kind,
            &[
                message(first_id, 7, "2024-03-01T10:00:00+00:00", "Default", false),
                message(
                    first_id + 1,
                    8,
                    "2024-03-01T11:00:00+00:00",
                    "Default",
                    false,
                ),
            ],
        )
        .replace(r#""name": "c""#, &format!(r#""name": "{name}""#))
    };
    std::fs::write(
        exports.join("G - Thread-ideas [200].json"),
        export(200, "GuildTextChat", "Thread-ideas", 1),
    )
    .unwrap();
    let config = config_in(dir.path(), "h");
    let (code, stdout, stderr) = hearth(
        &config,
        &["import", "--guild", "100", exports.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let pool = support::open_at(&dir.path().join("h.db")).await;
    let day = chrono::NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
    let talk = |pool: hearth::db::Pool| async move {
        hearth::features::stats::conversations(
            &pool,
            100,
            chrono_tz::UTC,
            day,
            day,
            &std::collections::HashSet::new(),
        )
        .await
        .unwrap()
        .replies_per_post
    };
    assert_eq!(
        talk(pool.clone()).await,
        Some(0.0),
        "two top-level messages"
    );
    // A real thread's messages are replies.
    std::fs::write(
        exports.join("G - a thread [300].json"),
        export(300, "GuildPublicThread", "a thread", 10),
    )
    .unwrap();
    pool.close().await;
    let (code, _, stderr) = hearth(
        &config,
        &["import", "--guild", "100", exports.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{stderr}");
    let pool = support::open_at(&dir.path().join("h.db")).await;
    assert_eq!(talk(pool).await, Some(1.0), "two replies, two top-level");
}

/// Runs `hearth import` and fails (rather than hanging the suite) if it does not finish.
fn import_finishing(config: &std::path::Path, path: &std::path::Path) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(["import", "--guild", "100"])
        .arg(path)
        .arg("--config")
        .arg(config)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    for _ in 0..1200 {
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            return (
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child.kill().unwrap();
    panic!("hearth import never finished");
}

/// Files that are not files, link loops and records no export holds (issue 23: a FIFO hung the
/// import, a link loop imported one file 41 times, a 200 MB line took 1.79 GB).
#[cfg(unix)]
#[test]
fn fifos_link_loops_and_oversize_records_are_refused_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let exports = dir.path().join("exports");
    std::fs::create_dir_all(exports.join("sub")).unwrap();
    std::fs::write(
        exports.join("sub").join("G - general [200].json"),
        json_export(
            200,
            "GuildTextChat",
            &[message(1, 7, "2024-03-01T10:00:00+00:00", "Default", false)],
        ),
    )
    .unwrap();
    // Links back up the tree, and a second link to the same file.
    std::os::unix::fs::symlink(&exports, exports.join("sub").join("loop")).unwrap();
    std::os::unix::fs::symlink("..", exports.join("sub").join("up")).unwrap();
    std::os::unix::fs::symlink(
        exports.join("sub").join("G - general [200].json"),
        exports.join("again.json"),
    )
    .unwrap();
    let fifo = exports.join("pipe.json");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    std::os::unix::fs::symlink("/dev/zero", exports.join("zero.csv")).unwrap();

    let config = config_in(dir.path(), "h");
    let (code, stdout, stderr) = import_finishing(&config, &exports);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("imported 3 file(s): 1 messages read, 1 new activity records"),
        "the export once, the FIFO and the device refused: {stdout}"
    );
    for name in ["pipe.json", "zero.csv"] {
        assert!(
            stderr.contains(&format!("{name}: not a regular file")),
            "{name}: {stderr}"
        );
    }

    // A record far larger than any message: the records before it are kept, and the error
    // names the file and the line.
    let big = dir.path().join("big");
    std::fs::create_dir_all(&big).unwrap();
    let mut csv = String::from("AuthorID,Author,Date,Content,Attachments,Reactions\n");
    csv.push_str("7,a,2024-03-01T10:00:00+00:00,hi,,\n");
    csv.push_str("8,b,2024-03-01T11:00:00+00:00,");
    csv.push_str(&"x".repeat(3 << 20));
    csv.push_str(",,\n9,c,2024-03-01T12:00:00+00:00,hi,,\n");
    std::fs::write(big.join("G - big [201].csv"), &csv).unwrap();
    let huge = format!(
        r#"{{ "id": "31", "type": "Default", "timestamp": "2024-03-02T10:00:00+00:00", "content": "{}", "author": {{ "id": "8", "isBot": false }} }}"#,
        "y".repeat(17 << 20)
    );
    std::fs::write(
        big.join("G - huge [202].json"),
        json_export(
            202,
            "GuildTextChat",
            &[
                message(30, 7, "2024-03-02T09:00:00+00:00", "Default", false),
                huge,
            ],
        ),
    )
    .unwrap();
    // One line with no end: the header itself.
    std::fs::write(big.join("G - line [203].csv"), "A".repeat(3 << 20)).unwrap();
    let (code, stdout, stderr) = import_finishing(&config, &big);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(stdout.contains("2 new activity records"), "{stdout}");
    assert!(
        stderr.contains("G - big [201].csv:3:1: a record longer than 1 MiB"),
        "{stderr}"
    );
    assert!(
        stderr.contains("G - huge [202].json:3:1: a message is longer than 16 MiB"),
        "{stderr}"
    );
    assert!(
        stderr.contains("G - line [203].csv:1:1: a record longer than 1 MiB"),
        "{stderr}"
    );
}

/// A join the gateway already reported is not counted again when its notice is imported (the
/// two times are milliseconds apart, here across a second boundary), and an imported join is
/// never welcomed.
#[tokio::test]
async fn an_imported_join_notice_of_a_known_join_counts_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path(), "h");
    let pool = support::open_at(&dir.path().join("h.db")).await;
    let joined = chrono::DateTime::parse_from_rfc3339("2024-03-01T09:00:00Z")
        .unwrap()
        .timestamp();
    let live = hearth::db::welcome::Join {
        guild_id: 100,
        user_id: 7,
        joined_at: joined,
        pending: false,
        welcomed: true,
    };
    hearth::db::welcome::record_joins(&mut pool.acquire().await.unwrap(), &[live])
        .await
        .unwrap();
    pool.close().await;
    let file = dir.path().join("G - general [200].json");
    std::fs::write(
        &file,
        json_export(
            200,
            "GuildTextChat",
            &[
                message(
                    1,
                    7,
                    "2024-03-01T09:00:01.034+00:00",
                    "GuildMemberJoin",
                    false,
                ),
                message(2, 9, "2024-03-02T09:00:00+00:00", "GuildMemberJoin", false),
            ],
        ),
    )
    .unwrap();
    let (code, _, stderr) = hearth(
        &config,
        &["import", "--guild", "100", file.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{stderr}");
    let r = report(&config, "2024-03-01", "2024-03-02");
    let joins: Vec<u64> = days(&r, 2).iter().map(|d| d.5).collect();
    assert_eq!(joins, [1, 1], "{r}");
    let pool = support::open_at(&dir.path().join("h.db")).await;
    let imported = hearth::db::welcome::latest_join(&pool, 100, 9)
        .await
        .unwrap()
        .unwrap();
    assert!(imported.welcomed, "history is never welcomed");
}

/// The import's bulk load (PostgreSQL, a store with few records): records the store holds and
/// records the load brings twice are kept once, as first written; every constraint and index
/// is back afterwards; a load that does not finish leaves nothing. SQLite, and a store holding
/// as many records as the limit, write with their indexes instead.
#[tokio::test]
async fn a_bulk_load_keeps_each_record_once_and_every_index() {
    use hearth::db::activity::{self, BulkLoad, Kind, Record};
    let (_dir, pool) = support::temp_store().await;
    let record = |target: u64, channel: u64| Record {
        guild_id: 100,
        user_id: 7,
        at: 1_700_000_000 + target as i64,
        kind: Kind::Message,
        channel_id: channel,
        target_id: target,
        reply_to: (target == 3).then_some(2),
        in_thread: target == 4,
    };
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(
        activity::insert(&mut conn, &[record(1, 10), record(2, 10)])
            .await
            .unwrap(),
        2
    );
    drop(conn);
    if support::postgres_server().is_none() {
        assert!(BulkLoad::begin(&pool, 1_000_000).await.unwrap().is_none());
        return;
    }
    let schema = || async {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT pg_get_indexdef(indexrelid) FROM pg_index
             WHERE indrelid = 'activity'::regclass ORDER BY 1",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let constraints: Vec<(String,)> = sqlx::query_as(
            "SELECT conname::text || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
             WHERE conrelid = 'activity'::regclass ORDER BY 1",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        (rows, constraints)
    };
    let before = schema().await;
    assert_eq!(before.0.len(), 7, "{before:?}");

    // A store holding as many records as the limit keeps its indexes.
    assert!(BulkLoad::begin(&pool, 2).await.unwrap().is_none());

    let mut load = BulkLoad::begin(&pool, 3)
        .await
        .unwrap()
        .expect("a bulk load");
    // 1 and 2 are stored already (here from another channel), 4 comes twice.
    load.insert(&[record(1, 11), record(2, 11), record(3, 11), record(4, 11)])
        .await
        .unwrap();
    load.insert(&[record(4, 12), record(5, 12)]).await.unwrap();
    assert_eq!(load.finish().await.unwrap(), 3, "doubles removed");
    assert_eq!(schema().await, before, "every constraint and index is back");
    let stored: Vec<(i64, i64)> =
        sqlx::query_as("SELECT target_id, channel_id FROM activity ORDER BY target_id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        stored,
        [(1, 10), (2, 10), (3, 11), (4, 11), (5, 12)],
        "each record once, as first written"
    );

    // A load dropped before its end (a failed import) keeps nothing.
    let mut load = BulkLoad::begin(&pool, 1_000_000).await.unwrap().unwrap();
    load.insert(&[record(6, 13)]).await.unwrap();
    drop(load);
    assert_eq!(activity::total(&pool).await.unwrap(), 5);
    assert_eq!(schema().await, before);
    // Live records still count once after the load.
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(
        activity::insert(&mut conn, &[record(5, 14), record(6, 14)])
            .await
            .unwrap(),
        1
    );
}
