//! DiscordChatExporter exports → activity, without content. JSON (current format) and the three
//! CSV generations (`;`-delimited, `,` with locale dates, `,` with ISO dates). A damaged file
//! yields the complete messages before the damage and the position of the damage.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;

/// One imported message, reduced to what Hearth keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportedMessage {
    pub id: u64,
    pub channel_id: u64,
    pub author_id: u64,
    pub at: DateTime<Utc>,
    pub is_bot: bool,
    pub reply_to: Option<u64>,
    pub in_thread: bool,
    /// A "thread created" system message: the author started a thread.
    pub starts_thread: bool,
}

/// Where a file stopped being readable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    pub line: usize,
    pub column: usize,
    pub problem: String,
}

/// What a file yielded.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    pub guild_id: Option<u64>,
    pub messages: Vec<ImportedMessage>,
    pub damage: Option<Damage>,
}

#[derive(Deserialize)]
struct DceAuthor {
    id: String,
    #[serde(default, rename = "isBot")]
    is_bot: bool,
}

#[derive(Deserialize)]
struct DceReference {
    #[serde(rename = "messageId")]
    message_id: Option<String>,
}

#[derive(Deserialize)]
struct DceMessage {
    id: String,
    #[serde(rename = "type", default)]
    kind: String,
    timestamp: String,
    author: DceAuthor,
    reference: Option<DceReference>,
}

fn id(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(before.chars().count(), |nl| {
        before[nl + 1..].chars().count()
    }) + 1;
    (line, column)
}

fn damage_at(text: &str, offset: usize, problem: impl Into<String>) -> Damage {
    let (line, column) = line_col(text, offset);
    Damage {
        line,
        column,
        problem: problem.into(),
    }
}

/// Reads a DCE JSON export. The `messages` array is read element by element, so a truncated
/// file still yields every complete message before the cut.
pub fn parse_json(text: &str) -> Parsed {
    let mut parsed = Parsed::default();
    let header = |key: &str| -> Option<&str> {
        let at = text.find(&format!("\"{key}\""))?;
        let rest = &text[at..];
        let id_at = rest.find("\"id\"")?;
        let value = rest[id_at + 4..]
            .trim_start()
            .strip_prefix(':')?
            .trim_start()
            .strip_prefix('"')?;
        value.split('"').next()
    };
    parsed.guild_id = header("guild").and_then(id);
    let channel_id = header("channel").and_then(id).unwrap_or(0);
    let in_thread = text.find("\"channel\"").is_some_and(|at| {
        text[at..]
            .split("\"messages\"")
            .next()
            .unwrap_or("")
            .contains("Thread")
    });
    let Some(messages_at) = text.find("\"messages\"") else {
        parsed.damage = Some(damage_at(
            text,
            text.len(),
            "no \"messages\" array: not a DiscordChatExporter JSON export",
        ));
        return parsed;
    };
    let Some(open) = text[messages_at..].find('[').map(|i| messages_at + i + 1) else {
        parsed.damage = Some(damage_at(
            text,
            text.len(),
            "the \"messages\" array never starts",
        ));
        return parsed;
    };
    let mut pos = open;
    loop {
        let rest = &text[pos..];
        let skipped = rest.len()
            - rest
                .trim_start_matches(|c: char| c.is_whitespace() || c == ',')
                .len();
        pos += skipped;
        match text[pos..].chars().next() {
            Some(']') => return parsed,
            None => {
                parsed.damage = Some(damage_at(
                    text,
                    pos,
                    "the file ends inside the messages array (truncated?)",
                ));
                return parsed;
            }
            Some(_) => {}
        }
        let mut stream = serde_json::Deserializer::from_str(&text[pos..]).into_iter::<DceMessage>();
        match stream.next() {
            Some(Ok(m)) => {
                pos += stream.byte_offset();
                let Some(message) = dce_message(&m, channel_id, in_thread) else {
                    parsed.damage = Some(damage_at(
                        text,
                        pos,
                        format!("message {} has an unreadable id or timestamp", m.id),
                    ));
                    return parsed;
                };
                parsed.messages.push(message);
            }
            Some(Err(err)) => {
                let problem = if err.is_eof() {
                    "the file ends in the middle of a message (truncated?)".to_owned()
                } else {
                    // serde's own position is relative to the message; ours is the file's.
                    let detail = err.to_string();
                    format!(
                        "unreadable message: {}",
                        detail.split(" at line ").next().unwrap_or(&detail)
                    )
                };
                parsed.damage = Some(damage_at(text, pos, problem));
                return parsed;
            }
            None => {
                parsed.damage = Some(damage_at(
                    text,
                    pos,
                    "the file ends inside the messages array (truncated?)",
                ));
                return parsed;
            }
        }
    }
}

