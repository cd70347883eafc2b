-- Recognition (product §5): nominations by anyone, spotlights posted by managers.
CREATE TABLE nominations (
    id           INTEGER PRIMARY KEY,
    guild_id     INTEGER NOT NULL,
    nominee_id   INTEGER NOT NULL,
    nominator_id INTEGER NOT NULL,
    reason       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX nominations_guild_time ON nominations (guild_id, created_at);

CREATE TABLE spotlights (
    id        INTEGER PRIMARY KEY,
    guild_id  INTEGER NOT NULL,
    member_id INTEGER NOT NULL,
    posted_by INTEGER NOT NULL,
    posted_at INTEGER NOT NULL
);
CREATE INDEX spotlights_guild_time ON spotlights (guild_id, posted_at);
