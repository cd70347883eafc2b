//! The store modules the end-to-end scenarios cover only from the outside (`db::welcome`,
//! `db::prompts`, `db::jobs`, `db::ama`, `db::feedback`), against a real SQLite file: what each
//! call writes, what a replay does (unique keys, dedup keys, "the earliest wins"), what a
//! transaction leaves when it fails, and what the next start reads back.

mod support;

use hearth::db::{
    self, ama, feedback, jobs,
    outbox::NewPost,
    prompts::{self, NewPrompt},
    welcome::{self, Join, Membership, WelcomeSettings, WelcomeStep},
};
use serde_json::json;

const GUILD: u64 = 1_000_000_000_000_000_001;
const OTHER_GUILD: u64 = 2;
const T: i64 = 1_700_000_000;

fn join(user_id: u64, joined_at: i64) -> Join {
    Join {
        guild_id: GUILD,
        user_id,
        joined_at,
        pending: false,
        welcomed: false,
    }
}

async fn apply(pool: &db::Pool, changes: &[Membership]) {
    let mut conn = pool.acquire().await.unwrap();
    welcome::apply(&mut conn, changes).await.unwrap();
}

/// `members.left_at`, which no store function reads back on its own (the rollup uses it).
async fn left_at(pool: &db::Pool, user_id: u64) -> Option<i64> {
    sqlx::query_scalar("SELECT left_at FROM members WHERE guild_id = $1 AND user_id = $2")
        .bind(db::to_sql_id(GUILD))
        .bind(db::to_sql_id(user_id))
        .fetch_one(pool)
        .await
        .unwrap()
}

fn post(dedup_key: &str) -> NewPost {
    NewPost {
        guild_id: GUILD,
        channel_id: 10,
        kind: "welcome".into(),
        dedup_key: dedup_key.into(),
        body: json!({"content": "Welcome!"}),
        not_before_ms: None,
    }
}

// ---- db::welcome ----

#[tokio::test]
async fn welcome_switches_default_until_set_and_survive_a_restart() {
    let (dir, pool) = support::temp_store().await;
    assert_eq!(
        welcome::settings(&pool, GUILD).await.unwrap(),
        WelcomeSettings::default(),
        "a guild never configured reads the defaults"
    );
    assert!(WelcomeSettings::default().intro_thread && !WelcomeSettings::default().enabled);

    // The guild row does not exist yet: setting the switches creates it.
    welcome::set_switches(&pool, GUILD, true, true, false, T)
        .await
        .unwrap();
    welcome::set_burst(&pool, GUILD, T, T + 60).await.unwrap();
    let expected = WelcomeSettings {
        enabled: true,
        dm: true,
        intro_thread: false,
        burst_started_at: Some(T),
        burst_until: Some(T + 60),
    };
    assert_eq!(welcome::settings(&pool, GUILD).await.unwrap(), expected);
    assert!(db::knows_guild(&pool, GUILD).await.unwrap());

    let pool = support::restart(&dir, pool).await;
    assert_eq!(welcome::settings(&pool, GUILD).await.unwrap(), expected);
    assert_eq!(
        welcome::settings(&pool, OTHER_GUILD).await.unwrap(),
        WelcomeSettings::default(),
        "another guild is untouched"
    );
}

#[tokio::test]
async fn welcome_templates_are_kept_per_guild_in_order_and_removed_once() {
    let (_dir, pool) = support::temp_store().await;
    let first = welcome::add_template(&pool, GUILD, "Hi {user}!", 7, T)
        .await
        .unwrap();
    let second = welcome::add_template(&pool, GUILD, "Hello {user}", 8, T + 1)
        .await
        .unwrap();
    let elsewhere = welcome::add_template(&pool, OTHER_GUILD, "Hey", 9, T)
        .await
        .unwrap();
    let bodies: Vec<String> = welcome::templates(&pool, GUILD)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.body)
        .collect();
    assert_eq!(bodies, ["Hi {user}!", "Hello {user}"]);

    assert!(
        !welcome::remove_template(&pool, GUILD, elsewhere)
            .await
            .unwrap(),
        "another guild's template is not this guild's to remove"
    );
    assert!(welcome::remove_template(&pool, GUILD, first).await.unwrap());
    assert!(
        !welcome::remove_template(&pool, GUILD, first).await.unwrap(),
        "removing twice removes once"
    );
    let left: Vec<i64> = welcome::templates(&pool, GUILD)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(left, [second]);
    assert_eq!(
        welcome::templates(&pool, OTHER_GUILD).await.unwrap().len(),
        1
    );
}

