//! The command line (product §1). Exit codes: 0 ok, 1 runtime failure, 2 bad usage or config.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{self, ProcessEnv};
use crate::error::{exit, UsageError};

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
    Run {
        /// Run only these shards, A-B (inclusive; a single shard: A); needs --shard-total.
        /// Default: one shard for every server
        #[arg(long, value_name = "A-B")]
        shards: Option<String>,
        /// How many shards the bot has in all processes together; needs --shards
        #[arg(long, value_name = "N")]
        shard_total: Option<u32>,
    },
    /// Run the bot offline against the built-in Discord emulator with a scripted community
    Demo {
        /// Where to write the transcript, database and bot log (default: a temporary folder)
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Keep the bot and its web dashboard running after the script, until Ctrl-C
        #[arg(long)]
        web: bool,
    },
    /// Validate the config file and the database location, and print the effective settings
    Check {
        /// Also connect with the token and check the bot's permissions in every server
        #[arg(long)]
        connect: bool,
    },
    /// Apply database migrations; with --copy-from, also move a whole store into this one
    Migrate {
        /// Copy every row of this store (e.g. sqlite://hearth.db) into the configured database
        /// (or --to), which must be empty; counts are checked table by table
        #[arg(long, value_name = "URL")]
        copy_from: Option<String>,
        /// The store to migrate (and copy into) instead of the config's database.url, e.g.
        /// postgres://postgres@127.0.0.1:5432/hearth
        #[arg(long, value_name = "URL")]
        to: Option<String>,
    },
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

#[cfg(feature = "emulator")]
async fn demo(out: Option<std::path::PathBuf>, web: bool) -> i32 {
    crate::demo::run(out, web).await
}

/// A build without the emulator (`--no-default-features`, for servers) has no demo.
#[cfg(not(feature = "emulator"))]
async fn demo(_out: Option<std::path::PathBuf>, _web: bool) -> i32 {
    eprintln!(
        "error: this build of hearth has no built-in Discord emulator, so `hearth demo` is not available.\n  fix: build with the default features: cargo run --release -- demo"
    );
    exit::USAGE
}

async fn dispatch(cli: Cli) -> i32 {
    if let Command::Demo { out, web } = cli.command {
        return demo(out, web).await;
    }
    // Flags are judged before the config is read: a bad range is a usage error either way.
    let shards = match &cli.command {
        Command::Run {
            shards,
            shard_total,
        } => match crate::domain::shards::shard_range(shards.as_deref(), *shard_total) {
            Ok(range) => range,
            Err(err) => {
                eprintln!("error: {err}");
                return exit::USAGE;
            }
        },
        _ => None,
    };
    let config = match config::load(cli.config.as_deref(), &ProcessEnv) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err}");
            return exit::USAGE;
        }
    };
    crate::telemetry::init(&config.log);
    match cli.command {
        Command::Run { .. } => crate::app::run(config, shards).await,
        Command::Check { connect } => check(&config, connect).await,
        Command::Migrate { copy_from, to } => match crate::app::migrate(
            to.as_deref().unwrap_or(&config.database.url),
            copy_from.as_deref(),
        )
        .await
        {
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
                exit_code_of(&err)
            }
        },
        Command::Import { guild, paths } => import(&config, guild, &paths).await,
        Command::Privacy { action } => match privacy(&config, action).await {
            Ok(()) => exit::OK,
            Err(err) => {
                eprintln!("error: {err:#}");
                exit_code_of(&err)
            }
        },
        Command::Demo { .. } => unreachable!("handled above"),
    }
}

