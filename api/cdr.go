package api

import (
	"encoding/csv"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/callrecd/callrecd/store"
	"github.com/labstack/echo/v4"
)

// cdrJSON is one call as Wazo's call-logd renders it, field for field.
type cdrJSON struct {
	ID                           int64              `json:"id"`
	TenantUUID                   string             `json:"tenant_uuid"`
	Start                        string             `json:"start"`
	End                          *string            `json:"end"`
	Answered                     bool               `json:"answered"`
	Answer                       *string            `json:"answer"`
	Duration                     *int64             `json:"duration"`
	CallDirection                string             `json:"call_direction"`
	CallStatus                   string             `json:"call_status"`
	ConversationID               *string            `json:"conversation_id"`
	DestinationDetails           destinationDetails `json:"destination_details"`
	DestinationExtension         string             `json:"destination_extension"`
	DestinationInternalContext   *string            `json:"destination_internal_context"`
	DestinationInternalExtension *string            `json:"destination_internal_extension"`
	DestinationLineID            *int64             `json:"destination_line_id"`
	DestinationName              string             `json:"destination_name"`
	DestinationUserUUID          *string            `json:"destination_user_uuid"`
	RequestedName                string             `json:"requested_name"`
	RequestedContext             string             `json:"requested_context"`
	RequestedExtension           string             `json:"requested_extension"`
	RequestedInternalContext     *string            `json:"requested_internal_context"`
	RequestedInternalExtension   *string            `json:"requested_internal_extension"`
	RequestedUserUUID            *string            `json:"requested_user_uuid"`
	SourceExtension              string             `json:"source_extension"`
	SourceInternalContext        *string            `json:"source_internal_context"`
	SourceInternalExtension      *string            `json:"source_internal_extension"`
	SourceInternalName           *string            `json:"source_internal_name"`
	SourceLineID                 *int64             `json:"source_line_id"`
	SourceName                   string             `json:"source_name"`
	SourceUserUUID               *string            `json:"source_user_uuid"`
	Tags                         []string           `json:"tags"`
	Recordings                   []recordingJSON    `json:"recordings"`
}

// destinationDetails is Wazo's destination_details: "user" with the
// user's uuid and name, or "unknown" (callrecd sees no conferences,
// meetings, groups or voicemail as destinations).
type destinationDetails struct {
	Type     string `json:"type"`
	UserUUID string `json:"user_uuid,omitempty"`
	UserName string `json:"user_name,omitempty"`
}

// recordingJSON is Wazo's five recording keys, then callrecd's own
// (additive: Wazo's clients ignore them).
type recordingJSON struct {
	UUID            string         `json:"uuid"`
	StartTime       string         `json:"start_time"`
	EndTime         *string        `json:"end_time"`
	Deleted         bool           `json:"deleted"`
	Filename        string         `json:"filename"`
	State           string         `json:"state"`
	StartedBy       string         `json:"started_by"`
	StopReason      *string        `json:"stop_reason"`
	FailureReason   *string        `json:"failure_reason"`
	PausedIntervals []intervalJSON `json:"paused_intervals"`
	Format          string         `json:"format"`
	Size            int64          `json:"size"`
	Duration        float64        `json:"duration"` // seconds, to the millisecond
	SHA256          *string        `json:"sha256"`
}

type intervalJSON struct {
	Start string  `json:"start"`
	End   *string `json:"end"`
}

func renderRecording(r store.Recording) recordingJSON {
	out := recordingJSON{UUID: r.UUID, StartTime: ts(r.Start), EndTime: tsPtr(r.End), Deleted: r.Deleted,
		Filename: r.Filename, State: r.State, StartedBy: r.StartedBy, StopReason: strPtr(r.StopReason),
		FailureReason: strPtr(r.FailureReason), PausedIntervals: make([]intervalJSON, len(r.PausedIntervals)),
		Format: r.Format, Size: r.Size, Duration: seconds(r.Duration), SHA256: strPtr(r.SHA256)}
	for i, iv := range r.PausedIntervals {
		out.PausedIntervals[i] = intervalJSON{Start: ts(iv.Start), End: tsPtr(iv.End)}
	}
	return out
}

func seconds(d time.Duration) float64 { return float64(d.Milliseconds()) / 1000 }

// callStatus is Wazo's call_status as far as callrecd can tell.
func callStatus(c *store.Call) string {
	if c.Answer != nil {
		return "answered"
	}
	return "unknown"
}

