//! Discord's REST limits: per-route buckets and the global limit (when
//! [`crate::EmulatorConfig::rate_limits`] is on), the shapes of a 429, and the invalid-request
//! limit that gets an IP banned by Cloudflare.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Limits under load. Discord documents the mechanism, not the numbers (they "should not be
/// hard coded"): these are the commonly observed ones, tunable per test.
#[derive(Clone, Debug)]
pub struct RateLimits {
    /// Requests per window across all routes; interaction callbacks and interaction webhooks
    /// are exempt, as Discord documents.
    pub global_per_second: u32,
    /// The global limit's window (1 s at Discord; longer in tests so none straddles it).
    pub global_window_ms: u64,
    /// (operation id, requests, window in ms) per top-level resource (channel, guild, webhook).
    pub routes: Vec<(String, u32, u64)>,
    /// Every other route: requests per window in ms.
    pub default_route: (u32, u64),
}

impl Default for RateLimits {
    fn default() -> Self {
        let route = |op: &str, limit, ms| (op.to_owned(), limit, ms);
        Self {
            global_per_second: 50,
            global_window_ms: 1_000,
            routes: vec![
                route("create_message", 5, 5_000),
                route("add_my_message_reaction", 1, 250),
                route("delete_my_message_reaction", 1, 250),
                route("delete_message", 5, 1_000),
                route("add_guild_member_role", 10, 10_000),
                route("delete_guild_member_role", 10, 10_000),
            ],
            default_route: (50, 1_000),
        }
    }
}

/// One window of a bucket.
struct Window {
    start: Instant,
    count: u32,
}

impl Window {
    /// Counts a request; `Err(reset_after)` when the window is full.
    fn take(
        &mut self,
        limit: u32,
        window: Duration,
        now: Instant,
    ) -> Result<(u32, Duration), Duration> {
        if now.duration_since(self.start) >= window {
            self.start = now;
            self.count = 0;
        }
        let reset_after = window.saturating_sub(now.duration_since(self.start));
        if self.count >= limit {
            return Err(reset_after);
        }
        self.count += 1;
        Ok((limit - self.count, reset_after))
    }
}

/// A bucket's state after a request, for the `X-RateLimit-*` headers.
#[derive(Clone, Debug)]
pub struct BucketState {
    pub bucket: String,
    pub limit: u32,
    pub remaining: u32,
    pub reset_after: Duration,
}

/// Why a request is answered 429.
#[derive(Clone, Debug)]
pub struct Limited {
    pub retry_after: f64,
    pub global: bool,
    /// `user`, `global` or `shared` (`X-RateLimit-Scope`).
    pub scope: &'static str,
    pub bucket: Option<BucketState>,
}

impl Limited {
    /// Discord's 429 body.
    /// A route's bucket is used up until `reset_after`.
    fn route(bucket: String, limit: u32, reset_after: Duration) -> Self {
        Self {
            retry_after: reset_after.as_secs_f64(),
            global: false,
            scope: "user",
            bucket: Some(BucketState {
                bucket,
                limit,
                remaining: 0,
                reset_after,
            }),
        }
    }

    pub fn body(&self) -> Value {
        json!({ "message": "You are being rate limited.", "retry_after": round3(self.retry_after), "global": self.global })
    }

    /// Discord's 429 headers: `Retry-After` in whole seconds (rounded up), the scope, the
    /// bucket's headers for a per-route limit, `X-RateLimit-Global` for a global one.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            (
                "retry-after",
                format!("{}", self.retry_after.ceil().max(0.0) as u64),
            ),
            ("x-ratelimit-scope", self.scope.to_owned()),
        ];
        if self.global {
            headers.push(("x-ratelimit-global", "true".to_owned()));
        }
        if let Some(bucket) = &self.bucket {
            headers.extend(bucket_headers(bucket));
        }
        headers
    }
}

fn round3(secs: f64) -> f64 {
    (secs * 1000.0).round() / 1000.0
}

/// `X-RateLimit-Limit`, `-Remaining`, `-Reset` (epoch seconds), `-Reset-After`, `-Bucket`.
pub fn bucket_headers(state: &BucketState) -> Vec<(&'static str, String)> {
    let reset_after = state.reset_after.as_secs_f64();
    let reset = crate::world::now_ms() as f64 / 1000.0 + reset_after;
    vec![
        ("x-ratelimit-limit", state.limit.to_string()),
        ("x-ratelimit-remaining", state.remaining.to_string()),
        ("x-ratelimit-reset", format!("{reset:.3}")),
        (
            "x-ratelimit-reset-after",
            format!("{:.3}", round3(reset_after)),
        ),
        ("x-ratelimit-bucket", state.bucket.clone()),
    ]
}

