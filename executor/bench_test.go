package executor

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
)

// timingPBX notes when the last start reached it.
type timingPBX struct {
	fakePBX
	started time.Time
}

func (p *timingPBX) StartRecording(context.Context, string, string, recording.Format) error {
	p.started = time.Now()
	return nil
}

// BenchmarkAnswerOnStore is callrecd's own part of the start lag, on the
// real engine, executor and a real SQLite file (as serve builds them, PBX
// aside), with 50 calls set up before the measured one: from the answer
// entering the executor to the start command reaching the PBX adapter
// (answer-to-command), to Handle's return (answer-handled: the next event
// may enter; the rows go to the writer) and to the answer's rows being
// written (answer-written). The lab bench measures the rest (Asterisk).
func BenchmarkAnswerOnStore(b *testing.B) {
	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(ctx, 0); err != nil {
		b.Fatal(err)
	}
	const tenant = "2c34c282-433e-4bb8-8d56-fec14ff7e1e9"
	if _, err := s.EnsureTenant(ctx, tenant, "Acme", nil); err != nil {
		b.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, store.User{UUID: "b2e98781-7118-4010-8da3-b93b1b7e1389", TenantUUID: tenant,
		Extension: "1001", Endpoints: []string{"1001"}, CallRecordOutgoingInternalEnabled: true}); err != nil {
		b.Fatal(err)
	}
	fe := store.ForEngine{S: s}
	eng, err := engine.New(engine.Config{Settings: fe, Index: fe})
	if err != nil {
		b.Fatal(err)
	}
	pbx := &timingPBX{fakePBX: fakePBX{log: &opLog{}}}
	x, err := New(Config{Engine: eng, PBX: pbx, Records: fe})
	if err != nil {
		b.Fatal(err)
	}
	at := time.Now()
	ring := func(i int) (a, c string) {
		a, c = fmt.Sprintf("a%d", i), fmt.Sprintf("c%d", i)
		x.Handle(ctx, engine.ChannelCreated{At: at, Channel: a, CallID: "L" + a, Tenant: tenant, Endpoint: "1001",
			Role: engine.RoleInternal, CalleeNumber: "1002"})
		x.Handle(ctx, engine.ChannelCreated{At: at, Channel: c, CallID: "L" + a, Tenant: tenant, Endpoint: "1002",
			Role: engine.RoleInternal})
		return a, c
	}
	hangup := func(a, c string) {
		x.Handle(ctx, engine.Hangup{At: at, Channel: c})
		x.Handle(ctx, engine.Hangup{At: at, Channel: a})
	}
	var live [][2]string
	for i := range 50 {
		a, c := ring(i)
		x.Handle(ctx, engine.ChannelAnswered{At: at, Channel: c})
		live = append(live, [2]string{a, c})
	}
	var toCommand, handled, written []time.Duration
	i := 50
	for b.Loop() {
		b.StopTimer()
		a, c := ring(i)
		i++
		b.StartTimer()
		t := time.Now()
		x.Handle(ctx, engine.ChannelAnswered{At: at, Channel: c})
		handled = append(handled, time.Since(t))
		x.Flush()
		written = append(written, time.Since(t))
		toCommand = append(toCommand, pbx.started.Sub(t))
		b.StopTimer()
		live = append(live, [2]string{a, c})
		old := live[0]
		live = live[1:]
		hangup(old[0], old[1])
		b.StartTimer()
	}
	for _, m := range []struct {
		name string
		d    []time.Duration
	}{{"answer-to-command", toCommand}, {"answer-handled", handled}, {"answer-written", written}} {
		sort.Slice(m.d, func(i, j int) bool { return m.d[i] < m.d[j] })
		b.ReportMetric(float64(m.d[len(m.d)/2].Microseconds()), m.name+"-p50-µs")
		b.ReportMetric(float64(m.d[len(m.d)*99/100].Microseconds()), m.name+"-p99-µs")
	}
}
