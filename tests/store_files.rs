//! The database file itself: who may read it, and what deleted text leaves behind (issue 23,
//! item 15), and how a path that cannot work is reported (item 11).

mod support;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use hearth::db::{self, outbox::NewPost, Access};

/// These tests are about SQLite's files, whichever store the other tests use.
async fn sqlite_file(path: &Path) -> db::Pool {
    db::open(&support::sqlite_url(path)).await.unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn a_new_database_and_its_wal_files_are_readable_by_the_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let pool = sqlite_file(&path).await;
    db::guilds::upsert_seen(&pool, 1, 0).await.unwrap();
    for name in ["h.db", "h.db-wal", "h.db-shm"] {
        let file = dir.path().join(name);
        assert!(file.exists(), "{name} exists while the pool is open");
        assert_eq!(mode(&file), 0o600, "{name}");
    }
    pool.close().await;
}

#[tokio::test]
async fn an_existing_world_readable_database_loses_the_world_bits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    sqlite_file(&path).await.close().await;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    sqlite_file(&path).await.close().await;
    assert_eq!(mode(&path), 0o640);
}

/// An unshared `/intro` answer waits in the outbox and is erased once delivered; without
/// `secure_delete` its bytes stayed in the file's free space.
#[tokio::test]
async fn text_erased_from_the_outbox_is_not_left_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let pool = sqlite_file(&path).await;
    let marker = "my-private-intro-answer-";
    // Short (in the row) and long (overflow pages, freed whole when erased).
    for (n, repeat) in [(1, 1), (2, 400)] {
        let text = marker.repeat(repeat);
        let post = NewPost {
            guild_id: 1,
            channel_id: 2,
            kind: "intro".into(),
            dedup_key: format!("intro:{n}"),
            body: serde_json::json!({ "content": text }),
            not_before_ms: None,
        };
        let id = db::outbox::enqueue(&pool, &post, &format!("nonce{n}"), 0)
            .await
            .unwrap()
            .unwrap();
        db::outbox::mark_delivered(&pool, id, 99, 0).await.unwrap();
    }
    db::checkpoint(&pool).await.unwrap();
    for name in ["h.db", "h.db-wal"] {
        let Ok(bytes) = std::fs::read(dir.path().join(name)) else {
            continue;
        };
        let found = bytes.windows(marker.len()).any(|w| w == marker.as_bytes());
        assert!(!found, "the erased answer is still in {name}");
    }
    pool.close().await;
}

#[tokio::test]
async fn read_only_commands_do_not_create_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("typo.db");
    let err = db::open_with(&support::sqlite_url(&path), Access::Existing)
        .await
        .unwrap_err();
    let shown = format!("{err:#}");
    assert!(
        shown.contains(&format!("{}", path.display())) && shown.contains("no database"),
        "{shown}"
    );
    assert!(shown.contains("fix:"), "{shown}");
    assert!(!path.exists(), "nothing was created");
    assert_eq!(hearth::cli::exit_code_of(&err), 2);
}

#[tokio::test]
async fn a_missing_folder_is_named_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope").join("h.db");
    let err = db::open(&support::sqlite_url(&path)).await.unwrap_err();
    let shown = format!("{err:#}");
    assert!(
        shown.contains(&format!(
            "the folder {} does not exist",
            dir.path().join("nope").display()
        )),
        "{shown}"
    );
    assert!(shown.contains("fix: create it (mkdir -p"), "{shown}");
    assert!(!shown.contains("code: 14"), "{shown}");
    assert_eq!(hearth::cli::exit_code_of(&err), 1);
    let err = db::open(&support::sqlite_url(dir.path()))
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("is a folder"), "{err:#}");
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "x").unwrap();
    let err = db::open(&support::sqlite_url(&file.join("h.db")))
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").contains(&format!("{} is a file, not a folder", file.display())),
        "{err:#}"
    );
}
