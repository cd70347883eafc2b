//! `hearth run`: wiring of store, outbox, Discord client and graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::config::Config;
use crate::discord::{client, Data};
use crate::domain::delivery::RetryPolicy;
use crate::domain::shards::ShardRange;
use crate::error::exit;
use crate::outbox::rest::DiscordSink;
use crate::outbox::{self, Outbox};

/// Runs the bot until SIGTERM/Ctrl-C (exit 0) or a fatal error (exit 1); `shards`: only those
/// shards (`hearth run --shards A-B --shard-total N`), else the one shard of an unsharded bot.
pub async fn run(config: Config, shards: Option<ShardRange>) -> i32 {
    match run_inner(config, shards).await {
        Ok(code) => code,
        Err(err) => {
            // Printed once, as a sentence with its fix; the log gets a short line so that a
            // log file still says why the process ended.
            eprintln!("error: {err:#}");
            error!("hearth stopped on an error (printed above)");
            exit::RUNTIME
        }
    }
}

async fn run_inner(config: Config, shards: Option<ShardRange>) -> anyhow::Result<i32> {
    let Some(token) = config.token().map(str::to_owned) else {
        eprintln!(
            "error: no bot token.\n  fix: set HEARTH_DISCORD_TOKEN, or `token` under [discord] in {}",
            config.source.as_ref().map_or("hearth.toml".into(), |p| p.display().to_string())
        );
        return Ok(exit::USAGE);
    };
    let config = Arc::new(config);
    // The location first (its error names the cause and the fix), then the lock beside it.
    crate::db::check_location(&config.database.url, crate::db::Access::Create)?;
    let _instance = crate::instance_lock::acquire(&config.database.url)?;
    let pool = crate::db::open(&config.database.url).await?;
    // PostgreSQL has no file to lock: session-held advisory locks refuse a second unsharded
    // process, or a second process for a shard, and tell the others this one is alive.
    let owner: i32 = rand::random::<i32>().saturating_abs().max(1);
    let shared_store =
        shards.is_some() && crate::db::Backend::of_pool(&pool) == crate::db::Backend::Postgres;
    let instance_session = match crate::db::Backend::of_pool(&pool) {
        crate::db::Backend::Postgres => Some(
            crate::db::advisory::lock_instance(&pool, shards.map(|r| r.first..=r.last), owner)
                .await?,
        ),
        crate::db::Backend::Sqlite => None,
    };

    let http = client::http(&config, &token);
    client::check_reachable(&http, &config).await?;

    let outbox = if shared_store {
        Outbox::new(pool.clone()).owned_by(owner)
    } else {
        Outbox::new(pool.clone())
    };
    let scheduler = crate::scheduler::SchedulerHandle::default();
    let (tracker, activity_writer) =
        crate::features::activity::Tracker::start(pool.clone()).await?;
    let data = Data {
        pool: pool.clone(),
        config: config.clone(),
        outbox: outbox.clone(),
        scheduler: scheduler.clone(),
        tracker,
        posts_on_join: crate::features::welcome::PostsOnJoin::default(),
        welcome_turns: crate::features::welcome::GuildLocks::default(),
        setup_shard: None,
    };
    let (fatal_tx, mut fatal_rx) = mpsc::unbounded_channel();
    let mut gateway = client::spawn_gateway(http, config.clone(), data, fatal_tx, shards).await?;
    let shard_manager = gateway.shard_manager.clone();

    let shutdown = CancellationToken::new();
    let policy = RetryPolicy {
        max_attempts: config.outbox.max_attempts,
        initial_backoff_ms: config.outbox.initial_backoff_ms,
        max_backoff_ms: config.outbox.max_backoff_ms,
        retry_for_ms: config.outbox.retry_for_secs.saturating_mul(1000),
    };
    // What must run once per store: here, or on the leader among the processes sharing it.
    let once_per_store = OncePerStore {
        pool: pool.clone(),
        config: config.clone(),
        outbox: outbox.clone(),
        scheduler,
    };
    let scheduler_task = if shared_store {
        tokio::spawn(once_per_store.lead_when_possible(shutdown.clone()))
    } else {
        tokio::spawn(once_per_store.run(shutdown.clone(), Duration::from_secs(3600)))
    };
    let worker = tokio::spawn(outbox::run_worker(
        outbox,
        Arc::new(DiscordSink::new(&config.discord.api_base_url, &token)?),
        policy,
        shutdown.clone(),
        Duration::from_secs(10),
    ));
    // The dashboard (product §13), when `[web] bind` is set.
    let web = match config.web.bind_addr() {
        Some(addr) => Some(
            crate::discord::directory::serve_web(
                gateway.cache.clone(),
                gateway.http.clone(),
                pool.clone(),
                config.clone(),
                addr,
                shutdown.clone(),
            )
            .await?,
        ),
        None => None,
    };
    if let Some(range) = shards {
        info!(
            shard.first = range.first,
            shard.last = range.last,
            shard.total = range.total,
            "starting shards {range}"
        );
    }
    gateway.start();

    let (code, gateway_ended) = tokio::select! {
        () = shutdown_signal() => {
            info!("shutting down: finishing pending posts");
            (exit::OK, false)
        }
        Some(reason) = fatal_rx.recv() => {
            error!(%reason, "cannot start: framework setup failed");
            eprintln!("error: framework setup failed: {reason}");
            (exit::RUNTIME, false)
        }
        result = &mut gateway.ended => {
            let reason = match result {
                Ok(Ok(())) => "the gateway connection ended".to_owned(),
                Ok(Err(err)) => format!("gateway error: {err}"),
                Err(_) => "the gateway's thread failed (see the log)".to_owned(),
            };
            error!(%reason, "stopping");
            eprintln!("error: {reason}");
            (exit::RUNTIME, true)
        }
    };

    shutdown.cancel();
    if let Some(web) = web {
        let _ = tokio::time::timeout(Duration::from_secs(5), web).await;
    }
    // The scheduler stops first so that whatever it queued is in the outbox's final flush.
    let _ = tokio::time::timeout(Duration::from_secs(5), scheduler_task).await;
    if tokio::time::timeout(Duration::from_secs(15), worker)
        .await
        .is_err()
    {
        warn!("outbox did not stop in time");
    }
    shard_manager.shutdown_all().await;
    // The framework (and with it the last activity `Tracker`) is gone once the gateway's thread
    // ends; the writer then flushes what it holds and stops.
    if !gateway_ended
        && tokio::time::timeout(Duration::from_secs(10), &mut gateway.ended)
            .await
            .is_err()
    {
        warn!("the gateway did not stop in time");
    }
    if tokio::time::timeout(Duration::from_secs(10), activity_writer)
        .await
        .is_err()
    {
        warn!("activity writer did not finish flushing in time");
    }
    if let Some(session) = instance_session {
        session.release().await;
    }
    pool.close().await;
    info!(exit.code = code, "hearth stopped");
    Ok(code)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

/// The tasks that must run once per store whatever the number of processes: the scheduler (jobs
/// are also claimed, so a job is not run twice in the moment a lead changes hands) and the
/// housekeeping (rollups, purges).
#[derive(Clone)]
struct OncePerStore {
    pool: crate::db::Pool,
    config: Arc<Config>,
    outbox: Outbox,
    scheduler: crate::scheduler::SchedulerHandle,
}

/// How often a process that does not lead tries to, and a leader checks it still does.
const LEAD_CHECK: Duration = Duration::from_secs(2);

/// A leader's scheduler looks for jobs at least this often: the others' commands do not wake it.
const LEADER_MAX_SLEEP: Duration = Duration::from_secs(2);

impl OncePerStore {
    /// Runs the scheduler and the housekeeping until `stop`; returns once both stopped.
    async fn run(self, stop: CancellationToken, max_sleep: Duration) {
        let housekeeping = tokio::spawn(crate::scheduler::housekeeping::run(
            self.pool.clone(),
            self.config.clone(),
            stop.clone(),
        ));
        crate::scheduler::run(
            self.pool,
            self.config,
            self.outbox,
            self.scheduler,
            stop,
            max_sleep,
        )
        .await;
        let _ = housekeeping.await;
    }

    /// Among processes sharing a PostgreSQL store: runs [`Self::run`] while this process holds
    /// the leader's lock, takes the lead when the leader is gone, and stops leading if its lock
    /// session breaks (another process may lead by then).
    async fn lead_when_possible(self, shutdown: CancellationToken) {
        loop {
            match crate::db::advisory::try_lead(&self.pool).await {
                Ok(Some(mut lead)) => {
                    info!("leading: this process runs the scheduler and the housekeeping");
                    let stop = shutdown.child_token();
                    let tasks = tokio::spawn(self.clone().run(stop.clone(), LEADER_MAX_SLEEP));
                    loop {
                        tokio::select! {
                            () = shutdown.cancelled() => break,
                            () = tokio::time::sleep(LEAD_CHECK) => {}
                        }
                        if !lead.still_held().await {
                            warn!("lost the lead (its database session ended); stopping the scheduler");
                            break;
                        }
                    }
                    stop.cancel();
                    let _ = tasks.await;
                    lead.release().await;
                }
                Ok(None) => {}
                Err(err) => warn!(error = %format!("{err:#}"), "could not ask for the lead"),
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(LEAD_CHECK) => {}
            }
        }
    }
}

/// `hearth migrate [--copy-from URL] [--to URL]`.
pub async fn migrate(url: &str, copy_from: Option<&str>) -> anyhow::Result<()> {
    let pool = crate::db::connect(url).await?;
    let applied = crate::db::migrate(&pool)
        .await
        .context("migrating the database")?;
    let shown = crate::db::redacted(url);
    println!("database {shown}: {applied} migration(s) applied, schema up to date");
    if let Some(source_url) = copy_from {
        let source = crate::db::open_with(source_url, crate::db::Access::Existing)
            .await
            .with_context(|| {
                format!(
                    "opening the store to copy from, {}",
                    crate::db::redacted(source_url)
                )
            })?;
        let copied = crate::db::copy::copy_store(&source, &pool).await?;
        println!("{:<24} {:>12} {:>12}", "table", "rows read", "rows written");
        for table in &copied {
            println!(
                "{:<24} {:>12} {:>12}",
                table.table, table.source_rows, table.target_rows
            );
        }
        let rows: i64 = copied.iter().map(|t| t.target_rows).sum();
        println!(
            "copied {rows} rows in {} tables from {} into {shown}; every count matches",
            copied.len(),
            crate::db::redacted(source_url)
        );
        source.close().await;
    }
    pool.close().await;
    Ok(())
}
