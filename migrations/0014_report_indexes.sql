-- `/stats overview` within 50 ms and a year's report within 1 s on 100k members (issue 7):
-- what a report would otherwise look up member by member is kept as days are finished.
-- Retention: whether each member was active in days 30-59 and 90-119 after their join day, so
-- a cohort's retention is a count over one index range.
ALTER TABLE members ADD COLUMN retained_30 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN retained_90 INTEGER NOT NULL DEFAULT 0;
CREATE INDEX members_cohort ON members (guild_id, join_day, retained_30, retained_90);
-- The first reply by someone else to the member's first message (time to first reply).
ALTER TABLE members ADD COLUMN first_reply_at INTEGER;
-- Leaves in a range, and members with no known join (imported history) by first activity.
CREATE INDEX members_left ON members (guild_id, left_at);
CREATE INDEX members_first_active_unjoined ON members (guild_id, first_active_at)
    WHERE first_joined_at IS NULL;
DROP INDEX IF EXISTS members_first_active;
-- Per finished day: joins (events, or first activity where no join is known); of them, how many
-- posted a first message within 7 days (set once that is final, 8 days later); and the members
-- active in the 6 and 29 days up to it (the next day's WAU and MAU before its own activity).
ALTER TABLE guild_days ADD COLUMN joins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE guild_days ADD COLUMN activation_joined INTEGER;
ALTER TABLE guild_days ADD COLUMN activated INTEGER;
ALTER TABLE guild_days ADD COLUMN carry_wau INTEGER NOT NULL DEFAULT 0;
ALTER TABLE guild_days ADD COLUMN carry_mau INTEGER NOT NULL DEFAULT 0;
-- Materialise again, so that all of the above is set.
UPDATE members SET join_day = NULL, last_done_day = NULL, activity_total = 0;
DELETE FROM guild_days;
DELETE FROM rollups;
