-- A counter that moves on every change to what the engine reads (tenants,
-- users and their endpoints, groups, queues, feature extensions), whichever
-- process makes it: the engine's settings cache checks it instead of
-- re-reading the settings on every event.

-- +goose Up
CREATE TABLE settings_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
) STRICT;
INSERT INTO settings_version (id, version) VALUES (1, 0);

-- +goose StatementBegin
CREATE TRIGGER settings_version_tenants_insert AFTER INSERT ON tenants BEGIN UPDATE settings_version SET version = version + 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER settings_version_tenants_update AFTER UPDATE ON tenants BEGIN UPDATE settings_version SET version = version + 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER settings_version_tenants_delete AFTER DELETE ON tenants BEGIN UPDATE settings_version SET version = version + 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER settings_version_users_insert AFTER INSERT ON users BEGIN UPDATE settings_version SET version = version + 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER settings_version_users_update AFTER UPDATE ON users BEGIN UPDATE settings_version SET version = version + 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER settings_version_users_delete AFTER DELETE ON users BEGIN UPDATE settings_version SET version = version + 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER settings_version_endpoints_insert AFTER INSERT ON user_endpoints BEGIN UPDATE settings_version SET version = version + 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER settings_version_endpoints_delete AFTER DELETE ON user_endpoints BEGIN UPDATE settings_version SET version = version + 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER settings_version_groups_insert AFTER INSERT ON groups BEGIN UPDATE settings_version SET version = version + 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER settings_version_groups_update AFTER UPDATE ON groups BEGIN UPDATE settings_version SET version = version + 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER settings_version_groups_delete AFTER DELETE ON groups BEGIN UPDATE settings_version SET version = version + 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER settings_version_features_insert AFTER INSERT ON feature_extensions BEGIN UPDATE settings_version SET version = version + 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER settings_version_features_update AFTER UPDATE ON feature_extensions BEGIN UPDATE settings_version SET version = version + 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER settings_version_features_delete AFTER DELETE ON feature_extensions BEGIN UPDATE settings_version SET version = version + 1; END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER settings_version_features_delete;
DROP TRIGGER settings_version_features_update;
DROP TRIGGER settings_version_features_insert;
DROP TRIGGER settings_version_groups_delete;
DROP TRIGGER settings_version_groups_update;
DROP TRIGGER settings_version_groups_insert;
DROP TRIGGER settings_version_endpoints_delete;
DROP TRIGGER settings_version_endpoints_insert;
DROP TRIGGER settings_version_users_delete;
DROP TRIGGER settings_version_users_update;
DROP TRIGGER settings_version_users_insert;
DROP TRIGGER settings_version_tenants_delete;
DROP TRIGGER settings_version_tenants_update;
DROP TRIGGER settings_version_tenants_insert;
DROP TABLE settings_version;
