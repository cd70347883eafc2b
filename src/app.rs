//! `hearth run`: wiring of store, outbox, Discord client and graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::cli::ShardRange;
use crate::config::Config;
use crate::discord::{client, Data};
use crate::domain::delivery::RetryPolicy;
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
    // PostgreSQL has no file to lock: a session-held advisory lock refuses a second process.
    let _instance_session = match crate::db::Backend::of_pool(&pool) {
        crate::db::Backend::Postgres => Some(crate::db::advisory::lock_instance(&pool).await?),
        crate::db::Backend::Sqlite => None,
    };

    let http = client::http(&config, &token);
    client::check_reachable(&http, &config).await?;

    let outbox = Outbox::new(pool.clone());
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
        welcome_turn: tokio::sync::Mutex::new(()),
        setup_shard: None,
    };
    let (fatal_tx, mut fatal_rx) = mpsc::unbounded_channel();
    let mut client = client::build(http, &config, data, fatal_tx).await?;
    let shard_manager = client.shard_manager.clone();

    let shutdown = CancellationToken::new();
    let policy = RetryPolicy {
        max_attempts: config.outbox.max_attempts,
        initial_backoff_ms: config.outbox.initial_backoff_ms,
        max_backoff_ms: config.outbox.max_backoff_ms,
        retry_for_ms: config.outbox.retry_for_secs.saturating_mul(1000),
    };
    let scheduler_task = tokio::spawn(crate::scheduler::run(
        pool.clone(),
        config.clone(),
        outbox.clone(),
        scheduler,
        shutdown.clone(),
    ));
    tokio::spawn(crate::scheduler::housekeeping::run(
        pool.clone(),
        config.clone(),
        shutdown.clone(),
    ));
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
                &client,
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
    let mut gateway = tokio::spawn(async move {
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

    let code = tokio::select! {
        () = shutdown_signal() => {
            info!("shutting down: finishing pending posts");
            exit::OK
        }
        Some(reason) = fatal_rx.recv() => {
            error!(%reason, "cannot start: framework setup failed");
            eprintln!("error: framework setup failed: {reason}");
            exit::RUNTIME
        }
        result = &mut gateway => {
            let reason = match result {
                Ok(Ok(())) => "the gateway connection ended".to_owned(),
                Ok(Err(err)) => format!("gateway error: {err}"),
                Err(err) => format!("gateway task failed: {err}"),
            };
            error!(%reason, "stopping");
            eprintln!("error: {reason}");
            exit::RUNTIME
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
    gateway.abort();
    // The framework (and with it the last activity `Tracker`) is gone once the gateway task
    // ends; the writer then flushes what it holds and stops.
    let _ = gateway.await;
    if tokio::time::timeout(Duration::from_secs(10), activity_writer)
        .await
        .is_err()
    {
        warn!("activity writer did not finish flushing in time");
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

/// `hearth migrate`.
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
