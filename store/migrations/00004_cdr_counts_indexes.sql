-- CDR listing at scale: per-tenant call counts kept by triggers (so /cdr's
-- "total" is O(1) instead of a count over every call), an index for the common
-- "one direction over a time range" filter, and one for recordings by state.

-- +goose Up
CREATE TABLE call_counts (
    tenant_uuid TEXT PRIMARY KEY REFERENCES tenants (uuid) ON DELETE CASCADE,
    n           INTEGER NOT NULL DEFAULT 0 CHECK (n >= 0)
) STRICT;
INSERT INTO call_counts (tenant_uuid, n) SELECT tenant_uuid, count(*) FROM calls GROUP BY tenant_uuid;

-- +goose StatementBegin
CREATE TRIGGER calls_count_insert AFTER INSERT ON calls
BEGIN
    INSERT INTO call_counts (tenant_uuid, n) VALUES (NEW.tenant_uuid, 1)
        ON CONFLICT (tenant_uuid) DO UPDATE SET n = n + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER calls_count_delete AFTER DELETE ON calls
BEGIN
    UPDATE call_counts SET n = n - 1 WHERE tenant_uuid = OLD.tenant_uuid;
END;
-- +goose StatementEnd

CREATE INDEX calls_tenant_direction_start ON calls (tenant_uuid, direction, start_at);
CREATE INDEX recordings_state ON recordings (state);

-- +goose Down
DROP INDEX recordings_state;
DROP INDEX calls_tenant_direction_start;
DROP TRIGGER calls_count_delete;
DROP TRIGGER calls_count_insert;
DROP TABLE call_counts;
