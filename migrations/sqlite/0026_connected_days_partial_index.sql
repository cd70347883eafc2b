-- Members' connected days, for "their previous connected day" and "their last connected day":
-- only connected days need an entry. The full index of 0019 (every member-day) was written by
-- every member-day insert and rewritten by every day marked connected; on a year of 20M records
-- that made the rollup's member-day inserts 1.7x slower. `connected` stays in the key although
-- it is always 1: without it SQLite's planner prefers a range of the primary key for MAX(day).
DROP INDEX member_days_connected_user;
CREATE INDEX member_days_connected ON member_days (guild_id, user_id, connected, day)
    WHERE connected = 1;
