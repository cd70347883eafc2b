//! Login with Discord (OAuth2 authorization code grant, scopes `identify guilds`), server-side
//! sessions and CSRF tokens.
//!
//! - `/login` sets a short-lived cookie holding a random `state` and sends the browser to
//!   Discord; `/callback` accepts only that `state` back, so a login cannot be forced on
//!   someone (login CSRF).
//! - The session id is 32 random bytes in an `HttpOnly`, `SameSite=Lax` cookie (`Secure` over
//!   HTTPS); the database keeps only its SHA-256, the user id and times.
//! - A form's CSRF token is derived from the session id (SHA-256 with a label), so it is tied
//!   to the session and needs no storage; a POST without the right one is refused with 403.
//! - `next` only ever names a local path: no open redirect.

use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use rand::RngCore as _;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::views::{self, PageError};
use super::Web;
use crate::domain::clock::unix_now;

pub const SESSION_COOKIE: &str = "hearth_session";
const LOGIN_COOKIE: &str = "hearth_login";
/// How long a login may take at Discord.
const LOGIN_COOKIE_SECS: i64 = 600;

/// A logged-in user.
#[derive(Clone, Debug)]
pub struct Session {
    pub user_id: u64,
    /// The secret the browser holds (never stored).
    id: String,
}

impl Session {
    /// The CSRF token of this session's forms.
    pub fn csrf(&self) -> String {
        csrf_of(&self.id)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex(&bytes)
}

fn hash_of(session_id: &str) -> String {
    hex(&Sha256::digest(session_id.as_bytes()))
}

fn csrf_of(session_id: &str) -> String {
    hex(&Sha256::digest(
        format!("hearth csrf {session_id}").as_bytes(),
    ))
}

/// Compares secrets without stopping at the first difference.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A `Set-Cookie` value: never readable by scripts, not sent on cross-site subrequests or
/// POSTs, and only over HTTPS when the dashboard is served over HTTPS.
fn cookie_text(name: &str, value: &str, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}")
}

fn set_cookie(web: &Web, name: &str, value: &str, max_age: i64) -> HeaderValue {
    // Names and values are ours (hex and percent-encoded paths): always a valid header.
    HeaderValue::from_str(&cookie_text(name, value, max_age, web.secure_cookies()))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The session of a request, if its cookie names a live one.
pub async fn session(web: &Web, headers: &HeaderMap) -> Result<Option<Session>, PageError> {
    let Some(id) = cookie(headers, SESSION_COOKIE).filter(|id| id.len() == 64) else {
        return Ok(None);
    };
    let user = crate::db::web_sessions::user_of(&web.pool, &hash_of(&id), unix_now()).await?;
    Ok(user.map(|user_id| Session { user_id, id }))
}

/// The session, or a redirect to the login (coming back to `path`).
pub async fn require(web: &Web, headers: &HeaderMap, path: &str) -> Result<Session, PageError> {
    session(web, headers)
        .await?
        .ok_or_else(|| PageError::LoginNeeded(path.to_owned()))
}

/// Checks a form's CSRF token against the session.
pub fn check_csrf(session: &Session, token: Option<&str>) -> Result<(), PageError> {
    match token {
        Some(token) if same_secret(token, &session.csrf()) => Ok(()),
        _ => Err(PageError::Forbidden(
            "This form expired or did not come from this dashboard. Go back, reload the page and try again.".into(),
        )),
    }
}

/// A local path to return to after login: `/…` but not `//…` (another host) nor `/\…`.
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && !path.chars().any(char::is_control) =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// `GET /login`: off to Discord with a fresh `state`.
pub async fn login(State(web): State<Web>, Query(query): Query<LoginQuery>) -> Response {
    let state = random_hex();
    let next = local_path(query.next.as_deref());
    // The cookie carries state and where to return; `next` is checked again on the way back.
    let value = format!("{state}.{}", views::encode_query(&next));
    let url = format!(
        "{}/oauth2/authorize?response_type=code&client_id={}&scope=identify%20guilds&state={state}&redirect_uri={}&prompt=consent",
        web.api_origin,
        web.client_id,
        views::encode_query(&web.redirect_uri()),
    );
    let mut response = Redirect::to(&url).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&web, LOGIN_COOKIE, &value, LOGIN_COOKIE_SECS),
    );
    response
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
}

#[derive(Deserialize)]
struct UserAnswer {
    id: String,
    username: String,
    global_name: Option<String>,
}

#[derive(Deserialize)]
struct GuildAnswer {
    id: String,
}

/// `GET /callback`: Discord sends the browser back with a code (or an error).
pub async fn callback(
    State(web): State<Web>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Result<Response, PageError> {
    let started = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    let (expected_state, next) = started.split_once('.').unwrap_or(("", ""));
    let state_ok = matches!(&query.state, Some(s) if !expected_state.is_empty() && same_secret(s, expected_state));
    if !state_ok {
        return Err(PageError::BadRequest(
            "This login did not start here or took too long. Log in again.".into(),
        ));
    }
    if let Some(error) = &query.error {
        info!(web.oauth_error = %error, "login not completed at Discord");
        return Err(PageError::BadRequest(
            "Discord did not log you in (the request was cancelled or refused). Log in again."
                .into(),
        ));
    }
    let Some(code) = &query.code else {
        return Err(PageError::BadRequest(
            "Discord sent no login code. Log in again.".into(),
        ));
    };
    let user_id = exchange(&web, code).await?;
    let session_id = random_hex();
    let now = unix_now();
    let expires = now + i64::from(web.config.web.session_hours) * 3600;
    crate::db::web_sessions::insert(&web.pool, &hash_of(&session_id), user_id, now, expires)
        .await?;
    info!(user.id = user_id, "dashboard login");
    let next = local_path(views::decode_query(next).as_deref());
    let mut response = Redirect::to(&next).into_response();
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        set_cookie(&web, SESSION_COOKIE, &session_id, expires - now),
    );
    headers.append(header::SET_COOKIE, set_cookie(&web, LOGIN_COOKIE, "", 0));
    Ok(response)
}

