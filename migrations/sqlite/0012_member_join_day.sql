-- The local day (guild time zone, as a day number) of each member's cohort instant (first join,
-- or first activity when no join is known), set by the materialisation. Retention then looks up
-- each member's two windows instead of reading every active day of every cohort member (the
-- year report read 4.5M rows for it on 100k members; issue 7).
ALTER TABLE members ADD COLUMN join_day INTEGER;
CREATE INDEX members_first_joined ON members (guild_id, first_joined_at);
-- Materialise again from the start so that every member gets a join day.
DELETE FROM rollups;
