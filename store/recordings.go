package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/callrecd/callrecd/recording"
)

// Interval is a paused span; End is nil while the pause lasts.
type Interval struct {
	Start time.Time  `json:"start"`
	End   *time.Time `json:"end"`
}

// Recording is one recording row: one file, possibly with paused spans.
type Recording struct {
	UUID            string
	CallID          int64
	TenantUUID      string
	Start           time.Time
	End             *time.Time
	PausedIntervals []Interval
	Filename        string
	Format          string // a recording.Format
	Channel         string
	Size            int64
	Duration        time.Duration
	SHA256          string
	State           string // a recording.State
	StartedBy       string // a recording.StartedBy
	StopReason      string // a recording.StopReason, "" until stopped
	FailureReason   string
	Deleted         bool
	DeletedAt       *time.Time
}

// Live reports whether the recording may still be running on the PBX
// (recording.State.Live: pending, recording or paused).
func (r Recording) Live() bool { return recording.State(r.State).Live() }

const recordingColumns = `uuid, call_id, tenant_uuid, start_at, end_at, paused_intervals, filename, format,
	channel, size, duration_ms, sha256, state, started_by, stop_reason, failure_reason, deleted, deleted_at`

// Stored form of an interval: microseconds, like every other time column.
type storedInterval struct {
	Start int64  `json:"start"`
	End   *int64 `json:"end"`
}

func intervalsJSON(in []Interval) string {
	out := make([]storedInterval, len(in))
	for i, iv := range in {
		out[i].Start = micros(iv.Start)
		if iv.End != nil {
			e := micros(*iv.End)
			out[i].End = &e
		}
	}
	b, _ := json.Marshal(out)
	return string(b)
}

func parseIntervals(s string) ([]Interval, error) {
	if s == "[]" {
		return []Interval{}, nil
	}
	var stored []storedInterval
	if err := json.Unmarshal([]byte(s), &stored); err != nil {
		return nil, err
	}
	out := make([]Interval, len(stored))
	for i, iv := range stored {
		out[i].Start = fromMicros(iv.Start)
		if iv.End != nil {
			e := fromMicros(*iv.End)
			out[i].End = &e
		}
	}
	return out, nil
}

func scanRecording(row interface{ Scan(...any) error }) (Recording, error) {
	var r Recording
	var start int64
	var end, deletedAt sql.NullInt64
	var paused string
	var stop sql.NullString
	var durMS int64
	err := row.Scan(&r.UUID, &r.CallID, &r.TenantUUID, &start, &end, &paused, &r.Filename, &r.Format,
		&r.Channel, &r.Size, &durMS, &r.SHA256, &r.State, &r.StartedBy, &stop, &r.FailureReason,
		&r.Deleted, &deletedAt)
	if err != nil {
		return Recording{}, err
	}
	r.Start, r.End, r.DeletedAt = fromMicros(start), timePtr(end), timePtr(deletedAt)
	r.Duration = time.Duration(durMS) * time.Millisecond
	r.StopReason = stop.String
	if r.PausedIntervals, err = parseIntervals(paused); err != nil {
		return Recording{}, err
	}
	return r, nil
}

// CreateRecording inserts a recording row. The same uuid twice (a replayed
// event) is a conflict the caller can ignore.
func (s *Store) CreateRecording(ctx context.Context, r Recording) error {
	_, err := s.q.ExecContext(ctx, `INSERT INTO recordings (`+recordingColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.UUID, r.CallID, r.TenantUUID, micros(r.Start), nullMicros(r.End), intervalsJSON(r.PausedIntervals),
		r.Filename, r.Format, r.Channel, r.Size, r.Duration.Milliseconds(), r.SHA256, r.State, r.StartedBy,
		nullString(r.StopReason), r.FailureReason, r.Deleted, nullMicros(r.DeletedAt))
	return classify("create recording "+r.UUID, err)
}

