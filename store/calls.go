package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// Call directions, as Wazo's call-logd reports them.
const (
	DirectionInternal = "internal"
	DirectionInbound  = "inbound"
	DirectionOutbound = "outbound"
	DirectionUnknown  = "unknown"
)

// Call is one CDR row.
type Call struct {
	ID                   int64
	TenantUUID           string
	PBXCallID            string
	Start                time.Time
	Answer               *time.Time
	End                  *time.Time
	Direction            string
	SourceExtension      string
	SourceName           string
	SourceUserUUID       string
	DestinationExtension string
	DestinationName      string
	DestinationUserUUID  string
	RequestedExtension   string
	Tags                 []string
	Recordings           []Recording
}

const callColumns = `id, tenant_uuid, pbx_call_id, start_at, answer_at, end_at, direction,
	source_extension, source_name, source_user_uuid, destination_extension, destination_name,
	destination_user_uuid, requested_extension, tags`

func scanCall(row interface{ Scan(...any) error }) (Call, error) {
	var c Call
	var start int64
	var answer, end sql.NullInt64
	var srcUser, dstUser sql.NullString
	var tags string
	err := row.Scan(&c.ID, &c.TenantUUID, &c.PBXCallID, &start, &answer, &end, &c.Direction,
		&c.SourceExtension, &c.SourceName, &srcUser, &c.DestinationExtension, &c.DestinationName,
		&dstUser, &c.RequestedExtension, &tags)
	if err != nil {
		return Call{}, err
	}
	c.Start, c.Answer, c.End = fromMicros(start), timePtr(answer), timePtr(end)
	c.SourceUserUUID, c.DestinationUserUUID = srcUser.String, dstUser.String
	if tags == "[]" {
		c.Tags = []string{}
	} else if err := json.Unmarshal([]byte(tags), &c.Tags); err != nil {
		return Call{}, err
	}
	c.Recordings = []Recording{}
	return c, nil
}

func tagsJSON(tags []string) string {
	if tags == nil {
		tags = []string{}
	}
	b, _ := json.Marshal(tags)
	return string(b)
}

