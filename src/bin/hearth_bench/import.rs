//! `hearth-bench --only import` (issue 21): the real community export (`--data
//! community-activity.csv.gz`) converted once into DiscordChatExporter JSON exports, one file per
//! channel in DCE's layout, then `hearth import` (the real binary, next to this one) timed on
//! them: a fresh database each run, `--rounds` runs, the median counts. Prints messages/s, the
//! peak RSS of the import process (`/usr/bin/time -v` when present) and the records stored
//! against those expected (every member message once; bots skipped), then checks that a
//! re-import adds nothing.
//!
//! The CSV has no message ids, replies or content: ids are synthetic snowflakes (the minute's
//! milliseconds since Discord's epoch, the row index in the low 22 bits), content is empty,
//! authors get ids from their pseudonym's first appearance, reactions carry the row's kinds
//! and total.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context as _};
use serde_json::{json, Value};

const GUILD: u64 = 412_345_678_901_234_567;
const DISCORD_EPOCH_MS: i64 = 1_420_070_400_000;
const EMOJI: [&str; 6] = ["👍", "🔥", "😂", "❤️", "🚀", "👀"];

struct Row {
    id: u64,
    at: String,
    author: usize,
    bot: bool,
    kinds: usize,
    total: usize,
}

struct Channel {
    category: String,
    name: String,
    rows: Vec<Row>,
}

/// What the exports hold.
struct Written {
    dir: PathBuf,
    files: usize,
    bytes: u64,
    messages: usize,
    /// Member (non-bot) messages: the activity records an import must store.
    expected: usize,
}

