//! Surveys and NPS (product §10): a wave is a post with an "Answer" button; the 0-10 answer is a
//! select menu, the comment a form. Answers are stored under a key made of the wave's salt and
//! the member (no member id), so a second answer replaces the first while no row names anyone;
//! closing the wave deletes the salt. Managers see only aggregates and comments without names;
//! a respondent who asks to be contacted is named, and a detractor's comment then becomes a
//! feedback item (§5).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rand::distributions::{Alphanumeric, DistString};
use rand::seq::SliceRandom;
use serde_json::{json, Value};

use crate::config::Config;
use crate::db::{self, surveys::Answer, Pool};
use crate::domain::analytics::day_number;
use crate::domain::surveys::{self as rules, Nps};
use crate::error::{OrUser, UserError};
use crate::features::{feedback::NewItem, settings};
use crate::outbox::{self, posts};

/// Custom ids, followed by a wave id (and, for the form, `:{score}`). Posts carry them.
pub const OPEN: &str = "hearth:survey:open:";
pub const SCORE: &str = "hearth:survey:score:";
pub const FORM: &str = "hearth:survey:form:";
/// A custom survey's menus (`{wave}:{question}`), its Finish button and text form (`{wave}`).
pub const PICK: &str = "hearth:survey:pick:";
pub const FINISH: &str = "hearth:survey:finish:";
pub const TEXTS: &str = "hearth:survey:texts:";

pub const NPS_QUESTION: &str =
    "How likely are you to recommend this community to a friend? (0-10, and one thing we could do better.)";
pub const NPS_FOLLOW_UP: &str = "What is one thing we could do better?";

/// Newcomers (the segment) joined less than this long before answering.
const NEWCOMER_SECS: i64 = 30 * 86_400;

/// A manager's `/survey nps`.
#[derive(Clone, Debug)]
pub struct NewNps<'a> {
    pub guild_id: u64,
    /// Where the wave is posted (and, for a DM sample, where the survey belongs).
    pub channel: u64,
    pub created_by: u64,
    pub title: Option<&'a str>,
    /// Ask this many members active in the last 30 days by DM instead of posting.
    pub sample: Option<u32>,
    /// Open a new wave on this schedule (`quarterly`, `monthly`, `fri 17:00`, `cron ...`).
    pub every: Option<&'a str>,
}

/// Scheduler job kind of surveys with waves on a schedule (target: the survey id).
pub const WAVE_JOB: &str = "survey-wave";

/// DMs of a sample go out this far apart: never everyone at once.
const DM_SPACING_MS: i64 = 2_000;

/// A new NPS survey and its first wave (and, with `every`, its schedule of waves); returns the
/// manager's answer.
pub async fn start_nps(
    pool: &Pool,
    config: &Config,
    outbox: &outbox::Outbox,
    new: &NewNps<'_>,
    now: i64,
) -> anyhow::Result<String> {
    let title = new.title.map_or("Community check-in", str::trim);
    let every = new
        .every
        .map(rules::normalise_every)
        .transpose()
        .map_err(|e| UserError(format!("every: {e}")))?;
    let id = db::surveys::create(
        pool,
        &db::surveys::NewSurvey {
            guild_id: new.guild_id,
            kind: "nps",
            title,
            channel_id: new.channel,
            every: every.as_deref(),
            sample: new.sample,
            questions: None,
            created_by: new.created_by,
            event_id: None,
        },
        now,
    )
    .await?;
    let survey = db::surveys::by_id(pool, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("survey {id} vanished after its creation"))?;
    let (wave, sampled) = open_wave(pool, outbox, &survey, now).await?;
    let place = match new.sample {
        Some(_) => format!("by DM to {sampled} member(s) active in the last 30 days, {} s apart (members with closed DMs are skipped, never pinged in public)", DM_SPACING_MS / 1000),
        None => format!("in <#{}>", new.channel),
    };
    let next = match schedule_next_wave(pool, config, &survey, now).await? {
        Some(at) => format!(" The next wave opens <t:{at}:F> (this one closes then)."),
        None => String::new(),
    };
    Ok(format!(
        "Survey #{id} is open (wave {wave}) {place}: the NPS question and one comment, anonymous to everyone, managers included.{next} `/survey results id:{id}` shows the figures; `/survey close id:{id}` ends the wave."
    ))
}

