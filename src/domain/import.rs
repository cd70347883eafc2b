//! DiscordChatExporter exports → activity, without content. JSON (current format) and the three
//! CSV generations (`;`-delimited, `,` with locale dates, `,` with ISO dates). Files are read as
//! streams, a message at a time: memory stays bounded whatever a file holds, and a record larger
//! than any real message is damage, not an allocation. A damaged file yields the complete
//! messages before the damage and the position of the damage.
//!
//! Only members' messages are messages (product §6: Discord types Default and Reply); a
//! member-join notice is that member's join; a thread-created notice stands for the thread;
//! other system notices (pins, boosts, calls...) are no activity. JSON exports name each
//! message's type and the channel's type. CSV exports carry neither: their system notices are
//! recognised by the fixed text DiscordChatExporter writes for them, and their rows are never
//! thread messages (a CSV export cannot say it is a thread; counting a thread's messages as
//! top-level ones only moves replies per post, the other mistake would turn a whole channel
//! into replies).

use std::borrow::Cow;
use std::io::{self, BufRead, Read};

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;

/// The largest JSON message read: far above any real one (content, embeds, and the users of
/// every reaction, which DiscordChatExporter lists).
pub const MAX_JSON_MESSAGE_BYTES: usize = 16 << 20;
/// The largest CSV record read (content of at most 4,000 characters, attachment links and
/// reaction counts).
pub const MAX_CSV_RECORD_BYTES: u64 = 1 << 20;
/// The largest `guild` or `channel` header, or key, of a JSON export.
const MAX_HEADER_BYTES: usize = 1 << 20;

/// What an exported message is to the analytics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind {
    /// A member's message (Default or Reply).
    Message,
    /// A member-join notice: the author's join.
    MemberJoin,
    /// A thread-created notice: the author started a thread.
    ThreadCreated,
    /// Any other system notice: no activity.
    Notice,
}

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
    pub kind: MessageKind,
    /// For a thread-created notice, the thread (when the export names it).
    pub thread_id: Option<u64>,
}

/// Where a file stopped being readable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    pub line: usize,
    pub column: usize,
    pub problem: String,
}

/// What a file yielded (all of it: for small inputs and tests; `hearth import` reads an export
/// as it goes instead).
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    pub guild_id: Option<u64>,
    pub messages: Vec<ImportedMessage>,
    pub damage: Option<Damage>,
}

// Messages borrow their strings from the bytes read (no allocation per field); a string with
// escapes is the rare one copied.
#[derive(Deserialize)]
struct DceAuthor<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(default, rename = "isBot")]
    is_bot: bool,
}

#[derive(Deserialize)]
struct DceReference<'a> {
    #[serde(borrow, rename = "messageId")]
    message_id: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "channelId")]
    channel_id: Option<Cow<'a, str>>,
}

/// A type as DiscordChatExporter writes it: the name of a known type, the number of another
/// (`"8"`), or a number in raw exports.
enum DceType<'a> {
    Name(Cow<'a, str>),
    Number(i64),
}

/// Read by hand rather than as an untagged enum, which buffers every value before trying each
/// variant.
impl<'de: 'a, 'a> Deserialize<'de> for DceType<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = DceType<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a message or channel type (a name or a number)")
            }

            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(DceType::Name(Cow::Borrowed(v)))
            }

            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(DceType::Name(Cow::Owned(v.to_owned())))
            }

            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(DceType::Number(v))
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
                i64::try_from(v)
                    .map(DceType::Number)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl DceType<'_> {
    fn is(&self, name: &str, number: i64) -> bool {
        match self {
            Self::Name(n) => n == name || n.parse::<i64>() == Ok(number),
            Self::Number(n) => *n == number,
        }
    }
}

