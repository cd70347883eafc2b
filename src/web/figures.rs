//! The figures behind the health and retention pages: the same feature code as `/stats
//! overview` and `hearth report`, shared between requests for `FRESH_FOR` (see `memo`), so a
//! room of managers opening the dashboard costs one computation, not one each.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde_json::Value;

use super::memo::Memo;
use super::Web;
use crate::domain::analytics::{CohortPeriod, Conversations, Report};
use crate::domain::connectedness::Connected;
use crate::features::events::EventReport;

/// How long figures are reused; pages say when theirs were computed.
pub const FRESH_FOR: Duration = Duration::from_secs(60);

/// A guild's days: guild, time zone, first and last day.
type Range = (u64, &'static str, NaiveDate, NaiveDate);

/// What the health page shows.
pub struct Health {
    pub report: Report,
    pub talk: Conversations,
    pub connected: Connected,
    pub events: Vec<EventReport>,
    /// `hearth report`'s `surveys` array for the range.
    pub surveys: Vec<Value>,
}

pub struct Figures {
    health: Memo<Range, Health>,
    retention: Memo<(Range, &'static str), Report>,
}

impl Default for Figures {
    fn default() -> Self {
        Self {
            health: Memo::new(FRESH_FOR),
            retention: Memo::new(FRESH_FOR),
        }
    }
}

impl Figures {
    /// The health page's figures, and when they were computed.
    pub async fn health(
        &self,
        web: &Web,
        guild_id: u64,
        tz: Tz,
        (from, to): (NaiveDate, NaiveDate),
    ) -> anyhow::Result<(Arc<Health>, Instant)> {
        let key = (guild_id, tz.name(), from, to);
        self.health
            .get(key, || async {
                let settings =
                    crate::features::settings::resolve(&web.pool, &web.config, guild_id).await?;
                let managers = web.directory.managers(guild_id, settings.manager_role);
                let (report, talk) =
                    crate::features::stats::overview(&web.pool, guild_id, tz, from, to, &managers)
                        .await?;
                let connected = crate::features::connections::connected(
                    &web.pool,
                    guild_id,
                    (from, to),
                    report.active_over_period(),
                )
                .await?;
                let (start, end) = crate::domain::schedule::days_span(from, to, tz);
                let events = crate::features::events::reports_between(
                    &web.pool,
                    &web.config,
                    guild_id,
                    start,
                    end,
                    crate::domain::clock::unix_now(),
                )
                .await?;
                let surveys =
                    crate::features::surveys::report_json(&web.pool, guild_id, tz, from, to)
                        .await?;
                anyhow::Ok(Health {
                    report,
                    talk,
                    connected,
                    events,
                    surveys: surveys.as_array().cloned().unwrap_or_default(),
                })
            })
            .await
    }

    /// The report behind the retention page (cohorts by `period`), and when it was computed.
    pub async fn retention(
        &self,
        web: &Web,
        guild_id: u64,
        tz: Tz,
        (from, to): (NaiveDate, NaiveDate),
        period: CohortPeriod,
    ) -> anyhow::Result<(Arc<Report>, Instant)> {
        let by = match period {
            CohortPeriod::Month => "month",
            CohortPeriod::IsoWeek => "week",
        };
        self.retention
            .get(((guild_id, tz.name(), from, to), by), || {
                crate::features::stats::report(&web.pool, guild_id, tz, from, to, period)
            })
            .await
    }
}

/// "computed 12 s ago" for a page's footnote.
pub fn age(computed: Instant) -> String {
    let secs = computed.elapsed().as_secs();
    if secs < 2 {
        "just computed".to_owned()
    } else {
        format!("computed {secs} s ago")
    }
}
