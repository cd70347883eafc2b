//! Raid guard: when more than N members join within M seconds, one summary welcome replaces
//! the per-member welcomes until joins calm down.

/// From `[welcome]` in the config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RaidPolicy {
    /// More joins than this within the window is a burst.
    pub max_joins: u32,
    pub window_secs: i64,
}

/// What to do with one join.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinMode {
    /// Welcome the member individually.
    Welcome,
    /// This join starts a burst: post one summary; the burst lasts until `until` unless more
    /// joins extend it. `started_at` identifies the burst (its summary is posted once).
    StartBurst { started_at: i64, until: i64 },
    /// Inside a burst already summarised: no individual welcome.
    InBurst { until: i64 },
}

/// Decides for a join at `now`. `joins_in_window` counts joins in `(now - window, now]`
/// including this one; `burst_until` is the end of the current burst, if one is running.
pub fn on_join(
    policy: RaidPolicy,
    joins_in_window: u32,
    burst_until: Option<i64>,
    now: i64,
) -> JoinMode {
    let until = now + policy.window_secs;
    match burst_until {
        Some(end) if end > now => JoinMode::InBurst { until },
        _ if joins_in_window > policy.max_joins => JoinMode::StartBurst {
            started_at: now,
            until,
        },
        _ => JoinMode::Welcome,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: RaidPolicy = RaidPolicy {
        max_joins: 5,
        window_secs: 30,
    };

    #[test]
    fn joins_up_to_the_limit_are_welcomed() {
        assert_eq!(on_join(POLICY, 5, None, 100), JoinMode::Welcome);
    }

    #[test]
    fn one_more_starts_a_burst_and_later_joins_extend_it() {
        assert_eq!(
            on_join(POLICY, 6, None, 100),
            JoinMode::StartBurst {
                started_at: 100,
                until: 130
            }
        );
        assert_eq!(
            on_join(POLICY, 7, Some(130), 110),
            JoinMode::InBurst { until: 140 }
        );
        // Even a slower trickle stays in the burst while it lasts.
        assert_eq!(
            on_join(POLICY, 1, Some(140), 139),
            JoinMode::InBurst { until: 169 }
        );
    }

    #[test]
    fn after_the_burst_ends_members_are_welcomed_again() {
        assert_eq!(on_join(POLICY, 1, Some(140), 140), JoinMode::Welcome);
    }
}