async fn check(config: &config::Config, connect: bool) -> i32 {
    let file = config_file(config);
    let database = crate::db::check_location(&config.database.url, crate::db::Access::Create);
    if let Err(err) = &database {
        eprintln!("error: {file}: key `database.url`: {err:#}");
        return exit::USAGE;
    }
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
    let exists = crate::db::database_path(&config.database.url)
        .ok()
        .flatten()
        .is_some_and(|p| p.exists());
    let postgres =
        crate::db::Backend::of_url(&config.database.url) == Some(crate::db::Backend::Postgres);
    println!(
        "  database: {} ({})",
        crate::db::redacted(&config.database.url),
        if postgres {
            "PostgreSQL; a missing database is created on the first `hearth run` or `hearth migrate`"
        } else if exists {
            "readable and writable"
        } else {
            "will be created on the first `hearth run` or `hearth migrate`"
        }
    );
    println!("  guild sections: {}", config.guilds.len());
    match config.web.public_origin() {
        Some(origin) if config.web.bind.is_some() => println!(
            "  web dashboard: on {origin} (OAuth2 redirect to register: {origin}/callback)"
        ),
        _ => println!("  web dashboard: off (set [web] bind to serve it)"),
    }
    if !connect {
        return exit::OK;
    }
    match check_connected(config).await {
        Ok(true) => exit::OK,
        Ok(false) => exit::RUNTIME,
        Err(err) => {
            eprintln!("error: {err:#}");
            exit_code_of(&err)
        }
    }
}

fn config_file(config: &config::Config) -> String {
    config
        .source
        .as_ref()
        .map_or_else(|| "hearth.toml".to_owned(), |p| p.display().to_string())
}

/// `hearth check --connect`: the bot's permissions per configured channel in every server it is
/// in, read over REST and judged by the same doctor as `/config doctor`. Returns whether all is
/// well; a purpose without a channel is listed but is not a failure (its feature is just off).
async fn check_connected(config: &config::Config) -> anyhow::Result<bool> {
    let Some(token) = config.token() else {
        return Err(UsageError(format!(
            "`check --connect` needs the bot token\n  fix: set HEARTH_DISCORD_TOKEN, or `token` under [discord] in {}",
            config_file(config)
        ))
        .into());
    };
    // Settings made with `/config` live in the database; read it without writing, if it exists.
    let store = match crate::db::connect_read_only(&config.database.url).await {
        Ok(pool) => Some(pool),
        Err(err) => {
            println!(
                "  stored /config settings not read ({err:#}): checking the config file's channels"
            );
            None
        }
    };
    let result = crate::discord::preflight::check(config, token, store.as_ref()).await;
    if let Some(pool) = store {
        pool.close().await;
    }
    let bot = result?;
    println!(
        "connected as {} ({}) to {}",
        bot.name, bot.id, config.discord.api_base_url
    );
    let mut all_good = true;
    for id in config.guilds.keys() {
        if !bot.guilds.iter().any(|g| g.id.to_string() == *id) {
            all_good = false;
            println!("server {id} (configured in [guilds.{id}]): the bot is not in it\n       fix: invite the bot with the URL in the README, or remove the section");
        }
    }
    if bot.guilds.is_empty() {
        println!("the bot is in no server yet: invite it with the URL in the README");
    }
    for guild in &bot.guilds {
        println!("server {} ({}):", guild.name, guild.id);
        for (finding, configured) in &guild.findings {
            let label = match (finding.ok, configured) {
                (true, _) => "ok  ",
                (false, false) => "off ",
                (false, true) => "FAIL",
            };
            println!(
                "  {label} {}: {}",
                finding.purpose,
                guild.plain(&finding.problem)
            );
            if label == "FAIL" {
                all_good = false;
                println!("       fix: {}", guild.plain(&finding.fix));
            }
        }
    }
    if all_good {
        println!("all good: the bot has every permission its configured features need");
    } else {
        println!("problems found: what is marked FAIL does not work until fixed");
    }
    Ok(all_good)
}

/// The longest report: 20 years. Each day is computed, so `0001-01-01..9999-12-31` ran for minutes.
const MAX_REPORT_DAYS: i64 = 20 * 366;

