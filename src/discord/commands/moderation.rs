//! Moderation (product §12): `/reply`, the "Reply with saved reply" and "Flag for managers"
//! message commands, `/replies add|edit|remove|list|stats` and `/flags list|resolve`.

use poise::serenity_prelude::{
    self as serenity, ComponentInteraction, ComponentInteractionDataKind, CreateActionRow,
    CreateAllowedMentions, CreateSelectMenu, CreateSelectMenuKind, CreateSelectMenuOption, GuildId,
    UserId,
};
use poise::Modal as _;
use serde_json::Value;

use crate::db;
use crate::discord::checks::guild_id;
use crate::discord::components::ephemeral;
use crate::discord::{checks, Command, Context, Data, Error};
use crate::domain::clock::unix_now;
use crate::error::UserError;
use crate::features::moderation::{self as feature, Place, PICK_REPLY};

pub fn commands() -> Vec<Command> {
    vec![
        reply(),
        reply_with_saved(),
        replies(),
        flag_message(),
        flags(),
        guidelines(),
    ]
}

/// Where a command runs, as the features need it: the server's name and rules channel come
/// from Discord's data (empty until Discord sent the server).
fn place(ctx: &serenity::Context, guild_id: u64, channel: u64) -> (String, Option<u64>, u64) {
    let (name, rules) = ctx
        .cache
        .guild(GuildId::new(guild_id))
        .map(|g| (g.name.clone(), g.rules_channel_id.map(|c| c.get())))
        .unwrap_or_default();
    (name, rules, channel)
}

async fn autocomplete_reply(
    ctx: Context<'_>,
    partial: &str,
) -> serenity::CreateAutocompleteResponse {
    let names = match ctx.guild_id() {
        Some(guild) => feature::reply_names(&ctx.data().pool, guild.get(), partial)
            .await
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let choices = names
        .into_iter()
        .map(|n| serenity::AutocompleteChoice::new(n.clone(), n))
        .collect();
    serenity::CreateAutocompleteResponse::new().set_choices(choices)
}

/// The reply as Discord gets it: only the users the body allows are pinged.
fn reply_of(body: &Value) -> poise::CreateReply {
    let users: Vec<UserId> = body["allowed_mentions"]["users"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| u.as_str()?.parse().ok())
        .map(UserId::new)
        .collect();
    poise::CreateReply::default()
        .content(body["content"].as_str().unwrap_or_default())
        .allowed_mentions(
            CreateAllowedMentions::new()
                .empty_roles()
                .everyone(false)
                .users(users),
        )
}

/// Post a saved reply here (managers)
#[poise::command(
    slash_command,
    guild_only,
    default_member_permissions = "MANAGE_GUILD",
    check = "checks::manager"
)]
async fn reply(
    ctx: Context<'_>,
    #[description = "Which saved reply"]
    #[autocomplete = "autocomplete_reply"]
    name: String,
    #[description = "The member it is for ({user} in the text)"] member: Option<serenity::User>,
) -> Result<(), Error> {
    let guild_id = guild_id(ctx)?;
    let (guild_name, rules_channel, channel) =
        place(ctx.serenity_context(), guild_id, ctx.channel_id().get());
    let body = feature::render_reply(
        &ctx.data().pool,
        &ctx.data().config,
        &Place {
            guild_id,
            guild_name: &guild_name,
            rules_channel,
            channel,
        },
        &name,
        member.as_ref().map(|m| (m.id.get(), m.name.as_str())),
        ctx.author().id.get(),
        unix_now(),
    )
    .await?;
    ctx.send(reply_of(&body)).await?;
    Ok(())
}

