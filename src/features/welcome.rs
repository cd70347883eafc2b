//! Welcoming (product §3): what happens when a member joins, passes screening or leaves.
//! Orchestrates the store, the pure rules in `domain` and the outbox; knows nothing of serenity.
//!
//! Every step is safe to repeat: a replayed gateway event or a restart in the middle of a burst
//! finds the join already recorded and the posts already queued under the same dedup keys.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use tracing::{debug, info, warn};

use crate::config::WelcomeConfig;
use crate::db::{
    self,
    outbox::NewPost,
    welcome::{Join, WelcomeSettings},
    Pool,
};
use crate::domain::raid::{self, JoinMode, RaidPolicy};
use crate::domain::settings::{ChannelPurpose, GuildSettings};
use crate::domain::template::{Template, Values};
use crate::error::UserError;
use crate::features::activity::Tracker;
use crate::outbox::posts;
use crate::outbox::{action_json, message_post, new_nonce, Action, Outbox};

/// The welcome used when a guild has no template of its own.
pub const DEFAULT_TEMPLATE: &str = "Welcome to {server}, {user}! You are our {member_count_ord} member. Say hello in {intro_channel} and tell us what brings you here.";

/// The prompt posted in a newcomer's intro thread.
pub const INTRO_PROMPT: &str = "👋 {user}, this thread is yours. Introduce yourself: who you are, what you work on, what you hope to find here. (`/intro` opens a short form.)";

/// Posted in a returning member's old thread.
pub const WELCOME_BACK: &str = "👋 Welcome back, {user}! Your intro thread is open again.";

/// A member as the gateway reported them.
#[derive(Clone, Debug)]
pub struct Newcomer {
    pub guild_id: u64,
    pub user_id: u64,
    pub username: String,
    pub is_bot: bool,
    /// Still in membership screening.
    pub pending: bool,
    /// Unix seconds, from the member's `joined_at`.
    pub joined_at: i64,
    /// The same in milliseconds (0 when unknown), to tell a join from Hearth's arrival.
    pub joined_at_ms: i64,
}

/// What the guild looks like at the moment of the join.
#[derive(Clone, Debug)]
pub struct GuildFacts {
    pub name: String,
    pub member_count: u64,
    pub rules_channel: Option<u64>,
    /// Whether the intros channel is a forum.
    pub intros_is_forum: bool,
}

/// Everything the welcome flow needs.
pub struct Welcomer<'a> {
    pub pool: &'a Pool,
    /// Joins that post nothing are written by the activity writer, with the activity and leaves.
    pub tracker: &'a Tracker,
    pub outbox: &'a Outbox,
    pub config: &'a WelcomeConfig,
    /// A guild's welcomes are decided one at a time: the live join and the start-up catch-up
    /// may meet the same member, and the raid guard counts the joins stored before.
    pub turns: &'a GuildLocks,
}

/// One lock per guild, made on first use: work that must not overlap within a guild waits for
/// that guild only. Locks shared by several guilds (stripes, or one for all) made a burst of
/// joins queue behind other guilds' turns: in `hearth-bench --only shards` (2,000 guilds, 19k
/// joins in 13 s) joins waited up to 18 s for their guild's lookup, each in a task holding its
/// event (1 GiB).
#[derive(Default)]
pub struct GuildLocks(parking_lot::Mutex<HashMap<u64, Arc<tokio::sync::Mutex<()>>>>);

impl GuildLocks {
    /// Waits for the guild's lock.
    pub async fn lock(&self, guild_id: u64) -> tokio::sync::OwnedMutexGuard<()> {
        self.of(guild_id).lock_owned().await
    }

    /// The guild's lock unless someone holds it.
    pub fn try_lock(&self, guild_id: u64) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        self.of(guild_id).try_lock_owned().ok()
    }

    fn of(&self, guild_id: u64) -> Arc<tokio::sync::Mutex<()>> {
        self.0.lock().entry(guild_id).or_default().clone()
    }
}

