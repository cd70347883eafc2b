//! The one place that reads the wall clock, so everything else can be tested with a fixed `now`.

use chrono::{DateTime, Utc};

/// A source of "now".
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The real clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Current unix time in seconds (the store's time unit).
pub fn unix_now() -> i64 {
    Utc::now().timestamp()
}

/// Current unix time in milliseconds (outbox scheduling needs sub-second retries).
pub fn unix_now_ms() -> i64 {
    Utc::now().timestamp_millis()
}
