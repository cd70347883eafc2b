-- The weekly public recap (product §12): posted in `channel_id` on the schedule `at`
-- (`mon 09:00`, server time).
CREATE TABLE recaps (
    guild_id    INTEGER PRIMARY KEY,
    channel_id  INTEGER NOT NULL,
    at          TEXT    NOT NULL
);
