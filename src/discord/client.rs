//! Building the serenity client and the poise framework.

use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::mpsc;
use tracing::info;

use super::serenity::{self, HttpBuilder};
use super::{commands, embeds, errors, events, Data, Error};
use crate::config::Config;

/// The HTTP client: Discord's API, or an emulator/proxy at `[discord] api_base_url`.
pub fn http(config: &Config, token: &str) -> serenity::Http {
    let mut builder = HttpBuilder::new(token);
    if config.uses_custom_api() {
        // serenity ignores the proxy while its ratelimiter is on (the ratelimiter builds its own
        // requests), so a custom API means the bot's own retry logic handles 429s.
        builder = builder
            .proxy(config.discord.api_base_url.trim_end_matches('/'))
            .ratelimiter_disabled(true);
    }
    if let Some(id) = config.discord.application_id {
        builder = builder.application_id(serenity::ApplicationId::new(id));
    }
    builder.build()
}

/// Refuses to start when the configured API cannot be reached: serenity would otherwise fall
/// back to Discord's real gateway and retry forever.
pub async fn check_reachable(http: &serenity::Http, config: &Config) -> anyhow::Result<()> {
    let base = &config.discord.api_base_url;
    let gateway = tokio::time::timeout(Duration::from_secs(15), http.get_gateway())
        .await
        .map_err(|_| anyhow::anyhow!("no answer from {base} within 15 s"))
        .and_then(|r| r.map_err(anyhow::Error::from))
        .with_context(|| format!("cannot reach the Discord API at {base}; check [discord] api_base_url and the network"))?;
    info!(gateway.url = %gateway.url, "Discord API reachable");
    http.get_current_user().await.map_err(|err| match err {
        serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(ref r)) if r.status_code.as_u16() == 401 => {
            anyhow::anyhow!("Discord refused the bot token (401); set a valid token in HEARTH_DISCORD_TOKEN or [discord] token")
        }
        other => anyhow::Error::from(other).context("reading the bot's own user"),
    })?;
    Ok(())
}

/// Builds the client. A setup failure (e.g. command registration refused) is sent on `fatal`
/// so the process exits instead of hanging: poise holds every event until setup succeeds.
pub async fn build(
    http: serenity::Http,
    config: &Config,
    data: Data,
    fatal: mpsc::UnboundedSender<String>,
) -> anyhow::Result<serenity::Client> {
    let registration = config.discord.register_commands;
    let framework = poise::Framework::<Data, Error>::builder()
        .options(poise::FrameworkOptions {
            commands: commands::all(),
            on_error: |err| Box::pin(errors::on_error(err)),
            post_command: |ctx| Box::pin(super::audit::after_command(ctx)),
            event_handler: |framework, event| Box::pin(events::handle(framework, event)),
            allowed_mentions: Some(embeds::no_mentions()),
            initialize_owners: false,
            ..Default::default()
        })
        .setup(move |ctx, ready, framework| {
            Box::pin(async move {
                match super::registration::register(
                    ctx,
                    ready,
                    &framework.options().commands,
                    registration,
                )
                .await
                {
                    Ok(count) => {
                        info!(
                            commands = count,
                            guilds = ready.guilds.len(),
                            "hearth ready: commands registered"
                        );
                        let mut data = data;
                        data.setup_shard = ready.shard.map(|s| s.id.0);
                        Ok(data)
                    }
                    Err(err) => {
                        let message = format!("{err:#}");
                        let _ = fatal.send(message);
                        Err(err)
                    }
                }
            })
        })
        .build();
    serenity::ClientBuilder::new_with_http(http, super::intents())
        .framework(framework)
        .await
        .context("building the Discord client")
}
