//! Discord members into the plain inputs of the welcome flow (`features::welcome`), and the
//! known join times Discord reports for members Hearth never saw join.

use tracing::info;

use super::serenity;
use super::{Data, Error};
use crate::domain::clock::unix_now;
use crate::domain::settings::{ChannelPurpose, GuildSettings};
use crate::features::welcome::{GuildFacts, Newcomer, Welcomer};

pub(super) fn welcomer(data: &Data) -> Welcomer<'_> {
    Welcomer {
        pool: &data.pool,
        tracker: &data.tracker,
        outbox: &data.outbox,
        config: &data.config.welcome,
        turns: &data.welcome_turns,
    }
}

/// When Discord says each listed member joined: for members Hearth never saw join, the time
/// they really joined (issue 22), so their first message is not counted as a join.
pub(super) fn known_joins<'a>(data: &Data, members: impl Iterator<Item = &'a serenity::Member>) {
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
pub(super) fn recent_members<'a>(
    data: &Data,
    members: impl Iterator<Item = &'a serenity::Member>,
) -> Vec<Newcomer> {
    let now = unix_now();
    members
        .filter(|m| {
            !m.user.bot
                && m.joined_at.is_some_and(|t| {
                    crate::features::welcome::in_late_welcome_window(
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
pub(super) async fn catch_up_welcomes(
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
pub(super) async fn welcome_inputs(
    framework: poise::FrameworkContext<'_, Data, Error>,
    member: &serenity::Member,
) -> Result<(Newcomer, GuildSettings, GuildFacts), Error> {
    welcome_facts(framework.serenity_context, framework.user_data, member).await
}

pub(super) async fn welcome_facts(
    ctx: &serenity::Context,
    data: &Data,
    member: &serenity::Member,
) -> Result<(Newcomer, GuildSettings, GuildFacts), Error> {
    let settings = data.settings(member.guild_id.get()).await?;
    let facts = guild_facts(ctx, member.guild_id, &settings);
    Ok((newcomer(member), settings, facts))
}

/// What the welcome needs to know of the guild, from the gateway cache.
pub(super) fn guild_facts(
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

pub(super) fn newcomer(member: &serenity::Member) -> Newcomer {
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
