-- Threads started by a few members (the managers, for member-initiated conversations) are read
-- from the member index; without `threads` in it SQLite read every row of the days instead.
DROP INDEX member_days_user;
CREATE INDEX member_days_user ON member_days (guild_id, user_id, day, activity, threads);
