//! Housekeeping: small chores that run every few minutes beside the job loop. Each chore says
//! how often it runs and how loudly a failure is logged; adding one is one more variant.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::config::Config;
use crate::db::{self, Pool};
use crate::domain::clock::{Clock, SystemClock};
use crate::features::{rollup, settings};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chore {
    /// Folds new activity into the materialised days and finishes the days that have ended, so
    /// that reports have little left to do.
    MaterialiseDays,
    /// Deletes the data of servers the bot left more than the grace period ago.
    PurgeLeftGuilds,
    /// `secure_delete` scrubs erased text from the main file; a checkpoint also moves it out of
    /// the write-ahead log, so an erased `/intro` answer lives at most a minute on disk.
    Checkpoint,
}

impl Chore {
    const ALL: [Chore; 3] = [
        Self::PurgeLeftGuilds,
        Self::MaterialiseDays,
        Self::Checkpoint,
    ];

    fn every_minutes(self) -> u64 {
        match self {
            Self::PurgeLeftGuilds => 15,
            Self::MaterialiseDays | Self::Checkpoint => 1,
        }
    }

    async fn run(self, pool: &Pool, config: &Config) -> anyhow::Result<()> {
        match self {
            Self::MaterialiseDays => {
                for guild_id in db::guilds::present(pool).await? {
                    let tz = settings::timezone(pool, config, guild_id).await?;
                    rollup::refresh(pool, guild_id, tz, SystemClock.now()).await?;
                }
            }
            Self::PurgeLeftGuilds => {
                let days = config.privacy.purge_after_days;
                let cutoff = SystemClock.now().timestamp() - i64::from(days) * 86_400;
                let guilds = db::privacy::purge_left_guilds(pool, cutoff).await?;
                if !guilds.is_empty() {
                    info!(guilds = ?guilds, "purged the data of servers left more than {days} days ago");
                }
            }
            Self::Checkpoint => db::checkpoint(pool).await?,
        }
        Ok(())
    }

    fn failed(self, err: &anyhow::Error) {
        match self {
            Self::MaterialiseDays => {
                warn!(error = %err, "materialising days failed; retrying later")
            }
            Self::PurgeLeftGuilds => {
                warn!(error = %err, "purging servers the bot left failed; retrying later")
            }
            Self::Checkpoint => {
                debug!(error = %err, "WAL checkpoint skipped (the database is busy)")
            }
        }
    }
}

/// Runs the chores once a minute (each at its own interval) until cancelled.
pub async fn run(pool: Pool, config: Arc<Config>, shutdown: CancellationToken) {
    for minute in 0u64.. {
        for chore in Chore::ALL {
            if minute % chore.every_minutes() == 0 {
                if let Err(err) = chore.run(&pool, &config).await {
                    chore.failed(&err);
                }
            }
        }
        if minute == 0 {
            // Which process does the housekeeping shows in its log (the leader's, when several
            // processes share the store).
            info!("housekeeping: first pass done (days materialised, left servers purged)");
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
    }
}
