-- Reports read counts, never raw records (issue 7: `/stats overview` within 50 ms and a year's
-- report within 1 s on 20M records from 100k members). New records are folded into
-- `member_days` soon after they are written (the rollup's catch-up, by record id), live days
-- included; finishing a day stores its figures and what reports would otherwise look up member
-- by member. Everything here is derived from `activity` and `member_joins`, so it is rebuilt.

DROP TABLE member_days;
-- Stored in key order (WITHOUT ROWID, SQLite's clustered table): a day's members are one
-- contiguous range.
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
-- covering: per-member sums, retention windows and managers' threads read the index alone
CREATE INDEX member_days_user ON member_days (guild_id, user_id, day, activity, threads);

-- Per finished day: conversation counts; joins (events, or first activity where no join is
-- known); of them, how many posted a first message within 7 days (set once final, 8 days
-- later); and the members active in the 6 and 29 days up to it (the next day's WAU and MAU
-- before its own activity).
ALTER TABLE guild_days ADD COLUMN replies INTEGER NOT NULL DEFAULT 0;
ALTER TABLE guild_days ADD COLUMN threads INTEGER NOT NULL DEFAULT 0;
ALTER TABLE guild_days ADD COLUMN joins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE guild_days ADD COLUMN activation_joined INTEGER;
ALTER TABLE guild_days ADD COLUMN activated INTEGER;
ALTER TABLE guild_days ADD COLUMN carry_wau INTEGER NOT NULL DEFAULT 0;
ALTER TABLE guild_days ADD COLUMN carry_mau INTEGER NOT NULL DEFAULT 0;
DELETE FROM guild_days;

-- The highest record id folded into `member_days`; NULL while the days from `done_until` on
-- must be rebuilt from raw records (after an import of older history or a time zone change).
ALTER TABLE rollups ADD COLUMN live_until_id INTEGER;
DELETE FROM rollups;

-- Per member:
-- - the last finished active day (WAU and MAU are counts over an index range);
-- - the activity over every materialised day (top contributors of a report spanning all days);
-- - whether they were active in days 30-59 and 90-119 after their join day, set as those days
--   are finished (a cohort's retention is a count over an index range);
-- - the first reply by someone else to their first message (time to first reply).
ALTER TABLE members ADD COLUMN last_done_day INTEGER;
ALTER TABLE members ADD COLUMN activity_total INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN retained_30 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN retained_90 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN first_reply_at INTEGER;
UPDATE members SET join_day = NULL;
CREATE INDEX members_last_done ON members (guild_id, last_done_day);
CREATE INDEX members_activity_total ON members (guild_id, activity_total DESC, user_id);
CREATE INDEX members_cohort ON members (guild_id, join_day, retained_30, retained_90);
-- Leaves in a range, and members with no known join (imported history) by first activity.
CREATE INDEX members_left ON members (guild_id, left_at);
CREATE INDEX members_first_active_unjoined ON members (guild_id, first_active_at)
    WHERE first_joined_at IS NULL;
DROP INDEX IF EXISTS members_first_active;