/// A report's days must be in order and at most [`MAX_REPORT_DAYS`]; `to_note` says where a
/// default `--to` came from.
fn check_range(
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    to_note: &str,
) -> anyhow::Result<()> {
    if from > to {
        return Err(UsageError(format!(
            "--from {from} is after --to {to}{to_note}\n  fix: give a --from on or before --to"
        ))
        .into());
    }
    let days = (to - from).num_days() + 1;
    if days > MAX_REPORT_DAYS {
        return Err(UsageError(format!(
            "--from {from} to --to {to} is {days} days; a report covers at most {MAX_REPORT_DAYS} days (20 years)\n  fix: narrow the range"
        ))
        .into());
    }
    Ok(())
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
    if let (Some(from), Some(to)) = (from, to) {
        check_range(from, to, "")?;
    }
    let pool = crate::db::open_with(&config.database.url, crate::db::Access::Existing).await?;
    // A report writes its materialised days; for a guild the store never saw that would be a
    // row about nothing, and the zeros would hide a mistyped id.
    if !crate::db::knows_guild(&pool, guild).await? {
        pool.close().await;
        return Err(UsageError(format!(
            "the database {} holds nothing about server {guild}\n  fix: check --guild (Developer Mode → right-click the server → Copy Server ID); the bot records a server once it is in it, `hearth import` backfills one",
            crate::db::redacted(&config.database.url)
        ))
        .into());
    }
    let tz = crate::features::settings::timezone(&pool, config, guild).await?;
    let to = to.unwrap_or_else(|| SystemClock.now().with_timezone(&tz).date_naive());
    let from = from.unwrap_or(to - chrono::Duration::days(29));
    if let Err(err) = check_range(from, to, &format!(" (today in {tz})")) {
        pool.close().await;
        return Err(err);
    }
    let period = match cohorts {
        Cohorts::Month => crate::domain::analytics::CohortPeriod::Month,
        Cohorts::Week => crate::domain::analytics::CohortPeriod::IsoWeek,
    };
    let report = crate::features::stats::report(&pool, guild, tz, from, to, period).await?;
    match format {
        ReportFormat::Json => {
            let mut json = serde_json::to_value(&report)?;
            let events = crate::features::events::report_json(
                &pool,
                config,
                guild,
                tz,
                from,
                to,
                SystemClock.now().timestamp(),
            )
            .await?;
            json["events"] = events;
            json["surveys"] =
                crate::features::surveys::report_json(&pool, guild, tz, from, to).await?;
            json["connections"] =
                crate::features::connections::report_json(&pool, guild, tz, from, to).await?;
            println!("{}", serde_json::to_string(&json)?);
        }
        ReportFormat::Table => print!("{}", crate::features::stats::render_table(&report)),
        ReportFormat::Csv => print!("{}", crate::features::stats::render_csv(&report)),
    }
    pool.close().await;
    Ok(())
}

async fn privacy(config: &config::Config, action: PrivacyAction) -> anyhow::Result<()> {
    let pool = crate::db::open_with(&config.database.url, crate::db::Access::Existing).await?;
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
    let files = match crate::features::import::collect_files(paths) {
        Ok(files) => files,
        Err(err) => {
            eprintln!("error: {err}");
            return exit::USAGE;
        }
    };
    let result = async {
        let pool = crate::db::open(&config.database.url).await?;
        let total = files.len();
        let summary = crate::features::import::import(&pool, guild, &files, |done, s| {
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

/// The exit code for a failed command: 2 for bad usage (including a database path that names
/// nothing), 1 for everything else.
pub fn exit_code_of(err: &anyhow::Error) -> i32 {
    let usage = err.chain().any(|cause| {
        cause.is::<UsageError>()
            || cause
                .downcast_ref::<crate::db::LocationError>()
                .is_some_and(|e| e.missing)
    });
    if usage {
        exit::USAGE
    } else {
        exit::RUNTIME
    }
}
