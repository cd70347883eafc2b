-- AMAs (product §5). Questions are kept until the AMA's recap (the queue and the recap need them).
CREATE TABLE amas (
    id           INTEGER PRIMARY KEY,
    guild_id     INTEGER NOT NULL,
    title        TEXT    NOT NULL,
    host_id      INTEGER NOT NULL,
    channel_id   INTEGER NOT NULL,
    start_at     INTEGER NOT NULL,
    end_at       INTEGER NOT NULL,
    event_id     INTEGER,
    status       TEXT    NOT NULL DEFAULT 'open',
    created_at   INTEGER NOT NULL
);
CREATE INDEX amas_guild ON amas (guild_id, start_at);

CREATE TABLE ama_questions (
    id          INTEGER PRIMARY KEY,
    ama_id      INTEGER NOT NULL REFERENCES amas (id) ON DELETE CASCADE,
    author_id   INTEGER NOT NULL,
    anonymous   INTEGER NOT NULL DEFAULT 0,
    text        TEXT    NOT NULL,
    answer      TEXT,
    answered_at INTEGER,
    created_at  INTEGER NOT NULL
);
CREATE INDEX ama_questions_ama ON ama_questions (ama_id);

-- One vote per member and question; voting again removes it.
CREATE TABLE ama_votes (
    question_id INTEGER NOT NULL REFERENCES ama_questions (id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL,
    PRIMARY KEY (question_id, user_id)
);