/// Points the survey's wave job at its next wave (none without `every`); returns when.
async fn schedule_next_wave(
    pool: &Pool,
    config: &Config,
    survey: &db::surveys::Survey,
    now: i64,
) -> anyhow::Result<Option<i64>> {
    let Some(every) = &survey.every else {
        return Ok(None);
    };
    let tz = settings::timezone(pool, config, survey.guild()).await?;
    let schedule = crate::domain::schedule::Schedule::from_text(every)
        .map_err(|e| anyhow::anyhow!("survey {}: {e}", survey.id))?;
    let next = DateTime::<Utc>::from_timestamp(now, 0)
        .and_then(|t| schedule.next_after(t, tz))
        .map(|t| t.timestamp());
    db::jobs::upsert(pool, survey.guild(), WAVE_JOB, survey.id, next).await?;
    Ok(next)
}

/// A scheduled wave is due: the open one closes and the next opens. Returns whether a wave was
/// opened and when the one after is due.
pub async fn next_wave(
    pool: &Pool,
    config: &Config,
    outbox: &outbox::Outbox,
    survey_id: i64,
    now: i64,
) -> anyhow::Result<(bool, Option<i64>)> {
    let Some(survey) = db::surveys::by_id(pool, survey_id).await? else {
        return Ok((false, None));
    };
    for wave in db::surveys::waves(pool, survey.id).await? {
        if wave.is_open() {
            db::surveys::close_wave(pool, wave.id, now).await?;
        }
    }
    open_wave(pool, outbox, &survey, now).await?;
    Ok((true, schedule_next_wave(pool, config, &survey, now).await?))
}

/// Opens a wave: its salt, and either its post with the Answer button (reaching the members
/// active in the last 30 days) or DMs to a random sample of them (reaching those whose DM
/// arrives), spaced out. Returns the wave and how many were sampled.
async fn open_wave(
    pool: &Pool,
    outbox: &outbox::Outbox,
    survey: &db::surveys::Survey,
    now: i64,
) -> anyhow::Result<(i64, usize)> {
    let (guild_id, channel) = (survey.guild(), survey.channel());
    let since = now - 30 * 86_400;
    let salt = Alphanumeric.sample_string(&mut rand::thread_rng(), 32);
    let Some(sample) = survey.sample.and_then(|s| usize::try_from(s).ok()) else {
        let reached = db::surveys::active_members(pool, guild_id, since).await?;
        let wave = db::surveys::open_wave(pool, survey.id, &salt, (reached, 0), now).await?;
        let body = wave_post(survey, wave);
        let key = format!("survey:{wave}:post");
        outbox
            .message(guild_id, channel, "survey", key, body)
            .await?;
        return Ok((wave, 0));
    };
    let active = db::surveys::active_member_ids(pool, guild_id, since).await?;
    let picked: Vec<u64> = active
        .choose_multiple(&mut rand::thread_rng(), sample)
        .copied()
        .collect();
    let sampled = i64::try_from(picked.len()).unwrap_or(i64::MAX);
    let mut tx = pool.begin().await?;
    let wave = db::surveys::open_wave(&mut *tx, survey.id, &salt, (0, sampled), now).await?;
    let body = wave_post(survey, wave);
    for (i, user) in picked.iter().enumerate() {
        let post = db::outbox::NewPost {
            guild_id,
            channel_id: channel,
            kind: "survey-dm".into(),
            dedup_key: format!("survey:{wave}:dm:{user}"),
            // Closed DMs: nothing else (never a public ping); the member counts as not reached.
            body: outbox::action_json(&outbox::Action::DirectMessage {
                user_id: *user,
                body: body.clone(),
                fallback_to_thread: false,
                fallback_channel: None,
            }),
            not_before_ms: Some(now * 1000 + DM_SPACING_MS * i64::try_from(i).unwrap_or(0)),
        };
        outbox::enqueue_in(&mut *tx, &post).await?;
    }
    tx.commit().await?;
    outbox.wake();
    Ok((wave, picked.len()))
}

