//! Runs the real `hearth` binary as a child process against a Discord emulator. Used by
//! `hearth demo` and by the end-to-end tests, so both exercise exactly what users run.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use tokio::process::{Child, Command};

/// The log line the bot prints once its framework setup finished (commands registered); poise
/// holds every event until then, so it is the readiness signal.
pub const READY_LINE: &str = "hearth ready";

/// A `hearth run` child process with its own config, database and log file in `dir`.
pub struct BotProcess {
    child: Child,
    pub dir: PathBuf,
    pub config_path: PathBuf,
    pub log_path: PathBuf,
    pub exit_code: Option<i32>,
}

/// Writes a config that points the bot at `api_base_url` with a database in `dir`.
pub fn write_config(dir: &Path, api_base_url: &str, extra_toml: &str) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let db = dir.join("hearth.db");
    // Fast retries for tests, unless `extra_toml` brings its own [outbox].
    let outbox = if extra_toml.contains("[outbox]") {
        ""
    } else {
        "[outbox]\ninitial_backoff_ms = 200\nmax_backoff_ms = 2000\n\n"
    };
    // The store is a file beside the config, unless `extra_toml` names one (tests on PostgreSQL).
    let database = if extra_toml.contains("[database]") {
        String::new()
    } else {
        format!("[database]\nurl = \"sqlite://{}\"\n\n", db.display())
    };
    let text = format!(
        "[discord]\ntoken = \"emulator-token\"\napi_base_url = \"{api_base_url}\"\n\n\
         {database}{outbox}{extra_toml}"
    );
    let path = dir.join("hearth.toml");
    std::fs::write(&path, text)?;
    Ok(path)
}

impl BotProcess {
    /// Starts `exe run --config <config_path>`, appending stdout and stderr to `dir/hearth.log`.
    pub fn spawn(exe: &Path, dir: &Path, config_path: &Path) -> anyhow::Result<Self> {
        Self::spawn_with_args(exe, dir, config_path, &[])
    }

    /// [`Self::spawn`] with more arguments after `run` (e.g. `--shards 0-1 --shard-total 2`).
    pub fn spawn_with_args(
        exe: &Path,
        dir: &Path,
        config_path: &Path,
        args: &[&str],
    ) -> anyhow::Result<Self> {
        let log_path = dir.join("hearth.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)?;
        let child = Command::new(exe)
            .arg("run")
            .args(args)
            .arg("--config")
            .arg(config_path)
            .env_remove("HEARTH_DISCORD_TOKEN")
            .env_remove("HEARTH_DATABASE_URL")
            .env_remove("HEARTH_CONFIG")
            .env_remove("HEARTH_LOG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", exe.display()))?;
        Ok(Self {
            child,
            dir: dir.to_owned(),
            config_path: config_path.to_owned(),
            log_path,
            exit_code: None,
        })
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Everything the bot logged so far (across restarts in the same `dir`).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Waits until the log has `needle` at least `count` times; fails early if the bot exits.
    pub async fn wait_for_log(
        &mut self,
        needle: &str,
        count: usize,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.log().matches(needle).count() >= count {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "hearth exited ({status}) before logging `{needle}`; log:\n{}",
                    self.log()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "hearth did not log `{needle}` within {timeout:?}; log:\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits for the `count`-th readiness line (1 for the first start in `dir`).
    pub async fn wait_ready(&mut self, count: usize) -> anyhow::Result<()> {
        self.wait_for_log(READY_LINE, count, Duration::from_secs(60))
            .await
    }

    /// Asks for a graceful shutdown (SIGTERM) and returns the exit code.
    pub async fn terminate(&mut self) -> anyhow::Result<i32> {
        if let Some(pid) = self.child.id() {
            let pid = nix::unistd::Pid::from_raw(i32::try_from(pid)?);
            nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM)?;
        }
        self.wait_exit(Duration::from_secs(30)).await
    }

    /// Kills the process without warning (SIGKILL), as a crash would.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        self.child.kill().await?;
        Ok(())
    }

    /// Waits for the process to exit on its own and returns its exit code.
    pub async fn wait_exit(&mut self, timeout: Duration) -> anyhow::Result<i32> {
        let status = tokio::time::timeout(timeout, self.child.wait())
            .await
            .with_context(|| {
                format!(
                    "hearth still running after {timeout:?}; log:\n{}",
                    self.log()
                )
            })??;
        let code = status.code().unwrap_or(-1);
        self.exit_code = Some(code);
        Ok(code)
    }
}

/// The visible text of a message or interaction reply body: content plus embed titles,
/// descriptions and fields, as a member would read it.
pub fn visible_text(data: &serde_json::Value) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(content) = data["content"].as_str().filter(|c| !c.is_empty()) {
        parts.push(content.to_owned());
    }
    for embed in data["embeds"].as_array().into_iter().flatten() {
        for key in ["title", "description"] {
            if let Some(text) = embed[key].as_str() {
                parts.push(text.to_owned());
            }
        }
        for field in embed["fields"].as_array().into_iter().flatten() {
            parts.push(format!(
                "{}: {}",
                field["name"].as_str().unwrap_or_default(),
                field["value"].as_str().unwrap_or_default()
            ));
        }
    }
    parts.join("\n")
}

/// Whether an interaction reply is ephemeral (flag 64).
pub fn is_ephemeral(data: &serde_json::Value) -> bool {
    data["flags"].as_u64().unwrap_or(0) & 64 != 0
}
