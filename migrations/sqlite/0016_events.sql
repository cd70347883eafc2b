-- Events (product §9): a Hearth event is a Discord scheduled event plus an RSVP card.

-- A recurring event: the template of its occurrences and its schedule in the server's time zone
-- (the prompts' grammar: "thu 19:00", "mon,wed 18:30", "cron 0 19 * * 5"). Occurrences are
-- created a few ahead, each an `events` row with its own Discord event.
CREATE TABLE event_series (
    id                INTEGER PRIMARY KEY,
    guild_id          INTEGER NOT NULL,
    title             TEXT    NOT NULL,
    description       TEXT,
    length_secs       INTEGER NOT NULL,
    voice_channel_id  INTEGER,
    stage             INTEGER NOT NULL DEFAULT 0,
    location          TEXT,
    capacity          INTEGER,
    cutoff_secs       INTEGER,
    required_role_id  INTEGER,
    attendee_role_id  INTEGER,
    card_channel_id   INTEGER NOT NULL,
    schedule          TEXT    NOT NULL,
    status            TEXT    NOT NULL DEFAULT 'active',
    created_by        INTEGER NOT NULL,
    created_at        INTEGER NOT NULL
);

-- Members who answered Going for the whole series: Going on each new occurrence.
CREATE TABLE event_series_members (
    series_id  INTEGER NOT NULL REFERENCES event_series (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL,
    PRIMARY KEY (series_id, user_id)
);

CREATE TABLE events (
    id                INTEGER PRIMARY KEY,
    guild_id          INTEGER NOT NULL,
    title             TEXT    NOT NULL,
    description       TEXT,
    start_at          INTEGER NOT NULL,
    end_at            INTEGER NOT NULL,
    -- The voice or stage channel the event takes place in; NULL for an external event.
    voice_channel_id  INTEGER,
    location          TEXT,
    capacity          INTEGER,
    cutoff_at         INTEGER,
    -- Only members with this role may answer (NULL: everyone).
    required_role_id  INTEGER,
    -- Given to Going members, taken back when they leave Going and after the event.
    attendee_role_id  INTEGER,
    -- The channel of the RSVP card; its message (and the event thread started on it, which has
    -- the same id) once posted.
    card_channel_id   INTEGER NOT NULL,
    card_message_id   INTEGER,
    discord_event_id  INTEGER,
    -- Members who clicked "Interested" in Discord: a soft count, never Going.
    interested        INTEGER NOT NULL DEFAULT 0,
    status            TEXT    NOT NULL DEFAULT 'scheduled',
    series_id         INTEGER REFERENCES event_series (id) ON DELETE SET NULL,
    created_by        INTEGER NOT NULL,
    created_at        INTEGER NOT NULL
);
CREATE INDEX events_series ON events (series_id, start_at);
CREATE INDEX events_guild ON events (guild_id, start_at);
CREATE INDEX events_discord ON events (discord_event_id);

-- One answer per member and event. `queued_ms` orders the waitlist; `offsets` are the member's
-- reminder offsets in seconds before the start ("86400,3600"), `dm` whether they asked for DMs.
CREATE TABLE event_rsvps (
    event_id          INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    user_id           INTEGER NOT NULL,
    status            TEXT    NOT NULL,
    queued_ms         INTEGER NOT NULL,
    offer_expires_at  INTEGER,
    offsets           TEXT    NOT NULL,
    dm                INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (event_id, user_id)
);

-- Presence in the event's voice channel, only around the event's window (never general voice
-- activity): one row per stay, `left_at` NULL while the member is still there. Check-ins and the
-- host's marks are stays with `source` 'checkin' or 'host'.
CREATE TABLE event_presence (
    id          INTEGER PRIMARY KEY,
    event_id    INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL,
    joined_at   INTEGER NOT NULL,
    left_at     INTEGER,
    source      TEXT    NOT NULL DEFAULT 'voice'
);
CREATE INDEX event_presence_event ON event_presence (event_id, user_id);

-- Post-event feedback, from attendees only: one answer per member (a second one replaces it).
-- `anonymous` answers are never shown with their author, to members or managers; the author is
-- kept only so a member answers once and can export or forget their answer.
CREATE TABLE event_feedback (
    event_id    INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL,
    score       INTEGER NOT NULL,
    comment     TEXT,
    anonymous   INTEGER NOT NULL DEFAULT 1,
    answered_at INTEGER NOT NULL,
    PRIMARY KEY (event_id, user_id)
);
