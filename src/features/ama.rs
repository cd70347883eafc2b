//! AMAs (product §5): creating one (its Discord event and its question post), members'
//! questions, answers, and the recap that closes it. The Discord calls themselves (scheduled
//! events, modals) stay in the command; what to create, store, post and answer is decided here.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use chrono_tz::Tz;
use serde_json::{json, Value};
use tracing::warn;

use crate::config::Config;
use crate::db::{self, ama::Ama, ama::Question, Pool};
use crate::domain::settings::ChannelPurpose;
use crate::error::{OrUser, UserError};
use crate::features::settings;
use crate::outbox::{posts, Outbox};

/// Custom id prefixes (followed by an AMA or question id) of the "Ask a question" button, the
/// question form and the upvote button. Posts carry them, so they must never change.
pub const ASK: &str = "hearth:ama:ask:";
pub const QUESTION: &str = "hearth:ama:question:";
pub const VOTE: &str = "hearth:ama:vote:";

/// A manager's `/ama create`, as typed.
#[derive(Clone, Debug)]
pub struct NewAma<'a> {
    pub title: &'a str,
    pub host: u64,
    /// "YYYY-MM-DD HH:MM", server time.
    pub start: &'a str,
    pub duration_minutes: Option<u32>,
    pub description: Option<&'a str>,
}

/// A stored AMA whose Discord event and question post are still to come.
#[derive(Clone, Debug)]
pub struct Draft {
    pub id: i64,
    pub guild_id: u64,
    pub channel: u64,
    pub title: String,
    pub host: u64,
    pub start_at: DateTime<Utc>,
    pub end_at: DateTime<Utc>,
    pub description: Option<String>,
}

/// Why Discord did not create the scheduled event: the whole error for the log, a short
/// reason for the manager.
#[derive(Clone, Debug)]
pub struct EventError {
    pub error: String,
    pub reason: String,
}

/// Stores a new AMA in the guild's AMA channel; refuses (as a [`UserError`]) without an AMA
/// channel or with a start that cannot be read or has passed.
pub async fn create(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
    new: &NewAma<'_>,
    now: i64,
) -> anyhow::Result<Draft> {
    let settings = settings::resolve(pool, config, guild_id).await?;
    let channel = settings
        .channel(ChannelPurpose::Ama)
        .or_user("There is no AMA channel: `/config channel purpose:ama` sets one.")?;
    let (start_at, end_at) = times(new.start, new.duration_minutes, settings.timezone, now)?;
    let id = db::ama::create(
        pool,
        guild_id,
        new.title,
        new.host,
        channel,
        start_at.timestamp(),
        end_at.timestamp(),
        now,
    )
    .await?;
    Ok(Draft {
        id,
        guild_id,
        channel,
        title: new.title.to_owned(),
        host: new.host,
        start_at,
        end_at,
        description: new.description.map(str::to_owned),
    })
}

/// Start and end of an AMA from the manager's start (server time) and length in minutes
/// (default 60, kept between 5 minutes and a day). Discord events must start in the future.
pub fn times(
    start: &str,
    minutes: Option<u32>,
    timezone: Tz,
    now: i64,
) -> Result<(DateTime<Utc>, DateTime<Utc>), UserError> {
    let local = NaiveDateTime::parse_from_str(start.trim(), "%Y-%m-%d %H:%M").map_err(|_| {
        UserError(format!(
            "start: `{start}` is not a date and time like 2026-12-01 18:00 (server time, {}).",
            timezone.name()
        ))
    })?;
    let start_at = crate::domain::schedule::resolve(local, timezone);
    if start_at.timestamp() <= now {
        return Err(UserError(
            "start: that time has passed; Discord events must start in the future.".into(),
        ));
    }
    let minutes = i64::from(minutes.unwrap_or(60).clamp(5, 24 * 60));
    Ok((start_at, start_at + Duration::minutes(minutes)))
}

impl Draft {
    /// The Discord scheduled event to create: external, "located" in the AMA channel (named
    /// when the command knows its name).
    pub fn event_body(&self, channel_name: Option<&str>) -> Value {
        json!({
            "name": format!("AMA: {}", self.title),
            "privacy_level": 2,
            "scheduled_start_time": self.start_at.to_rfc3339(),
            "scheduled_end_time": self.end_at.to_rfc3339(),
            "entity_type": 3,
            "entity_metadata": { "location": format!("#{} on Discord", channel_name.unwrap_or("ama")) },
            "description": self.description.clone().unwrap_or_default(),
        })
    }
}

