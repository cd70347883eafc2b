//! `hearth-bench --only events` (issue 16): a guild of `--event-members` members (default
//! 10,000) and `--event-count` upcoming events (default 50) with one RSVP per member, all Going,
//! through the real `hearth run` against the emulator with Discord's rate limits on and 429s
//! injected on top. Measures:
//!
//! - scheduling: the scheduler's passes (wake-ups) while the reminders fall due, against the
//!   number of distinct due times. A pass is counted by the one statement each pass runs once,
//!   `SELECT MIN(next_run_at) FROM jobs`, which sqlx logs at debug level (`sqlx::query=debug` in
//!   the bot's log filter): no hook in the bot;
//! - memory: the bot's resident memory with no events, while every reminder is pending, and
//!   while they are sent; the store's growth per RSVP (a pending reminder is its RSVP row);
//! - delivery: wall time from the first due time until every reminder is in its event thread,
//!   against the floor Discord's limits set for the same plan (5 messages per 5 s per channel,
//!   50 requests per second); every (thread, member) reminder exactly once; the 429s answered,
//!   and how many of them the bot earned itself by exceeding a limit (not injected).
//!
//! The bench fails when a reminder is missing or doubled.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _};
use discord_emulator::{Emulator, EmulatorConfig, Fault, RateLimits};
use hearth::demo::harness::{self, BotProcess};
use serde_json::{json, Value};

use super::{peak_rss_kib, settle, Scratch};

/// How long before its event each reminder is due (the `[events] reminders` of the run).
const OFFSET_SECS: i64 = 300;
/// Manage Server, for the manager's role.
const MANAGE_GUILD: u64 = 1 << 5;
/// Injected per-route 429s on each event thread's message route, per 100 reminders there.
const ROUTE_429_PER_100: u32 = 2;
/// Injected global 429s, spread over the delivery.
const GLOBAL_429S: u32 = 5;

/// Current resident memory of a process in KiB (Linux).
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The highest resident memory seen while sampling every 100 ms for `secs`.
async fn sample_rss(pid: Option<u32>, for_: Duration) -> Option<u64> {
    let pid = pid?;
    let until = Instant::now() + for_;
    let mut max = rss_kib(pid);
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
        max = max.max(rss_kib(pid));
    }
    max
}

/// Bytes of the store on disk (the database file and its write-ahead log).
fn store_bytes(dir: &std::path::Path) -> u64 {
    ["hearth.db", "hearth.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len())
        .sum()
}

/// Lines of the bot's log that hold every one of `needles`.
fn log_count(log: &std::path::Path, needles: &[&str]) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| needles.iter().all(|n| l.contains(n)))
        .count()
}

fn unix_now() -> i64 {
    hearth::domain::clock::unix_now()
}

/// The user mentioned first in a message's content (`<@id>`).
fn mentioned(content: &str) -> Option<u64> {
    let rest = &content[content.find("<@")? + 2..];
    rest[..rest.find('>')?].parse().ok()
}

/// One event as the bench knows it.
struct BenchEvent {
    id: i64,
    /// The RSVP card's message, which is also the event thread.
    thread: u64,
    members: Vec<u64>,
}