/// A wave's post (or DM): the NPS question, or how many questions a custom survey asks.
fn wave_post(survey: &db::surveys::Survey, wave: i64) -> Value {
    let open = format!("{OPEN}{wave}");
    match questions_of(survey) {
        Some(questions) => posts::survey_post(
            &survey.title,
            &format!("{} short question(s).", questions.len()),
            &open,
        ),
        None => posts::survey_post(&survey.title, NPS_QUESTION, &open),
    }
}

/// A custom survey's questions; `None` for NPS.
pub fn questions_of(survey: &db::surveys::Survey) -> Option<Vec<rules::Question>> {
    serde_json::from_str(survey.questions.as_deref()?).ok()
}

/// The day number (as rollups count days) of `at` in `tz`.
fn local_day(at: i64, tz: Tz) -> i64 {
    day_number(crate::domain::schedule::local_date(at, tz))
}

/// An open wave and its guild; a [`UserError`] otherwise. `guild_id` is the server the button
/// was clicked in (none in a DM).
pub async fn open_wave_of(
    pool: &Pool,
    guild_id: Option<u64>,
    wave_id: i64,
    now: i64,
) -> anyhow::Result<(db::surveys::Wave, u64)> {
    let wave = db::surveys::wave(pool, wave_id)
        .await?
        .filter(|w| w.is_open_at(now))
        .or_user("This survey is closed. Thank you all the same!")?;
    let survey_guild = db::surveys::guild_of(pool, wave.survey_id)
        .await?
        .map(db::from_sql_id)
        .or_user("This survey no longer exists.")?;
    if guild_id.is_some_and(|g| g != survey_guild) {
        return Err(UserError("This survey is not from this server.".into()).into());
    }
    Ok((wave, survey_guild))
}

/// What a member's answer led to.
#[derive(Clone, Debug)]
pub struct Answered {
    /// The ephemeral thanks.
    pub reply: String,
    /// A detractor who asked to be contacted: their comment as a feedback item to open.
    pub feedback: Option<NewItem>,
    /// The survey's server (the answer may come from a DM).
    pub guild_id: u64,
}

/// A member's answer from the form: the 0-10 score chosen in the menu, an optional comment,
/// and whether they want to be contacted (which names them; nothing else does).
#[allow(clippy::too_many_arguments)]
pub async fn answer(
    pool: &Pool,
    config: &Config,
    guild_id: Option<u64>,
    wave_id: i64,
    user: u64,
    score: u8,
    comment: Option<&str>,
    contact: bool,
    now: i64,
) -> anyhow::Result<Answered> {
    if score > 10 {
        return Err(UserError("The score goes from 0 to 10.".into()).into());
    }
    let (wave, guild_id) = open_wave_of(pool, guild_id, wave_id, now).await?;
    let salt = wave.salt.clone().or_user("This survey is closed.")?;
    let joined = db::surveys::first_joined_at(pool, guild_id, user).await?;
    let comment = comment.map(str::trim).filter(|c| !c.is_empty());
    let tz = settings::timezone(pool, config, guild_id).await?;
    let answer = Answer {
        score: Some(i64::from(score)),
        comment: comment.map(str::to_owned),
        newcomer: joined.is_some_and(|j| now - j < NEWCOMER_SECS),
        answers: None,
    };
    let key = rules::respondent_key(&salt, user);
    db::surveys::save_answer(pool, wave.id, &key, &answer, local_day(now, tz)).await?;
    let detractor = rules::group(score) == rules::Group::Detractor;
    let feedback = match (contact, detractor, comment) {
        (true, true, Some(text)) => Some(NewItem::submitted(
            user,
            "other",
            &posts::truncate(&format!("Survey: {text}"), 90),
            &format!("From survey #{} wave {} (score {score}/10); the member asked to be contacted:\n> {text}", wave.survey_id, wave.number),
            false,
        )),
        _ => None,
    };
    if contact {
        db::surveys::add_contact(pool, wave.id, user, None).await?;
    }
    let reply = if contact {
        "Thank you! You asked to be contacted, so a manager may reach out about your answer."
    } else {
        "Thank you! Your answer is anonymous: nobody, managers included, can see it is yours. Answering again replaces it."
    };
    Ok(Answered {
        reply: reply.to_owned(),
        feedback,
        guild_id,
    })
}

