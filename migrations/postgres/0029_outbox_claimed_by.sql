-- The process that holds a post's claim (a random number per process, the key of an advisory
-- lock that process holds), so that a process that starts or finds another one gone releases
-- only the claims of processes that are gone.
ALTER TABLE outbox ADD COLUMN claimed_by BIGINT;
