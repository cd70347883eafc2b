-- Only replies need the reply index (the first reply to a message, replies per message); most
-- messages are not replies, and indexing their NULLs cost every insert a fifth of its writes
-- (issue 7). Lookups (`reply_to = x`) imply `reply_to IS NOT NULL`, so they still use it.
DROP INDEX IF EXISTS activity_reply_to;
CREATE INDEX activity_reply_to ON activity (guild_id, reply_to) WHERE reply_to IS NOT NULL;
