//! `/config doctor`: which Discord permissions each feature needs, and what breaks without them.
//! Permissions are Discord's bit flags as plain `u64`, so this stays free of serenity.

use super::permissions as perm;
use crate::domain::settings::ChannelPurpose;

/// Everything the bot needs to be fully functional; the invite URL in the README uses it.
/// AMAs need Create Events, not Manage Events: Hearth only ends the events it created itself.
pub const ALL_REQUIRED: u64 = perm::VIEW_CHANNEL
    | perm::SEND_MESSAGES
    | perm::EMBED_LINKS
    | perm::ATTACH_FILES
    | perm::READ_MESSAGE_HISTORY
    | perm::CREATE_PUBLIC_THREADS
    | perm::CREATE_PRIVATE_THREADS
    | perm::SEND_MESSAGES_IN_THREADS
    | perm::MANAGE_THREADS
    | perm::SEND_POLLS
    | perm::MANAGE_ROLES
    | perm::CREATE_EVENTS
    | perm::CONNECT;

/// Permissions needed in the channel configured for a purpose.
pub fn channel_permissions(purpose: ChannelPurpose) -> u64 {
    use perm::*;
    let base = VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | READ_MESSAGE_HISTORY;
    base | match purpose {
        ChannelPurpose::Welcome | ChannelPurpose::Spotlight => 0,
        ChannelPurpose::Intros
        | ChannelPurpose::Ama
        | ChannelPurpose::Applications
        | ChannelPurpose::Events => CREATE_PUBLIC_THREADS | SEND_MESSAGES_IN_THREADS,
        ChannelPurpose::Connections => CREATE_PRIVATE_THREADS | SEND_MESSAGES_IN_THREADS,
        ChannelPurpose::Feedback => {
            CREATE_PUBLIC_THREADS | SEND_MESSAGES_IN_THREADS | MANAGE_THREADS
        }
        ChannelPurpose::Prompts => CREATE_PUBLIC_THREADS | SEND_MESSAGES_IN_THREADS | SEND_POLLS,
        ChannelPurpose::Reports => ATTACH_FILES,
    }
}

/// Server-wide permissions needed by a purpose's feature.
pub fn guild_permissions(purpose: ChannelPurpose) -> u64 {
    match purpose {
        ChannelPurpose::Applications => perm::MANAGE_ROLES,
        ChannelPurpose::Ama | ChannelPurpose::Events => perm::CREATE_EVENTS,
        _ => 0,
    }
}

/// Names of the permissions in `bits`, in Discord's order.
pub fn permission_names(bits: u64) -> Vec<&'static str> {
    perm::NAMES
        .iter()
        .filter(|(bit, _)| bits & bit != 0)
        .map(|(_, name)| *name)
        .collect()
}

/// What the doctor knows about the channel configured for one purpose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChannelState {
    NotConfigured,
    /// Configured, but the channel is gone or the bot cannot see it at all.
    Missing {
        channel_id: u64,
    },
    Present {
        channel_id: u64,
        /// The bot's effective permissions in the channel.
        bot_permissions: u64,
    },
}

/// One line of the doctor's report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub purpose: ChannelPurpose,
    pub ok: bool,
    pub problem: String,
    pub fix: String,
}

/// Diagnoses every purpose. `guild_bot_permissions` are the bot's server-wide permissions.
pub fn diagnose(
    channels: &[(ChannelPurpose, ChannelState)],
    guild_bot_permissions: u64,
) -> Vec<Finding> {
    channels
        .iter()
        .map(|(purpose, state)| diagnose_one(*purpose, state, guild_bot_permissions))
        .collect()
}

fn diagnose_one(purpose: ChannelPurpose, state: &ChannelState, guild_perms: u64) -> Finding {
    let finding = |ok: bool, problem: String, fix: String| Finding {
        purpose,
        ok,
        problem,
        fix,
    };
    match *state {
        ChannelState::NotConfigured => finding(
            false,
            format!("no {purpose} channel: {} are off", purpose.feature()),
            format!("/config channel purpose:{purpose} channel:#…"),
        ),
        ChannelState::Missing { channel_id } => finding(
            false,
            format!(
                "the {purpose} channel <#{channel_id}> no longer exists or is hidden from the bot: {} fail",
                purpose.feature()
            ),
            format!("choose another with /config channel purpose:{purpose}, or give the bot View Channel there"),
        ),
        ChannelState::Present {
            channel_id,
            bot_permissions,
        } => {
            if bot_permissions & perm::ADMINISTRATOR != 0 {
                return finding(true, format!("<#{channel_id}>: all permissions"), String::new());
            }
            let missing_here = channel_permissions(purpose) & !bot_permissions;
            let missing_server = guild_permissions(purpose) & !guild_perms;
            if missing_here == 0 && missing_server == 0 {
                // Optional: without it a feedback forum's existing tags are used, none created.
                if purpose == ChannelPurpose::Feedback && bot_permissions & perm::MANAGE_CHANNELS == 0 {
                    return finding(
                        true,
                        format!("<#{channel_id}>: ready; missing forum tags are not created without Manage Channels (optional)"),
                        String::new(),
                    );
                }
                return finding(true, format!("<#{channel_id}>: ready"), String::new());
            }
            let mut problems = Vec::new();
            let mut fixes = Vec::new();
            if missing_here != 0 {
                let names = permission_names(missing_here).join(", ");
                problems.push(format!("missing {names} in <#{channel_id}>"));
                fixes.push(format!("allow {names} for the Hearth role in <#{channel_id}> (channel settings → Permissions)"));
            }
            if missing_server != 0 {
                let names = permission_names(missing_server).join(", ");
                problems.push(format!("missing the server permission {names}"));
                fixes.push(format!("give the Hearth role {names} in Server Settings → Roles"));
            }
            finding(
                false,
                format!("{}: {} cannot work", problems.join("; "), purpose.feature()),
                fixes.join("; "),
            )
        }
    }
}

