//! The moderation pages: the flag queue of `/flags list` and the manager's inbox of `/today`.
//! Links to messages only: Hearth never stores what members wrote, and a flag never says who
//! raised it here.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};

use super::pages::{card, member_name, plain_mentions, Allowed};
use super::views::{local_time, PageError};
use super::Web;
use crate::domain::inbox::{DayFigures, Post};

/// A message in Discord.
fn message_link(guild_id: u64, channel: u64, message: u64) -> String {
    format!("https://discord.com/channels/{guild_id}/{channel}/{message}")
}

/// `12 (+3)`: a figure and its change against the same weekday a week before.
fn against(now: i64, before: Option<i64>) -> String {
    match before {
        Some(b) => format!("{now} ({:+})", now - b),
        None => now.to_string(),
    }
}

/// `GET /servers/{id}/flags`: the open flags of `/flags list`, oldest first.
pub async fn flags(State(web): State<Web>, allowed: Allowed) -> Result<Response, PageError> {
    let guild_id = allowed.guild_id;
    let tz = crate::features::settings::timezone(&web.pool, &web.config, guild_id).await?;
    let queue = crate::features::moderation::queue(&web.pool, guild_id).await?;
    let channel_name = |channel: u64| {
        web.directory
            .channel_name(guild_id, channel)
            .unwrap_or_else(|| channel.to_string())
    };
    let page = allowed.page(
        &web,
        ("flags", "flags"),
        "",
        html! {
            @if queue.is_empty() {
                p.notice { "No open flags. Members flag a message with the \"Flag for managers\" message command (Apps menu); the managers' queue is a thread per flag in the reports channel (/config channel reports)." }
            } @else {
                p.small { (queue.len()) " open flag(s), oldest first, as /flags list shows them. Links only: Hearth never stores message text, and who flagged is not shown here. /flags resolve id:<number> closes one." }
                table {
                    thead { tr { th { "flag" } th { "status" } th { "message" } th { "channel" } th { "author" } th { "flagged by" } th { "reasons" } th { "since" } } }
                    tbody { @for q in &queue {
                        @let f = &q.flag;
                        tr {
                            td { "#" (f.id) }
                            td { (f.status) }
                            td { a href=(q.link()) rel="noreferrer" { "open in Discord" } }
                            td { "#" (channel_name(crate::db::from_sql_id(f.channel_id))) }
                            td { (member_name(&web, guild_id, crate::db::from_sql_id(f.author_id))) }
                            td.num { (f.reports) " member(s)" }
                            td { @for reason in &q.reasons { div.reason { (reason) } } }
                            td.when { (local_time(f.created_at, tz)) }
                        }
                    } }
                }
            }
        },
    );
    Ok(page.into_response())
}

