//! The outbox's way to Discord.

use std::sync::Arc;

use super::serenity::{self, ChannelId};
use crate::domain::delivery::Attempt;
use crate::outbox::Sink;

/// Posts through serenity's HTTP client.
pub struct DiscordSink {
    pub http: Arc<serenity::Http>,
}

#[async_trait::async_trait]
impl Sink for DiscordSink {
    async fn create_message(
        &self,
        channel_id: u64,
        body: &serde_json::Value,
        _nonce: &str,
    ) -> Attempt {
        match self
            .http
            .send_message(ChannelId::new(channel_id), Vec::new(), body)
            .await
        {
            Ok(message) => Attempt::Delivered {
                message_id: message.id.get(),
            },
            Err(err) => attempt_from_error(err),
        }
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
