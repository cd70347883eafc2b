//! `hearth import`: backfill activity from DiscordChatExporter exports (files or folders).
//! Every file is imported on its own: a damaged file is reported with its position, its complete
//! messages before the damage are kept, and the other files still import.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::db::{
    self,
    activity::{Kind, Record},
    welcome::Join,
    Pool,
};
use crate::domain::import::{
    channel_id_from_file_name, CsvExport, Damage, ImportedMessage, JsonExport, MessageKind,
};

/// Messages read and written per transaction: a file of any size is imported in bounded memory.
const CHUNK: usize = 50_000;

/// What an import did.
#[derive(Debug, Default)]
pub struct Summary {
    pub files: usize,
    /// Activity records read (members' messages and threads; system notices are not messages).
    pub messages: usize,
    /// Records new to the store (re-imports add none).
    pub added: u64,
    pub skipped_bots: usize,
    /// Member-join notices, recorded as joins.
    pub joins: usize,
    /// Other system notices (pins, boosts...): no activity.
    pub notices: usize,
    /// `file: problem` for every file that could not be read completely.
    pub failures: Vec<String>,
}

/// Every .json and .csv file under the given paths, in a stable order, each once: links are
/// followed, but a folder or file reached again (a link loop, two links to one file) is not
/// read again.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    let mut seen: HashSet<PathBuf> = HashSet::new();
    // A path that cannot be resolved (a dangling link) is kept as it is: reading it reports it.
    let first_visit = |seen: &mut HashSet<PathBuf>, p: &Path| {
        seen.insert(p.canonicalize().unwrap_or_else(|_| p.to_owned()))
    };
    for path in paths {
        if path.is_dir() {
            let mut stack = vec![path.clone()];
            while let Some(dir) = stack.pop() {
                if !first_visit(&mut seen, &dir) {
                    continue;
                }
                let entries =
                    std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                for entry in entries.flatten() {
                    let p = entry.path();
                    if p.is_dir() {
                        stack.push(p);
                    } else if matches!(p.extension().and_then(|e| e.to_str()), Some("json" | "csv"))
                        && first_visit(&mut seen, &p)
                    {
                        files.push(p);
                    }
                }
            }
        } else if path.exists() {
            if first_visit(&mut seen, path) {
                files.push(path.clone());
            }
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
        match open(file) {
            Err(problem) => summary
                .failures
                .push(format!("{}: {problem}", file.display())),
            Ok(mut export) => {
                if let Some(export_guild) = export.guild_id().filter(|g| *g != guild_id) {
                    summary.failures.push(format!(
                        "{}: exported from server {export_guild}, not {guild_id}; skipped",
                        file.display()
                    ));
                    continue;
                }
                let mut chunk = Vec::with_capacity(CHUNK);
                loop {
                    chunk.clear();
                    chunk.extend(std::iter::from_fn(|| export.next_message()).take(CHUNK));
                    if chunk.is_empty() {
                        break;
                    }
                    let first = store(pool, guild_id, &chunk, &optouts, &mut summary).await?;
                    if let Some(first) = first {
                        earliest = Some(earliest.map_or(first, |e| e.min(first)));
                    }
                }
                if let Some(d) = export.damage() {
                    summary.failures.push(format!(
                        "{}:{}:{}: {}",
                        file.display(),
                        d.line,
                        d.column,
                        d.problem
                    ));
                }
            }
        }
        progress(n + 1, &summary);
    }
    if let Some(earliest) = earliest {
        crate::features::rollup::rewind(pool, guild_id, earliest).await?;
    }
    Ok(summary)
}

/// Writes a chunk of messages in one transaction: members' messages and threads as activity,
/// join notices as joins (already welcomed: history is never welcomed), other notices not at
/// all. Returns the earliest instant written.
async fn store(
    pool: &Pool,
    guild_id: u64,
    messages: &[ImportedMessage],
    optouts: &HashSet<u64>,
    summary: &mut Summary,
) -> anyhow::Result<Option<i64>> {
    let mut records = Vec::new();
    let mut joins = Vec::new();
    for m in messages {
        if m.is_bot {
            summary.skipped_bots += 1;
            continue;
        }
        if optouts.contains(&m.author_id) {
            continue;
        }
        let kind = match m.kind {
            MessageKind::Message => Kind::Message,
            MessageKind::ThreadCreated => Kind::ThreadCreated,
            MessageKind::MemberJoin => {
                joins.push(Join {
                    guild_id,
                    user_id: m.author_id,
                    joined_at: m.at.timestamp(),
                    pending: false,
                    welcomed: true,
                });
                continue;
            }
            MessageKind::Notice => {
                summary.notices += 1;
                continue;
            }
        };
        records.push(Record {
            guild_id,
            user_id: m.author_id,
            at: m.at.timestamp(),
            kind,
            channel_id: m.channel_id,
            // The notice stands for the thread: keyed by the thread where the export names
            // it, as the live THREAD_CREATE is.
            target_id: m.thread_id.unwrap_or(m.id),
            reply_to: m.reply_to,
            in_thread: m.in_thread,
        });
    }
    summary.messages += records.len();
    summary.joins += joins.len();
    let earliest = records
        .iter()
        .map(|r| r.at)
        .chain(joins.iter().map(|j| j.joined_at))
        .min();
    let mut tx = pool.begin().await?;
    summary.added += db::activity::insert(&mut tx, &records).await?;
    db::activity::record_imported_joins(&mut tx, &joins).await?;
    tx.commit().await?;
    Ok(earliest)
}

/// An export being read.
enum Export {
    Json(JsonExport<std::io::BufReader<std::fs::File>>),
    Csv(CsvExport<std::fs::File>),
}

impl Export {
    fn guild_id(&self) -> Option<u64> {
        match self {
            Self::Json(e) => e.guild_id(),
            Self::Csv(_) => None,
        }
    }

    fn next_message(&mut self) -> Option<ImportedMessage> {
        match self {
            Self::Json(e) => e.next_message(),
            Self::Csv(e) => e.next_message(),
        }
    }

    fn damage(&self) -> Option<&Damage> {
        match self {
            Self::Json(e) => e.damage(),
            Self::Csv(e) => e.damage(),
        }
    }
}

/// Opens an export. Only regular files are opened: opening a FIFO waits for a writer, and a
/// device (`/dev/zero`) never ends.
fn open(file: &Path) -> Result<Export, String> {
    let is_json = match file.extension().and_then(|e| e.to_str()) {
        Some("json") => true,
        Some("csv") => false,
        _ => return Err("not a .json or .csv export".into()),
    };
    let metadata = std::fs::metadata(file).map_err(|e| e.to_string())?;
    if !metadata.is_file() {
        return Err("not a regular file (a FIFO, socket or device?); skipped".into());
    }
    let opened = std::fs::File::open(file).map_err(|e| e.to_string())?;
    if is_json {
        Ok(Export::Json(JsonExport::new(
            std::io::BufReader::with_capacity(64 << 10, opened),
        )))
    } else {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let channel = channel_id_from_file_name(name).unwrap_or(0);
        Ok(Export::Csv(CsvExport::new(opened, channel)))
    }
}