#[tokio::test]
async fn a_replayed_join_is_stored_once_and_keeps_its_welcome_state() {
    let (dir, pool) = support::temp_store().await;
    apply(&pool, &[Membership::Joined(join(5, T))]).await;
    welcome::mark_join(&pool, GUILD, 5, T, false, true)
        .await
        .unwrap();
    // The gateway replays the join after a RESUME, not yet marked welcomed.
    apply(&pool, &[Membership::Joined(join(5, T))]).await;
    let row = welcome::join_row(&pool, GUILD, 5, T)
        .await
        .unwrap()
        .unwrap();
    assert!(row.welcomed, "the replay did not undo the welcome");
    assert_eq!(
        welcome::joins_between(&pool, GUILD, T - 1, T)
            .await
            .unwrap(),
        1
    );

    // A later join of the same member is a second join event.
    apply(&pool, &[Membership::Joined(join(5, T + 100))]).await;
    let latest = welcome::latest_join(&pool, GUILD, 5)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((latest.joined_at, latest.welcomed), (T + 100, false));
    assert_eq!(
        welcome::activation(&pool, GUILD, 5).await.unwrap(),
        Some((Some(T), None)),
        "the first join stays the first"
    );

    let pool = support::restart(&dir, pool).await;
    assert!(
        welcome::join_row(&pool, GUILD, 5, T)
            .await
            .unwrap()
            .unwrap()
            .welcomed
    );
    assert_eq!(
        welcome::latest_join(&pool, GUILD, 5)
            .await
            .unwrap()
            .map(|j| j.joined_at),
        Some(T + 100)
    );
}

