//! Moving an installation from SQLite to PostgreSQL (product §14): `hearth migrate --copy-from`
//! copies every row, checked by counts, and the reports read the same on both stores. Runs
//! when the tests have a PostgreSQL server (`HEARTH_TEST_POSTGRES`, set by `.ci/run`).

use std::path::Path;
use std::process::Command;

fn hearth(config: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(args)
        .arg("--config")
        .arg(config)
        .env_remove("HEARTH_DATABASE_URL")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn config_for(dir: &Path, name: &str, url: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("[database]\nurl = \"{url}\"\n")).unwrap();
    path
}

#[tokio::test]
async fn a_demo_store_moves_to_postgres_with_every_row_and_reads_the_same() {
    let Some(_) = crate::support::postgres_server() else {
        eprintln!("skipped: HEARTH_TEST_POSTGRES names no PostgreSQL server");
        return;
    };
    // A store with a community's past and every feature's rows: the demo's.
    let dir = tempfile::tempdir().unwrap();
    let demo = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(["demo", "--out"])
        .arg(dir.path())
        .env_remove("HEARTH_CONFIG")
        .env_remove("HEARTH_DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(
        demo.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let sqlite = crate::support::sqlite_url(&dir.path().join("hearth.db"));
    let postgres = crate::support::store_url(&dir.path().join("moved"));
    let on_sqlite = config_for(dir.path(), "sqlite.toml", &sqlite);
    let on_postgres = config_for(dir.path(), "postgres.toml", &postgres);

    let (code, stdout, stderr) = hearth(&on_postgres, &["migrate", "--copy-from", &sqlite]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("every count matches"), "{stdout}");

    // Every table, row for row: counted on each side by the test itself.
    let source = hearth::db::open(&sqlite).await.unwrap();
    let target = hearth::db::open(&postgres).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table'
           AND name NOT LIKE 'sqlite%' AND name NOT LIKE '\\_sqlx%' ESCAPE '\\'",
    )
    .fetch_all(&source)
    .await
    .unwrap();
    assert!(tables.len() > 40, "{tables:?}");
    let mut filled = 0;
    for table in &tables {
        let count = |pool| {
            let sql = format!("SELECT COUNT(*) FROM {table}");
            async move {
                sqlx::query_scalar::<_, i64>(&sql)
                    .fetch_one(pool)
                    .await
                    .unwrap()
            }
        };
        let (rows, copied) = (count(&source).await, count(&target).await);
        assert_eq!(rows, copied, "{table}");
        assert!(
            stdout.contains(&format!("{table} ")),
            "{table} missing from:\n{stdout}"
        );
        filled += usize::from(rows > 0);
    }
    assert!(filled >= 25, "the demo fills most tables: {filled}");
    let guild: i64 = sqlx::query_scalar("SELECT guild_id FROM guilds LIMIT 1")
        .fetch_one(&source)
        .await
        .unwrap();
    source.close().await;
    target.close().await;

    // The same figures from either store.
    let report = |config: &Path| {
        let (code, stdout, stderr) = hearth(
            config,
            &["report", "--guild", &guild.to_string(), "--format", "json"],
        );
        assert_eq!(code, 0, "{stderr}");
        stdout
    };
    let (before, after) = (report(&on_sqlite), report(&on_postgres));
    assert!(before.contains("\"dau\""), "{before}");
    assert_eq!(before, after);

    // A second copy finds data there and changes nothing.
    let (code, _, stderr) = hearth(&on_postgres, &["migrate", "--copy-from", &sqlite]);
    assert_ne!(code, 0);
    assert!(stderr.contains("already holds data"), "{stderr}");
    assert_eq!(report(&on_postgres), before);

    // New rows on PostgreSQL get ids after the copied ones.
    let target = hearth::db::open(&postgres).await.unwrap();
    for table in ["outbox", "activity", "jobs"] {
        let (max, next): (i64, i64) = sqlx::query_as(&format!(
            "SELECT MAX(id), nextval(pg_get_serial_sequence('{table}', 'id')) FROM {table}"
        ))
        .fetch_one(&target)
        .await
        .unwrap();
        assert!(next > max, "{table}: next id {next}, copied up to {max}");
    }
    target.close().await;
}
