//! `/config`: per-guild settings and the permission doctor (product §2).

use poise::CreateReply;

use crate::db;
use crate::discord::checks::guild_id;
use crate::discord::serenity::{self, ChannelId, RoleId};
use crate::discord::{checks, embeds, Command, Context, Error};
use crate::domain::clock::unix_now;
use crate::domain::doctor::{self, ChannelState};
use crate::domain::settings::{parse_timezone, ChannelPurpose};
use crate::error::{OrUser, UserError};

pub fn commands() -> Vec<Command> {
    vec![config()]
}

/// Hearth's settings for this server
#[poise::command(
    slash_command,
    guild_only,
    default_member_permissions = "MANAGE_GUILD",
    check = "checks::manager",
    subcommands(
        "show",
        "timezone",
        "channel",
        "manager_role",
        "application_role",
        "doctor",
        "audit"
    ),
    subcommand_required
)]
pub async fn config(_: Context<'_>) -> Result<(), Error> {
    Ok(())
}

/// Show this server's Hearth settings
#[poise::command(slash_command, ephemeral)]
async fn show(ctx: Context<'_>) -> Result<(), Error> {
    let settings = ctx.data().settings(guild_id(ctx)?).await?;
    ctx.send(CreateReply::default().embed(embeds::settings_embed(&settings)))
        .await?;
    Ok(())
}

async fn autocomplete_timezone(
    _ctx: Context<'_>,
    partial: &str,
) -> serenity::CreateAutocompleteResponse {
    let needle = partial.to_lowercase();
    let choices = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|tz| tz.name())
        .filter(|name| name.to_lowercase().contains(&needle))
        .take(25)
        .map(serenity::AutocompleteChoice::from)
        .collect();
    serenity::CreateAutocompleteResponse::new().set_choices(choices)
}

/// Set the server's time zone (used for schedules and daily statistics)
#[poise::command(slash_command, ephemeral)]
async fn timezone(
    ctx: Context<'_>,
    #[description = "An IANA time zone name, such as Europe/Berlin"]
    #[autocomplete = "autocomplete_timezone"]
    name: String,
) -> Result<(), Error> {
    let tz = parse_timezone(&name).map_err(UserError)?;
    db::guilds::set_timezone(&ctx.data().pool, guild_id(ctx)?, tz.name(), unix_now()).await?;
    ctx.say(format!(
        "Time zone set to **{}**. Schedules and daily statistics now follow it.",
        tz.name()
    ))
    .await?;
    Ok(())
}

/// What a channel is used for.
#[derive(Debug, Clone, Copy, poise::ChoiceParameter)]
enum Purpose {
    #[name = "welcome"]
    Welcome,
    #[name = "intros"]
    Intros,
    #[name = "spotlight"]
    Spotlight,
    #[name = "feedback"]
    Feedback,
    #[name = "ama"]
    Ama,
    #[name = "reports"]
    Reports,
    #[name = "prompts"]
    Prompts,
    #[name = "applications"]
    Applications,
    #[name = "events"]
    Events,
    #[name = "connections"]
    Connections,
}

impl From<Purpose> for ChannelPurpose {
    fn from(p: Purpose) -> Self {
        match p {
            Purpose::Welcome => Self::Welcome,
            Purpose::Intros => Self::Intros,
            Purpose::Spotlight => Self::Spotlight,
            Purpose::Feedback => Self::Feedback,
            Purpose::Ama => Self::Ama,
            Purpose::Reports => Self::Reports,
            Purpose::Prompts => Self::Prompts,
            Purpose::Applications => Self::Applications,
            Purpose::Events => Self::Events,
            Purpose::Connections => Self::Connections,
        }
    }
}

