package esl_test

import (
	"bytes"
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callrecd/callrecd/esl"
	"github.com/callrecd/callrecd/esl/esltest"
)

// burstWire is the 20-call burst's events as FreeSWITCH sends them:
// text/event-json frames with unformatted JSON.
func burstWire(b *testing.B) (wire []byte, bodies [][]byte) {
	for _, l := range esltest.LoadTrace(b, "h_burst_20_calls") {
		if l.Dir != "event" {
			continue
		}
		var body bytes.Buffer
		if err := json.Compact(&body, l.Event); err != nil {
			b.Fatal(err)
		}
		bodies = append(bodies, body.Bytes())
		wire = esl.AppendFrame(wire, esl.Frame{Header: map[string]string{"Content-Type": "text/event-json"}, Body: body.Bytes()})
	}
	return wire, bodies
}

// BenchmarkDecodeDispatch: events/s read, decoded and handed to OnEvent by
// a Client, from the test server replaying the 20-call burst over TCP.
func BenchmarkDecodeDispatch(b *testing.B) {
	wire, bodies := burstWire(b)
	n := int64(len(bodies))
	s := esltest.NewServer(b, "ClueCon")
	var got, target atomic.Int64
	done := make(chan struct{}, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := esl.Dial(ctx, esl.Config{Addr: s.Addr(), Password: "ClueCon", Events: []string{"ALL"},
		OnEvent: func(esl.Event) {
			if got.Add(1) == target.Load() {
				done <- struct{}{}
			}
		}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	for b.Loop() {
		target.Add(n)
		s.SendRaw(wire)
		<-done
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	if c.Err() != nil {
		b.Fatal(c.Err())
	}
}

// BenchmarkDecodeJSONEvent is the decoder alone, per event of the burst.
func BenchmarkDecodeJSONEvent(b *testing.B) {
	_, bodies := burstWire(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := esl.DecodeJSONEvent(bodies[i%len(bodies)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
