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

use super::Backend;

macro_rules! embed {
    ($dialect:literal: $($file:literal),* $(,)?) => {
        [$(($file, include_str!(concat!("../../migrations/", $dialect, "/", $file)))),*]
    };
}
/// Every file of `migrations/sqlite/`, oldest first.
const SQLITE: &[(&str, &str)] = &embed!["sqlite":
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
    "0029_outbox_claimed_by.sql",
    "0030_rollup_members_behind.sql",
    "0031_activity_guild_id_index.sql",
];

/// Every file of `migrations/postgres/`, oldest first. PostgreSQL starts from the schema SQLite
/// reached at version 28; every later migration is a pair, one file in each folder.
const POSTGRES: &[(&str, &str)] = &embed![
    "postgres":
    "0028_schema.sql",
    "0029_outbox_claimed_by.sql",
    "0030_rollup_members_behind.sql",
    "0031_activity_guild_id_index.sql",
];

/// The migrator `sqlx::migrate!("./migrations/<dialect>")` would build.
pub async fn migrator(backend: Backend) -> anyhow::Result<Migrator> {
    let files = match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    };
    Ok(Migrator::new(Embedded(files)).await?)
}

#[derive(Debug)]
struct Embedded(&'static [(&'static str, &'static str)]);

impl MigrationSource<'static> for Embedded {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 'static>> {
        Box::pin(async move {
            self.0
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
    async fn from_directory(dialect: &str) -> Migrator {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(dialect);
        Migrator::new(dir).await.unwrap()
    }

    #[tokio::test]
    async fn the_embedded_lists_are_the_migrations_directories() {
        for (backend, dialect) in [(Backend::Sqlite, "sqlite"), (Backend::Postgres, "postgres")] {
            the_embedded_list_is_the_directory(backend, dialect).await;
        }
    }

    async fn the_embedded_list_is_the_directory(backend: Backend, dialect: &str) {
        let embedded = migrator(backend).await.unwrap();
        let directory = from_directory(dialect).await;
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
            "src/db/migrations.rs must list every file of migrations/{dialect}"
        );
    }
}
