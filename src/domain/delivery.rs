//! What to do after an attempt to deliver an outbox post: the retry policy, kept pure.
//!
//! Three kinds of "not delivered" are told apart, because Discord means different things by them:
//! - a rate limit (429) or a step that must wait for another post is not a failure: the post
//!   waits as long as Discord (or the other post) says and the attempt is not counted;
//! - a server or network error is transient: retried with backoff for a time budget
//!   (`retry_for_ms`, hours by default), so an outage of minutes loses nothing;
//! - any other 4xx is permanent: retrying cannot help, the reason (and the fix) is recorded.

/// The result of one attempt to post a message.
#[derive(Clone, Debug, PartialEq)]
pub enum Attempt {
    /// Discord accepted the post (or had already accepted it under the same nonce).
    Delivered { message_id: u64 },
    /// Discord answered with an error status (other than 429).
    Rejected {
        status: u16,
        code: Option<u64>,
        message: String,
        retry_after_secs: Option<f64>,
    },
    /// Discord answered 429, or its rate-limit headers said the route is used up: come back
    /// after `retry_after_ms`. `global` limits hold every route, not just this one.
    RateLimited { retry_after_ms: u64, global: bool },
    /// A step depends on something not done yet (a DM's fallback thread still queued): try
    /// again later without counting an attempt.
    Deferred { retry_after_ms: u64, reason: String },
    /// No answer: connection refused, reset, timed out.
    Network(String),
}

/// The outbox's decision after an attempt.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    Delivered {
        message_id: u64,
    },
    /// A failed attempt: try again at this unix time (ms), for this reason.
    RetryAt {
        at_ms: i64,
        reason: String,
    },
    /// Not an attempt (rate limited, or waiting for another post): try again at this time.
    WaitUntil {
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
    /// A post is given up only after at least this many failed attempts...
    pub max_attempts: u32,
    pub initial_backoff_ms: u64,
    pub max_backoff_ms: u64,
    /// ...and at least this long after it was queued.
    pub retry_for_ms: u64,
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

/// What is known of the post when deciding.
#[derive(Clone, Copy, Debug)]
pub struct PostAge {
    /// Failed attempts so far, counting this one when it failed.
    pub attempts: u32,
    /// When the post was queued (unix ms).
    pub queued_at_ms: i64,
}

/// Decides what follows an attempt.
pub fn decide(attempt: &Attempt, post: PostAge, policy: &RetryPolicy, now_ms: i64) -> Decision {
    let reason = match attempt {
        Attempt::Delivered { message_id } => {
            return Decision::Delivered {
                message_id: *message_id,
            }
        }
        Attempt::RateLimited {
            retry_after_ms,
            global,
        } => {
            return Decision::WaitUntil {
                at_ms: now_ms.saturating_add(to_i64(*retry_after_ms)),
                reason: format!(
                    "rate limited{} for {retry_after_ms} ms",
                    if *global { " (global)" } else { "" }
                ),
            }
        }
        Attempt::Deferred {
            retry_after_ms,
            reason,
        } => {
            return Decision::WaitUntil {
                at_ms: now_ms.saturating_add(to_i64(*retry_after_ms)),
                reason: reason.clone(),
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
        } if (400..500).contains(status) => {
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
    let tried_for_ms = now_ms.saturating_sub(post.queued_at_ms);
    if post.attempts >= policy.max_attempts && tried_for_ms >= to_i64(policy.retry_for_ms) {
        return Decision::GiveUp {
            reason: format!(
                "gave up after {} attempts over {}; last error: {reason}",
                post.attempts,
                human_duration(tried_for_ms)
            ),
        };
    }
    let mut delay_ms = policy.backoff_ms(post.attempts);
    if let Attempt::Rejected {
        retry_after_secs: Some(secs),
        ..
    } = attempt
    {
        // Discord says when to come back; never earlier than that.
        delay_ms = delay_ms.max((secs * 1000.0).ceil() as u64);
    }
    Decision::RetryAt {
        at_ms: now_ms.saturating_add(to_i64(delay_ms)),
        reason,
    }
}

fn to_i64(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX / 2)
}

fn human_duration(ms: i64) -> String {
    let secs = ms / 1000;
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s => format!("{} h", s / 3600),
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
        retry_for_ms: 60_000,
    };

    fn rejected(status: u16, code: Option<u64>) -> Attempt {
        Attempt::Rejected {
            status,
            code,
            message: "x".into(),
            retry_after_secs: None,
        }
    }

    fn age(attempts: u32) -> PostAge {
        PostAge {
            attempts,
            queued_at_ms: 0,
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
            decide(&rejected(500, None), age(1), &POLICY, 10_000),
            Decision::RetryAt {
                at_ms: 10_500,
                reason: "HTTP 500: x".into()
            }
        );
        assert!(matches!(
            decide(&Attempt::Network("reset".into()), age(2), &POLICY, 0),
            Decision::RetryAt { at_ms: 1_000, .. }
        ));
    }

    #[test]
    fn rate_limits_wait_as_told_and_are_not_failures() {
        let limited = Attempt::RateLimited {
            retry_after_ms: 2_500,
            global: false,
        };
        // Even far past every budget, a 429 is never a reason to give up.
        assert!(matches!(
            decide(&limited, age(1_000), &POLICY, 10_000_000),
            Decision::WaitUntil {
                at_ms: 10_002_500,
                ..
            }
        ));
        let deferred = Attempt::Deferred {
            retry_after_ms: 100,
            reason: "waiting".into(),
        };
        assert!(matches!(
            decide(&deferred, age(1_000), &POLICY, 0),
            Decision::WaitUntil { at_ms: 100, .. }
        ));
    }

    #[test]
    fn a_server_error_asking_to_wait_is_honoured() {
        let attempt = Attempt::Rejected {
            status: 503,
            code: None,
            message: "slow down".into(),
            retry_after_secs: Some(2.5),
        };
        assert!(matches!(
            decide(&attempt, age(1), &POLICY, 0),
            Decision::RetryAt { at_ms: 2_500, .. }
        ));
    }

    #[test]
    fn forbidden_and_not_found_give_up_with_the_fix() {
        let Decision::GiveUp { reason } = decide(&rejected(403, Some(50013)), age(1), &POLICY, 0)
        else {
            panic!("403 must not be retried");
        };
        assert!(reason.contains("Send Messages"), "{reason}");
        assert!(matches!(
            decide(&rejected(404, Some(10003)), age(1), &POLICY, 0),
            Decision::GiveUp { .. }
        ));
        assert!(matches!(
            decide(&rejected(400, Some(50035)), age(1), &POLICY, 0),
            Decision::GiveUp { .. }
        ));
    }

    #[test]
    fn transient_errors_are_retried_for_the_whole_time_budget() {
        // Many attempts, but within the budget: keep trying.
        assert!(matches!(
            decide(&rejected(502, None), age(40), &POLICY, 59_999),
            Decision::RetryAt { .. }
        ));
        // Past the budget but with few attempts (a long backoff): keep trying.
        assert!(matches!(
            decide(&rejected(502, None), age(2), &POLICY, 600_000),
            Decision::RetryAt { .. }
        ));
        // Both spent: give up, saying how long it tried.
        let Decision::GiveUp { reason } = decide(&rejected(502, None), age(4), &POLICY, 60_000)
        else {
            panic!("both limits reached");
        };
        assert!(reason.contains("4 attempts over 60 s"), "{reason}");
    }
}