#[derive(Deserialize)]
struct DceMessage<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow, rename = "type")]
    kind: Option<DceType<'a>>,
    #[serde(borrow)]
    timestamp: Cow<'a, str>,
    #[serde(borrow)]
    author: DceAuthor<'a>,
    #[serde(borrow)]
    reference: Option<DceReference<'a>>,
}

/// The `guild` and `channel` objects of a JSON export.
#[derive(Deserialize)]
struct DceHeader<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow, rename = "type")]
    kind: Option<DceType<'a>>,
}

fn id(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// A file being read, byte by byte through its buffer, with the position of the next byte.
struct Cursor<R> {
    reader: R,
    line: usize,
    column: usize,
}

/// Why a value could not be read.
enum Stop {
    Eof,
    TooLong,
    Io(io::Error),
}

impl<R: BufRead> Cursor<R> {
    fn peek(&mut self) -> Result<Option<u8>, Stop> {
        loop {
            match self.reader.fill_buf() {
                Ok(buf) => return Ok(buf.first().copied()),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(Stop::Io(err)),
            }
        }
    }

    fn bump(&mut self) -> Result<u8, Stop> {
        let byte = self.peek()?.ok_or(Stop::Eof)?;
        self.advance(1)?;
        Ok(byte)
    }

    /// Consumes the next `n` buffered bytes, moving the position past them.
    fn advance(&mut self, n: usize) -> Result<(), Stop> {
        let buf = self.reader.fill_buf().map_err(Stop::Io)?;
        let taken = &buf[..n.min(buf.len())];
        // Columns count characters: UTF-8 continuation bytes are not one.
        let chars = |bytes: &[u8]| bytes.iter().filter(|b| **b & 0xC0 != 0x80).count();
        match taken.iter().rposition(|b| *b == b'\n') {
            Some(last) => {
                self.line += taken.iter().filter(|b| **b == b'\n').count();
                self.column = 1 + chars(&taken[last + 1..]);
            }
            None => self.column += chars(taken),
        }
        let n = taken.len();
        self.reader.consume(n);
        Ok(())
    }

    fn skip_whitespace(&mut self) -> Result<(), Stop> {
        loop {
            let buf = self.reader.fill_buf().map_err(Stop::Io)?;
            let n = buf
                .iter()
                .take_while(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
                .count();
            let more = n == buf.len() && n > 0;
            self.advance(n)?;
            if !more {
                return Ok(());
            }
        }
    }

    /// Reads one JSON value, keeping its bytes in `out` (at most `limit`) when given. Only
    /// the structure is followed here (strings, nesting); serde reads what is kept. The
    /// buffer is scanned a block at a time.
    fn value(&mut self, mut out: Option<&mut Vec<u8>>, limit: usize) -> Result<(), Stop> {
        let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
        loop {
            let buf = self.reader.fill_buf().map_err(Stop::Io)?;
            if buf.is_empty() {
                return Err(Stop::Eof);
            }
            // Where the value ends in this block: after its last byte, or (a scalar) at the
            // delimiter after it, which is not taken.
            let mut end = None;
            let mut i = 0;
            while i < buf.len() {
                let byte = buf[i];
                if in_string {
                    if escaped {
                        escaped = false;
                        i += 1;
                        continue;
                    }
                    // Straight to the string's end or its next escape.
                    let Some(at) = quote_or_backslash(&buf[i..]) else {
                        i = buf.len();
                        continue;
                    };
                    i += at;
                    if buf[i] == b'\\' {
                        escaped = true;
                        i += 1;
                        continue;
                    }
                    in_string = false;
                    i += 1;
                    if depth == 0 {
                        end = Some(i);
                        break;
                    }
                    continue;
                }
                let byte = if depth > 0 {
                    // Inside an object or array only quotes and brackets matter: straight to
                    // the next one.
                    let Some(at) = buf[i..].iter().position(|b| STRUCTURAL[usize::from(*b)]) else {
                        i = buf.len();
                        continue;
                    };
                    i += at;
                    buf[i]
                } else {
                    byte
                };
                match byte {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' if depth == 0 => {
                        end = Some(i);
                        break;
                    }
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            end = Some(i + 1);
                            break;
                        }
                    }
                    b',' | b' ' | b'\t' | b'\r' | b'\n' if depth == 0 => {
                        end = Some(i);
                        break;
                    }
                    _ => {}
                }
                i += 1;
            }
            let n = end.unwrap_or(buf.len());
            if let Some(out) = out.as_mut() {
                if out.len() + n > limit {
                    return Err(Stop::TooLong);
                }
                out.extend_from_slice(&buf[..n]);
            }
            self.advance(n)?;
            if end.is_some() {
                return Ok(());
            }
        }
    }

    fn damage(&self, problem: impl Into<String>) -> Damage {
        Damage {
            line: self.line,
            column: self.column,
            problem: problem.into(),
        }
    }
}

