//! `/welcome`: welcome posts, templates and intro threads (product §3).

use poise::CreateReply;

use crate::db;
use crate::discord::checks::guild_id;
use crate::discord::serenity::{ChannelId, Member};
use crate::discord::{checks, Command, Context, Error};
use crate::domain::clock::unix_now;
use crate::domain::settings::ChannelPurpose;
use crate::domain::template::Values;
use crate::error::{OrUser, UserError};
use crate::features::welcome::{self as feature, Setup, DEFAULT_TEMPLATE};
use crate::outbox::posts;

pub fn commands() -> Vec<Command> {
    vec![welcome()]
}

/// Welcome posts and intro threads for newcomers
#[poise::command(
    slash_command,
    guild_only,
    default_member_permissions = "MANAGE_GUILD",
    check = "checks::manager",
    subcommands("setup", "preview", "template", "disable"),
    subcommand_required
)]
pub async fn welcome(_: Context<'_>) -> Result<(), Error> {
    Ok(())
}

/// Turn welcomes on in a channel, optionally with a first template, a DM and intro threads
#[poise::command(slash_command, ephemeral)]
async fn setup(
    ctx: Context<'_>,
    #[description = "Where welcomes are posted"]
    #[channel_types("Text", "News")]
    channel: ChannelId,
    #[description = "A welcome template, e.g. Welcome {user} to {server}!"] message: Option<String>,
    #[description = "Also send newcomers a DM (falls back to their intro thread)"] dm: Option<bool>,
    #[description = "Open an intro thread per newcomer in the intros channel"] intro_thread: Option<
        bool,
    >,
) -> Result<(), Error> {
    let guild_id = guild_id(ctx)?;
    let setup = Setup {
        guild_id,
        channel: channel.get(),
        template: message.as_deref(),
        dm,
        intro_thread,
        by: ctx.author().id.get(),
    };
    let done = feature::setup(&ctx.data().pool, &setup, unix_now()).await?;
    ctx.data().settings_changed(guild_id);
    let settings = ctx.data().settings(guild_id).await?;
    let intros = settings.channel(ChannelPurpose::Intros);
    ctx.say(feature::setup_reply(channel.get(), done, intros))
        .await?;
    Ok(())
}

/// Show what a welcome looks like for a member (every template)
#[poise::command(slash_command, ephemeral)]
async fn preview(
    ctx: Context<'_>,
    #[description = "Whom to preview for (default: you)"] member: Option<Member>,
) -> Result<(), Error> {
    let guild_id = guild_id(ctx)?;
    let settings = ctx.data().settings(guild_id).await?;
    let (name, count, rules) = {
        let guild = ctx
            .guild()
            .or_user("I have not received this server's data yet; try again in a minute.")?;
        (
            guild.name.clone(),
            guild.member_count,
            guild.rules_channel_id.map(|c| c.get()),
        )
    };
    let (user_id, username) = match &member {
        Some(m) => (m.user.id.get(), m.display_name().to_owned()),
        None => (
            ctx.author().id.get(),
            ctx.author().display_name().to_owned(),
        ),
    };
    let values = Values {
        user_id,
        username: &username,
        server: &name,
        member_count: count,
        intro_channel: settings.channel(ChannelPurpose::Intros),
        rules_channel: rules,
        channel: None,
    };
    let text = feature::preview(&ctx.data().pool, &settings, &values).await?;
    ctx.send(CreateReply::default().content(text)).await?;
    Ok(())
}

/// Manage welcome templates (one is picked at random per newcomer)
#[poise::command(
    slash_command,
    subcommands("template_add", "template_list", "template_remove"),
    subcommand_required
)]
async fn template(_: Context<'_>) -> Result<(), Error> {
    Ok(())
}

/// Add a welcome template, e.g. Welcome {user}, our {member_count_ord} member!
#[poise::command(slash_command, ephemeral, rename = "add")]
async fn template_add(
    ctx: Context<'_>,
    #[description = "Variables: {user} {username} {server} {member_count(_ord)} {intro_channel} {rules_channel}"]
    text: String,
) -> Result<(), Error> {
    let guild_id = guild_id(ctx)?;
    let template = feature::parse_template(&text)?;
    let id = db::welcome::add_template(
        &ctx.data().pool,
        guild_id,
        template.source(),
        ctx.author().id.get(),
        unix_now(),
    )
    .await?;
    ctx.say(format!(
        "Template #{id} saved. `/welcome preview` shows it rendered."
    ))
    .await?;
    Ok(())
}

/// List the welcome templates
#[poise::command(slash_command, ephemeral, rename = "list")]
async fn template_list(ctx: Context<'_>) -> Result<(), Error> {
    let stored = db::welcome::templates(&ctx.data().pool, guild_id(ctx)?).await?;
    let text = if stored.is_empty() {
        format!("No templates yet; newcomers get the default:\n`{DEFAULT_TEMPLATE}`")
    } else {
        stored
            .iter()
            .map(|t| {
                format!(
                    "**#{}** by <@{}>\n`{}`",
                    t.id,
                    t.created_by,
                    t.body.replace('`', "'")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    ctx.say(posts::truncate(&text, posts::MESSAGE_LIMIT))
        .await?;
    Ok(())
}

/// Remove a welcome template
#[poise::command(slash_command, ephemeral, rename = "remove")]
async fn template_remove(
    ctx: Context<'_>,
    #[description = "The template's number (see /welcome template list)"] id: i64,
) -> Result<(), Error> {
    if !db::welcome::remove_template(&ctx.data().pool, guild_id(ctx)?, id).await? {
        return Err(UserError(format!(
            "There is no template #{id}; `/welcome template list` shows them."
        ))
        .into());
    }
    ctx.say(format!("Template #{id} removed.")).await?;
    Ok(())
}

/// Turn welcome posts off (intro threads keep their own setting)
#[poise::command(slash_command, ephemeral)]
async fn disable(ctx: Context<'_>) -> Result<(), Error> {
    let guild_id = guild_id(ctx)?;
    let current = db::welcome::settings(&ctx.data().pool, guild_id).await?;
    db::welcome::set_switches(
        &ctx.data().pool,
        guild_id,
        false,
        current.dm,
        current.intro_thread,
        unix_now(),
    )
    .await?;
    ctx.data().settings_changed(guild_id);
    ctx.say("Welcome posts and DMs are off. `/welcome setup` turns them back on.")
        .await?;
    Ok(())
}