/// A role Hearth must grant (the application role) has to sit below the bot's highest role.
pub fn role_grant_finding(
    purpose: ChannelPurpose,
    role_id: u64,
    role_position: Option<u16>,
    bot_top_position: u16,
) -> Finding {
    let (who, set_another) = if purpose == ChannelPurpose::Events {
        (
            "Going members of an event",
            "give the event another attendee role (recreate it) or none",
        )
    } else {
        (
            "approved applicants",
            "set another with /config application-role",
        )
    };
    let (ok, problem, fix) = match role_position {
        None => (
            false,
            format!("the role to grant (id {role_id}) no longer exists: {who} get no role"),
            set_another.to_owned(),
        ),
        Some(position) if position >= bot_top_position => (
            false,
            format!("<@&{role_id}> is above my highest role, so I cannot grant it to {who}"),
            format!("drag the Hearth role above <@&{role_id}> in Server Settings → Roles"),
        ),
        Some(_) => (true, format!("I can grant <@&{role_id}>"), String::new()),
    };
    Finding {
        purpose,
        ok,
        problem,
        fix,
    }
}

/// Permissions Discord requires in the channel of a voice (or stage) event the bot creates.
pub fn voice_event_permissions(stage: bool) -> u64 {
    let voice = perm::VIEW_CHANNEL | perm::CONNECT;
    if stage {
        voice | perm::MANAGE_CHANNELS | perm::MUTE_MEMBERS | perm::MOVE_MEMBERS
    } else {
        voice
    }
}

/// Whether the bot may hold the event `title` in its voice or stage channel.
pub fn voice_event_finding(
    title: &str,
    channel_id: u64,
    stage: bool,
    bot_permissions: Option<u64>,
) -> Finding {
    let needed = voice_event_permissions(stage);
    let (ok, problem, fix) = match bot_permissions {
        None => (
            false,
            format!(
                "the channel of the event \"{title}\" (id {channel_id}) is gone or hidden from me"
            ),
            "move the event to another channel with /event edit, or cancel it".to_owned(),
        ),
        Some(bits) if bits & needed != needed => {
            let missing = permission_names(needed & !bits).join(", ");
            (
                false,
                format!("in <#{channel_id}> I lack {missing}: Discord refuses to create or move the event \"{title}\" there"),
                format!("grant me {missing} in <#{channel_id}>"),
            )
        }
        Some(_) => (
            true,
            format!("I can hold \"{title}\" in <#{channel_id}>"),
            String::new(),
        ),
    };
    Finding {
        purpose: ChannelPurpose::Events,
        ok,
        problem,
        fix,
    }
}

