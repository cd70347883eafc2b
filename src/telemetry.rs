//! Logging: `tracing` with pretty or JSON output, filtered by `[log] filter` / `HEARTH_LOG`.

use tracing_subscriber::{fmt, EnvFilter};

use crate::config::{LogConfig, LogFormat};

/// Installs the global subscriber. Logs go to stderr so stdout stays for command output.
pub fn init(log: &LogConfig) {
    // The filter was validated with the config; fall back to `info` rather than fail here.
    let filter = EnvFilter::try_new(&log.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let result = match log.format {
        LogFormat::Pretty => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    // A second init (tests, demo) keeps the first subscriber.
    drop(result);
}
