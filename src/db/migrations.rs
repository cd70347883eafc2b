//! The schema migrations, compiled into the binary.
//!
//! Listed here by hand instead of with `sqlx::migrate!`: any sqlx macro brings in sqlx's macros
//! crate, which in a release build compiles sqlx, SQLite and tokio a second time for the compiler
//! itself (about a quarter of a cold build). The tests below read `migrations/` the way sqlx does,
//! so a file missing from this list, or differing from it, fails them.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

macro_rules! embed {
    ($($file:literal),* $(,)?) => {
        [$(($file, include_str!(concat!("../../migrations/", $file)))),*]
    };
}
/// Every file of `migrations/`, oldest first.
const FILES: &[(&str, &str)] = &embed![
    "0001_init.sql",
    "0002_welcome.sql",
    "0003_calendar.sql",
    "0004_activity.sql",
    "0005_recognition.sql",
    "0006_feedback.sql",
    "0007_ama.sql",
    "0008_rollup.sql",
    "0009_feedback_dm.sql",
    "0010_activity_append_only_indexes.sql",
    "0011_shoutouts.sql",
    "0012_member_join_day.sql",
    "0013_live_days.sql",
    "0014_activity_replies_index.sql",
    "0015_outbox_claims_first_seen_ms.sql",
    "0016_events.sql",
    "0017_surveys.sql",
    "0018_event_feedback_surveys.sql",
    "0019_connected_members.sql",
    "0020_connections.sql",
    "0021_replies_and_flags.sql",
    "0022_digest.sql",
    "0023_recap.sql",
    "0024_connect_group_size.sql",
    "0025_stale_join_index.sql",
    "0026_connected_days_partial_index.sql",
    "0027_web_sessions.sql",
    "0028_settings_changes.sql",
];

/// The migrator `sqlx::migrate!("./migrations")` would build.
pub async fn migrator() -> anyhow::Result<Migrator> {
    Ok(Migrator::new(Embedded).await?)
}

#[derive(Debug)]
struct Embedded;

impl MigrationSource<'static> for Embedded {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 'static>> {
        Box::pin(async {
            FILES
                .iter()
                .map(|(name, sql)| migration(name, sql))
                .collect()
        })
    }
}

/// `0007_ama.sql` is version 7, "ama"; sqlx derives both from the file name in the same way.
fn migration(name: &str, sql: &'static str) -> Result<Migration, BoxDynError> {
    let (version, rest) = name
        .split_once('_')
        .ok_or_else(|| format!("migration {name}: expected <version>_<description>.sql"))?;
    let version: i64 = version
        .parse()
        .map_err(|_| format!("migration {name}: the version is not a number"))?;
    let description = rest.trim_end_matches(".sql").replace('_', " ");
    Ok(Migration::new(
        version,
        Cow::Owned(description),
        MigrationType::Simple,
        Cow::Borrowed(sql),
        sql.starts_with("-- no-transaction"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What sqlx reads from the directory at run time: the same parsing as `sqlx::migrate!`.
    async fn from_directory() -> Migrator {
        let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"));
        Migrator::new(dir).await.unwrap()
    }

    #[tokio::test]
    async fn the_embedded_list_is_the_migrations_directory() {
        let embedded = migrator().await.unwrap();
        let directory = from_directory().await;
        let key = |m: &Migration| {
            (
                m.version,
                m.description.to_string(),
                m.migration_type,
                m.checksum.to_vec(),
                m.no_tx,
            )
        };
        let embedded: Vec<_> = embedded.iter().map(key).collect();
        let directory: Vec<_> = directory.iter().map(key).collect();
        assert_eq!(
            embedded, directory,
            "src/db/migrations.rs must list every file of migrations/"
        );
    }
}
