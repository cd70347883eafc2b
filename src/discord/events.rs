//! Gateway events → features. Handlers stay thin: extract ids, call the feature, log.

use tracing::{debug, info};

use super::serenity::{self, FullEvent};
use super::{commands, render, Data, Error};
use crate::db::{
    self,
    activity::{Kind, Record},
};
use crate::domain::clock::unix_now;
use crate::domain::settings::{ChannelPurpose, GuildSettings};
use crate::welcome::{GuildFacts, Newcomer, Welcomer};

pub async fn handle(
    framework: poise::FrameworkContext<'_, Data, Error>,
    event: &FullEvent,
) -> Result<(), Error> {
    // Activity events are the hot path (one per message) and are tracked without awaiting; the
    // rest run in their own boxed future. This keeps the future poise allocates for every event
    // small (it was 4 KiB, moved and freed per message).
    if track(framework, event) {
        return Ok(());
    }
    Box::pin(feature_event(framework, event)).await
}

async fn feature_event(
    framework: poise::FrameworkContext<'_, Data, Error>,
    event: &FullEvent,
) -> Result<(), Error> {
    let data = framework.user_data;
    match event {
        FullEvent::GuildCreate { guild, .. } => {
            guild_available(data, guild).await?;
            known_joins(data, guild.members.values());
            let members = recent_members(data, guild.members.values());
            catch_up_welcomes(framework, guild.id, &members).await?;
            // A large guild's GUILD_CREATE lists only some members: ask for the rest, which
            // arrive as GUILD_MEMBERS_CHUNK.
            if guild.large || (guild.members.len() as u64) < guild.member_count {
                framework.serenity_context.shard.chunk_guild(
                    guild.id,
                    None,
                    false,
                    serenity::ChunkGuildFilter::None,
                    None,
                );
            }
        }
        FullEvent::GuildMembersChunk { chunk } => {
            known_joins(data, chunk.members.values());
            let members = recent_members(data, chunk.members.values());
            catch_up_welcomes(framework, chunk.guild_id, &members).await?;
        }
        FullEvent::GuildMemberAddition { new_member } => {
            if data.posts_on_join(new_member.guild_id.get()).await? {
                let (newcomer, settings, facts) = welcome_inputs(framework, new_member).await?;
                welcomer(data)
                    .member_joined(&newcomer, &settings, &facts, unix_now())
                    .await?;
            } else {
                welcomer(data).member_joined_quietly(&newcomer(new_member), unix_now());
            }
        }
        // Passing screening matters only where joins get a welcome.
        FullEvent::GuildMemberUpdate {
            new: Some(member), ..
        } if data.posts_on_join(member.guild_id.get()).await? => {
            let (newcomer, settings, facts) = welcome_inputs(framework, member).await?;
            welcomer(data)
                .member_updated(&newcomer, &settings, &facts, unix_now())
                .await?;
        }
        FullEvent::GuildMemberRemoval { guild_id, user, .. } => {
            data.tracker
                .leave(guild_id.get(), user.id.get(), unix_now());
        }
        FullEvent::InteractionCreate { interaction } => {
            let ctx = framework.serenity_context;
            if let serenity::Interaction::Command(command) = interaction {
                if let (Some(guild), Some(member)) = (command.guild_id, &command.member) {
                    if let Some(joined) = member.joined_at {
                        data.tracker.known_join(
                            guild.get(),
                            member.user.id.get(),
                            joined.unix_timestamp(),
                        );
                    }
                }
            }
            match interaction {
                // Each feature answers the custom ids it owns and says whether it did.
                serenity::Interaction::Component(component) => {
                    let _handled = commands::apply::on_button(ctx, data, component).await?
                        || commands::ama::on_button(ctx, data, component).await?;
                }
                serenity::Interaction::Modal(modal) => {
                    let _handled = commands::apply::on_modal(ctx, data, modal).await?
                        || commands::ama::on_modal(ctx, data, modal).await?;
                }
                _ => {}
            }
        }
        FullEvent::GuildDelete { incomplete, .. } if !incomplete.unavailable => {
            db::guilds::mark_left(&data.pool, incomplete.id.get(), unix_now()).await?;
            info!(guild.id = incomplete.id.get(), "removed from guild");
        }
        _ => {}
    }
    Ok(())
}

/// Records activity (never content) from the events that carry it; false for other events.
fn track(framework: poise::FrameworkContext<'_, Data, Error>, event: &FullEvent) -> bool {
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

fn welcomer(data: &Data) -> Welcomer<'_> {
    Welcomer {
        pool: &data.pool,
        tracker: &data.tracker,
        outbox: &data.outbox,
        config: &data.config.welcome,
        turn: &data.welcome_turn,
    }
}

/// When Discord says each listed member joined: for members Hearth never saw join, the time
/// they really joined (issue 22), so their first message is not counted as a join.
fn known_joins<'a>(data: &Data, members: impl Iterator<Item = &'a serenity::Member>) {
    for member in members.filter(|m| !m.user.bot) {
        if let Some(joined) = member.joined_at {
            data.tracker.known_join(
                member.guild_id.get(),
                member.user.id.get(),
                joined.unix_timestamp(),
            );
        }
    }
}

