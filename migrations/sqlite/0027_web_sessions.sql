-- Logins to the web dashboard (product §13): ids and times only. `id_hash` is the SHA-256 of the
-- random session id the browser holds, so a copy of the database opens no session; the Discord
-- access token is used once at login and never stored.
CREATE TABLE web_sessions (
    id_hash     TEXT    PRIMARY KEY,
    user_id     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);
