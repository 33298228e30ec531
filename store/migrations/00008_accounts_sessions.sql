-- Sign-in for the web page: accounts with a bcrypt password, and the
-- sessions their browsers hold as a cookie.

-- +goose Up
-- An account acts with a role exactly as an API token of that role does.
CREATE TABLE accounts (
    username      TEXT PRIMARY KEY CHECK (length(username) BETWEEN 1 AND 64),
    -- bcrypt ($2a$…), never the password.
    password_hash TEXT NOT NULL CHECK (length(password_hash) = 60),
    role          TEXT NOT NULL CHECK (role IN ('system', 'admin', 'user')),
    tenant_uuid   TEXT REFERENCES tenants (uuid) ON DELETE CASCADE,
    user_uuid     TEXT REFERENCES users (uuid) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    CHECK ((role = 'system') = (tenant_uuid IS NULL)),
    CHECK ((role = 'user') = (user_uuid IS NOT NULL))
) STRICT;
CREATE INDEX accounts_tenant ON accounts (tenant_uuid, username);

-- Only the SHA-256 of the cookie's session id is kept, as for tokens: a
-- leaked database does not sign anyone in. A session came from an account
-- (username) or from an API token (token_id), and ends with it.
CREATE TABLE web_sessions (
    hash         TEXT PRIMARY KEY,
    -- Echoed by the page in X-CSRF-Token on every state change.
    csrf_token   TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('system', 'admin', 'user')),
    tenant_uuid  TEXT REFERENCES tenants (uuid) ON DELETE CASCADE,
    user_uuid    TEXT REFERENCES users (uuid) ON DELETE CASCADE,
    username     TEXT REFERENCES accounts (username) ON DELETE CASCADE,
    token_id     TEXT REFERENCES api_tokens (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    CHECK ((role = 'system') = (tenant_uuid IS NULL)),
    CHECK ((role = 'user') = (user_uuid IS NOT NULL)),
    CHECK ((username IS NULL) <> (token_id IS NULL))
) STRICT;
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);
-- The cascades (and a password change) find an account's or token's sessions.
CREATE INDEX web_sessions_username ON web_sessions (username);
CREATE INDEX web_sessions_token ON web_sessions (token_id);

-- +goose Down
DROP TABLE web_sessions;
DROP TABLE accounts;
