//! Discord's rate limits as the outbox sees them: what the answers' headers and 429 bodies say,
//! and how long a route (or everything, for a global limit) must wait. Pure: the HTTP layer
//! feeds it what Discord answered and asks before each request.
//!
//! Discord documents: every answer may carry `X-RateLimit-Remaining` and
//! `X-RateLimit-Reset-After` (seconds, float) for its bucket; a 429 carries a JSON body
//! `{"message", "retry_after" (seconds, float), "global" (bool), "code"?}` and the headers
//! `Retry-After` (seconds), `X-RateLimit-Global`, `X-RateLimit-Scope` (user, global, shared).

use std::collections::{HashMap, VecDeque};

/// Requests per second the outbox allows itself. Discord's global limit is 50 per second for a
/// bot token and no header announces it; the rest is left to serenity's own calls (command
/// handlers' REST requests), which share the token.
pub const OUTBOX_REQUESTS_PER_SECOND: usize = 40;

/// What one answer said about rate limits.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    pub status: u16,
    /// `X-RateLimit-Remaining`.
    pub remaining: Option<u64>,
    /// `X-RateLimit-Reset-After`, seconds.
    pub reset_after_secs: Option<f64>,
    /// `Retry-After`, seconds.
    pub retry_after_header_secs: Option<f64>,
    /// `X-RateLimit-Global: true` or `X-RateLimit-Scope: global`.
    pub global_header: bool,
    /// The 429 body's `retry_after`, seconds.
    pub retry_after_body_secs: Option<f64>,
    /// The 429 body's `global`.
    pub global_body: bool,
}

impl Observed {
    /// For a 429: how long to wait (ms) and whether it holds every route. The body is the most
    /// precise; the headers stand in for a body that could not be read; a 429 that says
    /// nothing waits one second rather than hammering.
    pub fn rate_limit(&self) -> Option<(u64, bool)> {
        if self.status != 429 {
            return None;
        }
        let usable = |s: &f64| s.is_finite() && *s >= 0.0;
        let secs = [
            self.retry_after_body_secs,
            self.retry_after_header_secs,
            self.reset_after_secs,
        ]
        .into_iter()
        .flatten()
        .find(usable)
        .unwrap_or(1.0);
        let ms = (secs * 1000.0).ceil().min(86_400_000.0) as u64;
        Some((ms.max(1), self.global_body || self.global_header))
    }
}

/// Routes that must wait, and until when (unix ms).
#[derive(Debug, Default)]
pub struct RateLimits {
    global_until_ms: i64,
    route_until_ms: HashMap<String, i64>,
    /// When the requests of the last second were sent (unix ms), oldest first.
    sent_ms: VecDeque<i64>,
}

impl RateLimits {
    /// Asks to send a request on `route` now: `None` (and the request is counted) when it may
    /// go, else how long to wait `(ms, global)`: for the route, for a global 429, or for the
    /// outbox's own share of the global limit.
    pub fn take(&mut self, route: &str, now_ms: i64) -> Option<(u64, bool)> {
        if let Some(wait) = self.wait(route, now_ms) {
            return Some(wait);
        }
        while self.sent_ms.front().is_some_and(|t| *t <= now_ms - 1000) {
            self.sent_ms.pop_front();
        }
        if self.sent_ms.len() >= OUTBOX_REQUESTS_PER_SECOND {
            let oldest = self.sent_ms.front().copied().unwrap_or(now_ms);
            return Some((ms_between(now_ms, oldest + 1000), true));
        }
        self.sent_ms.push_back(now_ms);
        None
    }

    /// How long a request on `route` must still wait, if at all: `(ms, global)`.
    pub fn wait(&self, route: &str, now_ms: i64) -> Option<(u64, bool)> {
        if self.global_until_ms > now_ms {
            return Some((ms_between(now_ms, self.global_until_ms), true));
        }
        match self.route_until_ms.get(route) {
            Some(until) if *until > now_ms => Some((ms_between(now_ms, *until), false)),
            _ => None,
        }
    }

