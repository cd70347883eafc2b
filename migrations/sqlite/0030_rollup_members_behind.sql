-- A rebuild of finished days adds members' activity totals and last active and connected days
-- once, at its end, instead of with every chunk of days (each chunk moved most members' rows in
-- three indexes: 15 s of a 70 s rebuild of a 20M-record year). While it runs, those columns
-- leave out the member days from this day on; a rebuild interrupted before its end starts again
-- from it.
ALTER TABLE rollups ADD COLUMN members_behind_from INTEGER;
