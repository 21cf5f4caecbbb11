-- The page's sign-in sessions. A session is found by the SHA-256 of its
-- random id (the cookie's value, never stored), and works only while the
-- token it was made from does: it keeps that token's hash, which the
-- service looks up again on every request, so revoking the token ends its
-- sessions. Times are microseconds since the epoch.

-- +goose Up
CREATE TABLE sessions (
    id_hash    BYTEA PRIMARY KEY,
    token_id   TEXT NOT NULL,    -- the public id of the token, "env" for SYNCRULES_ADMIN_TOKEN
    token_hash BYTEA NOT NULL,    -- the SHA-256 of the token
    created    BIGINT NOT NULL,
    expires    BIGINT NOT NULL
);

CREATE INDEX sessions_token ON sessions (token_id);
CREATE INDEX sessions_expires ON sessions (expires);

-- +goose Down
DROP TABLE sessions;
