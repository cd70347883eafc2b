-- Welcoming and onboarding (product §3).
ALTER TABLE guilds ADD COLUMN welcome_enabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE guilds ADD COLUMN welcome_dm INTEGER NOT NULL DEFAULT 0;
ALTER TABLE guilds ADD COLUMN welcome_intro_thread INTEGER NOT NULL DEFAULT 1;
-- The raid guard's current burst, if any (unix seconds).
ALTER TABLE guilds ADD COLUMN burst_started_at INTEGER;
ALTER TABLE guilds ADD COLUMN burst_until INTEGER;

CREATE TABLE welcome_templates (
    id         INTEGER PRIMARY KEY,
    guild_id   INTEGER NOT NULL REFERENCES guilds (guild_id) ON DELETE CASCADE,
    body       TEXT    NOT NULL,
    created_by INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX welcome_templates_guild ON welcome_templates (guild_id);

-- One row per member and guild: activation data (§6) and the member's intro thread for life.
CREATE TABLE members (
    guild_id         INTEGER NOT NULL,
    user_id          INTEGER NOT NULL,
    first_joined_at  INTEGER,
    last_joined_at   INTEGER,
    left_at          INTEGER,
    first_message_at INTEGER,
    intro_thread_id  INTEGER,
    PRIMARY KEY (guild_id, user_id)
);

-- Every join event: the raid guard's window and new-member counts. `welcomed` is set once the
-- member's welcome (or the burst summary covering it) is queued; pending members wait for
-- membership screening.
CREATE TABLE member_joins (
    guild_id  INTEGER NOT NULL,
    user_id   INTEGER NOT NULL,
    joined_at INTEGER NOT NULL,
    pending   INTEGER NOT NULL DEFAULT 0,
    welcomed  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (guild_id, user_id, joined_at)
);
CREATE INDEX member_joins_time ON member_joins (guild_id, joined_at);

-- Interests from /intro, stored only when the member opts in (for peer introductions, §7).
CREATE TABLE member_interests (
    guild_id   INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    interests  TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);

-- Applications (/apply): the decision, not the answers (those live only in the review post).
ALTER TABLE guilds ADD COLUMN application_role_id INTEGER;
CREATE TABLE applications (
    id             INTEGER PRIMARY KEY,
    guild_id       INTEGER NOT NULL,
    user_id        INTEGER NOT NULL,
    status         TEXT    NOT NULL DEFAULT 'pending',
    decided_by     INTEGER,
    decline_reason TEXT,
    created_at     INTEGER NOT NULL,
    decided_at     INTEGER
);
CREATE INDEX applications_guild_user ON applications (guild_id, user_id);
