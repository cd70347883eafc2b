//! Domain values to serenity embeds for interaction replies (posts that go through the outbox
//! are JSON bodies: `outbox::posts`).

use super::serenity::{CreateAllowedMentions, CreateEmbed};
use crate::domain::doctor::Finding;
use crate::domain::settings::{ChannelPurpose, GuildSettings};
use crate::outbox::posts::{human_duration, truncate, COLOUR, EMBED_DESCRIPTION_LIMIT};

/// The framework-wide default for replies: nobody is pinged.
pub fn no_mentions() -> CreateAllowedMentions {
    CreateAllowedMentions::new()
        .everyone(false)
        .all_roles(false)
        .all_users(false)
        .replied_user(false)
}

/// `/stats overview`: the latest day's active members and the period's totals.
pub fn overview_embed(
    report: &crate::domain::analytics::Report,
    talk: &crate::domain::analytics::Conversations,
    connected: &crate::domain::connectedness::Connected,
) -> CreateEmbed {
    let last = report.daily.last();
    let (dau, wau, mau) = last.map_or((0, 0, 0), |d| (d.dau, d.wau, d.mau));
    let stickiness = if mau == 0 {
        "n/a".to_owned()
    } else {
        format!("{:.0}%", 100.0 * dau as f64 / mau as f64)
    };
    let messages: usize = report.daily.iter().map(|d| d.messages).sum();
    let joins: usize = report.daily.iter().map(|d| d.joins).sum();
    let leaves: usize = report.daily.iter().map(|d| d.leaves).sum();
    let activation = match report.activation.rate {
        Some(rate) => format!(
            "{:.0}% ({} of {})",
            rate * 100.0,
            report.activation.activated,
            report.activation.joined
        ),
        None => "n/a (no one joined at least 7 days ago)".to_owned(),
    };
    let trend: Vec<String> = report
        .daily
        .iter()
        .rev()
        .take(7)
        .rev()
        .map(|d| format!("{} {}", d.date.format("%a"), d.dau))
        .collect();
    CreateEmbed::new()
        .title(format!(
            "Community health · {} to {}",
            report.from, report.to
        ))
        .colour(COLOUR)
        .field("DAU", dau.to_string(), true)
        .field("WAU", wau.to_string(), true)
        .field("MAU", mau.to_string(), true)
        .field("Stickiness (DAU/MAU)", stickiness, true)
        .field("Messages", messages.to_string(), true)
        .field(
            "New members",
            format!("{joins} joined · {leaves} left"),
            true,
        )
        .field(
            "Activation (first message within 7 days)",
            activation,
            false,
        )
        .field(
            "Replies per post",
            talk.replies_per_post
                .map_or_else(|| "n/a".to_owned(), |r| format!("{r:.2}")),
            true,
        )
        .field(
            "Member-started threads",
            talk.member_initiated
                .map_or_else(|| "n/a".to_owned(), |r| format!("{:.0}%", r * 100.0)),
            true,
        )
        .field(
            "Newcomers' first reply (median)",
            match talk.median_first_reply_secs {
                Some(secs) => format!(
                    "{} · {} unanswered",
                    human_duration(secs),
                    talk.unanswered_newcomers
                ),
                None => format!("n/a · {} unanswered", talk.unanswered_newcomers),
            },
            true,
        )
        .field(
            "Connected members (a reply exchanged, or the same thread within an hour)",
            match connected.rate() {
                Some(rate) => format!(
                    "{:.0}% ({} of {} active) · {} new connection(s)",
                    rate * 100.0,
                    connected.connected,
                    connected.active,
                    connected.new_pairs
                ),
                None => "n/a (nobody active)".to_owned(),
            },
            false,
        )
        .field("Daily active, last 7 days", trend.join(" · "), false)
        .footer(poise::serenity_prelude::CreateEmbedFooter::new(format!(
            "Days in {}. Hearth counts activity, never message content.",
            report.timezone
        )))
}

