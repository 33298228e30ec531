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
	if err := Wait(ctx, time.Hour, back, false, nil); err != nil {
		t.Fatalf("Wait: %v (probes %d): the PBX came back but the wait went on", err, calls.Load())
	}
	if calls.Load() != 3 {
		t.Fatalf("probes %d, want 3 (down, down, up)", calls.Load())
	}

	calls.Store(0)
	upAllAlong := func(context.Context) error { calls.Add(1); return nil }
	if err := Wait(ctx, time.Second, upAllAlong, false, nil); err != nil {
		t.Fatal(err)
	}
	if calls.Load() < 2 {
		t.Fatalf("probes %d: the wait ended at the first answer although the PBX never stopped answering", calls.Load())
	}

	stopped, stop := context.WithCancel(ctx)
	stop()
	if err := Wait(stopped, time.Hour, back, false, nil); err != context.Canceled {
		t.Fatalf("Wait after ctx ended: %v", err)
	}
	if err := Wait(ctx, time.Millisecond, nil, false, nil); err != nil {
		t.Fatalf("plain wait: %v", err)
	}
}

// A dial that already showed the PBX away or starting (Asterisk answering
// 503 while its modules load, the ping already answered) ends the wait at
// the first probe the PBX answers: the soak measured /readyz 1.07 s after
// a restarted Asterisk was reachable, the whole backoff after the 503.
func TestWaitAfterADialThatFoundThePBXStartingEndsAtTheFirstAnswer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var calls atomic.Int32
	up := func(context.Context) error { calls.Add(1); return nil }
	if err := Wait(ctx, time.Hour, up, true, nil); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if calls.Load() != 1 {
		t.Fatalf("probes %d, want 1", calls.Load())
	}
}
