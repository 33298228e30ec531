package engine

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"testing"
	"time"
)

// benchStore answers settings from memory and holds no rows, so the
// benchmarks measure the engine (the store and the executor have their own).
type benchStore struct {
	users map[string]User
}

func (s *benchStore) TenantPolicy(context.Context, string) (TenantPolicy, error) {
	return DefaultTenantPolicy(), nil
}
func (s *benchStore) UserByEndpoint(_ context.Context, _, ep string) (User, bool, error) {
	u, ok := s.users[ep]
	return u, ok, nil
}
func (s *benchStore) Group(context.Context, string, GroupKind, string) (Group, bool, error) {
	return Group{}, false, nil
}
func (s *benchStore) OpenCalls(context.Context) ([]OpenCall, error)           { return nil, nil }
func (s *benchStore) OpenRecordings(context.Context) ([]OpenRecording, error) { return nil, nil }
func (s *benchStore) FindRecording(context.Context, string) (RecordingRow, bool, error) {
	return RecordingRow{}, false, nil
}

func newBenchEngine(users int) *Engine {
	st := &benchStore{users: make(map[string]User, users)}
	for i := 0; i < users; i++ {
		ep := strconv.Itoa(10000 + i)
		st.users[ep] = User{UUID: "u-" + ep, Extension: ep, CallRecordOutgoingInternal: true, CallRecordIncomingExternal: true, OnlineCallRecordEnabled: true}
	}
	n := 0
	e, err := New(Config{Settings: st, Index: st, NewID: func() string {
		n++
		return fmt.Sprintf("00000000-0000-4000-8000-%012d", n)
	}})
	if err != nil {
		panic(err)
	}
	return e
}

// callSetup / callTeardown are the events of one recorded call (internal →
// internal for even i, external → internal for odd i), in Asterisk's order.
func callSetup(i int, at time.Time, users int) []Event {
	id := strconv.Itoa(i)
	a, b, l, br := "a"+id, "b"+id, "L"+id, "br"+id
	var first Event = ChannelCreated{At: at, Channel: a, CallID: l, Tenant: "acme", Role: RoleExternal, CallerNumber: "+4930" + id}
	if i%2 == 0 {
		ep := strconv.Itoa(10000 + i%users)
		first = ChannelCreated{At: at, Channel: a, CallID: l, Tenant: "acme", Role: RoleInternal, Endpoint: ep, CallerNumber: ep}
	}
	ep := strconv.Itoa(10000 + (i+1)%users)
	ans := at.Add(time.Second)
	return []Event{
		first,
		ChannelCreated{At: at.Add(time.Millisecond), Channel: b, CallID: l, Tenant: "acme", Role: RoleInternal, Endpoint: ep, CallerNumber: ep},
		ChannelAnswered{At: ans, Channel: b}, // → StartRecording
		ChannelAnswered{At: ans, Channel: a},
		ChannelBridged{At: ans, Channel: b, Bridge: br},
		ChannelBridged{At: ans, Channel: a, Bridge: br},
		RecordingStarted{At: ans.Add(2 * time.Millisecond), Name: fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1), Channel: a},
	}
}

func callTeardown(i int, at time.Time) []Event {
	id := strconv.Itoa(i)
	a, b, br := "a"+id, "b"+id, "br"+id
	return []Event{
		ChannelUnbridged{At: at, Channel: b, Bridge: br},
		Hangup{At: at, Channel: b}, // → StopRecording (on a)
		ChannelUnbridged{At: at, Channel: a, Bridge: br},
		Hangup{At: at, Channel: a},
		RecordingFinished{At: at.Add(time.Millisecond), Name: fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1), Channel: a},
	}
}

// BenchmarkHandleEvents: events/s on one core, 100 calls alive at a time.
func BenchmarkHandleEvents(b *testing.B) {
	const users, window = 1000, 100
	var evs []Event
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 2000; i++ {
		at := base.Add(time.Duration(i) * 10 * time.Millisecond)
		evs = append(evs, callSetup(i, at, users)...)
		if i >= window {
			evs = append(evs, callTeardown(i-window, at)...)
		}
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		if n%len(evs) == 0 {
			b.StopTimer()
			e := newBenchEngine(users) // ids restart: a fresh engine per pass
			b.StartTimer()
			benchEngine = e
		}
		benchEngine.Handle(ctx, evs[n%len(evs)])
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

var benchEngine *Engine

// BenchmarkConcurrentCalls10k simulates 500 call set-ups per second of
// simulated time, each call lasting 20 s, so 10,000 calls are live at the
// peak; every call is recorded. It reports the p99 wall-clock latency from an
// event entering Handle to the return of the PBX command it causes, and the heap the engine
// holds for 10,000 live calls.
func BenchmarkConcurrentCalls10k(b *testing.B) {
	const (
		users    = 4000
		rate     = 500
		holding  = 20 * time.Second
		live     = 10000
		total    = 2 * live
		interval = time.Second / rate
	)
	ctx := context.Background()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var p99, p50, heapMB, maxMs float64
	for b.Loop() {
		b.StopTimer()
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		e := newBenchEngine(users)
		lat := make([]time.Duration, 0, 2*total)
		b.StartTimer()
		for i := 0; i < total; i++ {
			at := base.Add(time.Duration(i) * interval)
			evs := callSetup(i, at, users)
			if i >= live {
				evs = append(evs, callTeardown(i-live, at)...)
			}
			for _, ev := range evs {
				t := time.Now()
				fx := e.Handle(ctx, ev)
				if len(Commands(fx)) > 0 {
					lat = append(lat, time.Since(t))
				}
			}
			if i == live-1 {
				b.StopTimer()
				runtime.GC()
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				heapMB = float64(int64(m.HeapInuse)-int64(before.HeapInuse)) / (1 << 20)
				if got := len(e.Calls("")); got != live {
					b.Fatalf("%d live calls, want %d", got, live)
				}
				b.StartTimer()
			}
		}
		b.StopTimer()
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		p50 = float64(lat[len(lat)/2].Nanoseconds()) / 1e6
		p99 = float64(lat[len(lat)*99/100].Nanoseconds()) / 1e6
		maxMs = float64(lat[len(lat)-1].Nanoseconds()) / 1e6
		runtime.KeepAlive(e)
		b.StartTimer()
	}
	b.ReportMetric(p50, "p50-ms")
	b.ReportMetric(p99, "p99-ms")
	b.ReportMetric(maxMs, "max-ms")
	b.ReportMetric(heapMB, "MB-heap-10k-calls")
}
