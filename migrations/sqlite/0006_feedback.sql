-- Feedback with the close-the-loop protocol (product §5). The title and category are what the
-- member submitted for tracking; the details live only in the item's post.
CREATE TABLE feedback_items (
    id                INTEGER PRIMARY KEY,
    guild_id          INTEGER NOT NULL,
    submitter_id      INTEGER NOT NULL,
    title             TEXT    NOT NULL,
    category          TEXT    NOT NULL,
    status            TEXT    NOT NULL DEFAULT 'new',
    -- The outbox post that opened the item's thread (its message_id is the thread id).
    outbox_id         INTEGER,
    source_channel_id INTEGER,
    source_message_id INTEGER,
    created_at        INTEGER NOT NULL,
    acknowledged_at   INTEGER,
    updated_at        INTEGER NOT NULL
);
CREATE INDEX feedback_guild_status ON feedback_items (guild_id, status);