/// The bytes that open or close a string, an object or an array.
const STRUCTURAL: [bool; 256] = {
    let mut table = [false; 256];
    table[b'"' as usize] = true;
    table[b'{' as usize] = true;
    table[b'}' as usize] = true;
    table[b'[' as usize] = true;
    table[b']' as usize] = true;
    table
};

/// The position of the first `"` or `\\` in `bytes`, eight bytes at a time.
fn quote_or_backslash(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS != 0;
    let mut start = 0;
    for chunk in bytes.chunks_exact(8) {
        let x = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        if has_zero_byte(x ^ (ONES * u64::from(b'"')))
            || has_zero_byte(x ^ (ONES * u64::from(b'\\')))
        {
            break;
        }
        start += 8;
    }
    bytes[start..]
        .iter()
        .position(|b| *b == b'"' || *b == b'\\')
        .map(|at| start + at)
}

fn describe(stop: Stop, what: &str, limit: usize) -> String {
    match stop {
        Stop::Eof => format!("the file ends in the middle of {what} (truncated?)"),
        Stop::TooLong => format!(
            "{what} is longer than {} MiB: not a DiscordChatExporter export?",
            limit >> 20
        ),
        Stop::Io(err) => format!("read error: {err}"),
    }
}

/// A DiscordChatExporter JSON export read a message at a time. The `guild` and `channel`
/// objects come before `messages` in every export, so they are known before the first message.
pub struct JsonExport<R> {
    cursor: Cursor<R>,
    guild_id: Option<u64>,
    channel_id: u64,
    in_thread: bool,
    /// Inside the messages array; false once it ended or the file is damaged.
    reading: bool,
    first: bool,
    damage: Option<Damage>,
    buf: Vec<u8>,
}

impl<R: BufRead> JsonExport<R> {
    /// Reads the export's header, up to its first message.
    pub fn new(reader: R) -> Self {
        let mut export = Self {
            cursor: Cursor {
                reader,
                line: 1,
                column: 1,
            },
            guild_id: None,
            channel_id: 0,
            in_thread: false,
            reading: false,
            first: true,
            damage: None,
            buf: Vec::new(),
        };
        if let Err(damage) = export.header() {
            export.damage = Some(damage);
        }
        export
    }

    pub fn guild_id(&self) -> Option<u64> {
        self.guild_id
    }

    pub fn damage(&self) -> Option<&Damage> {
        self.damage.as_ref()
    }