/// Records the feedback item made of a contact's comment.
pub async fn contact_item(pool: &Pool, wave_id: i64, user: u64, item: i64) -> anyhow::Result<()> {
    db::surveys::add_contact(pool, wave_id, user, Some(item)).await?;
    Ok(())
}

/// Closes the survey's open wave (its salt is deleted: its answers can no longer be traced).
pub async fn close(pool: &Pool, guild_id: u64, survey_id: i64, now: i64) -> anyhow::Result<String> {
    let survey = db::surveys::get(pool, guild_id, survey_id)
        .await?
        .or_user(format!("There is no survey #{survey_id} in this server."))?;
    let open = db::surveys::waves(pool, survey.id)
        .await?
        .into_iter()
        .filter(db::surveys::Wave::is_open)
        .collect::<Vec<_>>();
    if open.is_empty() {
        return Err(UserError(format!("Survey #{survey_id} has no open wave.")).into());
    }
    for wave in &open {
        db::surveys::close_wave(pool, wave.id, now).await?;
    }
    Ok(format!(
        "Survey #{survey_id} is closed; its answers can no longer be traced to anyone. `/survey results id:{survey_id}` shows the figures."
    ))
}

/// One wave's figures.
#[derive(Clone, Debug)]
pub struct WaveResult {
    pub survey: db::surveys::Survey,
    pub wave: db::surveys::Wave,
    pub nps: Nps,
    pub newcomers: Option<Nps>,
    pub veterans: Option<Nps>,
    pub comments: Vec<String>,
}

impl WaveResult {
    pub fn response_rate(&self) -> Option<f64> {
        rules::response_rate(
            self.nps.responses,
            usize::try_from(self.wave.reached).unwrap_or(0),
        )
    }

    /// The entry of `hearth report`'s `surveys` array.
    pub fn json(&self) -> Value {
        json!({
            "id": self.survey.id,
            "wave": self.wave.number,
            "date": DateTime::<Utc>::from_timestamp(self.wave.opened_at, 0).map(|t| t.date_naive().to_string()),
            "responses": self.nps.responses,
            "reached": self.wave.reached,
            "nps": self.nps.score().map(|s| (s * 10.0).round() / 10.0),
            "promoters": self.nps.promoters,
            "passives": self.nps.passives,
            "detractors": self.nps.detractors,
        })
    }
}

async fn wave_result(
    pool: &Pool,
    survey: &db::surveys::Survey,
    mut wave: db::surveys::Wave,
) -> anyhow::Result<WaveResult> {
    if wave.sampled > 0 {
        wave.reached = db::surveys::delivered_dms(pool, wave.id).await?;
    }
    let answers = db::surveys::answers(pool, wave.id).await?;
    let scores = |filter: &dyn Fn(&Answer) -> bool| -> Vec<u8> {
        answers
            .iter()
            .filter(|a| filter(a))
            .filter_map(|a| a.score.and_then(|s| u8::try_from(s).ok()))
            .collect()
    };
    Ok(WaveResult {
        survey: survey.clone(),
        nps: Nps::of(&scores(&|_| true)),
        newcomers: rules::segment(&scores(&|a| a.newcomer)),
        veterans: rules::segment(&scores(&|a| !a.newcomer)),
        comments: answers.iter().filter_map(|a| a.comment.clone()).collect(),
        wave,
    })
}

/// A custom survey's wave summarised: how many answered, and each question with its summary.
#[derive(Clone, Debug)]
pub struct CustomSummary {
    pub respondents: usize,
    pub questions: Vec<(rules::Question, rules::Summary)>,
}

fn custom_summary(questions: &[rules::Question], answers: &[Answer]) -> CustomSummary {
    let rows: Vec<Vec<Option<String>>> = answers
        .iter()
        .filter_map(|a| serde_json::from_str(a.answers.as_deref()?).ok())
        .collect();
    CustomSummary {
        respondents: rows.len(),
        questions: questions
            .iter()
            .cloned()
            .zip(rules::summarise(questions, &rows))
            .collect(),
    }
}

/// A survey with what `/survey results` reads of it: every wave's figures, oldest first, and
/// for a custom survey its latest wave summarised. Aggregates and comments only, never a name.
#[derive(Clone, Debug)]
pub struct SurveyResults {
    pub survey: db::surveys::Survey,
    pub waves: Vec<WaveResult>,
    pub custom: Option<CustomSummary>,
}

