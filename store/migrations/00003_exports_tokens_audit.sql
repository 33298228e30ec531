-- Export jobs and schedules, API tokens, and the append-only audit log.

-- +goose Up
CREATE TABLE export_jobs (
    uuid         TEXT PRIMARY KEY,
    tenant_uuid  TEXT NOT NULL REFERENCES tenants (uuid) ON DELETE CASCADE,
    requested_by TEXT NOT NULL DEFAULT '',
    -- The query that selected the recordings (from, until, call ids, user, …), as JSON.
    query        TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(query)),
    email        TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processing', 'finished', 'error', 'deleted')),
    path         TEXT NOT NULL DEFAULT '',
    size         INTEGER NOT NULL DEFAULT 0,
    error        TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    finished_at  INTEGER
) STRICT;
CREATE INDEX export_jobs_tenant ON export_jobs (tenant_uuid, created_at);

CREATE TABLE export_schedules (
    uuid        TEXT PRIMARY KEY,
    tenant_uuid TEXT NOT NULL REFERENCES tenants (uuid) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    cron        TEXT NOT NULL,
    -- Which calls a run exports, relative to the run time.
    period      TEXT NOT NULL DEFAULT 'previous_week' CHECK (period IN ('previous_day', 'previous_week', 'previous_month')),
    email       TEXT NOT NULL DEFAULT '',
    enabled     INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    last_run_at INTEGER,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (tenant_uuid, name)
) STRICT;

-- Only the SHA-256 of a token is kept; the token itself is shown once at creation.
CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    hash         TEXT NOT NULL UNIQUE,
    role         TEXT NOT NULL CHECK (role IN ('system', 'admin', 'user')),
    tenant_uuid  TEXT REFERENCES tenants (uuid) ON DELETE CASCADE,
    user_uuid    TEXT REFERENCES users (uuid) ON DELETE CASCADE,
    description  TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER,
    CHECK ((role = 'system') = (tenant_uuid IS NULL)),
    CHECK ((role = 'user') = (user_uuid IS NOT NULL))
) STRICT;

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    tenant_uuid TEXT,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    object_type TEXT NOT NULL DEFAULT '',
    object_id   TEXT NOT NULL DEFAULT '',
    remote_addr TEXT NOT NULL DEFAULT '',
    details     TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details))
) STRICT;
CREATE INDEX audit_log_tenant_at ON audit_log (tenant_uuid, at);

-- The audit log is append-only: the database itself refuses changes and deletions.
-- +goose StatementBegin
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER audit_log_no_delete;
DROP TRIGGER audit_log_no_update;
DROP TABLE audit_log;
DROP TABLE api_tokens;
DROP TABLE export_schedules;
DROP TABLE export_jobs;