#[tokio::test]
async fn joins_between_counts_the_half_open_window() {
    let (_dir, pool) = support::temp_store().await;
    let joins: Vec<Membership> = (0..5)
        .map(|i| Membership::Joined(join(10 + i, T + i64::try_from(i).unwrap() * 10)))
        .collect();
    apply(&pool, &joins).await;
    // Joins at T, T+10, ..., T+40; the window is (since, until].
    assert_eq!(
        welcome::joins_between(&pool, GUILD, T, T + 40)
            .await
            .unwrap(),
        4
    );
    assert_eq!(
        welcome::joins_between(&pool, GUILD, T - 1, T)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        welcome::joins_between(&pool, OTHER_GUILD, 0, T + 100)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn a_leave_counts_unless_the_member_joined_again_later_in_whatever_order_they_arrive() {
    let (_dir, pool) = support::temp_store().await;
    // Left, then (arriving later) an older join: the leave stands.
    apply(
        &pool,
        &[
            Membership::Left {
                guild_id: GUILD,
                user_id: 1,
                at: T + 10,
            },
            Membership::Joined(join(1, T)),
        ],
    )
    .await;
    assert_eq!(left_at(&pool, 1).await, Some(T + 10));

    // A rejoin after the leave clears it, whichever of the two is written first.
    apply(&pool, &[Membership::Joined(join(1, T + 20))]).await;
    assert_eq!(left_at(&pool, 1).await, None);
    apply(
        &pool,
        &[
            Membership::Joined(join(2, T + 20)),
            Membership::Left {
                guild_id: GUILD,
                user_id: 2,
                at: T + 10,
            },
        ],
    )
    .await;
    assert_eq!(left_at(&pool, 2).await, None, "a stale leave");

    // Within one second the leave wins, in both orders.
    apply(
        &pool,
        &[
            Membership::Joined(join(3, T)),
            Membership::Left {
                guild_id: GUILD,
                user_id: 3,
                at: T,
            },
        ],
    )
    .await;
    apply(
        &pool,
        &[
            Membership::Left {
                guild_id: GUILD,
                user_id: 4,
                at: T,
            },
            Membership::Joined(join(4, T)),
        ],
    )
    .await;
    assert_eq!(left_at(&pool, 3).await, Some(T));
    assert_eq!(left_at(&pool, 4).await, Some(T));
}

#[tokio::test]
async fn known_joins_and_first_messages_keep_the_earliest_time() {
    let (dir, pool) = support::temp_store().await;
    let mut conn = pool.acquire().await.unwrap();
    // Two times for one member in one batch: one row, the earliest.
    welcome::record_known_joins(&mut conn, &[(GUILD, 1, T + 50), (GUILD, 1, T + 20)])
        .await
        .unwrap();
    welcome::record_first_messages(&mut conn, &[(GUILD, 1, T + 90), (GUILD, 1, T + 60)])
        .await
        .unwrap();
    assert_eq!(
        welcome::activation(&mut *conn, GUILD, 1).await.unwrap(),
        Some((Some(T + 20), Some(T + 60)))
    );
    // Later reports never move them forward; an earlier one moves them back.
    welcome::record_known_joins(&mut conn, &[(GUILD, 1, T + 30)])
        .await
        .unwrap();
    welcome::record_first_messages(&mut conn, &[(GUILD, 1, T + 70)])
        .await
        .unwrap();
    assert_eq!(
        welcome::activation(&mut *conn, GUILD, 1).await.unwrap(),
        Some((Some(T + 20), Some(T + 60)))
    );
    welcome::record_known_joins(&mut conn, &[(GUILD, 1, T + 5)])
        .await
        .unwrap();
    welcome::record_first_messages(&mut conn, &[(GUILD, 1, T + 6)])
        .await
        .unwrap();
    // A join event later than the known join does not move the first join either.
    welcome::record_joins(&mut conn, &[join(1, T + 40)])
        .await
        .unwrap();
    drop(conn);

    let pool = support::restart(&dir, pool).await;
    assert_eq!(
        welcome::activation(&pool, GUILD, 1).await.unwrap(),
        Some((Some(T + 5), Some(T + 6)))
    );
    assert_eq!(welcome::activation(&pool, GUILD, 2).await.unwrap(), None);
}

#[tokio::test]
async fn a_welcome_is_committed_whole_once_and_a_replay_queues_nothing_new() {
    let (dir, pool) = support::temp_store().await;
    // The guild's row exists from its GUILD_CREATE on (the burst is a column of it).
    db::guilds::upsert_seen(&pool, GUILD, T * 1000)
        .await
        .unwrap();
    let posts = [
        (post("welcome:1:5:0"), "nonce-a".to_owned()),
        (post("greeting:1:5:0"), "nonce-b".to_owned()),
    ];
    let step = WelcomeStep {
        join: join(5, T),
        posts: &posts,
        burst: Some((T, T + 30)),
    };
    welcome::commit_welcome(&pool, &step, T * 1000)
        .await
        .unwrap();
    assert!(
        welcome::join_row(&pool, GUILD, 5, T)
            .await
            .unwrap()
            .unwrap()
            .welcomed
    );
    assert_eq!(db::outbox::pending_count(&pool).await.unwrap(), 2);
    let settings = welcome::settings(&pool, GUILD).await.unwrap();
    assert_eq!(
        (settings.burst_started_at, settings.burst_until),
        (Some(T), Some(T + 30))
    );

    // After a restart the same welcome is made again (say the commit's answer was lost): the
    // posts' dedup keys keep them single.
    let pool = support::restart(&dir, pool).await;
    welcome::commit_welcome(&pool, &step, T * 1000 + 5)
        .await
        .unwrap();
    assert_eq!(db::outbox::pending_count(&pool).await.unwrap(), 2);
}

#[tokio::test]
async fn a_welcome_that_fails_halfway_leaves_nothing() {
    let (_dir, pool) = support::temp_store().await;
    db::guilds::upsert_seen(&pool, GUILD, T * 1000)
        .await
        .unwrap();
    // The second post cannot be written: the transaction must take the join back with it.
    support::refuse_inserts(&pool, "outbox", "NEW.dedup_key = 'second'").await;
    let posts = [
        (post("first"), "n1".to_owned()),
        (post("second"), "n2".to_owned()),
    ];
    let step = WelcomeStep {
        join: join(5, T),
        posts: &posts,
        burst: Some((T, T + 30)),
    };
    welcome::commit_welcome(&pool, &step, T * 1000)
        .await
        .unwrap_err();
    assert_eq!(welcome::join_row(&pool, GUILD, 5, T).await.unwrap(), None);
    assert_eq!(db::outbox::pending_count(&pool).await.unwrap(), 0);
    assert_eq!(welcome::activation(&pool, GUILD, 5).await.unwrap(), None);
    assert_eq!(
        welcome::settings(&pool, GUILD).await.unwrap().burst_until,
        None
    );
}

#[tokio::test]
async fn intro_threads_and_interests_are_kept_per_member_and_interests_can_be_forgotten() {
    let (dir, pool) = support::temp_store().await;
    assert_eq!(welcome::intro_thread(&pool, GUILD, 5).await.unwrap(), None);
    welcome::set_intro_thread(&pool, GUILD, 5, 500)
        .await
        .unwrap();
    welcome::set_intro_thread(&pool, GUILD, 5, 501)
        .await
        .unwrap();
    welcome::set_interests(&pool, GUILD, 5, Some("rust, chess"), T)
        .await
        .unwrap();
    welcome::set_interests(&pool, GUILD, 5, Some("rust"), T + 1)
        .await
        .unwrap();
    welcome::set_interests(&pool, GUILD, 6, Some("go"), T)
        .await
        .unwrap();

    let pool = support::restart(&dir, pool).await;
    assert_eq!(
        welcome::intro_thread(&pool, GUILD, 5).await.unwrap(),
        Some(501)
    );
    assert_eq!(
        welcome::interests(&pool, GUILD, 5)
            .await
            .unwrap()
            .as_deref(),
        Some("rust")
    );
    welcome::set_interests(&pool, GUILD, 5, None, T + 2)
        .await
        .unwrap();
    assert_eq!(welcome::interests(&pool, GUILD, 5).await.unwrap(), None);
    assert_eq!(
        welcome::interests(&pool, GUILD, 6)
            .await
            .unwrap()
            .as_deref(),
        Some("go"),
        "only that member's interests are forgotten"
    );
    assert_eq!(
        welcome::intro_thread(&pool, GUILD, 5).await.unwrap(),
        Some(501),
        "the intro thread is kept for life"
    );
}

// ---- db::prompts and db::jobs ----

fn prompt(guild_id: u64, theme: &str) -> NewPrompt {
    NewPrompt {
        guild_id,
        theme: theme.into(),
        channel_id: 20,
        schedule_kind: "weekly".into(),
        days: Some("mon,thu".into()),
        time_of_day: Some("09:00".into()),
        cron: None,
        late_within_secs: Some(3600),
        text: None,
        thread: true,
        poll: Some("Yes|No".into()),
        author_id: 3,
        paused: false,
    }
}

#[tokio::test]
async fn prompts_read_back_as_written_and_belong_to_their_guild() {
    let (dir, pool) = support::temp_store().await;
    let goals = prompts::insert_prompt(&pool, &prompt(GUILD, "Goals"), T)
        .await
        .unwrap();
    let wins = prompts::insert_prompt(&pool, &prompt(GUILD, "Wins"), T)
        .await
        .unwrap();
    let theirs = prompts::insert_prompt(&pool, &prompt(OTHER_GUILD, "Theirs"), T)
        .await
        .unwrap();

    let row = prompts::prompt(&pool, GUILD, goals).await.unwrap().unwrap();
    assert_eq!(
        (row.guild(), row.channel(), row.author()),
        (GUILD, 20, 3),
        "ids above i64::MAX survive the round trip"
    );
    assert_eq!(row.theme, "Goals");
    assert_eq!(row.days.as_deref(), Some("mon,thu"));
    assert_eq!(row.late_within_secs, Some(3600));
    assert_eq!(row.poll.as_deref(), Some("Yes|No"));
    assert!(row.thread && !row.paused);
    assert_eq!(prompts::prompt(&pool, GUILD, theirs).await.unwrap(), None);
    assert!(!prompts::set_paused(&pool, GUILD, theirs, true)
        .await
        .unwrap());

    assert!(prompts::set_paused(&pool, GUILD, wins, true).await.unwrap());
    let pool = support::restart(&dir, pool).await;
    let listed: Vec<(String, bool)> = prompts::prompts(&pool, GUILD)
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.theme, p.paused))
        .collect();
    assert_eq!(listed, [("Goals".into(), false), ("Wins".into(), true)]);
}

