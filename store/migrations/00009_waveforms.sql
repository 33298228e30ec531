-- Waveforms the web page draws, computed once per recording file: reading
-- (or decoding) a whole recording for every page view would cost more than
-- serving the audio itself. A row is valid for the file it was computed
-- from: its size and mtime as stat sees them (a file replaced behind the
-- index's back is noticed) and the sha256 the index holds for it.

-- +goose Up
CREATE TABLE waveforms (
    recording_uuid TEXT PRIMARY KEY REFERENCES recordings (uuid) ON DELETE CASCADE,
    file_size      INTEGER NOT NULL,
    -- Nanoseconds, not the microseconds of other times: a rewrite within
    -- the same microsecond must still read as a change.
    file_mtime_ns  INTEGER NOT NULL,
    sha256         TEXT NOT NULL DEFAULT '',
    buckets        INTEGER NOT NULL CHECK (buckets > 0),
    duration_us    INTEGER NOT NULL CHECK (duration_us >= 0),
    -- One little-endian uint16 per bucket: 0 = silence, 65535 = full scale.
    peaks          BLOB NOT NULL CHECK (length(peaks) = 2 * buckets),
    computed_at    INTEGER NOT NULL
) STRICT;

-- A deleted recording's file is gone: so is its waveform.
-- +goose StatementBegin
CREATE TRIGGER waveforms_recording_deleted AFTER UPDATE OF deleted ON recordings WHEN NEW.deleted = 1
BEGIN
    DELETE FROM waveforms WHERE recording_uuid = NEW.uuid;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER waveforms_recording_deleted;
DROP TABLE waveforms;
