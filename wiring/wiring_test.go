package wiring

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callrecd/callrecd/api"
	"github.com/callrecd/callrecd/config"
	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/media"
	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const tenant = "2c34c282-433e-4bb8-8d56-fec14ff7e1e9"

// newTestSystem builds callrecd as serve does, on a fresh database and
// storage under the test's folder, with 1 GiB as the free-space floor. Its
// ARI adapter points at a port nobody listens on and is not run: the
// commands it is given go nowhere, so the tests drive the executor with
// PBX events themselves.
func newTestSystem(t *testing.T, opts Options) *System {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.PBX.Asterisk = config.Asterisk{URL: "http://127.0.0.1:9/ari", Username: "u", Password: "p", App: "callrecd",
		RecordingSpool: dir}
	cfg.Storage = config.Storage{Root: filepath.Join(dir, "recordings"), MinFree: "1GiB"}
	cfg.Database.Path = filepath.Join(dir, "callrecd.db")
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Tenants = []config.Tenant{{UUID: tenant, Name: "Acme", Default: true}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	sys, err := Build(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sys.Close)
	return sys
}

type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

// Below the free-space floor a new recording is refused, on callrecd as
// Build makes it: the PBX is never asked, the row says failed and why, the
// alert gauge and counter move. A recording that started before the disk
// filled still re-arms on a remaining leg. When space comes back, the
// refused call is recorded. (The ARI adapter is built but
// not connected: the commands it is given go nowhere.)
func TestDiskGuardRefusesNewRecordingsBelowTheFloor(t *testing.T) {
	ctx := context.Background()
	free := uint64(10 << 30)
	clk := &clock{t: time.Now()}
	sys := newTestSystem(t, Options{Clock: clk,
		Statfs: func(string) (media.Space, error) { return media.Space{Free: free, Total: 100 << 30}, nil }})
	if _, err := sys.Store.CreateUser(ctx, store.User{UUID: "b2e98781-7118-4010-8da3-b93b1b7e1389", TenantUUID: tenant,
		Extension: "1001", Endpoints: []string{"1001"}, CallRecordOutgoingExternalEnabled: true}); err != nil {
		t.Fatal(err)
	}
	x := sys.Executor
	t0 := clk.t
	call := func(n int) {
		id := string(rune('a' + n))
		for _, ev := range []engine.Event{
			engine.ChannelCreated{At: t0, Channel: "u" + id, CallID: "c" + id, Tenant: tenant, Endpoint: "1001",
				Role: engine.RoleInternal, CallerNumber: "1001", CalleeNumber: "0612345678"},
			engine.ChannelCreated{At: t0, Channel: "x" + id, CallID: "c" + id, Tenant: tenant, Endpoint: "carrier",
				Role: engine.RoleExternal, CallerNumber: "1001", CalleeNumber: "0612345678"},
			engine.ChannelAnswered{At: t0, Channel: "x" + id},
			engine.ChannelAnswered{At: t0, Channel: "u" + id},
			engine.ChannelBridged{At: t0, Channel: "u" + id, Bridge: "b" + id},
			engine.ChannelBridged{At: t0, Channel: "x" + id, Bridge: "b" + id},
		} {
			x.Handle(ctx, ev)
		}
		x.Flush()
	}
	call(0) // plenty of space
	first, err := x.Call(tenant, "ca")
	if err != nil || len(first.Recordings) != 1 || first.Recordings[0].State != recording.StateRecording {
		t.Fatalf("with space: %+v, %v", first, err)
	}

	free = 100 << 20 // 100 MiB left, floor 1 GiB
	clk.t = clk.t.Add(guardTTL)
	call(1)
	recs, err := sys.Store.ListRecordings(ctx, store.RecordingFilter{Tenant: tenant})
	if err != nil || len(recs) != 2 {
		t.Fatalf("recordings %v, %v", recs, err)
	}
	for _, r := range recs {
		want := recording.StateRecording
		if r.UUID != first.Recordings[0].UUID {
			want = recording.StateFailed
			if !strings.Contains(r.FailureReason, "free") {
				t.Errorf("refused recording's reason %q", r.FailureReason)
			}
		}
		if r.State != string(want) {
			t.Errorf("recording %s: %s, want %s", r.UUID, r.State, want)
		}
	}
	if err := testutil.GatherAndCompare(sys.Registry, strings.NewReader(`
# HELP callrecd_recordings_refused_low_disk_total New recordings refused because the storage was below storage.min_free.
# TYPE callrecd_recordings_refused_low_disk_total counter
callrecd_recordings_refused_low_disk_total 1
# HELP callrecd_storage_below_floor 1 while the storage is below storage.min_free (alert on it).
# TYPE callrecd_storage_below_floor gauge
callrecd_storage_below_floor 1
`), "callrecd_recordings_refused_low_disk_total", "callrecd_storage_below_floor"); err != nil {
		t.Fatal(err)
	}
	// The first recording (on the carrier's leg) re-arms on a remaining leg
	// when that leg leaves and two users still talk: same recording, still
	// recording, now on a user's leg.
	x.Handle(ctx, engine.ChannelCreated{At: t0, Channel: "va", CallID: "ca", Tenant: tenant, Endpoint: "1001",
		Role: engine.RoleInternal, CallerNumber: "1001"})
	x.Handle(ctx, engine.ChannelAnswered{At: t0, Channel: "va"})
	x.Handle(ctx, engine.ChannelBridged{At: t0, Channel: "va", Bridge: "ba"})
	x.Handle(ctx, engine.Hangup{At: t0, Channel: "xa"})
	after, err := x.Call(tenant, "ca")
	if err != nil || len(after.Recordings) != 1 {
		t.Fatalf("after the carrier left: %+v, %v", after, err)
	}
	if r := after.Recordings[0]; r.UUID != first.Recordings[0].UUID || r.State != recording.StateRecording || r.Channel == "xa" {
		t.Fatalf("re-arm below the floor: %+v", r)
	}

	// Space comes back: the refused call is recorded now (a new recording;
	// the refused row stays failed), and the alert clears.
	free = 10 << 30
	sys.guard.recheck(ctx, sys.events)
	x.Flush()
	second, err := x.Call(tenant, "cb")
	if err != nil || len(second.Recordings) != 2 || second.Recordings[1].State != recording.StateRecording ||
		second.Recordings[1].StartedBy != recording.ByPolicy {
		t.Fatalf("after the space came back: %+v, %v", second, err)
	}
	if got := testutil.ToFloat64(sys.guard.low); got != 0 {
		t.Fatalf("callrecd_storage_below_floor %v after the space came back", got)
	}
	sys.guard.recheck(ctx, sys.events) // not low any more: nothing new
	if again, _ := x.Call(tenant, "cb"); len(again.Recordings) != 2 {
		t.Fatalf("a second recheck started more: %+v", again.Recordings)
	}
}

func TestCountingHandlerCountsEventsAndReconnects(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := api.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	var got []engine.Event
	h := &countingHandler{next: handlerFunc(func(_ context.Context, ev engine.Event) { got = append(got, ev) }), metrics: m}
	for _, ev := range []engine.Event{engine.Snapshot{}, engine.ChannelCreated{}, engine.DTMF{}, engine.DTMF{}, engine.Snapshot{}} {
		h.Handle(context.Background(), ev)
	}
	if len(got) != 5 {
		t.Fatalf("passed on %d of 5", len(got))
	}
	out, err := testutil.GatherAndCount(reg, "callrecd_events_handled_total", "callrecd_pbx_reconnects_total")
	if err != nil || out != 4 { // 3 event types + 1 reconnect counter
		t.Fatalf("series %d, %v", out, err)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP callrecd_pbx_reconnects_total Times the PBX link was re-established after being lost.
# TYPE callrecd_pbx_reconnects_total counter
callrecd_pbx_reconnects_total 1
`), "callrecd_pbx_reconnects_total"); err != nil {
		t.Fatal(err)
	}
}

type handlerFunc func(context.Context, engine.Event)

func (f handlerFunc) Handle(ctx context.Context, ev engine.Event) { f(ctx, ev) }
