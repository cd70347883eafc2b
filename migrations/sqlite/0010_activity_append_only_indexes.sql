-- Raw activity is an append-mostly log read by time range; per-member questions are answered by
-- member_days (0008). The (guild_id, user_id, at) index scattered every insert across one index
-- page per member: dropping it makes ingest ~15x faster (issue 7). The rare per-member lookups
-- left on raw records (first-reply delays, /privacy forget) use the time index or a scan.
DROP INDEX IF EXISTS activity_guild_user;
