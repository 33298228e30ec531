package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CDR sort keys QueryCDR accepts (Wazo call-logd's `order`).
var cdrOrderColumns = map[string]string{
	"id":                    "id",
	"start":                 "start_at",
	"end":                   "end_at",
	"answer":                "answer_at",
	"answered":              "(answer_at IS NOT NULL)",
	"duration":              "(coalesce(end_at, 0) - coalesce(answer_at, end_at, 0))",
	"call_direction":        "direction",
	"source_extension":      "source_extension",
	"source_name":           "source_name",
	"destination_extension": "destination_extension",
	"destination_name":      "destination_name",
	// callrecd's own: by the call's recordings (the web page's columns). A
	// call without one sorts as NULL (first ascending, as SQLite orders).
	"recording_format":      recordingKey("min(format)"),
	"recording_size":        recordingKey("sum(size)"),
	"recording_state":       recordingKey("min(state)"),
	"recording_started_by":  recordingKey("min(started_by)"),
	"recording_stop_reason": recordingKey("min(stop_reason)"),
}

// recordingKey sorts calls by an aggregate of their recordings that are not
// deleted (recordings_call index).
func recordingKey(agg string) string {
	return "(SELECT " + agg + " FROM recordings WHERE recordings.call_id = calls.id AND NOT recordings.deleted)"
}

// CDROrderKeys lists the accepted CDRQuery.Order values.
func CDROrderKeys() []string {
	keys := make([]string, 0, len(cdrOrderColumns))
	for k := range cdrOrderColumns {
		keys = append(keys, k)
	}
	return keys
}

// CDRQuery selects calls as Wazo's GET /cdr does. Scope limits what the
// requester may see at all (total counts only that); the other fields filter.
type CDRQuery struct {
	Tenant    string // scope: "" = all tenants
	ScopeUser string // scope: only calls this user took part in ("" = any)

	UserUUIDs     []string // the call involves one of these users
	From          *time.Time
	Until         *time.Time
	CallDirection string // internal|inbound|outbound|unknown
	Search        string // substring of names and numbers
	// Number matches source or destination extension exactly; a leading
	// and/or trailing "_" is a wildcard (Wazo's rule).
	Number   string
	Tags     []string // the call carries every one of these tags
	FromID   int64    // id > FromID
	Recorded *bool    // with (true) or without (false) any recording
	CallIDs  []int64  // only these ids
	// CallStatus is Wazo's call_status: answered, unknown (not answered),
	// blocked or voicemail (callrecd sees neither: no call matches).
	CallStatus string
	// ConversationID is Wazo's conversation_id: the PBX call id.
	ConversationID string
	// Distinct "peer_exten" keeps, of the calls between a user and one
	// peer extension, the newest (Wazo's listDistinctCallLogs); with
	// ScopeUser, the newest per peer of that user.
	Distinct string

	Order string // a CDROrderKeys value; "" = start
	Desc  bool
	Page

	// RecordingSummary reads the page and its recordings in one query
	// (rather than the calls, then their recordings): every Recording field
	// but Channel and DeletedAt is set.
	RecordingSummary bool
}

func (q CDRQuery) filtered() bool {
	return len(q.UserUUIDs) > 0 || q.From != nil || q.Until != nil || q.CallDirection != "" || q.Search != "" ||
		q.Number != "" || len(q.Tags) > 0 || q.FromID > 0 || q.Recorded != nil || len(q.CallIDs) > 0 ||
		q.CallStatus != "" || q.ConversationID != "" || q.Distinct != ""
}

// Call statuses CDRQuery.CallStatus accepts (Wazo's CallStatus).
var CallStatuses = []string{"answered", "blocked", "voicemail", "unknown"}

// CDRDistinct are the CDRQuery.Distinct values.
var CDRDistinct = []string{"peer_exten"}

// QueryCDR lists calls with their recordings, the number of calls in scope
// (total) and the number matching the filters (filtered).
func (s *Store) QueryCDR(ctx context.Context, q CDRQuery) (calls []Call, total, filtered int, err error) {
	st, err := buildCDRQuery(q)
	if err != nil {
		return nil, 0, 0, err
	}
	if q.filtered() {
		err = s.r.QueryRowContext(ctx, st.countSQL, st.countArgs...).Scan(&total, &filtered)
	} else {
		err = s.r.QueryRowContext(ctx, st.countSQL, st.countArgs...).Scan(&total)
		filtered = total
	}
	if err != nil {
		return nil, 0, 0, classify("query cdr", err)
	}
	// Room for the page up front (a Call is large): what the count says is
	// left, at most the limit and at most 1000.
	want := min(filtered-q.Offset, 1000)
	if q.Limit > 0 {
		want = min(want, q.Limit)
	}
	calls = make([]Call, 0, max(want, 0))
	if q.RecordingSummary {
		if err := s.queryCallsWithRecordingSummaries(ctx, &calls, st.pageSQL, st.args); err != nil {
			return nil, 0, 0, classify("query cdr", err)
		}
		return calls, total, filtered, nil
	}
	rows, err := s.r.QueryContext(ctx, st.pageSQL, st.args...)
	if err != nil {
		return nil, 0, 0, classify("query cdr", err)
	}
	for rows.Next() {
		c, err := scanCall(rows)
		if err != nil {
			rows.Close()
			return nil, 0, 0, classify("query cdr", err)
		}
		calls = append(calls, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, 0, classify("query cdr", err)
	}
	if err := s.attachRecordings(ctx, calls); err != nil {
		return nil, 0, 0, classify("query cdr", err)
	}
	return calls, total, filtered, nil
}

// cdrStatements is what QueryCDR runs: countSQL reads total, then filtered
// too when the query is filtered; pageSQL reads the page (with the
// recording summaries when q.RecordingSummary).
type cdrStatements struct {
	countSQL  string
	countArgs []any
	pageSQL   string
	args      []any
}

// buildCDRQuery writes QueryCDR's SQL for q.
func buildCDRQuery(q CDRQuery) (cdrStatements, error) {
	order, ok := cdrOrderColumns[q.Order]
	if q.Order == "" {
		order, ok = "start_at", true
	}
	if !ok {
		return cdrStatements{}, fmt.Errorf("query cdr: %w: order %q", ErrInvalid, q.Order)
	}
	var where []string
	var args []any
	add := func(cond string, a ...any) { where = append(where, cond); args = append(args, a...) }
	// Equality terms compare with +? rather than ?: SQLite (3.54) looks at
	// the value bound to a plain `col = ?` while weighing plans that do not
	// use that column, and then marks the statement for recompilation on
	// every rebind, which defeats the statement cache. The unary plus hides
	// the value from the planner only; plans and results are the same.
	if q.Tenant != "" {
		add("tenant_uuid = +?", q.Tenant)
	}
	// total and filtered are read in one statement (below) when both are
	// needed.
	var totalSQL string
	var totalArgs []any
	if q.ScopeUser != "" {
		add("(source_user_uuid = +? OR destination_user_uuid = +?)", q.ScopeUser, q.ScopeUser)
		totalSQL, totalArgs = `SELECT count(*) FROM calls`+whereClause(where), slices.Clone(args)
	} else {
		// Kept by triggers: O(1) however many calls there are.
		totalSQL, totalArgs = `SELECT coalesce(sum(n), 0) FROM call_counts WHERE (? = '' OR tenant_uuid = ?)`,
			[]any{q.Tenant, q.Tenant}
	}
	if len(q.UserUUIDs) > 0 {
		ph := placeholders(len(q.UserUUIDs))
		a := make([]any, 0, 2*len(q.UserUUIDs))
		for _, u := range q.UserUUIDs {
			a = append(a, u)
		}
		for _, u := range q.UserUUIDs {
			a = append(a, u)
		}
		add("(source_user_uuid IN ("+ph+") OR destination_user_uuid IN ("+ph+"))", a...)
	}
	if q.From != nil {
		add("start_at >= ?", micros(*q.From))
	}
	if q.Until != nil {
		add("start_at < ?", micros(*q.Until))
	}
	if q.CallDirection != "" {
		add("direction = +?", q.CallDirection)
	}
	if q.Search != "" {
		like := likePattern(q.Search)
		add(`(source_extension LIKE ? ESCAPE '\' OR source_name LIKE ? ESCAPE '\'
			OR destination_extension LIKE ? ESCAPE '\' OR destination_name LIKE ? ESCAPE '\')`, like, like, like, like)
	}
	if q.Number != "" {
		if pat, wild := numberPattern(q.Number); wild {
			add(`(source_extension LIKE ? ESCAPE '\' OR destination_extension LIKE ? ESCAPE '\'
				OR requested_extension LIKE ? ESCAPE '\')`, pat, pat, pat)
		} else {
			// requested: a ring group's or queue's number finds its calls
			add("(source_extension = ? OR destination_extension = ? OR requested_extension = ?)", pat, pat, pat)
		}
	}
	for _, tag := range q.Tags {
		add("EXISTS (SELECT 1 FROM json_each(calls.tags) WHERE value = ?)", tag)
	}
	if q.FromID > 0 {
		add("id > ?", q.FromID)
	}
	if q.Recorded != nil {
		cond := "EXISTS (SELECT 1 FROM recordings r WHERE r.call_id = calls.id)"
		if !*q.Recorded {
			cond = "NOT " + cond
		}
		add(cond)
	}
	switch q.CallStatus {
	case "":
	case "answered":
		add("answer_at IS NOT NULL")
	case "unknown":
		add("answer_at IS NULL")
	case "blocked", "voicemail":
		add("0") // callrecd does not see blocked calls or voicemail
	default:
		return cdrStatements{}, fmt.Errorf("query cdr: %w: call_status %q", ErrInvalid, q.CallStatus)
	}
	if q.ConversationID != "" {
		add("pbx_call_id = ?", q.ConversationID)
	}
	switch q.Distinct {
	case "":
	case "peer_exten":
		// Each user party's peer is the other side's extension.
		if q.ScopeUser != "" {
			add(`id IN (SELECT max(id) FROM (SELECT id, destination_extension AS peer FROM calls WHERE source_user_uuid = ?
				UNION ALL SELECT id, source_extension FROM calls WHERE destination_user_uuid = ?) GROUP BY peer)`,
				q.ScopeUser, q.ScopeUser)
		} else {
			add(`id IN (SELECT max(id) FROM (SELECT id, source_user_uuid AS u, destination_extension AS peer FROM calls
				WHERE source_user_uuid IS NOT NULL AND (? = '' OR tenant_uuid = ?)
				UNION ALL SELECT id, destination_user_uuid, source_extension FROM calls
				WHERE destination_user_uuid IS NOT NULL AND (? = '' OR tenant_uuid = ?)) GROUP BY u, peer)`,
				q.Tenant, q.Tenant, q.Tenant, q.Tenant)
		}
	default:
		return cdrStatements{}, fmt.Errorf("query cdr: %w: distinct %q", ErrInvalid, q.Distinct)
	}
	if len(q.CallIDs) > 0 {
		a := make([]any, len(q.CallIDs))
		for i, id := range q.CallIDs {
			a[i] = id
		}
		add("id IN ("+placeholders(len(q.CallIDs))+")", a...)
	}
	st := cdrStatements{countSQL: totalSQL, countArgs: totalArgs, args: args}
	if q.filtered() {
		// count(*) is exact (Wazo returns it) and is answered from the
		// same index as the page.
		st.countSQL = `SELECT (` + totalSQL + `), (SELECT count(*) FROM calls` + whereClause(where) + `)`
		st.countArgs = append(totalArgs, args...)
	}
	dir := " ASC"
	if q.Desc {
		dir = " DESC"
	}
	// LIMIT and OFFSET are written into the SQL (they are ints), for the
	// same reason: SQLite plans with a bound LIMIT's value and recompiles
	// such a statement whenever it is rebound.
	pageSQL := ` FROM calls` + pageIndex(q, order) + whereClause(where) + ` ORDER BY ` + order + dir + `, id` + dir +
		` LIMIT ` + strconv.Itoa(limitArg(q.Limit)) + ` OFFSET ` + strconv.Itoa(q.Offset)
	if q.RecordingSummary {
		// The page and its recordings in one query: the page's calls in
		// order, each followed by its recordings (a call without any comes
		// once, with NULLs). SQLite keeps the subquery's order (no sort).
		st.pageSQL = `SELECT ` + cListCallColumns +
			`, ` + summaryRecordingColumns + ` FROM (SELECT ` + listCallColumns + `, ` + order + ` AS sort_key` +
			pageSQL + `) c LEFT JOIN recordings r ON r.call_id = c.id ORDER BY c.sort_key` + dir + `, c.id` + dir
	} else {
		st.pageSQL = `SELECT ` + callColumns + pageSQL
	}
	return st, nil
}

// pageIndex names the index the page query must use when SQLite's own choice
// is known to be worse, else "". With a tenant and a direction, ordered by
// start, calls_tenant_direction_start (tenant_uuid, direction, start_at, id)
// holds exactly the matching calls in the page's order: no sort, and only the
// rows of that direction are visited. Without statistics SQLite rates it
// level with calls_tenant_start (tenant_uuid, start_at) once start_at has a
// two-sided range, and takes the latter, which visits every direction and
// reads each call's row to check it (about three times the rows).
// The other filters do not change that: they are checked row by row on
// either index, except the users, the call ids and from_id, which can be
// answered from other indexes (users, rowid), so SQLite keeps the choice then.
func pageIndex(q CDRQuery, order string) string {
	if q.Tenant == "" || q.CallDirection == "" || order != "start_at" ||
		len(q.UserUUIDs) > 0 || q.ScopeUser != "" || len(q.CallIDs) > 0 || q.FromID > 0 {
		return ""
	}
	return " INDEXED BY calls_tenant_direction_start"
}

func placeholders(n int) string {
	return "?" + strings.Repeat(", ?", n-1)
}

// numberPattern turns Wazo's number filter into a LIKE pattern when it has a
// leading or trailing "_" wildcard, else returns the number as is.
func numberPattern(n string) (string, bool) {
	lead, trail := strings.HasPrefix(n, "_"), strings.HasSuffix(n, "_") && len(n) > 1
	if !lead && !trail {
		return n, false
	}
	core := strings.TrimSuffix(strings.TrimPrefix(n, "_"), "_")
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	pat := r.Replace(core)
	if lead {
		pat = "%" + pat
	}
	if trail {
		pat += "%"
	}
	return pat, true
}

// RecordingStateCounts counts recordings by state, for metrics; a deleted
// recording counts as "deleted", not as the state it had.
func (s *Store) RecordingStateCounts(ctx context.Context) (map[string]int, error) {
	rows, err := s.q.QueryContext(ctx, `SELECT CASE WHEN deleted THEN 'deleted' ELSE state END, count(*)
		FROM recordings GROUP BY 1`)
	if err != nil {
		return nil, classify("recording state counts", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, classify("recording state counts", err)
		}
		out[st] = n
	}
	return out, classify("recording state counts", rows.Err())
}

// SetRetention replaces a tenant's retention (nil: keep forever).
func (s *Store) SetRetention(ctx context.Context, tenant string, r Retention) error {
	res, err := s.q.ExecContext(ctx, `UPDATE tenants SET cdr_days = ?, recording_days = ?, export_days = ?, updated_at = ?
		WHERE uuid = ?`, nullInt(r.CDRDays), nullInt(r.RecordingDays), nullInt(r.ExportDays), micros(s.now()), tenant)
	return checkAffected("set retention "+tenant, res, err)
}

// BulkInsertCalls inserts n calls, each with the recordings fill gives it, in
// one transaction with prepared statements. It is meant for benchmarks and
// load tests (a million rows in seconds), not for the engine: it does not
// deduplicate PBX call ids. Recording.CallID is set from the new call's id.
func (s *Store) BulkInsertCalls(ctx context.Context, n int, fill func(i int) Call) error {
	return s.tx(ctx, func(tx querier) error {
		p, ok := tx.(interface {
			PrepareContext(context.Context, string) (*sql.Stmt, error)
		})
		if !ok {
			return fmt.Errorf("bulk insert: %w: not in a transaction", ErrInvalid)
		}
		callStmt, err := p.PrepareContext(ctx, `INSERT INTO calls (tenant_uuid, pbx_call_id, start_at, answer_at, end_at,
			direction, source_extension, source_name, source_user_uuid, destination_extension, destination_name,
			destination_user_uuid, requested_extension, tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return classify("bulk insert", err)
		}
		defer callStmt.Close()
		recStmt, err := p.PrepareContext(ctx, `INSERT INTO recordings (`+recordingColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return classify("bulk insert", err)
		}
		defer recStmt.Close()
		for i := 0; i < n; i++ {
			c := fill(i)
			if c.Direction == "" {
				c.Direction = DirectionUnknown
			}
			res, err := callStmt.ExecContext(ctx, c.TenantUUID, c.PBXCallID, micros(c.Start), nullMicros(c.Answer),
				nullMicros(c.End), c.Direction, c.SourceExtension, c.SourceName, nullString(c.SourceUserUUID),
				c.DestinationExtension, c.DestinationName, nullString(c.DestinationUserUUID), c.RequestedExtension,
				tagsJSON(c.Tags))
			if err != nil {
				return classify("bulk insert", err)
			}
			id, err := res.LastInsertId()
			if err != nil {
				return err
			}
			for _, r := range c.Recordings {
				if _, err := recStmt.ExecContext(ctx, r.UUID, id, c.TenantUUID, micros(r.Start), nullMicros(r.End),
					intervalsJSON(r.PausedIntervals), r.Filename, r.Format, r.Channel, r.Size, r.Duration.Milliseconds(),
					r.SHA256, r.State, r.StartedBy, nullString(r.StopReason), r.FailureReason, r.Deleted,
					nullMicros(r.DeletedAt)); err != nil {
					return classify("bulk insert", err)
				}
			}
		}
		return nil
	})
}