/// Answer this message with a saved reply (managers)
#[poise::command(
    context_menu_command = "Reply with saved reply",
    guild_only,
    ephemeral,
    default_member_permissions = "MANAGE_GUILD",
    check = "checks::manager"
)]
async fn reply_with_saved(ctx: Context<'_>, message: serenity::Message) -> Result<(), Error> {
    let guild_id = guild_id(ctx)?;
    let names = feature::reply_names(&ctx.data().pool, guild_id, "").await?;
    if names.is_empty() {
        return Err(UserError("No saved replies yet: `/replies add`.".into()).into());
    }
    let options = names
        .iter()
        .map(|n| CreateSelectMenuOption::new(n.clone(), n.clone()))
        .collect();
    let menu = CreateSelectMenu::new(
        format!(
            "{PICK_REPLY}{}:{}:{}",
            message.channel_id.get(),
            message.id.get(),
            message.author.id.get()
        ),
        CreateSelectMenuKind::String { options },
    )
    .placeholder("Saved reply");
    ctx.send(
        poise::CreateReply::default()
            .content("Which saved reply?")
            .components(vec![CreateActionRow::SelectMenu(menu)])
            .ephemeral(true),
    )
    .await?;
    Ok(())
}

/// The saved reply picked for a message: posted as a reply to it.
pub async fn on_component(
    ctx: &serenity::Context,
    data: &Data,
    interaction: &ComponentInteraction,
) -> Result<bool, Error> {
    let Some(rest) = interaction.data.custom_id.strip_prefix(PICK_REPLY) else {
        return Ok(false);
    };
    let ids: Vec<u64> = rest.split(':').filter_map(|s| s.parse().ok()).collect();
    let (Some(guild_id), [channel, message, author]) =
        (interaction.guild_id.map(|g| g.get()), ids.as_slice())
    else {
        return Ok(false);
    };
    let name = match &interaction.data.kind {
        ComponentInteractionDataKind::StringSelect { values } => {
            values.first().cloned().unwrap_or_default()
        }
        _ => String::new(),
    };
    let (guild_name, rules_channel, channel) = place(ctx, guild_id, *channel);
    let posted = feature::reply_to_message(
        &data.pool,
        &data.config,
        &data.outbox,
        &Place {
            guild_id,
            guild_name: &guild_name,
            rules_channel,
            channel,
        },
        &name,
        (*message, *author),
        interaction.user.id.get(),
        unix_now(),
    )
    .await;
    let text = match posted {
        Ok(text) => text,
        Err(err) => err.downcast::<UserError>()?.0,
    };
    ephemeral(ctx, interaction, &text).await?;
    Ok(true)
}

#[derive(Debug, poise::Modal)]
#[name = "Saved reply"]
struct ReplyForm {
    #[name = "Reply text"]
    #[placeholder = "{user}, {channel}, {rules_channel} and {server} are filled in"]
    #[paragraph]
    #[max_length = 1800]
    text: String,
}

/// Saved replies for managers (one `/reply` command for all of them)
#[poise::command(
    slash_command,
    guild_only,
    default_member_permissions = "MANAGE_GUILD",
    check = "checks::manager",
    subcommands("add", "edit", "remove", "list", "stats"),
    subcommand_required
)]
async fn replies(_: Context<'_>) -> Result<(), Error> {
    Ok(())
}

/// Save a new reply (its text in a form)
#[poise::command(slash_command)]
async fn add(
    ctx: poise::ApplicationContext<'_, Data, Error>,
    #[description = "Its name, such as rules or how-to-ask"]
    #[max_length = 32]
    name: String,
) -> Result<(), Error> {
    let pctx = Context::Application(ctx);
    let guild_id = guild_id(pctx)?;
    let Some(form) = ReplyForm::execute(ctx).await? else {
        return Ok(());
    };
    let said = feature::add_reply(
        &ctx.data().pool,
        guild_id,
        &name,
        &form.text,
        ctx.author().id.get(),
        unix_now(),
    )
    .await;
    answer(pctx, said).await
}

/// Change a reply's text (the earlier text stays in its history)
#[poise::command(slash_command)]
async fn edit(
    ctx: poise::ApplicationContext<'_, Data, Error>,
    #[description = "Which saved reply"]
    #[autocomplete = "autocomplete_reply"]
    name: String,
) -> Result<(), Error> {
    let pctx = Context::Application(ctx);
    let guild_id = guild_id(pctx)?;
    let current = db::moderation::reply(&ctx.data().pool, guild_id, name.trim())
        .await?
        .ok_or_else(|| UserError(format!("There is no saved reply `{}`.", name.trim())))?;
    let Some(form) =
        ReplyForm::execute_with_defaults(ctx, ReplyForm { text: current.body }).await?
    else {
        return Ok(());
    };
    let said = feature::edit_reply(
        &ctx.data().pool,
        guild_id,
        &name,
        &form.text,
        ctx.author().id.get(),
        unix_now(),
    )
    .await;
    answer(pctx, said).await
}

