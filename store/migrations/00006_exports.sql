-- Bulk exports as Wazo's call-logd runs them, plus what callrecd adds:
-- progress, restart recovery, notifications, schedules with filters and
-- destinations, and download links scoped to one export.

-- +goose Up
ALTER TABLE export_jobs ADD COLUMN user_uuid TEXT NOT NULL DEFAULT '';
-- The schedule whose run made this export ('' = asked for over the API or the CLI).
ALTER TABLE export_jobs ADD COLUMN schedule_uuid TEXT NOT NULL DEFAULT '';
-- Where to tell about the result besides e-mail: {"webhook": url, "directory": path}.
ALTER TABLE export_jobs ADD COLUMN destinations TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(destinations));
ALTER TABLE export_jobs ADD COLUMN files_total INTEGER NOT NULL DEFAULT 0;
ALTER TABLE export_jobs ADD COLUMN files_done INTEGER NOT NULL DEFAULT 0;
ALTER TABLE export_jobs ADD COLUMN files_missing INTEGER NOT NULL DEFAULT 0;
ALTER TABLE export_jobs ADD COLUMN bytes_done INTEGER NOT NULL DEFAULT 0;
-- Runs started; a job interrupted by restarts too often is marked error.
ALTER TABLE export_jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE export_jobs ADD COLUMN started_at INTEGER;
-- Why the e-mail, webhook or directory copy failed (the export itself is fine).
ALTER TABLE export_jobs ADD COLUMN notify_error TEXT NOT NULL DEFAULT '';
CREATE INDEX export_jobs_status ON export_jobs (status, created_at);

ALTER TABLE export_schedules ADD COLUMN filters TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(filters));
ALTER TABLE export_schedules ADD COLUMN webhook TEXT NOT NULL DEFAULT '';
ALTER TABLE export_schedules ADD COLUMN directory TEXT NOT NULL DEFAULT '';
-- config: declared in the configuration file (read-only over the API).
ALTER TABLE export_schedules ADD COLUMN source TEXT NOT NULL DEFAULT 'api' CHECK (source IN ('api', 'config'));

-- The token of an e-mailed link: it downloads that one export, until it expires.
CREATE TABLE export_download_tokens (
    hash        TEXT PRIMARY KEY,
    export_uuid TEXT NOT NULL REFERENCES export_jobs (uuid) ON DELETE CASCADE,
    tenant_uuid TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX export_download_tokens_export ON export_download_tokens (export_uuid);

-- +goose Down
DROP TABLE export_download_tokens;
ALTER TABLE export_schedules DROP COLUMN source;
ALTER TABLE export_schedules DROP COLUMN directory;
ALTER TABLE export_schedules DROP COLUMN webhook;
ALTER TABLE export_schedules DROP COLUMN filters;
DROP INDEX export_jobs_status;
ALTER TABLE export_jobs DROP COLUMN notify_error;
ALTER TABLE export_jobs DROP COLUMN started_at;
ALTER TABLE export_jobs DROP COLUMN attempts;
ALTER TABLE export_jobs DROP COLUMN bytes_done;
ALTER TABLE export_jobs DROP COLUMN files_missing;
ALTER TABLE export_jobs DROP COLUMN files_done;
ALTER TABLE export_jobs DROP COLUMN files_total;
ALTER TABLE export_jobs DROP COLUMN destinations;
ALTER TABLE export_jobs DROP COLUMN schedule_uuid;
ALTER TABLE export_jobs DROP COLUMN user_uuid;
