//! `/intro`: a member introduces themselves through a short form, posted in their intro thread.

use poise::Modal as _;

use crate::discord::checks::guild_id;
use crate::discord::serenity::ChannelType;
use crate::discord::{Command, Context, Error};
use crate::domain::clock::unix_now;
use crate::domain::settings::ChannelPurpose;
use crate::error::OrUser;
use crate::features::intros::{self, Intro};

pub fn commands() -> Vec<Command> {
    vec![intro()]
}

/// The answers of the intro form.
#[derive(Debug, poise::Modal)]
#[name = "Introduce yourself"]
struct IntroForm {
    #[name = "About you"]
    #[paragraph]
    #[max_length = 1000]
    about: String,
    #[name = "What you work on"]
    #[max_length = 500]
    work: Option<String>,
    #[name = "Interests (comma-separated)"]
    #[max_length = 300]
    interests: Option<String>,
    #[name = "What you hope to find here"]
    #[paragraph]
    #[max_length = 500]
    hope: Option<String>,
}

/// Introduce yourself to the community (posted in your intro thread)
#[poise::command(slash_command, guild_only)]
pub async fn intro(
    ctx: poise::ApplicationContext<'_, crate::discord::Data, Error>,
    #[description = "Keep your interests so Hearth can introduce you to people like you (default: no)"]
    share_interests: Option<bool>,
) -> Result<(), Error> {
    let pctx = Context::Application(ctx);
    let guild_id = guild_id(pctx)?;
    let settings = ctx.data().settings(guild_id).await?;
    let intros = settings
        .channel(ChannelPurpose::Intros)
        .or_user("This server has no intros channel yet; ask a manager to run `/config channel purpose:intros`.")?;
    let Some(form) = IntroForm::execute(ctx).await? else {
        return Ok(()); // the member closed the form
    };
    let forum = ctx
        .guild()
        .and_then(|g| {
            g.channels
                .get(&intros.into())
                .map(|c| c.kind == ChannelType::Forum)
        })
        .unwrap_or(false);
    let user = ctx.author();
    let intro = Intro {
        guild_id,
        user_id: user.id.get(),
        username: user.display_name(),
        intros,
        forum,
        submission: ctx.interaction.id.get(),
        share_interests: share_interests.unwrap_or(false),
        about: &form.about,
        work: form.work.as_deref(),
        interests: form.interests.as_deref(),
        hope: form.hope.as_deref(),
    };
    let reply = intros::post(&ctx.data().pool, &ctx.data().outbox, &intro, unix_now()).await?;
    pctx.send(poise::CreateReply::default().content(reply).ephemeral(true))
        .await?;
    Ok(())
}