fn file_name_part(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Converts the CSV into one DCE JSON export per channel under `dir`.
fn write_exports(data: &Path, dir: &Path) -> anyhow::Result<Written> {
    let file = std::fs::File::open(data).with_context(|| format!("opening {}", data.display()))?;
    let mut reader = csv::Reader::from_reader(flate2::read::GzDecoder::new(file));
    let headers = reader.headers()?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .with_context(|| format!("{} has no `{name}` column", data.display()))
    };
    let (ts, user, bot, category, channel, channel_id, kinds, total) = (
        column("ts_minute")?,
        column("user")?,
        column("is_known_bot")?,
        column("category")?,
        column("channel")?,
        column("channel_id")?,
        column("reaction_kinds")?,
        column("reaction_total")?,
    );
    let mut authors: HashMap<String, usize> = HashMap::new();
    let mut names: Vec<String> = Vec::new();
    let mut channels: BTreeMap<u64, Channel> = BTreeMap::new();
    let (mut messages, mut expected) = (0usize, 0usize);
    for (index, row) in reader.records().enumerate() {
        let row = row?;
        let at = chrono::NaiveDateTime::parse_from_str(&row[ts], "%Y-%m-%dT%H:%M:%S")
            .with_context(|| format!("bad ts_minute `{}`", &row[ts]))?
            .and_utc();
        let ms = u64::try_from(at.timestamp_millis() - DISCORD_EPOCH_MS)?;
        let next = authors.len();
        let author = *authors.entry(row[user].to_owned()).or_insert_with(|| {
            names.push(row[user].to_owned());
            next
        });
        let is_bot = &row[bot] == "1";
        messages += 1;
        expected += usize::from(!is_bot);
        // Rows without a channel id go to channel 1, as in the ingest replay.
        let id = row[channel_id].parse().unwrap_or(1);
        let entry = channels.entry(id).or_insert_with(|| Channel {
            category: row[category].to_owned(),
            name: row[channel].to_owned(),
            rows: Vec::new(),
        });
        entry.rows.push(Row {
            id: (ms << 22) | u64::try_from(index)?,
            at: at.format("%Y-%m-%dT%H:%M:%S%.3f+00:00").to_string(),
            author,
            bot: is_bot,
            kinds: row[kinds].parse().unwrap_or(0),
            total: row[total].parse().unwrap_or(0),
        });
    }
    std::fs::create_dir_all(dir)?;
    let mut bytes = 0;
    for (id, channel) in &channels {
        let path = dir.join(format!(
            "Komodo - {} - {} [{id}].json",
            file_name_part(&channel.category),
            file_name_part(&channel.name)
        ));
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
        // DCE's layout, indented as it writes it.
        write!(
            out,
            "{{\n  \"guild\": {{\n    \"id\": \"{GUILD}\",\n    \"name\": \"Komodo\",\n    \"iconUrl\": \"https://cdn.discordapp.com/embed/avatars/0.png\"\n  }},\n  \"channel\": {{\n    \"id\": \"{id}\",\n    \"type\": \"GuildTextChat\",\n    \"categoryId\": \"1\",\n    \"category\": {},\n    \"name\": {},\n    \"topic\": null\n  }},\n  \"dateRange\": {{\n    \"after\": null,\n    \"before\": null\n  }},\n  \"exportedAt\": \"2020-01-10T00:00:00.000+00:00\",\n  \"messages\": [",
            Value::from(channel.category.as_str()),
            Value::from(channel.name.as_str()),
        )?;
        for (i, row) in channel.rows.iter().enumerate() {
            let author_id = 300_000_000_000_000_000 + row.author as u64;
            let name = Value::from(names[row.author].as_str());
            let reactions: Vec<String> = (0..row.kinds.min(row.total))
                .map(|k| {
                    let count = row.total / row.kinds + usize::from(k < row.total % row.kinds);
                    format!(
                        "\n        {{\n          \"emoji\": {{\n            \"id\": \"\",\n            \"name\": \"{}\",\n            \"code\": \"e{k}\",\n            \"isAnimated\": false,\n            \"imageUrl\": \"https://cdn.jsdelivr.net/gh/twitter/twemoji@latest/assets/svg/1f44d.svg\"\n          }},\n          \"count\": {count},\n          \"users\": []\n        }}",
                        EMOJI[k % EMOJI.len()]
                    )
                })
                .collect();
            let reactions = if reactions.is_empty() {
                "[]".to_owned()
            } else {
                format!("[{}\n      ]", reactions.join(","))
            };
            write!(
                out,
                "{}\n    {{\n      \"id\": \"{}\",\n      \"type\": \"Default\",\n      \"timestamp\": \"{}\",\n      \"timestampEdited\": null,\n      \"callEndedTimestamp\": null,\n      \"isPinned\": false,\n      \"content\": \"\",\n      \"author\": {{\n        \"id\": \"{author_id}\",\n        \"name\": {name},\n        \"discriminator\": \"0000\",\n        \"nickname\": {name},\n        \"color\": null,\n        \"isBot\": {},\n        \"roles\": [],\n        \"avatarUrl\": \"https://cdn.discordapp.com/embed/avatars/0.png\"\n      }},\n      \"attachments\": [],\n      \"embeds\": [],\n      \"stickers\": [],\n      \"reactions\": {reactions},\n      \"mentions\": [],\n      \"inlineEmojis\": []\n    }}",
                if i == 0 { "" } else { "," },
                row.id,
                row.at,
                row.bot,
            )?;
        }
        write!(
            out,
            "\n  ],\n  \"messageCount\": {}\n}}\n",
            channel.rows.len()
        )?;
        out.flush()?;
        // On disk before any import is timed, so that the kernel writing the bench's own
        // 478 MiB back cannot land in a timed import.
        out.get_ref().sync_all()?;
        bytes += std::fs::metadata(&path)?.len();
    }
    Ok(Written {
        dir: dir.to_owned(),
        files: channels.len(),
        bytes,
        messages,
        expected,
    })
}

/// One `hearth import` of the exports: seconds, peak RSS (KiB) and its summary line.
fn run_import(
    hearth: &Path,
    config: &Path,
    dir: &Path,
) -> anyhow::Result<(f64, Option<u64>, String)> {
    let time = Path::new("/usr/bin/time");
    let mut command = if time.exists() {
        let mut c = Command::new(time);
        c.arg("-v").arg(hearth);
        c
    } else {
        Command::new(hearth)
    };
    command
        .args(["import", "--guild", &GUILD.to_string()])
        .arg(dir)
        .arg("--config")
        .arg(config);
    let started = Instant::now();
    let out = command.output().context("running hearth import")?;
    let secs = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!("hearth import failed ({}):\n{stdout}\n{stderr}", out.status);
    }
    let rss = stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|v| v.trim().parse().ok());
    Ok((secs, rss, stdout.trim().to_owned()))
}

/// The number before `what` in the import's summary line.
fn summary_figure(summary: &str, what: &str) -> Option<u64> {
    let before = &summary[..summary.find(what)?];
    before.split_whitespace().last()?.parse().ok()
}

