-- Settings: tenants, users and their PBX endpoints, groups, queues, feature extensions.
-- Times are INTEGER microseconds since the Unix epoch (UTC): compact and range-friendly.

-- +goose Up
CREATE TABLE tenants (
    uuid                        TEXT PRIMARY KEY,
    name                        TEXT NOT NULL,
    audio_recording_enabled     INTEGER NOT NULL DEFAULT 1 CHECK (audio_recording_enabled IN (0, 1)),
    video_recording_enabled     INTEGER NOT NULL DEFAULT 0 CHECK (video_recording_enabled IN (0, 1)),
    record_external_to_external INTEGER NOT NULL DEFAULT 0 CHECK (record_external_to_external IN (0, 1)),
    format                      TEXT NOT NULL DEFAULT 'wav' CHECK (format IN ('wav', 'mp3', 'amr')),
    -- What *3 does on a running recording: 'pause' (Wazo) or 'stop' (the next *3 starts a second one).
    online_record_mode          TEXT NOT NULL DEFAULT 'pause' CHECK (online_record_mode IN ('pause', 'stop')),
    announce_recording          INTEGER NOT NULL DEFAULT 0 CHECK (announce_recording IN (0, 1)),
    dtmf_timeout_ms             INTEGER NOT NULL DEFAULT 3000 CHECK (dtmf_timeout_ms BETWEEN 100 AND 60000),
    -- NULL retention = keep forever.
    cdr_days                    INTEGER CHECK (cdr_days IS NULL OR cdr_days > 0),
    recording_days              INTEGER CHECK (recording_days IS NULL OR recording_days > 0),
    export_days                 INTEGER CHECK (export_days IS NULL OR export_days > 0),
    timezone                    TEXT NOT NULL DEFAULT 'UTC',
    created_at                  INTEGER NOT NULL,
    updated_at                  INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
    uuid                                  TEXT PRIMARY KEY,
    tenant_uuid                           TEXT NOT NULL REFERENCES tenants (uuid) ON DELETE CASCADE,
    extension                             TEXT NOT NULL DEFAULT '',
    firstname                             TEXT NOT NULL DEFAULT '',
    lastname                              TEXT NOT NULL DEFAULT '',
    email                                 TEXT NOT NULL DEFAULT '',
    call_record_incoming_internal_enabled INTEGER NOT NULL DEFAULT 0 CHECK (call_record_incoming_internal_enabled IN (0, 1)),
    call_record_incoming_external_enabled INTEGER NOT NULL DEFAULT 0 CHECK (call_record_incoming_external_enabled IN (0, 1)),
    call_record_outgoing_internal_enabled INTEGER NOT NULL DEFAULT 0 CHECK (call_record_outgoing_internal_enabled IN (0, 1)),
    call_record_outgoing_external_enabled INTEGER NOT NULL DEFAULT 0 CHECK (call_record_outgoing_external_enabled IN (0, 1)),
    online_call_record_enabled            INTEGER NOT NULL DEFAULT 0 CHECK (online_call_record_enabled IN (0, 1)),
    record_audio                          INTEGER NOT NULL DEFAULT 1 CHECK (record_audio IN (0, 1)),
    record_video                          INTEGER NOT NULL DEFAULT 0 CHECK (record_video IN (0, 1)),
    created_at                            INTEGER NOT NULL,
    updated_at                            INTEGER NOT NULL
) STRICT;
CREATE INDEX users_tenant ON users (tenant_uuid, extension);

-- A user's PBX endpoints (Asterisk PJSIP endpoint names, FreeSWITCH user@domain).
CREATE TABLE user_endpoints (
    tenant_uuid TEXT NOT NULL REFERENCES tenants (uuid) ON DELETE CASCADE,
    endpoint    TEXT NOT NULL,
    user_uuid   TEXT NOT NULL REFERENCES users (uuid) ON DELETE CASCADE,
    PRIMARY KEY (tenant_uuid, endpoint)
) STRICT;
CREATE INDEX user_endpoints_user ON user_endpoints (user_uuid);

-- Ring groups and queues share one shape; kind tells them apart.
CREATE TABLE groups (
    uuid               TEXT PRIMARY KEY,
    tenant_uuid        TEXT NOT NULL REFERENCES tenants (uuid) ON DELETE CASCADE,
    kind               TEXT NOT NULL CHECK (kind IN ('group', 'queue')),
    name               TEXT NOT NULL,
    label              TEXT NOT NULL DEFAULT '',
    dtmf_record_toggle INTEGER NOT NULL DEFAULT 0 CHECK (dtmf_record_toggle IN (0, 1)),
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    UNIQUE (tenant_uuid, kind, name)
) STRICT;

CREATE TABLE group_members (
    group_uuid TEXT NOT NULL REFERENCES groups (uuid) ON DELETE CASCADE,
    user_uuid  TEXT NOT NULL REFERENCES users (uuid) ON DELETE CASCADE,
    PRIMARY KEY (group_uuid, user_uuid)
) STRICT;
CREATE INDEX group_members_user ON group_members (user_uuid);

-- Feature extensions (Wazo's /extensions/features): callrecord (*26), onlinerec (*3),
-- pauserecord (*48), resumerecord (*49).
CREATE TABLE feature_extensions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_uuid TEXT NOT NULL REFERENCES tenants (uuid) ON DELETE CASCADE,
    feature     TEXT NOT NULL CHECK (feature IN ('callrecord', 'onlinerec', 'pauserecord', 'resumerecord')),
    exten       TEXT NOT NULL CHECK (length(exten) BETWEEN 1 AND 20),
    enabled     INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    UNIQUE (tenant_uuid, feature),
    UNIQUE (tenant_uuid, exten)
) STRICT;

-- +goose Down
DROP TABLE feature_extensions;
DROP TABLE group_members;
DROP TABLE groups;
DROP TABLE user_endpoints;
DROP TABLE users;
DROP TABLE tenants;
