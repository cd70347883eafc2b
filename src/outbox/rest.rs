//! The outbox's way to Discord: its own small HTTP client for the calls the outbox makes.
//!
//! Not serenity's client, because serenity turns an error answer into a message and drops the
//! headers, and its ratelimiter is off whenever `api_base_url` points elsewhere: a 429 then
//! arrived as "missing field `code`" with no `retry_after` (issue 23). Here every answer's
//! rate-limit headers and 429 bodies go through `domain::ratelimit`, the same way against
//! Discord and against the emulator, and a used-up route waits without a request.

use std::time::Duration;

use parking_lot::Mutex;
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{json, Value};

use super::Sink;
use crate::domain::clock::unix_now_ms;
use crate::domain::delivery::Attempt;
use crate::domain::ratelimit::{Observed, RateLimits};

/// Discord's "a thread has already been created for this message".
const THREAD_ALREADY_EXISTS: u64 = 160_004;

pub struct DiscordSink {
    client: reqwest::Client,
    /// `{origin}/api/v10`.
    api: String,
    authorization: String,
    limits: Mutex<RateLimits>,
    /// The bot's own user id, read once from `/users/@me` when first needed.
    bot_id: Mutex<Option<String>>,
}

impl DiscordSink {
    /// A client for the API at `origin` (Discord, an emulator or a proxy).
    pub fn new(origin: &str, token: &str) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .user_agent(concat!(
                "DiscordBot (https://github.com/hearth-bot/hearth, ",
                env!("CARGO_PKG_VERSION"),
                ")"
            ))
            .timeout(Duration::from_secs(30))
            .build()?;
        let token = token.trim();
        let authorization = if token.starts_with("Bot ") {
            token.to_owned()
        } else {
            format!("Bot {token}")
        };
        Ok(Self {
            client,
            api: format!("{}/api/v10", origin.trim_end_matches('/')),
            authorization,
            limits: Mutex::new(RateLimits::default()),
            bot_id: Mutex::new(None),
        })
    }

    /// The bot's user id (cached after the first successful `/users/@me`).
    async fn bot_id(&self) -> Result<String, Attempt> {
        if let Some(id) = self.bot_id.lock().clone() {
            return Ok(id);
        }
        let me = self
            .call(Method::GET, "GET /users/@me", "/users/@me", None)
            .await?;
        let id = me["id"]
            .as_str()
            .ok_or_else(|| Attempt::Network(format!("/users/@me has no id: {me}")))?
            .to_owned();
        *self.bot_id.lock() = Some(id.clone());
        Ok(id)
    }

    /// One request. `route` names the rate-limit bucket (method, path, major id). The answer's
    /// JSON on success; otherwise the attempt to report.
    async fn call(
        &self,
        method: Method,
        route: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, Attempt> {
        if let Some((ms, global)) = self.limits.lock().take(route, unix_now_ms()) {
            return Err(Attempt::RateLimited {
                retry_after_ms: ms,
                global,
            });
        }
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.api))
            .header("Authorization", &self.authorization);
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        let response = request
            .send()
            .await
            .map_err(|err| Attempt::Network(err.to_string()))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response
            .bytes()
            .await
            .map_err(|err| Attempt::Network(format!("reading the answer: {err}")))?;
        let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let seen = observed(status, &headers, &answer);
        self.limits.lock().observe(route, &seen, unix_now_ms());
        if let Some((ms, global)) = seen.rate_limit() {
            return Err(Attempt::RateLimited {
                retry_after_ms: ms,
                global,
            });
        }
        if (200..300).contains(&status) {
            return Ok(answer);
        }
        let message = answer["message"].as_str().map_or_else(
            || String::from_utf8_lossy(&bytes).chars().take(200).collect(),
            str::to_owned,
        );
        Err(Attempt::Rejected {
            status,
            code: answer["code"].as_u64(),
            message,
            retry_after_secs: seen.retry_after_header_secs,
        })
    }
}

/// What an answer says about rate limits.
fn observed(status: u16, headers: &HeaderMap, answer: &Value) -> Observed {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let number = |name: &str| header(name).and_then(|v| v.trim().parse::<f64>().ok());
    Observed {
        status,
        remaining: header("x-ratelimit-remaining").and_then(|v| v.trim().parse().ok()),
        reset_after_secs: number("x-ratelimit-reset-after"),
        retry_after_header_secs: number("retry-after"),
        global_header: header("x-ratelimit-global").is_some_and(|v| v.eq_ignore_ascii_case("true"))
            || header("x-ratelimit-scope").is_some_and(|v| v.eq_ignore_ascii_case("global")),
        retry_after_body_secs: answer["retry_after"].as_f64(),
        global_body: answer["global"].as_bool().unwrap_or(false),
    }
}

/// Whether two RFC 3339 timestamps name the same instant (Discord rewrites the offset).
fn same_instant(a: &Value, b: &Value) -> bool {
    let parse = |v: &Value| {
        v.as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
    };
    matches!((parse(a), parse(b)), (Some(a), Some(b)) if a == b)
}