/// Whether the bot may set up Discord's AutoMod rules (`/guidelines automod`, once asked for):
/// Discord requires Manage Server.
pub fn automod_finding(guild_bot_permissions: u64) -> Finding {
    let ok = guild_bot_permissions & (perm::MANAGE_GUILD | perm::ADMINISTRATOR) != 0;
    Finding {
        purpose: ChannelPurpose::Reports,
        ok,
        problem: if ok {
            "I can set up Discord's AutoMod rules (/guidelines automod)".into()
        } else {
            "I lack Manage Server: Discord refuses to let me create or change AutoMod rules (/guidelines automod)".into()
        },
        fix: if ok {
            String::new()
        } else {
            "grant me Manage Server, or set the rules up yourself in Server Settings → AutoMod"
                .into()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_voice_event_channel_names_exactly_what_is_missing() {
        let all = voice_event_permissions(true);
        assert!(voice_event_finding("Jam", 5, false, Some(all)).ok);
        let without_connect = voice_event_finding("Jam", 5, false, Some(perm::VIEW_CHANNEL));
        assert!(!without_connect.ok);
        assert!(
            without_connect.problem.contains("I lack Connect"),
            "{}",
            without_connect.problem
        );
        let stage = voice_event_finding("Talk", 6, true, Some(perm::VIEW_CHANNEL | perm::CONNECT));
        assert!(
            stage
                .problem
                .contains("Manage Channels, Mute Members, Move Members"),
            "{}",
            stage.problem
        );
        assert!(!voice_event_finding("Gone", 7, false, None).ok);
    }

    #[test]
    fn the_readme_invite_url_asks_for_exactly_what_hearth_needs() {
        let readme = include_str!("../../README.md");
        assert!(
            readme.contains(&format!("permissions={ALL_REQUIRED}")),
            "update the README's invite URL to permissions={ALL_REQUIRED}"
        );
    }

    #[test]
    fn a_channel_with_every_permission_is_ready() {
        let findings = diagnose(
            &[(
                ChannelPurpose::Welcome,
                ChannelState::Present {
                    channel_id: 7,
                    bot_permissions: ALL_REQUIRED,
                },
            )],
            ALL_REQUIRED,
        );
        assert!(findings[0].ok, "{findings:?}");
    }

    #[test]
    fn missing_send_messages_names_the_channel_the_feature_and_the_fix() {
        let findings = diagnose(
            &[(
                ChannelPurpose::Welcome,
                ChannelState::Present {
                    channel_id: 7,
                    bot_permissions: perm::VIEW_CHANNEL | perm::READ_MESSAGE_HISTORY,
                },
            )],
            0,
        );
        let f = &findings[0];
        assert!(!f.ok);
        assert!(f.problem.contains("Send Messages"), "{}", f.problem);
        assert!(f.problem.contains("Embed Links"), "{}", f.problem);
        assert!(f.problem.contains("<#7>"));
        assert!(f.problem.contains("welcome posts"));
        assert!(f.fix.contains("Hearth role"));
    }

    #[test]
    fn manage_channels_is_an_optional_hint_for_the_feedback_forum() {
        let state = |extra: u64| ChannelState::Present {
            channel_id: 5,
            bot_permissions: ALL_REQUIRED | extra,
        };
        let without = &diagnose(&[(ChannelPurpose::Feedback, state(0))], ALL_REQUIRED)[0];
        assert!(without.ok, "still ready: {without:?}");
        assert!(without.problem.contains("Manage Channels (optional)"));
        let with = &diagnose(
            &[(ChannelPurpose::Feedback, state(perm::MANAGE_CHANNELS))],
            ALL_REQUIRED,
        )[0];
        assert_eq!(with.problem, "<#5>: ready");
    }

    #[test]
    fn server_permissions_are_checked_per_feature() {
        let findings = diagnose(
            &[(
                ChannelPurpose::Applications,
                ChannelState::Present {
                    channel_id: 9,
                    bot_permissions: ALL_REQUIRED,
                },
            )],
            ALL_REQUIRED & !perm::MANAGE_ROLES,
        );
        assert!(findings[0].problem.contains("Manage Roles"));
    }

    #[test]
    fn amas_need_create_events_and_manage_events_alone_is_not_enough() {
        let ama = |guild_perms: u64| {
            diagnose(
                &[(
                    ChannelPurpose::Ama,
                    ChannelState::Present {
                        channel_id: 4,
                        bot_permissions: ALL_REQUIRED,
                    },
                )],
                guild_perms,
            )
            .remove(0)
        };
        let old_invite = (ALL_REQUIRED & !perm::CREATE_EVENTS) | perm::MANAGE_EVENTS;
        let finding = ama(old_invite);
        assert!(!finding.ok, "{finding:?}");
        assert!(
            finding.problem.contains("Create Events"),
            "{}",
            finding.problem
        );
        assert!(finding.fix.contains("Create Events"), "{}", finding.fix);
        assert!(ama(ALL_REQUIRED).ok);
        assert_eq!(ALL_REQUIRED & perm::CREATE_EVENTS, perm::CREATE_EVENTS);
    }

    #[test]
    fn roles_above_the_bot_cannot_be_granted() {
        assert!(!role_grant_finding(ChannelPurpose::Applications, 5, Some(3), 3).ok);
        assert!(role_grant_finding(ChannelPurpose::Applications, 5, Some(2), 3).ok);
        assert!(role_grant_finding(ChannelPurpose::Applications, 5, None, 3)
            .problem
            .contains("no longer exists"));
    }

    #[test]
    fn unconfigured_and_missing_channels_are_reported() {
        let findings = diagnose(
            &[
                (ChannelPurpose::Reports, ChannelState::NotConfigured),
                (
                    ChannelPurpose::Intros,
                    ChannelState::Missing { channel_id: 3 },
                ),
            ],
            0,
        );
        assert!(findings[0].fix.contains("/config channel"));
        assert!(findings[1].problem.contains("no longer exists"));
    }
}