    fn header(&mut self) -> Result<(), Damage> {
        let not_dce = "not a DiscordChatExporter JSON export (no object at the start)";
        let c = &mut self.cursor;
        let fail = |c: &Cursor<R>, stop: Stop, what: &str| {
            c.damage(describe(stop, what, MAX_HEADER_BYTES))
        };
        c.skip_whitespace().map_err(|s| fail(c, s, "the header"))?;
        if c.peek().map_err(|s| fail(c, s, "the header"))? != Some(b'{') {
            return Err(c.damage(not_dce));
        }
        c.bump().map_err(|s| fail(c, s, "the header"))?;
        loop {
            c.skip_whitespace().map_err(|s| fail(c, s, "the header"))?;
            match c.peek().map_err(|s| fail(c, s, "the header"))? {
                Some(b'}') | None => {
                    return Err(
                        c.damage("no \"messages\" array: not a DiscordChatExporter JSON export")
                    )
                }
                Some(b',') => {
                    c.bump().map_err(|s| fail(c, s, "the header"))?;
                    continue;
                }
                Some(b'"') => {}
                Some(other) => {
                    return Err(
                        c.damage(format!("unexpected {:?} in the header", char::from(other)))
                    )
                }
            }
            let mut key = Vec::new();
            c.value(Some(&mut key), MAX_HEADER_BYTES)
                .map_err(|s| fail(c, s, "a key"))?;
            c.skip_whitespace().map_err(|s| fail(c, s, "the header"))?;
            if c.bump().map_err(|s| fail(c, s, "the header"))? != b':' {
                return Err(c.damage("expected ':' after a key"));
            }
            c.skip_whitespace().map_err(|s| fail(c, s, "the header"))?;
            match key.as_slice() {
                b"\"messages\"" => {
                    if c.bump().map_err(|s| fail(c, s, "the header"))? != b'[' {
                        return Err(c.damage("\"messages\" is not an array"));
                    }
                    self.reading = true;
                    return Ok(());
                }
                b"\"guild\"" | b"\"channel\"" => {
                    let (line, column) = (c.line, c.column);
                    let mut value = Vec::new();
                    c.value(Some(&mut value), MAX_HEADER_BYTES)
                        .map_err(|s| fail(c, s, "the header"))?;
                    let header: DceHeader<'_> =
                        serde_json::from_slice(&value).map_err(|e| Damage {
                            line,
                            column,
                            problem: format!(
                                "unreadable header: {}",
                                e.to_string().split(" at line ").next().unwrap_or_default()
                            ),
                        })?;
                    if key == b"\"guild\"" {
                        self.guild_id = id(&header.id);
                    } else {
                        self.channel_id = id(&header.id).unwrap_or(0);
                        // Threads by the channel's type, never by its name (a text channel
                        // may be called "Thread-ideas").
                        self.in_thread = header.kind.is_some_and(|k| {
                            k.is("GuildNewsThread", 10)
                                || k.is("GuildPublicThread", 11)
                                || k.is("GuildPrivateThread", 12)
                        });
                    }
                }
                _ => c.value(None, 0).map_err(|s| fail(c, s, "the header"))?,
            }
        }
    }

    /// The next message; `None` at the end of the messages or at damage (see [`Self::damage`]).
    pub fn next_message(&mut self) -> Option<ImportedMessage> {
        if !self.reading {
            return None;
        }
        match self.read_message() {
            Ok(message) => message,
            Err(damage) => {
                self.reading = false;
                self.damage = Some(damage);
                None
            }
        }
    }

    fn read_message(&mut self) -> Result<Option<ImportedMessage>, Damage> {
        let c = &mut self.cursor;
        let truncated = "the file ends inside the messages array (truncated?)";
        let fail = |c: &Cursor<R>, stop: Stop| match stop {
            Stop::Eof => c.damage(truncated),
            other => c.damage(describe(
                other,
                "the messages array",
                MAX_JSON_MESSAGE_BYTES,
            )),
        };
        c.skip_whitespace().map_err(|s| fail(c, s))?;
        match c.peek().map_err(|s| fail(c, s))? {
            Some(b']') => {
                // The rest (`messageCount`) says nothing Hearth keeps.
                self.reading = false;
                return Ok(None);
            }
            Some(b',') if !self.first => {
                c.bump().map_err(|s| fail(c, s))?;
                c.skip_whitespace().map_err(|s| fail(c, s))?;
            }
            None => return Err(c.damage(truncated)),
            Some(_) if self.first => {}
            Some(other) => {
                return Err(c.damage(format!(
                    "expected ',' or ']' after a message, found {:?}",
                    char::from(other)
                )))
            }
        }
        self.first = false;
        if c.peek().map_err(|s| fail(c, s))?.is_none() {
            return Err(c.damage(truncated));
        }
        let at = c.damage("");
        self.buf.clear();
        if let Err(stop) = c.value(Some(&mut self.buf), MAX_JSON_MESSAGE_BYTES) {
            return Err(Damage {
                problem: describe(stop, "a message", MAX_JSON_MESSAGE_BYTES),
                ..at
            });
        }
        message_from(&self.buf, self.channel_id, self.in_thread, at).map(Some)
    }
}

