//! `/welcome`: welcome posts, templates and intro threads (product §3).

use poise::CreateReply;

use crate::db;
use crate::discord::checks::guild_id;
use crate::discord::serenity::{ChannelId, Member};
use crate::discord::{checks, Command, Context, Error};
use crate::domain::clock::unix_now;
use crate::domain::settings::ChannelPurpose;
use crate::domain::template::{Template, Values};
use crate::error::{OrUser, UserError};
use crate::features::welcome::DEFAULT_TEMPLATE;
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
    let template = message.as_deref().map(parse_template).transpose()?;
    let pool = &ctx.data().pool;
    let current = db::welcome::settings(pool, guild_id).await?;
    let dm = dm.unwrap_or(current.dm);
    let intro_thread = intro_thread.unwrap_or(current.intro_thread);
    db::guilds::set_channel(
        pool,
        guild_id,
        ChannelPurpose::Welcome,
        channel.get(),
        unix_now(),
    )
    .await?;
    db::welcome::set_switches(pool, guild_id, true, dm, intro_thread, unix_now()).await?;
    ctx.data().settings_changed(guild_id);
    if let Some(template) = &template {
        db::welcome::add_template(
            pool,
            guild_id,
            template.source(),
            ctx.author().id.get(),
            unix_now(),
        )
        .await?;
    }
    let settings = ctx.data().settings(guild_id).await?;
    let intros = match (intro_thread, settings.channel(ChannelPurpose::Intros)) {
        (false, _) => "off".to_owned(),
        (true, Some(c)) => format!("on, in <#{c}>"),
        (true, None) => {
            "on, but no intros channel yet: `/config channel purpose:intros`".to_owned()
        }
    };
    ctx.say(format!(
        "Welcomes are on in <#{}>.\n• DM to newcomers: {}\n• Intro threads: {intros}\n{}Preview with `/welcome preview`, check permissions with `/config doctor`.",
        channel.get(),
        if dm { "on (falls back to the intro thread when DMs are closed)" } else { "off" },
        if template.is_some() { "• Template saved.\n" } else { "" },
    ))
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
    };
    let stored = db::welcome::templates(&ctx.data().pool, guild_id).await?;
    let mut lines = Vec::new();
    if stored.is_empty() {
        lines.push(format!(
            "**Default template** (add your own with `/welcome template add`):\n{}",
            Template::parse(DEFAULT_TEMPLATE)?.render(&values)
        ));
    }
    for t in &stored {
        if let Ok(template) = Template::parse(&t.body) {
            lines.push(format!("**#{}**\n{}", t.id, template.render(&values)));
        }
    }
    let status = match (
        db::welcome::settings(&ctx.data().pool, guild_id)
            .await?
            .enabled,
        settings.channel(ChannelPurpose::Welcome),
    ) {
        (true, Some(c)) => {
            format!("Welcomes are on in <#{c}>; one template is picked at random per newcomer.")
        }
        _ => "Welcomes are off: `/welcome setup` turns them on.".to_owned(),
    };
    lines.insert(0, status);
    ctx.send(
        CreateReply::default().content(posts::truncate(&lines.join("\n\n"), posts::MESSAGE_LIMIT)),
    )
    .await?;
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
    let template = parse_template(&text)?;
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

fn parse_template(text: &str) -> Result<Template, Error> {
    Template::parse(text)
        .map_err(|err| UserError(format!("That template cannot be saved: {err}.")).into())
}
