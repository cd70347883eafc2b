//! Discord's OAuth2 authorization code grant, for logins to a web dashboard: the consent page
//! (`GET /oauth2/authorize`, a form to pick who logs in), the token exchange
//! (`POST /api/v10/oauth2/token`) and the two reads a Bearer token allows here
//! (`GET /api/v10/users/@me` with `identify`, `GET /api/v10/users/@me/guilds` with `guilds`).
//!
//! As strict as Discord: the application's id, a registered redirect URI, `response_type=code`
//! and known scopes are required; codes are one-time, expire after 10 minutes and are bound to
//! the client and redirect URI; wrong ones get Discord's `{"error": "invalid_grant"}`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{FromRequest, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::{Form, Json};
use base64::Engine as _;
use rand::distributions::{Alphanumeric, DistString};
use serde_json::{json, Value};

use crate::Inner;

/// How long an authorization code can be exchanged (Discord: 10 minutes).
const CODE_TTL: Duration = Duration::from_secs(600);
/// Access tokens last a week, as Discord's do.
const TOKEN_TTL_SECS: u64 = 604_800;

/// Scopes Discord knows; any other is `invalid_scope`.
const KNOWN_SCOPES: &[&str] = &[
    "activities.read",
    "activities.write",
    "applications.builds.read",
    "applications.commands",
    "applications.entitlements",
    "bot",
    "connections",
    "dm_channels.read",
    "email",
    "gdm.join",
    "guilds",
    "guilds.join",
    "guilds.members.read",
    "identify",
    "messages.read",
    "openid",
    "relationships.read",
    "role_connections.write",
    "rpc",
    "voice",
    "webhook.incoming",
];

struct Grant {
    user: u64,
    redirect_uri: String,
    scopes: Vec<String>,
    issued: Instant,
}

struct Token {
    user: u64,
    scopes: Vec<String>,
    expires: Instant,
}

/// The OAuth2 side of the application: its secret, registered redirects and what was granted.
pub(crate) struct OAuth {
    pub client_secret: String,
    pub redirect_uris: Vec<String>,
    /// When set, `GET /oauth2/authorize` approves at once as this user (no consent page).
    pub auto_approve: Option<u64>,
    codes: HashMap<String, Grant>,
    tokens: HashMap<String, Token>,
}

impl Default for OAuth {
    fn default() -> Self {
        Self {
            client_secret: "emulator-client-secret".into(),
            redirect_uris: Vec::new(),
            auto_approve: None,
            codes: HashMap::new(),
            tokens: HashMap::new(),
        }
    }
}

impl OAuth {
    /// The user and scopes of a live access token.
    fn bearer(&self, token: &str) -> Option<(u64, &[String])> {
        self.tokens
            .get(token)
            .filter(|t| t.expires > Instant::now())
            .map(|t| (t.user, t.scopes.as_slice()))
    }
}

fn random_token() -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), 30)
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// `redirect_uri` with `params` added to its query.
fn redirect_to(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    let mut url = redirect_uri.to_owned();
    for (i, (key, value)) in params.iter().enumerate() {
        let sep = if i == 0 && !redirect_uri.contains('?') {
            '?'
        } else {
            '&'
        };
        url.push(sep);
        url.push_str(key);
        url.push('=');
        url.push_str(&encode(value));
    }
    (StatusCode::FOUND, [(header::LOCATION, url)]).into_response()
}

/// Discord shows an error page (it does not redirect) when the client or redirect URI is wrong.
fn error_page(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Html(format!(
            "<!doctype html><title>Discord</title><h1>Something went wrong</h1><p>{}</p>",
            escape_html(message)
        )),
    )
        .into_response()
}

/// An authorization request that passed the checks Discord makes before asking the user.
struct Checked {
    redirect_uri: String,
    scopes: Vec<String>,
    state: Option<String>,
}