/// `postgres`: a server (`--postgres`) to import into instead of SQLite, a fresh database each
/// run (`hearth_bench_<pid>_import`, dropped at the end).
pub async fn run(
    data: Option<&Path>,
    rounds: usize,
    exe_dir: &Path,
    postgres: Option<&str>,
) -> anyhow::Result<Value> {
    let data = data.context("--only import needs --data community-activity.csv.gz")?;
    let hearth = exe_dir.join("hearth");
    if !hearth.exists() {
        bail!(
            "{} is missing: build it first (cargo build --release)",
            hearth.display()
        );
    }
    let work = std::env::temp_dir().join(format!("hearth-bench-import-{}", std::process::id()));
    let exports = work.join("exports");
    let started = Instant::now();
    let written = write_exports(data, &exports)?;
    eprintln!(
        "import: {} messages ({} from members) in {} DCE JSON files, {:.0} MiB, written in {:.1} s",
        written.messages,
        written.expected,
        written.files,
        written.bytes as f64 / (1 << 20) as f64,
        started.elapsed().as_secs_f64()
    );
    let db = work.join("import.db");
    let config = work.join("hearth.toml");
    let mut runs = Vec::new();
    let mut stored = (0, 0);
    let mut pg_database = None;
    for round in 0..rounds {
        let url = match postgres {
            Some(server) => {
                // The previous run's database is dropped before a fresh one of the same name.
                drop(pg_database.take());
                let fresh = crate::pg::PgDatabase::new(server, "import");
                let url = fresh.url();
                pg_database = Some(fresh);
                url
            }
            None => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
                }
                format!("sqlite://{}", db.display())
            }
        };
        std::fs::write(&config, format!("[database]\nurl = \"{url}\"\n"))?;
        let (secs, rss, summary) = run_import(&hearth, &config, &written.dir)?;
        let pool = hearth::db::connect(&url).await?;
        let total = hearth::db::activity::total(&pool).await?;
        let messages: i64 = hearth::db::activity::count_by_kind(&pool)
            .await?
            .iter()
            .filter(|(kind, _)| *kind == 1)
            .map(|(_, n)| n)
            .sum();
        pool.close().await;
        eprintln!(
            "import round {}: {secs:.2} s, {:.0} messages/s, peak RSS {} MiB, {total} records stored ({messages} messages) of {} expected: {summary}",
            round + 1,
            written.messages as f64 / secs,
            rss.map_or("?".into(), |k| (k / 1024).to_string()),
            written.expected,
        );
        runs.push((secs, rss));
        stored = (total, messages);
    }
    // A re-import into the last run's store must add nothing.
    let (again_secs, _, again) = run_import(&hearth, &config, &written.dir)?;
    let re_added = summary_figure(&again, "new activity records");
    eprintln!("re-import: {again_secs:.2} s, {again}");
    drop(pg_database);
    let _ = std::fs::remove_dir_all(&work);

    let mut secs: Vec<f64> = runs.iter().map(|r| r.0).collect();
    secs.sort_by(f64::total_cmp);
    let median = secs[secs.len() / 2];
    let peak_rss_mib = runs.iter().filter_map(|r| r.1).max().map(|k| k / 1024);
    let expected = i64::try_from(written.expected)?;
    let lossless = stored.0 == expected && stored.1 == expected && re_added == Some(0);
    println!(
        "import{}: {} messages in {} files ({:.0} MiB): median of {rounds} {median:.2} s = {:.0} messages/s, peak RSS {} MiB, stored {} of {} expected records{}, re-import added {}",
        if postgres.is_some() { " into PostgreSQL" } else { "" },
        written.messages,
        written.files,
        written.bytes as f64 / (1 << 20) as f64,
        written.messages as f64 / median,
        peak_rss_mib.map_or("?".into(), |m| m.to_string()),
        stored.0,
        expected,
        if lossless { " (no loss, no doubles)" } else { " (MISMATCH)" },
        re_added.map_or("?".into(), |n| n.to_string()),
    );
    if !lossless {
        bail!(
            "the import stored {} records, expected {expected} (re-import added {re_added:?})",
            stored.0
        );
    }
    Ok(json!({
        "database": if postgres.is_some() { "postgres" } else { "sqlite" },
        "messages": written.messages,
        "files": written.files,
        "bytes": written.bytes,
        "runs_secs": runs.iter().map(|r| r.0).collect::<Vec<_>>(),
        "median_secs": median,
        "messages_per_sec": written.messages as f64 / median,
        "peak_rss_mib": peak_rss_mib,
        "expected_records": expected,
        "stored_records": stored.0,
        "stored_messages": stored.1,
        "reimport_added": re_added,
        "reimport_secs": again_secs,
    }))
}