impl Welcomer<'_> {
    /// GUILD_MEMBER_ADD in a guild that posts nothing on a join: the join is recorded for the
    /// analytics, as welcomed (nothing is left to do for it), and nobody waits for the write.
    pub fn member_joined_quietly(&self, member: &Newcomer, now: i64) {
        if member.is_bot {
            return;
        }
        self.tracker.join(Join {
            welcomed: true,
            ..join_of(member, now)
        });
    }

    /// GUILD_MEMBER_ADD whose welcome could not be decided or written (the store out of reach
    /// past its timeout): the join is still recorded, as not welcomed, so that it counts and the
    /// next start's late welcome posts it (`late_welcome_within_hours`).
    pub fn member_joined_unwelcomed(&self, member: &Newcomer, now: i64) {
        if member.is_bot {
            return;
        }
        let _written = self.tracker.join(join_of(member, now));
    }

    /// GUILD_MEMBER_ADD in a guild that posts on a join.
    pub async fn member_joined(
        &self,
        member: &Newcomer,
        settings: &GuildSettings,
        guild: &GuildFacts,
        now: i64,
    ) -> anyhow::Result<()> {
        if member.is_bot {
            return Ok(());
        }
        let join = join_of(member, now);
        if member.pending {
            self.tracker.join(join).wait().await?;
            info!(
                guild.id = member.guild_id,
                user.id = member.user_id,
                "member in screening; welcome waits until they pass"
            );
            return Ok(());
        }
        let _turn = self.turns.lock(member.guild_id).await;
        self.welcome_unless_done(member, join, settings, guild)
            .await
            .map(|_| ())
    }

    /// GUILD_MEMBER_UPDATE: a member who passed screening is welcomed now.
    pub async fn member_updated(
        &self,
        member: &Newcomer,
        settings: &GuildSettings,
        guild: &GuildFacts,
        _now: i64,
    ) -> anyhow::Result<()> {
        if member.is_bot || member.pending {
            return Ok(());
        }
        let _turn = self.turns.lock(member.guild_id).await;
        let Some(join) =
            db::welcome::latest_join(self.pool, member.guild_id, member.user_id).await?
        else {
            return Ok(());
        };
        if !join.pending || join.welcomed {
            return Ok(());
        }
        info!(
            guild.id = member.guild_id,
            user.id = member.user_id,
            "member passed screening"
        );
        self.welcome(
            member,
            join_at(member, join.joined_at),
            settings,
            guild,
            true,
        )
        .await
    }

    /// An application was approved: welcome the member unless their join was welcomed already.
    pub async fn member_approved(
        &self,
        member: &Newcomer,
        settings: &GuildSettings,
        guild: &GuildFacts,
        now: i64,
    ) -> anyhow::Result<()> {
        let _turn = self.turns.lock(member.guild_id).await;
        let join = db::welcome::latest_join(self.pool, member.guild_id, member.user_id).await?;
        let (joined_at, stored) = match join {
            Some(join) if join.welcomed => return Ok(()),
            Some(join) => (join.joined_at, true),
            None => (now, false),
        };
        self.welcome(member, join_at(member, joined_at), settings, guild, stored)
            .await
    }

    /// At start (GUILD_CREATE's members, member chunks): members who joined after Hearth first
    /// saw the guild and within `late_welcome_within_hours`, and were never welcomed, because
    /// their join was lost with the process or came while Hearth was down, are recorded and
    /// welcomed once, oldest first. Returns how many were welcomed.
    pub async fn catch_up(
        &self,
        members: &[Newcomer],
        settings: &GuildSettings,
        guild: &GuildFacts,
        now: i64,
    ) -> anyhow::Result<usize> {
        let Some(guild_id) = members.first().map(|m| m.guild_id) else {
            return Ok(0);
        };
        if self.config.late_welcome_within_hours == 0 {
            return Ok(0);
        }
        // Members who were there before Hearth are not newcomers (issue 22).
        let Some(first_seen_ms) = db::guilds::first_seen_ms(self.pool, guild_id).await? else {
            return Ok(0);
        };
        let mut recent: Vec<&Newcomer> = members
            .iter()
            .filter(|m| {
                !m.is_bot
                    && m.joined_at_ms > first_seen_ms
                    && in_late_welcome_window(self.config, m.joined_at, now)
            })
            .collect();
        if recent.is_empty() {
            return Ok(0);
        }
        recent.sort_by_key(|m| (m.joined_at, m.user_id));
        let switches = db::welcome::settings(self.pool, guild_id).await?;
        let posts = posts_on_join(settings, &switches);
        let mut welcomed = 0;
        for member in recent {
            let join = join_of(member, now);
            if !posts || member.pending {
                // Nothing to post (now): the join is still a join for the analytics, written
                // with the next batch; nothing waits for it.
                let _written = self.tracker.join(Join {
                    welcomed: !posts,
                    ..join
                });
                continue;
            }
            let _turn = self.turns.lock(guild_id).await;
            // One member's failure must not cost the others their welcome.
            let done = match self
                .welcome_unless_done(member, join, settings, guild)
                .await
            {
                Ok(done) => done,
                Err(err) => {
                    warn!(guild.id = guild_id, user.id = member.user_id, error = %format!("{err:#}"), "late welcome failed; it is tried again at the next start");
                    false
                }
            };
            if done {
                info!(
                    guild.id = guild_id,
                    user.id = member.user_id,
                    joined_at = member.joined_at,
                    "welcomed a member who joined while Hearth was down or whose welcome was lost"
                );
                welcomed += 1;
            }
        }
        Ok(welcomed)
    }

    /// Welcomes the join unless it was welcomed already (a replayed event, or the catch-up and
    /// the live event meeting). Call with the guild's turn held. True when it welcomed.
    async fn welcome_unless_done(
        &self,
        member: &Newcomer,
        join: Join,
        settings: &GuildSettings,
        guild: &GuildFacts,
    ) -> anyhow::Result<bool> {
        let stored =
            db::welcome::join_row(self.pool, join.guild_id, join.user_id, join.joined_at).await?;
        if stored.is_some_and(|j| j.welcomed) {
            debug!(
                guild.id = member.guild_id,
                user.id = member.user_id,
                "join already welcomed (replayed event)"
            );
            return Ok(false);
        }
        self.welcome(member, join, settings, guild, stored.is_some())
            .await?;
        Ok(true)
    }

    /// Decides the member's welcome and writes it, with the join, in one transaction. The raid
    /// guard decides at the join's own time, so a welcome made late (at start) is the one the
    /// live event would have made. `stored` says whether the join is in the store already.
    async fn welcome(
        &self,
        member: &Newcomer,
        join: Join,
        settings: &GuildSettings,
        guild: &GuildFacts,
        stored: bool,
    ) -> anyhow::Result<()> {
        let (guild_id, user_id, at) = (member.guild_id, member.user_id, join.joined_at);
        let switches = db::welcome::settings(self.pool, guild_id).await?;
        let values = Values {
            user_id,
            username: &member.username,
            server: &guild.name,
            member_count: guild.member_count,
            intro_channel: settings.channel(ChannelPurpose::Intros),
            rules_channel: guild.rules_channel,
            channel: None,
        };
        let policy = RaidPolicy {
            max_joins: self.config.raid_joins,
            window_secs: self.config.raid_window_secs,
        };
        let recent = db::welcome::joins_between(self.pool, guild_id, at - policy.window_secs, at)
            .await?
            + u32::from(!stored);
        let mode = raid::on_join(policy, recent, switches.burst_until, at);
        let key = format!("{guild_id}:{user_id}:{at}");
        let mut posts: Vec<NewPost> = Vec::new();
        let mut burst = None;

        if let (true, Some(intros)) = (
            switches.intro_thread,
            settings.channel(ChannelPurpose::Intros),
        ) {
            posts.push(
                self.intro_thread_post(member, intros, guild.intros_is_forum, &values, &key, mode)
                    .await?,
            );
        }

        let welcome_channel = settings
            .channel(ChannelPurpose::Welcome)
            .filter(|_| switches.enabled);
        match (mode, welcome_channel) {
            (_, None) => {}
            (JoinMode::Welcome, Some(channel)) => {
                let template = self.pick_template(guild_id).await?;
                let content = template.render(&values);
                let mentions: &[u64] = if template.mentions_user() {
                    &[user_id]
                } else {
                    &[]
                };
                posts.push(message_post(
                    guild_id,
                    channel,
                    "welcome",
                    format!("welcome:{key}"),
                    posts::text_post(&content, mentions),
                ));
            }
            (JoinMode::StartBurst { started_at, until }, Some(channel)) => {
                burst = Some((started_at, until));
                info!(
                    guild.id = guild_id,
                    joins = recent,
                    window.secs = policy.window_secs,
                    "raid guard: burst of joins; one summary instead of per-member welcomes"
                );
                let text = burst_summary(
                    recent,
                    &guild.name,
                    settings.channel(ChannelPurpose::Intros),
                );
                posts.push(message_post(
                    guild_id,
                    channel,
                    "welcome-summary",
                    format!("burst:{guild_id}:{started_at}"),
                    posts::text_post(&text, &[]),
                ));
            }
            (JoinMode::InBurst { until }, Some(_)) => {
                burst = Some((switches.burst_started_at.unwrap_or(at), until));
                debug!(
                    guild.id = guild_id,
                    user.id = user_id,
                    "raid guard: covered by the burst summary"
                );
            }
        }

        if switches.dm {
            let text = Template::parse(DEFAULT_TEMPLATE)
                .map(|t| t.render(&values))
                .unwrap_or_default();
            let body = posts::text_post(&text, &[]);
            posts.push(NewPost {
                guild_id,
                channel_id: 0,
                kind: "welcome-dm".into(),
                dedup_key: format!("dm:{key}"),
                body: action_json(&Action::DirectMessage {
                    user_id,
                    body,
                    fallback_to_thread: true,
                    fallback_channel: None,
                }),
                // After the intro thread, which is the fallback when DMs are closed.
                not_before_ms: Some(crate::domain::clock::unix_now_ms() + 1),
            });
        }
        let posts: Vec<(NewPost, String)> = posts.into_iter().map(|p| (p, new_nonce())).collect();
        let step = db::welcome::WelcomeStep {
            join: Join {
                welcomed: true,
                pending: false,
                ..join
            },
            posts: &posts,
            burst,
        };
        db::welcome::commit_welcome(self.pool, &step, crate::domain::clock::unix_now_ms()).await?;
        self.outbox.wake();
        Ok(())
    }

    async fn intro_thread_post(
        &self,
        member: &Newcomer,
        intros: u64,
        forum: bool,
        values: &Values<'_>,
        key: &str,
        mode: JoinMode,
    ) -> anyhow::Result<NewPost> {
        let guild_id = member.guild_id;
        let returning = db::welcome::intro_thread(self.pool, guild_id, member.user_id)
            .await?
            .is_some();
        let prompt_text = if returning {
            WELCOME_BACK
        } else {
            INTRO_PROMPT
        };
        let prompt = Template::parse(prompt_text)
            .map(|t| t.render(values))
            .unwrap_or_default();
        // In a burst, threads are spaced out so the bot does not hammer Discord.
        let not_before_ms = match mode {
            JoinMode::Welcome => None,
            _ => {
                let last = db::outbox::last_due_ms(self.pool, guild_id, "intro-thread")
                    .await?
                    .unwrap_or(0);
                Some(
                    last.max(crate::domain::clock::unix_now_ms())
                        + i64::try_from(self.config.burst_thread_spacing_ms).unwrap_or(1000),
                )
            }
        };
        Ok(NewPost {
            guild_id,
            channel_id: intros,
            kind: "intro-thread".into(),
            dedup_key: format!("intro:{key}"),
            body: action_json(&Action::IntroThread {
                user_id: member.user_id,
                name: intro_thread_name(&member.username),
                forum,
                prompt: posts::text_post(&prompt, &[member.user_id]),
            }),
            not_before_ms,
        })
    }

    /// One of the guild's templates at random, or the default.
    async fn pick_template(&self, guild_id: u64) -> anyhow::Result<Template> {
        let stored = db::welcome::templates(self.pool, guild_id).await?;
        let parsed: Vec<Template> = stored
            .iter()
            .filter_map(|t| Template::parse(&t.body).ok())
            .collect();
        let chosen = parsed.choose(&mut rand::thread_rng()).cloned();
        Ok(match chosen {
            Some(t) => t,
            None => Template::parse(DEFAULT_TEMPLATE)?,
        })
    }
}