/// The message in `bytes` (one JSON value), or the damage at `at`.
fn message_from(
    bytes: &[u8],
    channel_id: u64,
    in_thread: bool,
    at: Damage,
) -> Result<ImportedMessage, Damage> {
    let convert = |m: &DceMessage<'_>, at: Damage| {
        dce_message(m, channel_id, in_thread).ok_or_else(|| Damage {
            problem: format!("message {} has an unreadable id or timestamp", m.id),
            ..at
        })
    };
    // Read in place; only a message that does not read so (bytes that are not UTF-8 in a field
    // Hearth reads, or damage) is read again as text with those bytes replaced, as it was read
    // before, for the same outcome and the same words.
    if let Ok(m) = serde_json::from_slice::<DceMessage<'_>>(bytes) {
        return convert(&m, at);
    }
    let text = String::from_utf8_lossy(bytes);
    match serde_json::from_str::<DceMessage<'_>>(&text) {
        Ok(m) => convert(&m, at),
        Err(err) => {
            // serde's own position is relative to the message; ours is the file's.
            let detail = err.to_string();
            Err(Damage {
                problem: format!(
                    "unreadable message: {}",
                    detail.split(" at line ").next().unwrap_or(&detail)
                ),
                ..at
            })
        }
    }
}

/// Reads a whole DCE JSON export held in memory (tests and small inputs).
pub fn parse_json(text: &str) -> Parsed {
    let mut export = JsonExport::new(text.as_bytes());
    let mut messages = Vec::new();
    while let Some(m) = export.next_message() {
        messages.push(m);
    }
    Parsed {
        guild_id: export.guild_id(),
        messages,
        damage: export.damage,
    }
}

