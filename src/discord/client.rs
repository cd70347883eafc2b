//! Building the serenity client and the poise framework.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::{mpsc, oneshot};
use tracing::info;

use super::serenity::{self, HttpBuilder};
use super::{commands, embeds, errors, events, Data, Error};
use crate::config::Config;
use crate::domain::shards::ShardRange;

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
async fn build(
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

/// How the gateway ended: `Ok` after `shutdown_all`, or serenity's error; a `RecvError` when
/// its thread panicked.
pub type GatewayEnded = oneshot::Receiver<Result<(), serenity::Error>>;

/// The Discord client on a thread of its own (see `spawn_gateway`), built and waiting for
/// `start`.
pub struct Gateway {
    pub shard_manager: Arc<serenity::ShardManager>,
    pub cache: Arc<serenity::Cache>,
    pub http: Arc<serenity::Http>,
    go: Option<oneshot::Sender<()>>,
    /// Resolves once the shards stopped and the framework (with its `Tracker`) was dropped.
    pub ended: GatewayEnded,
    /// Dropped with the `Gateway`: the thread then stops its runtime. Until then connections
    /// its tasks opened (the store's pool, HTTP) keep working for the shutdown's last writes.
    _release: oneshot::Sender<()>,
}

impl Gateway {
    /// Connects the shards: `shards`, else the one shard of an unsharded bot.
    pub fn start(&mut self) {
        if let Some(go) = self.go.take() {
            let _ = go.send(());
        }
    }
}

/// Builds the client (see `build`) on a thread of its own with a single-threaded runtime, where
/// serenity's shard runners and every event handler they spawn then run.
///
/// serenity reads a shard's next event without waiting for the handlers of those before it (a
/// task per event, each holding the event), so on the shared multi-threaded runtime a process
/// that fell behind queued every pending event (up to 83k runnable tasks for one process with 4
/// shards in `hearth-bench --only shards`). On one thread tasks run in the order they were
/// queued: a shard reads on only after the handlers of what it read ran, and the rest waits in
/// the socket (about 1,100 tasks alive there); the same process also spends less CPU per event.
/// Store writes, posts, the scheduler and the dashboard stay on the main runtime. A handler
/// that waits (on the store, on Discord) waits behind what the shards read meanwhile, so the
/// hot paths answer from memory where they can (`PostsOnJoin`).
pub async fn spawn_gateway(
    http: serenity::Http,
    config: Arc<Config>,
    data: Data,
    fatal: mpsc::UnboundedSender<String>,
    shards: Option<ShardRange>,
) -> anyhow::Result<Gateway> {
    let (built, built_rx) = oneshot::channel();
    let (go, go_rx) = oneshot::channel::<()>();
    let (ended, ended_rx) = oneshot::channel();
    let (release, released) = oneshot::channel::<()>();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the gateway's runtime")?;
    std::thread::Builder::new()
        .name("gateway".into())
        .spawn(move || {
            let result = runtime.block_on(async move {
                let mut client = match build(http, &config, data, fatal).await {
                    Ok(client) => client,
                    Err(err) => {
                        let _ = built.send(Err(err));
                        return Ok(());
                    }
                };
                let parts = (
                    client.shard_manager.clone(),
                    client.cache.clone(),
                    client.http.clone(),
                );
                if built.send(Ok(parts)).is_err() || go_rx.await.is_err() {
                    return Ok(());
                }
                match shards {
                    // serenity 0.12 takes the range's end as the last shard itself (inclusive):
                    // `start_shard_range(4..7, 10)` runs shards 4, 5, 6 and 7.
                    Some(range) => {
                        client
                            .start_shard_range(range.first..range.last, range.total)
                            .await
                    }
                    None => client.start().await,
                }
            });
            let _ = ended.send(result);
            // Handlers still running (a welcome waiting on the store) may finish meanwhile.
            let _ = runtime.block_on(released);
            runtime.shutdown_timeout(Duration::from_secs(1));
        })
        .context("starting the gateway's thread")?;
    let (shard_manager, cache, http) = built_rx
        .await
        .map_err(|_| anyhow::anyhow!("the gateway's thread failed while building the client"))??;
    Ok(Gateway {
        shard_manager,
        cache,
        http,
        go: Some(go),
        ended: ended_rx,
        _release: release,
    })
}
