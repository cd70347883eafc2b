//! `hearth import`: backfill activity from DiscordChatExporter exports (files or folders).
//! Every file is imported on its own: a damaged file is reported with its position, its complete
//! messages before the damage are kept, and the other files still import.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use sqlx::Connection as _;

use crate::db::{
    self,
    activity::{Kind, Record},
    welcome::Join,
    Pool,
};
use crate::domain::import::{
    channel_id_from_file_name, CsvExport, Damage, ImportedMessage, JsonExport, MessageKind,
};

/// Messages read at a time, and written per transaction: a file of any size is imported in
/// bounded memory.
const CHUNK: usize = 50_000;

/// The page cache of the import's connection (SQLite's default is 2 MiB): bounded, whatever
/// the exports hold.
const CACHE_KIB: u32 = 64 << 10;

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

/// What a parser hands the writer.
enum Read {
    /// Messages of the file being read, in order.
    Chunk(Vec<ImportedMessage>),
    /// The file was read, completely or up to the problem named.
    FileDone(Option<String>),
}

/// Chunks read ahead of the writer by each parser: reading the next chunks overlaps writing
/// this one, and memory stays bounded (per parser at most this many chunks, plus the one being
/// read; and the one being written).
const READ_AHEAD: usize = 8;

/// Threads parsing files: parsing JSON was the import's pace (1.6 s of CPU for the real
/// export's 719k messages, while PostgreSQL's share of the writing took 0.8 s).
const PARSERS: usize = 2;

/// The files parsed on `PARSERS` threads of their own, file `i` by parser `i % PARSERS`, and
/// handed over in the files' order: what is written, and which of two copies of a record
/// counts, never depends on which parser was faster.
struct Parsers {
    receivers: Vec<tokio::sync::mpsc::Receiver<Read>>,
    threads: Vec<tokio::task::JoinHandle<()>>,
    /// The file whose reads come next.
    file: usize,
}

impl Parsers {
    fn start(files: &[PathBuf], guild_id: u64) -> Self {
        let mut receivers = Vec::new();
        let mut threads = Vec::new();
        for parser in 0..PARSERS {
            let (sender, receiver) = tokio::sync::mpsc::channel(READ_AHEAD);
            let files: Vec<PathBuf> = files
                .iter()
                .skip(parser)
                .step_by(PARSERS)
                .cloned()
                .collect();
            receivers.push(receiver);
            threads.push(tokio::task::spawn_blocking(move || {
                read_files(&files, guild_id, &sender)
            }));
        }
        Self {
            receivers,
            threads,
            file: 0,
        }
    }

    /// The next read in the files' order; `None` after the last file (or when a parser
    /// stopped early, which [`Parsers::stop`] reports).
    async fn next(&mut self) -> Option<Read> {
        let read = self.receivers[self.file % PARSERS].recv().await?;
        if matches!(read, Read::FileDone(_)) {
            self.file += 1;
        }
        Some(read)
    }

    /// Stops the parsers at their next chunk (when the writer failed) and waits for them.
    async fn stop(self) -> Result<(), tokio::task::JoinError> {
        drop(self.receivers);
        for thread in self.threads {
            thread.await?;
        }
        Ok(())
    }
}

