//! Moderation (product §12): saved replies managers post instead of retyping the same answer,
//! and flags members raise to a private managers' queue. Hearth never deletes anyone's message
//! and never stores message text: a flag links to the message.

use serde_json::{json, Value};

use crate::config::Config;
use crate::db::{self, moderation::Flag, Pool};
use crate::domain::settings::ChannelPurpose;
use crate::domain::template::{self, Template, Values};
use crate::error::{OrUser, UserError};
use crate::features::settings;
use crate::outbox::{self, posts, Action};

/// `hearth:reply:pick:{channel}:{message}:{author}`: the saved reply chosen for a message.
pub const PICK_REPLY: &str = "hearth:reply:pick:";
/// `hearth:flag:{channel}:{message}:{author}`: the reason form of a flag.
pub const FLAG_FORM: &str = "hearth:flag:";

/// A saved reply's name: lower case, no spaces at the ends, 1-32 characters.
fn reply_name(name: &str) -> Result<String, UserError> {
    let name = name.trim().to_lowercase();
    if name.is_empty() || name.chars().count() > 32 {
        return Err(UserError(
            "name: 1 to 32 characters, such as `rules` or `how-to-ask`.".into(),
        ));
    }
    Ok(name)
}

/// The text checked like a welcome template: only saved-reply variables, balanced braces, and
/// never over Discord's limit once filled in.
fn checked_body(body: &str) -> Result<Template, UserError> {
    Template::parse_with(body.trim(), &template::SAVED_REPLY)
        .map_err(|e| UserError(format!("text: {e}")))
}

/// `/replies add`.
pub async fn add_reply(
    pool: &Pool,
    guild_id: u64,
    name: &str,
    body: &str,
    by: u64,
    now: i64,
) -> anyhow::Result<String> {
    let name = reply_name(name)?;
    let body = checked_body(body)?;
    let mut conn = pool.acquire().await?;
    db::moderation::add_reply(&mut conn, guild_id, &name, body.source(), by, now)
        .await?
        .or_user(format!(
            "There is already a saved reply `{name}`: `/replies edit name:{name}` changes it."
        ))?;
    Ok(format!(
        "Saved reply `{name}` is ready: `/reply name:{name}` posts it."
    ))
}

/// `/replies edit`: the new text; the old one stays in the history.
pub async fn edit_reply(
    pool: &Pool,
    guild_id: u64,
    name: &str,
    body: &str,
    by: u64,
    now: i64,
) -> anyhow::Result<String> {
    let name = reply_name(name)?;
    let body = checked_body(body)?;
    let mut conn = pool.acquire().await?;
    if !db::moderation::edit_reply(&mut conn, guild_id, &name, body.source(), by, now).await? {
        return Err(UserError(format!("There is no saved reply `{name}`.")).into());
    }
    Ok(format!(
        "Saved reply `{name}` is updated (the earlier text stays in its history)."
    ))
}

pub async fn remove_reply(pool: &Pool, guild_id: u64, name: &str) -> anyhow::Result<String> {
    let name = reply_name(name)?;
    if !db::moderation::remove_reply(pool, guild_id, &name).await? {
        return Err(UserError(format!("There is no saved reply `{name}`.")).into());
    }
    Ok(format!("Saved reply `{name}` is removed."))
}

/// `/replies list`: each reply with its first line and its versions.
pub async fn list_replies(pool: &Pool, guild_id: u64) -> anyhow::Result<String> {
    let mut lines = Vec::new();
    for reply in db::moderation::replies(pool, guild_id).await? {
        let history = db::moderation::reply_history(pool, reply.id).await?;
        let last = history
            .first()
            .map(|(_, by, at)| format!(" · last edited by <@{by}> <t:{at}:R>"))
            .unwrap_or_default();
        lines.push(format!(
            "`{}`: {}{} · {} version(s)",
            reply.name,
            posts::truncate(reply.body.lines().next().unwrap_or_default(), 80),
            last,
            history.len()
        ));
    }
    Ok(if lines.is_empty() {
        "No saved replies yet: `/replies add`.".into()
    } else {
        posts::truncate(&lines.join("\n"), posts::MESSAGE_LIMIT)
    })
}

