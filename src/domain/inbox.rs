//! The manager's inbox (product §12), the pure part: the digest's and the recap's texts. Links
//! only, never message text.

/// A message or thread to link to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Post {
    pub user: u64,
    pub channel: u64,
    /// The message, or the thread.
    pub target: u64,
    pub at: i64,
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
            &format!("Newcomers' threads nobody else posted in after {hours} h"),
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

/// The weekly public recap: last week's spotlight, its most-replied member threads (links),
/// what is coming. Built only from what may be public: no opted-out member is ever named.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recap {
    pub spotlight: Option<u64>,
    /// `(thread, starter, messages)`, most first.
    pub threads: Vec<(u64, u64, i64)>,
    /// The coming week's schedule, as lines.
    pub upcoming: Vec<String>,
}

/// The three threads with the most messages whose starter is known, most first (then the
/// oldest thread id).
pub fn top_threads(counts: &[(u64, Option<u64>, i64)], limit: usize) -> Vec<(u64, u64, i64)> {
    let mut known: Vec<(u64, u64, i64)> = counts
        .iter()
        .filter_map(|(thread, starter, n)| Some((*thread, (*starter)?, *n)))
        .collect();
    known.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
    known.truncate(limit);
    known
}

impl Recap {
    pub fn text(&self) -> String {
        let mut out = vec!["📰 **Last week here**".to_owned()];
        if let Some(member) = self.spotlight {
            out.push(format!("🌟 Spotlight: <@{member}>"));
        }
        if !self.threads.is_empty() {
            out.push("💬 Most-replied threads:".into());
            out.extend(
                self.threads
                    .iter()
                    .map(|(thread, _, n)| format!("• <#{thread}> · {n} message(s)")),
            );
        }
        if self.upcoming.is_empty() {
            out.push("📅 Nothing scheduled this week yet.".into());
        } else {
            out.push("📅 Coming up:".into());
            out.extend(self.upcoming.iter().map(|l| format!("• {l}")));
        }
        out.join("\n")
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
            !text.contains("Open flags") && !text.contains("threads nobody"),
            "{text}"
        );
        assert!(
            text.contains("DAU 12 (+2 vs the same day last week) · messages 80 (-10"),
            "{text}"
        );
    }

    #[test]
    fn the_recap_lists_the_top_known_threads_and_names_only_the_spotlight() {
        // 3's starter is unknown (an opted-out member or the bot): never listed.
        let top = top_threads(
            &[
                (1, Some(10), 4),
                (2, Some(11), 9),
                (3, None, 50),
                (4, Some(12), 4),
                (5, Some(13), 1),
            ],
            3,
        );
        assert_eq!(top, vec![(2, 11, 9), (1, 10, 4), (4, 12, 4)]);
        let text = Recap {
            spotlight: Some(7),
            threads: top,
            upcoming: vec![],
        }
        .text();
        assert!(
            text.contains("Spotlight: <@7>") && text.contains("<#2> · 9 message(s)"),
            "{text}"
        );
        assert!(!text.contains("<@11>"), "starters are not named: {text}");
    }
}