async fn survey_results(pool: &Pool, survey: db::surveys::Survey) -> anyhow::Result<SurveyResults> {
    let mut waves = Vec::new();
    for wave in db::surveys::waves(pool, survey.id).await? {
        waves.push(wave_result(pool, &survey, wave).await?);
    }
    let custom = match (questions_of(&survey), waves.last()) {
        (Some(questions), Some(latest)) => Some(custom_summary(
            &questions,
            &db::surveys::answers(pool, latest.wave.id).await?,
        )),
        _ => None,
    };
    Ok(SurveyResults {
        survey,
        waves,
        custom,
    })
}

/// The results of every survey of the server, newest first, events' feedback surveys left
/// out (their figures are the events'): the dashboard's surveys page.
pub async fn all_results(pool: &Pool, guild_id: u64) -> anyhow::Result<Vec<SurveyResults>> {
    let mut all = Vec::new();
    for survey in db::surveys::list(pool, guild_id).await? {
        if survey.event_id.is_none() {
            all.push(survey_results(pool, survey).await?);
        }
    }
    Ok(all)
}

/// `/survey results`: the latest wave's NPS with its margin of error, the groups, the response
/// rate, newcomers vs veterans (each hidden under 5 answers), comments without names, and the
/// trend over the waves.
pub async fn results(pool: &Pool, guild_id: u64, survey_id: i64) -> anyhow::Result<Results> {
    let survey = db::surveys::get(pool, guild_id, survey_id)
        .await?
        .or_user(format!("There is no survey #{survey_id} in this server."))?;
    let SurveyResults {
        survey,
        waves: results,
        custom,
    } = survey_results(pool, survey).await?;
    let latest = results.last().or_user("This survey has no wave yet.")?;
    if let Some(custom) = &custom {
        let mut lines = vec![format!(
            "**Survey #{}: {}** · wave {} ({}) · reached {}",
            survey.id,
            survey.title,
            latest.wave.number,
            if latest.wave.is_open() {
                "open"
            } else {
                "closed"
            },
            latest.wave.reached
        )];
        lines.extend(custom_lines(custom));
        return Ok(Results {
            text: posts::truncate(&lines.join("\n"), posts::MESSAGE_LIMIT),
            chart: None,
        });
    }
    let pct = |r: Option<f64>| r.map_or_else(|| "n/a".to_owned(), |r| format!("{:.0}%", r * 100.0));
    let segment = |s: &Option<Nps>| {
        s.as_ref().map_or_else(
            || format!("hidden (under {} answers)", rules::MIN_SEGMENT_RESPONSES),
            Nps::shown,
        )
    };
    let n = &latest.nps;
    let mut lines = vec![
        format!(
            "**Survey #{}: {}** · wave {} ({})",
            survey.id,
            survey.title,
            latest.wave.number,
            if latest.wave.is_open() { "open" } else { "closed" }
        ),
        format!("NPS **{}** (95% margin of error)", n.shown()),
        format!(
            "Promoters {} · passives {} · detractors {} · {} answer(s) from {} members reached: response rate {}",
            n.promoters,
            n.passives,
            n.detractors,
            n.responses,
            latest.wave.reached,
            pct(latest.response_rate())
        ),
        format!("Newcomers: {} · veterans: {}", segment(&latest.newcomers), segment(&latest.veterans)),
    ];
    if results.len() > 1 {
        let trend: Vec<String> = results
            .iter()
            .map(|r| {
                format!(
                    "wave {}: {}",
                    r.wave.number,
                    r.nps
                        .score()
                        .map_or_else(|| "n/a".to_owned(), |s| format!("{s:+.0}"))
                )
            })
            .collect();
        lines.push(format!("Trend: {}", trend.join(" → ")));
    }
    if !latest.comments.is_empty() {
        lines.push("Comments (no names):".into());
        lines.extend(
            latest
                .comments
                .iter()
                .map(|c| format!("> {}", c.replace('\n', " "))),
        );
    }
    let points: Vec<(i64, f64, f64)> = results
        .iter()
        .filter_map(|r| Some((r.wave.number, r.nps.score()?, r.nps.margin_of_error()?)))
        .collect();
    let chart = if points.is_empty() {
        None
    } else {
        Some(crate::features::stats::chart::nps_png(
            &survey.title,
            &points,
        )?)
    };
    Ok(Results {
        text: posts::truncate(&lines.join("\n"), posts::MESSAGE_LIMIT),
        chart,
    })
}

