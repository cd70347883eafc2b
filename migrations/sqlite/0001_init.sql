-- Guilds the bot has seen, with the settings managers change through /config.
-- Times are INTEGER unix seconds (UTC); snowflakes are INTEGER.
CREATE TABLE guilds (
    guild_id        INTEGER PRIMARY KEY,
    timezone        TEXT,
    manager_role_id INTEGER,
    first_seen_at   INTEGER NOT NULL,
    left_at         INTEGER
);

CREATE TABLE guild_channels (
    guild_id   INTEGER NOT NULL REFERENCES guilds (guild_id) ON DELETE CASCADE,
    purpose    TEXT    NOT NULL,
    channel_id INTEGER NOT NULL,
    PRIMARY KEY (guild_id, purpose)
);

-- Every post the bot makes on its own initiative, written before it is sent.
-- status: pending -> delivered | failed. The nonce is sent with enforce_nonce so that a retry
-- after a crash between "sent" and "recorded" returns the first message instead of a second one.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    guild_id        INTEGER NOT NULL,
    channel_id      INTEGER NOT NULL,
    kind            TEXT    NOT NULL,
    dedup_key       TEXT    NOT NULL UNIQUE,
    nonce           TEXT    NOT NULL UNIQUE,
    body            TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    last_error      TEXT,
    message_id      INTEGER,
    created_at      INTEGER NOT NULL,
    finished_at     INTEGER
);

CREATE INDEX outbox_pending_due ON outbox (status, next_attempt_ms);
