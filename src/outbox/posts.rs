//! The wire bodies of the bot's own posts (create-message JSON for the outbox) and Discord's
//! size limits. Every body sets `allowed_mentions`, so user-supplied text never pings
//! @everyone, @here or roles.

use serde_json::{json, Value};

/// Discord's limit for a message's `content`.
pub const MESSAGE_LIMIT: usize = 2000;
/// Discord's limit for an embed description.
pub const EMBED_DESCRIPTION_LIMIT: usize = 4096;
/// Hearth's accent colour (a warm ember).
pub const COLOUR: u32 = 0x00E8_6A33;

/// Cuts `text` to at most `limit` characters, marking the cut with an ellipsis.
pub fn truncate(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(limit.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// `allowed_mentions` for a post of the bot's own: only the listed members can be pinged, never
/// @everyone, @here or roles, whatever the text contains.
pub fn allowed_mentions(users: &[u64]) -> Value {
    json!({
        "parse": [],
        "users": users.iter().map(u64::to_string).collect::<Vec<_>>(),
        "replied_user": false,
    })
}

/// A plain text post of the bot's own, as a create-message body for the outbox.
pub fn text_post(content: &str, mention_users: &[u64]) -> Value {
    json!({
        "content": truncate(content, MESSAGE_LIMIT),
        "allowed_mentions": allowed_mentions(mention_users),
    })
}

/// A member's `/intro` answers as a post for their intro thread. The text is the member's own,
/// so nobody is pinged by it.
pub fn intro_post(user_id: u64, username: &str, answers: &[(&str, &str)]) -> Value {
    let fields: Vec<Value> = answers
        .iter()
        .map(|(name, value)| json!({ "name": name, "value": truncate(value, 1024), "inline": false }))
        .collect();
    json!({
        "content": format!("<@{user_id}> introduced themselves 👋"),
        "embeds": [{ "title": truncate(&format!("Meet {username}"), 256), "color": COLOUR, "fields": fields }],
        "allowed_mentions": allowed_mentions(&[]),
    })
}

/// The review post of an application, with Approve/Decline buttons. The answers are the
/// applicant's own words: nobody is pinged.
pub fn application_review(
    id: i64,
    user_id: u64,
    username: &str,
    answers: &[(&str, &str)],
    approve: &str,
    decline: &str,
) -> Value {
    let fields: Vec<Value> = answers
        .iter()
        .map(|(name, value)| json!({ "name": name, "value": truncate(value, 1024), "inline": false }))
        .collect();
    json!({
        "content": format!("📝 Application #{id} from <@{user_id}>"),
        "embeds": [{ "title": truncate(&format!("{username} would like to join"), 256), "color": COLOUR, "fields": fields }],
        "components": [{ "type": 1, "components": [
            { "type": 2, "style": 3, "label": "Approve", "custom_id": format!("{approve}{id}") },
            { "type": 2, "style": 4, "label": "Decline", "custom_id": format!("{decline}{id}") }
        ]}],
        "allowed_mentions": allowed_mentions(&[]),
    })
}

/// A themed-day prompt. The author is named (prompts are staff-written), not pinged.
pub fn prompt_post(theme: &str, text: &str, author: u64, poll: Option<&Value>) -> Value {
    let content = format!("**{theme}**\n{text}\n\n-# Prompt by <@{author}>");
    let mut body = json!({
        "content": truncate(&content, MESSAGE_LIMIT),
        "allowed_mentions": allowed_mentions(&[]),
    });
    if let Some(poll) = poll {
        body["poll"] = poll.clone();
    }
    body
}

/// 95 → "1 min 35 s", 7300 → "2 h 1 min".
pub fn human_duration(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        s if s < 86_400 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        s => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

/// A spotlight: the member is mentioned (and pinged: it is their moment), nobody else.
pub fn spotlight_post(
    user_id: u64,
    name: &str,
    avatar_url: &str,
    story: &str,
    joined_at: Option<i64>,
    intro_thread: Option<u64>,
) -> Value {
    let mut fields = Vec::new();
    if let Some(joined) = joined_at {
        fields.push(
            json!({ "name": "Member since", "value": format!("<t:{joined}:D>"), "inline": true }),
        );
    }
    if let Some(thread) = intro_thread {
        fields.push(json!({ "name": "Say hi", "value": format!("<#{thread}>"), "inline": true }));
    }
    json!({
        "content": format!("🌟 This month's community spotlight: <@{user_id}>!"),
        "embeds": [{
            "title": truncate(&format!("Spotlight: {name}"), 256),
            "description": truncate(story, EMBED_DESCRIPTION_LIMIT),
            "color": COLOUR,
            "thumbnail": { "url": avatar_url },
            "fields": fields,
        }],
        "allowed_mentions": allowed_mentions(&[user_id]),
    })
}

/// The post that opens a feedback item. The details are the member's words: nobody is pinged.
pub fn feedback_item(
    submitter: u64,
    category: &str,
    details: &str,
    tagged_by: Option<u64>,
) -> Value {
    let by = tagged_by.map_or_else(String::new, |m| format!(" (tagged by <@{m}>)"));
    json!({
        "content": format!("💬 Feedback from <@{submitter}>{by} · **{category}**"),
        "embeds": [{ "description": truncate(details, EMBED_DESCRIPTION_LIMIT), "color": COLOUR }],
        "allowed_mentions": allowed_mentions(&[]),
    })
}

/// The public follow-up of a status change; the submitter is told by a mention.
pub fn feedback_follow_up(
    id: i64,
    title: &str,
    submitter: u64,
    status: crate::domain::feedback::Status,
    note: Option<&str>,
) -> Value {
    text_post(
        &format!("<@{submitter}>: {}", feedback_news(id, title, status, note)),
        &[submitter],
    )
}

/// The DM to a submitter who asked for one: the same news as the thread's follow-up.
pub fn feedback_dm(
    id: i64,
    title: &str,
    status: crate::domain::feedback::Status,
    note: Option<&str>,
) -> Value {
    text_post(
        &format!("Your {}", feedback_news(id, title, status, note)),
        &[],
    )
}

/// "feedback #id “title” was … (**status**)." with the manager's note quoted below.
fn feedback_news(
    id: i64,
    title: &str,
    status: crate::domain::feedback::Status,
    note: Option<&str>,
) -> String {
    let note = note.map_or_else(String::new, |n| format!("\n> {}", n.replace('\n', "\n> ")));
    format!(
        "feedback #{id} “{title}” {} (**{status}**).{note}",
        status.follow_up()
    )
}

/// The reminder to managers when an item is still unanswered after the SLA.
pub fn feedback_sla_reminder(id: i64, title: &str, thread: Option<u64>, sla_days: u32) -> Value {
    let place = thread.map_or_else(String::new, |t| format!(" in <#{t}>"));
    text_post(
        &format!(
            "⏰ Feedback #{id} “{title}”{place} has had no answer for {sla_days} days (the SLA). \
             `/feedback status id:{id}` acknowledges it."
        ),
        &[],
    )
}

fn ask_button(custom_id: &str, label: &str, style: u8) -> Value {
    json!([{ "type": 1, "components": [{ "type": 2, "style": style, "label": label, "custom_id": custom_id }] }])
}

/// The AMA's question post, with its "Ask a question" button.
pub fn ama_post(
    id: i64,
    title: &str,
    host: u64,
    start: i64,
    description: Option<&str>,
    ask_id: &str,
) -> Value {
    json!({
        "content": format!("🎤 **AMA #{id}: {title}** with <@{host}>, <t:{start}:F> (<t:{start}:R>)"),
        "embeds": [{ "description": truncate(&format!("{}Ask your question below, anonymously if you like; upvote the ones you want answered.", description.map(|d| format!("{d}\n\n")).unwrap_or_default()), EMBED_DESCRIPTION_LIMIT), "color": COLOUR }],
        "components": ask_button(ask_id, "Ask a question", 1),
        "allowed_mentions": allowed_mentions(&[]),
    })
}

/// A member's question with its upvote button; anonymous questions name nobody.
pub fn ama_question(id: i64, text: &str, author: Option<u64>, vote_id: &str) -> Value {
    let who = author.map_or_else(|| "a member (anonymous)".to_owned(), |a| format!("<@{a}>"));
    json!({
        "content": truncate(&format!("**Q{id}** from {who}:\n> {}", text.replace('\n', "\n> ")), MESSAGE_LIMIT),
        "components": ask_button(vote_id, "▲ Upvote", 2),
        "allowed_mentions": allowed_mentions(&[]),
    })
}

/// A question answered: the question, and the host's written answer if there is one.
pub fn ama_answer(question: &str, author: Option<u64>, answer: Option<&str>, host: u64) -> Value {
    let who = author.map_or_else(|| "a member".to_owned(), |a| format!("<@{a}>"));
    let answer = answer.map_or_else(|| "answered live".to_owned(), |a| format!("<@{host}>: {a}"));
    text_post(
        &format!(
            "✅ {who} asked:\n> {}\n{answer}",
            question.replace('\n', "\n> ")
        ),
        &[],
    )
}

/// The recap of a closed AMA.
pub fn ama_recap(title: &str, host: u64, questions: &[crate::db::ama::Question]) -> Value {
    let answered: Vec<String> = questions
        .iter()
        .filter(|q| q.answered_at.is_some())
        .map(|q| {
            format!(
                "**Q:** {}\n**A:** {}",
                truncate(&q.text, 300),
                q.answer
                    .as_deref()
                    .map_or("answered live".to_owned(), |a| truncate(a, 600))
            )
        })
        .collect();
    let unanswered = questions.iter().filter(|q| q.answered_at.is_none()).count();
    let participants: std::collections::BTreeSet<i64> =
        questions.iter().map(|q| q.author_id).collect();
    json!({
        "content": format!("📝 Recap of the AMA **{title}** with <@{host}>: {} answered, {unanswered} unanswered, {} participant(s). Thank you all!", answered.len(), participants.len()),
        "embeds": [{ "title": truncate(&format!("AMA: {title}"), 256), "description": truncate(&if answered.is_empty() { "No questions were answered.".to_owned() } else { answered.join("\n\n") }, EMBED_DESCRIPTION_LIMIT), "color": COLOUR }],
        "allowed_mentions": allowed_mentions(&[]),
    })
}

/// A native Discord poll body.
pub fn poll(question: &str, answers: &[String], hours: u32) -> Value {
    json!({
        "question": { "text": question },
        "answers": answers.iter().map(|a| json!({ "poll_media": { "text": a } })).collect::<Vec<_>>(),
        "duration": hours,
        "allow_multiselect": false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_respects_the_limit_in_characters() {
        assert_eq!(truncate("hello", 10), "hello");
        let long = "é".repeat(2500);
        let cut = truncate(&long, MESSAGE_LIMIT);
        assert_eq!(cut.chars().count(), MESSAGE_LIMIT);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn posts_never_allow_everyone_or_roles() {
        let body = text_post("@everyone hi <@&5> <@7>", &[7]);
        assert_eq!(body["allowed_mentions"]["parse"], json!([]));
        assert_eq!(body["allowed_mentions"]["users"], json!(["7"]));
        assert!(body["allowed_mentions"].get("roles").is_none());
    }
}

/// What an event's RSVP card shows.
#[derive(Clone, Debug)]
pub struct EventCard<'a> {
    pub id: i64,
    pub title: &'a str,
    pub start: i64,
    pub end: i64,
    /// `<#channel>` or the external location.
    pub place: &'a str,
    pub capacity: Option<u32>,
    pub description: Option<&'a str>,
    /// Only members with this role may answer.
    pub role: Option<u64>,
    /// Followed by `going`, `maybe` or `cant` in the buttons' custom ids.
    pub rsvp_prefix: &'a str,
    /// The check-in button's custom id (external events, which no voice channel can take
    /// attendance of).
    pub check_in: Option<&'a str>,
    /// The "Going to all" button's custom id (occurrences of a series).
    pub series: Option<&'a str>,
}

/// An event's RSVP card: when and where, and the Going / Maybe / Can't go buttons. The title
/// and description are the manager's words, so nobody is pinged (not even the role named).
pub fn event_card(card: &EventCard<'_>) -> Value {
    let EventCard {
        id,
        title,
        start,
        end,
        place,
        ..
    } = *card;
    let spots = card.capacity.map_or_else(String::new, |c| {
        format!("\n**{c} spots**; when full, a waitlist offers freed spots in order.")
    });
    let role = card
        .role
        .map_or_else(String::new, |r| format!("\nFor members with <@&{r}>."));
    let prefix = card.rsvp_prefix;
    let mut buttons = vec![
        json!({ "type": 2, "style": 3, "label": "Going", "custom_id": format!("{prefix}going") }),
        json!({ "type": 2, "style": 1, "label": "Maybe", "custom_id": format!("{prefix}maybe") }),
        json!({ "type": 2, "style": 2, "label": "Can't go", "custom_id": format!("{prefix}cant") }),
    ];
    if let Some(check_in) = card.check_in {
        buttons.push(json!({ "type": 2, "style": 2, "label": "Check in", "custom_id": check_in }));
    }
    if let Some(series) = card.series {
        buttons
            .push(json!({ "type": 2, "style": 3, "label": "Going to all", "custom_id": series }));
    }
    let about = card
        .description
        .map(|d| format!("{d}\n\n"))
        .unwrap_or_default();
    json!({
        "content": truncate(&format!("📅 **Event #{id}: {title}**\n<t:{start}:F> (<t:{start}:R>) to <t:{end}:t> · {place}{spots}{role}"), MESSAGE_LIMIT),
        "embeds": [{ "description": truncate(&format!("{about}Answer below: Going members get reminders (choose when with `/event remind`), Maybe gets one nudge, Can't go is never reminded."), EMBED_DESCRIPTION_LIMIT), "color": COLOUR }],
        "components": [{ "type": 1, "components": buttons }],
        "allowed_mentions": allowed_mentions(&[]),
    })
}

/// A freed spot offered to the next member on the waitlist, with its confirm button.
pub fn event_offer(title: &str, user: u64, expires_at: i64, confirm_id: &str) -> Value {
    json!({
        "content": truncate(&format!("<@{user}> a spot opened up for **{title}**: it is held for you until <t:{expires_at}:t> (<t:{expires_at}:R>). Confirm to take it."), MESSAGE_LIMIT),
        "components": ask_button(confirm_id, "Confirm my spot", 3),
        "allowed_mentions": allowed_mentions(&[user]),
    })
}

/// A short notice to one member about an event (promotion, expired offer, reminder).
pub fn event_notice(user: u64, text: &str) -> Value {
    text_post(&format!("<@{user}> {text}"), &[user])
}

/// A notice to several members at once (the event moved or was cancelled): one post, each
/// member mentioned once, at most 50 per post so a large event splits into several.
pub fn event_announcement(users: &[u64], text: &str) -> Value {
    let mentions: String = users.iter().map(|u| format!("<@{u}> ")).collect();
    text_post(&format!("{mentions}\n{text}"), users)
}

/// The post asking an event's attendees to rate it, with the button that opens the form.
pub fn event_feedback_request(
    title: &str,
    attendees: &[u64],
    rate_id: &str,
    closes_at: i64,
) -> Value {
    let mentions: String = attendees.iter().map(|u| format!("<@{u}> ")).collect();
    json!({
        "content": truncate(&format!("{mentions}\nThanks for coming to **{title}**! How was it? Rate it (1-5, anonymously if you like) before <t:{closes_at}:f>."), MESSAGE_LIMIT),
        "components": ask_button(rate_id, "Rate this event", 1),
        "allowed_mentions": allowed_mentions(attendees),
    })
}

/// A survey wave's post: the question and the button that opens the answer.
pub fn survey_post(title: &str, question: &str, open_id: &str) -> Value {
    json!({
        "content": truncate(&format!("📋 **{title}**: {question} Anonymous to everyone, managers included."), MESSAGE_LIMIT),
        "components": ask_button(open_id, "Answer", 1),
        "allowed_mentions": allowed_mentions(&[]),
    })
}

/// The introduction in a connections group's private thread: who, what they share, times to
/// suggest (Discord timestamps show in each reader's own time zone).
pub fn connect_intro(members: &[u64], shared: &[String], times: &[i64]) -> Value {
    let names: Vec<String> = members.iter().map(|u| format!("<@{u}>")).collect();
    let shared = if shared.is_empty() {
        "You have not listed the same interests: a good chance to find out what you do share!"
            .to_owned()
    } else {
        format!("You share: **{}**.", shared.join(", "))
    };
    let times = if times.is_empty() {
        "Find a time that works for all of you.".to_owned()
    } else {
        format!(
            "Times that suit everyone's time zone: {}.",
            times
                .iter()
                .map(|t| format!("<t:{t}:F>"))
                .collect::<Vec<_>>()
                .join(" or ")
        )
    };
    text_post(
        &truncate(
            &format!(
                "👋 {}: meet your match for this round! {shared}\n{times}\nA short call or a chat here is plenty. I will ask later whether you met.",
                names.join(" and ")
            ),
            MESSAGE_LIMIT,
        ),
        members,
    )
}

/// "Did you meet?" with its three answers; `answer_id` is followed by `yes`, `no` or `never`.
pub fn connect_follow_up(members: &[u64], answer_id: &str) -> Value {
    let names: String = members.iter().map(|u| format!("<@{u}> ")).collect();
    json!({
        "content": format!("{names}\nDid you meet? Your answer helps the next rounds (only managers see totals)."),
        "components": [{ "type": 1, "components": [
            { "type": 2, "style": 3, "label": "Yes, we met", "custom_id": format!("{answer_id}yes") },
            { "type": 2, "style": 2, "label": "Not yet", "custom_id": format!("{answer_id}no") },
            { "type": 2, "style": 4, "label": "Don't pair us again", "custom_id": format!("{answer_id}never") },
        ]}],
        "allowed_mentions": allowed_mentions(members),
    })
}