/// `/stats retention`: one line per cohort.
pub fn retention_embed(report: &crate::domain::analytics::Report) -> CreateEmbed {
    let pct = |x: Option<f64>| x.map_or_else(|| "–".to_owned(), |v| format!("{:.0}%", v * 100.0));
    let lines: Vec<String> = report
        .retention
        .iter()
        .map(|c| {
            format!(
                "`{}` {} joined · 30-day {} · 90-day {}",
                c.cohort,
                c.size,
                pct(c.d30),
                pct(c.d90)
            )
        })
        .collect();
    let body = if lines.is_empty() {
        "No joins recorded in this period yet.".to_owned()
    } else {
        lines.join("\n")
    };
    CreateEmbed::new()
        .title(format!(
            "Retention by join cohort · {} to {}",
            report.from, report.to
        ))
        .colour(COLOUR)
        .description(truncate(
            &format!("{body}\n\n– : the window has not ended yet."),
            EMBED_DESCRIPTION_LIMIT,
        ))
}

/// `/feedback report`.
pub fn feedback_report_embed(
    r: &crate::domain::feedback::FeedbackReport,
    days: u32,
    sla_days: u32,
) -> CreateEmbed {
    let statuses = crate::domain::feedback::Status::ALL
        .iter()
        .map(|s| format!("{s}: {}", r.per_status.get(s).copied().unwrap_or(0)))
        .collect::<Vec<_>>()
        .join(" · ");
    let themes = if r.top_categories.is_empty() {
        "none".to_owned()
    } else {
        r.top_categories
            .iter()
            .take(5)
            .map(|(c, n)| format!("{c} ({n})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    CreateEmbed::new()
        .title(format!("Feedback, last {days} days"))
        .colour(COLOUR)
        .field("By status", statuses, false)
        .field("Top themes", themes, false)
        .field(
            "Median time to acknowledge",
            r.median_ack_secs
                .map_or_else(|| "n/a".to_owned(), human_duration),
            true,
        )
        .field(
            format!("Waiting past the {sla_days}-day SLA"),
            r.past_sla.to_string(),
            true,
        )
}

/// `/config show`.
pub fn settings_embed(settings: &GuildSettings) -> CreateEmbed {
    let channels = ChannelPurpose::ALL
        .iter()
        .map(|purpose| match settings.channel(*purpose) {
            Some(id) => format!("**{purpose}**: <#{id}>"),
            None => format!("**{purpose}**: not set"),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let manager = settings.manager_role.map_or_else(
        || "Manage Server only".to_owned(),
        |r| format!("<@&{r}> and Manage Server"),
    );
    CreateEmbed::new()
        .title("Hearth settings")
        .colour(COLOUR)
        .field("Time zone", settings.timezone.name(), true)
        .field("Managers", manager, true)
        .field("Channels", channels, false)
}

/// `/config doctor`.
pub fn doctor_embed(findings: &[Finding], failures: &[String]) -> CreateEmbed {
    let problems = findings.iter().filter(|f| !f.ok).count();
    let mut lines: Vec<String> = findings
        .iter()
        .map(|f| {
            if f.ok {
                format!("✅ **{}**: {}", f.purpose, f.problem)
            } else {
                format!("⚠️ **{}**: {}\n  ↳ fix: {}", f.purpose, f.problem, f.fix)
            }
        })
        .collect();
    if !failures.is_empty() {
        lines.push(String::from("\n**Posts given up in the last 7 days**"));
        lines.extend(failures.iter().map(|f| format!("❌ {f}")));
    }
    let title = if problems == 0 && failures.is_empty() {
        "Hearth doctor: everything works".to_owned()
    } else {
        format!("Hearth doctor: {problems} problem(s) found")
    };
    CreateEmbed::new()
        .title(title)
        .colour(COLOUR)
        .description(truncate(&lines.join("\n"), EMBED_DESCRIPTION_LIMIT))
}
