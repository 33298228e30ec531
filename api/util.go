package api

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/callrecd/callrecd/store"
	"github.com/labstack/echo/v4"
)

// Paging bounds: Wazo clients page with limit/offset.
const (
	defaultLimit = 1000
	maxLimit     = 1000
	maxOffset    = 1 << 30
)

func parsePage(c echo.Context, def int) (store.Page, error) {
	p := store.Page{Limit: def}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return p, errInvalid("limit", "must be an integer from 1 to "+strconv.Itoa(maxLimit))
		}
		p.Limit = n
	}
	if v := c.QueryParam("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > maxOffset {
			return p, errInvalid("offset", "must be an integer from 0 to "+strconv.Itoa(maxOffset))
		}
		p.Offset = n
	}
	return p, nil
}

func parseBool(field, v string) (*bool, error) {
	if v == "" {
		return nil, nil
	}
	switch strings.ToLower(v) {
	case "true", "1", "yes":
		b := true
		return &b, nil
	case "false", "0", "no":
		b := false
		return &b, nil
	}
	return nil, errInvalid(field, "must be true or false")
}

// parseTime accepts RFC 3339 and Wazo's ISO 8601 forms (2021-04-01T00:00:00-0500,
// naive times as UTC, a bare date).
func parseTime(field, v string) (*time.Time, error) {
	if v == "" {
		return nil, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999-0700",
		"2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return &t, nil
		}
	}
	return nil, errInvalid(field, "not an ISO 8601 date-time")
}

func pathID(c echo.Context, name string) (int64, error) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || id < 1 {
		return 0, errInvalid(name, "must be a positive integer")
	}
	return id, nil
}

// audit appends an audit entry for the request; a failure fails the request
// (an unaudited download must not happen).
func (s *server) audit(c echo.Context, tenant, action, objType, objID string, details map[string]any) error {
	p := getPrincipal(c)
	if details == nil {
		details = map[string]any{}
	}
	details["request_id"] = requestID(c)
	actor := "anonymous"
	if p != nil {
		actor = p.actor()
		details["role"] = p.token.Role
		if p.user != "" {
			details["user_uuid"] = p.user
		}
	}
	_, err := s.store.AppendAudit(c.Request().Context(), store.AuditEntry{At: s.now(), TenantUUID: tenant,
		Actor: actor, Action: action, ObjectType: objType, ObjectID: objID, RemoteAddr: c.RealIP(), Details: details})
	return err
}

type list[T any] struct {
	Items []T `json:"items"`
	Total int `json:"total"`
}

func renderList[T any](c echo.Context, items []T, total int) error {
	if items == nil {
		items = []T{}
	}
	return c.JSON(http.StatusOK, list[T]{Items: items, Total: total})
}

var (
	reExten = regexp.MustCompile(`^[*#0-9]{1,20}$`)
	reName  = regexp.MustCompile(`^[-_.a-zA-Z0-9]{1,128}$`)
)

func checkLen(field, v string, max int) error {
	if len(v) > max {
		return errInvalid(field, "longer than "+strconv.Itoa(max)+" bytes")
	}
	if strings.ContainsRune(v, 0) {
		return errInvalid(field, "contains NUL")
	}
	return nil
}

const tsLayout = "2006-01-02T15:04:05.000000-07:00"

// ts renders a time as Wazo does: ISO 8601 with microseconds and +00:00.
func ts(t time.Time) string {
	var b [32]byte
	return string(appendTS(b[:0], t))
}

// appendTS appends ts(t). It writes the digits itself (a CDR page formats
// a few hundred times); years outside 0–9999 go through time.Format.
func appendTS(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, tsLayout)
	}
	hour, minute, sec := t.Clock()
	n := len(b)
	b = append(b, "0000-00-00T00:00:00.000000+00:00"...)
	put := func(i, v, width int) {
		for j := n + i + width - 1; j >= n+i; j-- {
			b[j] = byte('0' + v%10)
			v /= 10
		}
	}
	put(0, year, 4)
	put(5, int(month), 2)
	put(8, day, 2)
	put(11, hour, 2)
	put(14, minute, 2)
	put(17, sec, 2)
	put(20, t.Nanosecond()/1000, 6)
	return b
}

func tsPtr(t *time.Time) *string {
	if t == nil || t.IsZero() {
		return nil
	}
	s := ts(*t)
	return &s
}