// requestedUser is the user first called: the destination user, unless
// the call went elsewhere than the number dialled.
func requestedUser(c *store.Call) string {
	if c.RequestedExtension == "" || c.RequestedExtension == c.DestinationExtension {
		return c.DestinationUserUUID
	}
	return ""
}

type cdrList struct {
	Items    []cdrJSON `json:"items"`
	Total    int       `json:"total"`
	Filtered int       `json:"filtered"`
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (s *server) dialplanContext(tenant string) string {
	if c, ok := s.contexts[tenant]; ok && c != "" {
		return c
	}
	return s.defCtx
}

func (s *server) renderCDR(c store.Call) cdrJSON {
	ctx := s.dialplanContext(c.TenantUUID)
	out := cdrJSON{ID: c.ID, TenantUUID: c.TenantUUID, Start: ts(c.Start), End: tsPtr(c.End),
		Answered: c.Answer != nil, Answer: tsPtr(c.Answer), CallDirection: c.Direction, CallStatus: callStatus(&c),
		ConversationID: strPtr(c.PBXCallID), DestinationDetails: destinationDetails{Type: "unknown"},
		DestinationExtension: c.DestinationExtension, DestinationName: c.DestinationName,
		DestinationUserUUID: strPtr(c.DestinationUserUUID), RequestedName: c.DestinationName,
		RequestedContext: ctx, RequestedExtension: c.RequestedExtension, RequestedUserUUID: strPtr(requestedUser(&c)),
		SourceExtension: c.SourceExtension, SourceName: c.SourceName, SourceUserUUID: strPtr(c.SourceUserUUID), Tags: c.Tags,
		Recordings: make([]recordingJSON, 0, len(c.Recordings))}
	if out.RequestedExtension == "" {
		out.RequestedExtension = c.DestinationExtension
	}
	if c.Answer != nil && c.End != nil {
		d := int64(c.End.Sub(*c.Answer).Seconds())
		out.Duration = &d
	}
	// Internal parties (users) are reached in the tenant's context.
	if c.DestinationUserUUID != "" {
		out.DestinationInternalContext, out.DestinationInternalExtension = &ctx, strPtr(c.DestinationExtension)
		out.RequestedInternalContext, out.RequestedInternalExtension = &ctx, strPtr(out.RequestedExtension)
		out.DestinationDetails = destinationDetails{Type: "user", UserUUID: c.DestinationUserUUID, UserName: c.DestinationName}
	}
	if c.SourceUserUUID != "" {
		out.SourceInternalContext, out.SourceInternalExtension = &ctx, strPtr(c.SourceExtension)
		out.SourceInternalName = strPtr(c.SourceName)
	}
	if out.Tags == nil {
		out.Tags = []string{}
	}
	for _, r := range c.Recordings {
		out.Recordings = append(out.Recordings, renderRecording(r))
	}
	return out
}

type cdrMode int

const (
	cdrAll    cdrMode = iota // GET /cdr: the tenant's calls
	cdrMe                    // GET /users/me/cdr: the token's user's calls
	cdrOfUser                // GET /users/{user_uuid}/cdr
)

var callDirections = []string{store.DirectionInternal, store.DirectionInbound, store.DirectionOutbound, store.DirectionUnknown}

// Wazo's rules for number (a leading and/or trailing "_" is a wildcard)
// and conversation_id (an Asterisk linkedid).
var (
	reNumber         = regexp.MustCompile(`^_?[0-9]+_?$`)
	reConversationID = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)
)