/// The members of a list who joined recently enough for a late welcome (a large guild lists
/// many members, nearly all long-standing).
fn recent_members<'a>(
    data: &Data,
    members: impl Iterator<Item = &'a serenity::Member>,
) -> Vec<Newcomer> {
    let now = unix_now();
    members
        .filter(|m| {
            !m.user.bot
                && m.joined_at.is_some_and(|t| {
                    crate::welcome::in_late_welcome_window(
                        &data.config.welcome,
                        t.unix_timestamp(),
                        now,
                    )
                })
        })
        .map(newcomer)
        .collect()
}

/// Members listed at start (GUILD_CREATE, member chunks): welcome those whose welcome was lost
/// or who joined while Hearth was down.
async fn catch_up_welcomes(
    framework: poise::FrameworkContext<'_, Data, Error>,
    guild_id: serenity::GuildId,
    members: &[Newcomer],
) -> Result<(), Error> {
    let data = framework.user_data;
    let settings = data.settings(guild_id.get()).await?;
    let facts = guild_facts(framework.serenity_context, guild_id, &settings);
    let welcomed = welcomer(data)
        .catch_up(members, &settings, &facts, unix_now())
        .await?;
    if welcomed > 0 {
        info!(
            guild.id = guild_id.get(),
            welcomed, "late welcomes queued at start"
        );
    }
    Ok(())
}

/// The plain facts the welcome flow needs, read from the event and the gateway cache.
async fn welcome_inputs(
    framework: poise::FrameworkContext<'_, Data, Error>,
    member: &serenity::Member,
) -> Result<(Newcomer, GuildSettings, GuildFacts), Error> {
    welcome_facts(framework.serenity_context, framework.user_data, member).await
}

async fn welcome_facts(
    ctx: &serenity::Context,
    data: &Data,
    member: &serenity::Member,
) -> Result<(Newcomer, GuildSettings, GuildFacts), Error> {
    let settings = data.settings(member.guild_id.get()).await?;
    let facts = guild_facts(ctx, member.guild_id, &settings);
    Ok((newcomer(member), settings, facts))
}

/// What the welcome needs to know of the guild, from the gateway cache.
fn guild_facts(
    ctx: &serenity::Context,
    guild_id: serenity::GuildId,
    settings: &GuildSettings,
) -> GuildFacts {
    let intros = settings.channel(ChannelPurpose::Intros);
    match ctx.cache.guild(guild_id) {
        Some(guild) => GuildFacts {
            name: guild.name.clone(),
            member_count: guild.member_count,
            rules_channel: guild.rules_channel_id.map(|c| c.get()),
            intros_is_forum: intros
                .and_then(|id| guild.channels.get(&serenity::ChannelId::new(id)))
                .is_some_and(|c| c.kind == serenity::ChannelType::Forum),
        },
        None => GuildFacts {
            name: String::from("the server"),
            member_count: 0,
            rules_channel: None,
            intros_is_forum: false,
        },
    }
}

fn newcomer(member: &serenity::Member) -> Newcomer {
    Newcomer {
        guild_id: member.guild_id.get(),
        user_id: member.user.id.get(),
        username: member.display_name().to_owned(),
        is_bot: member.user.bot,
        pending: member.pending,
        joined_at: member.joined_at.map_or(0, |t| t.unix_timestamp()),
        joined_at_ms: member.joined_at.map_or(0, |t| t.timestamp_millis()),
    }
}

/// Welcomes a member whose application was approved (unless their join was welcomed already).
pub async fn welcome_approved(
    ctx: &serenity::Context,
    data: &Data,
    guild_id: u64,
    user_id: u64,
) -> Result<(), Error> {
    let member = ctx.http.get_member(guild_id.into(), user_id.into()).await?;
    let framework_free = welcome_facts(ctx, data, &member).await?;
    let (newcomer, settings, facts) = framework_free;
    welcomer(data)
        .member_approved(&newcomer, &settings, &facts, unix_now())
        .await?;
    Ok(())
}

/// A guild became available: record it, and greet it the first time the bot ever sees it.
async fn guild_available(data: &Data, guild: &serenity::Guild) -> Result<(), Error> {
    let guild_id = guild.id.get();
    let first_time =
        db::guilds::upsert_seen(&data.pool, guild_id, crate::domain::clock::unix_now_ms()).await?;
    db::guilds::set_name(&data.pool, guild_id, &guild.name).await?;
    crate::scheduler::ensure_monthly_report(
        &data.pool,
        &data.config,
        guild_id,
        crate::domain::clock::Clock::now(&crate::domain::clock::SystemClock),
    )
    .await?;
    debug!(guild.id = guild_id, first_time, "guild available");
    if !first_time {
        return Ok(());
    }
    let Some(channel) = guild.system_channel_id else {
        info!(
            guild.id = guild_id,
            "joined a guild without a system channel; no greeting posted"
        );
        return Ok(());
    };
    let text = format!(
        "👋 Hi, I'm **Hearth**, your community manager's helper for {}. \
         A manager can start with `/config channel` to choose where I post, \
         `/config timezone` to set the server's time zone, and `/config doctor` to check my permissions.",
        guild.name
    );
    data.outbox
        .message(
            guild_id,
            channel.get(),
            "greeting",
            format!("greeting:{guild_id}"),
            render::text_post(&text, &[]),
        )
        .await?;
    Ok(())
}