fn dce_message(m: &DceMessage, channel_id: u64, in_thread: bool) -> Option<ImportedMessage> {
    Some(ImportedMessage {
        id: id(&m.id)?,
        channel_id,
        author_id: id(&m.author.id)?,
        at: parse_time(&m.timestamp)?,
        is_bot: m.author.is_bot,
        reply_to: m
            .reference
            .as_ref()
            .and_then(|r| r.message_id.as_deref())
            .and_then(id)
            .filter(|_| m.kind == "Reply"),
        in_thread,
        starts_thread: m.kind == "ThreadCreated",
    })
}

/// ISO 8601 (current exports) or the locale formats of older CSV exports, read as UTC.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    const FORMATS: [&str; 8] = [
        "%d-%b-%y %I:%M %p",
        "%d-%b-%y %H:%M",
        "%m/%d/%Y %I:%M %p",
        "%m/%d/%Y %I:%M:%S %p",
        "%d/%m/%Y %H:%M",
        "%d/%m/%Y %H:%M:%S",
        "%d.%m.%Y %H:%M",
        "%Y-%m-%d %H:%M:%S",
    ];
    FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .map(|naive| naive.and_utc())
}

/// Reads a DCE CSV export of any generation. CSV exports carry no message ids: ids are derived
/// from channel, author, time and position, so re-importing the same file counts nothing twice.
pub fn parse_csv(text: &str, channel_id: u64) -> Parsed {
    let mut parsed = Parsed::default();
    let first_line = text.lines().next().unwrap_or_default();
    let delimiter = if first_line.contains(';') && !first_line.contains(',') {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(err) => {
            parsed.damage = Some(damage_at(text, 0, format!("unreadable header: {err}")));
            return parsed;
        }
    };
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    };
    let (Some(author_col), Some(date_col)) = (column("AuthorID"), column("Date")) else {
        parsed.damage = Some(damage_at(
            text,
            0,
            "the header has no AuthorID and Date columns: not a DiscordChatExporter CSV export",
        ));
        return parsed;
    };
    let mut index = 0u64;
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => return parsed,
            Ok(true) => {
                let line = record
                    .position()
                    .map_or(0, |p| usize::try_from(p.line()).unwrap_or(0));
                let author = record.get(author_col).and_then(id);
                let at = record.get(date_col).and_then(parse_time);
                let (Some(author_id), Some(at)) = (author, at) else {
                    parsed.damage = Some(Damage {
                        line,
                        column: 1,
                        problem: "unreadable AuthorID or Date".into(),
                    });
                    return parsed;
                };
                index += 1;
                parsed.messages.push(ImportedMessage {
                    id: synthetic_id(channel_id, author_id, at, index),
                    channel_id,
                    author_id,
                    at,
                    is_bot: false,
                    reply_to: None,
                    in_thread: false,
                    starts_thread: false,
                });
            }
            Err(err) => {
                let line = err
                    .position()
                    .map_or(0, |p| usize::try_from(p.line()).unwrap_or(0));
                parsed.damage = Some(Damage {
                    line,
                    column: 1,
                    problem: format!("unreadable row: {err}"),
                });
                return parsed;
            }
        }
    }
}

/// A stable id for a message without one: a snowflake-like value from its time, plus a hash of
/// where it was (FNV-1a, so it is the same in every run and version).
pub fn synthetic_id(channel_id: u64, author_id: u64, at: DateTime<Utc>, index: u64) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for value in [channel_id, author_id, index] {
        for byte in value.to_le_bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    let ms = u64::try_from(at.timestamp_millis())
        .unwrap_or(0)
        .saturating_sub(1_420_070_400_000);
    (ms << 22) | (hash & 0x3F_FFFF)
}