/// Exchanges the code, reads who logged in and their guild list; returns the user id.
async fn exchange(web: &Web, code: &str) -> Result<u64, PageError> {
    let secret = web.config.web.client_secret.clone().unwrap_or_default();
    let answer = web
        .http
        .post(format!("{}/api/v10/oauth2/token", web.api_origin))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &web.redirect_uri()),
            ("client_id", &web.client_id.to_string()),
            ("client_secret", &secret),
        ])
        .send()
        .await
        .map_err(|e| PageError::Upstream(format!("the token exchange failed: {e}")))?;
    let status = answer.status();
    let body = answer.bytes().await.unwrap_or_default();
    if !status.is_success() {
        let said = String::from_utf8_lossy(&body);
        warn!(http.status = status.as_u16(), answer = %said, "Discord refused the login code");
        return Err(if status == StatusCode::UNAUTHORIZED {
            PageError::Upstream(
                "Discord refused the dashboard's client id or secret ([web] client_id, HEARTH_WEB_CLIENT_SECRET)".into(),
            )
        } else {
            PageError::BadRequest(
                "Discord did not accept this login (it may have been used already). Log in again."
                    .into(),
            )
        });
    }
    let token: TokenAnswer = serde_json::from_slice(&body)
        .map_err(|e| PageError::Upstream(format!("Discord's token answer did not read: {e}")))?;
    let user: UserAnswer = bearer_get(web, "/users/@me", &token.access_token).await?;
    let user_id = user
        .id
        .parse::<u64>()
        .map_err(|_| PageError::Upstream("Discord's user id did not read".into()))?;
    let guilds: Vec<GuildAnswer> =
        bearer_get(web, "/users/@me/guilds", &token.access_token).await?;
    web.access.forget_user(user_id);
    web.access
        .remember_name(user_id, user.global_name.unwrap_or(user.username));
    web.access.remember_oauth_guilds(
        user_id,
        guilds.iter().filter_map(|g| g.id.parse().ok()).collect(),
    );
    Ok(user_id)
}

async fn bearer_get<T: serde::de::DeserializeOwned>(
    web: &Web,
    path: &str,
    token: &str,
) -> Result<T, PageError> {
    let answer = web
        .http
        .get(format!("{}/api/v10{path}", web.api_origin))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .send()
        .await
        .map_err(|e| PageError::Upstream(format!("reading {path} failed: {e}")))?;
    let status = answer.status();
    let body = answer.bytes().await.unwrap_or_default();
    if !status.is_success() {
        return Err(PageError::Upstream(format!(
            "Discord answered {status} to {path}"
        )));
    }
    serde_json::from_slice(&body)
        .map_err(|e| PageError::Upstream(format!("Discord's answer to {path} did not read: {e}")))
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

/// `POST /logout`: ends the session on the server, not just in the browser.
pub async fn logout(
    State(web): State<Web>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    let session = session(&web, &headers).await?.ok_or_else(|| {
        PageError::Forbidden("You are not logged in (or your session ended).".into())
    })?;
    check_csrf(&session, form.csrf.as_deref())?;
    crate::db::web_sessions::delete(&web.pool, &hash_of(&session.id)).await?;
    info!(user.id = session.user_id, "dashboard logout");
    let mut response = Redirect::to("/").into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(&web, SESSION_COOKIE, "", 0));
    Ok(response)
}

/// Deletes expired sessions every hour until `shutdown`.
pub async fn expire_sessions(pool: crate::db::Pool, shutdown: CancellationToken) {
    loop {
        match crate::db::web_sessions::delete_expired(&pool, unix_now()).await {
            Ok(0) => {}
            Ok(n) => info!(sessions = n, "expired dashboard sessions deleted"),
            Err(err) => warn!(error = %err, "deleting expired dashboard sessions failed"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(3600)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_accepts_only_local_paths() {
        assert_eq!(
            local_path(Some("/servers/1?from=2026-01-01")),
            "/servers/1?from=2026-01-01"
        );
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "evil",
            "/a\nb",
        ] {
            assert_eq!(local_path(Some(bad)), "/", "{bad}");
        }
        assert_eq!(local_path(None), "/");
    }

    #[test]
    fn csrf_tokens_belong_to_their_session() {
        let a = Session {
            user_id: 1,
            id: random_hex(),
        };
        let b = Session {
            user_id: 1,
            id: random_hex(),
        };
        assert!(check_csrf(&a, Some(&a.csrf())).is_ok());
        assert!(check_csrf(&a, Some(&b.csrf())).is_err());
        assert!(check_csrf(&a, None).is_err());
        assert_ne!(a.csrf(), hash_of(&a.id), "the token is not the stored hash");
    }

    #[test]
    fn cookies_are_http_only_same_site_and_secure_over_https() {
        let plain = cookie_text(SESSION_COOKIE, "abc", 60, false);
        assert_eq!(
            plain,
            "hearth_session=abc; Path=/; Max-Age=60; HttpOnly; SameSite=Lax"
        );
        assert!(cookie_text(SESSION_COOKIE, "abc", 60, true).ends_with("; Secure"));
    }

    #[test]
    fn cookies_are_read_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("xhearth_session=1; hearth_session=abc"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE).as_deref(), Some("abc"));
    }
}