/// `/replies stats`: uses per reply and per moderator.
pub async fn reply_stats(
    pool: &Pool,
    guild_id: u64,
    days: i64,
    now: i64,
) -> anyhow::Result<String> {
    let uses = db::moderation::reply_uses(pool, guild_id, now - days * 86_400).await?;
    if uses.is_empty() {
        return Ok(format!("No saved reply was used in the last {days} days."));
    }
    let lines: Vec<String> = uses
        .iter()
        .map(|(name, by, n)| format!("`{name}` by <@{by}>: {n}"))
        .collect();
    Ok(posts::truncate(
        &format!("**Saved replies, last {days} days**\n{}", lines.join("\n")),
        posts::MESSAGE_LIMIT,
    ))
}

/// Names for autocomplete, best matches first.
pub async fn reply_names(pool: &Pool, guild_id: u64, typed: &str) -> anyhow::Result<Vec<String>> {
    let names: Vec<String> = db::moderation::replies(pool, guild_id)
        .await?
        .into_iter()
        .map(|r| r.name)
        .collect();
    Ok(crate::domain::moderation::rank_names(&names, typed, 25))
}

/// Where a saved reply is posted, as Discord describes it.
#[derive(Clone, Copy, Debug)]
pub struct Place<'a> {
    pub guild_id: u64,
    pub guild_name: &'a str,
    pub rules_channel: Option<u64>,
    pub channel: u64,
}

/// A saved reply filled in for `member` (the one replied to, if any) at `place`, recorded as
/// used by `by`. Returns the message body: only `member` may be pinged, never roles or
/// everyone, whatever the text says.
pub async fn render_reply(
    pool: &Pool,
    config: &Config,
    place: &Place<'_>,
    name: &str,
    member: Option<(u64, &str)>,
    by: u64,
    now: i64,
) -> anyhow::Result<Value> {
    let (guild_id, channel) = (place.guild_id, place.channel);
    let name = reply_name(name)?;
    let reply = db::moderation::reply(pool, guild_id, &name)
        .await?
        .or_user(format!(
            "There is no saved reply `{name}` (`/replies list`)."
        ))?;
    let template = checked_body(&reply.body)?;
    let settings = settings::resolve(pool, config, guild_id).await?;
    let (user_id, username) = member.unwrap_or((0, "there"));
    let mut text = template.render(&Values {
        user_id,
        username,
        server: place.guild_name,
        member_count: 0,
        intro_channel: settings.channel(ChannelPurpose::Intros),
        rules_channel: place.rules_channel,
        channel: Some(channel),
    });
    if member.is_none() {
        // `{user}` with nobody to address reads as a broken mention.
        text = text.replace("<@0>", "there");
    }
    db::moderation::record_use(pool, reply.id, guild_id, by, channel, now).await?;
    let pinged: Vec<u64> = member
        .map(|(u, _)| u)
        .filter(|_| template.mentions_user())
        .into_iter()
        .collect();
    Ok(posts::text_post(&text, &pinged))
}

/// A saved reply posted as a reply to a message (the "Reply with saved reply" command), through
/// the outbox.
#[allow(clippy::too_many_arguments)]
pub async fn reply_to_message(
    pool: &Pool,
    config: &Config,
    outbox: &outbox::Outbox,
    place: &Place<'_>,
    name: &str,
    (message, author): (u64, u64),
    by: u64,
    now: i64,
) -> anyhow::Result<String> {
    let (guild_id, channel) = (place.guild_id, place.channel);
    let mut body =
        render_reply(pool, config, place, name, Some((author, "there")), by, now).await?;
    body["message_reference"] =
        json!({ "message_id": message.to_string(), "fail_if_not_exists": false });
    outbox
        .enqueue(db::outbox::NewPost {
            guild_id,
            channel_id: channel,
            kind: "saved-reply".into(),
            dedup_key: format!("saved-reply:{message}:{name}:{now}"),
            body: outbox::action_json(&Action::Message { body, thread: None }),
            not_before_ms: None,
        })
        .await?;
    Ok(format!("Posting `{}` as a reply.", name.trim()))
}

/// What a flag did, for the member's acknowledgement.
#[derive(Clone, Debug)]
pub struct Flagged {
    pub reply: String,
    pub flag: Flag,
}