/// Discord's checks in Discord's order. `Err` is the response to send: an error page for a
/// wrong client or redirect URI (never a redirect to an unregistered address), a redirect with
/// `error=` for the rest.
fn check(inner: &Inner, params: &HashMap<String, String>) -> Result<Checked, Box<Response>> {
    let app = inner.cfg.application_id.to_string();
    match params.get("client_id") {
        Some(id) if *id == app => {}
        Some(_) => return Err(Box::new(error_page("Unknown Application"))),
        None => return Err(Box::new(error_page("Invalid OAuth2 client_id: missing"))),
    }
    let oauth = inner.oauth.lock();
    let redirect_uri = match params.get("redirect_uri") {
        Some(uri) if oauth.redirect_uris.contains(uri) => uri.clone(),
        _ => return Err(Box::new(error_page("Invalid OAuth2 redirect_uri"))),
    };
    drop(oauth);
    let state = params.get("state").cloned();
    let fail = |error: &str, description: &str| {
        let mut query = vec![("error", error), ("error_description", description)];
        if let Some(state) = &state {
            query.push(("state", state));
        }
        redirect_to(&redirect_uri, &query)
    };
    if params.get("response_type").map(String::as_str) != Some("code") {
        return Err(Box::new(fail(
            "unsupported_response_type",
            "The authorization server does not support obtaining an authorization code using this method.",
        )));
    }
    let scopes: Vec<String> = params
        .get("scope")
        .map(|s| {
            s.split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if scopes.is_empty() || scopes.iter().any(|s| !KNOWN_SCOPES.contains(&s.as_str())) {
        return Err(Box::new(fail(
            "invalid_scope",
            "The requested scope is invalid, unknown, or malformed.",
        )));
    }
    Ok(Checked {
        redirect_uri,
        scopes,
        state,
    })
}

/// Issues a one-time code for `user` and sends the browser back to the application.
fn approve(inner: &Inner, checked: Checked, user: u64) -> Response {
    let code = random_token();
    inner.oauth.lock().codes.insert(
        code.clone(),
        Grant {
            user,
            redirect_uri: checked.redirect_uri.clone(),
            scopes: checked.scopes,
            issued: Instant::now(),
        },
    );
    let mut query = vec![("code", code.as_str())];
    if let Some(state) = &checked.state {
        query.push(("state", state));
    }
    redirect_to(&checked.redirect_uri, &query)
}

/// `GET /oauth2/authorize`: the consent page, with one button per (non-bot) user to log in as.
pub async fn authorize_page(
    State(inner): State<Arc<Inner>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let checked = match check(&inner, &params) {
        Ok(checked) => checked,
        Err(response) => return *response,
    };
    let auto = inner.oauth.lock().auto_approve;
    if let Some(user) = auto {
        return approve(&inner, checked, user);
    }
    let hidden: String = params
        .iter()
        .map(|(k, v)| {
            format!(
                r#"<input type="hidden" name="{}" value="{}">"#,
                escape_html(k),
                escape_html(v)
            )
        })
        .collect();
    let users: String = {
        let world = inner.world.lock();
        world
            .users
            .values()
            .filter(|u| !u.bot)
            .map(|u| {
                format!(
                    r#"<button type="submit" name="user_id" value="{}">Authorize as {}</button> "#,
                    u.id,
                    escape_html(&u.username)
                )
            })
            .collect()
    };
    let scopes = checked
        .scopes
        .iter()
        .map(|s| format!("<li>{}</li>", escape_html(s)))
        .collect::<String>();
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Discord: authorize</title></head>\
         <body><h1>An application wants to access your Discord account</h1>\
         <p>This is the Discord emulator: pick who you are.</p><ul>{scopes}</ul>\
         <form method=\"post\" action=\"/oauth2/authorize\">{hidden}{users}\
         <button type=\"submit\" name=\"cancel\" value=\"1\">Cancel</button></form></body></html>"
    ))
    .into_response()
}

