//! `/intro`: a member introduces themselves through a short form, posted in their intro thread.

use poise::Modal as _;

use crate::db::{self, outbox::NewPost};
use crate::discord::checks::guild_id;
use crate::discord::{Command, Context, Error};
use crate::domain::clock::unix_now;
use crate::domain::settings::ChannelPurpose;
use crate::error::{OrUser, UserError};
use crate::features::welcome::intro_thread_name;
use crate::outbox::posts;
use crate::outbox::{action_json, Action};

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
    let user = ctx.author();
    let (user_id, username) = (user.id.get(), user.display_name().to_owned());
    // Interests are kept only with the member's explicit opt-in; opting out forgets them.
    let keep = share_interests
        .unwrap_or(false)
        .then_some(form.interests.as_deref())
        .flatten();
    db::welcome::set_interests(&ctx.data().pool, guild_id, user_id, keep, unix_now()).await?;

    let fields: Vec<(&str, &str)> = [
        ("About", Some(form.about.as_str())),
        ("Working on", form.work.as_deref()),
        ("Interests", form.interests.as_deref()),
        ("Hoping to find", form.hope.as_deref()),
    ]
    .into_iter()
    .filter_map(|(name, value)| Some((name, value.filter(|v| !v.trim().is_empty())?)))
    .collect();
    let prompt = posts::intro_post(user_id, &username, &fields);
    let forum = ctx
        .guild()
        .and_then(|g| {
            g.channels
                .get(&intros.into())
                .map(|c| c.kind == poise::serenity_prelude::ChannelType::Forum)
        })
        .unwrap_or(false);
    let queued = ctx
        .data()
        .outbox
        .enqueue(NewPost {
            guild_id,
            channel_id: intros,
            kind: "intro".into(),
            dedup_key: format!(
                "intro-form:{guild_id}:{user_id}:{}",
                ctx.interaction.id.get()
            ),
            body: action_json(&Action::IntroThread {
                user_id,
                name: intro_thread_name(&username),
                forum,
                prompt,
            }),
            not_before_ms: None,
        })
        .await?;
    if queued.is_none() {
        return Err(UserError("This introduction was already posted.".into()).into());
    }
    let stored = if keep.is_some() {
        "Your interests are saved for peer introductions (`/intro share_interests:false` removes them)."
    } else {
        "Your interests were not stored."
    };
    pctx.send(poise::CreateReply::default().content(format!("Thanks, {username}! Your introduction is being posted in your thread in <#{intros}>. {stored}")).ephemeral(true))
        .await?;
    Ok(())
}