#[tokio::test]
async fn a_prompt_bank_marks_a_cycle_and_goes_with_its_prompt() {
    let (_dir, pool) = support::temp_store().await;
    let id = prompts::insert_prompt(&pool, &prompt(GUILD, "Goals"), T)
        .await
        .unwrap();
    let a = prompts::add_bank_text(&pool, id, "A?").await.unwrap();
    let b = prompts::add_bank_text(&pool, id, "B?").await.unwrap();
    let c = prompts::add_bank_text(&pool, id, "C?").await.unwrap();
    let used = |bank: Vec<prompts::BankText>| -> Vec<(String, bool)> {
        bank.into_iter().map(|t| (t.text, t.used)).collect()
    };

    prompts::set_bank_used(&pool, id, &[a, c]).await.unwrap();
    assert_eq!(
        used(prompts::bank(&pool, id).await.unwrap()),
        [
            ("A?".into(), true),
            ("B?".into(), false),
            ("C?".into(), true)
        ]
    );
    // A new cycle: nothing used.
    prompts::set_bank_used(&pool, id, &[]).await.unwrap();
    assert!(prompts::bank(&pool, id)
        .await
        .unwrap()
        .iter()
        .all(|t| !t.used));

    assert!(prompts::remove_bank_text(&pool, id, b).await.unwrap());
    assert!(!prompts::remove_bank_text(&pool, id, b).await.unwrap());
    assert!(
        !prompts::remove_bank_text(&pool, id + 1, a).await.unwrap(),
        "a text is removed only through its prompt"
    );

    jobs::upsert(&pool, GUILD, "prompt", id, Some(T + 60))
        .await
        .unwrap();
    assert!(prompts::remove_prompt(&pool, GUILD, id).await.unwrap());
    assert_eq!(jobs::get(&pool, "prompt", id).await.unwrap(), None);
    assert!(
        prompts::bank(&pool, id).await.unwrap().is_empty(),
        "the bank goes with its prompt"
    );
    assert!(!prompts::remove_prompt(&pool, GUILD, id).await.unwrap());
}

