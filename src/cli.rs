//! The command line (product §1). Exit codes: 0 ok, 1 runtime failure, 2 bad usage or config.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{self, ProcessEnv};
use crate::error::exit;

#[derive(Debug, Parser)]
#[command(
    name = "hearth",
    version,
    about = "A self-hosted Discord bot for community managers"
)]
pub struct Cli {
    /// Config file (default: hearth.toml, or HEARTH_CONFIG)
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the bot (token from HEARTH_DISCORD_TOKEN or the config)
    Run,
    /// Run the bot offline against the built-in Discord emulator with a scripted community
    Demo {
        /// Where to write the transcript, database and bot log (default: a temporary folder)
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Validate the config file and print the effective settings
    Check,
    /// Apply database migrations
    Migrate,
    /// Community analytics from the database (no Discord needed)
    Report {
        /// The server (guild) id
        #[arg(long)]
        guild: u64,
        /// First day, YYYY-MM-DD (default: 29 days before --to)
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        /// Last day, YYYY-MM-DD (default: today in the server's time zone)
        #[arg(long)]
        to: Option<chrono::NaiveDate>,
        #[arg(long, value_enum, default_value = "table")]
        format: ReportFormat,
        /// Retention cohorts by calendar month or ISO week
        #[arg(long, value_enum, default_value = "month")]
        cohorts: Cohorts,
    },
    /// Backfill activity from DiscordChatExporter exports (JSON or CSV, files or folders)
    Import {
        /// The server (guild) id the exports belong to
        #[arg(long)]
        guild: u64,
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// A member's data: export it, or forget it (product §8)
    Privacy {
        #[command(subcommand)]
        action: PrivacyAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum PrivacyAction {
    /// Delete a member's records (anonymised, so totals stay right)
    Forget {
        #[arg(long)]
        user: u64,
        /// Only in this server (default: every server)
        #[arg(long)]
        guild: Option<u64>,
    },
    /// Print everything stored about a member as JSON
    Export {
        #[arg(long)]
        user: u64,
        #[arg(long)]
        guild: Option<u64>,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ReportFormat {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Cohorts {
    Month,
    Week,
}

/// Parses the command line, runs the command, returns the exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return exit::RUNTIME;
        }
    };
    runtime.block_on(dispatch(cli))
}

async fn dispatch(cli: Cli) -> i32 {
    if let Command::Demo { out } = cli.command {
        return crate::demo::run(out).await;
    }
    let config = match config::load(cli.config.as_deref(), &ProcessEnv) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err}");
            return exit::USAGE;
        }
    };
    crate::telemetry::init(&config.log);
    match cli.command {
        Command::Run => crate::app::run(config).await,
        Command::Check => check(&config),
        Command::Migrate => match crate::app::migrate(&config).await {
            Ok(()) => exit::OK,
            Err(err) => {
                eprintln!("error: {err:#}");
                exit::RUNTIME
            }
        },
        Command::Report {
            guild,
            from,
            to,
            format,
            cohorts,
        } => match report(&config, guild, from, to, format, cohorts).await {
            Ok(()) => exit::OK,
            Err(err) => {
                eprintln!("error: {err:#}");
                exit::RUNTIME
            }
        },
        Command::Import { guild, paths } => import(&config, guild, &paths).await,
        Command::Privacy { action } => match privacy(&config, action).await {
            Ok(()) => exit::OK,
            Err(err) => {
                eprintln!("error: {err:#}");
                exit::RUNTIME
            }
        },
        Command::Demo { .. } => unreachable!("handled above"),
    }
}

fn check(config: &config::Config) -> i32 {
    let file = config
        .source
        .as_ref()
        .map_or_else(|| "hearth.toml".to_owned(), |p| p.display().to_string());
    println!("{file}: OK");
    println!("  api: {}", config.discord.api_base_url);
    println!(
        "  token: {}",
        if config.token().is_some() {
            "set"
        } else {
            "missing (set HEARTH_DISCORD_TOKEN before `hearth run`)"
        }
    );
    println!("  database: {}", config.database.url);
    println!("  guild sections: {}", config.guilds.len());
    exit::OK
}

async fn report(
    config: &config::Config,
    guild: u64,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    format: ReportFormat,
    cohorts: Cohorts,
) -> anyhow::Result<()> {
    use crate::domain::clock::{Clock, SystemClock};
    let pool = crate::db::open(&config.database.url).await?;
    let tz = crate::scheduler::guild_timezone(&pool, config, guild).await?;
    let to = to.unwrap_or_else(|| SystemClock.now().with_timezone(&tz).date_naive());
    let from = from.unwrap_or(to - chrono::Duration::days(29));
    anyhow::ensure!(from <= to, "--from {from} is after --to {to}");
    let period = match cohorts {
        Cohorts::Month => crate::domain::analytics::CohortPeriod::Month,
        Cohorts::Week => crate::domain::analytics::CohortPeriod::IsoWeek,
    };
    let report = crate::stats::report(&pool, guild, tz, from, to, period).await?;
    match format {
        ReportFormat::Json => println!("{}", serde_json::to_string(&report)?),
        ReportFormat::Table => print!("{}", crate::stats::render_table(&report)),
        ReportFormat::Csv => print!("{}", crate::stats::render_csv(&report)),
    }
    pool.close().await;
    Ok(())
}

async fn privacy(config: &config::Config, action: PrivacyAction) -> anyhow::Result<()> {
    let pool = crate::db::open(&config.database.url).await?;
    match action {
        PrivacyAction::Export { user, guild } => {
            let data = crate::db::privacy::export(&pool, guild, user).await?;
            println!("{}", serde_json::to_string_pretty(&data)?);
        }
        PrivacyAction::Forget { user, guild } => {
            let anonymous = crate::db::privacy::anonymous_id();
            let moved = crate::db::privacy::forget(&pool, guild, user, anonymous).await?;
            println!("forgot member {user}: {moved} activity record(s) anonymised; interests and intro-thread links deleted");
        }
    }
    pool.close().await;
    Ok(())
}

async fn import(config: &config::Config, guild: u64, paths: &[PathBuf]) -> i32 {
    let files = match crate::import::collect_files(paths) {
        Ok(files) => files,
        Err(err) => {
            eprintln!("error: {err}");
            return exit::USAGE;
        }
    };
    let result = async {
        let pool = crate::db::open(&config.database.url).await?;
        let total = files.len();
        let summary = crate::import::import(&pool, guild, &files, |done, s| {
            if total > 1 {
                eprint!("\rimporting: {done}/{total} files, {} messages", s.messages);
            }
        })
        .await?;
        if total > 1 {
            eprintln!();
        }
        pool.close().await;
        anyhow::Ok(summary)
    }
    .await;
    match result {
        Err(err) => {
            eprintln!("error: {err:#}");
            exit::RUNTIME
        }
        Ok(summary) => {
            println!(
                "imported {} file(s): {} messages read, {} new activity records, {} bot messages skipped (message content is never stored)",
                summary.files, summary.messages, summary.added, summary.skipped_bots
            );
            for failure in &summary.failures {
                eprintln!("error: {failure}");
            }
            if summary.failures.is_empty() {
                exit::OK
            } else {
                exit::RUNTIME
            }
        }
    }
}
