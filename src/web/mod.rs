//! The web dashboard for managers (product §13): Discord OAuth2 login, then read-only pages of
//! the figures the slash commands and `hearth report` show, computed by the same feature code.
//!
//! - `auth`: login through Discord, server-side sessions, CSRF tokens, cookies.
//! - `access`: who may see which server (a manager by §2, checked through the bot).
//! - `audit`: the audit log of settings changes.
//! - `figures`, `memo`: the health and retention figures, computed once for everyone asking
//!   within a minute.
//! - `pages`: the handlers and their HTML (maud), charts as inline SVG or the PNGs of `/stats`.
//! - `community`: events and attendance, surveys and NPS, connections.
//! - `moderation`: the flag queue and the manager's inbox.
//!
//! Handlers stay thin: they read through `features`/`db` and render. Every page answer carries
//! headers that keep it out of frames, caches and referrers.

mod access;
mod audit;
mod auth;
mod community;
mod figures;
mod memo;
mod moderation;
mod pages;
mod views;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::routing::{get, post};
use axum::Router;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::Config;
use crate::db::Pool;

pub use access::{Directory, MemberAccess};

/// What every handler shares.
#[derive(Clone)]
pub struct Web {
    pool: Pool,
    config: Arc<Config>,
    directory: Arc<dyn Directory>,
    /// The OAuth2 client id (the application id).
    client_id: u64,
    /// Discord's (or the emulator's) origin, for the OAuth2 endpoints.
    api_origin: String,
    /// Where browsers reach the dashboard, without a trailing slash.
    public_origin: String,
    http: reqwest::Client,
    access: Arc<access::AccessCache>,
    figures: Arc<figures::Figures>,
}

impl Web {
    /// The dashboard's state; `client_id` is the application id (see `WebConfig::client_id`).
    pub fn new(
        pool: Pool,
        config: Arc<Config>,
        directory: Arc<dyn Directory>,
        client_id: u64,
    ) -> anyhow::Result<Self> {
        let public_origin = config
            .web
            .public_origin()
            .context("the dashboard needs [web] bind")?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(15))
            // Discord's answers are read, never followed: a redirect would be a surprise.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("building the dashboard's HTTP client")?;
        Ok(Self {
            pool,
            api_origin: config.discord.api_base_url.trim_end_matches('/').to_owned(),
            config,
            directory,
            client_id,
            public_origin,
            http,
            access: Arc::new(access::AccessCache::default()),
            figures: Arc::new(figures::Figures::default()),
        })
    }

    /// Whether cookies get `Secure` (the dashboard is reached over HTTPS).
    fn secure_cookies(&self) -> bool {
        self.public_origin.starts_with("https://")
    }

    fn redirect_uri(&self) -> String {
        format!("{}/callback", self.public_origin)
    }
}

/// Every route of the dashboard.
pub fn router(web: Web) -> Router {
    Router::new()
        .route("/", get(pages::home))
        .route("/login", get(auth::login))
        .route("/callback", get(auth::callback))
        .route("/logout", post(auth::logout))
        .route("/servers/{guild}", get(pages::health))
        .route("/servers/{guild}/retention", get(pages::retention))
        .route("/servers/{guild}/members", get(pages::members))
        .route("/servers/{guild}/events", get(community::events))
        .route("/servers/{guild}/surveys", get(community::surveys))
        .route(
            "/servers/{guild}/surveys/{survey}/trend.png",
            get(community::survey_trend_png),
        )
        .route("/servers/{guild}/connections", get(community::connections))
        .route("/servers/{guild}/feedback", get(pages::feedback))
        .route("/servers/{guild}/flags", get(moderation::flags))
        .route("/servers/{guild}/inbox", get(moderation::inbox))
        .route("/servers/{guild}/calendar", get(pages::calendar))
        .route("/servers/{guild}/calendar.ics", get(pages::calendar_ics))
        .route("/servers/{guild}/activity.png", get(pages::activity_png))
        .route("/servers/{guild}/audit", get(audit::audit))
        .route("/static/style.css", get(pages::stylesheet))
        .fallback(pages::not_found)
        .layer(axum::middleware::map_response(views::security_headers))
        .with_state(web)
}

/// Binds `addr` and serves until `shutdown`; returns once bound (the server runs in a task).
pub async fn start(
    web: Web,
    addr: SocketAddr,
    shutdown: CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("the dashboard cannot listen on {addr} ([web] bind)"))?;
    let public = web.public_origin.clone();
    let pool = web.pool.clone();
    let app = router(web);
    info!(web.bind = %addr, web.url = %public, "dashboard listening");
    tokio::spawn(auth::expire_sessions(pool, shutdown.clone()));
    Ok(tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(err) = served {
            warn!(error = %err, "dashboard server stopped");
        }
    }))
}
