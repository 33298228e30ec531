package api

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callrecd/callrecd/store"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
)

// fuzzCDRSeeds are /cdr query strings of the api tests, the lab script
// (scripts/cdr-rotate.lua) and Wazo clients.
var fuzzCDRSeeds = []string{
	"", "recorded=true", "recorded=false", "call_direction=inbound", "direction=internal", "direction=desc&limit=1",
	"from=2021-05-15T00:00:00%2B00:00", "until=2021-05-15T00:00:00-0500", "search=Anastasia", "number=_456789",
	"tags=olga", "user_uuid=5ea37d0b-0823-4d2b-a18c-b9082e551b50", "from_id=12", "offset=1", "recurse=true&order=start",
	"format=csv&recorded=true&user_uuid=5ea37d0b-0823-4d2b-a18c-b9082e551b50",
	"from=2021-05-14T00:00:00Z&until=2021-05-15T00:00:00Z&call_direction=outbound&direction=desc&limit=1000&offset=2000",
	"user_uuid=5EA37D0B-0823-4D2B-A18C-B9082E551B50,1c7e0f4e-2b9a-4a59-a0a6-3a4e5d6c7b8a",
	"limit=0", "limit=100000", "limit=ten", "offset=-1", "from=yesterday", "order=start_at%3BDROP", "direction=sideways",
	"recorded=maybe", "user_uuid=5ea37d0b-0823-4d2b-a18c-b9082e551b50,nope", "sort=start", "format=xml",
	"from=2021-05-15&until=2021-05-16T10:11:12.123456", "tags=a,,b", "search=%00", "number=__", "token=abc&format=json",
	"=x", "from_id=-1", "recorded=YES&recurse=0",
}

// fuzzParseCDR runs parseCDRQuery on a GET /cdr with that query string.
func fuzzParseCDR(e *echo.Echo, rawQuery, accept string) (url.Values, store.CDRQuery, bool, error) {
	req := httptest.NewRequest(http.MethodGet, callLogd+"/cdr", nil)
	req.URL.RawQuery = rawQuery
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	c := e.NewContext(req, httptest.NewRecorder())
	q, csvOut, err := parseCDRQuery(c)
	return c.QueryParams(), q, csvOut, err
}

// encodeCDRQuery writes q back as a /cdr query string (the test's own
// encoder: the api has none).
func encodeCDRQuery(q store.CDRQuery, csvOut bool) url.Values {
	v := url.Values{}
	v.Set("limit", strconv.Itoa(q.Limit))
	if q.Offset != 0 {
		v.Set("offset", strconv.Itoa(q.Offset))
	}
	if q.From != nil {
		v.Set("from", q.From.Format(time.RFC3339Nano))
	}
	if q.Until != nil {
		v.Set("until", q.Until.Format(time.RFC3339Nano))
	}
	if q.Desc {
		v.Set("direction", "desc")
	}
	if q.CallDirection != "" {
		v.Set("call_direction", q.CallDirection)
	}
	if q.Order != "" {
		v.Set("order", q.Order)
	}
	if q.Search != "" {
		v.Set("search", q.Search)
	}
	if q.Number != "" {
		v.Set("number", q.Number)
	}
	if len(q.Tags) > 0 {
		v.Set("tags", strings.Join(q.Tags, ","))
	}
	if len(q.UserUUIDs) > 0 {
		v.Set("user_uuid", strings.Join(q.UserUUIDs, ","))
	}
	if q.FromID != 0 {
		v.Set("from_id", strconv.FormatInt(q.FromID, 10))
	}
	if q.Recorded != nil {
		v.Set("recorded", strconv.FormatBool(*q.Recorded))
	}
	if csvOut {
		v.Set("format", "csv")
	}
	return v
}