/// `/survey results`: the text and, once a wave has answers, the trend as a PNG.
#[derive(Clone, Debug)]
pub struct Results {
    pub text: String,
    pub chart: Option<Vec<u8>>,
}

/// `/survey list`.
pub async fn list(pool: &Pool, guild_id: u64) -> anyhow::Result<String> {
    let mut lines = Vec::new();
    for survey in db::surveys::list(pool, guild_id).await? {
        let waves = db::surveys::waves(pool, survey.id).await?;
        let open = waves.iter().any(db::surveys::Wave::is_open);
        lines.push(format!(
            "**#{}** {} · {} wave(s) · {} · <#{}>",
            survey.id,
            survey.title,
            waves.len(),
            if open { "open" } else { "closed" },
            survey.channel()
        ));
    }
    Ok(if lines.is_empty() {
        "No surveys yet. `/survey nps` starts one.".to_owned()
    } else {
        posts::truncate(&lines.join("\n"), posts::MESSAGE_LIMIT)
    })
}

/// `hearth report`'s `surveys` array: waves opened on the report's days.
pub async fn report_json(
    pool: &Pool,
    guild_id: u64,
    timezone: Tz,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> anyhow::Result<Value> {
    let (start, end) = crate::domain::schedule::days_span(from, to, timezone);
    let mut entries = Vec::new();
    for wave in db::surveys::waves_between(pool, guild_id, start, end).await? {
        let Some(survey) = db::surveys::get(pool, guild_id, wave.survey_id)
            .await?
            .filter(|s| s.event_id.is_none())
        else {
            continue;
        };
        entries.push(wave_result(pool, &survey, wave).await?.json());
    }
    Ok(Value::Array(entries))
}

/// The monthly report's "NPS" field from `report_json`'s array: the last wave of the month.
pub fn month_field(surveys: &Value) -> Option<Value> {
    let last = surveys.as_array()?.last()?;
    let nps = last["nps"]
        .as_f64()
        .map_or_else(|| "n/a".to_owned(), |s| format!("{s:+.0}"));
    let (responses, reached) = (last["responses"].as_u64()?, last["reached"].as_u64()?);
    let rate = rules::response_rate(
        usize::try_from(responses).ok()?,
        usize::try_from(reached).ok()?,
    )
    .map_or_else(|| "n/a".to_owned(), |r| format!("{:.0}%", r * 100.0));
    Some(json!({
        "name": "NPS",
        "value": format!("{nps} from {responses} answer(s) · response rate {rate}"),
        "inline": true,
    }))
}

/// A manager's `/survey create`: up to five questions (`scale: …`, `choice: … | a | b`, `text: …`).
#[derive(Clone, Debug)]
pub struct NewCustom<'a> {
    pub guild_id: u64,
    pub channel: u64,
    pub created_by: u64,
    pub title: &'a str,
    pub questions: Vec<&'a str>,
    pub sample: Option<u32>,
    pub every: Option<&'a str>,
}

/// A new custom survey and its first wave; returns the manager's answer.
pub async fn start_custom(
    pool: &Pool,
    config: &Config,
    outbox: &outbox::Outbox,
    new: &NewCustom<'_>,
    now: i64,
) -> anyhow::Result<String> {
    let questions =
        rules::parse_questions(&new.questions).map_err(|e| UserError(format!("questions: {e}")))?;
    let every = new
        .every
        .map(rules::normalise_every)
        .transpose()
        .map_err(|e| UserError(format!("every: {e}")))?;
    let json = serde_json::to_string(&questions)?;
    let id = db::surveys::create(
        pool,
        &db::surveys::NewSurvey {
            guild_id: new.guild_id,
            kind: "custom",
            title: new.title.trim(),
            channel_id: new.channel,
            every: every.as_deref(),
            sample: new.sample,
            questions: Some(&json),
            created_by: new.created_by,
            event_id: None,
        },
        now,
    )
    .await?;
    let survey = db::surveys::by_id(pool, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("survey {id} vanished after its creation"))?;
    let (wave, sampled) = open_wave(pool, outbox, &survey, now).await?;
    schedule_next_wave(pool, config, &survey, now).await?;
    let place = if new.sample.is_some() {
        format!("by DM to {sampled} member(s)")
    } else {
        format!("in <#{}>", new.channel)
    };
    Ok(format!(
        "Survey #{id} is open (wave {wave}) {place} with {} question(s), anonymous to everyone, managers included.",
        questions.len()
    ))
}