pub async fn run(members: u64, count: u64) -> anyhow::Result<Value> {
    ensure!(
        count >= 1 && members >= count,
        "--event-members must be at least --event-count"
    );
    let per_event = usize::try_from(members / count)?;
    let count = usize::try_from(count)?;
    let emu = Emulator::start_with(EmulatorConfig {
        rate_limits: Some(RateLimits::default()),
        ..super::bench_emulator()
    })
    .await?;
    let guild = emu.add_guild("Events", hearth::domain::doctor::ALL_REQUIRED);
    let channel = emu.add_channel(guild, "events", 0);
    let staff = emu.add_role(guild, "Staff", MANAGE_GUILD);
    let manager = emu.add_user("manager", false);
    emu.add_member(guild, manager, &[staff]);
    let users: Vec<u64> = (0..per_event * count)
        .map(|i| {
            let user = emu.add_user(&format!("member{i}"), false);
            emu.add_member(guild, user, &[]);
            user
        })
        .collect();
    eprintln!(
        "events: a guild of {} members, {count} events with {per_event} Going each, one reminder \
         {OFFSET_SECS} s before each; Discord's rate limits on",
        users.len() + 1
    );

    let (dir, pool) = Scratch::store().await?;
    let reminders = format!("{OFFSET_SECS}s");
    let offsets = hearth::domain::events::parse_offsets(&reminders).map_err(anyhow::Error::msg)?;
    let offsets_text = offsets
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let extra = format!(
        "[events]\nreminders = \"{reminders}\"\n\n[log]\nfilter = \"info,hearth=debug,serenity=warn,\
         poise=warn,sqlx::query=debug\"\n"
    );
    let config = harness::write_config(dir.path(), &emu.base_url(), &extra)?;
    let hearth_exe = std::env::current_exe()?.with_file_name("hearth");
    let mut bot = BotProcess::spawn(&hearth_exe, dir.path(), &config)?;
    bot.wait_ready(1).await?;
    settle(bot.pid()).await;

    let run = |user: u64, command: &str, options: Value| {
        let handle = emu.slash_command(guild, channel, user, command, options);
        async move {
            let answer = handle.response(Duration::from_secs(30)).await?;
            anyhow::Ok(harness::visible_text(&answer.body["data"]))
        }
    };
    let purpose = hearth::domain::settings::ChannelPurpose::ALL
        .iter()
        .position(|p| p.name() == "events")
        .context("no events purpose")?;
    let set = run(
        manager,
        "config",
        json!([{ "type": 1, "name": "channel", "options": [
            { "type": 4, "name": "purpose", "value": purpose },
            { "type": 7, "name": "channel", "value": channel.to_string() }
        ]}]),
    )
    .await?;
    ensure!(set.contains(&channel.to_string()), "/config channel: {set}");

    // Memory with no events: after GUILD_CREATE and a command, nothing scheduled.
    let idle_rss = sample_rss(bot.pid(), Duration::from_secs(3)).await;

    // 50 events through `/event create`, in pairs that start in the same second where the
    // commands allow, so several events share a due time. The first reminders fall due once
    // the cards are out (5 per 5 s in the events channel) and the RSVPs are in.
    let lead = 30 + 3 * count as i64 / 2;
    let created = Instant::now();
    let mut ids = Vec::with_capacity(count);
    // A manager's pace, not a burst: serenity's own rate limiter is off against an emulator,
    // and a command that meets a 429 fails (Hearth then cancels the event and says why; the
    // bench counts it and tries again).
    let mut refused_429 = 0;
    for i in 0..count {
        let start = lead + OFFSET_SECS + 2 * (i as i64 / 2);
        let id: i64 = loop {
            let answer = run(
                manager,
                "event",
                json!([{ "type": 1, "name": "create", "options": [
                    { "type": 3, "name": "title", "value": format!("Bench event {i}") },
                    { "type": 3, "name": "start", "value": format!("in {start}s") }
                ]}]),
            )
            .await?;
            if answer.contains("429") && refused_429 < 10 {
                refused_429 += 1;
                eprintln!("/event create met a 429: {answer}");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            break answer
                .split_once("Event #")
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .and_then(|n| n.parse().ok())
                .with_context(|| format!("/event create answered: {answer}"))?;
        };
        ids.push(id);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!(
        "{count} events created in {:.1} s",
        created.elapsed().as_secs_f64()
    );
    // The cards and their threads (the thread has the card's id).
    let mut threads: HashMap<i64, u64> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(60 + 2 * count as u64);
    while threads.len() < count {
        ensure!(
            Instant::now() < deadline,
            "only {} of {count} RSVP cards with threads",
            threads.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        for card in emu.messages_in(channel) {
            let Some(id) = card["components"][0]["components"][0]["custom_id"]
                .as_str()
                .and_then(|c| c.strip_prefix(hearth::features::events::RSVP))
                .and_then(|rest| rest.split(':').next())
                .and_then(|n| n.parse::<i64>().ok())
            else {
                continue;
            };
            let message: u64 = card["id"].as_str().unwrap_or_default().parse()?;
            if emu.channel(message).is_some() {
                threads.insert(id, message);
            }
        }
    }
    let events: Vec<BenchEvent> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| BenchEvent {
            id: *id,
            thread: threads[id],
            members: users[i * per_event..(i + 1) * per_event].to_vec(),
        })
        .collect();
    eprintln!(
        "cards and threads out after {:.1} s",
        created.elapsed().as_secs_f64()
    );

    // The RSVPs. The last member of each event clicks Going on the card: the bot answers and
    // points the event's reminder job at its due time, as on any answer. Then the other
    // members' RSVPs are written with the store's API in one transaction (as many clicks
    // would leave them): the bot's process does not see them until the reminders fall due,
    // which is the design measured here. (Every RSVP has the same offset, so the job's due
    // time is the plan's from all of them; checked below.)
    for event in &events {
        let user = *event.members.last().context("no members")?;
        let custom_id = format!("{}{}:going", hearth::features::events::RSVP, event.id);
        let answer = emu
            .button_click(guild, channel, user, event.thread, &custom_id)
            .response(Duration::from_secs(30))
            .await?;
        let text = harness::visible_text(&answer.body["data"]);
        ensure!(text.contains("You're going"), "click on Going: {text}");
    }
    // Memory with the events scheduled and one RSVP each.
    let events_rss = sample_rss(bot.pid(), Duration::from_secs(5)).await;
    hearth::db::checkpoint(&pool).await?;
    let bytes_before = store_bytes(dir.path());
    let now_ms = unix_now() * 1000;
    let mut tx = pool.begin().await?;
    for event in &events {
        for (j, user) in event.members[..per_event - 1].iter().enumerate() {
            let rsvp = hearth::domain::events::Rsvp {
                user: *user,
                status: hearth::domain::events::Status::Going,
                queued_ms: now_ms + j as i64,
                offer_expires_at: None,
            };
            hearth::db::events::save_rsvp(&mut *tx, event.id, &rsvp, &offsets_text).await?;
        }
    }
    tx.commit().await?;
    hearth::db::checkpoint(&pool).await?;
    let bulk = ((per_event - 1) * count) as f64;
    let bytes_per_rsvp = store_bytes(dir.path()).saturating_sub(bytes_before) as f64 / bulk;
    let rsvps_written = (per_event * count) as u64;

    // The plan the bot works from: every reminder by due time, from the stored RSVPs.
    let mut due_times = BTreeSet::new();
    let mut planned = 0usize;
    let mut floor_secs: f64 = 0.0;
    let mut per_thread_due: Vec<(i64, u64, usize)> = Vec::new();
    for event in &events {
        let stored = hearth::db::events::by_id(&pool, event.id)
            .await?
            .context("event vanished")?;
        let wishes: Vec<hearth::domain::events::ReminderWish> =
            hearth::db::events::rsvps(&pool, event.id)
                .await?
                .iter()
                .map(|r| hearth::domain::events::ReminderWish {
                    user: r.user(),
                    status: r.rsvp().status,
                    offsets_secs: r.offsets_secs(),
                })
                .collect();
        let plan = hearth::domain::events::reminder_plan(stored.start_at, &wishes);
        for (due, reminders) in &plan {
            let (due, reminders) = (*due, reminders);
            due_times.insert(due);
            planned += reminders.len();
            per_thread_due.push((due, event.thread, reminders.len()));
        }
        let job = hearth::db::jobs::get(&pool, hearth::features::events::REMINDER_JOB, event.id)
            .await?
            .and_then(|j| j.next_run_at);
        ensure!(
            job.is_some() && job == plan.keys().next().copied(),
            "event {}: its reminder job is due at {job:?}, its plan starts at {:?}",
            event.id,
            plan.keys().next()
        );
    }
    let first_due = *due_times.first().context("no reminders planned")?;
    let last_due = *due_times.last().context("no reminders planned")?;
    // The floor Discord's limits set: each thread's messages 5 per 5 s from its due time, and
    // 50 requests per second overall.
    for (due, _, n) in &per_thread_due {
        let windows = (*n as f64 / 5.0).ceil() - 1.0;
        floor_secs = floor_secs.max((due - first_due) as f64 + windows.max(0.0) * 5.0);
    }
    floor_secs = floor_secs.max(planned as f64 / 50.0);
    let slack = first_due - unix_now();
    ensure!(
        slack > 2,
        "setup took too long: the first reminders fall due in {slack} s; raise the lead"
    );
    eprintln!(
        "{rsvps_written} RSVPs stored ({bytes_per_rsvp:.0} bytes each on disk); {planned} \
         reminders at {} distinct due times over {} s, the first in {slack} s",
        due_times.len(),
        last_due - first_due
    );

    // Memory while every reminder is pending: sampled until just before the first is due.
    let pending_rss = sample_rss(
        bot.pid(),
        Duration::from_secs(u64::try_from(slack - 1).unwrap_or(1).min(5)),
    )
    .await;
    let pending_hwm = bot.pid().and_then(peak_rss_kib);

    // 429s on top of Discord's limits: a share of per-route ones on each thread's message
    // route now, and global ones spread over the delivery.
    let mut injected_route = 0u32;
    for event in &events {
        let times = (per_event as u32 * ROUTE_429_PER_100).div_ceil(100);
        emu.inject_fault(Fault::rate_limited(
            Some("POST"),
            &format!("/channels/{}/messages", event.thread),
            1.0,
            times,
        ));
        injected_route += times;
    }

    let passes_needle = ["SELECT MIN(next_run_at) FROM jobs"];
    let passes_before = log_count(&bot.log_path, &passes_needle);
    let runs_needle = [
        "scheduled post queued",
        hearth::features::events::REMINDER_JOB,
    ];
    let runs_before = log_count(&bot.log_path, &runs_needle);

    // Wait for the first due time, then until every reminder is in its thread.
    while unix_now() < first_due {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(floor_secs * 3.0 + 300.0);
    let mut injected_global = 0u32;
    let mut delivery_rss = None;
    let mut delivered = 0usize;
    let mut last_progress = Instant::now();
    while delivered < planned && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        delivery_rss = delivery_rss.max(bot.pid().and_then(rss_kib));
        delivered = events.iter().map(|e| emu.messages_in(e.thread).len()).sum();
        // One global 429 each time another sixth of the reminders is out.
        if injected_global < GLOBAL_429S
            && delivered * (GLOBAL_429S as usize + 1) >= planned * (injected_global as usize + 1)
        {
            emu.inject_fault(Fault {
                method: Some("POST".into()),
                path_contains: "/messages".into(),
                ..Fault::global_rate_limit(1.0, 1)
            });
            injected_global += 1;
        }
        if last_progress.elapsed() >= Duration::from_secs(30) {
            eprintln!(
                "  {delivered} of {planned} reminders after {:.0} s",
                started.elapsed().as_secs_f64()
            );
            last_progress = Instant::now();
        }
    }
    let wall_secs = started.elapsed().as_secs_f64();
    // A moment for anything extra (a doubled post) to land before counting.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let passes = log_count(&bot.log_path, &passes_needle) - passes_before;
    let runs = log_count(&bot.log_path, &runs_needle) - runs_before;
    let peak_hwm = bot.pid().and_then(peak_rss_kib);

    // Every (thread, member) once.
    let mut received: HashMap<(u64, u64), usize> = HashMap::new();
    let mut not_reminders = 0usize;
    for event in &events {
        for message in emu.messages_in(event.thread) {
            let content = message["content"].as_str().unwrap_or_default();
            match mentioned(content).filter(|_| content.contains("reminder:")) {
                Some(user) => *received.entry((event.thread, user)).or_default() += 1,
                None => not_reminders += 1,
            }
        }
    }
    let expected: BTreeSet<(u64, u64)> = events
        .iter()
        .flat_map(|e| e.members.iter().map(move |u| (e.thread, *u)))
        .collect();
    let missing = expected
        .iter()
        .filter(|k| !received.contains_key(k))
        .count();
    let duplicates: usize = received.values().map(|n| n - 1).sum();
    let strays = received.keys().filter(|k| !expected.contains(k)).count();
    let thread_paths: BTreeSet<String> = threads
        .values()
        .map(|t| format!("/channels/{t}/messages"))
        .collect();
    let requests = emu.requests();
    let answered_429 = requests.iter().filter(|r| r.status == 429).count();
    let earned_429 = answered_429.saturating_sub((injected_route + injected_global) as usize);
    // Where the 429s were: (global, on an event thread's message route, elsewhere).
    let limited: Vec<&discord_emulator::RecordedRequest> =
        requests.iter().filter(|r| r.status == 429).collect();
    let global_429 = limited
        .iter()
        .filter(|r| r.response["global"] == true)
        .count();
    let cards_path = format!("/channels/{channel}/messages");
    let on_threads = limited
        .iter()
        .filter(|r| r.response["global"] != true && thread_paths.contains(&r.path))
        .count();
    let on_cards = limited
        .iter()
        .filter(|r| r.response["global"] != true && r.path.starts_with(&cards_path))
        .count();
    let elsewhere = limited.len() - global_429 - on_threads - on_cards;
    // Earned: beyond the injected ones, answered by the emulator's own limits.
    let earned_global = global_429.saturating_sub(injected_global as usize);
    let earned_route = earned_429 - earned_global.min(earned_429);
    let posts_200 = requests
        .iter()
        .filter(|r| r.method == "POST" && r.status == 200 && thread_paths.contains(&r.path))
        .count();
    let outbox = hearth::db::outbox::states_of_kind(&pool, "event-reminder").await?;
    let outbox_delivered = outbox.iter().filter(|p| p.status == "delivered").count();
    let outbox_failed = outbox.iter().filter(|p| p.status == "failed").count();
    let max_attempts = outbox.iter().map(|p| p.attempts).max().unwrap_or(0);
    let violations = emu.violations().len();
    let store_after = store_bytes(dir.path());
    bot.terminate().await?;
    pool.close().await;

    let mib = |k: Option<u64>| k.map_or(f64::NAN, |k| k as f64 / 1024.0);
    let per_reminder_bytes = match (pending_rss, events_rss) {
        (Some(p), Some(e)) => (p as f64 - e as f64) * 1024.0 / bulk,
        _ => f64::NAN,
    };
    println!(
        "{:<52} {:>14} {:>14}",
        format!("events: {planned} reminders"),
        "measured",
        "baseline"
    );
    println!(
        "{:<52} {:>14.1} {:>14.1}",
        format!("wall time, first due to all {planned} sent, s (floor)"),
        wall_secs,
        floor_secs
    );
    println!(
        "{:<52} {:>14} {:>14}",
        "scheduler wake-ups while due (distinct due times)",
        passes,
        due_times.len()
    );
    println!(
        "{:<52} {:>14} {:>14}",
        "reminder job runs that queued posts (events)", runs, count
    );
    println!(
        "{:<52} {:>14.1} {:>14.1}",
        format!("RSS, MiB: {planned} reminders pending (no events)"),
        mib(pending_rss),
        mib(idle_rss)
    );
    println!(
        "{:<52} {:>14.1} {:>14}",
        format!("  {count} events with 1 RSVP each, before the rest"),
        mib(events_rss),
        ""
    );
    println!(
        "{:<52} {:>14.0} {:>14}",
        "  growth per pending reminder, bytes", per_reminder_bytes, ""
    );
    println!(
        "{:<52} {:>14.1} {:>14.1}",
        "RSS while sending, MiB (peak of the process)",
        mib(delivery_rss),
        mib(peak_hwm)
    );
    println!(
        "{:<52} {:>14.0} {:>14}",
        "store growth per RSVP (pending reminder), bytes", bytes_per_rsvp, ""
    );
    println!(
        "{:<52} {:>14} {:>14}",
        "429s answered (injected: per-route + global)",
        answered_429,
        format!("{injected_route} + {injected_global}")
    );
    println!(
        "{:<52} {:>14} {:>14}",
        "429s the bot earned by exceeding a limit", earned_429, 0
    );
    println!(
        "  429s by place: {global_429} global ({earned_global} earned), {on_threads} on event \
         threads' routes, {on_cards} on the cards' channel, {elsewhere} elsewhere \
         ({earned_route} per-route earned in all)"
    );
    println!(
        "reminders: {} distinct (thread, member) of {} expected, {missing} missing, {duplicates} \
         duplicates, {strays} to the wrong thread, {not_reminders} other posts in the threads; \
         {posts_200} accepted POSTs; outbox: {outbox_delivered} delivered, {outbox_failed} failed, \
         at most {max_attempts} attempt(s); {violations} spec violations",
        received.len(),
        expected.len()
    );
    let report = json!({
        "members": users.len() + 1,
        "events": count,
        "event_create_refused_on_429": refused_429,
        "rsvps": rsvps_written,
        "reminders": planned,
        "offset_secs": OFFSET_SECS,
        "wall_secs": (wall_secs * 10.0).round() / 10.0,
        "floor_secs": floor_secs,
        "distinct_due_times": due_times.len(),
        "due_span_secs": last_due - first_due,
        "scheduler_wakeups": passes,
        "reminder_job_runs": runs,
        "rss_kib": { "no_events": idle_rss, "events_one_rsvp_each": events_rss, "pending": pending_rss, "pending_peak": pending_hwm,
                     "sending": delivery_rss, "process_peak": peak_hwm },
        "rss_bytes_per_pending_reminder": per_reminder_bytes.round(),
        "store_bytes_per_rsvp": bytes_per_rsvp.round(),
        "store_bytes_after_delivery": store_after,
        "received": received.len(),
        "missing": missing,
        "duplicates": duplicates,
        "wrong_thread": strays,
        "other_posts": not_reminders,
        "accepted_posts": posts_200,
        "outbox": { "delivered": outbox_delivered, "failed": outbox_failed, "max_attempts": max_attempts },
        "http_429": { "answered": answered_429, "injected_route": injected_route,
                      "injected_global": injected_global, "earned": earned_429,
                      "earned_global": earned_global, "earned_route": earned_route,
                      "global": global_429, "thread_routes": on_threads, "cards_channel": on_cards,
                      "elsewhere": elsewhere },
        "spec_violations": violations,
    });
    if missing + duplicates + strays > 0 || received.len() != planned {
        bail!(
            "events: {missing} reminders missing, {duplicates} doubled, {strays} in the wrong \
             thread (of {planned}): {report}"
        );
    }
    Ok(report)
}