/// After the scheduled event was (or was not) created: remembers the event, queues the question
/// post with its "Ask a question" button, and returns the manager's answer. A refused event does
/// not stop the AMA: the answer says what permission is missing.
pub async fn announce(
    pool: &Pool,
    outbox: &Outbox,
    draft: &Draft,
    event: Result<u64, EventError>,
) -> anyhow::Result<String> {
    let event_note = match event {
        Ok(event_id) => {
            db::ama::set_event(pool, draft.id, event_id).await?;
            "The Discord event is created.".to_owned()
        }
        Err(err) => {
            warn!(guild.id = draft.guild_id, error = %err.error, "could not create the AMA's scheduled event");
            format!("The Discord event could not be created ({}); give the bot Create Events (`/config doctor`).", err.reason)
        }
    };
    let (id, start) = (draft.id, draft.start_at.timestamp());
    let body = posts::ama_post(
        id,
        &draft.title,
        draft.host,
        start,
        draft.description.as_deref(),
        &format!("{ASK}{id}"),
    );
    let key = format!("ama:{}:{id}", draft.guild_id);
    outbox
        .message(draft.guild_id, draft.channel, "ama", key, body)
        .await?;
    Ok(format!(
        "AMA #{id} **{}** with <@{}> <t:{start}:F>. {event_note} The question post is going up in <#{}>.",
        draft.title, draft.host, draft.channel
    ))
}

/// Open AMAs of a guild, newest first.
pub async fn open_amas(pool: &Pool, guild_id: u64) -> anyhow::Result<Vec<Ama>> {
    let mut all = db::ama::list(pool, guild_id).await?;
    all.retain(|a| a.status == "open");
    Ok(all)
}

/// An AMA of the guild, or a [`UserError`] naming the id.
pub async fn get(pool: &Pool, guild_id: u64, id: i64) -> anyhow::Result<Ama> {
    db::ama::get(pool, guild_id, id)
        .await?
        .or_user(format!("There is no AMA #{id}; `/ama list` shows them."))
}

/// Why no AMA could be picked for a question.
#[derive(Debug, PartialEq, Eq)]
enum NotPicked {
    /// The AMA asked for is not open (closed, or not there at all).
    NotOpen(i64),
    NoneOpen,
    /// Several are open and none was named: "#1 Title, #2 Title".
    Several(String),
}

/// Which open AMA a question is for: the one named, else the only one open.
fn pick(open: &[Ama], wanted: Option<i64>) -> Result<i64, NotPicked> {
    match (wanted, open) {
        (Some(id), _) if open.iter().any(|a| a.id == id) => Ok(id),
        (Some(id), _) => Err(NotPicked::NotOpen(id)),
        (None, [only]) => Ok(only.id),
        (None, []) => Err(NotPicked::NoneOpen),
        (None, several) => Err(NotPicked::Several(
            several
                .iter()
                .map(|a| format!("#{} {}", a.id, a.title))
                .collect::<Vec<_>>()
                .join(", "),
        )),
    }
}

/// The AMA `/ama ask` opens the question form for; a [`UserError`] says why there is none.
pub async fn open_for_question(
    pool: &Pool,
    guild_id: u64,
    wanted: Option<i64>,
) -> anyhow::Result<i64> {
    let open = open_amas(pool, guild_id).await?;
    let message = match pick(&open, wanted) {
        Ok(id) => return Ok(id),
        Err(NotPicked::NotOpen(id)) => match db::ama::get(pool, guild_id, id).await? {
            Some(_) => format!("AMA #{id} is closed; `/ama list` shows the others."),
            None => format!("There is no AMA #{id}; `/ama list` shows them."),
        },
        Err(NotPicked::NoneOpen) => "No AMA is open for questions right now.".to_owned(),
        Err(NotPicked::Several(names)) => {
            format!("Several AMAs are open ({names}): choose one with the `ama` option.")
        }
    };
    Err(UserError(message).into())
}

