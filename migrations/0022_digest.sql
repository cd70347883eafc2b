-- The manager's morning digest (product §12): posted daily at `at` (HH:MM, server time) in the
-- reports channel; a newcomer's message or a member's thread counts as unanswered after
-- `unanswered_hours`.
CREATE TABLE digests (
    guild_id          INTEGER PRIMARY KEY,
    at                TEXT    NOT NULL,
    unanswered_hours  INTEGER NOT NULL
);
