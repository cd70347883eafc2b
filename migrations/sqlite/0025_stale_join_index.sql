-- Every report's refresh asks for members whose join day must be settled again; without an index
-- that read every member of the guild (30 ms on 100k members, the largest part of /stats
-- overview). Almost no row qualifies, so the partial index stays tiny.
CREATE INDEX members_stale_join ON members (guild_id) WHERE join_day_stale = 1;
