//! Activity from gateway events (never message content) into the activity tracker.

use super::serenity::{self, FullEvent};
use super::{Data, Error};
use crate::db::activity::{Kind, Record};
use crate::domain::clock::unix_now;

/// Records activity (never content) from the events that carry it; false for other events.
pub(super) fn track(
    framework: poise::FrameworkContext<'_, Data, Error>,
    event: &FullEvent,
) -> bool {
    let data = framework.user_data;
    match event {
        FullEvent::Message { new_message } => message(framework, new_message),
        FullEvent::ThreadCreate { thread } => {
            if let (Some(owner), Some(parent)) = (thread.owner_id, thread.parent_id) {
                let by_bot = owner == framework.serenity_context.cache.current_user().id;
                if !by_bot {
                    data.tracker.record(Record {
                        guild_id: thread.guild_id.get(),
                        user_id: owner.get(),
                        at: unix_now(),
                        kind: Kind::ThreadCreated,
                        channel_id: parent.get(),
                        target_id: thread.id.get(),
                        reply_to: None,
                        in_thread: false,
                    });
                }
            }
        }
        FullEvent::ReactionAdd { add_reaction } => {
            let by_bot = add_reaction.member.as_ref().is_some_and(|m| m.user.bot);
            if let (Some(guild_id), Some(user_id), false) =
                (add_reaction.guild_id, add_reaction.user_id, by_bot)
            {
                data.tracker.record(Record {
                    guild_id: guild_id.get(),
                    user_id: user_id.get(),
                    at: unix_now(),
                    kind: Kind::Reaction,
                    channel_id: add_reaction.channel_id.get(),
                    target_id: add_reaction.message_id.get(),
                    reply_to: None,
                    in_thread: false,
                });
            }
        }
        FullEvent::VoiceStateUpdate { old, new } => {
            let joined =
                new.channel_id.is_some() && old.as_ref().is_none_or(|o| o.channel_id.is_none());
            let by_bot = new.member.as_ref().is_some_and(|m| m.user.bot);
            if let (true, false, Some(guild_id), Some(channel)) =
                (joined, by_bot, new.guild_id, new.channel_id)
            {
                let at = unix_now();
                data.tracker.record(Record {
                    guild_id: guild_id.get(),
                    user_id: new.user_id.get(),
                    at,
                    kind: Kind::VoiceJoin,
                    channel_id: channel.get(),
                    target_id: u64::try_from(at).unwrap_or(0),
                    reply_to: None,
                    in_thread: false,
                });
            }
            // Events' attendance (handled with the features) needs it too.
            return false;
        }
        _ => return false,
    }
    true
}

/// A member's message: activity (never its content) and the first-message time (activation).
fn message(framework: poise::FrameworkContext<'_, Data, Error>, message: &serenity::Message) {
    let data = framework.user_data;
    let Some(guild_id) = message.guild_id else {
        return;
    };
    if message.author.bot || message.webhook_id.is_some() {
        return;
    }
    // Only Default and Reply are members' messages (product §6). System notices are no
    // activity: a join notice's join comes from GUILD_MEMBER_ADD (recording it here too would
    // race that event in the writer), a thread-created notice's thread from THREAD_CREATE.
    if !matches!(
        message.kind,
        serenity::MessageType::Regular | serenity::MessageType::InlineReply
    ) {
        return;
    }
    let (guild, user) = (guild_id.get(), message.author.id.get());
    if data.tracker.is_opted_out(guild, user) {
        return;
    }
    let at = message.timestamp.unix_timestamp();
    let in_thread = framework
        .serenity_context
        .cache
        .guild(guild_id)
        .is_some_and(|g| g.threads.iter().any(|t| t.id == message.channel_id));
    data.tracker.record(Record {
        guild_id: guild,
        user_id: user,
        at,
        kind: Kind::Message,
        channel_id: message.channel_id.get(),
        target_id: message.id.get(),
        reply_to: message
            .message_reference
            .as_ref()
            .and_then(|r| r.message_id)
            .map(|m| m.get()),
        in_thread,
    });
    data.tracker.first_message(guild, user, at);
    if let Some(joined) = message.member.as_ref().and_then(|m| m.joined_at) {
        data.tracker
            .known_join(guild, user, joined.unix_timestamp());
    }
}
