package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/callrecd/callrecd/recording"
)

func TestQueryCDRFiltersAndCounts(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustTenant(t, s, tenantA)
	mustTenant(t, s, tenantB)
	mustUser(t, s, tenantA, userOlga, "1015")
	mustUser(t, s, tenantA, userAna, "1011")
	base := time.Date(2021, 5, 14, 17, 0, 0, 0, time.UTC)
	mk := func(tenant, pbx string, minute int, dir, src, dst, srcUser string, tags []string, recs int) Call {
		t.Helper()
		c, err := s.CreateCall(ctx, Call{TenantUUID: tenant, PBXCallID: pbx, Start: base.Add(time.Duration(minute) * time.Minute),
			Direction: dir, SourceExtension: src, DestinationExtension: dst, SourceUserUUID: srcUser, Tags: tags})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < recs; i++ {
			u := fmt.Sprintf("5ea37d0b-0823-4d2b-a18c-%012d", c.ID*10+int64(i))
			if err := s.CreateRecording(ctx, Recording{UUID: u, CallID: c.ID, TenantUUID: tenant, Start: c.Start,
				Filename: u + ".wav", Format: string(recording.WAV), State: string(recording.StateStopped), StartedBy: string(recording.ByPolicy)}); err != nil {
				t.Fatal(err)
			}
		}
		return c
	}
	c1 := mk(tenantA, "p1", 0, DirectionInternal, "1015", "1011", userOlga, []string{"olga", "vip"}, 1)
	c2 := mk(tenantA, "p2", 10, DirectionInbound, "+33123456789", "1011", "", nil, 0)
	c2.RequestedExtension = "700" // ring group 700, answered by 1011
	if err := s.UpdateCall(ctx, c2); err != nil {
		t.Fatal(err)
	}
	c3 := mk(tenantA, "p3", 20, DirectionOutbound, "1011", "0800123456", "", []string{"olga"}, 2)
	mk(tenantB, "p1", 5, DirectionInternal, "1015", "1011", "", nil, 1)

	bt := true
	bf := false
	from := base.Add(5 * time.Minute)
	cases := []struct {
		name  string
		q     CDRQuery
		want  []int64
		total int
	}{
		{"all of A", CDRQuery{Tenant: tenantA}, []int64{c1.ID, c2.ID, c3.ID}, 3},
		{"all tenants", CDRQuery{}, nil, 4},
		{"desc", CDRQuery{Tenant: tenantA, Desc: true}, []int64{c3.ID, c2.ID, c1.ID}, 3},
		{"from", CDRQuery{Tenant: tenantA, From: &from}, []int64{c2.ID, c3.ID}, 3},
		{"until", CDRQuery{Tenant: tenantA, Until: &from}, []int64{c1.ID}, 3},
		{"direction", CDRQuery{Tenant: tenantA, CallDirection: DirectionInbound}, []int64{c2.ID}, 3},
		{"recorded", CDRQuery{Tenant: tenantA, Recorded: &bt}, []int64{c1.ID, c3.ID}, 3},
		{"not recorded", CDRQuery{Tenant: tenantA, Recorded: &bf}, []int64{c2.ID}, 3},
		{"number exact", CDRQuery{Tenant: tenantA, Number: "1011"}, []int64{c1.ID, c2.ID, c3.ID}, 3},
		{"number suffix", CDRQuery{Tenant: tenantA, Number: "_456789"}, []int64{c2.ID}, 3},
		{"number prefix", CDRQuery{Tenant: tenantA, Number: "0800_"}, []int64{c3.ID}, 3},
		{"number: the group dialled", CDRQuery{Tenant: tenantA, Number: "700"}, []int64{c2.ID}, 3},
		{"number: the group dialled, prefix", CDRQuery{Tenant: tenantA, Number: "70_"}, []int64{c2.ID}, 3},
		{"number no wildcard", CDRQuery{Tenant: tenantA, Number: "456789"}, []int64{}, 3},
		{"tags all", CDRQuery{Tenant: tenantA, Tags: []string{"olga", "vip"}}, []int64{c1.ID}, 3},
		{"tag", CDRQuery{Tenant: tenantA, Tags: []string{"olga"}}, []int64{c1.ID, c3.ID}, 3},
		{"from_id", CDRQuery{Tenant: tenantA, FromID: c1.ID}, []int64{c2.ID, c3.ID}, 3},
		{"user filter", CDRQuery{Tenant: tenantA, UserUUIDs: []string{userOlga}}, []int64{c1.ID}, 3},
		{"user scope", CDRQuery{Tenant: tenantA, ScopeUser: userOlga}, []int64{c1.ID}, 1},
		{"search", CDRQuery{Tenant: tenantA, Search: "0800"}, []int64{c3.ID}, 3},
		{"ids", CDRQuery{Tenant: tenantA, CallIDs: []int64{c3.ID, 9999}}, []int64{c3.ID}, 3},
		{"page", CDRQuery{Tenant: tenantA, Page: Page{Limit: 1, Offset: 1}}, []int64{c2.ID}, 3},
		{"order number desc", CDRQuery{Tenant: tenantA, Order: "source_extension", Desc: true}, []int64{c1.ID, c3.ID, c2.ID}, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			calls, total, filtered, err := s.QueryCDR(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if total != tc.total {
				t.Errorf("total = %d, want %d", total, tc.total)
			}
			if tc.want == nil {
				return
			}
			var got []int64
			for _, c := range calls {
				got = append(got, c.ID)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Errorf("ids = %v, want %v", got, tc.want)
			}
			if tc.q.Limit == 0 && filtered != len(tc.want) {
				t.Errorf("filtered = %d, want %d", filtered, len(tc.want))
			}
		})
	}
	calls, _, _, err := s.QueryCDR(ctx, CDRQuery{Tenant: tenantA, CallIDs: []int64{c3.ID}})
	if err != nil || len(calls) != 1 || len(calls[0].Recordings) != 2 {
		t.Fatalf("recordings attached: %+v %v", calls, err)
	}
	if _, _, _, err := s.QueryCDR(ctx, CDRQuery{Order: "start_at; DROP TABLE calls"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad order: %v", err)
	}
}

func TestCallCountsFollowInsertsAndBulk(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustTenant(t, s, tenantA)
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	err := s.BulkInsertCalls(ctx, 500, func(i int) Call {
		u := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		return Call{TenantUUID: tenantA, PBXCallID: fmt.Sprint("bulk-", i), Start: start.Add(time.Duration(i) * time.Second),
			Direction: DirectionInbound, Recordings: []Recording{{UUID: u, Start: start, Filename: u + ".wav",
				Format: string(recording.WAV), State: string(recording.StateStopped), StartedBy: string(recording.ByPolicy)}}}
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateCall(ctx, Call{TenantUUID: tenantA, PBXCallID: "one", Start: start}); err != nil {
		t.Fatal(err)
	}
	_, total, filtered, err := s.QueryCDR(ctx, CDRQuery{Tenant: tenantA, Page: Page{Limit: 1}})
	if err != nil || total != 501 || filtered != 501 {
		t.Fatalf("total %d filtered %d %v", total, filtered, err)
	}
	counts, err := s.RecordingStateCounts(ctx)
	if err != nil || counts[string(recording.StateStopped)] != 500 {
		t.Fatalf("state counts %v %v", counts, err)
	}
	// A failed bulk insert leaves nothing behind, counts included.
	err = s.BulkInsertCalls(ctx, 3, func(i int) Call {
		return Call{TenantUUID: tenantA, PBXCallID: "dup", Start: start, Tags: []string{"x"},
			Recordings: []Recording{{UUID: "same", Format: string(recording.WAV), State: string(recording.StateStopped), StartedBy: string(recording.ByPolicy)}}}
	})
	if err == nil {
		t.Fatal("duplicate recording uuid accepted")
	}
	if _, total, _, _ := s.QueryCDR(ctx, CDRQuery{Tenant: tenantA, Page: Page{Limit: 1}}); total != 501 {
		t.Fatalf("total after failed bulk = %d", total)
	}
}

func TestSetRetention(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustTenant(t, s, tenantA)
	d := 30
	if err := s.SetRetention(ctx, tenantA, Retention{RecordingDays: &d}); err != nil {
		t.Fatal(err)
	}
	tn, _ := s.GetTenant(ctx, tenantA)
	if tn.Retention.RecordingDays == nil || *tn.Retention.RecordingDays != 30 || tn.Retention.CDRDays != nil {
		t.Fatalf("retention %+v", tn.Retention)
	}
	bad := 0
	if err := s.SetRetention(ctx, tenantA, Retention{CDRDays: &bad}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("zero days: %v", err)
	}
	if err := s.SetRetention(ctx, tenantB, Retention{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown tenant: %v", err)
	}
}

func TestCallCountsBackfilledByMigration(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir()+"/old.db")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(ctx, 3); err != nil {
		t.Fatal(err)
	}
	mustTenant(t, s, tenantA)
	for i := 0; i < 3; i++ {
		if _, err := s.CreateCall(ctx, Call{TenantUUID: tenantA, PBXCallID: fmt.Sprint(i), Start: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Migrate(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if _, total, _, err := s.QueryCDR(ctx, CDRQuery{Tenant: tenantA}); err != nil || total != 3 {
		t.Fatalf("total %d, %v", total, err)
	}
}

// RecordingSummary loads the listing's fields of each recording, in the
// same order (start, then uuid) as the full load (which reads them with a
// query of its own; the summary joins them to the page); paging and counts
// agree.
func TestQueryCDRRecordingSummary(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustTenant(t, s, tenantA)
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	err := s.BulkInsertCalls(ctx, 30, func(i int) Call {
		var recs []Recording
		for j := range i % 4 { // 0–3 recordings, inserted newest first, two with the same start
			u := fmt.Sprintf("%08d-0000-4000-8000-%012d", 3-j, i)
			end := start.Add(time.Hour)
			recs = append(recs, Recording{UUID: u, Start: start.Add(time.Duration(min(3-j, 2)) * time.Minute),
				End: &end, Filename: u + ".wav", Format: string(recording.WAV), State: string(recording.StateStopped), StartedBy: string(recording.ByPolicy),
				Deleted: j == 1, Size: 42, Channel: "PJSIP/x", SHA256: "ab", Duration: 1500 * time.Millisecond,
				StopReason: string(recording.StopHangup), PausedIntervals: []Interval{{Start: start, End: &end}}})
		}
		return Call{TenantUUID: tenantA, PBXCallID: fmt.Sprint("c", i), Start: start.Add(time.Duration(i) * time.Minute),
			Direction: []string{DirectionInbound, DirectionOutbound}[i%2], Recordings: recs}
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []CDRQuery{
		{Tenant: tenantA},
		{Tenant: tenantA, CallDirection: DirectionInbound, Desc: true, Page: Page{Limit: 7, Offset: 3}},
		{Tenant: tenantA, Order: "duration", Page: Page{Limit: 1}},
		{Tenant: tenantA, Page: Page{Offset: 100}},
		{Tenant: tenantA, Order: "id", Desc: true, Page: Page{Limit: 10, Offset: 2}},
		{Tenant: tenantA, Order: "answered", Recorded: new(true), Page: Page{Limit: 5}},
	} {
		full, total, filtered, err := s.QueryCDR(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		q.RecordingSummary = true
		sum, total2, filtered2, err := s.QueryCDR(ctx, q)
		if err != nil || total2 != total || filtered2 != filtered || len(sum) != len(full) {
			t.Fatalf("%+v: %d/%d/%d vs %d/%d/%d, %v", q, len(sum), total2, filtered2, len(full), total, filtered, err)
		}
		for i := range full {
			f, s := full[i], sum[i]
			if f.ID != s.ID || len(f.Recordings) != len(s.Recordings) {
				t.Fatalf("call %d: %+v vs %+v", i, f, s)
			}
			// The call's own fields are the same, PBX call id (Wazo's
			// conversation_id) included.
			fc, sc := f, s
			fc.Recordings, sc.Recordings = nil, nil
			if !reflect.DeepEqual(fc, sc) {
				t.Fatalf("call %d: %+v vs %+v", i, fc, sc)
			}
			// Every recording field the API shows; not the channel or
			// deletion time.
			for j, fr := range f.Recordings {
				sr := s.Recordings[j]
				fr.Channel, fr.DeletedAt = "", nil
				if !reflect.DeepEqual(fr, sr) {
					t.Fatalf("call %d recording %d: %+v vs %+v", i, j, fr, sr)
				}
			}
			if q.Offset == 0 && q.Limit == 0 && len(f.Recordings) > 1 && f.Recordings[0].Start.After(f.Recordings[1].Start) {
				t.Fatalf("recordings out of order: %+v", f.Recordings)
			}
		}
	}
}

// explain is SQLite's plan for a statement, one detail per line.
func explain(t *testing.T, s *Store, query string, args []any) string {
	t.Helper()
	rows, err := s.rdb.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, query)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id, parent, notUsed int
		var detail string
		if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
			t.Fatal(err)
		}
		b.WriteString(detail + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// The /cdr listing's plans, as SQLite makes them on a real file: a later
// change to the query, the indexes or SQLite must not silently lose them.
func TestQueryCDRPlans(t *testing.T) {
	s := newStore(t)
	mustTenant(t, s, tenantA)
	from, until := time.Date(2024, 7, 19, 0, 0, 0, 0, time.UTC), time.Date(2024, 7, 20, 0, 0, 0, 0, time.UTC)
	const (
		dirIndex   = "SEARCH calls USING INDEX calls_tenant_direction_start (tenant_uuid=? AND direction=? AND start_at>? AND start_at<?)"
		startIndex = "SEARCH calls USING INDEX calls_tenant_start (tenant_uuid=? AND start_at>? AND start_at<?)"
		dirCount   = "SEARCH calls USING COVERING INDEX calls_tenant_direction_start (tenant_uuid=? AND direction=? AND start_at>? AND start_at<?)"
		sort       = "TEMP B-TREE"
	)
	day := CDRQuery{Tenant: tenantA, From: &from, Until: &until, Desc: true, Page: Page{Limit: 20, Offset: 40}, RecordingSummary: true}
	withDir := day
	withDir.CallDirection = DirectionInbound
	cases := []struct {
		name        string
		q           CDRQuery
		page, count []string // each must be in the plan
		pageNot     []string // none may be
		indexedBy   bool     // the page names its index
	}{
		// The listing the issue measures: one direction over a day, newest
		// first, the page and the count from the direction index, no sort.
		{name: "direction and day", q: withDir, page: []string{dirIndex}, count: []string{dirCount}, pageNot: []string{sort}, indexedBy: true},
		{name: "direction and day, ascending, full calls", q: func() CDRQuery { q := withDir; q.Desc, q.RecordingSummary = false, false; return q }(),
			page: []string{dirIndex}, pageNot: []string{sort}, indexedBy: true},
		{name: "direction, day and search", q: func() CDRQuery { q := withDir; q.Search = "12"; return q }(),
			page: []string{dirIndex}, pageNot: []string{sort}, indexedBy: true},
		{name: "day", q: day, page: []string{startIndex}, count: []string{"calls_tenant_start"}, pageNot: []string{sort}},
		// SQLite's own choice where another index may serve better.
		{name: "direction, day, by duration", q: func() CDRQuery { q := withDir; q.Order = "duration"; return q }()},
		{name: "direction and user", q: func() CDRQuery { q := withDir; q.UserUUIDs = []string{userOlga}; return q }()},
		{name: "direction and scope user", q: func() CDRQuery { q := withDir; q.ScopeUser = userOlga; return q }()},
		{name: "direction and from_id", q: func() CDRQuery { q := withDir; q.FromID = 7; return q }()},
		{name: "direction and ids", q: func() CDRQuery { q := withDir; q.CallIDs = []int64{1, 2}; return q }()},
		{name: "direction, all tenants", q: func() CDRQuery { q := withDir; q.Tenant = ""; return q }()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, err := buildCDRQuery(tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(st.pageSQL, "INDEXED BY"); got != tc.indexedBy {
				t.Errorf("page names its index: %v, want %v\n%s", got, tc.indexedBy, st.pageSQL)
			}
			page, count := explain(t, s, st.pageSQL, st.args), explain(t, s, st.countSQL, st.countArgs)
			for _, want := range tc.page {
				if !strings.Contains(page, want) {
					t.Errorf("page plan lacks %q:\n%s", want, page)
				}
			}
			for _, not := range tc.pageNot {
				if strings.Contains(page, not) {
					t.Errorf("page plan has %q:\n%s", not, page)
				}
			}
			for _, want := range tc.count {
				if !strings.Contains(count, want) {
					t.Errorf("count plan lacks %q:\n%s", want, count)
				}
			}
			// The plans hold what the statements return.
			if _, _, _, err := s.QueryCDR(context.Background(), tc.q); err != nil {
				t.Fatal(err)
			}
		})
	}
}