#[tokio::test]
async fn removing_another_guilds_prompt_changes_nothing() {
    let (_dir, pool) = support::temp_store().await;
    let id = prompts::insert_prompt(&pool, &prompt(OTHER_GUILD, "Theirs"), T)
        .await
        .unwrap();
    jobs::upsert(&pool, OTHER_GUILD, "prompt", id, Some(T))
        .await
        .unwrap();
    assert!(!prompts::remove_prompt(&pool, GUILD, id).await.unwrap());
    assert!(prompts::prompt(&pool, OTHER_GUILD, id)
        .await
        .unwrap()
        .is_some());
    // The job goes with a removed prompt only: one guild's command cannot cancel another's.
    assert!(
        jobs::get(&pool, "prompt", id).await.unwrap().is_some(),
        "another guild's job is kept"
    );
}

#[tokio::test]
async fn jobs_are_one_per_target_and_a_due_run_is_claimed_once() {
    let (dir, pool) = support::temp_store().await;
    jobs::upsert(&pool, GUILD, "prompt", 1, Some(T + 100))
        .await
        .unwrap();
    jobs::upsert(&pool, GUILD, "prompt", 1, Some(T + 50))
        .await
        .unwrap();
    jobs::insert_if_missing(&pool, GUILD, "prompt", 1, Some(T + 999))
        .await
        .unwrap();
    let job = jobs::get(&pool, "prompt", 1).await.unwrap().unwrap();
    assert_eq!(
        job.next_run_at,
        Some(T + 50),
        "upsert moves the run, insert_job_if_missing leaves it"
    );
    jobs::insert_if_missing(&pool, GUILD, "monthly", 1, Some(T + 10))
        .await
        .unwrap();
    jobs::upsert(&pool, OTHER_GUILD, "prompt", 2, Some(T + 20))
        .await
        .unwrap();
    jobs::upsert(&pool, GUILD, "prompt", 3, None).await.unwrap();

    assert_eq!(jobs::next_run(&pool).await.unwrap(), Some(T + 10));
    let due: Vec<i64> = jobs::due(&pool, "prompt", T + 60)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.target_id)
        .collect();
    assert_eq!(
        due,
        [2, 1],
        "due prompts, earliest first; never the one without a run"
    );
    let kinds: Vec<(String, i64)> = jobs::of_guild(&pool, GUILD)
        .await
        .unwrap()
        .into_iter()
        .map(|(kind, target, _)| (kind, target))
        .collect();
    assert_eq!(kinds.len(), 3, "{kinds:?}");

    // Two schedulers see the same due run: one claim wins.
    assert!(jobs::advance(&pool, job.id, T + 50, Some(T + 86_400))
        .await
        .unwrap());
    assert!(!jobs::advance(&pool, job.id, T + 50, Some(T + 86_400))
        .await
        .unwrap());

    let pool = support::restart(&dir, pool).await;
    assert_eq!(
        jobs::get(&pool, "prompt", 1)
            .await
            .unwrap()
            .unwrap()
            .next_run_at,
        Some(T + 86_400),
        "the next start sees the advanced run, so the run is not made again"
    );
    assert!(jobs::due(&pool, "prompt", T + 60)
        .await
        .unwrap()
        .iter()
        .all(|j| j.target_id != 1));
}