/// Whether a member who joined at `joined_at` (unix seconds) may still get a late welcome at
/// `now`: within `late_welcome_within_hours` (0 turns late welcomes off), and not in the future
/// beyond a minute of clock skew.
pub fn in_late_welcome_window(config: &WelcomeConfig, joined_at: i64, now: i64) -> bool {
    let within = i64::from(config.late_welcome_within_hours) * 3600;
    within > 0 && joined_at >= now - within && joined_at <= now + 60
}

/// A member's join at a known time, past screening.
fn join_at(member: &Newcomer, joined_at: i64) -> Join {
    Join {
        guild_id: member.guild_id,
        user_id: member.user_id,
        joined_at,
        pending: false,
        welcomed: false,
    }
}

/// The join a gateway member stands for; a member without `joined_at` joined `now`.
fn join_of(member: &Newcomer, now: i64) -> Join {
    Join {
        guild_id: member.guild_id,
        user_id: member.user_id,
        joined_at: if member.joined_at > 0 {
            member.joined_at
        } else {
            now
        },
        pending: member.pending,
        welcomed: false,
    }
}

/// Remembers per guild whether its joins get anything posted, so that a join in a guild that
/// posts nothing costs no read: each read is a round trip to a database thread, and the three
/// it took were most of a join's cost (issue 7). The commands that change welcome switches or
/// channels forget the guild's entry; an entry is also looked up again after `REMEMBER_FOR`,
/// in case a change comes from elsewhere or lands while a join is reading the old settings.
///
/// One lookup per guild at a time ([`PostsOnJoin::answer`]), and only the first join after an
/// entry expired waits for it: the others take the expired answer meanwhile. A burst of joins
/// that all waited for a read (at start, and each time an entry expired) queued thousands of
/// handlers on the pool, which timed out (issue 21: a process with four shards lost 8-21k joins
/// that way) or, behind a flood of gateway events, took up to 18 s, each holding its event.
#[derive(Default)]
pub struct PostsOnJoin {
    answers: parking_lot::Mutex<HashMap<u64, (bool, Instant)>>,
    lookups: GuildLocks,
}

