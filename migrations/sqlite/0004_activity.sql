-- Community analytics (product §6): activity records without message content.
-- kind: 1 message, 2 thread or forum post, 3 reaction, 4 voice join.
CREATE TABLE activity (
    id          INTEGER PRIMARY KEY,
    guild_id    INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    kind        INTEGER NOT NULL,
    channel_id  INTEGER NOT NULL,
    -- The message, thread or reaction target; with kind it makes a record unique, so replayed
    -- events and re-imports count once.
    target_id   INTEGER NOT NULL,
    -- Set for replies and messages inside threads (replies per post, time to first reply).
    reply_to    INTEGER,
    in_thread   INTEGER NOT NULL DEFAULT 0,
    UNIQUE (guild_id, kind, target_id, user_id)
);
CREATE INDEX activity_guild_time ON activity (guild_id, at);
CREATE INDEX activity_guild_user ON activity (guild_id, user_id, at);
CREATE INDEX activity_reply_to ON activity (guild_id, reply_to);

-- Members who asked not to be tracked (§8).
CREATE TABLE tracking_optouts (
    guild_id INTEGER NOT NULL,
    user_id  INTEGER NOT NULL,
    since    INTEGER NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);

-- The server's name, for reports written outside Discord's context (the monthly report).
ALTER TABLE guilds ADD COLUMN name TEXT;