/// Whether the form's "Anonymous? (yes/no)" answer asks for anonymity.
pub fn wants_anonymity(answer: Option<&str>) -> bool {
    answer.is_some_and(|v| {
        let v = v.trim();
        v.eq_ignore_ascii_case("yes") || v.eq_ignore_ascii_case("y")
    })
}

/// A member's question from the form.
#[derive(Clone, Debug)]
pub struct NewQuestion<'a> {
    pub guild_id: u64,
    pub ama_id: i64,
    pub author: u64,
    pub text: &'a str,
    pub anonymous: bool,
}

/// Stores a question and queues its post with an upvote button (the author named unless
/// anonymous); returns the member's answer, or `None` when the AMA is not open (any more).
pub async fn ask(
    pool: &Pool,
    outbox: &Outbox,
    question: &NewQuestion<'_>,
    now: i64,
) -> anyhow::Result<Option<String>> {
    let Some(ama) = db::ama::get(pool, question.guild_id, question.ama_id)
        .await?
        .filter(|a| a.status == "open")
    else {
        return Ok(None);
    };
    let (author, anonymous) = (question.author, question.anonymous);
    let text = question.text;
    let qid = db::ama::ask(pool, ama.id, author, anonymous, text.trim(), now).await?;
    let body = posts::ama_question(
        qid,
        text,
        (!anonymous).then_some(author),
        &format!("{VOTE}{qid}"),
    );
    let channel = db::from_sql_id(ama.channel_id);
    let key = format!("ama-question:{qid}");
    outbox
        .message(question.guild_id, channel, "ama-question", key, body)
        .await?;
    let note = if anonymous {
        " Members will not see who asked; managers can, for moderation."
    } else {
        ""
    };
    Ok(Some(format!("Your question Q{qid} is in.{note}")))
}

/// A question of the guild's AMAs with its AMA, or a [`UserError`] naming the id.
pub async fn question(pool: &Pool, guild_id: u64, id: i64) -> anyhow::Result<(Ama, Question)> {
    db::ama::question(pool, guild_id, id)
        .await?
        .or_user(format!("There is no question Q{id}."))
}

/// Marks a question answered and queues the question with its answer (`interaction` keeps two
/// answers to one question apart); returns the host's answer.
pub async fn answer(
    pool: &Pool,
    outbox: &Outbox,
    ama: &Ama,
    question: &Question,
    answer: Option<&str>,
    interaction: u64,
    now: i64,
) -> anyhow::Result<String> {
    db::ama::answer(pool, question.id, answer, now).await?;
    let host = db::from_sql_id(ama.host_id);
    let author = (!question.anonymous).then_some(question.author());
    let body = posts::ama_answer(&question.text, author, answer, host);
    let (guild_id, channel) = (
        db::from_sql_id(ama.guild_id),
        db::from_sql_id(ama.channel_id),
    );
    let key = format!("ama-answer:{}:{interaction}", question.id);
    outbox
        .message(guild_id, channel, "ama-answer", key, body)
        .await?;
    Ok(format!("Q{} marked answered.", question.id))
}

/// A closed AMA's Discord event, to end with the given status.
#[derive(Debug, PartialEq, Eq)]
pub struct EventEnd {
    pub event_id: u64,
    /// Discord's scheduled-event status.
    pub status: u8,
}

/// Completed (3) once the event started; cancelled (4) if it never did: Discord's allowed
/// transitions.
pub fn end_status(start_at: i64, now: i64) -> u8 {
    if start_at <= now {
        3
    } else {
        4
    }
}