/// What [`PostsOnJoin`] knows of a guild.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remembered {
    /// Looked up within `REMEMBER_FOR`.
    Fresh(bool),
    /// Looked up longer ago: to be looked up again.
    Expired(bool),
    Unknown,
}

impl PostsOnJoin {
    const REMEMBER_FOR: Duration = Duration::from_secs(60);

    /// The guild's answer: remembered, else read by `read` and remembered. One read per guild
    /// at a time: a caller that waited for another's read takes its answer, and while an
    /// expired answer is read again the other callers take the expired one.
    pub async fn answer<Read>(&self, guild_id: u64, read: Read) -> anyhow::Result<bool>
    where
        Read: std::future::Future<Output = anyhow::Result<bool>>,
    {
        let _reading = match self.get(guild_id, Instant::now()) {
            Remembered::Fresh(posts) => return Ok(posts),
            Remembered::Expired(posts) => match self.lookups.try_lock(guild_id) {
                Some(reading) => reading,
                None => return Ok(posts),
            },
            Remembered::Unknown => {
                let reading = self.lookups.lock(guild_id).await;
                if let Remembered::Fresh(posts) = self.get(guild_id, Instant::now()) {
                    return Ok(posts);
                }
                reading
            }
        };
        let now = Instant::now();
        let posts = read.await?;
        self.remember(guild_id, posts, now);
        Ok(posts)
    }

