-- Peer connections (product §11): opt-in members matched in rounds into private threads.
-- One programme per server; its threads go in the server's `connections` channel (§2 settings).
CREATE TABLE connect_programs (
    id              INTEGER PRIMARY KEY,
    guild_id        INTEGER NOT NULL UNIQUE,
    -- Rounds repeat on this schedule in the server's time zone (`every` of /connect setup).
    every           TEXT    NOT NULL,
    -- A pair may not meet again within this many rounds.
    repeat_rounds   INTEGER NOT NULL,
    -- "Did you meet?" is asked this long after a round.
    follow_up_secs  INTEGER NOT NULL,
    created_by      INTEGER NOT NULL,
    created_at      INTEGER NOT NULL
);

-- Members who opted in. `interests`: comma-separated, given by the member (or NULL: those they
-- shared in /intro). `status`: active | paused | left. `ignored`: rounds in a row whose
-- "did you meet?" they left unanswered (three pause them).
CREATE TABLE connect_members (
    guild_id        INTEGER NOT NULL,
    user_id         INTEGER NOT NULL,
    interests       TEXT,
    timezone        TEXT,
    -- every | every_other (skips the round after one they were matched in)
    frequency       TEXT    NOT NULL DEFAULT 'every',
    status          TEXT    NOT NULL DEFAULT 'active',
    ignored         INTEGER NOT NULL DEFAULT 0,
    joined_at       INTEGER NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);

CREATE TABLE connect_rounds (
    id          INTEGER PRIMARY KEY,
    guild_id    INTEGER NOT NULL,
    number      INTEGER NOT NULL,
    ran_at      INTEGER NOT NULL,
    -- Members in the round, and whether the matching had to repeat pairs.
    members     INTEGER NOT NULL,
    repeats     INTEGER NOT NULL DEFAULT 0,
    UNIQUE (guild_id, number)
);

-- A pair or trio of a round, and its private thread once it exists.
CREATE TABLE connect_matches (
    id          INTEGER PRIMARY KEY,
    round_id    INTEGER NOT NULL REFERENCES connect_rounds (id) ON DELETE CASCADE,
    guild_id    INTEGER NOT NULL,
    thread_id   INTEGER,
    created_at  INTEGER NOT NULL
);
CREATE INDEX connect_matches_round ON connect_matches (round_id);

-- `met`: the member's answer to "did you meet?" (1 yes, 0 not yet, NULL no answer).
CREATE TABLE connect_match_members (
    match_id    INTEGER NOT NULL REFERENCES connect_matches (id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL,
    met         INTEGER,
    answered_at INTEGER,
    PRIMARY KEY (match_id, user_id)
);
CREATE INDEX connect_match_members_user ON connect_match_members (user_id);

-- "Please don't pair us again": never paired again, whoever asked.
CREATE TABLE connect_declines (
    guild_id    INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    other_id    INTEGER NOT NULL,
    PRIMARY KEY (guild_id, user_id, other_id)
);
