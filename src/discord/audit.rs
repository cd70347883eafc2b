//! The audit log's door for slash commands (product §13): once a settings command has succeeded,
//! who ran it, when and with which options is recorded. A refusal (bad argument, not a manager)
//! ends in `on_error` instead, so it is never recorded as a change.

use tracing::warn;

use crate::db::settings_changes::{self, NewChange, SettingChange, Source};
use crate::discord::serenity::ResolvedValue;
use crate::discord::Context;
use crate::domain::clock::unix_now;

/// Every command that changes how Hearth behaves in a server, by qualified name. Content a
/// manager creates (events, surveys, posts) has its own history and is not a setting. A test
/// checks that each name is a registered command.
pub const SETTINGS_COMMANDS: &[&str] = &[
    "config timezone",
    "config channel",
    "config manager-role",
    "config application-role",
    "welcome setup",
    "welcome disable",
    "welcome template add",
    "welcome template remove",
    "prompts add",
    "prompts remove",
    "prompts pause",
    "prompts resume",
    "prompts preset",
    "prompts bank add",
    "prompts bank remove",
    "spotlight shoutout",
    "connect setup",
    "survey nps",
    "replies add",
    "replies edit",
    "replies remove",
    "guidelines automod",
    "digest",
    "recap",
];

/// The longest option value kept (a welcome template can be long; the log needs its gist).
const VALUE_CHARS: usize = 120;

/// Poise's `post_command` hook: records the change when the command was a setting.
pub async fn after_command(ctx: Context<'_>) {
    let setting: &str = &ctx.command().qualified_name;
    if !SETTINGS_COMMANDS.contains(&setting) {
        return;
    }
    let Some(guild_id) = ctx.guild_id() else {
        return;
    };
    let detail = match ctx {
        poise::Context::Application(app) => {
            let command = ctx.command();
            // A choice arrives as its index; the log shows its label.
            let choice = |name: &str, index: i64| {
                let parameter = command.parameters.iter().find(|p| p.name == name)?;
                let choice = parameter.choices.get(usize::try_from(index).ok()?)?;
                Some(choice.name.to_string())
            };
            describe(app.args.iter().map(|o| match &o.value {
                ResolvedValue::Integer(i) => match choice(o.name, *i) {
                    Some(label) => (o.name, Shown::Text(label)),
                    None => (o.name, Shown::Value(&o.value)),
                },
                value => (o.name, Shown::Value(value)),
            }))
        }
        poise::Context::Prefix(_) => String::new(),
    };
    let change = NewChange {
        guild_id: guild_id.get(),
        user_id: ctx.author().id.get(),
        changed_at: unix_now(),
        source: Source::Slash,
        setting,
        detail: &detail,
    };
    if let Err(err) = settings_changes::record(&ctx.data().pool, &change).await {
        warn!(guild.id = guild_id.get(), setting, error = %err, "could not add a settings change to the audit log");
    }
}

/// The latest changes for `/config audit`, newest first, within a message's 2,000 characters.
pub fn render(changes: &[SettingChange]) -> String {
    if changes.is_empty() {
        return "No settings have changed since the audit log began.".to_owned();
    }
    let mut text = String::from("**Settings changes**, newest first:");
    for change in changes {
        let who = if crate::db::privacy::is_anonymous(change.user_id) {
            "a forgotten member".to_owned()
        } else {
            format!("<@{}>", change.user_id)
        };
        let place = match change.source {
            Source::Web => " (dashboard)",
            Source::Slash => "",
        };
        let line = format!(
            "\n<t:{}:f> {who}{place}: `/{}` {}",
            change.changed_at, change.setting, change.detail
        );
        if text.chars().count() + line.chars().count() > 1_950 {
            text.push_str("\n…");
            break;
        }
        text.push_str(&line);
    }
    text
}

/// An option's value, or the text it stands for (a choice's label).
enum Shown<'a> {
    Value(&'a ResolvedValue<'a>),
    Text(String),
}

/// The options as `name: value` pairs; channels, roles and users as mentions.
fn describe<'a>(options: impl Iterator<Item = (&'a str, Shown<'a>)>) -> String {
    options
        .map(|(name, shown)| match shown {
            Shown::Text(text) => format!("{name}: {text}"),
            Shown::Value(value) => format!("{name}: {}", value_text(value)),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn value_text(value: &ResolvedValue<'_>) -> String {
    match value {
        ResolvedValue::Boolean(b) => if *b { "yes" } else { "no" }.to_owned(),
        ResolvedValue::Integer(i) => i.to_string(),
        ResolvedValue::Number(n) => n.to_string(),
        ResolvedValue::String(s) => shortened(s),
        ResolvedValue::Channel(c) => format!("<#{}>", c.id.get()),
        ResolvedValue::Role(r) => format!("<@&{}>", r.id.get()),
        ResolvedValue::User(u, _) => format!("<@{}>", u.id.get()),
        ResolvedValue::SubCommand(inner) | ResolvedValue::SubCommandGroup(inner) => {
            describe(inner.iter().map(|o| (o.name, Shown::Value(&o.value))))
        }
        _ => "(attachment or unresolved)".to_owned(),
    }
}

fn shortened(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(VALUE_CHARS) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_audited_name_is_a_registered_command() {
        // Poise fills `qualified_name` in when the framework starts; here the tree is walked.
        let mut names = Vec::new();
        fn walk(prefix: &str, commands: &[crate::discord::Command], names: &mut Vec<String>) {
            for command in commands {
                let name = format!("{prefix}{}", command.name);
                walk(&format!("{name} "), &command.subcommands, names);
                names.push(name);
            }
        }
        walk("", &crate::discord::commands::all(), &mut names);
        for audited in SETTINGS_COMMANDS {
            assert!(
                names.iter().any(|n| n == audited),
                "{audited} is not a command: {names:?}"
            );
        }
    }

    #[test]
    fn the_log_names_who_and_where_and_fits_a_message() {
        let change = |user_id, source| SettingChange {
            id: 1,
            user_id,
            changed_at: 1_700_000_000,
            source,
            setting: "config timezone".to_owned(),
            detail: "name: Europe/Berlin".to_owned(),
        };
        let text = render(&[change(42, Source::Slash), change(1 << 63 | 7, Source::Web)]);
        assert!(text.contains("<t:1700000000:f> <@42>: `/config timezone` name: Europe/Berlin"));
        assert!(text.contains("a forgotten member (dashboard)"));
        let many = vec![change(42, Source::Slash); 100];
        let text = render(&many);
        assert!(text.chars().count() <= 2_000 && text.ends_with('…'));
        assert!(render(&[]).contains("No settings"));
    }

    #[test]
    fn options_read_as_name_value_pairs_and_long_text_is_cut() {
        let (time, dm) = (ResolvedValue::String("09:00"), ResolvedValue::Boolean(true));
        assert_eq!(
            describe(
                [
                    ("time", Shown::Value(&time)),
                    ("dm", Shown::Value(&dm)),
                    ("purpose", Shown::Text("reports".into()))
                ]
                .into_iter()
            ),
            "time: 09:00, dm: yes, purpose: reports"
        );
        let long = "word ".repeat(100);
        let cut = shortened(&long);
        assert_eq!(cut.chars().count(), VALUE_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(shortened("a\n  b"), "a b");
    }
}
