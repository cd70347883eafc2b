//! `hearth migrate --copy-from` at store level (db::copy): every row of every table, NULLs and
//! texts as they were, more rows than one statement takes, and a round trip that comes back
//! equal. The target is SQLite, or PostgreSQL when the tests have a server (`.ci/run`'s second
//! pass), so both directions between the two are exercised there.

mod support;

use hearth::db;

async fn rows_of(pool: &db::Pool, table: &str, columns: &str) -> Vec<String> {
    let sql = format!("SELECT {columns} FROM {table} ORDER BY 1, 2");
    sqlx::query(&sql)
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|row| {
            (0..sqlx::Row::len(row))
                .map(|i| {
                    sqlx::Row::try_get::<Option<i64>, _>(row, i)
                        .map(|v| format!("{v:?}"))
                        .or_else(|_| {
                            sqlx::Row::try_get::<Option<String>, _>(row, i)
                                .map(|v| format!("{v:?}"))
                        })
                        .unwrap()
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

/// What the copy must carry over, table by table (ids included).
const CHECKED: [(&str, &str); 4] = [
    (
        "activity",
        "id, user_id, at, kind, channel_id, target_id, reply_to, in_thread",
    ),
    (
        "outbox",
        "id, dedup_key, body, status, last_error, message_id, claimed_by",
    ),
    ("saved_reply_edits", "reply_id, body, edited_by, edited_at"),
    ("guilds", "guild_id, timezone, name, first_seen_at, left_at"),
];

async fn seed(pool: &db::Pool) {
    let statements = [
        "INSERT INTO guilds (guild_id, timezone, name, first_seen_at) VALUES (1, 'Europe/Berlin', 'O''Brien''s café ☕', 10)",
        "INSERT INTO guilds (guild_id, first_seen_at, left_at) VALUES (2, 20, 30)",
        "INSERT INTO outbox (guild_id, channel_id, kind, dedup_key, nonce, body, next_attempt_ms, created_at, last_error)
         VALUES (1, 5, 'test', 'a', 'n1', '{\"content\":\"line\\none\"}', 0, 1, NULL),
                (1, 5, 'test', 'b', 'n2', '{}', 0, 2, 'HTTP 500: oops')",
        "INSERT INTO saved_replies (guild_id, name, body, created_by, created_at) VALUES (1, 'rules', 'v1', 7, 100)",
        "INSERT INTO saved_reply_edits (reply_id, body, edited_by, edited_at) VALUES (1, 'v1', 7, 100), (1, 'v2', 7, 100)",
    ];
    for statement in statements {
        sqlx::query(statement).execute(pool).await.unwrap();
    }
    let records: Vec<db::activity::Record> = (0..1_234_u64)
        .map(|i| db::activity::Record {
            guild_id: 1,
            user_id: 100 + i % 37,
            at: 1_700_000_000 + i64::try_from(i).unwrap() * 60,
            kind: db::activity::Kind::Message,
            channel_id: 5,
            target_id: 10_000 + i,
            reply_to: (i % 3 == 0).then_some(9_999 + i),
            in_thread: i % 5 == 0,
        })
        .collect();
    let mut conn = pool.acquire().await.unwrap();
    db::activity::insert(&mut conn, &records).await.unwrap();
}

#[tokio::test]
async fn a_store_copied_there_and_back_comes_back_equal() {
    let dir = tempfile::tempdir().unwrap();
    let source = db::open(&support::sqlite_url(&dir.path().join("source.db")))
        .await
        .unwrap();
    seed(&source).await;
    // There: SQLite, or PostgreSQL in the tests' PostgreSQL pass.
    let there = support::open_at(&dir.path().join("there.db")).await;
    let copied = db::copy::copy_store(&source, &there).await.unwrap();
    assert!(
        copied.iter().all(|t| t.source_rows == t.target_rows),
        "{copied:?}"
    );
    let activity = copied.iter().find(|t| t.table == "activity").unwrap();
    assert_eq!(activity.target_rows, 1_234);
    for (table, columns) in CHECKED {
        assert_eq!(
            rows_of(&source, table, columns).await,
            rows_of(&there, table, columns).await,
            "{table}"
        );
    }
    // Edits made in the same second keep their order (SQLite's rowid, a column on PostgreSQL).
    let history = db::moderation::reply_history(&there, 1).await.unwrap();
    let bodies: Vec<&str> = history.iter().map(|(body, _, _)| body.as_str()).collect();
    assert_eq!(bodies, ["v2", "v1"]);

    // A second copy into a store that holds data is refused and changes nothing.
    let again = db::copy::copy_store(&source, &there).await.unwrap_err();
    assert!(
        format!("{again:#}").contains("already holds data"),
        "{again:#}"
    );
    assert_eq!(
        rows_of(&there, "activity", "id, at").await.len(),
        1_234,
        "nothing added"
    );

    // And back, into a new SQLite file: the same rows.
    let back = db::open(&support::sqlite_url(&dir.path().join("back.db")))
        .await
        .unwrap();
    db::copy::copy_store(&there, &back).await.unwrap();
    for (table, columns) in CHECKED {
        assert_eq!(
            rows_of(&source, table, columns).await,
            rows_of(&back, table, columns).await,
            "{table}"
        );
    }
    // New rows get ids after the copied ones.
    let next: i64 = sqlx::query_scalar(
        "INSERT INTO settings_changes (guild_id, user_id, changed_at, source, setting, detail)
         VALUES (1, 2, 3, 'slash', 'x', '') RETURNING id",
    )
    .fetch_one(&there)
    .await
    .unwrap();
    assert!(next >= 1);
    let outbox_next: i64 = sqlx::query_scalar(
        "INSERT INTO outbox (guild_id, channel_id, kind, dedup_key, nonce, body, next_attempt_ms, created_at)
         VALUES (1, 5, 'test', 'c', 'n3', '{}', 0, 3) RETURNING id",
    )
    .fetch_one(&there)
    .await
    .unwrap();
    assert_eq!(outbox_next, 3, "after the two copied posts");
}
