-- Saved replies (product §12): texts written by managers, their edit history and their use.
CREATE TABLE saved_replies (
    id          INTEGER PRIMARY KEY,
    guild_id    INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    created_by  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (guild_id, name)
);

-- Every version of a reply, the first included: who wrote it and when.
CREATE TABLE saved_reply_edits (
    reply_id    INTEGER NOT NULL REFERENCES saved_replies (id) ON DELETE CASCADE,
    body        TEXT    NOT NULL,
    edited_by   INTEGER NOT NULL,
    edited_at   INTEGER NOT NULL
);
CREATE INDEX saved_reply_edits_reply ON saved_reply_edits (reply_id, edited_at);

-- Who used which reply, where and when (usage per reply and per moderator).
CREATE TABLE saved_reply_uses (
    reply_id    INTEGER NOT NULL REFERENCES saved_replies (id) ON DELETE CASCADE,
    guild_id    INTEGER NOT NULL,
    used_by     INTEGER NOT NULL,
    channel_id  INTEGER NOT NULL,
    used_at     INTEGER NOT NULL
);
CREATE INDEX saved_reply_uses_guild ON saved_reply_uses (guild_id, used_at);

-- Flags (product §12): one per flagged message (its thread in the managers' queue is the
-- outbox post `flag:{id}:thread`). No message text: the queue links to the message.
CREATE TABLE flags (
    id          INTEGER PRIMARY KEY,
    guild_id    INTEGER NOT NULL,
    channel_id  INTEGER NOT NULL,
    message_id  INTEGER NOT NULL,
    author_id   INTEGER NOT NULL,
    status      TEXT    NOT NULL DEFAULT 'open',
    created_at  INTEGER NOT NULL,
    resolved_by INTEGER,
    resolved_at INTEGER,
    UNIQUE (guild_id, message_id)
);
CREATE INDEX flags_open ON flags (guild_id, status, created_at);

-- Each member's flag of a message with their reason (for managers only; never shown to the
-- author).
CREATE TABLE flag_reports (
    flag_id     INTEGER NOT NULL REFERENCES flags (id) ON DELETE CASCADE,
    flagger_id  INTEGER NOT NULL,
    reason      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (flag_id, flagger_id)
);

-- `/guidelines automod` was asked for: Discord's AutoMod rules Hearth set up (ids, comma
-- separated; empty while Discord refused), so `/config doctor` can say what is missing.
CREATE TABLE automod_setups (
    guild_id      INTEGER PRIMARY KEY,
    requested_by  INTEGER NOT NULL,
    requested_at  INTEGER NOT NULL,
    rule_ids      TEXT    NOT NULL DEFAULT ''
);
