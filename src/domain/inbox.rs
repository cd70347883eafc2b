//! The manager's inbox (product §12), the pure part: what counts as unanswered, and the digest's
//! text. Links only, never message text.

use std::collections::HashSet;

/// A message or thread to link to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Post {
    pub user: u64,
    pub channel: u64,
    /// The message, or the thread.
    pub target: u64,
    pub at: i64,
}

/// Threads nobody but their starter posted in (`posters`: `(thread, member)` pairs).
pub fn unanswered_threads(threads: &[Post], posters: &[(u64, u64)]) -> Vec<Post> {
    let answered: HashSet<u64> = threads
        .iter()
        .filter(|t| {
            posters
                .iter()
                .any(|(thread, user)| *thread == t.target && *user != t.user)
        })
        .map(|t| t.target)
        .collect();
    threads
        .iter()
        .filter(|t| !answered.contains(&t.target))
        .copied()
        .collect()
}

/// One day's figures and those of the same weekday a week before.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DayFigures {
    pub dau: i64,
    pub messages: i64,
    pub joins: i64,
}

/// Everything the digest and `/today` show.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Digest {
    pub guild_id: u64,
    /// Members who joined in the last 24 hours, and whether they posted yet.
    pub new_members: Vec<(u64, bool)>,
    pub unanswered_messages: Vec<Post>,
    pub unanswered_threads: Vec<Post>,
    pub unanswered_hours: i64,
    /// Open flags, as lines.
    pub open_flags: Vec<String>,
    pub pending_applications: i64,
    pub feedback_past_sla: usize,
    /// Today's scheduled items, as lines.
    pub today: Vec<String>,
    /// Yesterday, and the same weekday a week before (if its figures are known).
    pub yesterday: Option<DayFigures>,
    pub week_before: Option<DayFigures>,
}

/// `12 (+3 vs last week)`.
fn against(now: i64, before: Option<i64>) -> String {
    match before {
        Some(b) => format!("{now} ({:+} vs the same day last week)", now - b),
        None => now.to_string(),
    }
}

const LIST_LIMIT: usize = 10;

fn link(guild: u64, post: &Post, thread: bool) -> String {
    if thread {
        format!("<#{}> by <@{}> <t:{}:R>", post.target, post.user, post.at)
    } else {
        format!(
            "https://discord.com/channels/{guild}/{}/{} by <@{}> <t:{}:R>",
            post.channel, post.target, post.user, post.at
        )
    }
}

impl Digest {
    /// The digest's text (lists cut at ten items): each section only when it has something, so
    /// a quiet day reads short.
    pub fn text(&self) -> String {
        let mut out = vec!["☀️ **The 24-hour download**".to_owned()];
        let silent: Vec<String> = self
            .new_members
            .iter()
            .filter(|(_, posted)| !posted)
            .map(|(u, _)| format!("<@{u}>"))
            .collect();
        out.push(format!(
            "**New members:** {}{}",
            self.new_members.len(),
            if silent.is_empty() {
                String::new()
            } else {
                format!(
                    " · no first message yet: {}{}",
                    silent
                        .iter()
                        .take(LIST_LIMIT)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", "),
                    more(silent.len())
                )
            }
        ));
        let section = |title: &str, lines: Vec<String>| -> Option<String> {
            (!lines.is_empty()).then(|| {
                let total = lines.len();
                let shown: Vec<String> = lines
                    .into_iter()
                    .take(LIST_LIMIT)
                    .map(|l| format!("• {l}"))
                    .collect();
                format!(
                    "**{title}** ({total}):\n{}{}",
                    shown.join("\n"),
                    more(total)
                )
            })
        };
        let hours = self.unanswered_hours;
        out.extend(section(
            &format!("Newcomers' first messages with no reply after {hours} h"),
            self.unanswered_messages
                .iter()
                .map(|p| link(self.guild_id, p, false))
                .collect(),
        ));
        out.extend(section(
            &format!("Threads with no answer after {hours} h"),
            self.unanswered_threads
                .iter()
                .map(|p| link(self.guild_id, p, true))
                .collect(),
        ));
        out.extend(section("Open flags", self.open_flags.clone()));
        let mut waiting = Vec::new();
        if self.pending_applications > 0 {
            waiting.push(format!(
                "{} application(s) to review",
                self.pending_applications
            ));
        }
        if self.feedback_past_sla > 0 {
            waiting.push(format!(
                "{} feedback item(s) past the SLA",
                self.feedback_past_sla
            ));
        }
        if !waiting.is_empty() {
            out.push(format!("**Waiting:** {}", waiting.join(" · ")));
        }
        out.extend(section("Today", self.today.clone()));
        if let Some(day) = self.yesterday {
            let before = self.week_before;
            out.push(format!(
                "**Yesterday:** DAU {} · messages {} · new members {}",
                against(day.dau, before.map(|b| b.dau)),
                against(day.messages, before.map(|b| b.messages)),
                against(day.joins, before.map(|b| b.joins)),
            ));
        }
        out.join("\n")
    }
}

fn more(total: usize) -> String {
    if total > LIST_LIMIT {
        format!(" … and {} more", total - LIST_LIMIT)
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(user: u64, target: u64) -> Post {
        Post {
            user,
            channel: 1,
            target,
            at: 100,
        }
    }

    #[test]
    fn a_thread_answered_by_someone_else_is_not_listed() {
        let threads = [post(5, 50), post(6, 60), post(7, 70)];
        // 50: answered by 6; 60: only its starter posted; 70: nobody.
        let posters = [(50, 5), (50, 6), (60, 6)];
        let open: Vec<u64> = unanswered_threads(&threads, &posters)
            .iter()
            .map(|p| p.target)
            .collect();
        assert_eq!(open, vec![60, 70]);
    }

    #[test]
    fn the_digest_shows_only_what_needs_attention_and_compares_with_last_week() {
        let digest = Digest {
            guild_id: 9,
            new_members: vec![(1, true), (2, false)],
            unanswered_messages: vec![post(2, 77)],
            unanswered_hours: 4,
            yesterday: Some(DayFigures {
                dau: 12,
                messages: 80,
                joins: 2,
            }),
            week_before: Some(DayFigures {
                dau: 10,
                messages: 90,
                joins: 2,
            }),
            ..Digest::default()
        };
        let text = digest.text();
        assert!(
            text.contains("**New members:** 2 · no first message yet: <@2>"),
            "{text}"
        );
        assert!(
            text.contains("https://discord.com/channels/9/1/77 by <@2>"),
            "{text}"
        );
        assert!(
            !text.contains("Open flags") && !text.contains("Threads with no answer"),
            "{text}"
        );
        assert!(
            text.contains("DAU 12 (+2 vs the same day last week) · messages 80 (-10"),
            "{text}"
        );
    }
}