// FuzzParseCDRQuery: parseCDRQuery, the GET /api/call-logd/1.0/cdr (and
// /users/…/cdr) query string parser, on any query string (so any
// url.Values) and Accept header. Promised:
//   - no panic;
//   - a refusal is a 400 invalid-data apiError naming one field, a
//     parameter the request has ("Input Error - <field>: <why>", details
//     {<field>: {message: <why>}}): a known parameter whose value is wrong,
//     or the unknown parameter itself;
//   - an accepted query is within the bounds the store is promised (limit
//     1..1000, offset 0..2^30, search <= 128 bytes and number <= 64 without
//     NUL, tags 1..128 bytes, at most 100 canonical user uuids, from_id >= 0,
//     known order and call direction);
//   - written back as a query string (encodeCDRQuery), it parses to the same
//     query and output format.
func FuzzParseCDRQuery(f *testing.F) {
	for _, s := range fuzzCDRSeeds {
		f.Add(s, "")
	}
	f.Add("", "text/csv")
	f.Add("format=json", "text/csv; charset=utf-8")
	e := echo.New()
	f.Fuzz(func(t *testing.T, rawQuery, accept string) {
		qp, q, csvOut, err := fuzzParseCDR(e, rawQuery, accept)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) {
				t.Fatalf("%q: error %T %v, want an apiError", rawQuery, err, err)
			}
			if ae.Status != http.StatusBadRequest || ae.ErrorID != "invalid-data" || len(ae.Details) != 1 {
				t.Fatalf("%q: error %d %s %v", rawQuery, ae.Status, ae.ErrorID, ae.Details)
			}
			var field string
			for k := range ae.Details {
				field = k
			}
			vals, present := qp[field]
			if !present {
				t.Fatalf("%q: error names %q, not a parameter of the request: %v", rawQuery, field, ae)
			}
			if slices.Contains(cdrQuery, field) && (len(vals) == 0 || vals[0] == "") {
				t.Fatalf("%q: error names %q, which is empty: %v", rawQuery, field, ae)
			}
			d, _ := ae.Details[field].(map[string]any)
			why, _ := d["message"].(string)
			if why == "" || ae.Message != "Input Error - "+field+": "+why {
				t.Fatalf("%q: error message %q, details %v", rawQuery, ae.Message, ae.Details)
			}
			return
		}
		switch {
		case q.Limit < 1 || q.Limit > maxLimit, q.Offset < 0 || q.Offset > maxOffset:
			t.Fatalf("%q: page %+v", rawQuery, q.Page)
		case len(q.Search) > 128 || strings.ContainsRune(q.Search, 0), len(q.Number) > 64 || strings.ContainsRune(q.Number, 0):
			t.Fatalf("%q: search %q number %q", rawQuery, q.Search, q.Number)
		case len(q.UserUUIDs) > 100, q.FromID < 0:
			t.Fatalf("%q: %d user uuids, from_id %d", rawQuery, len(q.UserUUIDs), q.FromID)
		case q.Order != "" && !slices.Contains(store.CDROrderKeys(), q.Order):
			t.Fatalf("%q: order %q", rawQuery, q.Order)
		case q.CallDirection != "" && !slices.Contains(callDirections, q.CallDirection):
			t.Fatalf("%q: call direction %q", rawQuery, q.CallDirection)
		case q.Tenant != "" || q.ScopeUser != "" || q.CallIDs != nil || q.RecordingSummary:
			t.Fatalf("%q: scope fields set from the query string: %+v", rawQuery, q)
		}
		for _, tag := range q.Tags {
			if tag == "" || len(tag) > 128 {
				t.Fatalf("%q: tag %q", rawQuery, tag)
			}
		}
		for _, u := range q.UserUUIDs {
			if p, err := uuid.Parse(u); err != nil || p.String() != u {
				t.Fatalf("%q: user uuid %q not canonical", rawQuery, u)
			}
		}
		again := encodeCDRQuery(q, csvOut).Encode()
		_, q2, csv2, err := fuzzParseCDR(e, again, "")
		if err != nil {
			t.Fatalf("%q parsed to %+v, but its encoding %q is refused: %v", rawQuery, q, again, err)
		}
		sameTime := func(a, b *time.Time) bool { return a == nil && b == nil || a != nil && b != nil && a.Equal(*b) }
		if !sameTime(q.From, q2.From) || !sameTime(q.Until, q2.Until) {
			t.Fatalf("%q: from/until %v/%v, re-encoded %q: %v/%v", rawQuery, q.From, q.Until, again, q2.From, q2.Until)
		}
		q.From, q.Until, q2.From, q2.Until = nil, nil, nil, nil
		if !reflect.DeepEqual(q, q2) || csvOut != csv2 {
			t.Fatalf("%q parsed to %+v (csv %v), its encoding %q to %+v (csv %v)", rawQuery, q, csvOut, again, q2, csv2)
		}
	})
}