/// A form's outcome, ephemeral (the form's submission is the interaction answered).
async fn answer(ctx: Context<'_>, said: anyhow::Result<String>) -> Result<(), Error> {
    let text = match said {
        Ok(text) => text,
        Err(err) => err.downcast::<UserError>()?.0,
    };
    ctx.send(poise::CreateReply::default().content(text).ephemeral(true))
        .await?;
    Ok(())
}

/// Delete a saved reply
#[poise::command(slash_command, ephemeral)]
async fn remove(
    ctx: Context<'_>,
    #[description = "Which saved reply"]
    #[autocomplete = "autocomplete_reply"]
    name: String,
) -> Result<(), Error> {
    let said = feature::remove_reply(&ctx.data().pool, guild_id(ctx)?, &name).await?;
    ctx.say(said).await?;
    Ok(())
}

/// Every saved reply, with its history
#[poise::command(slash_command, ephemeral)]
async fn list(ctx: Context<'_>) -> Result<(), Error> {
    let said = feature::list_replies(&ctx.data().pool, guild_id(ctx)?).await?;
    ctx.say(said).await?;
    Ok(())
}

/// Which replies are used, by whom
#[poise::command(slash_command, ephemeral)]
async fn stats(
    ctx: Context<'_>,
    #[description = "How many days (default 30)"]
    #[min = 1]
    #[max = 3650]
    days: Option<u32>,
) -> Result<(), Error> {
    let said = feature::reply_stats(
        &ctx.data().pool,
        guild_id(ctx)?,
        i64::from(days.unwrap_or(30)),
        unix_now(),
    )
    .await?;
    ctx.say(said).await?;
    Ok(())
}

#[derive(Debug, poise::Modal)]
#[name = "Flag for managers"]
struct FlagForm {
    #[name = "What is wrong? (only managers see this)"]
    #[paragraph]
    #[max_length = 500]
    reason: String,
}

/// Tell the managers about this message (the author is not told who)
#[poise::command(context_menu_command = "Flag for managers", guild_only)]
async fn flag_message(
    ctx: poise::ApplicationContext<'_, Data, Error>,
    message: serenity::Message,
) -> Result<(), Error> {
    let pctx = Context::Application(ctx);
    let guild_id = guild_id(pctx)?;
    let Some(form) = FlagForm::execute(ctx).await? else {
        return Ok(());
    };
    let flagged = feature::flag(
        &ctx.data().pool,
        &ctx.data().config,
        &ctx.data().outbox,
        guild_id,
        (
            message.channel_id.get(),
            message.id.get(),
            message.author.id.get(),
        ),
        ctx.author().id.get(),
        &form.reason,
        unix_now(),
    )
    .await
    .map(|f| f.reply);
    answer(pctx, flagged).await
}

/// Members' flags (managers)
#[poise::command(
    slash_command,
    guild_only,
    default_member_permissions = "MANAGE_GUILD",
    check = "checks::manager",
    subcommands("flags_list", "resolve"),
    subcommand_required
)]
async fn flags(_: Context<'_>) -> Result<(), Error> {
    Ok(())
}

/// Open flags, oldest first
#[poise::command(slash_command, ephemeral, rename = "list")]
async fn flags_list(ctx: Context<'_>) -> Result<(), Error> {
    let said = feature::list_flags(&ctx.data().pool, guild_id(ctx)?).await?;
    ctx.say(said).await?;
    Ok(())
}

/// Mark a flag handled
#[poise::command(slash_command, ephemeral)]
async fn resolve(
    ctx: Context<'_>,
    #[description = "Flag number"] id: i64,
    #[description = "A note for the queue"]
    #[max_length = 500]
    note: Option<String>,
) -> Result<(), Error> {
    let data = ctx.data();
    let said = feature::resolve_flag(
        &data.pool,
        &data.outbox,
        guild_id(ctx)?,
        id,
        ctx.author().id.get(),
        note.as_deref(),
        unix_now(),
    )
    .await?;
    ctx.say(said).await?;
    Ok(())
}