// parseCDRQuery reads Wazo's /cdr query string. Parameters it does not know
// are ignored, as Wazo's schema does (logged at debug); known ones with a
// bad value are refused naming the parameter.
func parseCDRQuery(c echo.Context) (store.CDRQuery, bool, error) {
	q := store.CDRQuery{Desc: true} // Wazo: order=start, direction=desc
	var err error
	unknownQuery(c, cdrQuery, []string{"token", "pretty"})
	if q.Page, err = parsePage(c, defaultLimit); err != nil {
		return q, false, err
	}
	if q.From, err = parseTime("from", c.QueryParam("from")); err != nil {
		return q, false, err
	}
	if q.Until, err = parseTime("until", c.QueryParam("until")); err != nil {
		return q, false, err
	}
	switch d := c.QueryParam("direction"); {
	case d == "" || d == "desc":
	case d == "asc":
		q.Desc = false
	case slices.Contains(callDirections, d):
		q.CallDirection = d // older clients filter with direction=
	default:
		return q, false, errInvalid("direction", "asc or desc")
	}
	if d := c.QueryParam("call_direction"); d != "" {
		if !slices.Contains(callDirections, d) {
			return q, false, errInvalid("call_direction", "internal, inbound, outbound or unknown")
		}
		q.CallDirection = d
	}
	if o := c.QueryParam("order"); o != "" {
		if !slices.Contains(store.CDROrderKeys(), o) {
			keys := store.CDROrderKeys()
			slices.Sort(keys)
			return q, false, errInvalid("order", "one of "+strings.Join(keys, ", "))
		}
		q.Order = o
	}
	q.Search = c.QueryParam("search")
	if err := checkLen("search", q.Search, 128); err != nil {
		return q, false, err
	}
	q.Number = c.QueryParam("number")
	if q.Number != "" && (len(q.Number) > 64 || !reNumber.MatchString(q.Number)) {
		return q, false, errInvalid("number", "digits, with an optional leading and/or trailing _ (^_?[0-9]+_?$)")
	}
	if t := c.QueryParam("tags"); t != "" {
		for _, tag := range strings.Split(t, ",") {
			if tag == "" || len(tag) > 128 {
				return q, false, errInvalid("tags", "comma-separated, each 1 to 128 bytes")
			}
			q.Tags = append(q.Tags, tag)
		}
	}
	if u := c.QueryParam("user_uuid"); u != "" {
		for _, one := range strings.Split(u, ",") {
			id, err := parseUUID("user_uuid", one)
			if err != nil {
				return q, false, err
			}
			q.UserUUIDs = append(q.UserUUIDs, id)
		}
		if len(q.UserUUIDs) > 100 {
			return q, false, errInvalid("user_uuid", "at most 100")
		}
	}
	if v := c.QueryParam("from_id"); v != "" {
		if q.FromID, err = strconv.ParseInt(v, 10, 64); err != nil || q.FromID < 0 {
			return q, false, errInvalid("from_id", "a non-negative integer")
		}
	}
	if q.Recorded, err = parseBool("recorded", c.QueryParam("recorded")); err != nil {
		return q, false, err
	}
	if _, err = parseBool("recurse", c.QueryParam("recurse")); err != nil {
		return q, false, err
	}
	if v := c.QueryParam("distinct"); v != "" {
		if !slices.Contains(store.CDRDistinct, v) {
			return q, false, errInvalid("distinct", "peer_exten")
		}
		q.Distinct = v
	}
	if v := c.QueryParam("call_status"); v != "" {
		if !slices.Contains(store.CallStatuses, v) {
			return q, false, errInvalid("call_status", strings.Join(store.CallStatuses, ", "))
		}
		q.CallStatus = v
	}
	if v := c.QueryParam("conversation_id"); v != "" {
		if len(v) > 64 || !reConversationID.MatchString(v) {
			return q, false, errInvalid("conversation_id", "not a valid conversation identifier")
		}
		q.ConversationID = v
	}
	csvOut, err := wantsCSV(c)
	return q, csvOut, err
}

// wantsCSV: ?format=csv, or an Accept header that prefers text/csv to
// JSON, as Wazo decides.
func wantsCSV(c echo.Context) (bool, error) {
	switch f := c.QueryParam("format"); f {
	case "":
		return preferCSV(c.Request().Header.Get("Accept")), nil
	case "json":
		return false, nil
	case "csv":
		return true, nil
	}
	return false, errInvalid("format", "json or csv")
}

// preferCSV reports whether an Accept header ranks text/csv above
// application/json.
func preferCSV(accept string) bool {
	qCSV, qJSON := -1.0, -1.0
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		switch mt {
		case "text/csv":
			qCSV = max(qCSV, q)
		case "application/json":
			qJSON = max(qJSON, q)
		}
	}
	return qCSV > 0 && qCSV > qJSON
}

func (s *server) listCDR(mode cdrMode) echo.HandlerFunc {
	return func(c echo.Context) error {
		q, csvOut, err := parseCDRQuery(c)
		if err != nil {
			return err
		}
		p := getPrincipal(c)
		q.Tenant = p.tenant
		q.RecordingSummary = true // the page and its recordings in one query
		switch mode {
		case cdrMe:
			q.ScopeUser = p.user
		case cdrOfUser:
			id, err := pathUUID(c, "user_uuid")
			if err != nil {
				return err
			}
			// Another tenant's user is not found, not an empty list.
			if _, err := s.store.GetUser(c.Request().Context(), p.tenant, id); err != nil {
				return fromStore("user", err)
			}
			q.ScopeUser = id
		}
		calls, total, filtered, err := s.store.QueryCDR(c.Request().Context(), q)
		if err != nil {
			return fromStore("cdr", err)
		}
		if !csvOut && !prettyJSON(c) {
			return s.writeCalls(c, calls, total, filtered)
		}
		out := cdrList{Items: make([]cdrJSON, len(calls)), Total: total, Filtered: filtered}
		for i, call := range calls {
			out.Items[i] = s.renderCDR(call)
		}
		if csvOut {
			return writeCSV(c, out.Items)
		}
		return c.JSON(http.StatusOK, &out) // ?pretty or debug: indented
	}
}

