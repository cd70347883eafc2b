-- A worker claims the posts it is about to send (issue 23): a claimed post is not handed to
-- another worker until the claim expires. `hearth run` releases its own claims at start, since
-- only one process runs on a database (see src/instance_lock.rs).
ALTER TABLE outbox ADD COLUMN claimed_until_ms INTEGER;

-- When Hearth first saw each guild, to the millisecond (first_seen_at is whole seconds): a member
-- who joined before that is not a newcomer, and Discord's joined_at has milliseconds.
ALTER TABLE guilds ADD COLUMN first_seen_ms INTEGER;

-- A member's join time known from Discord (`joined_at` on member objects) without a join event:
-- members who were there before Hearth (issue 22). Set when such a time moves a member's first
-- join, so the next refresh puts the member in the cohort of that day (join_day) and works out
-- their retention windows again.
ALTER TABLE members ADD COLUMN join_day_stale INTEGER NOT NULL DEFAULT 0;
