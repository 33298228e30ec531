package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/callrecd/callrecd/recording"
)

func TestRecordingsPerDayAndBytes(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustTenant(t, s, tenantA)
	mustTenant(t, s, tenantB)
	mustUser(t, s, tenantA, userOlga, "1015")
	mustUser(t, s, tenantA, userAna, "1011")
	day := func(d, h int) time.Time { return time.Date(2026, 12, d, h, 0, 0, 0, time.UTC) }
	n := 0
	rec := func(tenant, src, dst string, at time.Time, r Recording) {
		n++
		id := strings.Replace("00000000-0000-4000-8000-0000000000xx", "xx", string(rune('a'+n/26))+string(rune('a'+n%26)), 1)
		mustRecording(t, s, tenant, id, id, src, dst, at, r)
	}
	sec := func(v int) time.Duration { return time.Duration(v) * time.Second }
	rec(tenantA, userOlga, userAna, day(1, 0), Recording{Duration: sec(10), Size: 100})          // first instant of the 1st
	rec(tenantA, userOlga, "", day(1, 23), Recording{Duration: sec(5), Size: 50})                // Olga only
	rec(tenantA, "", userAna, day(3, 12), Recording{Duration: 1500 * time.Millisecond, Size: 7}) // Ana only
	rec(tenantA, userAna, "", day(3, 13), Recording{State: string(recording.StateFailed), Size: 0})
	rec(tenantA, userOlga, "", day(3, 14), Recording{Duration: sec(2), Size: 20, Deleted: true})
	rec(tenantA, userOlga, "", day(2, 5).Add(-24*time.Hour*2), Recording{Duration: sec(1), Size: 1}) // before from
	rec(tenantA, userOlga, "", day(4, 0), Recording{Duration: sec(1), Size: 1000})                   // at until: out
	rec(tenantB, "", "", day(1, 12), Recording{Duration: sec(60), Size: 9999})

	from, until := day(1, 0), day(4, 0)
	type row struct {
		day   int
		count int
		secs  float64
	}
	check := func(name string, sc StatsScope, want []row, wantBytes int64) {
		t.Helper()
		got, err := s.RecordingsPerDay(ctx, sc, from, until)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %+v, want %+v", name, got, want)
		}
		for i, w := range want {
			if !got[i].Day.Equal(day(w.day, 0)) || got[i].Count != w.count || got[i].Seconds != w.secs {
				t.Fatalf("%s: day %d = %+v, want %+v", name, i, got[i], w)
			}
		}
		if b, err := s.RecordingBytes(ctx, sc); err != nil || b != wantBytes {
			t.Fatalf("%s: %d bytes, want %d (%v)", name, b, wantBytes, err)
		}
	}
	// The deleted recording counts on its day but its bytes are gone; the
	// failed one never counts.
	check("tenant A", StatsScope{Tenant: tenantA}, []row{{1, 2, 15}, {3, 2, 3.5}}, 100+50+7+1+1000)
	check("Olga", StatsScope{Tenant: tenantA, User: userOlga}, []row{{1, 2, 15}, {3, 1, 2}}, 100+50+1+1000)
	check("Ana", StatsScope{Tenant: tenantA, User: userAna}, []row{{1, 1, 10}, {3, 1, 1.5}}, 100+7)
	check("tenant B", StatsScope{Tenant: tenantB}, []row{{1, 1, 60}}, 9999)
	check("every tenant", StatsScope{}, []row{{1, 3, 75}, {3, 2, 3.5}}, 100+50+7+1+1000+9999)
}

// The per-day count reads the tenant's recordings over the range through
// recordings_tenant_start, not the whole table.
func TestRecordingsPerDayPlan(t *testing.T) {
	s := newStore(t)
	for _, sc := range []StatsScope{{Tenant: tenantA}, {Tenant: tenantA, User: userOlga}} {
		query, args := recordingsPerDaySQL(sc, time.Unix(0, 0), time.Unix(1, 0))
		plan := explain(t, s, query, args)
		if !strings.Contains(plan, "USING INDEX recordings_tenant_start (tenant_uuid=? AND start_at>? AND start_at<?)") {
			t.Errorf("%+v: plan does not range over recordings_tenant_start:\n%s", sc, plan)
		}
		if strings.Contains(plan, "SCAN r") || strings.Contains(plan, "SCAN recordings") {
			t.Errorf("%+v: plan scans recordings:\n%s", sc, plan)
		}
	}
}
