//! Applications (product §3): `/apply` sends a member's answers to the community team as a
//! review post with Approve/Decline buttons. An approval grants the configured role and
//! welcomes the member; a decline records its reason and tells the applicant by DM when their
//! DMs are open. The buttons carry the application's id, so they keep working after a restart.
//!
//! Granting the role is a call to Discord, so it is the caller's: `click` decides which role to
//! grant, the caller grants it, then `approve` records the decision.

use tracing::info;

use crate::db::{self, outbox::NewPost, Pool};
use crate::domain::settings::{ChannelPurpose, GuildSettings};
use crate::error::{user_error, OrUser};
use crate::outbox::{action_json, message_post, posts, Action, Outbox};

/// Custom id prefixes of the review post's buttons; the application id follows.
pub const APPROVE: &str = "hearth:application:approve:";
pub const DECLINE: &str = "hearth:application:decline:";

/// A manager's choice on a review post.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Decline,
}

/// The decision and application id of a review button; `None` for any other custom id.
pub fn parse_button(custom_id: &str) -> Option<(Decision, i64)> {
    let (decision, id) = if let Some(id) = custom_id.strip_prefix(APPROVE) {
        (Decision::Approve, id)
    } else {
        (Decision::Decline, custom_id.strip_prefix(DECLINE)?)
    };
    Some((decision, id.parse().ok()?))
}

/// The applications channel a member's application goes to, or why they cannot apply: checked
/// before the form opens, so nobody fills it in for nothing.
pub async fn can_apply(pool: &Pool, settings: &GuildSettings, user_id: u64) -> anyhow::Result<u64> {
    let channel = settings.channel(ChannelPurpose::Applications).or_user(
        "Applications are not open here: a manager has not chosen an applications channel.",
    )?;
    if db::applications::has_pending(pool, settings.guild_id, user_id).await? {
        return user_error("Your application is already waiting for the team; you will hear back.");
    }
    Ok(channel)
}

/// A member's application as they submitted it.
pub struct Submission<'a> {
    pub guild_id: u64,
    /// The applications channel (see `can_apply`).
    pub channel: u64,
    pub user_id: u64,
    pub username: &'a str,
    pub why: &'a str,
    pub found: Option<&'a str>,
    pub more: Option<&'a str>,
}

/// Records the application and queues its review post; returns the application's id.
pub async fn submit(
    pool: &Pool,
    outbox: &Outbox,
    submission: &Submission<'_>,
    now: i64,
) -> anyhow::Result<i64> {
    let (guild_id, user_id) = (submission.guild_id, submission.user_id);
    let id = db::applications::create(pool, guild_id, user_id, now).await?;
    let answers = answered(&[
        ("Why", Some(submission.why)),
        ("Found us through", submission.found),
        ("More", submission.more),
    ]);
    let body =
        posts::application_review(id, user_id, submission.username, &answers, APPROVE, DECLINE);
    let key = format!("application:{guild_id}:{id}");
    outbox
        .enqueue(message_post(
            guild_id,
            submission.channel,
            "application",
            key,
            body,
        ))
        .await?;
    info!(
        guild.id = guild_id,
        application.id = id,
        "application submitted"
    );
    Ok(id)
}

/// The answers of a form that were filled in (blank ones left out), in order.
pub fn answered<'a>(fields: &[(&'a str, Option<&'a str>)]) -> Vec<(&'a str, &'a str)> {
    fields
        .iter()
        .filter_map(|&(name, value)| Some((name, value.filter(|v| !v.trim().is_empty())?)))
        .collect()
}

/// What a manager's click on a review button leads to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Click {
    /// Nothing to decide (gone, or decided already): a note only the manager sees.
    Note(String),
    /// A decline asks for the reason first; the answer goes to `decline`.
    AskReason,
    /// Grant `role` (when one is configured) to the applicant, then call `approve`.
    Approve { applicant: u64, role: Option<u64> },
}

/// Decides what a click on a review button does, before anything is changed.
pub async fn click(
    pool: &Pool,
    guild_id: u64,
    id: i64,
    decision: Decision,
) -> anyhow::Result<Click> {
    let Some(application) = db::applications::get(pool, guild_id, id).await? else {
        return Ok(Click::Note("This application no longer exists.".into()));
    };
    if application.status != "pending" {
        return Ok(Click::Note(already(&application.status)));
    }
    Ok(match decision {
        Decision::Decline => Click::AskReason,
        Decision::Approve => Click::Approve {
            applicant: application.user(),
            role: db::applications::role(pool, guild_id).await?,
        },
    })
}

