-- Content calendar (product §4): prompts and the generic job table the scheduler runs.

CREATE TABLE prompts (
    id            INTEGER PRIMARY KEY,
    guild_id      INTEGER NOT NULL,
    theme         TEXT    NOT NULL,
    channel_id    INTEGER NOT NULL,
    -- 'weekly' (days + time) or 'cron'
    schedule_kind TEXT    NOT NULL,
    days          TEXT,
    time_of_day   TEXT,
    cron          TEXT,
    -- NULL: skip missed runs; otherwise the most a missed run may be late, in seconds
    late_within_secs INTEGER,
    text          TEXT,
    thread        INTEGER NOT NULL DEFAULT 0,
    poll          TEXT,
    author_id     INTEGER NOT NULL,
    paused        INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);
CREATE INDEX prompts_guild ON prompts (guild_id);

-- Rotating texts of a prompt; `used` marks texts posted in the current cycle.
CREATE TABLE prompt_bank (
    id        INTEGER PRIMARY KEY,
    prompt_id INTEGER NOT NULL REFERENCES prompts (id) ON DELETE CASCADE,
    text      TEXT    NOT NULL,
    used      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX prompt_bank_prompt ON prompt_bank (prompt_id);

-- Everything the scheduler runs. `next_run_at` is the source of truth (unix seconds).
CREATE TABLE jobs (
    id          INTEGER PRIMARY KEY,
    guild_id    INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    target_id   INTEGER NOT NULL,
    next_run_at INTEGER,
    last_run_at INTEGER,
    UNIQUE (kind, target_id)
);
CREATE INDEX jobs_next_run ON jobs (next_run_at);
