package main

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callrecd/callrecd/api"
	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/media"
	"github.com/callrecd/callrecd/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// acceptingPBX starts whatever it is asked to and remembers it.
type acceptingPBX struct{ started []string }

func (p *acceptingPBX) StartRecording(_ context.Context, _, name, _ string) (string, error) {
	p.started = append(p.started, name)
	return name, nil
}
func (p *acceptingPBX) PauseRecording(context.Context, string) error        { return nil }
func (p *acceptingPBX) ResumeRecording(context.Context, string) error       { return nil }
func (p *acceptingPBX) StopRecording(context.Context, string) error         { return nil }
func (p *acceptingPBX) Play(context.Context, []string, engine.Prompt) error { return nil }
func (p *acceptingPBX) Hangup(context.Context, string) error                { return nil }

// Below the free-space floor a new recording is refused: the PBX is never
// asked, the row says failed and why, the alert gauge and counter move. A
// recording that started before the disk filled may still re-arm.
func TestDiskGuardRefusesNewRecordingsBelowTheFloor(t *testing.T) {
	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(ctx, 0); err != nil {
		t.Fatal(err)
	}
	const tenant = "2c34c282-433e-4bb8-8d56-fec14ff7e1e9"
	if _, err := s.EnsureTenant(ctx, tenant, "Acme", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, store.User{UUID: "b2e98781-7118-4010-8da3-b93b1b7e1389", TenantUUID: tenant,
		Extension: "1001", Endpoints: []string{"1001"}, CallRecordOutgoingExternalEnabled: true}); err != nil {
		t.Fatal(err)
	}
	free := uint64(10 << 30)
	reg := prometheus.NewRegistry()
	guard := newDiskGuard(media.Guard{Root: "/recordings", Floor: media.Floor{Bytes: 1 << 30},
		Statfs: func(string) (media.Space, error) { return media.Space{Free: free, Total: 100 << 30}, nil }},
		reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	pbx := &acceptingPBX{}
	fe := store.ForEngine{S: s}
	e := engine.New(engine.Config{PBX: guard.wrapPBX(pbx), Settings: fe, Records: guard.wrapRecords(fe)})

	t0 := time.Now()
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
			e.Handle(ctx, ev)
		}
	}
	call(0) // plenty of space
	if len(pbx.started) != 1 {
		t.Fatalf("started %v", pbx.started)
	}
	first := pbx.started[0]

	free = 100 << 20 // 100 MiB left, floor 1 GiB
	call(1)
	if len(pbx.started) != 1 {
		t.Fatalf("a recording started below the floor: %v", pbx.started)
	}
	recs, err := s.ListRecordings(ctx, store.RecordingFilter{Tenant: tenant})
	if err != nil || len(recs) != 2 {
		t.Fatalf("recordings %v, %v", recs, err)
	}
	for _, r := range recs {
		if r.UUID == first {
			continue
		}
		if r.State != store.StateFailed || !strings.Contains(r.FailureReason, "free") {
			t.Fatalf("refused recording row = %+v", r)
		}
	}
	if testutil.ToFloat64(guard.refused) != 1 || testutil.ToFloat64(guard.low) != 1 {
		t.Fatalf("refused %v, low %v", testutil.ToFloat64(guard.refused), testutil.ToFloat64(guard.low))
	}
	// The first recording re-arms on a remaining leg (same name): allowed.
	if _, err := guard.wrapPBX(pbx).StartRecording(ctx, "xa", first, "wav"); err != nil {
		t.Fatalf("re-arm refused: %v", err)
	}
	// Once it is over for good, its name no longer passes.
	e.Handle(ctx, engine.Hangup{At: t0, Channel: "ua"})
	e.Handle(ctx, engine.Hangup{At: t0, Channel: "xa"})
	if _, err := guard.wrapPBX(pbx).StartRecording(ctx, "xa", first, "wav"); err == nil {
		t.Fatal("a finished recording's name still bypasses the guard")
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

// preparingPBX is an acceptingPBX with the optional engine.Preparer.
type preparingPBX struct {
	acceptingPBX
	prepared, released []string
}

func (p *preparingPBX) PrepareRecording(_ context.Context, ch, name string) error {
	p.prepared = append(p.prepared, ch+":"+name)
	return nil
}
func (p *preparingPBX) ReleasePrepared(_ context.Context, name string) error {
	p.released = append(p.released, name)
	return nil
}

// The disk guard's wrapper keeps the PBX's optional Preparer, and only that.
func TestDiskGuardForwardsPreparer(t *testing.T) {
	guard := newDiskGuard(media.Guard{Root: "/recordings", Floor: media.Floor{Bytes: 1},
		Statfs: func(string) (media.Space, error) { return media.Space{Free: 10 << 30, Total: 100 << 30}, nil }},
		prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if _, ok := guard.wrapPBX(&acceptingPBX{}).(engine.Preparer); ok {
		t.Fatal("a PBX without Preparer became one")
	}
	pbx := &preparingPBX{}
	w := guard.wrapPBX(pbx)
	pr, ok := w.(engine.Preparer)
	if !ok {
		t.Fatal("the wrapper hides the PBX's Preparer")
	}
	ctx := context.Background()
	_ = pr.PrepareRecording(ctx, "ch", "n1")
	_ = pr.ReleasePrepared(ctx, "n1")
	if _, err := w.StartRecording(ctx, "ch", "n2", "wav"); err != nil {
		t.Fatal(err)
	}
	if strings.Join(pbx.prepared, ",") != "ch:n1" || strings.Join(pbx.released, ",") != "n1" || strings.Join(pbx.started, ",") != "n2" {
		t.Fatalf("prepared %v released %v started %v", pbx.prepared, pbx.released, pbx.started)
	}
}