    /// The remembered answer.
    pub fn get(&self, guild_id: u64, now: Instant) -> Remembered {
        let entries = self.answers.lock();
        match entries.get(&guild_id) {
            Some(&(posts, since)) if now.duration_since(since) < Self::REMEMBER_FOR => {
                Remembered::Fresh(posts)
            }
            Some(&(posts, _)) => Remembered::Expired(posts),
            None => Remembered::Unknown,
        }
    }

    pub fn remember(&self, guild_id: u64, posts: bool, now: Instant) {
        self.answers.lock().insert(guild_id, (posts, now));
    }

    pub fn forget(&self, guild_id: u64) {
        self.answers.lock().remove(&guild_id);
    }
}

/// Whether a join gets anything posted: a welcome, an intro thread or a DM.
pub fn posts_on_join(settings: &GuildSettings, switches: &WelcomeSettings) -> bool {
    let welcome = switches.enabled && settings.channel(ChannelPurpose::Welcome).is_some();
    let intro = switches.intro_thread && settings.channel(ChannelPurpose::Intros).is_some();
    welcome || intro || switches.dm
}

/// "Welcome, {username}", within Discord's 100-character thread name limit.
pub fn intro_thread_name(username: &str) -> String {
    let name: String = username.chars().take(80).collect();
    format!("Welcome, {name}")
}