func (s *server) getCDR(c echo.Context) error {
	id, err := pathID(c, "cdr_id")
	if err != nil {
		return err
	}
	csvOut, err := wantsCSV(c)
	if err != nil {
		return err
	}
	call, err := s.store.GetCall(c.Request().Context(), getPrincipal(c).tenant, id)
	if err != nil {
		return fromStore("cdr", err)
	}
	if csvOut {
		return writeCSV(c, []cdrJSON{s.renderCDR(call)})
	}
	return c.JSON(http.StatusOK, s.renderCDR(call))
}

var recordingCSVKeys = []string{"uuid", "start_time", "end_time", "deleted", "filename", "state", "started_by",
	"stop_reason", "failure_reason", "paused_intervals", "format", "size", "duration", "sha256"}

// writeCSV flattens CDRs into one row each; recordings become
// recording_{n}_{key} columns (n from 1), as Wazo's call-logd does.
func writeCSV(c echo.Context, items []cdrJSON) error {
	maxRecs := 0
	for _, it := range items {
		maxRecs = max(maxRecs, len(it.Recordings))
	}
	header := []string{"id", "tenant_uuid", "start", "end", "answered", "answer", "duration", "call_direction",
		"destination_extension", "destination_internal_context", "destination_internal_extension",
		"destination_line_id", "destination_name", "destination_user_uuid", "requested_name", "requested_context",
		"requested_extension", "requested_internal_context", "requested_internal_extension", "source_extension",
		"source_internal_context", "source_internal_extension", "source_line_id", "source_name", "source_user_uuid", "tags",
		"call_status", "conversation_id", "requested_user_uuid", "source_internal_name"}
	for n := 1; n <= maxRecs; n++ {
		for _, k := range recordingCSVKeys {
			header = append(header, "recording_"+strconv.Itoa(n)+"_"+k)
		}
	}
	c.Response().Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	c.Response().Header().Set("Content-Disposition", "attachment; filename=cdr.csv")
	c.Response().WriteHeader(http.StatusOK)
	w := csv.NewWriter(c.Response())
	_ = w.Write(header)
	sp := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	ip := func(p *int64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatInt(*p, 10)
	}
	for _, it := range items {
		row := []string{strconv.FormatInt(it.ID, 10), it.TenantUUID, it.Start, sp(it.End),
			strconv.FormatBool(it.Answered), sp(it.Answer), ip(it.Duration), it.CallDirection,
			it.DestinationExtension, sp(it.DestinationInternalContext), sp(it.DestinationInternalExtension),
			ip(it.DestinationLineID), it.DestinationName, sp(it.DestinationUserUUID), it.RequestedName,
			it.RequestedContext, it.RequestedExtension, sp(it.RequestedInternalContext),
			sp(it.RequestedInternalExtension), it.SourceExtension, sp(it.SourceInternalContext),
			sp(it.SourceInternalExtension), ip(it.SourceLineID), it.SourceName, sp(it.SourceUserUUID),
			strings.Join(it.Tags, ","), it.CallStatus, sp(it.ConversationID), sp(it.RequestedUserUUID),
			sp(it.SourceInternalName)}
		for n := 0; n < maxRecs; n++ {
			if n < len(it.Recordings) {
				r := it.Recordings[n]
				paused := make([]string, len(r.PausedIntervals))
				for i, iv := range r.PausedIntervals {
					paused[i] = iv.Start + "/" + sp(iv.End) // ISO 8601 intervals, ";"-separated
				}
				row = append(row, r.UUID, r.StartTime, sp(r.EndTime), strconv.FormatBool(r.Deleted), r.Filename,
					r.State, r.StartedBy, sp(r.StopReason), sp(r.FailureReason), strings.Join(paused, ";"), r.Format,
					strconv.FormatInt(r.Size, 10), strconv.FormatFloat(r.Duration, 'f', -1, 64), sp(r.SHA256))
			} else {
				row = append(row, make([]string, len(recordingCSVKeys))...)
			}
		}
		_ = w.Write(row)
	}
	w.Flush()
	return w.Error()
}
