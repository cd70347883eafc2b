//! `hearth import`: backfill activity from DiscordChatExporter exports (files or folders).
//! Every file is imported on its own: a damaged file is reported with its position, its complete
//! messages before the damage are kept, and the other files still import.

use std::path::{Path, PathBuf};

use crate::db::{
    self,
    activity::{Kind, Record},
    Pool,
};
use crate::domain::import::{channel_id_from_file_name, parse_csv, parse_json, Parsed};

/// What an import did.
#[derive(Debug, Default)]
pub struct Summary {
    pub files: usize,
    pub messages: usize,
    /// Records new to the store (re-imports add none).
    pub added: u64,
    pub skipped_bots: usize,
    /// `file: problem` for every file that could not be read completely.
    pub failures: Vec<String>,
}

/// Every .json and .csv file under the given paths, in a stable order.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut stack = vec![path.clone()];
            while let Some(dir) = stack.pop() {
                let entries =
                    std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                for entry in entries.flatten() {
                    let p = entry.path();
                    if p.is_dir() {
                        stack.push(p);
                    } else if matches!(p.extension().and_then(|e| e.to_str()), Some("json" | "csv"))
                    {
                        files.push(p);
                    }
                }
            }
        } else if path.exists() {
            files.push(path.clone());
        } else {
            return Err(format!("{}: no such file or folder", path.display()));
        }
    }
    files.sort();
    Ok(files)
}

/// Imports the files into `guild_id`, calling `progress` after each file.
pub async fn import(
    pool: &Pool,
    guild_id: u64,
    files: &[PathBuf],
    mut progress: impl FnMut(usize, &Summary),
) -> anyhow::Result<Summary> {
    let optouts = db::activity::optouts_in(pool, guild_id).await?;
    let mut summary = Summary::default();
    let mut earliest: Option<i64> = None;
    for (n, file) in files.iter().enumerate() {
        summary.files += 1;
        match read(file) {
            Err(problem) => summary
                .failures
                .push(format!("{}: {problem}", file.display())),
            Ok(parsed) => {
                if let Some(export_guild) = parsed.guild_id.filter(|g| *g != guild_id) {
                    summary.failures.push(format!(
                        "{}: exported from server {export_guild}, not {guild_id}; skipped",
                        file.display()
                    ));
                    continue;
                }
                if let Some(d) = &parsed.damage {
                    summary.failures.push(format!(
                        "{}:{}:{}: {}",
                        file.display(),
                        d.line,
                        d.column,
                        d.problem
                    ));
                }
                let records: Vec<Record> = parsed
                    .messages
                    .iter()
                    .filter(|m| !m.is_bot && !optouts.contains(&m.author_id))
                    .map(|m| Record {
                        guild_id,
                        user_id: m.author_id,
                        at: m.at.timestamp(),
                        kind: if m.starts_thread {
                            Kind::ThreadCreated
                        } else {
                            Kind::Message
                        },
                        channel_id: m.channel_id,
                        target_id: m.id,
                        reply_to: m.reply_to,
                        in_thread: m.in_thread,
                    })
                    .collect();
                summary.skipped_bots += parsed.messages.iter().filter(|m| m.is_bot).count();
                summary.messages += records.len();
                if let Some(first) = records.iter().map(|r| r.at).min() {
                    earliest = Some(earliest.map_or(first, |e| e.min(first)));
                }
                let mut tx = pool.begin().await?;
                summary.added += db::activity::insert(&mut tx, &records).await?;
                tx.commit().await?;
            }
        }
        progress(n + 1, &summary);
    }
    if let Some(earliest) = earliest {
        crate::rollup::rewind(pool, guild_id, earliest).await?;
    }
    Ok(summary)
}

fn read(file: &Path) -> Result<Parsed, String> {
    let bytes = std::fs::read(file).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&bytes);
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    match file.extension().and_then(|e| e.to_str()) {
        Some("json") => Ok(parse_json(&text)),
        Some("csv") => {
            let channel = channel_id_from_file_name(name).unwrap_or(0);
            Ok(parse_csv(&text, channel))
        }
        _ => Err("not a .json or .csv export".into()),
    }
}
