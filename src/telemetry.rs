//! Logging: `tracing` with pretty or JSON output, filtered by `[log] filter` / `HEARTH_LOG`.

use std::borrow::Cow;
use std::io::{self, IsTerminal as _, Write};

use tracing_subscriber::{fmt, EnvFilter};

use crate::config::{LogConfig, LogFormat};

/// Installs the global subscriber. Logs go to stderr so stdout stays for command output.
pub fn init(log: &LogConfig) {
    // The filter was validated with the config; fall back to `info` rather than fail here.
    let filter = EnvFilter::try_new(&log.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour codes only for a person at a terminal: a file or a journal gets plain text.
    let ansi =
        io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(|| Redacting(io::stderr()));
    let result = match log.format {
        LogFormat::Pretty => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    // A second init (tests, demo) keeps the first subscriber.
    drop(result);
}

/// A writer that removes interaction and webhook tokens from every log line: serenity and poise
/// log request URLs (`/interactions/{id}/{token}/callback`, `/webhooks/{app}/{token}`) and
/// interaction payloads at debug and trace level, and a token lets anyone answer as the bot for
/// 15 minutes. The formatter writes each event in one `write_all`, so a line is never split
/// across two calls.
struct Redacting<W>(W);

impl<W: Write> Write for Redacting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match std::str::from_utf8(buf) {
            Ok(text) => self.0.write_all(redact(text).as_bytes())?,
            Err(_) => self.0.write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

pub const REDACTED: &str = "[redacted]";

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// Replaces interaction/webhook tokens in `line` with `[redacted]`: the path segment after
/// `/interactions/{id}/` and `/webhooks/{id}/`, and the value of any `token` field (Debug, JSON
/// or escaped JSON). Short values (under 8 characters) are left: no token is that short.
pub fn redact(line: &str) -> Cow<'_, str> {
    if !line.contains("/interactions/") && !line.contains("/webhooks/") && !line.contains("token") {
        return Cow::Borrowed(line);
    }
    // Byte ranges of tokens, found first and replaced afterwards.
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let token_at = |start: usize| -> Option<(usize, usize)> {
        let len = line[start..]
            .find(|c: char| !is_token_char(c))
            .unwrap_or(line.len() - start);
        (len >= 8 && &line[start..start + len] != REDACTED).then_some((start, start + len))
    };
    for marker in ["/interactions/", "/webhooks/"] {
        for (at, _) in line.match_indices(marker) {
            let id_start = at + marker.len();
            let id_len = line[id_start..]
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(line.len() - id_start);
            let slash = id_start + id_len;
            if id_len > 0 && line[slash..].starts_with('/') {
                spans.extend(token_at(slash + 1));
            }
        }
    }
    for (at, key) in line.match_indices("token") {
        // `token: "x"`, `token: Some("x")`, `"token":"x"`, `\"token\":\"x\"`, `token=x`.
        let mut rest = &line[at + key.len()..];
        rest = rest.trim_start_matches(['"', '\\']);
        let Some(after) = rest.strip_prefix([':', '=']) else {
            continue;
        };
        let after = after.trim_start_matches(' ');
        let after = after.strip_prefix("Some(").unwrap_or(after);
        let after = after.trim_start_matches(['"', '\\']);
        spans.extend(token_at(line.len() - after.len()));
    }
    if spans.is_empty() {
        return Cow::Borrowed(line);
    }
    spans.sort_unstable();
    let mut out = String::with_capacity(line.len());
    let mut done = 0;
    for (start, end) in spans {
        if start < done {
            continue;
        }
        out.push_str(&line[done..start]);
        out.push_str(REDACTED);
        done = end;
    }
    out.push_str(&line[done..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interaction_and_webhook_tokens_are_redacted() {
        let token = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5OmFiY2RlZg";
        for (line, expected) in [
            (
                format!("POST /api/v10/interactions/123456/{token}/callback 204"),
                "POST /api/v10/interactions/123456/[redacted]/callback 204".to_owned(),
            ),
            (
                format!("url=http://127.0.0.1:9/api/v10/webhooks/42/{token}/messages/@original"),
                "url=http://127.0.0.1:9/api/v10/webhooks/42/[redacted]/messages/@original"
                    .to_owned(),
            ),
            (
                format!("path: \"/webhooks/42/{token}\""),
                "path: \"/webhooks/42/[redacted]\"".to_owned(),
            ),
            (
                format!("Interaction {{ id: 1, token: \"{token}\", version: 1 }}"),
                "Interaction { id: 1, token: \"[redacted]\", version: 1 }".to_owned(),
            ),
            (
                format!("{{\"token\":\"{token}\",\"type\":2}}"),
                "{\"token\":\"[redacted]\",\"type\":2}".to_owned(),
            ),
            (
                format!("{{\"fields\":{{\"message\":\"{{\\\"token\\\":\\\"{token}\\\"}}\"}}}}"),
                "{\"fields\":{\"message\":\"{\\\"token\\\":\\\"[redacted]\\\"}\"}}".to_owned(),
            ),
            (
                "token: Some(\"itoken-123456789\")".to_owned(),
                "token: Some(\"[redacted]\")".to_owned(),
            ),
        ] {
            assert_eq!(redact(&line), expected);
        }
    }

    #[test]
    fn other_lines_are_left_alone() {
        for line in [
            "hearth ready: commands registered",
            "GET /api/v10/webhooks/42 200",
            "GET /api/v10/interactions/ 404",
            "no bot token.",
            "token: set",
            "tokens=12",
        ] {
            assert!(matches!(redact(line), Cow::Borrowed(_)), "{line}");
        }
        assert_eq!(
            redact("écho /webhooks/1/abcdefghij ✓"),
            "écho /webhooks/1/[redacted] ✓"
        );
    }
}
