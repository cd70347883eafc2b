//! `/intro` (product §3): a member's answers to the intro form, posted in their intro thread,
//! and their interests, kept only when they opt in (for peer introductions).

use crate::db::{self, outbox::NewPost, Pool};
use crate::error::user_error;
use crate::features::applications::answered;
use crate::features::welcome::intro_thread_name;
use crate::outbox::{action_json, posts, Action, Outbox};

/// A submitted intro form and where it goes.
pub struct Intro<'a> {
    pub guild_id: u64,
    pub user_id: u64,
    pub username: &'a str,
    /// The intros channel, and whether it is a forum.
    pub intros: u64,
    pub forum: bool,
    /// The interaction's id: one post per submitted form, however often it is retried.
    pub submission: u64,
    /// The member's opt-in to keep their interests; without it they are forgotten.
    pub share_interests: bool,
    pub about: &'a str,
    pub work: Option<&'a str>,
    pub interests: Option<&'a str>,
    pub hope: Option<&'a str>,
}

/// Stores or forgets the member's interests and queues the intro post in their thread.
/// Returns the reply for the member.
pub async fn post(
    pool: &Pool,
    outbox: &Outbox,
    intro: &Intro<'_>,
    now: i64,
) -> anyhow::Result<String> {
    let (guild_id, user_id) = (intro.guild_id, intro.user_id);
    let keep = intro.interests.filter(|_| intro.share_interests);
    db::welcome::set_interests(pool, guild_id, user_id, keep, now).await?;
    let fields = answered(&[
        ("About", Some(intro.about)),
        ("Working on", intro.work),
        ("Interests", intro.interests),
        ("Hoping to find", intro.hope),
    ]);
    let prompt = posts::intro_post(user_id, intro.username, &fields);
    let queued = outbox
        .enqueue(NewPost {
            guild_id,
            channel_id: intro.intros,
            kind: "intro".into(),
            dedup_key: format!("intro-form:{guild_id}:{user_id}:{}", intro.submission),
            body: action_json(&Action::IntroThread {
                user_id,
                name: intro_thread_name(intro.username),
                forum: intro.forum,
                prompt,
            }),
            not_before_ms: None,
        })
        .await?;
    if queued.is_none() {
        return user_error("This introduction was already posted.");
    }
    Ok(reply(intro.username, intro.intros, keep.is_some()))
}

fn reply(username: &str, intros: u64, kept: bool) -> String {
    let stored = if kept {
        "Your interests are saved for peer introductions (`/intro share_interests:false` removes them)."
    } else {
        "Your interests were not stored."
    };
    format!("Thanks, {username}! Your introduction is being posted in your thread in <#{intros}>. {stored}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reply_says_whether_interests_were_kept() {
        assert!(reply("Noor", 5, true).contains("saved for peer introductions"));
        let text = reply("Noor", 5, false);
        assert!(text.starts_with(
            "Thanks, Noor! Your introduction is being posted in your thread in <#5>."
        ));
        assert!(text.ends_with("Your interests were not stored."));
    }
}
