-- The call index: one CDR row per call, one row per recording.

-- +goose Up
CREATE TABLE calls (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_uuid           TEXT NOT NULL REFERENCES tenants (uuid),
    -- The PBX's own id for the call (Asterisk linkedid, FreeSWITCH call uuid).
    pbx_call_id           TEXT NOT NULL,
    start_at              INTEGER NOT NULL,
    answer_at             INTEGER,
    end_at                INTEGER,
    direction             TEXT NOT NULL DEFAULT 'unknown' CHECK (direction IN ('internal', 'inbound', 'outbound', 'unknown')),
    source_extension      TEXT NOT NULL DEFAULT '',
    source_name           TEXT NOT NULL DEFAULT '',
    source_user_uuid      TEXT,
    destination_extension TEXT NOT NULL DEFAULT '',
    destination_name      TEXT NOT NULL DEFAULT '',
    destination_user_uuid TEXT,
    requested_extension   TEXT NOT NULL DEFAULT '',
    tags                  TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tags)),
    UNIQUE (tenant_uuid, pbx_call_id)
) STRICT;
CREATE INDEX calls_tenant_start ON calls (tenant_uuid, start_at);
CREATE INDEX calls_source_user ON calls (source_user_uuid) WHERE source_user_uuid IS NOT NULL;
CREATE INDEX calls_destination_user ON calls (destination_user_uuid) WHERE destination_user_uuid IS NOT NULL;

CREATE TABLE recordings (
    uuid             TEXT PRIMARY KEY,
    call_id          INTEGER NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    tenant_uuid      TEXT NOT NULL REFERENCES tenants (uuid),
    start_at         INTEGER NOT NULL,
    end_at           INTEGER,
    -- JSON array of {"start":µs,"end":µs|null}: the spans left out of the one file.
    paused_intervals TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(paused_intervals)),
    filename         TEXT NOT NULL,
    format           TEXT NOT NULL CHECK (format IN ('wav', 'mp3', 'amr')),
    -- The PBX channel the recording runs on (for adoption after a reconnect).
    channel          TEXT NOT NULL DEFAULT '',
    size             INTEGER NOT NULL DEFAULT 0,
    duration_ms      INTEGER NOT NULL DEFAULT 0,
    sha256           TEXT NOT NULL DEFAULT '',
    state            TEXT NOT NULL CHECK (state IN ('pending', 'recording', 'paused', 'stopped', 'failed', 'missing', 'corrupt')),
    started_by       TEXT NOT NULL CHECK (started_by IN ('policy', 'dtmf', 'api', 'sip_message')),
    stop_reason      TEXT CHECK (stop_reason IS NULL OR stop_reason IN ('hangup', 'dtmf', 'api', 'sip_message', 'external_to_external', 'pbx_lost', 'failed')),
    failure_reason   TEXT NOT NULL DEFAULT '',
    deleted          INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    deleted_at       INTEGER
) STRICT;
CREATE INDEX recordings_call ON recordings (call_id);
CREATE INDEX recordings_tenant_start ON recordings (tenant_uuid, start_at);
CREATE INDEX recordings_live ON recordings (state) WHERE state IN ('pending', 'recording', 'paused');

-- +goose Down
DROP TABLE recordings;
DROP TABLE calls;
