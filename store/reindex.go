package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"

	"github.com/callrecd/callrecd/media"
	"github.com/callrecd/callrecd/recording"
)

// The Store is the index media's reindex and retention jobs work on.
var (
	_ media.Index          = (*Store)(nil)
	_ media.RetentionIndex = (*Store)(nil)
)

// PlaceholderPBXCallID is the pbx_call_id of a call row created by reindex
// for a recording whose call was not in the index.
func PlaceholderPBXCallID(callID int64) string { return "reindex:" + strconv.FormatInt(callID, 10) }

// TagReindexed marks calls created by reindex.
const TagReindexed = "reindexed"

// TagGuessedDirection marks a reindexed call whose call_direction is a
// guess: its file does not tell, and Wazo's schema has no "unknown" (its
// clients accept internal, inbound and outbound only).
const TagGuessedDirection = "guessed:call_direction"

// IndexedTenants lists every tenant's uuid.
func (s *Store) IndexedTenants(ctx context.Context) ([]string, error) {
	rows, err := s.q.QueryContext(ctx, `SELECT uuid FROM tenants ORDER BY uuid`)
	if err != nil {
		return nil, classify("indexed tenants", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, classify("indexed tenants", err)
		}
		out = append(out, u)
	}
	return out, classify("indexed tenants", rows.Err())
}

// IndexedRecordings returns one page of a tenant's recordings in uuid order.
func (s *Store) IndexedRecordings(ctx context.Context, q media.IndexQuery) ([]media.Indexed, error) {
	if q.Tenant == "" || q.Limit <= 0 {
		return nil, fmt.Errorf("indexed recordings: %w: a tenant and a positive limit are required", ErrInvalid)
	}
	where := []string{"tenant_uuid = ?", "uuid > ?"}
	args := []any{q.Tenant, q.After}
	if !q.StartedBefore.IsZero() {
		where, args = append(where, "start_at < ?"), append(args, micros(q.StartedBefore))
	}
	if q.SkipDeleted {
		where = append(where, "deleted = 0")
	}
	if q.SkipLive {
		where = append(where, "state NOT IN ('pending', 'recording', 'paused')")
	}
	recs, err := queryList(ctx, s.q, "indexed recordings", scanRecording, `SELECT `+recordingColumns+` FROM recordings`+whereClause(where)+
		` ORDER BY uuid LIMIT ?`, append(args, q.Limit)...)
	if err != nil {
		return nil, err
	}
	out := make([]media.Indexed, 0, len(recs))
	for _, r := range recs {
		out = append(out, media.Indexed{UUID: r.UUID, Tenant: r.TenantUUID, CallID: r.CallID, Start: r.Start, End: valueTime(r.End),
			Filename: r.Filename, Format: recording.Format(r.Format), Size: r.Size, SHA256: r.SHA256,
			Duration: r.Duration, State: recording.State(r.State), Deleted: r.Deleted})
	}
	return out, nil
}