fn dce_message(m: &DceMessage<'_>, channel_id: u64, in_thread: bool) -> Option<ImportedMessage> {
    let is = |name, number| m.kind.as_ref().is_some_and(|k| k.is(name, number));
    // Exports without types (none are known) are taken as members' messages.
    let kind = if m.kind.is_none() || is("Default", 0) || is("Reply", 19) {
        MessageKind::Message
    } else if is("GuildMemberJoin", 7) {
        MessageKind::MemberJoin
    } else if is("ThreadCreated", 18) {
        MessageKind::ThreadCreated
    } else {
        MessageKind::Notice
    };
    let reference = m.reference.as_ref();
    Some(ImportedMessage {
        id: id(&m.id)?,
        channel_id,
        author_id: id(&m.author.id)?,
        at: parse_time(&m.timestamp)?,
        is_bot: m.author.is_bot,
        reply_to: reference
            .and_then(|r| r.message_id.as_deref())
            .and_then(id)
            .filter(|_| is("Reply", 19)),
        in_thread,
        kind,
        thread_id: reference
            .and_then(|r| r.channel_id.as_deref())
            .and_then(id)
            .filter(|_| kind == MessageKind::ThreadCreated),
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

/// Counts the bytes read since the last record and refuses to read past a limit, so that a
/// record (or a header) without an end never fills memory.
struct Bounded<R> {
    inner: R,
    since_mark: u64,
    limit: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.since_mark > self.limit {
            return Err(io::Error::other(TOO_LONG));
        }
        let n = self.inner.read(buf)?;
        self.since_mark += n as u64;
        Ok(n)
    }
}

const TOO_LONG: &str = "record too long";

/// The system notices of a CSV export, by the text DiscordChatExporter writes for them (CSV
/// exports have no type column).
fn csv_kind(content: &str) -> MessageKind {
    match content {
        "Joined the server." => MessageKind::MemberJoin,
        "Started a thread." => MessageKind::ThreadCreated,
        "Pinned a message." | "Changed the channel icon." | "Changed the channel name." => {
            MessageKind::Notice
        }
        _ if content.starts_with("Changed the channel name: ") => MessageKind::Notice,
        _ if content.starts_with("Started a call that lasted ")
            && content.ends_with(" minutes.") =>
        {
            MessageKind::Notice
        }
        _ => MessageKind::Message,
    }
}

/// A DCE CSV export of any generation, read a record at a time. CSV exports carry no message
/// ids: ids are derived from channel, author, time and position, so re-importing the same file
/// counts nothing twice.
pub struct CsvExport<R> {
    reader: csv::Reader<Bounded<io::BufReader<R>>>,
    channel_id: u64,
    /// (AuthorID, Date, Content) columns; `None` once the file ended or is damaged.
    columns: Option<(usize, usize, Option<usize>)>,
    index: u64,
    record: csv::ByteRecord,
    damage: Option<Damage>,
}

impl<R: Read> CsvExport<R> {
    /// Reads the header.
    pub fn new(reader: R, channel_id: u64) -> Self {
        let mut buffered = io::BufReader::with_capacity(64 << 10, reader);
        // The delimiter, from the start of the first line.
        let first_line = match buffered.fill_buf() {
            Ok(buf) => {
                let end = buf.iter().position(|b| *b == b'\n').unwrap_or(buf.len());
                String::from_utf8_lossy(&buf[..end]).into_owned()
            }
            Err(_) => String::new(),
        };
        let delimiter = if first_line.contains(';') && !first_line.contains(',') {
            b';'
        } else {
            b','
        };
        let reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(false)
            .from_reader(Bounded {
                inner: buffered,
                since_mark: 0,
                limit: MAX_CSV_RECORD_BYTES,
            });
        let mut export = Self {
            reader,
            channel_id,
            columns: None,
            index: 0,
            record: csv::ByteRecord::new(),
            damage: None,
        };
        match export.reader.byte_headers() {
            Ok(headers) => {
                let column = |name: &str| {
                    headers
                        .iter()
                        .position(|h| String::from_utf8_lossy(h).trim().eq_ignore_ascii_case(name))
                };
                match (column("AuthorID"), column("Date")) {
                    (Some(author), Some(date)) => {
                        export.columns = Some((author, date, column("Content")));
                    }
                    _ => {
                        export.damage = Some(Damage {
                            line: 1,
                            column: 1,
                            problem: "the header has no AuthorID and Date columns: not a DiscordChatExporter CSV export".into(),
                        });
                    }
                }
            }
            Err(err) => export.damage = Some(export.error_damage(&err, "unreadable header")),
        }
        export.reader.get_mut().since_mark = 0;
        export
    }

    pub fn damage(&self) -> Option<&Damage> {
        self.damage.as_ref()
    }

    fn error_damage(&self, err: &csv::Error, what: &str) -> Damage {
        let line = err
            .position()
            .unwrap_or_else(|| self.reader.position())
            .line();
        let problem = match err.kind() {
            csv::ErrorKind::Io(io) if io.to_string() == TOO_LONG => format!(
                "a record longer than {} MiB: not a DiscordChatExporter export?",
                MAX_CSV_RECORD_BYTES >> 20
            ),
            _ => format!("{what}: {err}"),
        };
        Damage {
            line: usize::try_from(line).unwrap_or(0).max(1),
            column: 1,
            problem,
        }
    }

    /// The next message; `None` at the end of the file or at damage (see [`Self::damage`]).
    pub fn next_message(&mut self) -> Option<ImportedMessage> {
        let (author_col, date_col, content_col) = self.columns?;
        match self.reader.read_byte_record(&mut self.record) {
            Ok(false) => {
                self.columns = None;
                None
            }
            Ok(true) => {
                self.reader.get_mut().since_mark = 0;
                let line = self.record.position().map_or(0, |p| p.line());
                let field =
                    |i: usize| String::from_utf8_lossy(self.record.get(i).unwrap_or_default());
                let author = id(&field(author_col));
                let at = parse_time(&field(date_col));
                let kind = content_col.map_or(MessageKind::Message, |c| csv_kind(&field(c)));
                let (Some(author_id), Some(at)) = (author, at) else {
                    self.columns = None;
                    self.damage = Some(Damage {
                        line: usize::try_from(line).unwrap_or(0),
                        column: 1,
                        problem: "unreadable AuthorID or Date".into(),
                    });
                    return None;
                };
                self.index += 1;
                Some(ImportedMessage {
                    id: synthetic_id(self.channel_id, author_id, at, self.index),
                    channel_id: self.channel_id,
                    author_id,
                    at,
                    is_bot: false,
                    reply_to: None,
                    in_thread: false,
                    kind,
                    thread_id: None,
                })
            }
            Err(err) => {
                self.columns = None;
                self.damage = Some(self.error_damage(&err, "unreadable row"));
                None
            }
        }
    }
}

/// Reads a whole DCE CSV export held in memory (tests and small inputs).
pub fn parse_csv(text: &str, channel_id: u64) -> Parsed {
    let mut export = CsvExport::new(text.as_bytes(), channel_id);
    let mut messages = Vec::new();
    while let Some(m) = export.next_message() {
        messages.push(m);
    }
    Parsed {
        guild_id: None,
        messages,
        damage: export.damage,
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
    fn strings_with_escapes_read_the_same_across_buffer_boundaries() {
        // Quotes, backslashes and brackets inside strings, read through buffers of every small
        // size, so that escapes and quotes fall on the boundaries.
        let text = JSON.replace(
            r#""content": "hi""#,
            r#""content": "a \"quoted\" {[}] \\ \\\" end\\", "x": "\u00e9\\""#,
        );
        let whole = parse_json(&text);
        assert_eq!((whole.damage.clone(), whole.messages.len()), (None, 3));
        for capacity in 1..40 {
            let mut export =
                JsonExport::new(io::BufReader::with_capacity(capacity, text.as_bytes()));
            let messages: Vec<ImportedMessage> =
                std::iter::from_fn(|| export.next_message()).collect();
            assert_eq!(export.damage(), None, "capacity {capacity}");
            assert_eq!(messages, whole.messages, "capacity {capacity}");
        }
        for (bytes, found) in [
            (&b"abcdefghijklmnop\\"[..], Some(16)),
            (b"abcdefgh\"ijk", Some(8)),
            (b"abc\"", Some(3)),
            (b"abcdefghijklmnopq", None),
            (b"", None),
        ] {
            assert_eq!(quote_or_backslash(bytes), found);
        }
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
    fn only_default_and_reply_are_messages() {
        let m = |id: u64, kind: &str| {
            format!(
                r#"{{ "id": "{id}", "type": {kind}, "timestamp": "2020-01-02T10:00:00+00:00", "author": {{ "id": "7" }}, "reference": {{ "messageId": null, "channelId": "900" }} }}"#
            )
        };
        let text = format!(
            r#"{{ "guild": {{ "id": "100" }}, "channel": {{ "id": "200", "type": "GuildTextChat", "name": "c" }}, "messages": [{}] }}"#,
            [
                m(1, r#""Default""#),
                m(2, r#""Reply""#),
                m(3, r#""GuildMemberJoin""#),
                m(4, r#""ThreadCreated""#),
                m(5, r#""ChannelPinnedMessage""#),
                m(6, r#""8""#),
                m(7, "19"),
                m(8, "7"),
            ]
            .join(",")
        );
        let parsed = parse_json(&text);
        assert_eq!(parsed.damage, None);
        let kinds: Vec<MessageKind> = parsed.messages.iter().map(|m| m.kind).collect();
        use MessageKind::*;
        assert_eq!(
            kinds,
            [
                Message,
                Message,
                MemberJoin,
                ThreadCreated,
                Notice,
                Notice,
                Message,
                MemberJoin
            ]
        );
        assert_eq!(
            parsed.messages[3].thread_id,
            Some(900),
            "the notice names its thread"
        );
        assert_eq!(parsed.messages[0].thread_id, None);
    }

    #[test]
    fn threads_are_known_by_the_channel_type_not_the_name() {
        let export = |kind: &str, name: &str| {
            format!(
                r#"{{ "guild": {{ "id": "1" }}, "channel": {{ "id": "2", "type": "{kind}", "name": "{name}" }}, "messages": [{{ "id": "3", "type": "Default", "timestamp": "2020-01-02T10:00:00+00:00", "author": {{ "id": "7" }} }}] }}"#
            )
        };
        for (kind, name, in_thread) in [
            ("GuildTextChat", "Thread-ideas", false),
            ("GuildForum", "Threads", false),
            ("GuildPublicThread", "general", true),
            ("GuildPrivateThread", "x", true),
            ("GuildNewsThread", "x", true),
        ] {
            let parsed = parse_json(&export(kind, name));
            assert_eq!(parsed.messages[0].in_thread, in_thread, "{kind} {name}");
        }
    }

    #[test]
    fn csv_notices_are_known_by_their_exact_text() {
        let text = "AuthorID,Author,Date,Content,Attachments,Reactions\n\
            7,a,2018-04-05T09:15:00+00:00,Joined the server.,,\n\
            7,a,2018-04-05T09:16:00+00:00,Pinned a message.,,\n\
            7,a,2018-04-05T09:17:00+00:00,Started a call that lasted 3 minutes.,,\n\
            7,a,2018-04-05T09:18:00+00:00,Started a thread.,,\n\
            7,a,2018-04-05T09:19:00+00:00,Joined the server. Hi all,,\n";
        let kinds: Vec<MessageKind> = parse_csv(text, 1).messages.iter().map(|m| m.kind).collect();
        use MessageKind::*;
        assert_eq!(kinds, [MemberJoin, Notice, Notice, ThreadCreated, Message]);
    }

    #[test]
    fn a_json_message_larger_than_the_limit_is_damage_not_memory() {
        let text = format!(
            r#"{{ "guild": {{ "id": "1" }}, "channel": {{ "id": "2" }}, "messages": [
{{ "id": "3", "type": "Default", "timestamp": "2020-01-02T10:00:00+00:00", "author": {{ "id": "7" }} }},
{{ "id": "4", "content": "{}" }}
] }}"#,
            "x".repeat(MAX_JSON_MESSAGE_BYTES)
        );
        let parsed = parse_json(&text);
        assert_eq!(parsed.messages.len(), 1);
        let damage = parsed.damage.unwrap();
        assert_eq!((damage.line, damage.column), (3, 1));
        assert!(
            damage.problem.contains("longer than 16 MiB"),
            "{}",
            damage.problem
        );
        // Keys other than the header and the messages are skipped, however long.
        let skipped = format!(
            r#"{{ "guild": {{ "id": "1" }}, "notes": "{}", "channel": {{ "id": "2" }}, "messages": [] }}"#,
            "x".repeat(MAX_JSON_MESSAGE_BYTES + 1)
        );
        let parsed = parse_json(&skipped);
        assert_eq!((parsed.damage, parsed.guild_id), (None, Some(1)));
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