/// The channel id in a DCE file name: `Guild - Category - channel [123456].json`.
pub fn channel_id_from_file_name(name: &str) -> Option<u64> {
    let open = name.rfind('[')?;
    let close = name[open..].find(']')? + open;
    id(&name[open + 1..close])
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: &str = r#"{
  "guild": { "id": "100", "name": "G", "iconUrl": "x" },
  "channel": { "id": "200", "type": "GuildTextChat", "name": "general" },
  "messages": [
    { "id": "1", "type": "Default", "timestamp": "2020-01-02T10:00:00.123+00:00", "content": "hi", "author": { "id": "7", "name": "a", "isBot": false }, "reactions": [] },
    { "id": "2", "type": "Reply", "timestamp": "2020-01-02T10:05:00+01:00", "content": "yo", "author": { "id": "8", "name": "b", "isBot": false }, "reference": { "messageId": "1", "channelId": "200" } },
    { "id": "3", "type": "Default", "timestamp": "2020-01-02T10:06:00+00:00", "content": "beep", "author": { "id": "9", "name": "bot", "isBot": true } }
  ],
  "messageCount": 3
}"#;

    #[test]
    fn reads_the_current_json_format() {
        let parsed = parse_json(JSON);
        assert_eq!(parsed.damage, None);
        assert_eq!(parsed.guild_id, Some(100));
        assert_eq!(parsed.messages.len(), 3);
        let reply = &parsed.messages[1];
        assert_eq!(
            (reply.channel_id, reply.author_id, reply.reply_to),
            (200, 8, Some(1))
        );
        assert_eq!(reply.at.to_rfc3339(), "2020-01-02T09:05:00+00:00");
        assert!(parsed.messages[2].is_bot);
    }

    #[test]
    fn a_truncated_json_file_keeps_the_complete_messages_and_names_the_position() {
        let cut = &JSON[..JSON.find(r#"{ "id": "3""#).unwrap() + 20];
        let parsed = parse_json(cut);
        assert_eq!(parsed.messages.len(), 2);
        let damage = parsed.damage.unwrap();
        assert_eq!(damage.line, 7, "the line where the cut message starts");
        assert!(
            damage.problem.contains("EOF") || damage.problem.contains("truncated"),
            "{}",
            damage.problem
        );
    }

    #[test]
    fn reads_every_csv_generation() {
        let semicolon = "AuthorID;Author;Date;Content;Attachments;Reactions\n7;a#1;05-Apr-18 09:15 AM;hi;;\n8;b#2;05-Apr-18 01:30 PM;yo;;\n";
        let locale = "\"AuthorID\",\"Author\",\"Date\",\"Content\",\"Attachments\",\"Reactions\"\n\"7\",\"a\",\"04/05/2018 9:15 AM\",\"hi, there\",\"\",\"\"\n";
        let iso = "\"AuthorID\",\"Author\",\"Date\",\"Content\",\"Attachments\",\"Reactions\"\n\"7\",\"a\",\"2018-04-05T09:15:00.000+00:00\",\"multi\nline\",\"\",\"\"\n";
        for (text, n) in [(semicolon, 2), (locale, 1), (iso, 1)] {
            let parsed = parse_csv(text, 200);
            assert_eq!(parsed.damage, None, "{text}");
            assert_eq!(parsed.messages.len(), n);
            assert_eq!(
                parsed.messages[0].at.to_rfc3339(),
                "2018-04-05T09:15:00+00:00",
                "{text}"
            );
        }
        assert_eq!(
            parse_csv(semicolon, 200).messages[1].at.to_rfc3339(),
            "2018-04-05T13:30:00+00:00"
        );
    }

    #[test]
    fn csv_damage_names_the_line() {
        let text = "AuthorID,Author,Date,Content,Attachments,Reactions\n7,a,2018-04-05T09:15:00+00:00,hi,,\n8,b,not a date,yo,,\n";
        let parsed = parse_csv(text, 200);
        assert_eq!(parsed.messages.len(), 1);
        assert_eq!(parsed.damage.unwrap().line, 3);
    }

    #[test]
    fn synthetic_ids_are_stable_and_distinct() {
        let at = parse_time("2018-04-05T09:15:00+00:00").unwrap();
        assert_eq!(synthetic_id(1, 2, at, 1), synthetic_id(1, 2, at, 1));
        assert_ne!(synthetic_id(1, 2, at, 1), synthetic_id(1, 2, at, 2));
        assert_eq!(
            channel_id_from_file_name("Guild - Cat - general [200].csv"),
            Some(200)
        );
    }
}