/// Closes an AMA and queues its recap; returns the Discord event to end, if there is one.
pub async fn close(
    pool: &Pool,
    outbox: &Outbox,
    guild_id: u64,
    id: i64,
    now: i64,
) -> anyhow::Result<Option<EventEnd>> {
    let ama = get(pool, guild_id, id).await?;
    if !db::ama::close(pool, ama.id).await? {
        return Err(UserError(format!("AMA #{id} is already closed.")).into());
    }
    let questions = db::ama::questions(pool, ama.id).await?;
    let body = posts::ama_recap(&ama.title, db::from_sql_id(ama.host_id), &questions);
    let channel = db::from_sql_id(ama.channel_id);
    let key = format!("ama-recap:{}", ama.id);
    outbox
        .message(guild_id, channel, "ama-recap", key, body)
        .await?;
    Ok(ama.event_id.map(|event| EventEnd {
        event_id: db::from_sql_id(event),
        status: end_status(ama.start_at, now),
    }))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn ama(id: i64, title: &str) -> Ama {
        Ama {
            id,
            guild_id: 1,
            title: title.into(),
            host_id: 2,
            channel_id: 3,
            start_at: 0,
            end_at: 0,
            event_id: None,
            status: "open".into(),
        }
    }

    #[test]
    fn a_question_goes_to_the_named_or_the_only_open_ama() {
        let one = [ama(4, "Synths")];
        assert_eq!(pick(&one, None), Ok(4));
        assert_eq!(pick(&one, Some(4)), Ok(4));
        assert_eq!(pick(&one, Some(5)), Err(NotPicked::NotOpen(5)));
        assert_eq!(pick(&[], None), Err(NotPicked::NoneOpen));
        let two = [ama(2, "Drums"), ama(1, "Synths")];
        assert_eq!(
            pick(&two, None),
            Err(NotPicked::Several("#2 Drums, #1 Synths".into()))
        );
        assert_eq!(pick(&two, Some(1)), Ok(1));
    }

    #[test]
    fn anonymity_is_yes_or_y_in_any_case() {
        for yes in ["yes", " YES ", "y", "Y"] {
            assert!(wants_anonymity(Some(yes)), "{yes}");
        }
        for no in ["no", "", "yep", "n"] {
            assert!(!wants_anonymity(Some(no)), "{no}");
        }
        assert!(!wants_anonymity(None));
    }

    #[test]
    fn times_read_server_time_and_clamp_the_length() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let (start, end) = times(" 2026-12-01 18:00 ", None, berlin, 0).unwrap();
        assert_eq!(start.to_rfc3339(), "2026-12-01T17:00:00+00:00");
        assert_eq!(end - start, Duration::minutes(60));
        let (start, end) = times("2026-12-01 18:00", Some(1), berlin, 0).unwrap();
        assert_eq!(end - start, Duration::minutes(5));
        let (start, end) = times("2026-12-01 18:00", Some(100_000), berlin, 0).unwrap();
        assert_eq!(end - start, Duration::hours(24));
    }

    #[test]
    fn times_refuse_what_cannot_be_read_or_has_passed() {
        let err = times("tomorrow", None, chrono_tz::UTC, 0).unwrap_err();
        assert_eq!(
            err.0,
            "start: `tomorrow` is not a date and time like 2026-12-01 18:00 (server time, UTC)."
        );
        let start = Utc
            .with_ymd_and_hms(2026, 12, 1, 18, 0, 0)
            .unwrap()
            .timestamp();
        assert!(times("2026-12-01 18:00", None, chrono_tz::UTC, start - 1).is_ok());
        let err = times("2026-12-01 18:00", None, chrono_tz::UTC, start).unwrap_err();
        assert!(err.0.contains("that time has passed"), "{err}");
    }

    #[test]
    fn an_event_ends_completed_once_started_else_cancelled() {
        assert_eq!(end_status(100, 100), 3);
        assert_eq!(end_status(100, 200), 3);
        assert_eq!(end_status(100, 99), 4);
    }

    #[test]
    fn the_event_is_located_in_the_ama_channel() {
        let draft = Draft {
            id: 1,
            guild_id: 1,
            channel: 3,
            title: "Building synths".into(),
            host: 2,
            start_at: Utc.with_ymd_and_hms(2026, 12, 1, 17, 0, 0).unwrap(),
            end_at: Utc.with_ymd_and_hms(2026, 12, 1, 18, 0, 0).unwrap(),
            description: None,
        };
        let body = draft.event_body(Some("town-hall"));
        assert_eq!(body["name"], "AMA: Building synths");
        assert_eq!(body["entity_metadata"]["location"], "#town-hall on Discord");
        assert_eq!(body["scheduled_end_time"], "2026-12-01T18:00:00+00:00");
        assert_eq!(body["description"], "");
        let body = draft.event_body(None);
        assert_eq!(body["entity_metadata"]["location"], "#ama on Discord");
    }
}
