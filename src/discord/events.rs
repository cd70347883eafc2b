//! Gateway events → features. Handlers stay thin: extract ids, call the feature, log.

use tracing::{info, warn};

use super::members::{
    catch_up_welcomes, known_joins, newcomer, recent_members, welcome_inputs, welcomer,
};
use super::serenity::{self, FullEvent};
use super::{Data, Error};
use crate::db;
use crate::domain::clock::{unix_now, Clock, SystemClock};
use crate::features::events;

pub async fn handle(
    framework: poise::FrameworkContext<'_, Data, Error>,
    event: &FullEvent,
) -> Result<(), Error> {
    // Activity events are the hot path (one per message) and are tracked without awaiting; the
    // rest run in their own boxed future. This keeps the future poise allocates for every event
    // small (it was 4 KiB, moved and freed per message).
    if super::tracking::track(framework, event) {
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
            crate::features::guilds::available(
                &data.pool,
                &data.config,
                &data.outbox,
                crate::features::guilds::Guild {
                    id: guild.id.get(),
                    name: &guild.name,
                    system_channel: guild.system_channel_id.map(|c| c.get()),
                },
                SystemClock.now(),
            )
            .await?;
            // The question every join asks, answered before the joins come (if the store
            // cannot answer now, the first join asks again).
            if let Err(err) = data.posts_on_join(guild.id.get()).await {
                warn!(guild.id = guild.id.get(), error = %format!("{err:#}"), "could not look up whether joins post anything");
            }
            known_joins(data, guild.members.values());
            // Who is in a voice channel right now: attendance of an event under way.
            for state in guild.voice_states.values() {
                voice_presence(data, guild.id.get(), state).await?;
            }
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
            let joined = async {
                if data.posts_on_join(new_member.guild_id.get()).await? {
                    let (newcomer, settings, facts) = welcome_inputs(framework, new_member).await?;
                    welcomer(data)
                        .member_joined(&newcomer, &settings, &facts, unix_now())
                        .await
                } else {
                    welcomer(data).member_joined_quietly(&newcomer(new_member), unix_now());
                    Ok(())
                }
            }
            .await;
            if let Err(err) = joined {
                // The join still counts; its welcome waits for the next start.
                welcomer(data).member_joined_unwelcomed(&newcomer(new_member), unix_now());
                return Err(err.context("the join is recorded, not welcomed"));
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
            super::interactions::route(ctx, data, interaction).await?;
        }
        FullEvent::VoiceStateUpdate { old, new } => {
            let moved = old.as_ref().is_none_or(|o| o.channel_id != new.channel_id);
            if let (true, Some(guild_id)) = (moved, new.guild_id) {
                voice_presence(data, guild_id.get(), new).await?;
            }
        }
        FullEvent::GuildScheduledEventUpdate { event } => {
            events::discord_event_updated(
                &data.pool,
                &data.config,
                &data.outbox,
                event.id.get(),
                Some(event.start_time.unix_timestamp()),
                event.end_time.map(|t| t.unix_timestamp()),
                u8::from(event.status),
                unix_now(),
            )
            .await?;
            data.scheduler.wake();
        }
        FullEvent::GuildScheduledEventDelete { event } => {
            events::discord_event_deleted(&data.pool, &data.outbox, event.id.get()).await?;
        }
        FullEvent::GuildScheduledEventUserAdd { subscribed } => {
            events::interested(&data.pool, subscribed.scheduled_event_id.get(), 1).await?;
        }
        FullEvent::GuildScheduledEventUserRemove { unsubscribed } => {
            events::interested(&data.pool, unsubscribed.scheduled_event_id.get(), -1).await?;
        }
        FullEvent::Ready { data_about_bot } => {
            super::registration::register_in_shard(framework, data_about_bot).await?;
        }
        FullEvent::GuildDelete { incomplete, .. } if !incomplete.unavailable => {
            db::guilds::mark_left(&data.pool, incomplete.id.get(), unix_now()).await?;
            info!(guild.id = incomplete.id.get(), "removed from guild");
        }
        _ => {}
    }
    Ok(())
}

/// A member's voice channel, for the attendance of events held there (never for opted-out
/// members, and never outside an event's window: the feature checks).
async fn voice_presence(
    data: &Data,
    guild_id: u64,
    state: &serenity::VoiceState,
) -> Result<(), Error> {
    let user = state.user_id.get();
    if state.member.as_ref().is_some_and(|m| m.user.bot)
        || data.tracker.is_opted_out(guild_id, user)
    {
        return Ok(());
    }
    events::voice_moved(
        &data.pool,
        guild_id,
        user,
        state.channel_id.map(|c| c.get()),
        unix_now(),
    )
    .await?;
    Ok(())
}