#[derive(Debug, poise::Modal)]
#[name = "Server guidelines"]
struct GuidelinesForm {
    #[name = "Title"]
    #[max_length = 100]
    title: String,
    #[name = "The rules, one per line"]
    #[paragraph]
    #[max_length = 4000]
    text: String,
}

/// The server's rules, and Discord's native AutoMod (managers)
#[poise::command(
    slash_command,
    guild_only,
    default_member_permissions = "MANAGE_GUILD",
    check = "checks::manager",
    subcommands("post", "automod"),
    subcommand_required
)]
async fn guidelines(_: Context<'_>) -> Result<(), Error> {
    Ok(())
}

/// Post the rules as an embed (written in a form)
#[poise::command(slash_command)]
async fn post(
    ctx: poise::ApplicationContext<'_, Data, Error>,
    #[description = "Where (default: here)"]
    #[channel_types("Text", "News")]
    channel: Option<serenity::GuildChannel>,
) -> Result<(), Error> {
    let pctx = Context::Application(ctx);
    let guild_id = guild_id(pctx)?;
    let Some(form) = GuidelinesForm::execute(ctx).await? else {
        return Ok(());
    };
    let channel = channel.map_or(pctx.channel_id().get(), |c| c.id.get());
    let said = feature::post_guidelines(
        &ctx.data().outbox,
        guild_id,
        channel,
        &form.title,
        &form.text,
        unix_now(),
    )
    .await;
    answer(pctx, said).await
}

/// Set up Discord's AutoMod: its harmful-word lists and mention spam, alerting the managers
#[poise::command(slash_command, ephemeral)]
async fn automod(
    ctx: Context<'_>,
    #[description = "Mentions in one message that count as spam (default 8)"]
    #[min = 2]
    #[max = 50]
    mention_limit: Option<u32>,
) -> Result<(), Error> {
    let guild_id = guild_id(ctx)?;
    let data = ctx.data();
    let alerts = feature::automod_alert_channel(&data.pool, &data.config, guild_id).await?;
    let guild = GuildId::new(guild_id);
    let existing = match ctx.http().get_automod_rules(guild).await {
        Ok(rules) => rules,
        Err(err) => {
            let outcomes = [(
                "AutoMod",
                feature::RuleOutcome::Refused(automod_refusal(&err)),
            )];
            let said = feature::automod_done(
                &data.pool,
                guild_id,
                ctx.author().id.get(),
                &outcomes,
                unix_now(),
            )
            .await?;
            ctx.say(said).await?;
            return Ok(());
        }
    };
    let mut outcomes = Vec::new();
    for (trigger, body) in
        crate::domain::moderation::automod_rules(alerts, mention_limit.unwrap_or(8))
    {
        let what = if trigger == crate::domain::moderation::KEYWORD_PRESET {
            "Harmful words (Discord's lists)"
        } else {
            "Mention spam"
        };
        let same = existing
            .iter()
            .find(|r| u64::from(u8::from(r.trigger.kind())) == trigger);
        let outcome = match same {
            Some(rule) => feature::RuleOutcome::Existing(rule.name.clone()),
            None => match ctx
                .http()
                .create_automod_rule(guild, &body, Some("Hearth /guidelines automod"))
                .await
            {
                Ok(rule) => feature::RuleOutcome::Created(rule.id.get()),
                Err(err) => feature::RuleOutcome::Refused(automod_refusal(&err)),
            },
        };
        outcomes.push((what, outcome));
    }
    let said = feature::automod_done(
        &data.pool,
        guild_id,
        ctx.author().id.get(),
        &outcomes,
        unix_now(),
    )
    .await?;
    ctx.say(said).await?;
    Ok(())
}

/// Why Discord refused an AutoMod call, with the fix.
fn automod_refusal(err: &serenity::Error) -> String {
    match err {
        serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(r))
            if r.status_code.as_u16() == 403 =>
        {
            "Discord refused: I need **Manage Server** to set up AutoMod (grant it, or set the rules up in Server Settings → AutoMod; `/config doctor` shows it)".into()
        }
        other => crate::discord::errors::short_reason(other),
    }
}