/// The one post that replaces per-member welcomes during a burst.
pub fn burst_summary(joins: u32, server: &str, intros: Option<u64>) -> String {
    let intro = intros.map_or_else(String::new, |c| {
        format!(" Introduce yourselves in <#{c}>: each of you gets a thread.")
    });
    format!(
        "👋 A wave of {joins} new members just arrived at {server}: welcome, all of you!{intro}"
    )
}

/// `/welcome setup`'s choices; a switch left out keeps its current value.
pub struct Setup<'a> {
    pub guild_id: u64,
    /// Where welcomes are posted.
    pub channel: u64,
    /// A first template, saved with the rest.
    pub template: Option<&'a str>,
    pub dm: Option<bool>,
    pub intro_thread: Option<bool>,
    /// Who ran the command (the template's author).
    pub by: u64,
}

/// What `/welcome setup` saved: the switches as they now are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetUp {
    pub dm: bool,
    pub intro_thread: bool,
    pub template_saved: bool,
}

/// Turns welcomes on: the channel, the switches and the template are saved in one transaction,
/// so a failure changes nothing (as the error reply says). The caller forgets the guild's
/// remembered settings (`PostsOnJoin`) afterwards.
pub async fn setup(pool: &Pool, setup: &Setup<'_>, now: i64) -> anyhow::Result<SetUp> {
    let template = setup.template.map(parse_template).transpose()?;
    let guild_id = setup.guild_id;
    let mut tx = pool.begin().await?;
    db::guilds::ensure(&mut *tx, guild_id, now).await?;
    let current = db::welcome::settings(&mut *tx, guild_id).await?;
    let dm = setup.dm.unwrap_or(current.dm);
    let intro_thread = setup.intro_thread.unwrap_or(current.intro_thread);
    let welcome = ChannelPurpose::Welcome;
    db::guilds::put_channel(&mut *tx, guild_id, welcome, setup.channel).await?;
    db::welcome::put_switches(&mut *tx, guild_id, true, dm, intro_thread).await?;
    if let Some(template) = &template {
        db::welcome::insert_template(&mut *tx, guild_id, template.source(), setup.by, now).await?;
    }
    tx.commit().await?;
    Ok(SetUp {
        dm,
        intro_thread,
        template_saved: template.is_some(),
    })
}