// ---- db::ama ----

#[tokio::test]
async fn amas_are_listed_newest_first_and_close_once() {
    let (dir, pool) = support::temp_store().await;
    let early = ama::create(&pool, GUILD, "Early", 7, 30, T + 100, T + 200, T)
        .await
        .unwrap();
    let late = ama::create(&pool, GUILD, "Late", 7, 30, T + 1000, T + 2000, T)
        .await
        .unwrap();
    let theirs = ama::create(&pool, OTHER_GUILD, "Theirs", 7, 30, T, T + 1, T)
        .await
        .unwrap();
    ama::set_event(&pool, early, 900).await.unwrap();

    let titles: Vec<String> = ama::list(&pool, GUILD)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.title)
        .collect();
    assert_eq!(titles, ["Late", "Early"]);
    assert_eq!(ama::get(&pool, GUILD, theirs).await.unwrap(), None);

    assert!(ama::close(&pool, late).await.unwrap());
    assert!(!ama::close(&pool, late).await.unwrap(), "closed once");

    let pool = support::restart(&dir, pool).await;
    let early = ama::get(&pool, GUILD, early).await.unwrap().unwrap();
    assert_eq!((early.event_id, early.status.as_str()), (Some(900), "open"));
    let late = ama::get(&pool, GUILD, late).await.unwrap().unwrap();
    assert_eq!(late.status, "closed");
}

#[tokio::test]
async fn votes_toggle_per_member_and_order_the_questions() {
    let (dir, pool) = support::temp_store().await;
    let id = ama::create(&pool, GUILD, "AMA", 7, 30, T + 100, T + 200, T)
        .await
        .unwrap();
    let first = ama::ask(&pool, id, 11, false, "First?", T).await.unwrap();
    let second = ama::ask(&pool, id, 12, true, "Second?", T + 1)
        .await
        .unwrap();

    assert_eq!(
        ama::toggle_vote(&pool, second, 21).await.unwrap(),
        (true, 1)
    );
    assert_eq!(
        ama::toggle_vote(&pool, second, 22).await.unwrap(),
        (true, 2)
    );
    assert_eq!(ama::toggle_vote(&pool, first, 21).await.unwrap(), (true, 1));
    assert_eq!(
        ama::toggle_vote(&pool, second, 22).await.unwrap(),
        (false, 1),
        "voting again takes the vote back"
    );
    assert_eq!(
        ama::toggle_vote(&pool, second, 22).await.unwrap(),
        (true, 2)
    );

    let order: Vec<(i64, i64)> = ama::questions(&pool, id)
        .await
        .unwrap()
        .into_iter()
        .map(|q| (q.id, q.votes))
        .collect();
    assert_eq!(order, [(second, 2), (first, 1)], "most votes first");

    ama::answer(&pool, first, Some("Yes."), T + 150)
        .await
        .unwrap();
    let pool = support::restart(&dir, pool).await;
    let (of, q) = ama::question(&pool, GUILD, first).await.unwrap().unwrap();
    assert_eq!(of.id, id);
    assert_eq!(
        (q.author(), q.anonymous, q.answer.as_deref(), q.answered_at),
        (11, false, Some("Yes."), Some(T + 150))
    );
    assert!(
        ama::question(&pool, OTHER_GUILD, first)
            .await
            .unwrap()
            .is_none(),
        "a question is found only through its guild"
    );
    let (_, anonymous) = ama::question(&pool, GUILD, second).await.unwrap().unwrap();
    assert!(anonymous.anonymous);
    assert_eq!(anonymous.votes, 2, "votes survive a restart");
}