/// A stable opaque bucket id for a route (FNV-1a), the same for every top-level resource.
fn bucket_id(method: &str, op: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in method.bytes().chain(op.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[derive(Default)]
pub struct Limiter {
    global: Option<Window>,
    buckets: HashMap<(String, String), Window>,
    /// When each recent invalid request (401, 403, non-shared 429) was answered.
    invalid: VecDeque<Instant>,
    banned_until: Option<Instant>,
}

impl Limiter {
    /// Counts one request of operation `op` on the top-level resource `major` against the
    /// global limit (unless exempt) and its bucket.
    pub fn take(
        &mut self,
        cfg: &RateLimits,
        method: &str,
        op: &str,
        major: &str,
        exempt_from_global: bool,
    ) -> Result<BucketState, Limited> {
        let now = Instant::now();
        let (limit, ms) = cfg
            .routes
            .iter()
            .find(|(name, _, _)| name == op)
            .map_or(cfg.default_route, |(_, l, ms)| (*l, *ms));
        let bucket = bucket_id(method, op);
        let window = self
            .buckets
            .entry((bucket.clone(), major.to_owned()))
            .or_insert(Window {
                start: now,
                count: 0,
            });
        // Peek at the bucket first: a request refused by its route does not use a global slot.
        if now.duration_since(window.start) < Duration::from_millis(ms) && window.count >= limit {
            let reset_after =
                Duration::from_millis(ms).saturating_sub(now.duration_since(window.start));
            return Err(Limited::route(bucket, limit, reset_after));
        }
        if !exempt_from_global {
            let global = self.global.get_or_insert(Window {
                start: now,
                count: 0,
            });
            if let Err(reset_after) = global.take(
                cfg.global_per_second,
                Duration::from_millis(cfg.global_window_ms),
                now,
            ) {
                return Err(Limited {
                    retry_after: reset_after.as_secs_f64(),
                    global: true,
                    scope: "global",
                    bucket: None,
                });
            }
        }
        let window = self
            .buckets
            .get_mut(&(bucket.clone(), major.to_owned()))
            .expect("inserted above");
        match window.take(limit, Duration::from_millis(ms), now) {
            Ok((remaining, reset_after)) => Ok(BucketState {
                bucket,
                limit,
                remaining,
                reset_after,
            }),
            Err(reset_after) => Err(Limited::route(bucket, limit, reset_after)),
        }
    }

    /// How long the IP stays banned, if it is.
    pub fn banned_for(&mut self) -> Option<Duration> {
        let until = self.banned_until?;
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            self.banned_until = None;
            return None;
        }
        Some(left)
    }

    /// Counts an answer toward the invalid-request limit; bans once `limit` are reached
    /// within `window`.
    pub fn count_invalid(&mut self, limit: u32, window: Duration, ban: Duration) {
        let now = Instant::now();
        while self
            .invalid
            .front()
            .is_some_and(|at| now.duration_since(*at) >= window)
        {
            self.invalid.pop_front();
        }
        self.invalid.push_back(now);
        if self.invalid.len() >= limit as usize {
            self.invalid.clear();
            self.banned_until = Some(now + ban);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_refuses_past_its_limit_and_each_channel_has_its_own() {
        let cfg = RateLimits::default();
        let mut limiter = Limiter::default();
        for left in (0..5).rev() {
            let state = limiter
                .take(&cfg, "POST", "create_message", "1", false)
                .unwrap();
            assert_eq!(state.remaining, left);
            assert_eq!(state.limit, 5);
        }
        let limited = limiter
            .take(&cfg, "POST", "create_message", "1", false)
            .unwrap_err();
        assert!(!limited.global);
        assert!(limited.retry_after > 0.0 && limited.retry_after <= 5.0);
        assert!(limiter
            .take(&cfg, "POST", "create_message", "2", false)
            .is_ok());
    }

    #[test]
    fn the_invalid_request_limit_bans() {
        let mut limiter = Limiter::default();
        let (window, ban) = (Duration::from_secs(600), Duration::from_secs(60));
        limiter.count_invalid(2, window, ban);
        assert!(limiter.banned_for().is_none());
        limiter.count_invalid(2, window, ban);
        assert!(limiter.banned_for().is_some());
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up_and_the_body_keeps_the_fraction() {
        let limited = Limited {
            retry_after: 64.57,
            global: false,
            scope: "user",
            bucket: None,
        };
        assert!(limited
            .headers()
            .contains(&("retry-after", "65".to_owned())));
        assert_eq!(limited.body()["retry_after"], 64.57);
    }
}
