package wiring

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
	"github.com/callrecd/callrecd/executor"
	"github.com/callrecd/callrecd/media"
	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// acceptingPBX starts whatever it is asked to and remembers it.
type acceptingPBX struct{ started []string }

func (p *acceptingPBX) StartRecording(_ context.Context, _, name string, _ recording.Format) error {
	p.started = append(p.started, name)
	return nil
}
func (p *acceptingPBX) PauseRecording(context.Context, string) error        { return nil }
func (p *acceptingPBX) ResumeRecording(context.Context, string) error       { return nil }
func (p *acceptingPBX) StopRecording(context.Context, string) error         { return nil }
func (p *acceptingPBX) Play(context.Context, []string, engine.Prompt) error { return nil }
func (p *acceptingPBX) Hangup(context.Context, string) error                { return nil }

// Below the free-space floor a new recording is refused: the PBX is never
// asked, the row says failed and why, the alert gauge and counter move. A
// recording that started before the disk filled still re-arms.
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
	now := time.Now()
	guard.now = func() time.Time { return now }
	pbx := &acceptingPBX{}
	fe := store.ForEngine{S: s}
	e, err := engine.New(engine.Config{Settings: fe, Index: fe, MayStart: guard.MayStart})
	if err != nil {
		t.Fatal(err)
	}
	x, err := executor.New(executor.Config{Engine: e, PBX: pbx, Records: fe})
	if err != nil {
		t.Fatal(err)
	}

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
			x.Handle(ctx, ev)
		}
	}
	call(0) // plenty of space
	if len(pbx.started) != 1 {
		t.Fatalf("started %v", pbx.started)
	}
	first := pbx.started[0]

	free = 100 << 20 // 100 MiB left, floor 1 GiB
	now = now.Add(guardTTL)
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
		if r.State != string(recording.StateFailed) || !strings.Contains(r.FailureReason, "free") {
			t.Fatalf("refused recording row = %+v", r)
		}
	}
	if testutil.ToFloat64(guard.refused) != 1 || testutil.ToFloat64(guard.low) != 1 {
		t.Fatalf("refused %v, low %v", testutil.ToFloat64(guard.refused), testutil.ToFloat64(guard.low))
	}
	// The first recording (on the carrier's leg) re-arms on a remaining leg
	// when that leg leaves and two users still talk: same name, allowed.
	x.Handle(ctx, engine.ChannelCreated{At: t0, Channel: "va", CallID: "ca", Tenant: tenant, Endpoint: "1001",
		Role: engine.RoleInternal, CallerNumber: "1001"})
	x.Handle(ctx, engine.ChannelAnswered{At: t0, Channel: "va"})
	x.Handle(ctx, engine.ChannelBridged{At: t0, Channel: "va", Bridge: "ba"})
	x.Handle(ctx, engine.Hangup{At: t0, Channel: "xa"})
	if len(pbx.started) != 2 || pbx.started[1] != first {
		t.Fatalf("re-arm below the floor: started %v, want %s again", pbx.started, first)
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
