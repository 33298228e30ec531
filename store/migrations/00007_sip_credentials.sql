-- SIP digest credentials for callrecd's own SIP listener (PortSIP's
-- recording-control MESSAGE). Only HA1 is kept, per algorithm
-- (RFC 8760: MD5 and SHA-256), each bound to the realm it was computed
-- for: a leaked database does not give the password away.

-- +goose Up
CREATE TABLE sip_credentials (
    tenant_uuid TEXT NOT NULL REFERENCES tenants (uuid) ON DELETE CASCADE,
    username    TEXT NOT NULL CHECK (length(username) BETWEEN 1 AND 64),
    -- The engine's endpoint name of this user's phone (PJSIP endpoint,
    -- FreeSWITCH directory user); the party check compares it.
    endpoint    TEXT NOT NULL CHECK (length(endpoint) BETWEEN 1 AND 64),
    realm       TEXT NOT NULL CHECK (length(realm) BETWEEN 1 AND 128),
    ha1_md5     TEXT NOT NULL CHECK (length(ha1_md5) = 32),
    ha1_sha256  TEXT NOT NULL CHECK (length(ha1_sha256) = 64),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    -- The listener finds a credential by the digest's realm and username.
    UNIQUE (realm, username),
    PRIMARY KEY (tenant_uuid, username)
) STRICT;

-- The realm the listener challenges with (sip.realm), recorded at start so
-- that credentials set over the API are hashed for it.
CREATE TABLE sip_settings (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    realm TEXT NOT NULL CHECK (length(realm) BETWEEN 1 AND 128)
) STRICT;

-- +goose Down
DROP TABLE sip_settings;
DROP TABLE sip_credentials;