/// `POST /oauth2/authorize`: the consent page's answer.
pub async fn authorize_submit(
    State(inner): State<Arc<Inner>>,
    Form(params): Form<HashMap<String, String>>,
) -> Response {
    let checked = match check(&inner, &params) {
        Ok(checked) => checked,
        Err(response) => return *response,
    };
    if params.contains_key("cancel") {
        let mut query = vec![
            ("error", "access_denied"),
            (
                "error_description",
                "The resource owner or authorization server denied the request",
            ),
        ];
        if let Some(state) = &checked.state {
            query.push(("state", state));
        }
        return redirect_to(&checked.redirect_uri, &query);
    }
    let user = params.get("user_id").and_then(|u| u.parse::<u64>().ok());
    let known = user.is_some_and(|u| inner.world.lock().users.get(&u).is_some_and(|u| !u.bot));
    match user {
        Some(user) if known => approve(&inner, checked, user),
        _ => error_page("Unknown user"),
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

/// The client credentials of a token request: HTTP Basic, else `client_id`/`client_secret` in
/// the form (Discord accepts both).
fn client_credentials(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Option<(String, String)> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|pair| {
            pair.split_once(':')
                .map(|(id, secret)| (id.to_owned(), secret.to_owned()))
        });
    basic.or_else(|| {
        Some((
            form.get("client_id")?.clone(),
            form.get("client_secret")?.clone(),
        ))
    })
}

/// `POST /api/v10/oauth2/token`: exchanges a code for an access token.
pub async fn token(State(inner): State<Arc<Inner>>, request: Request) -> Response {
    let headers = request.headers().clone();
    // Discord reads the form only: a JSON body has no grant type for it.
    let form = match Form::<HashMap<String, String>>::from_request(request, &()).await {
        Ok(Form(form)) => form,
        Err(_) => HashMap::new(),
    };
    let grant_type = form.get("grant_type").map_or("None", String::as_str);
    if grant_type != "authorization_code" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("Grant type {grant_type} is not supported"),
        );
    }
    let app = inner.cfg.application_id.to_string();
    let mut oauth = inner.oauth.lock();
    match client_credentials(&headers, &form) {
        Some((id, secret)) if id == app && secret == oauth.client_secret => {}
        _ => return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Invalid client"),
    }
    // A code is spent by its first exchange, even one that fails for another reason.
    let grant = form.get("code").and_then(|code| oauth.codes.remove(code));
    let Some(grant) = grant.filter(|g| g.issued.elapsed() < CODE_TTL) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid \"code\" in request.",
        );
    };
    if form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid \"redirect_uri\" in request.",
        );
    }
    let access = random_token();
    let scope = grant.scopes.join(" ");
    oauth.tokens.insert(
        access.clone(),
        Token {
            user: grant.user,
            scopes: grant.scopes,
            expires: Instant::now() + Duration::from_secs(TOKEN_TTL_SECS),
        },
    );
    Json(json!({
        "token_type": "Bearer",
        "access_token": access,
        "expires_in": TOKEN_TTL_SECS,
        "refresh_token": random_token(),
        "scope": scope,
    }))
    .into_response()
}

fn bearer_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({ "message": "401: Unauthorized", "code": 0 })),
    )
        .into_response()
}

/// The user and scopes of a request's Bearer token; `None` when the token is not valid.
fn token_user(inner: &Inner, token: &str) -> Option<(u64, Vec<String>)> {
    inner
        .oauth
        .lock()
        .bearer(token)
        .map(|(user, scopes)| (user, scopes.to_vec()))
}

/// `GET /api/v10/users/@me`: with a Bearer token, its user (needs `identify`); with the bot's
/// token, the REST emulator's answer.
pub async fn users_me(State(inner): State<Arc<Inner>>, request: Request) -> Response {
    let Some(token) = bearer_of(request.headers()) else {
        return crate::rest::handle(State(inner), request).await;
    };
    let Some((user, scopes)) = token_user(&inner, &token) else {
        return unauthorized();
    };
    if !scopes.iter().any(|s| s == "identify") {
        return unauthorized();
    }
    let mut body = inner.world.lock().user_json(user);
    if let Some(object) = body.as_object_mut() {
        object.remove("bot");
        object.insert("mfa_enabled".into(), json!(false));
        object.insert("locale".into(), json!("en-US"));
        object.insert("premium_type".into(), json!(0));
    }
    Json(body).into_response()
}

/// `GET /api/v10/users/@me/guilds`: with a Bearer token, the user's guilds (needs `guilds`).
pub async fn users_me_guilds(State(inner): State<Arc<Inner>>, request: Request) -> Response {
    let Some(token) = bearer_of(request.headers()) else {
        return crate::rest::handle(State(inner), request).await;
    };
    let Some((user, scopes)) = token_user(&inner, &token) else {
        return unauthorized();
    };
    if !scopes.iter().any(|s| s == "guilds") {
        return unauthorized();
    }
    let world = inner.world.lock();
    let guilds: Vec<Value> = world
        .guilds
        .iter()
        .filter(|(_, g)| g.members.contains_key(&user))
        .map(|(id, g)| {
            json!({ "id": id.to_string(), "name": g.name, "icon": null, "banner": null,
                    "owner": g.owner_id == user,
                    "permissions": world.base_permissions(*id, user).to_string(),
                    "features": [] })
        })
        .collect();
    drop(world);
    Json(guilds).into_response()
}
