//! PostgreSQL for the ingest benchmarks (issue 21): a fresh database per store, dropped when the
//! bench ends (also on an error), and the CPU PostgreSQL spends for it, which a Hearth process's
//! own CPU time leaves out (on SQLite the database work is in the process).

use std::collections::HashMap;

use anyhow::Context as _;

/// A database `hearth_bench_<pid>_<tag>` on the server `--postgres` names; created by Hearth
/// (`hearth::db::open` creates a missing database), dropped on drop.
pub struct PgDatabase {
    server: String,
    pub name: String,
}

impl PgDatabase {
    /// `server`: `postgres://user@host:port` (a database path, if any, is ignored).
    pub fn new(server: &str, tag: &str) -> Self {
        let server = server_of(server);
        let name = format!("hearth_bench_{}_{tag}", std::process::id());
        let db = Self { server, name };
        // A leftover of an earlier run with the same pid.
        db.drop_database();
        db
    }

    /// The store's `database.url`.
    pub fn url(&self) -> String {
        format!("{}/{}", self.server, self.name)
    }

    /// The TOML Hearth's config needs to use this database.
    pub fn config_toml(&self) -> String {
        format!("[database]\nurl = \"{}\"\n", self.url())
    }

    fn drop_database(&self) {
        // `psql` (as `.ci/run` uses it): a drop must work from `Drop`, outside any runtime.
        let status = std::process::Command::new("psql")
            .env("PGOPTIONS", "-c client_min_messages=warning")
            .arg(format!("{}/postgres", self.server))
            .args([
                "-qc",
                &format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name),
            ])
            .stdout(std::process::Stdio::null())
            .status();
        if !matches!(status, Ok(s) if s.success()) {
            eprintln!(
                "warning: could not drop the PostgreSQL database {} ({status:?}); drop it by hand",
                self.name
            );
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        self.drop_database();
    }
}

/// `scheme://authority` of a URL: what is before the path.
fn server_of(url: &str) -> String {
    let url = url.trim_end_matches('/');
    match url.find("://") {
        Some(at) => match url[at + 3..].find(['/', '?']) {
            Some(end) => url[..at + 3 + end].to_owned(),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// CPU seconds so far of PostgreSQL's processes that work for `database`: its backends (one per
/// connection of the Hearth processes and of this bench's poll), and the server's WAL writer,
/// checkpointer and background writer, which every database shares (so other work on the
/// server lands there too). Keyed by pid, split in (backends, shared writers).
pub async fn cpu(
    pool: &hearth::db::Pool,
    database: &str,
) -> anyhow::Result<(HashMap<u32, f64>, HashMap<u32, f64>)> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT CAST(pid AS BIGINT), CAST(CASE WHEN datname = $1 THEN 1 ELSE 0 END AS BIGINT)
           FROM pg_stat_activity
          WHERE datname = $1
             OR backend_type IN ('walwriter', 'checkpointer', 'background writer')",
    )
    .bind(database)
    .fetch_all(pool)
    .await
    .context("reading pg_stat_activity")?;
    let (mut backends, mut shared) = (HashMap::new(), HashMap::new());
    for (pid, ours) in rows {
        let pid = u32::try_from(pid).unwrap_or(0);
        if let Some(secs) = super::cpu_secs(pid) {
            if ours == 1 {
                backends.insert(pid, secs);
            } else {
                shared.insert(pid, secs);
            }
        }
    }
    Ok((backends, shared))
}

/// CPU seconds between two [`cpu`] samples: a process that started in between counts whole, one
/// that ended in between is missed (the pools keep their connections, so none does).
pub fn cpu_between(
    before: &(HashMap<u32, f64>, HashMap<u32, f64>),
    after: &(HashMap<u32, f64>, HashMap<u32, f64>),
) -> (f64, f64) {
    let delta = |b: &HashMap<u32, f64>, a: &HashMap<u32, f64>| -> f64 {
        a.iter()
            .map(|(pid, secs)| secs - b.get(pid).copied().unwrap_or(0.0))
            .sum()
    };
    (delta(&before.0, &after.0), delta(&before.1, &after.1))
}