    /// Takes in an answer on `route`.
    pub fn observe(&mut self, route: &str, seen: &Observed, now_ms: i64) {
        if let Some((ms, global)) = seen.rate_limit() {
            let until = now_ms.saturating_add(i64::try_from(ms).unwrap_or(i64::MAX / 2));
            if global {
                self.global_until_ms = self.global_until_ms.max(until);
            } else {
                self.block(route, until);
            }
            return;
        }
        // The bucket is used up: wait for its reset instead of earning a 429.
        if let (Some(0), Some(secs)) = (seen.remaining, seen.reset_after_secs) {
            if secs.is_finite() && secs > 0.0 {
                let ms = (secs * 1000.0).ceil().min(86_400_000.0) as i64;
                self.block(route, now_ms.saturating_add(ms));
            }
        }
        // Forget routes whose wait is over, so the map stays small.
        self.route_until_ms.retain(|_, until| *until > now_ms);
    }

    fn block(&mut self, route: &str, until: i64) {
        let entry = self.route_until_ms.entry(route.to_owned()).or_insert(until);
        *entry = (*entry).max(until);
    }
}

fn ms_between(now_ms: i64, until_ms: i64) -> u64 {
    u64::try_from(until_ms - now_ms).unwrap_or(0).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outbox_keeps_under_the_global_limit_of_50_per_second_without_a_429() {
        let mut limits = RateLimits::default();
        for i in 0..OUTBOX_REQUESTS_PER_SECOND {
            let route = format!("POST /channels/{i}/messages");
            assert_eq!(limits.take(&route, 10_000), None, "request {i}");
        }
        assert_eq!(
            limits.take("POST /channels/99/messages", 10_500),
            Some((500, true)),
            "one more within the second waits for the oldest to age out"
        );
        assert_eq!(limits.take("POST /channels/99/messages", 11_000), None);
    }

    fn limited(body_secs: Option<f64>, header_secs: Option<f64>, global: bool) -> Observed {
        Observed {
            status: 429,
            retry_after_body_secs: body_secs,
            retry_after_header_secs: header_secs,
            global_body: global,
            ..Observed::default()
        }
    }

    #[test]
    fn a_429_waits_for_the_body_then_the_headers_then_one_second() {
        assert_eq!(
            limited(Some(2.345), Some(3.0), false).rate_limit(),
            Some((2_345, false))
        );
        assert_eq!(
            limited(None, Some(3.0), true).rate_limit(),
            Some((3_000, true))
        );
        assert_eq!(
            limited(None, None, false).rate_limit(),
            Some((1_000, false))
        );
        assert_eq!(
            Observed {
                status: 200,
                ..Observed::default()
            }
            .rate_limit(),
            None
        );
    }

    #[test]
    fn a_route_limit_holds_that_route_only_and_a_global_one_holds_all() {
        let mut limits = RateLimits::default();
        limits.observe(
            "POST /channels/1/messages",
            &limited(Some(2.0), None, false),
            0,
        );
        assert_eq!(
            limits.wait("POST /channels/1/messages", 500),
            Some((1_500, false))
        );
        assert_eq!(limits.wait("POST /channels/2/messages", 500), None);
        assert_eq!(limits.wait("POST /channels/1/messages", 2_000), None);
        limits.observe(
            "POST /channels/2/messages",
            &limited(Some(1.0), None, true),
            3_000,
        );
        assert_eq!(
            limits.wait("POST /channels/9/messages", 3_200),
            Some((800, true))
        );
    }

    #[test]
    fn an_exhausted_bucket_waits_for_its_reset_without_a_429() {
        let mut limits = RateLimits::default();
        let ok = |remaining| Observed {
            status: 200,
            remaining: Some(remaining),
            reset_after_secs: Some(1.5),
            ..Observed::default()
        };
        limits.observe("r", &ok(3), 0);
        assert_eq!(limits.wait("r", 0), None);
        limits.observe("r", &ok(0), 0);
        assert_eq!(limits.wait("r", 100), Some((1_400, false)));
    }

    #[test]
    fn nonsense_values_do_not_wait_forever() {
        // An unusable body falls back to the header, capped at a day.
        let (ms, _) = limited(Some(f64::INFINITY), Some(1e12), false)
            .rate_limit()
            .unwrap();
        assert_eq!(ms, 86_400_000);
        let (ms, _) = limited(Some(-5.0), None, false).rate_limit().unwrap();
        assert_eq!(ms, 1_000);
    }
}