/// A member flags a message for the managers: recorded (one flag per message, one reason per
/// member), and the queue told: a thread per flagged message in the reports channel, a line in
/// it when someone flags the message again. The author is never told; the member gets an
/// ephemeral acknowledgement.
#[allow(clippy::too_many_arguments)]
pub async fn flag(
    pool: &Pool,
    config: &Config,
    outbox: &outbox::Outbox,
    guild_id: u64,
    (channel, message, author): (u64, u64, u64),
    flagger: u64,
    reason: &str,
    now: i64,
) -> anyhow::Result<Flagged> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(UserError("reason: say in a few words what is wrong.".into()).into());
    }
    if author == flagger {
        return Err(UserError("You cannot flag your own message.".into()).into());
    }
    let mut conn = pool.acquire().await?;
    let (flag, again) = db::moderation::add_flag(
        &mut conn, guild_id, channel, message, author, flagger, reason, now,
    )
    .await?;
    drop(conn);
    let queue = settings::resolve(pool, config, guild_id)
        .await?
        .channel(ChannelPurpose::Reports);
    let link = format!("https://discord.com/channels/{guild_id}/{channel}/{message}");
    if let Some(queue) = queue {
        let thread_key = format!("flag:{}:thread", flag.id);
        if flag.reports == 1 && !again {
            let body = posts::text_post(
                &posts::truncate(
                    &format!(
                        "🚩 **Flag #{}** · {link} in <#{channel}> · author <@{author}>\nReason: {reason}\nFlagged by <@{flagger}>. `/flags resolve id:{}` when handled.",
                        flag.id, flag.id
                    ),
                    posts::MESSAGE_LIMIT,
                ),
                &[],
            );
            outbox
                .enqueue(db::outbox::NewPost {
                    guild_id,
                    channel_id: queue,
                    kind: "flag".into(),
                    dedup_key: thread_key,
                    body: outbox::action_json(&Action::Thread {
                        name: format!("Flag #{}", flag.id),
                        forum: false,
                        body,
                        tags: Vec::new(),
                    }),
                    not_before_ms: None,
                })
                .await?;
        } else {
            // Repeated flags are grouped: one line in the flag's thread (the queue channel until
            // the thread exists).
            let target = db::outbox::delivered_message_id(pool, &thread_key)
                .await?
                .unwrap_or(queue);
            outbox
                .message(
                    guild_id,
                    target,
                    "flag-again",
                    format!("flag:{}:again:{flagger}:{now}", flag.id),
                    posts::text_post(
                        &posts::truncate(
                            &format!(
                                "🚩 Flag #{} again ({} member(s) in all) by <@{flagger}>: {reason}",
                                flag.id, flag.reports
                            ),
                            posts::MESSAGE_LIMIT,
                        ),
                        &[],
                    ),
                )
                .await?;
        }
    }
    let reply = if queue.is_some() {
        "Thanks: the managers have it. The author is not told who flagged it."
    } else {
        "Thanks: your flag is saved for the managers (`/flags list`). The author is not told who flagged it."
    };
    Ok(Flagged {
        reply: reply.into(),
        flag,
    })
}

/// `/flags list`: open flags with their links, oldest first.
pub async fn list_flags(pool: &Pool, guild_id: u64) -> anyhow::Result<String> {
    let open = db::moderation::open_flags(pool, guild_id).await?;
    if open.is_empty() {
        return Ok("No open flags.".into());
    }
    let lines: Vec<String> = open.iter().map(flag_line).collect();
    Ok(posts::truncate(
        &format!("**Open flags** ({})\n{}", open.len(), lines.join("\n")),
        posts::MESSAGE_LIMIT,
    ))
}

/// An open flag of the managers' queue: the flag (a link to the message, never its text) and
/// the reasons members gave, without who gave them.
#[derive(Clone, Debug)]
pub struct QueuedFlag {
    pub flag: Flag,
    pub reasons: Vec<String>,
}

impl QueuedFlag {
    /// The flagged message in Discord.
    pub fn link(&self) -> String {
        let f = &self.flag;
        format!(
            "https://discord.com/channels/{}/{}/{}",
            db::from_sql_id(f.guild_id),
            db::from_sql_id(f.channel_id),
            db::from_sql_id(f.message_id)
        )
    }
}

/// The open flags of `/flags list`, oldest first, with their reasons (the dashboard's queue).
pub async fn queue(pool: &Pool, guild_id: u64) -> anyhow::Result<Vec<QueuedFlag>> {
    let mut queue = Vec::new();
    for flag in db::moderation::open_flags(pool, guild_id).await? {
        let reasons = db::moderation::flag_reasons(pool, flag.id)
            .await?
            .into_iter()
            .map(|(_, reason)| reason)
            .collect();
        queue.push(QueuedFlag { flag, reasons });
    }
    Ok(queue)
}