/// `GET /servers/{id}/inbox`: the 24-hour download of `/today`, now.
pub async fn inbox(State(web): State<Web>, allowed: Allowed) -> Result<Response, PageError> {
    let guild_id = allowed.guild_id;
    let tz = crate::features::settings::timezone(&web.pool, &web.config, guild_id).await?;
    let digest = crate::features::inbox::build(
        &web.pool,
        &web.config,
        guild_id,
        crate::domain::clock::now(),
    )
    .await?;
    let silent: Vec<String> = digest
        .new_members
        .iter()
        .filter(|(_, posted)| !posted)
        .map(|(user, _)| member_name(&web, guild_id, *user))
        .collect();
    let hours = digest.unanswered_hours;
    let name = |user: u64| member_name(&web, guild_id, user);
    let channel_name = |channel: u64| {
        web.directory
            .channel_name(guild_id, channel)
            .unwrap_or_else(|| channel.to_string())
    };
    let posts = |posts: &[Post], thread: bool, empty: &str| -> Markup {
        html! {
            @if posts.is_empty() {
                p.small { (empty) }
            } @else {
                table {
                    thead { tr { th { "newcomer" } th { (if thread { "thread" } else { "channel" }) } th { "posted" } th { "link" } } }
                    tbody { @for p in posts {
                        tr {
                            td { (name(p.user)) }
                            td { "#" (channel_name(if thread { p.target } else { p.channel })) }
                            td.when { (local_time(p.at, tz)) }
                            td { a href=(if thread { format!("https://discord.com/channels/{guild_id}/{}", p.target) } else { message_link(guild_id, p.channel, p.target) }) rel="noreferrer" { "open in Discord" } }
                        }
                    } }
                }
            }
        }
    };
    let page = allowed.page(
        &web,
        ("inbox", "inbox"),
        "",
        html! {
            p.small { "The 24-hour download, as /today shows it now. Links only, never message text. Unanswered: no reply after " (hours) " h (/digest sets the hours and the morning post)." }
            div.cards {
                (card("New members", digest.new_members.len().to_string(), Some(format!("{} without a first message", silent.len()))))
                (card("Unanswered first messages", digest.unanswered_messages.len().to_string(), Some("newcomers, last 7 days".into())))
                (card("Unanswered threads", digest.unanswered_threads.len().to_string(), Some("newcomers, last 7 days".into())))
                (card("Open flags", digest.open_flags.len().to_string(), None))
                (card("Applications to review", digest.pending_applications.to_string(), None))
                (card("Feedback past the SLA", digest.feedback_past_sla.to_string(), None))
            }
            h2 { "New members with no first message yet" }
            @if digest.new_members.is_empty() {
                p.small { "Nobody joined in the last 24 hours." }
            } @else if silent.is_empty() {
                p.small { "Everyone who joined in the last 24 hours has posted." }
            } @else {
                ul { @for member in &silent { li { (member) } } }
            }
            h2 { "Newcomers' first messages with no reply after " (hours) " h" }
            (posts(&digest.unanswered_messages, false, "None: no newcomer's first message is waiting for a reply."))
            h2 { "Newcomers' threads nobody else posted in after " (hours) " h" }
            (posts(&digest.unanswered_threads, true, "None: no newcomer's thread is waiting for an answer."))
            @if !digest.open_flags.is_empty() {
                p { a href=(format!("/servers/{guild_id}/flags")) { (digest.open_flags.len()) " open flag(s): see the flags page" } }
            }
            h2 { "Today" }
            @if digest.today.is_empty() {
                p.small { "Nothing scheduled for the rest of today (the calendar page shows the next 30 days)." }
            } @else {
                ul { @for item in &digest.today { li { (plain_mentions(&web, guild_id, tz, item)) } } }
            }
            h2 { "Yesterday" }
            (yesterday(digest.yesterday, digest.week_before))
        },
    );
    Ok(page.into_response())
}

fn yesterday(day: Option<DayFigures>, before: Option<DayFigures>) -> Markup {
    html! {
        @match day {
            None => { p.small { "No figures for yesterday yet." } },
            Some(day) => {
                p.small { "Against the same weekday a week before, in brackets." }
                table {
                    thead { tr { th { "DAU" } th { "messages" } th { "new members" } } }
                    tbody { tr {
                        td.num { (against(day.dau, before.map(|b| b.dau))) }
                        td.num { (against(day.messages, before.map(|b| b.messages))) }
                        td.num { (against(day.joins, before.map(|b| b.joins))) }
                    } }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_show_their_change_against_last_week() {
        assert_eq!(against(12, Some(9)), "12 (+3)");
        assert_eq!(against(4, Some(9)), "4 (-5)");
        assert_eq!(against(4, None), "4");
    }

    #[test]
    fn yesterday_without_figures_says_so() {
        assert!(yesterday(None, None).into_string().contains("No figures"));
        let day = DayFigures {
            dau: 5,
            messages: 20,
            joins: 1,
        };
        let html = yesterday(Some(day), Some(DayFigures { dau: 3, ..day })).into_string();
        assert!(
            html.contains("5 (+2)") && html.contains("20 (+0)"),
            "{html}"
        );
    }

    #[test]
    fn links_point_at_the_message() {
        assert_eq!(message_link(1, 2, 3), "https://discord.com/channels/1/2/3");
    }
}