/// A custom survey's open wave and questions, for a member answering it.
pub async fn custom_wave(
    pool: &Pool,
    guild_id: Option<u64>,
    wave_id: i64,
    now: i64,
) -> anyhow::Result<Option<(db::surveys::Wave, u64, Vec<rules::Question>)>> {
    let (wave, guild) = open_wave_of(pool, guild_id, wave_id, now).await?;
    let Some(survey) = db::surveys::get(pool, guild, wave.survey_id).await? else {
        return Ok(None);
    };
    Ok(questions_of(&survey).map(|q| (wave, guild, q)))
}

/// Saves some of a member's answers to a custom survey's wave (a menu pick, or the form's text
/// answers): `(question index, value)`. Earlier answers to other questions stay. `signed`
/// (from the form): whether the member puts their name to their answers (`None`: unchanged).
#[allow(clippy::too_many_arguments)]
pub async fn save_custom(
    pool: &Pool,
    config: &Config,
    guild_id: Option<u64>,
    wave_id: i64,
    user: u64,
    values: &[(usize, String)],
    signed: Option<bool>,
    now: i64,
) -> anyhow::Result<()> {
    let (wave, guild, questions) = custom_wave(pool, guild_id, wave_id, now)
        .await?
        .or_user("This is not a custom survey.")?;
    let salt = wave.salt.clone().or_user("This survey is closed.")?;
    let key = rules::respondent_key(&salt, user);
    let previous = db::surveys::answer_of(pool, wave.id, &key).await?;
    let mut answers: Vec<Option<String>> = previous
        .as_ref()
        .and_then(|a| a.answers.as_deref())
        .and_then(|a| serde_json::from_str(a).ok())
        .unwrap_or_default();
    answers.resize(questions.len(), None);
    for (index, value) in values {
        let question = questions
            .get(*index)
            .or_user("There is no such question.")?;
        let value = value.trim();
        if !question.accepts(value) {
            return Err(
                UserError(format!("`{value}` does not answer “{}”.", question.text())).into(),
            );
        }
        answers[*index] = (!value.is_empty()).then(|| value.to_owned());
    }
    let joined = db::surveys::first_joined_at(pool, guild, user).await?;
    let tz = settings::timezone(pool, config, guild).await?;
    let answer = Answer {
        score: None,
        comment: None,
        newcomer: joined.is_some_and(|j| now - j < NEWCOMER_SECS),
        answers: Some(serde_json::to_string(&answers)?),
    };
    let mut tx = pool.begin().await?;
    db::surveys::save_answer(&mut *tx, wave.id, &key, &answer, local_day(now, tz)).await?;
    if let Some(signed) = signed {
        db::surveys::sign(&mut *tx, wave.id, user, signed.then_some(key.as_str())).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The results lines of a custom survey's wave.
fn custom_lines(custom: &CustomSummary) -> Vec<String> {
    let mut lines = vec![format!("{} respondent(s)", custom.respondents)];
    for (question, summary) in &custom.questions {
        lines.push(format!("**{}**", question.text()));
        match summary {
            rules::Summary::Scale { average, counts } => lines.push(format!(
                "average {} (1-5) · {}",
                average.map_or_else(|| "n/a".to_owned(), |a| format!("{a:.1}")),
                counts
                    .iter()
                    .enumerate()
                    .map(|(i, c)| format!("{}: {c}", i + 1))
                    .collect::<Vec<_>>()
                    .join(" · ")
            )),
            rules::Summary::Choice { counts } => lines.push(
                counts
                    .iter()
                    .map(|(o, c)| format!("{o}: {c}"))
                    .collect::<Vec<_>>()
                    .join(" · "),
            ),
            rules::Summary::Text { answers } => lines.extend(
                answers
                    .iter()
                    .map(|a| format!("> {}", a.replace('\n', " "))),
            ),
        }
    }
    lines
}

/// Scheduler job kind of waves that close by themselves (target: the wave id).
pub const CLOSE_JOB: &str = "survey-close";

/// A wave's time to close has come: it closes (its salt is deleted). Returns whether it was
/// still open.
pub async fn close_due(pool: &Pool, wave_id: i64, now: i64) -> anyhow::Result<bool> {
    Ok(db::surveys::close_wave(pool, wave_id, now).await?)
}

/// An event's feedback survey (§9 on this engine): what the event gives it.
#[derive(Clone, Debug)]
pub struct EventSurvey<'a> {
    pub guild_id: u64,
    pub event_id: i64,
    pub title: &'a str,
    /// The event's thread (or its card's channel), where the request is posted.
    pub channel: u64,
    pub created_by: u64,
    /// Attendees asked.
    pub reached: usize,
    pub closes_at: i64,
}

/// Questions of an event's feedback: a 1-5 scale and a comment.
pub fn event_questions() -> Vec<rules::Question> {
    vec![
        rules::Question::Scale {
            text: "How was it?".into(),
        },
        rules::Question::Text {
            text: "Anything to add?".into(),
        },
    ]
}

/// The wave of an event's feedback survey, created with its survey on the first call (the
/// same wave after a crash and a second run), closing by itself at `closes_at`.
pub async fn open_event_wave(pool: &Pool, new: &EventSurvey<'_>, now: i64) -> anyhow::Result<i64> {
    let mut tx = pool.begin().await?;
    let survey_id = match db::surveys::by_event(&mut *tx, new.event_id).await? {
        Some(survey) => survey.id,
        None => {
            let questions = serde_json::to_string(&event_questions())?;
            db::surveys::create(
                &mut *tx,
                &db::surveys::NewSurvey {
                    guild_id: new.guild_id,
                    kind: "event",
                    title: new.title,
                    channel_id: new.channel,
                    every: None,
                    sample: None,
                    questions: Some(&questions),
                    created_by: new.created_by,
                    event_id: Some(new.event_id),
                },
                now,
            )
            .await?
        }
    };
    let wave = match db::surveys::waves(&mut *tx, survey_id).await?.first() {
        Some(wave) => wave.id,
        None => {
            let salt = Alphanumeric.sample_string(&mut rand::thread_rng(), 32);
            let reached = i64::try_from(new.reached).unwrap_or(i64::MAX);
            let wave =
                db::surveys::open_wave(&mut *tx, survey_id, &salt, (reached, 0), now).await?;
            db::surveys::set_closes_at(&mut *tx, wave, new.closes_at).await?;
            db::jobs::upsert(&mut *tx, new.guild_id, CLOSE_JOB, wave, Some(new.closes_at)).await?;
            wave
        }
    };
    tx.commit().await?;
    Ok(wave)
}

/// One attendee's rating of an event: the author only where they signed it.
#[derive(Clone, Debug, PartialEq)]
pub struct Rating {
    pub score: i64,
    pub comment: Option<String>,
    pub author: Option<u64>,
}

/// The ratings of an event (its feedback survey's answers that have a score).
pub async fn event_ratings(pool: &Pool, event_id: i64) -> anyhow::Result<Vec<Rating>> {
    let Some(survey) = db::surveys::by_event(pool, event_id).await? else {
        return Ok(Vec::new());
    };
    let mut ratings = Vec::new();
    for wave in db::surveys::waves(pool, survey.id).await? {
        for answer in db::surveys::signed_answers(pool, wave.id).await? {
            let values: Vec<Option<String>> = answer
                .answers
                .as_deref()
                .and_then(|a| serde_json::from_str(a).ok())
                .unwrap_or_default();
            let Some(score) = values
                .first()
                .cloned()
                .flatten()
                .and_then(|s| s.parse().ok())
            else {
                continue;
            };
            ratings.push(Rating {
                score,
                comment: values.get(1).cloned().flatten(),
                author: answer.signed_by.map(db::from_sql_id),
            });
        }
    }
    Ok(ratings)
}
