package redial

import (
	"context"
	"io"
	"sync/atomic"
	"testing"
	"time"
)

// A PBX that stopped answering and answers again ends the wait at once,
// not after the grown backoff; one that answered all along (the dial failed
// for another reason) gets the whole wait; a stopped context ends it.
func TestWaitEndsWhenThePBXAnswersAgain(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var calls atomic.Int32
	back := func(context.Context) error {
		if calls.Add(1) <= 2 {
			return io.ErrUnexpectedEOF // down: refused, cut
		}
		return nil
	}
	w := &Waiter{Probe: back}
	if err := w.Wait(ctx, time.Hour, false); err != nil {
		t.Fatalf("Wait: %v (probes %d): the PBX came back but the wait went on", err, calls.Load())
	}
	if calls.Load() != 3 {
		t.Fatalf("probes %d, want 3 (down, down, up)", calls.Load())
	}

	calls.Store(0)
	upAllAlong := &Waiter{Probe: func(context.Context) error { calls.Add(1); return nil }}
	if err := upAllAlong.Wait(ctx, time.Second, false); err != nil {
		t.Fatal(err)
	}
	if calls.Load() < 2 {
		t.Fatalf("probes %d: the wait ended at the first answer although the PBX never stopped answering", calls.Load())
	}

	stopped, stop := context.WithCancel(ctx)
	stop()
	if err := w.Wait(stopped, time.Hour, false); err != context.Canceled {
		t.Fatalf("Wait after ctx ended: %v", err)
	}
	if err := (&Waiter{}).Wait(ctx, time.Millisecond, true); err != nil {
		t.Fatalf("plain wait: %v", err)
	}
}

// A dial that already showed the PBX away or starting (Asterisk answering
// 503 while its modules load, its ping already answered) ends the wait at
// the first probe the PBX answers: the soak measured /readyz 1.07 s after
// a restarted Asterisk was reachable, the whole backoff after the 503.
// MaxQuick such waits in a row are cut short; then the whole backoff, until
// a connection holds.
func TestWaitAfterADialThatFoundThePBXAwayEndsAtTheFirstAnswer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var calls atomic.Int32
	w := &Waiter{Probe: func(context.Context) error { calls.Add(1); return nil }}
	for i := range MaxQuick {
		calls.Store(0)
		if err := w.Wait(ctx, time.Hour, true); err != nil {
			t.Fatalf("wait %d: %v", i+1, err)
		}
		if calls.Load() != 1 {
			t.Fatalf("wait %d: probes %d, want 1", i+1, calls.Load())
		}
	}
	calls.Store(0)
	if err := w.Wait(ctx, 700*time.Millisecond, true); err != nil {
		t.Fatal(err)
	}
	if calls.Load() < 2 {
		t.Fatalf("after %d quick waits: probes %d, the wait was cut short again (a fast loop)", MaxQuick, calls.Load())
	}
	w.Connected()
	calls.Store(0)
	if err := w.Wait(ctx, time.Hour, true); err != nil || calls.Load() != 1 {
		t.Fatalf("after a connection: %v, probes %d, want the first answer to end the wait", err, calls.Load())
	}
}

// Waits that run their whole length (a cut link: the probe fails
// throughout) do not use up the quick ones: the wait in which the link
// comes back still ends at the first answer.
func TestLongOutagesKeepTheQuickRedial(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var up atomic.Bool
	w := &Waiter{Probe: func(context.Context) error {
		if up.Load() {
			return nil
		}
		return io.ErrUnexpectedEOF
	}}
	for range MaxQuick + 2 {
		if err := w.Wait(ctx, 300*time.Millisecond, true); err != nil {
			t.Fatal(err)
		}
	}
	up.Store(true)
	done := make(chan error, 1)
	go func() { done <- w.Wait(ctx, time.Hour, true) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("the wait after a long outage was not cut short when the PBX answered")
	}
}