/// Choose the channel Hearth uses for a purpose
#[poise::command(slash_command, ephemeral)]
async fn channel(
    ctx: Context<'_>,
    #[description = "What the channel is for"] purpose: Purpose,
    #[description = "The channel"]
    #[channel_types("Text", "News", "Forum")]
    channel: ChannelId,
) -> Result<(), Error> {
    let purpose = ChannelPurpose::from(purpose);
    db::guilds::set_channel(
        &ctx.data().pool,
        guild_id(ctx)?,
        purpose,
        channel.get(),
        unix_now(),
    )
    .await?;
    ctx.data().settings_changed(guild_id(ctx)?);
    ctx.say(format!(
        "The **{purpose}** channel is now <#{}>. Run `/config doctor` to check my permissions there.",
        channel.get()
    ))
    .await?;
    Ok(())
}

/// Set the role whose members count as community managers (leave empty to clear)
#[poise::command(slash_command, ephemeral, rename = "manager-role")]
async fn manager_role(
    ctx: Context<'_>,
    #[description = "The manager role; omit to clear it"] role: Option<RoleId>,
) -> Result<(), Error> {
    let role = role.map(RoleId::get);
    db::guilds::set_manager_role(&ctx.data().pool, guild_id(ctx)?, role, unix_now()).await?;
    let text = match role {
        Some(role) => format!("Members with <@&{role}> can now run manager commands (as can anyone with Manage Server)."),
        None => "Manager role cleared: only members with Manage Server can run manager commands.".to_owned(),
    };
    ctx.say(text).await?;
    Ok(())
}

/// Set the role approved applicants get (leave empty to clear)
#[poise::command(slash_command, ephemeral, rename = "application-role")]
async fn application_role(
    ctx: Context<'_>,
    #[description = "The role granted when an application is approved; omit to clear it"]
    role: Option<RoleId>,
) -> Result<(), Error> {
    let role = role.map(RoleId::get);
    db::applications::set_role(&ctx.data().pool, guild_id(ctx)?, role, unix_now()).await?;
    let text = match role {
        Some(role) => format!("Approved applicants now get <@&{role}>. My role must be above it: `/config doctor` checks."),
        None => "Approving an application no longer grants a role.".to_owned(),
    };
    ctx.say(text).await?;
    Ok(())
}

/// Who changed which setting and when (the latest 20 changes)
#[poise::command(slash_command, ephemeral)]
async fn audit(ctx: Context<'_>) -> Result<(), Error> {
    let changes = db::settings_changes::latest(&ctx.data().pool, guild_id(ctx)?, 20).await?;
    ctx.say(crate::discord::audit::render(&changes)).await?;
    Ok(())
}

/// Check every permission Hearth needs, per channel, and what breaks without it
#[poise::command(slash_command, ephemeral)]
async fn doctor(ctx: Context<'_>) -> Result<(), Error> {
    let guild_id = guild_id(ctx)?;
    let settings = ctx.data().settings(guild_id).await?;
    let (states, guild_perms) = bot_permissions(ctx, &settings)?;
    let mut findings = doctor::diagnose(&states, guild_perms);
    if let Some(role) = db::applications::role(&ctx.data().pool, guild_id).await? {
        findings.push(role_finding(ctx, ChannelPurpose::Applications, role)?);
    }
    findings.extend(voice_event_findings(ctx, guild_id).await?);
    if db::moderation::automod_wanted(&ctx.data().pool, guild_id).await? {
        findings.push(doctor::automod_finding(guild_perms));
    }
    for role in event_attendee_roles(ctx, guild_id).await? {
        findings.push(role_finding(ctx, ChannelPurpose::Events, role)?);
    }
    for finding in findings.iter().filter(|f| !f.ok) {
        tracing::warn!(guild.id = guild_id, purpose = %finding.purpose, problem = %finding.problem, fix = %finding.fix, "doctor found a problem");
    }
    let week_ago = unix_now() - 7 * 24 * 3600;
    let failures: Vec<String> = db::outbox::recent_failures(&ctx.data().pool, guild_id, week_ago)
        .await?
        .into_iter()
        .map(|f| format!("{}: {}", f.kind, f.last_error.unwrap_or_default()))
        .collect();
    ctx.send(CreateReply::default().embed(embeds::doctor_embed(&findings, &failures)))
        .await?;
    Ok(())
}

