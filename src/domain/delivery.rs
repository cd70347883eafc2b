//! What to do after an attempt to deliver an outbox post: the retry policy, kept pure.

/// The result of one attempt to post a message.
#[derive(Clone, Debug, PartialEq)]
pub enum Attempt {
    /// Discord accepted the post (or had already accepted it under the same nonce).
    Delivered { message_id: u64 },
    /// Discord answered with an error status.
    Rejected {
        status: u16,
        code: Option<u64>,
        message: String,
        retry_after_secs: Option<f64>,
    },
    /// No answer: connection refused, reset, timed out.
    Network(String),
}

/// The outbox's decision after an attempt.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    Delivered {
        message_id: u64,
    },
    /// Try again at this unix time (ms), for this reason.
    RetryAt {
        at_ms: i64,
        reason: String,
    },
    /// Stop trying; the reason (with the fix where there is one) is logged and stored.
    GiveUp {
        reason: String,
    },
}

/// Retry timing, from `[outbox]` in the config.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub initial_backoff_ms: u64,
    pub max_backoff_ms: u64,
}

impl RetryPolicy {
    /// Delay before the next try after `attempts` failed attempts (1 = the first failed).
    pub fn backoff_ms(&self, attempts: u32) -> u64 {
        let doublings = attempts.saturating_sub(1).min(30);
        self.initial_backoff_ms
            .saturating_mul(1 << doublings)
            .min(self.max_backoff_ms)
    }
}

/// Decides what follows an attempt. `attempts` counts this one.
pub fn decide(attempt: &Attempt, attempts: u32, policy: &RetryPolicy, now_ms: i64) -> Decision {
    let reason = match attempt {
        Attempt::Delivered { message_id } => {
            return Decision::Delivered {
                message_id: *message_id,
            }
        }
        Attempt::Rejected {
            status: 403 | 404,
            code,
            message,
            ..
        } => {
            return Decision::GiveUp {
                reason: permanent_reason(*code, message),
            }
        }
        Attempt::Rejected {
            status,
            code,
            message,
            ..
        } if (400..500).contains(status) && *status != 429 => {
            return Decision::GiveUp {
                reason: format!(
                    "Discord rejected the post ({status}, code {}): {message}",
                    code.map_or_else(|| "none".to_owned(), |c| c.to_string())
                ),
            }
        }
        Attempt::Rejected {
            status, message, ..
        } => format!("HTTP {status}: {message}"),
        Attempt::Network(err) => format!("network error: {err}"),
    };
    if attempts >= policy.max_attempts {
        return Decision::GiveUp {
            reason: format!("gave up after {attempts} attempts; last error: {reason}"),
        };
    }
    let mut delay_ms = policy.backoff_ms(attempts);
    if let Attempt::Rejected {
        retry_after_secs: Some(secs),
        ..
    } = attempt
    {
        // Discord says when to come back; never earlier than that.
        delay_ms = delay_ms.max((secs * 1000.0).ceil() as u64);
    }
    Decision::RetryAt {
        at_ms: now_ms + i64::try_from(delay_ms).unwrap_or(i64::MAX / 2),
        reason,
    }
}

fn permanent_reason(code: Option<u64>, message: &str) -> String {
    match code {
        Some(50013) => "missing permission to post in the channel (Discord 50013); give the bot View Channel and Send Messages there, then check /config doctor".to_owned(),
        Some(50001) => "no access to the channel (Discord 50001); give the bot View Channel there".to_owned(),
        Some(10003) => "the channel no longer exists (Discord 10003); choose another with /config channel".to_owned(),
        Some(50007) => "the member does not accept direct messages (Discord 50007)".to_owned(),
        Some(code) => format!("Discord refused the post (code {code}): {message}"),
        None => format!("Discord refused the post: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: RetryPolicy = RetryPolicy {
        max_attempts: 4,
        initial_backoff_ms: 500,
        max_backoff_ms: 3_000,
    };

    fn rejected(status: u16, code: Option<u64>) -> Attempt {
        Attempt::Rejected {
            status,
            code,
            message: "x".into(),
            retry_after_secs: None,
        }
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let delays: Vec<u64> = (1..=5).map(|n| POLICY.backoff_ms(n)).collect();
        assert_eq!(delays, [500, 1_000, 2_000, 3_000, 3_000]);
    }

    #[test]
    fn server_errors_and_network_errors_are_retried() {
        assert_eq!(
            decide(&rejected(500, None), 1, &POLICY, 10_000),
            Decision::RetryAt {
                at_ms: 10_500,
                reason: "HTTP 500: x".into()
            }
        );
        assert!(matches!(
            decide(&Attempt::Network("reset".into()), 2, &POLICY, 0),
            Decision::RetryAt { at_ms: 1_000, .. }
        ));
    }

    #[test]
    fn rate_limits_wait_at_least_retry_after() {
        let attempt = Attempt::Rejected {
            status: 429,
            code: None,
            message: "slow down".into(),
            retry_after_secs: Some(2.5),
        };
        assert!(matches!(
            decide(&attempt, 1, &POLICY, 0),
            Decision::RetryAt { at_ms: 2_500, .. }
        ));
    }

    #[test]
    fn forbidden_and_not_found_give_up_with_the_fix() {
        let Decision::GiveUp { reason } = decide(&rejected(403, Some(50013)), 1, &POLICY, 0) else {
            panic!("403 must not be retried");
        };
        assert!(reason.contains("Send Messages"), "{reason}");
        assert!(matches!(
            decide(&rejected(404, Some(10003)), 1, &POLICY, 0),
            Decision::GiveUp { .. }
        ));
        assert!(matches!(
            decide(&rejected(400, Some(50035)), 1, &POLICY, 0),
            Decision::GiveUp { .. }
        ));
    }

    #[test]
    fn attempts_are_bounded() {
        assert!(matches!(
            decide(&rejected(502, None), 4, &POLICY, 0),
            Decision::GiveUp { .. }
        ));
    }
}
