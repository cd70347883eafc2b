-- The audit log of settings changes (product §13): who changed which setting, when, and from
-- where. `detail` holds the options the manager gave (a channel, a time, a template), never a
-- member's message.
CREATE TABLE settings_changes (
    id          INTEGER PRIMARY KEY,
    guild_id    INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    changed_at  INTEGER NOT NULL,
    source      TEXT    NOT NULL CHECK (source IN ('slash', 'web')),
    setting     TEXT    NOT NULL,
    detail      TEXT    NOT NULL
);
CREATE INDEX settings_changes_by_guild ON settings_changes (guild_id, changed_at);
