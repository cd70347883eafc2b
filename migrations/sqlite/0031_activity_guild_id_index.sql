-- The rollup's catch-up reads each guild's records above its fold mark. Without an index by
-- guild and id it scanned every guild's new records for each guild: a pass over 2,000 guilds
-- cost guilds × new records (263-272 s after 1M records on PostgreSQL). Appended in id order
-- per guild, so an insert writes the end of its guild's range.
CREATE INDEX activity_guild_id ON activity (guild_id, id);
