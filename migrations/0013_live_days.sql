-- Live days are materialised too (issue 7: `/stats overview` within 50 ms, a year's report
-- within 1 s on 20M records). New records are folded into `member_days` as they arrive (the
-- rollup's catch-up, by record id), so no report reads raw records; a day that ends only gets
-- its figures. Everything here is derived from `activity`, so it is rebuilt from scratch.
DROP TABLE member_days;
-- Stored in key order (WITHOUT ROWID): a day's members are read as one contiguous range.
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
    -- the member's previous active day: WAU/MAU of days not finished count a member once, on
    -- the first day in the window whose previous active day lies before the window
    prev_day INTEGER,
    PRIMARY KEY (guild_id, day, user_id)
) WITHOUT ROWID;
-- covering: per-member sums and retention windows read the index alone
CREATE INDEX member_days_user ON member_days (guild_id, user_id, day, activity);

-- Conversation figures of finished days.
ALTER TABLE guild_days ADD COLUMN replies INTEGER NOT NULL DEFAULT 0;
ALTER TABLE guild_days ADD COLUMN threads INTEGER NOT NULL DEFAULT 0;
DELETE FROM guild_days;

-- The highest record id folded into `member_days`; NULL while the days from `done_until` on
-- must be rebuilt from raw records (after an import of older history or a time zone change).
ALTER TABLE rollups ADD COLUMN live_until_id INTEGER;
DELETE FROM rollups;

-- Per member: the last finished active day (WAU/MAU are counts of an index range) and the
-- activity over every materialised day (top contributors of a report spanning all history).
ALTER TABLE members ADD COLUMN last_done_day INTEGER;
ALTER TABLE members ADD COLUMN activity_total INTEGER NOT NULL DEFAULT 0;
UPDATE members SET join_day = NULL;
CREATE INDEX members_last_done ON members (guild_id, last_done_day);
CREATE INDEX members_activity_total ON members (guild_id, activity_total DESC, user_id);
