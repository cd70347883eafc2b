//! The outbox's way to Discord, through serenity's HTTP client.

use std::sync::Arc;

use serde_json::{json, Value};

use super::serenity::{self, ChannelId, MessageId, UserId};
use crate::domain::delivery::Attempt;
use crate::outbox::Sink;

pub struct DiscordSink {
    pub http: Arc<serenity::Http>,
}

/// Discord's "a thread has already been created for this message".
const THREAD_ALREADY_EXISTS: u64 = 160_004;

#[async_trait::async_trait]
impl Sink for DiscordSink {
    async fn create_message(&self, channel_id: u64, body: &Value) -> Attempt {
        let result = self
            .http
            .send_message(ChannelId::new(channel_id), Vec::new(), body)
            .await;
        attempt(result.map(|m| m.id.get()))
    }

    async fn start_thread(&self, channel_id: u64, message_id: u64, name: &str) -> Attempt {
        let body = json!({ "name": name, "auto_archive_duration": 10080 });
        let result = self
            .http
            .create_thread_from_message(
                ChannelId::new(channel_id),
                MessageId::new(message_id),
                &body,
                None,
            )
            .await;
        match attempt(result.map(|t| t.id.get())) {
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
        let result = self
            .http
            .create_forum_post(ChannelId::new(forum_id), &body, None)
            .await;
        attempt(result.map(|t| t.id.get()))
    }

    async fn reopen_thread(&self, thread_id: u64) -> Attempt {
        let body = json!({ "archived": false });
        let result = self
            .http
            .edit_thread(ChannelId::new(thread_id), &body, None)
            .await;
        attempt(result.map(|t| t.id.get()))
    }

    async fn add_thread_member(&self, thread_id: u64, user_id: u64) -> Attempt {
        let result = self
            .http
            .add_thread_channel_member(ChannelId::new(thread_id), UserId::new(user_id))
            .await;
        attempt(result.map(|()| thread_id))
    }

    async fn open_dm(&self, user_id: u64) -> Attempt {
        let body = json!({ "recipient_id": user_id.to_string() });
        let result = self.http.create_private_channel(&body).await;
        attempt(result.map(|c| c.id.get()))
    }
}

fn attempt(result: serenity::Result<u64>) -> Attempt {
    match result {
        Ok(id) => Attempt::Delivered { message_id: id },
        Err(err) => attempt_from_error(err),
    }
}

/// Classifies a serenity error for the retry policy.
pub fn attempt_from_error(err: serenity::Error) -> Attempt {
    match err {
        serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(response)) => {
            Attempt::Rejected {
                status: response.status_code.as_u16(),
                code: u64::try_from(response.error.code).ok(),
                message: response.error.message,
                retry_after_secs: None,
            }
        }
        other => Attempt::Network(other.to_string()),
    }
}

/// A one-line reason for a failed Discord call, fit to show a manager.
pub fn short_reason(err: &serenity::Error) -> String {
    match err {
        serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(r)) => match r.error.code {
            50013 => "Discord says I am missing permissions (50013)".to_owned(),
            code => format!(
                "Discord answered {} ({code}: {})",
                r.status_code.as_u16(),
                r.error.message
            ),
        },
        other => other.to_string(),
    }
}
