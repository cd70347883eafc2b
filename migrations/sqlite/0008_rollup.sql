-- Finished days, materialised (product §6: reports over years of history stay fast; today is
-- live). Days are local calendar days of the guild's time zone, as day numbers (days since
-- 1970-01-01); `rollups` records which zone and how far. A day is materialised once it has
-- ended; an import of older history or a time zone change rewinds `done_until`.

-- One row per member and active day: counts only.
CREATE TABLE member_days (
    guild_id INTEGER NOT NULL,
    day      INTEGER NOT NULL,
    user_id  INTEGER NOT NULL,
    activity INTEGER NOT NULL,
    messages INTEGER NOT NULL,
    -- message replies and messages inside threads (replies per post)
    replies  INTEGER NOT NULL,
    -- threads and forum posts started (member-initiated conversations)
    threads  INTEGER NOT NULL,
    PRIMARY KEY (guild_id, day, user_id)
);
-- covering: per-member sums (top contributors) read the index alone
CREATE INDEX member_days_user ON member_days (guild_id, user_id, day, activity);

-- One row per guild and finished day: the day's figures, final once the day has ended.
CREATE TABLE guild_days (
    guild_id INTEGER NOT NULL,
    day      INTEGER NOT NULL,
    dau      INTEGER NOT NULL,
    wau      INTEGER NOT NULL,
    mau      INTEGER NOT NULL,
    messages INTEGER NOT NULL,
    PRIMARY KEY (guild_id, day)
);

CREATE TABLE rollups (
    guild_id   INTEGER PRIMARY KEY,
    timezone   TEXT    NOT NULL,
    -- the first day that is not materialised
    done_until INTEGER NOT NULL
);

-- First activity (the join of members whose join is unknown: imported history), kept by the
-- materialisation so that reports need not scan every record.
ALTER TABLE members ADD COLUMN first_active_at INTEGER;
CREATE INDEX members_first_active ON members (guild_id, first_active_at);