/// Imports the files into `guild_id`, calling `progress` after each file. The files are parsed
/// on threads of their own (`Parsers`) while the writer stores what was read before.
pub async fn import(
    pool: &Pool,
    guild_id: u64,
    files: &[PathBuf],
    mut progress: impl FnMut(usize, &Summary),
) -> anyhow::Result<Summary> {
    let optouts = db::activity::optouts_in(pool, guild_id).await?;
    let mut parsers = Parsers::start(files, guild_id);
    let mut summary = Summary::default();
    let mut earliest: Option<i64> = None;
    let written = async {
        // Into a nearly empty PostgreSQL store, the records go in on a connection of their own,
        // in one transaction, and their indexes are built at the end.
        let mut bulk =
            db::activity::BulkLoad::begin(pool, db::activity::BULK_LOAD_MAX_RECORDS).await?;
        // One connection for the whole import, with a larger page cache, closed afterwards
        // rather than handed back to the pool with it.
        let mut conn = pool.acquire().await?;
        conn.close_on_drop();
        db::set_cache_kib(&mut conn, CACHE_KIB).await?;
        // SQLite: the log is copied into the database once, at the end, not at every commit
        // (each copy wrote the indexes' pages again, and waited for the disk); and what the
        // import moves is IDs and times, never text, so it need not be zeroed.
        db::defer_checkpoints(&mut conn).await?;
        db::stop_zeroing_deletes(&mut conn).await?;
        // Transactions span files (most exports are far smaller than a chunk): an index page
        // that several files write is written out once per transaction.
        let mut tx = conn.begin().await?;
        let mut in_tx = 0;
        while let Some(read) = parsers.next().await {
            match read {
                Read::Chunk(chunk) => {
                    if in_tx >= CHUNK {
                        tx.commit().await?;
                        tx = conn.begin().await?;
                        in_tx = 0;
                    }
                    in_tx += chunk.len();
                    let first = store(
                        &mut tx,
                        guild_id,
                        bulk.as_mut(),
                        &chunk,
                        &optouts,
                        &mut summary,
                    )
                    .await?;
                    if let Some(first) = first {
                        earliest = Some(earliest.map_or(first, |e| e.min(first)));
                    }
                }
                Read::FileDone(failure) => {
                    summary.files += 1;
                    summary.failures.extend(failure);
                    progress(summary.files, &summary);
                }
            }
        }
        // A parser that panicked ended its reads early: the bulk load is not finished then.
        anyhow::ensure!(summary.files == files.len(), "reading the files stopped");
        if let Some(bulk) = bulk {
            summary.added -= bulk.finish().await?;
        }
        tx.commit().await?;
        anyhow::Ok(())
    }
    .await;
    parsers.stop().await?;
    written?;
    db::checkpoint(pool).await?;
    if let Some(earliest) = earliest {
        db::after_bulk_write(pool, &["activity", "members", "member_joins"], false).await?;
        crate::features::rollup::rewind(pool, guild_id, earliest).await?;
    }
    Ok(summary)
}

/// Reads the files in order, handing their messages to the writer a chunk at a time. Stops when
/// the writer is gone.
fn read_files(files: &[PathBuf], guild_id: u64, sender: &tokio::sync::mpsc::Sender<Read>) {
    for file in files {
        let failure = match open(file) {
            Err(problem) => Some(format!("{}: {problem}", file.display())),
            Ok(mut export) => {
                if let Some(export_guild) = export.guild_id().filter(|g| *g != guild_id) {
                    Some(format!(
                        "{}: exported from server {export_guild}, not {guild_id}; skipped",
                        file.display()
                    ))
                } else {
                    loop {
                        let chunk: Vec<ImportedMessage> =
                            std::iter::from_fn(|| export.next_message())
                                .take(CHUNK)
                                .collect();
                        if chunk.is_empty() {
                            break;
                        }
                        if sender.blocking_send(Read::Chunk(chunk)).is_err() {
                            return;
                        }
                    }
                    export.damage().map(|d| {
                        format!("{}:{}:{}: {}", file.display(), d.line, d.column, d.problem)
                    })
                }
            }
        };
        if sender.blocking_send(Read::FileDone(failure)).is_err() {
            return;
        }
    }
}

/// Writes a chunk of messages in the import's transaction: members' messages and threads as activity
/// (into the bulk load when there is one), join notices as joins (already welcomed: history is
/// never welcomed), other notices not at all. Returns the earliest instant written.
async fn store(
    tx: &mut sqlx::AnyConnection,
    guild_id: u64,
    bulk: Option<&mut db::activity::BulkLoad>,
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
    summary.added += match bulk {
        Some(bulk) => {
            bulk.insert(&records).await?;
            records.len() as u64
        }
        None => db::activity::insert(&mut *tx, &records).await?,
    };
    db::activity::record_imported_joins(tx, &joins).await?;
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
