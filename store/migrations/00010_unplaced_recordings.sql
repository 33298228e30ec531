-- Stopped recordings whose file is not in the index yet: callrecd looks for
-- their files at every start (a run that ended between placing a file and
-- indexing it), so the lookup must not scan the whole table.

-- +goose Up
CREATE INDEX recordings_unplaced ON recordings (end_at) WHERE state = 'stopped' AND sha256 = '';

-- +goose Down
DROP INDEX recordings_unplaced;