/// The temporary attendee roles of coming events, each once.
async fn event_attendee_roles(ctx: Context<'_>, guild_id: u64) -> Result<Vec<u64>, Error> {
    let mut roles: Vec<u64> = db::events::upcoming(&ctx.data().pool, guild_id, unix_now())
        .await?
        .iter()
        .filter(|e| e.is_scheduled())
        .filter_map(db::events::Event::attendee_role)
        .collect();
    roles.sort_unstable();
    roles.dedup();
    Ok(roles)
}

/// For each coming event in a voice or stage channel, whether Discord lets the bot hold it there.
async fn voice_event_findings(
    ctx: Context<'_>,
    guild_id: u64,
) -> Result<Vec<doctor::Finding>, Error> {
    let events = db::events::upcoming(&ctx.data().pool, guild_id, unix_now()).await?;
    let bot_id = ctx.cache().current_user().id;
    let guild = ctx.guild().or_user(
        "I have not received this server's data from Discord yet; try again in a minute.",
    )?;
    let member = guild.members.get(&bot_id);
    Ok(events
        .iter()
        .filter(|e| e.is_scheduled())
        .filter_map(|event| {
            let channel_id = event.voice_channel()?;
            let channel = guild.channels.get(&ChannelId::new(channel_id));
            let stage = channel.is_some_and(|c| c.kind == serenity::ChannelType::Stage);
            let bits = channel
                .zip(member)
                .map(|(c, m)| guild.user_permissions_in(c, m).bits());
            Some(doctor::voice_event_finding(
                &event.title,
                channel_id,
                stage,
                bits,
            ))
        })
        .collect())
}

/// Whether the bot can grant `role` (it must be below the bot's highest role).
fn role_finding(
    ctx: Context<'_>,
    purpose: ChannelPurpose,
    role: u64,
) -> Result<doctor::Finding, Error> {
    let bot_id = ctx.cache().current_user().id;
    let guild = ctx.guild().or_user(
        "I have not received this server's data from Discord yet; try again in a minute.",
    )?;
    let top = guild
        .members
        .get(&bot_id)
        .map(|m| {
            m.roles
                .iter()
                .filter_map(|r| guild.roles.get(r))
                .map(|r| r.position)
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0);
    let position = guild.roles.get(&RoleId::new(role)).map(|r| r.position);
    Ok(doctor::role_grant_finding(purpose, role, position, top))
}

/// The bot's permissions in each configured channel and server-wide, from the gateway cache.
fn bot_permissions(
    ctx: Context<'_>,
    settings: &crate::domain::settings::GuildSettings,
) -> Result<(Vec<(ChannelPurpose, ChannelState)>, u64), Error> {
    let bot_id = ctx.cache().current_user().id;
    let guild = ctx.guild().or_user(
        "I have not received this server's data from Discord yet; try again in a minute.",
    )?;
    let member = guild
        .members
        .get(&bot_id)
        .or_user("I cannot see my own membership in this server yet; try again in a minute.")?;
    let guild_perms = guild.member_permissions(member).bits();
    let states = ChannelPurpose::ALL
        .iter()
        .map(|purpose| {
            let state = match settings.channel(*purpose) {
                None => ChannelState::NotConfigured,
                Some(id) => match guild.channels.get(&ChannelId::new(id)) {
                    None => ChannelState::Missing { channel_id: id },
                    Some(channel) => ChannelState::Present {
                        channel_id: id,
                        bot_permissions: guild.user_permissions_in(channel, member).bits(),
                    },
                },
            };
            (*purpose, state)
        })
        .collect();
    Ok((states, guild_perms))
}
