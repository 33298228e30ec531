package api

import (
	"encoding/csv"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/callrecd/callrecd/store"
	"github.com/labstack/echo/v4"
)

// cdrJSON is one call as Wazo's call-logd renders it, field for field.
type cdrJSON struct {
	ID                           int64           `json:"id"`
	TenantUUID                   string          `json:"tenant_uuid"`
	Start                        string          `json:"start"`
	End                          *string         `json:"end"`
	Answered                     bool            `json:"answered"`
	Answer                       *string         `json:"answer"`
	Duration                     *int64          `json:"duration"`
	CallDirection                string          `json:"call_direction"`
	DestinationExtension         string          `json:"destination_extension"`
	DestinationInternalContext   *string         `json:"destination_internal_context"`
	DestinationInternalExtension *string         `json:"destination_internal_extension"`
	DestinationLineID            *int64          `json:"destination_line_id"`
	DestinationName              string          `json:"destination_name"`
	DestinationUserUUID          *string         `json:"destination_user_uuid"`
	RequestedName                string          `json:"requested_name"`
	RequestedContext             string          `json:"requested_context"`
	RequestedExtension           string          `json:"requested_extension"`
	RequestedInternalContext     *string         `json:"requested_internal_context"`
	RequestedInternalExtension   *string         `json:"requested_internal_extension"`
	SourceExtension              string          `json:"source_extension"`
	SourceInternalContext        *string         `json:"source_internal_context"`
	SourceInternalExtension      *string         `json:"source_internal_extension"`
	SourceLineID                 *int64          `json:"source_line_id"`
	SourceName                   string          `json:"source_name"`
	SourceUserUUID               *string         `json:"source_user_uuid"`
	Tags                         []string        `json:"tags"`
	Recordings                   []recordingJSON `json:"recordings"`
}

type recordingJSON struct {
	UUID      string  `json:"uuid"`
	StartTime string  `json:"start_time"`
	EndTime   *string `json:"end_time"`
	Deleted   bool    `json:"deleted"`
	Filename  string  `json:"filename"`
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
		Answered: c.Answer != nil, Answer: tsPtr(c.Answer), CallDirection: c.Direction,
		DestinationExtension: c.DestinationExtension, DestinationName: c.DestinationName,
		DestinationUserUUID: strPtr(c.DestinationUserUUID), RequestedName: c.DestinationName,
		RequestedContext: ctx, RequestedExtension: c.RequestedExtension, SourceExtension: c.SourceExtension,
		SourceName: c.SourceName, SourceUserUUID: strPtr(c.SourceUserUUID), Tags: c.Tags,
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
	}
	if c.SourceUserUUID != "" {
		out.SourceInternalContext, out.SourceInternalExtension = &ctx, strPtr(c.SourceExtension)
	}
	if out.Tags == nil {
		out.Tags = []string{}
	}
	for _, r := range c.Recordings {
		out.Recordings = append(out.Recordings, recordingJSON{UUID: r.UUID, StartTime: ts(r.Start),
			EndTime: tsPtr(r.End), Deleted: r.Deleted, Filename: r.Filename})
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

// parseCDRQuery reads Wazo's /cdr query string.
func parseCDRQuery(c echo.Context) (store.CDRQuery, bool, error) {
	var q store.CDRQuery
	var err error
	qp := c.QueryParams()
	for k := range qp {
		if !slices.Contains(cdrQuery, k) && k != "token" {
			return q, false, errInvalid(k, "unknown query parameter")
		}
	}
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
	case d == "" || d == "asc":
	case d == "desc":
		q.Desc = true
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
	if err := checkLen("number", q.Number, 64); err != nil {
		return q, false, err
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
	csvOut := false
	switch f := c.QueryParam("format"); f {
	case "", "json":
		csvOut = f == "" && strings.HasPrefix(c.Request().Header.Get("Accept"), "text/csv")
	case "csv":
		csvOut = true
	default:
		return q, false, errInvalid("format", "json or csv")
	}
	return q, csvOut, nil
}

func (s *server) listCDR(mode cdrMode) echo.HandlerFunc {
	return func(c echo.Context) error {
		q, csvOut, err := parseCDRQuery(c)
		if err != nil {
			return err
		}
		p := getPrincipal(c)
		q.Tenant = p.tenant
		q.RecordingSummary = true // renderCDR shows no more than that
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
	call, err := s.store.GetCall(c.Request().Context(), getPrincipal(c).tenant, id)
	if err != nil {
		return fromStore("cdr", err)
	}
	return c.JSON(http.StatusOK, s.renderCDR(call))
}

var recordingCSVKeys = []string{"uuid", "start_time", "end_time", "deleted", "filename"}

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
		"source_internal_context", "source_internal_extension", "source_line_id", "source_name", "source_user_uuid", "tags"}
	for n := 1; n <= maxRecs; n++ {
		for _, k := range recordingCSVKeys {
			header = append(header, "recording_"+strconv.Itoa(n)+"_"+k)
		}
	}
	c.Response().Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
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
			strings.Join(it.Tags, ",")}
		for n := 0; n < maxRecs; n++ {
			if n < len(it.Recordings) {
				r := it.Recordings[n]
				row = append(row, r.UUID, r.StartTime, sp(r.EndTime), strconv.FormatBool(r.Deleted), r.Filename)
			} else {
				row = append(row, "", "", "", "", "")
			}
		}
		_ = w.Write(row)
	}
	w.Flush()
	return w.Error()
}
