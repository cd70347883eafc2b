-- The manager's morning digest (product §12): posted daily at `at` (HH:MM, server time) in the
-- reports channel; a newcomer's message or a member's thread counts as unanswered after
-- `unanswered_hours`.
CREATE TABLE digests (
    guild_id          INTEGER PRIMARY KEY,
    at                TEXT    NOT NULL,
    unanswered_hours  INTEGER NOT NULL
);

-- What the digest looks up among a year of records, by index (issue 19: within 200 ms on 20M
-- records): threads started in a window, and whether anyone but the starter posted in a thread.
-- Both hold a small share of the records (thread starts; messages inside threads).
CREATE INDEX activity_threads_started ON activity (guild_id, kind, at) WHERE kind = 2;
CREATE INDEX activity_thread_posts ON activity (guild_id, channel_id, user_id) WHERE in_thread = 1;