// CreateCall inserts a CDR row. Creating the same PBX call twice (a replayed
// event) returns the existing row instead of a second one.
func (s *Store) CreateCall(ctx context.Context, c Call) (Call, error) {
	if c.Direction == "" {
		c.Direction = DirectionUnknown
	}
	var id int64
	err := s.tx(ctx, func(tx querier) error {
		err := tx.QueryRowContext(ctx, `SELECT id FROM calls WHERE tenant_uuid = ? AND pbx_call_id = ?`,
			c.TenantUUID, c.PBXCallID).Scan(&id)
		if err == nil {
			return nil
		}
		if err != sql.ErrNoRows {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO calls (tenant_uuid, pbx_call_id, start_at, answer_at, end_at,
			direction, source_extension, source_name, source_user_uuid, destination_extension, destination_name,
			destination_user_uuid, requested_extension, tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.TenantUUID, c.PBXCallID, micros(c.Start), nullMicros(c.Answer), nullMicros(c.End), c.Direction,
			c.SourceExtension, c.SourceName, nullString(c.SourceUserUUID), c.DestinationExtension,
			c.DestinationName, nullString(c.DestinationUserUUID), c.RequestedExtension, tagsJSON(c.Tags))
		if err != nil {
			return err
		}
		id, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return Call{}, classify("create call "+c.PBXCallID, err)
	}
	return s.GetCall(ctx, c.TenantUUID, id)
}

// UpdateCall replaces a call's mutable fields: answer and end times,
// direction, parties, and tags unless c.Tags is nil (the engine does not
// know tags; it must not wipe the ones set over the API).
func (s *Store) UpdateCall(ctx context.Context, c Call) error {
	var tags sql.NullString
	if c.Tags != nil {
		tags = sql.NullString{String: tagsJSON(c.Tags), Valid: true}
	}
	res, err := s.q.ExecContext(ctx, `UPDATE calls SET answer_at = ?, end_at = ?, direction = ?,
		source_extension = ?, source_name = ?, source_user_uuid = ?, destination_extension = ?,
		destination_name = ?, destination_user_uuid = ?, requested_extension = ?, tags = coalesce(?, tags)
		WHERE id = ? AND tenant_uuid = ?`,
		nullMicros(c.Answer), nullMicros(c.End), c.Direction, c.SourceExtension, c.SourceName,
		nullString(c.SourceUserUUID), c.DestinationExtension, c.DestinationName,
		nullString(c.DestinationUserUUID), c.RequestedExtension, tags, c.ID, c.TenantUUID)
	return checkAffected("update call", res, err)
}

// SetCallAnswered records the answer time once; a later duplicate is ignored.
func (s *Store) SetCallAnswered(ctx context.Context, id int64, at time.Time) error {
	res, err := s.q.ExecContext(ctx, `UPDATE calls SET answer_at = coalesce(answer_at, ?) WHERE id = ?`, micros(at), id)
	return checkAffected("set call answered", res, err)
}

// SetCallEnded records the end time once; a later duplicate is ignored.
func (s *Store) SetCallEnded(ctx context.Context, id int64, at time.Time) error {
	res, err := s.q.ExecContext(ctx, `UPDATE calls SET end_at = coalesce(end_at, ?) WHERE id = ?`, micros(at), id)
	return checkAffected("set call ended", res, err)
}

// GetCall reads a call with its recordings ("" tenant: any tenant).
func (s *Store) GetCall(ctx context.Context, tenant string, id int64) (Call, error) {
	c, err := scanCall(s.r.QueryRowContext(ctx, `SELECT `+callColumns+` FROM calls
		WHERE id = ? AND (? = '' OR tenant_uuid = ?)`, id, tenant, tenant))
	if err != nil {
		return Call{}, classify("get call", err)
	}
	calls := []Call{c}
	if err := s.attachRecordings(ctx, calls); err != nil {
		return Call{}, classify("get call", err)
	}
	return calls[0], nil
}

// CallFilter selects calls for ListCalls.
type CallFilter struct {
	Tenant    string     // "" = all tenants
	From      *time.Time // start >= From
	Until     *time.Time // start < Until
	Direction string     // internal|inbound|outbound, "" = any
	UserUUID  string     // the user is source or destination
	Search    string     // substring of numbers or names
	Recorded  *bool      // only calls with (true) or without (false) a recording
	Desc      bool       // newest first
	Page
}

// ListCalls lists calls with their recordings, the number of calls of the
// tenant (total) and the number matching the filter (filtered), as Wazo's
// call-logd answers.
func (s *Store) ListCalls(ctx context.Context, f CallFilter) (calls []Call, total, filtered int, err error) {
	var where []string
	var args []any
	add := func(cond string, a ...any) { where = append(where, cond); args = append(args, a...) }
	if f.Tenant != "" {
		add("tenant_uuid = ?", f.Tenant)
	}
	if err := s.q.QueryRowContext(ctx, `SELECT count(*) FROM calls`+whereClause(where), args...).Scan(&total); err != nil {
		return nil, 0, 0, classify("list calls", err)
	}
	if f.From != nil {
		add("start_at >= ?", micros(*f.From))
	}
	if f.Until != nil {
		add("start_at < ?", micros(*f.Until))
	}
	if f.Direction != "" {
		add("direction = ?", f.Direction)
	}
	if f.UserUUID != "" {
		add("(source_user_uuid = ? OR destination_user_uuid = ?)", f.UserUUID, f.UserUUID)
	}
	if f.Search != "" {
		like := likePattern(f.Search)
		add(`(source_extension LIKE ? ESCAPE '\' OR source_name LIKE ? ESCAPE '\'
			OR destination_extension LIKE ? ESCAPE '\' OR destination_name LIKE ? ESCAPE '\')`, like, like, like, like)
	}
	if f.Recorded != nil {
		cond := "EXISTS (SELECT 1 FROM recordings r WHERE r.call_id = calls.id)"
		if !*f.Recorded {
			cond = "NOT " + cond
		}
		add(cond)
	}
	if err := s.q.QueryRowContext(ctx, `SELECT count(*) FROM calls`+whereClause(where), args...).Scan(&filtered); err != nil {
		return nil, 0, 0, classify("list calls", err)
	}
	order := " ORDER BY start_at, id"
	if f.Desc {
		order = " ORDER BY start_at DESC, id DESC"
	}
	rows, err := s.q.QueryContext(ctx, `SELECT `+callColumns+` FROM calls`+whereClause(where)+order+` LIMIT ? OFFSET ?`,
		append(args, limitArg(f.Limit), f.Offset)...)
	if err != nil {
		return nil, 0, 0, classify("list calls", err)
	}
	for rows.Next() {
		c, err := scanCall(rows)
		if err != nil {
			rows.Close()
			return nil, 0, 0, classify("list calls", err)
		}
		calls = append(calls, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, 0, classify("list calls", err)
	}
	if err := s.attachRecordings(ctx, calls); err != nil {
		return nil, 0, 0, classify("list calls", err)
	}
	return calls, total, filtered, nil
}

func whereClause(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// listCallColumns are the columns of a call a CDR listing shows (all of
// callColumns: pbx_call_id is Wazo's conversation_id). cListCallColumns is
// the same of the alias c.
const listCallColumns = callColumns

// summaryRecordingColumns are the recording columns a CDR listing shows
// (recordingColumns but call_id, channel and deleted_at), of the alias r.
const summaryRecordingColumns = `r.uuid, r.tenant_uuid, r.start_at, r.end_at, r.filename, r.deleted,
	r.paused_intervals, r.format, r.size, r.duration_ms, r.sha256, r.state, r.started_by, r.stop_reason, r.failure_reason`

var cListCallColumns = prefixed("c.", listCallColumns)

// queryCallsWithRecordingSummaries appends to calls the calls a query reads
// with the listing's fields of their recordings (see
// CDRQuery.RecordingSummary): listCallColumns then summaryRecordingColumns,
// one row per recording (NULLs for a call without any), a call's rows
// together.
func (s *Store) queryCallsWithRecordingSummaries(ctx context.Context, calls *[]Call, query string, args []any) error {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	out := *calls
	first := len(out)
	var c Call
	var start int64
	var answer, end sql.NullInt64
	var srcUser, dstUser sql.NullString
	var tags string
	var recUUID, recTenant, recFile, recPaused, recFormat, recSHA, recState, recBy, recStop, recFail sql.NullString
	var recStart, recEnd, recSize, recDur sql.NullInt64
	var recDeleted sql.NullBool
	for rows.Next() {
		c = Call{}
		if err := rows.Scan(&c.ID, &c.TenantUUID, &c.PBXCallID, &start, &answer, &end, &c.Direction,
			&c.SourceExtension, &c.SourceName, &srcUser, &c.DestinationExtension, &c.DestinationName,
			&dstUser, &c.RequestedExtension, &tags, &recUUID, &recTenant, &recStart, &recEnd, &recFile, &recDeleted,
			&recPaused, &recFormat, &recSize, &recDur, &recSHA, &recState, &recBy, &recStop, &recFail); err != nil {
			return err
		}
		if n := len(out); n == first || out[n-1].ID != c.ID {
			c.Start, c.Answer, c.End = fromMicros(start), timePtr(answer), timePtr(end)
			c.SourceUserUUID, c.DestinationUserUUID = srcUser.String, dstUser.String
			if tags == "[]" {
				c.Tags = []string{}
			} else if err := json.Unmarshal([]byte(tags), &c.Tags); err != nil {
				return err
			}
			c.Recordings = []Recording{}
			out = append(out, c)
		}
		if recUUID.Valid {
			last := &out[len(out)-1]
			r := Recording{UUID: recUUID.String, CallID: last.ID,
				TenantUUID: recTenant.String, Start: fromMicros(recStart.Int64), End: timePtr(recEnd),
				Filename: recFile.String, Deleted: recDeleted.Bool, Format: recFormat.String, Size: recSize.Int64,
				Duration: time.Duration(recDur.Int64) * time.Millisecond, SHA256: recSHA.String, State: recState.String,
				StartedBy: recBy.String, StopReason: recStop.String, FailureReason: recFail.String}
			if r.PausedIntervals, err = parseIntervals(recPaused.String); err != nil {
				return err
			}
			last.Recordings = append(last.Recordings, r)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	// Each call's few recordings in the order attachRecordings reads them
	// (start, uuid): cheaper here than an ORDER BY that makes SQLite sort
	// the whole page.
	for i := first; i < len(out); i++ {
		if len(out[i].Recordings) > 1 {
			slices.SortFunc(out[i].Recordings, func(a, b Recording) int {
				if c := a.Start.Compare(b.Start); c != 0 {
					return c
				}
				return strings.Compare(a.UUID, b.UUID)
			})
		}
	}
	*calls = out
	return nil
}

// callIndex maps each call id of a page to its position, and lists the ids
// as query arguments.
func callIndex(calls []Call) (map[int64]int, []any) {
	index := make(map[int64]int, len(calls))
	ids := make([]any, len(calls))
	for i, c := range calls {
		index[c.ID] = i
		ids[i] = c.ID
	}
	return index, ids
}

// attachRecordings loads the recordings of a page of calls in one query.
func (s *Store) attachRecordings(ctx context.Context, calls []Call) error {
	if len(calls) == 0 {
		return nil
	}
	index, ids := callIndex(calls)
	rows, err := s.r.QueryContext(ctx, `SELECT `+recordingColumns+` FROM recordings
		WHERE call_id IN (`+placeholders(len(ids))+`) ORDER BY start_at, uuid`, ids...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanRecording(rows)
		if err != nil {
			return err
		}
		i := index[r.CallID]
		calls[i].Recordings = append(calls[i].Recordings, r)
	}
	return rows.Err()
}
