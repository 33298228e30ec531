package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/callrecd/callrecd/engine"
)

// scanPlus scans a row's usual columns and then extra ones.
type scanPlus struct {
	rows  *sql.Rows
	extra []any
}

func (s scanPlus) Scan(dest ...any) error { return s.rows.Scan(append(dest, s.extra...)...) }

// OpenCalls lists the calls without an end, each with the latest time it is
// known to have been going: its answer, its start, or the latest start or
// end of one of its recordings.
func (f ForEngine) OpenCalls(ctx context.Context) ([]engine.OpenCall, error) {
	rows, err := f.S.q.QueryContext(ctx, `SELECT `+callColumns+`,
		(SELECT max(max(r.start_at, coalesce(r.end_at, 0))) FROM recordings r WHERE r.call_id = calls.id)
		FROM calls WHERE end_at IS NULL ORDER BY id`)
	if err != nil {
		return nil, classify("open calls", err)
	}
	defer rows.Close()
	var out []engine.OpenCall
	for rows.Next() {
		var recSeen sql.NullInt64
		c, err := scanCall(scanPlus{rows, []any{&recSeen}})
		if err != nil {
			return nil, classify("open calls", err)
		}
		row := engine.CallRow{ID: c.ID, Tenant: c.TenantUUID, PBXCallID: c.PBXCallID, Start: c.Start,
			Answer: valueTime(c.Answer), Direction: engine.Direction(c.Direction),
			SourceNumber: c.SourceExtension, SourceName: c.SourceName, SourceUserUUID: c.SourceUserUUID,
			SourceExtension: c.SourceExtension, RequestedNumber: c.RequestedExtension, DestinationNumber: c.DestinationExtension,
			DestinationName: c.DestinationName, DestinationUserUUID: c.DestinationUserUUID,
			DestinationExtension: c.DestinationExtension}
		seen := c.Start
		if c.Answer != nil && c.Answer.After(seen) {
			seen = *c.Answer
		}
		if recSeen.Valid {
			if t := fromMicros(recSeen.Int64); t.After(seen) {
				seen = t
			}
		}
		out = append(out, engine.OpenCall{Row: row, Seen: seen})
	}
	if err := rows.Err(); err != nil {
		return nil, classify("open calls", err)
	}
	return out, nil
}

// OpenRecordings lists the recordings still pending, recording or paused
// (not deleted), each with the latest time it is known to have been
// running: its start or its last pause boundary.
func (f ForEngine) OpenRecordings(ctx context.Context) ([]engine.OpenRecording, error) {
	recs, err := queryList(ctx, f.S.q, "open recordings", scanRecording, `SELECT `+recordingColumns+`
		FROM recordings WHERE state IN ('pending', 'recording', 'paused') AND deleted = 0 ORDER BY start_at`)
	if err != nil {
		return nil, err
	}
	out := make([]engine.OpenRecording, 0, len(recs))
	for _, r := range recs {
		seen := r.Start
		for _, p := range r.PausedIntervals {
			if p.Start.After(seen) {
				seen = p.Start
			}
			if p.End != nil && p.End.After(seen) {
				seen = *p.End
			}
		}
		out = append(out, engine.OpenRecording{Row: engineRecording(r), Seen: seen})
	}
	return out, nil
}

// UnplacedRecordings lists the recordings stopped since endedSince that have
// no file in the index (not deleted): a run that ended between placing a
// file and indexing it leaves such a row, its file in the layout.
func (f ForEngine) UnplacedRecordings(ctx context.Context, endedSince time.Time) ([]engine.RecordingRow, error) {
	recs, err := queryList(ctx, f.S.q, "unplaced recordings", scanRecording, `SELECT `+recordingColumns+`
		FROM recordings WHERE state = 'stopped' AND sha256 = '' AND deleted = 0 AND end_at >= ? ORDER BY end_at`, micros(endedSince))
	if err != nil {
		return nil, err
	}
	out := make([]engine.RecordingRow, 0, len(recs))
	for _, r := range recs {
		out = append(out, engineRecording(r))
	}
	return out, nil
}