/// One flag as a line of the list, the digest and `/today`.
pub fn flag_line(flag: &Flag) -> String {
    format!(
        "#{} · https://discord.com/channels/{}/{}/{} · {} flag(s) · <t:{}:R>",
        flag.id, flag.guild_id, flag.channel_id, flag.message_id, flag.reports, flag.created_at
    )
}

/// `/flags resolve`: closed, with a line in its thread.
pub async fn resolve_flag(
    pool: &Pool,
    outbox: &outbox::Outbox,
    guild_id: u64,
    id: i64,
    by: u64,
    note: Option<&str>,
    now: i64,
) -> anyhow::Result<String> {
    if !db::moderation::resolve_flag(pool, guild_id, id, by, now).await? {
        return Err(UserError(format!("There is no open flag #{id}.")).into());
    }
    if let Some(thread) =
        db::outbox::delivered_message_id(pool, &format!("flag:{id}:thread")).await?
    {
        let note = note.map(|n| format!(": {}", n.trim())).unwrap_or_default();
        outbox
            .message(
                guild_id,
                thread,
                "flag-resolved",
                format!("flag:{id}:resolved:{now}"),
                posts::text_post(
                    &posts::truncate(
                        &format!("✅ Resolved by <@{by}>{note}"),
                        posts::MESSAGE_LIMIT,
                    ),
                    &[],
                ),
            )
            .await?;
    }
    Ok(format!("Flag #{id} is resolved."))
}

/// `/guidelines post`: the rules as an embed in `channel` (nobody pinged).
pub async fn post_guidelines(
    outbox: &outbox::Outbox,
    guild_id: u64,
    channel: u64,
    title: &str,
    text: &str,
    now: i64,
) -> anyhow::Result<String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(UserError("text: write the rules, one per line.".into()).into());
    }
    let body = json!({
        "embeds": [{ "title": posts::truncate(title.trim(), 256), "description": posts::truncate(text, 4096), "color": 0x00E6_7E22 }],
        "allowed_mentions": posts::allowed_mentions(&[]),
    });
    outbox
        .message(
            guild_id,
            channel,
            "guidelines",
            format!("guidelines:{guild_id}:{now}"),
            body,
        )
        .await?;
    Ok(format!("The guidelines are being posted in <#{channel}>."))
}

/// Where AutoMod alerts go: the managers' queue (the reports channel).
pub async fn automod_alert_channel(
    pool: &Pool,
    config: &Config,
    guild_id: u64,
) -> anyhow::Result<u64> {
    settings::resolve(pool, config, guild_id)
        .await?
        .channel(ChannelPurpose::Reports)
        .or_user("AutoMod alerts go to the managers' queue: choose it first with `/config channel purpose:reports`.")
}

/// What `/guidelines automod` did with each rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleOutcome {
    Created(u64),
    /// A rule of this kind existed already (Discord allows one): left as it is.
    Existing(String),
    Refused(String),
}

/// Records the outcome and says it.
pub async fn automod_done(
    pool: &Pool,
    guild_id: u64,
    by: u64,
    outcomes: &[(&str, RuleOutcome)],
    now: i64,
) -> anyhow::Result<String> {
    let created: Vec<u64> = outcomes
        .iter()
        .filter_map(|(_, o)| match o {
            RuleOutcome::Created(id) => Some(*id),
            _ => None,
        })
        .collect();
    db::moderation::set_automod(pool, guild_id, by, &created, now).await?;
    let lines: Vec<String> = outcomes
        .iter()
        .map(|(what, outcome)| match outcome {
            RuleOutcome::Created(_) => format!(
                "✅ {what}: created (Discord blocks the message and alerts the managers' queue)"
            ),
            RuleOutcome::Existing(name) => {
                format!("• {what}: the server already has one (“{name}”), left as it is")
            }
            RuleOutcome::Refused(why) => format!("❌ {what}: {why}"),
        })
        .collect();
    Ok(format!(
        "**Discord AutoMod**\n{}\nHearth never deletes messages itself.",
        lines.join("\n")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queued_flag_links_to_its_message_and_keeps_reasons_without_names() {
        let queued = QueuedFlag {
            flag: Flag {
                id: 1,
                guild_id: 10,
                channel_id: 20,
                message_id: 30,
                author_id: 40,
                status: "open".into(),
                created_at: 0,
                reports: 2,
            },
            reasons: vec!["Spam".into(), "Rude".into()],
        };
        assert_eq!(queued.link(), "https://discord.com/channels/10/20/30");
        assert_eq!(
            queued.link(),
            flag_line(&queued.flag).split(" · ").nth(1).unwrap()
        );
    }
}
