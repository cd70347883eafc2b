-- Connected members (product §11, issue 18): from reply links and thread co-activity, never
-- content. Derived from `activity` like the rest of the rollup (0008, 0013), so rebuilt.
--
-- A member-day is connected when one of the member's records that day is a reply to another
-- member's message, a message another member replied to, or a thread message within an hour of
-- another member's message in that thread. `prev_connected` is the member's previous connected
-- day: a period's connected members count once, on their first connected day in it (as
-- `prev_day` does for active members).
-- Materialised again below: drop the days first, so that the new index is built empty.
DELETE FROM member_days;
DELETE FROM guild_days;
ALTER TABLE member_days ADD COLUMN connected INTEGER NOT NULL DEFAULT 0;
ALTER TABLE member_days ADD COLUMN prev_connected INTEGER;
-- A member's previous and next connected day, as days are marked. Not a partial index (WHERE
-- connected = 1): without statistics SQLite prefers the primary key of a WITHOUT ROWID table
-- to a partial index, and would read every earlier day.
CREATE INDEX member_days_connected_user ON member_days (guild_id, user_id, connected, day);
-- The member's last connected day: everyone connected since a day is a count over an index range.
ALTER TABLE members ADD COLUMN last_connected_day INTEGER;
CREATE INDEX members_last_connected ON members (guild_id, last_connected_day);

-- Pairs of members who ever connected (user_a < user_b) and the local day they first did:
-- new connections per week.
CREATE TABLE member_pairs (
    guild_id  INTEGER NOT NULL,
    user_a    INTEGER NOT NULL,
    user_b    INTEGER NOT NULL,
    first_day INTEGER NOT NULL,
    PRIMARY KEY (guild_id, user_a, user_b)
) WITHOUT ROWID;
CREATE INDEX member_pairs_first_day ON member_pairs (guild_id, first_day);
-- Per finished day, the pairs whose first connection it was (counted when the day is finished,
-- final like `guild_days`): a year's new pairs are a sum over 365 rows, not millions of pairs.
CREATE TABLE connection_days (
    guild_id  INTEGER NOT NULL,
    day       INTEGER NOT NULL,
    new_pairs INTEGER NOT NULL,
    PRIMARY KEY (guild_id, day)
) WITHOUT ROWID;

-- Materialise again from the start so that every day gets its connections.
DELETE FROM rollups;