// UpdateRecordingState writes what the engine decides over a recording's
// life: state, start (the PBX confirms it when its audio begins, after the
// row was created), end, paused spans, stop and failure reasons. The start
// is kept when r.Start is zero, the channel when r.Channel is empty.
func (s *Store) UpdateRecordingState(ctx context.Context, r Recording) error {
	res, err := s.q.ExecContext(ctx, `UPDATE recordings SET state = ?, start_at = COALESCE(?, start_at), end_at = ?,
		paused_intervals = ?, channel = CASE WHEN ? = '' THEN channel ELSE ? END, stop_reason = ?, failure_reason = ?
		WHERE uuid = ?`,
		r.State, nullMicros(&r.Start), nullMicros(r.End), intervalsJSON(r.PausedIntervals), r.Channel, r.Channel,
		nullString(r.StopReason), r.FailureReason, r.UUID)
	return checkAffected("update recording "+r.UUID, res, err)
}

// FileInfo is what media learns of a finished recording's file.
type FileInfo struct {
	Filename string
	Format   string
	Size     int64
	Duration time.Duration
	SHA256   string
}

// SetRecordingFile records the file of a recording once it is in place.
func (s *Store) SetRecordingFile(ctx context.Context, uuid string, f FileInfo) error {
	res, err := s.q.ExecContext(ctx, `UPDATE recordings SET filename = ?, format = ?, size = ?, duration_ms = ?, sha256 = ?
		WHERE uuid = ?`, f.Filename, f.Format, f.Size, f.Duration.Milliseconds(), f.SHA256, uuid)
	return checkAffected("set recording file "+uuid, res, err)
}

// SetRecordingIntegrity marks a recording missing or corrupt, or back to
// stopped when its file is found intact again.
func (s *Store) SetRecordingIntegrity(ctx context.Context, uuid string, state recording.State) error {
	res, err := s.q.ExecContext(ctx, `UPDATE recordings SET state = ? WHERE uuid = ?`, string(state), uuid)
	return checkAffected("set recording integrity "+uuid, res, err)
}

// MarkRecordingDeleted flags a recording deleted (its file is removed by the caller).
func (s *Store) MarkRecordingDeleted(ctx context.Context, tenant, uuid string, at time.Time) error {
	res, err := s.q.ExecContext(ctx, `UPDATE recordings SET deleted = 1, deleted_at = coalesce(deleted_at, ?)
		WHERE uuid = ? AND (? = '' OR tenant_uuid = ?)`, micros(at), uuid, tenant, tenant)
	return checkAffected("delete recording "+uuid, res, err)
}

// GetRecording reads one recording ("" tenant: any tenant).
func (s *Store) GetRecording(ctx context.Context, tenant, uuid string) (Recording, error) {
	r, err := scanRecording(s.q.QueryRowContext(ctx, `SELECT `+recordingColumns+` FROM recordings
		WHERE uuid = ? AND (? = '' OR tenant_uuid = ?)`, uuid, tenant, tenant))
	if err != nil {
		return Recording{}, classify("get recording "+uuid, err)
	}
	return r, nil
}

// RecordingFilter selects recordings for ListRecordings.
type RecordingFilter struct {
	Tenant         string // "" = all tenants
	LiveOnly       bool   // pending, recording or paused
	StartedBefore  *time.Time
	IncludeDeleted bool
	Page
}

// ListRecordings lists recordings by start time.
func (s *Store) ListRecordings(ctx context.Context, f RecordingFilter) ([]Recording, error) {
	var where []string
	var args []any
	if f.Tenant != "" {
		where, args = append(where, "tenant_uuid = ?"), append(args, f.Tenant)
	}
	if f.LiveOnly {
		where = append(where, "state IN ('pending', 'recording', 'paused')")
	}
	if f.StartedBefore != nil {
		where, args = append(where, "start_at < ?"), append(args, micros(*f.StartedBefore))
	}
	if !f.IncludeDeleted {
		where = append(where, "deleted = 0")
	}
	return queryList(ctx, s.q, "list recordings", scanRecording, `SELECT `+recordingColumns+` FROM recordings`+whereClause(where)+
		` ORDER BY start_at, uuid LIMIT ? OFFSET ?`, append(args, limitArg(f.Limit), f.Offset)...)
}