/// The id of a created object.
fn id_of(answer: &Value) -> Attempt {
    match answer["id"].as_str().and_then(|id| id.parse().ok()) {
        Some(id) => Attempt::Delivered { message_id: id },
        None => Attempt::Network(format!("Discord's answer has no id: {answer}")),
    }
}

fn outcome(result: Result<Value, Attempt>) -> Attempt {
    match result {
        Ok(answer) => id_of(&answer),
        Err(attempt) => attempt,
    }
}

#[async_trait::async_trait]
impl Sink for DiscordSink {
    async fn create_message(&self, channel_id: u64, body: &Value) -> Attempt {
        let path = format!("/channels/{channel_id}/messages");
        outcome(
            self.call(Method::POST, &format!("POST {path}"), &path, Some(body))
                .await,
        )
    }

    async fn start_thread(&self, channel_id: u64, message_id: u64, name: &str) -> Attempt {
        let body = json!({ "name": name, "auto_archive_duration": 10080 });
        let path = format!("/channels/{channel_id}/messages/{message_id}/threads");
        let route = format!("POST /channels/{channel_id}/messages/:id/threads");
        match outcome(self.call(Method::POST, &route, &path, Some(&body)).await) {
            Attempt::Rejected {
                code: Some(THREAD_ALREADY_EXISTS),
                ..
            } => Attempt::Delivered { message_id },
            other => other,
        }
    }

    async fn create_forum_post(
        &self,
        forum_id: u64,
        name: &str,
        tags: &[u64],
        body: &Value,
    ) -> Attempt {
        let mut body = json!({ "name": name, "auto_archive_duration": 10080, "message": body });
        if !tags.is_empty() {
            body["applied_tags"] = json!(tags.iter().map(u64::to_string).collect::<Vec<_>>());
        }
        let path = format!("/channels/{forum_id}/threads");
        outcome(
            self.call(Method::POST, &format!("POST {path}"), &path, Some(&body))
                .await,
        )
    }

    async fn reopen_thread(&self, thread_id: u64) -> Attempt {
        let path = format!("/channels/{thread_id}");
        let body = json!({ "archived": false });
        outcome(
            self.call(Method::PATCH, &format!("PATCH {path}"), &path, Some(&body))
                .await,
        )
    }

    async fn create_private_thread(&self, channel_id: u64, name: &str) -> Attempt {
        // Members cannot invite others into a connection's thread.
        let body =
            json!({ "name": name, "type": 12, "invitable": false, "auto_archive_duration": 10080 });
        let path = format!("/channels/{channel_id}/threads");
        outcome(
            self.call(Method::POST, &format!("POST {path}"), &path, Some(&body))
                .await,
        )
    }

    async fn add_thread_member(&self, thread_id: u64, user_id: u64) -> Attempt {
        let path = format!("/channels/{thread_id}/thread-members/{user_id}");
        let route = format!("PUT /channels/{thread_id}/thread-members/:id");
        match self.call(Method::PUT, &route, &path, None).await {
            Ok(_) => Attempt::Delivered {
                message_id: thread_id,
            },
            Err(attempt) => attempt,
        }
    }

    async fn member_role(&self, guild_id: u64, user_id: u64, role_id: u64, add: bool) -> Attempt {
        let path = format!("/guilds/{guild_id}/members/{user_id}/roles/{role_id}");
        let method = if add { Method::PUT } else { Method::DELETE };
        let route = format!("{method} /guilds/{guild_id}/members/:id/roles/:id");
        match self.call(method, &route, &path, None).await {
            // 204, no body: the role is the result.
            Ok(_) => Attempt::Delivered {
                message_id: role_id,
            },
            Err(attempt) => attempt,
        }
    }

    async fn create_scheduled_event(&self, guild_id: u64, body: &Value) -> Attempt {
        let path = format!("/guilds/{guild_id}/scheduled-events");
        // A retry after a crash between Discord creating the event and the outbox recording
        // it: adopt the bot's own event with the same name and start.
        let bot = match self.bot_id().await {
            Ok(id) => id,
            Err(attempt) => return attempt,
        };
        let existing = match self
            .call(Method::GET, &format!("GET {path}"), &path, None)
            .await
        {
            Ok(list) => list,
            Err(attempt) => return attempt,
        };
        let same = existing.as_array().and_then(|events| {
            events.iter().find(|e| {
                e["name"] == body["name"]
                    && same_instant(&e["scheduled_start_time"], &body["scheduled_start_time"])
                    && e["creator_id"].as_str() == Some(bot.as_str())
            })
        });
        if let Some(event) = same {
            return id_of(event);
        }
        outcome(
            self.call(Method::POST, &format!("POST {path}"), &path, Some(body))
                .await,
        )
    }

    async fn open_dm(&self, user_id: u64) -> Attempt {
        let body = json!({ "recipient_id": user_id.to_string() });
        outcome(
            self.call(
                Method::POST,
                "POST /users/@me/channels",
                "/users/@me/channels",
                Some(&body),
            )
            .await,
        )
    }
}