// ---- db::feedback ----

#[tokio::test]
async fn feedback_is_listed_newest_first_with_filters() {
    let (_dir, pool) = support::temp_store().await;
    let bug = feedback::create(&pool, GUILD, 5, "Crash", "bug", None, T)
        .await
        .unwrap();
    let idea = feedback::create(&pool, GUILD, 6, "Dark mode", "idea", Some((40, 41)), T + 10)
        .await
        .unwrap();
    let same_time = feedback::create(&pool, GUILD, 6, "Typo", "bug", None, T + 10)
        .await
        .unwrap();
    feedback::create(&pool, OTHER_GUILD, 5, "Theirs", "bug", None, T)
        .await
        .unwrap();
    let ids =
        |items: Vec<feedback::Item>| -> Vec<i64> { items.into_iter().map(|i| i.id).collect() };

    assert_eq!(
        ids(feedback::list(&pool, GUILD, None, None, 0).await.unwrap()),
        [same_time, idea, bug],
        "newest first, the later id first within a second"
    );
    assert_eq!(
        ids(feedback::list(&pool, GUILD, None, Some("bug"), 0)
            .await
            .unwrap()),
        [same_time, bug]
    );
    assert_eq!(
        ids(feedback::list(&pool, GUILD, None, None, T + 10)
            .await
            .unwrap()),
        [same_time, idea],
        "since is inclusive"
    );
    feedback::set_status(&pool, GUILD, idea, "planned", T + 20)
        .await
        .unwrap();
    assert_eq!(
        ids(feedback::list(&pool, GUILD, Some("planned"), None, 0)
            .await
            .unwrap()),
        [idea]
    );
    let item = feedback::get(&pool, GUILD, bug).await.unwrap().unwrap();
    assert_eq!((item.submitter(), item.title.as_str()), (5, "Crash"));
    assert_eq!(feedback::get(&pool, OTHER_GUILD, bug).await.unwrap(), None);
}

#[tokio::test]
async fn the_first_acknowledgement_is_kept_through_later_status_changes() {
    let (dir, pool) = support::temp_store().await;
    let id = feedback::create(&pool, GUILD, 5, "Dark mode", "idea", None, T)
        .await
        .unwrap();
    let status = |item: feedback::Item| (item.status, item.acknowledged_at);

    feedback::set_status(&pool, GUILD, id, "new", T + 1)
        .await
        .unwrap();
    assert_eq!(
        status(feedback::get(&pool, GUILD, id).await.unwrap().unwrap()),
        ("new".into(), None),
        "staying new is no acknowledgement"
    );
    feedback::set_status(&pool, GUILD, id, "planned", T + 10)
        .await
        .unwrap();
    feedback::set_status(&pool, GUILD, id, "done", T + 20)
        .await
        .unwrap();
    // Another guild cannot change it.
    feedback::set_status(&pool, OTHER_GUILD, id, "declined", T + 30)
        .await
        .unwrap();

    let pool = support::restart(&dir, pool).await;
    assert_eq!(
        status(feedback::get(&pool, GUILD, id).await.unwrap().unwrap()),
        ("done".into(), Some(T + 10))
    );
}

#[tokio::test]
async fn an_items_thread_is_known_once_its_post_is_delivered() {
    let (_dir, pool) = support::temp_store().await;
    let id = feedback::create(&pool, GUILD, 5, "Dark mode", "idea", None, T)
        .await
        .unwrap();
    let outbox_id = db::outbox::enqueue(&pool, &post("feedback:1"), "n", T * 1000)
        .await
        .unwrap()
        .unwrap();
    feedback::set_outbox(&pool, id, outbox_id).await.unwrap();
    feedback::set_notify_dm(&pool, id, true).await.unwrap();
    let item = feedback::get(&pool, GUILD, id).await.unwrap().unwrap();
    assert_eq!((item.outbox_id, item.notify_dm), (Some(outbox_id), true));
    assert_eq!(
        feedback::thread_of(&pool, outbox_id).await.unwrap(),
        None,
        "no thread while the post waits"
    );
    db::outbox::mark_delivered(&pool, outbox_id, u64::MAX - 1, T + 1)
        .await
        .unwrap();
    assert_eq!(
        feedback::thread_of(&pool, outbox_id).await.unwrap(),
        Some(u64::MAX - 1)
    );
}
