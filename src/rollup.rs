//! Materialises finished days (product §6: reports over years of history stay fast; today is
//! live). A local day is materialised once it has ended and settled: its members' counts go to
//! `member_days`, its DAU/WAU/MAU and messages to `guild_days`, each day in one transaction
//! with the progress mark, so an interrupted run resumes where it stopped. Older history
//! arriving (an import) rewinds the mark; a time zone change starts over.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use tokio::sync::Mutex;
use tracing::info;

use crate::db::{self, rollup::GuildDay, Pool};
use crate::domain::analytics::{self, date_of, day_number, ActiveByDay};

/// A day is final this long after it ends: the activity writer holds records for at most a
/// fraction of a second, and a Discord event can arrive a little after its timestamp.
pub const SETTLE_SECS: i64 = 300;

/// One refresh at a time in this process (the scheduler and a report may both ask).
static REFRESH: Mutex<()> = Mutex::const_new(());

/// The first instant of a local day.
pub fn start_of(day: NaiveDate, tz: Tz) -> i64 {
    crate::domain::schedule::resolve(day.and_hms_opt(0, 0, 0).unwrap_or_default(), tz).timestamp()
}

/// The last local day that has ended and settled at `now`.
pub fn last_final_day(now: DateTime<Utc>, tz: Tz) -> NaiveDate {
    let today = now.with_timezone(&tz).date_naive();
    if now.timestamp() >= start_of(today, tz) + SETTLE_SECS {
        today - Duration::days(1)
    } else {
        today - Duration::days(2)
    }
}

/// Materialises every settled day not materialised yet; returns the first day that is not
/// (from it on, reports read the raw records).
pub async fn refresh(
    pool: &Pool,
    guild_id: u64,
    tz: Tz,
    now: DateTime<Utc>,
) -> anyhow::Result<NaiveDate> {
    let _only_one = REFRESH.lock().await;
    let last = last_final_day(now, tz);
    let first = match db::rollup::state(pool, guild_id).await? {
        Some(state) if state.timezone == tz.name() => date_of(state.done_until),
        previous => {
            // New, or the time zone changed: every day boundary moved.
            let first = match db::rollup::earliest_activity(pool, guild_id).await? {
                Some(at) => local_day(at, tz),
                None => last + Duration::days(1),
            };
            if previous.is_some() {
                info!(
                    guild_id,
                    timezone = tz.name(),
                    "time zone changed; materialising days again"
                );
            }
            db::rollup::reset(pool, guild_id, tz.name(), day_number(first)).await?;
            first
        }
    };
    if first > last {
        return Ok(first);
    }
    let started = std::time::Instant::now();
    // The 29 days before `first`, for WAU/MAU; the window slides as days are added.
    let mut active = ActiveByDay::new();
    for (user, d) in db::rollup::active_days(
        pool,
        guild_id,
        day_number(first) - 29,
        day_number(first) - 1,
    )
    .await?
    {
        active.entry(date_of(d)).or_default().insert(user);
    }
    for d in analytics::days(first, last) {
        let mut tx = pool.begin().await?;
        let members = db::rollup::materialise_day(
            &mut tx,
            guild_id,
            day_number(d),
            start_of(d, tz),
            start_of(d + Duration::days(1), tz),
        )
        .await?;
        let messages: i64 = members.iter().map(|(_, m)| m).sum();
        active.insert(d, members.into_iter().map(|(u, _)| u).collect());
        active.retain(|day, _| *day > d - Duration::days(30));
        let (dau, wau, mau) = analytics::window_counts(&active, d);
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        let figures = GuildDay {
            day: day_number(d),
            dau: count(dau),
            wau: count(wau),
            mau: count(mau),
            messages,
        };
        db::rollup::finish_day(&mut tx, guild_id, tz.name(), figures).await?;
        tx.commit().await?;
    }
    let days = (last - first).num_days() + 1;
    info!(
        guild_id,
        days,
        ms = started.elapsed().as_millis() as u64,
        "days materialised"
    );
    Ok(last + Duration::days(1))
}

/// Older records arrived (an import): days from the one holding `earliest` on are
/// materialised again at the next refresh.
pub async fn rewind(pool: &Pool, guild_id: u64, earliest: i64) -> anyhow::Result<()> {
    let _only_one = REFRESH.lock().await;
    if let Some(state) = db::rollup::state(pool, guild_id).await? {
        let tz: Tz = state.timezone.parse().unwrap_or(Tz::UTC);
        db::rollup::rewind(pool, guild_id, day_number(local_day(earliest, tz))).await?;
    }
    Ok(())
}

fn local_day(at: i64, tz: Tz) -> NaiveDate {
    DateTime::from_timestamp(at, 0)
        .unwrap_or_default()
        .with_timezone(&tz)
        .date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_day_is_final_once_it_has_settled() {
        let tz: Tz = "Europe/Paris".parse().unwrap();
        let at = |h, m| {
            tz.with_ymd_and_hms(2026, 3, 10, h, m, 0)
                .unwrap()
                .with_timezone(&Utc)
        };
        let day = |d| NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
        assert_eq!(last_final_day(at(0, 2), tz), day(8));
        assert_eq!(last_final_day(at(0, 5), tz), day(9));
        assert_eq!(last_final_day(at(23, 0), tz), day(9));
    }
}