/// The reply to `/welcome setup`; `intros` is the guild's intros channel, if any.
pub fn setup_reply(channel: u64, done: SetUp, intros: Option<u64>) -> String {
    let intros = match (done.intro_thread, intros) {
        (false, _) => "off".to_owned(),
        (true, Some(c)) => format!("on, in <#{c}>"),
        (true, None) => {
            "on, but no intros channel yet: `/config channel purpose:intros`".to_owned()
        }
    };
    format!(
        "Welcomes are on in <#{channel}>.\n• DM to newcomers: {}\n• Intro threads: {intros}\n{}Preview with `/welcome preview`, check permissions with `/config doctor`.",
        if done.dm { "on (falls back to the intro thread when DMs are closed)" } else { "off" },
        if done.template_saved { "• Template saved.\n" } else { "" },
    )
}

/// A template a manager typed, or why it cannot be saved.
pub fn parse_template(text: &str) -> anyhow::Result<Template> {
    Template::parse(text)
        .map_err(|err| UserError(format!("That template cannot be saved: {err}.")).into())
}

/// `/welcome preview`: whether welcomes are on, then every template (or the default) rendered
/// for `values`, within one message.
pub async fn preview(
    pool: &Pool,
    settings: &GuildSettings,
    values: &Values<'_>,
) -> anyhow::Result<String> {
    let guild_id = settings.guild_id;
    let stored = db::welcome::templates(pool, guild_id).await?;
    let mut lines = Vec::new();
    if stored.is_empty() {
        lines.push(format!(
            "**Default template** (add your own with `/welcome template add`):\n{}",
            Template::parse(DEFAULT_TEMPLATE)?.render(values)
        ));
    }
    for t in &stored {
        if let Ok(template) = Template::parse(&t.body) {
            lines.push(format!("**#{}**\n{}", t.id, template.render(values)));
        }
    }
    let status = match (
        db::welcome::settings(pool, guild_id).await?.enabled,
        settings.channel(ChannelPurpose::Welcome),
    ) {
        (true, Some(c)) => {
            format!("Welcomes are on in <#{c}>; one template is picked at random per newcomer.")
        }
        _ => "Welcomes are off: `/welcome setup` turns them on.".to_owned(),
    };
    lines.insert(0, status);
    Ok(posts::truncate(&lines.join("\n\n"), posts::MESSAGE_LIMIT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_texts_are_valid_templates() {
        for text in [DEFAULT_TEMPLATE, INTRO_PROMPT, WELCOME_BACK] {
            Template::parse(text).unwrap();
        }
    }

    #[tokio::test]
    async fn an_answer_is_read_once_and_an_expired_one_is_given_while_it_is_read_again() {
        let answers = PostsOnJoin::default();
        let read = |posts: bool| async move { Ok::<_, anyhow::Error>(posts) };
        assert!(answers.answer(1, read(true)).await.unwrap());
        // Remembered: not read again.
        assert!(answers.answer(1, read(false)).await.unwrap());

        // Expired, and another caller is reading it again: the expired answer.
        let Some(long_ago) = Instant::now().checked_sub(PostsOnJoin::REMEMBER_FOR * 2) else {
            return; // a machine up for less than two minutes
        };
        answers.remember(1, true, long_ago);
        let reading = answers.lookups.lock(1).await;
        assert!(answers.answer(1, read(false)).await.unwrap());
        drop(reading);
        // Expired and nobody reading: read again.
        assert!(!answers.answer(1, read(false)).await.unwrap());

        // A failed read remembers nothing.
        answers.forget(1);
        let failed = answers.answer(1, async { Err(anyhow::anyhow!("store down")) });
        assert!(failed.await.is_err());
        assert_eq!(answers.get(1, Instant::now()), Remembered::Unknown);
    }

    #[tokio::test]
    async fn a_guild_lock_holds_up_only_its_guild() {
        let locks = GuildLocks::default();
        let held = locks.lock(1).await;
        assert!(locks.try_lock(1).is_none(), "guild 1 is held");
        assert!(locks.try_lock(2).is_some(), "guild 2 is not");
        drop(held);
        assert!(locks.try_lock(1).is_some());
    }

    #[test]
    fn thread_names_fit_discord() {
        assert_eq!(intro_thread_name("Noor"), "Welcome, Noor");
        assert!(intro_thread_name(&"x".repeat(300)).chars().count() <= 100);
    }

    #[test]
    fn a_join_posts_only_where_a_switch_and_its_channel_meet() {
        let mut settings = GuildSettings::new(1);
        let mut switches = WelcomeSettings::default();
        // Intro threads are on by default, but no intros channel is set: nothing to post.
        assert!(!posts_on_join(&settings, &switches));
        settings.channels.insert(ChannelPurpose::Welcome, 10);
        assert!(!posts_on_join(&settings, &switches), "welcomes are off");
        switches.enabled = true;
        assert!(posts_on_join(&settings, &switches));
        let mut intros_only = GuildSettings::new(1);
        intros_only.channels.insert(ChannelPurpose::Intros, 11);
        assert!(posts_on_join(&intros_only, &WelcomeSettings::default()));
        let dm_only = WelcomeSettings {
            intro_thread: false,
            dm: true,
            ..WelcomeSettings::default()
        };
        assert!(posts_on_join(&GuildSettings::new(1), &dm_only));
    }

    #[test]
    fn what_a_guild_posts_on_join_is_remembered_until_forgotten_and_kept_while_expired() {
        let remembered = PostsOnJoin::default();
        let now = Instant::now();
        assert_eq!(remembered.get(1, now), Remembered::Unknown);
        remembered.remember(1, false, now);
        assert_eq!(
            remembered.get(1, now + Duration::from_secs(59)),
            Remembered::Fresh(false)
        );
        // Expired: given to joins while one of them looks it up again.
        assert_eq!(
            remembered.get(1, now + Duration::from_secs(60)),
            Remembered::Expired(false)
        );
        remembered.forget(1);
        assert_eq!(remembered.get(1, now), Remembered::Unknown);
    }

    #[test]
    fn late_welcomes_reach_back_as_far_as_configured() {
        let config = WelcomeConfig::default();
        let now = 1_000_000;
        assert!(in_late_welcome_window(&config, now - 24 * 3600, now));
        assert!(!in_late_welcome_window(&config, now - 24 * 3600 - 1, now));
        assert!(!in_late_welcome_window(&config, now + 61, now));
        let off = WelcomeConfig {
            late_welcome_within_hours: 0,
            ..WelcomeConfig::default()
        };
        assert!(!in_late_welcome_window(&off, now, now));
    }

    #[test]
    fn the_setup_reply_lists_what_is_on() {
        let done = SetUp {
            dm: false,
            intro_thread: true,
            template_saved: true,
        };
        let text = setup_reply(3, done, None);
        assert!(text.starts_with("Welcomes are on in <#3>.\n• DM to newcomers: off\n"));
        assert!(text.contains("• Intro threads: on, but no intros channel yet"));
        assert!(text.contains("• Template saved.\nPreview with `/welcome preview`"));
        let quiet = SetUp {
            dm: true,
            intro_thread: false,
            template_saved: false,
        };
        let text = setup_reply(3, quiet, Some(4));
        assert!(
            text.contains("DM to newcomers: on (falls back")
                && text.contains("Intro threads: off\nPreview")
        );
        assert!(setup_reply(3, done, Some(4)).contains("Intro threads: on, in <#4>"));
    }

    #[test]
    fn burst_summary_points_to_intros() {
        let text = burst_summary(12, "Emberfall", Some(5));
        assert!(text.contains("12 new members") && text.contains("<#5>"));
    }
}
