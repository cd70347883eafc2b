//! The one place that reads the wall clock, so everything else can be tested with a fixed `now`.
//! `clippy.toml` forbids `Utc::now()` and `SystemTime::now()` everywhere else.

use chrono::{DateTime, Utc};

/// A source of "now".
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The real clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    // The real clock is the one sanctioned reader of the wall clock (see clippy.toml).
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The current time, from the real clock.
pub fn now() -> DateTime<Utc> {
    SystemClock.now()
}

/// Current unix time in seconds (the store's time unit).
pub fn unix_now() -> i64 {
    now().timestamp()
}

/// Current unix time in milliseconds (outbox scheduling needs sub-second retries).
pub fn unix_now_ms() -> i64 {
    now().timestamp_millis()
}