/// How a decision is answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// A note only the manager sees; the review post stays as it is.
    Note(String),
    /// The review post's new text (its buttons removed).
    Decided(String),
}

/// Records an approval (after the role was granted); the caller then welcomes the applicant.
pub async fn approve(
    pool: &Pool,
    guild_id: u64,
    id: i64,
    manager: u64,
    now: i64,
) -> anyhow::Result<Answer> {
    if !db::applications::decide(pool, guild_id, id, "approved", manager, None, now).await? {
        return Ok(Answer::Note(
            "This application was decided a moment ago by someone else.".into(),
        ));
    }
    info!(
        guild.id = guild_id,
        application.id = id,
        "application approved"
    );
    Ok(Answer::Decided(format!("✅ Approved by <@{manager}>.")))
}

/// Records a decline with its reason and queues the DM telling the applicant. Returns the
/// review post's new text, or `None` when the application does not exist.
pub async fn decline(
    pool: &Pool,
    outbox: &Outbox,
    guild_id: u64,
    id: i64,
    manager: u64,
    reason: &str,
    now: i64,
) -> anyhow::Result<Option<String>> {
    let Some(application) = db::applications::get(pool, guild_id, id).await? else {
        return Ok(None);
    };
    let decided =
        db::applications::decide(pool, guild_id, id, "declined", manager, Some(reason), now)
            .await?;
    if !decided {
        return Ok(Some(already(&application.status)));
    }
    info!(
        guild.id = guild_id,
        application.id = id,
        "application declined"
    );
    let body = posts::text_post(&decline_dm(reason), &[]);
    outbox
        .enqueue(NewPost {
            guild_id,
            channel_id: 0,
            kind: "application-decline".into(),
            dedup_key: format!("application-decline:{guild_id}:{id}"),
            // A decline is private: never posted in the intro thread.
            body: action_json(&Action::DirectMessage {
                user_id: application.user(),
                body,
                fallback_to_thread: false,
                fallback_channel: None,
            }),
            not_before_ms: None,
        })
        .await?;
    Ok(Some(format!(
        "❌ Declined by <@{manager}>. The applicant is told by DM if their DMs are open."
    )))
}

/// What the manager is told when the role could not be granted, with the fix.
pub fn role_not_granted(role: u64, applicant: u64, reason: &str) -> String {
    format!(
        "I could not give <@&{role}> to <@{applicant}>: {reason}. Fix: give the Hearth role Manage Roles and move it above <@&{role}> (Server Settings → Roles); `/config doctor` checks it."
    )
}

/// The DM a declined applicant gets; the reason only when the manager gave one.
pub fn decline_dm(reason: &str) -> String {
    let note = if reason.trim().is_empty() {
        String::new()
    } else {
        format!("\nReason: {reason}")
    };
    format!("Your application was not accepted this time.{note}")
}

fn already(status: &str) -> String {
    format!("This application was already {status}.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn review_buttons_carry_the_decision_and_the_id() {
        assert_eq!(
            parse_button(&format!("{APPROVE}12")),
            Some((Decision::Approve, 12))
        );
        assert_eq!(
            parse_button(&format!("{DECLINE}7")),
            Some((Decision::Decline, 7))
        );
        assert_eq!(parse_button(&format!("{APPROVE}x")), None);
        assert_eq!(parse_button("hearth:ama:vote:3"), None);
    }

    #[test]
    fn blank_answers_are_left_out() {
        let answers = answered(&[("Why", Some("fun")), ("Found", Some("  ")), ("More", None)]);
        assert_eq!(answers, vec![("Why", "fun")]);
    }

    #[test]
    fn a_decline_dm_gives_the_reason_only_when_there_is_one() {
        assert_eq!(
            decline_dm(" "),
            "Your application was not accepted this time."
        );
        assert!(decline_dm("We are full").ends_with("\nReason: We are full"));
    }

    #[test]
    fn a_failed_role_grant_names_the_role_the_member_and_the_fix() {
        let text = role_not_granted(5, 9, "Discord says I am missing permissions (50013)");
        assert!(text.starts_with("I could not give <@&5> to <@9>: Discord says"));
        assert!(text.contains("Manage Roles") && text.contains("/config doctor"));
    }
}