// AdoptRecording indexes a file found in the layout without a row. If the
// tenant has no call with a.CallID, a placeholder call with exactly that id
// is created from what the file tells: pbx_call_id "reindex:<id>", answered
// when the recording starts (a call is recorded once answered) and ended
// when it ends, so its duration is the recording's; its direction is
// Wazo's "internal", tagged "reindexed" and TagGuessedDirection. The recording row says started_by
// "policy" (the schema has no "unknown"). All or nothing; a recording uuid
// that already has a row gives media.ErrAlreadyIndexed.
func (s *Store) AdoptRecording(ctx context.Context, a media.Adoption) error {
	op := "adopt recording " + a.UUID
	if a.State != recording.StateStopped && a.State != recording.StateCorrupt {
		return fmt.Errorf("%s: %w: state %q", op, ErrInvalid, a.State)
	}
	start := a.Start.UTC()
	end := start.Add(a.Duration)
	err := s.tx(ctx, func(tx querier) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM recordings WHERE uuid = ?`, a.UUID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return media.ErrAlreadyIndexed
		}
		var tenant string
		err := tx.QueryRowContext(ctx, `SELECT tenant_uuid FROM calls WHERE id = ?`, a.CallID).Scan(&tenant)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			_, err = tx.ExecContext(ctx, `INSERT INTO calls (id, tenant_uuid, pbx_call_id, start_at, answer_at, end_at, direction, tags)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, a.CallID, a.Tenant, PlaceholderPBXCallID(a.CallID), micros(start),
				micros(start), micros(end), DirectionInternal, tagsJSON([]string{TagReindexed, TagGuessedDirection}))
			if err != nil {
				return err
			}
		case err != nil:
			return err
		case tenant != a.Tenant:
			return fmt.Errorf("%w: call %d belongs to tenant %s", ErrConflict, a.CallID, tenant)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO recordings (`+recordingColumns+`)
			VALUES (?, ?, ?, ?, ?, '[]', ?, ?, '', ?, ?, ?, ?, ?, NULL, '', 0, NULL)`,
			a.UUID, a.CallID, a.Tenant, micros(start), micros(end), a.Filename, string(a.Format),
			a.Size, a.Duration.Milliseconds(), a.SHA256, string(a.State), string(recording.ByPolicy))
		return err
	})
	if errors.Is(err, media.ErrAlreadyIndexed) {
		return fmt.Errorf("%s: %w", op, err)
	}
	return classify(op, err)
}

// UpdateIndexedFile rewrites a (non-live) recording's file facts and state,
// as reindex found them.
func (s *Store) UpdateIndexedFile(ctx context.Context, uuid string, f media.IndexedFile) error {
	res, err := s.q.ExecContext(ctx, `UPDATE recordings SET filename = ?, format = ?, size = ?, duration_ms = ?,
		sha256 = ?, state = ? WHERE uuid = ? AND state NOT IN ('pending', 'recording', 'paused')`,
		f.Filename, string(f.Format), f.Size, f.Duration.Milliseconds(), f.SHA256, string(f.State), uuid)
	return checkAffected("update indexed file "+uuid, res, err)
}

// RecordingRetention lists the tenants with a recording retention.
func (s *Store) RecordingRetention(ctx context.Context) ([]media.TenantRetention, error) {
	rows, err := s.q.QueryContext(ctx, `SELECT uuid, recording_days FROM tenants
		WHERE recording_days IS NOT NULL ORDER BY uuid`)
	if err != nil {
		return nil, classify("recording retention", err)
	}
	defer rows.Close()
	var out []media.TenantRetention
	for rows.Next() {
		var r media.TenantRetention
		if err := rows.Scan(&r.Tenant, &r.Days); err != nil {
			return nil, classify("recording retention", err)
		}
		out = append(out, r)
	}
	return out, classify("recording retention", rows.Err())
}

// AuditRecordingDelete is the audit action of a recording deleted.
const AuditRecordingDelete = "recording.delete"

// RetireRecording flags a recording deleted and appends the audit entry
// (actor r.Actor, action "recording.delete") in one transaction. A recording
// already deleted is left as it is, without a second entry; a live one is
// refused.
func (s *Store) RetireRecording(ctx context.Context, r media.Retirement) error {
	op := "retire recording " + r.UUID
	return s.InTx(ctx, func(ts *Store) error {
		rec, err := ts.GetRecording(ctx, r.Tenant, r.UUID)
		if err != nil {
			return err
		}
		if rec.Deleted {
			return nil
		}
		if rec.Live() {
			return fmt.Errorf("%s: %w: the recording is %s", op, ErrInvalid, rec.State)
		}
		if err := ts.MarkRecordingDeleted(ctx, r.Tenant, r.UUID, r.At); err != nil {
			return err
		}
		_, err = ts.AppendAudit(ctx, AuditEntry{At: r.At, TenantUUID: r.Tenant, Actor: r.Actor,
			Action: AuditRecordingDelete, ObjectType: "recording", ObjectID: r.UUID, Details: r.Details})
		return err
	})
}
