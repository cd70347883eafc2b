-- The monthly "top 3 contributors" shout-out (product §5), at most one per guild. Its runs are
-- jobs of kind 'shoutout' (target = guild id); this row says when they recur.
CREATE TABLE shoutouts (
    guild_id    INTEGER PRIMARY KEY,
    -- Day of the month (1-28, so every month has it) and HH:MM, server time.
    day         INTEGER NOT NULL,
    time_of_day TEXT    NOT NULL,
    author_id   INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);
