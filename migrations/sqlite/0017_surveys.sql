-- Surveys and NPS (product §10). A survey has waves; a wave is open until closed.
CREATE TABLE surveys (
    id          INTEGER PRIMARY KEY,
    guild_id    INTEGER NOT NULL,
    kind        TEXT    NOT NULL DEFAULT 'nps',
    title       TEXT    NOT NULL,
    -- A custom survey's questions (JSON, see domain::surveys::Question); NULL for NPS.
    questions   TEXT,
    channel_id  INTEGER NOT NULL,
    -- Waves repeat on this schedule in the server's time zone (NULL: one wave).
    every       TEXT,
    -- Each wave goes by DM to this many members active in the last 30 days (NULL: a post).
    sample      INTEGER,
    created_by  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX surveys_guild ON surveys (guild_id);

-- `salt` makes the respondent keys of the wave's answers; it is deleted when the wave closes,
-- after which no answer can be traced to anyone. `reached`: members the wave was put before (a
-- post: those active in the 30 days before; a DM sample: counted from the DMs delivered).
-- `sampled`: members sent a DM (0 for a wave posted in a channel).
CREATE TABLE survey_waves (
    id          INTEGER PRIMARY KEY,
    survey_id   INTEGER NOT NULL REFERENCES surveys (id) ON DELETE CASCADE,
    number      INTEGER NOT NULL,
    opened_at   INTEGER NOT NULL,
    closed_at   INTEGER,
    salt        TEXT,
    reached     INTEGER NOT NULL DEFAULT 0,
    sampled     INTEGER NOT NULL DEFAULT 0,
    UNIQUE (survey_id, number)
);

-- One answer per respondent and wave; no member id: `respondent_key` is a hash of the wave's
-- salt and the member. `newcomer`: joined less than 30 days before answering (the segment).
-- Only the day of the answer is kept, so answers cannot be matched to members by time.
CREATE TABLE survey_answers (
    wave_id         INTEGER NOT NULL REFERENCES survey_waves (id) ON DELETE CASCADE,
    respondent_key  TEXT    NOT NULL,
    -- NPS: the 0-10 score and the comment. A custom survey: `answers`, a JSON array with a value
    -- (or null) per question.
    score           INTEGER,
    comment         TEXT,
    answers         TEXT,
    newcomer        INTEGER NOT NULL,
    answered_day    INTEGER NOT NULL,
    PRIMARY KEY (wave_id, respondent_key)
);

-- Respondents who asked to be contacted about their answer: only they are named, by their choice.
CREATE TABLE survey_contacts (
    wave_id         INTEGER NOT NULL REFERENCES survey_waves (id) ON DELETE CASCADE,
    user_id         INTEGER NOT NULL,
    feedback_item   INTEGER,
    PRIMARY KEY (wave_id, user_id)
);
