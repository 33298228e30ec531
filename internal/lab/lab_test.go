//go:build lab

// Lab smoke test: needs the lab up (scripts/asterisk-lab up, as root). It fails, never
// skips, when the lab is down.
//
//	go test -tags lab -count=1 -v ./internal/lab/
package lab

import (
	"context"
	"math"
	"net/http"
	"os"
	"testing"
	"time"
)

// labUp checks the lab answers and connects an observer on the PBX and the
// peer's driver; both are closed when the test ends.
func labUp(t *testing.T, timeout time.Duration) (context.Context, *PBX, *Driver) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	if err := CheckUp(ctx); err != nil {
		t.Fatal(err)
	}
	pbx, err := ConnectPBX(ctx, DefaultPBXConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pbx.Close() })
	drv, err := NewDriver(ctx, DefaultDriverConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := drv.Close(); err != nil {
			t.Errorf("driver close: %v", err)
		}
	})
	return ctx, pbx, drv
}

func TestLabSmoke(t *testing.T) {
	ctx, pbx, drv := labUp(t, 60*time.Second)
	tones := DefaultTones()

	// 1001 calls 1002; the peer answers as 1002; both play their tones
	caller, err := drv.CallPhone(ctx, "1001", "1002")
	if err != nil {
		t.Fatal(err)
	}
	callee, err := drv.Incoming(ctx, "1002")
	if err != nil {
		t.Fatal(err)
	}
	if err := callee.WaitUp(ctx); err != nil {
		t.Fatal(err)
	}
	if err := caller.WaitUp(ctx); err != nil {
		t.Fatal(err)
	}
	if callee.Caller.Number != "1001" {
		t.Errorf("callee sees caller id %+v, want number 1001", callee.Caller)
	}

	// the PBX side: both legs created and bridged together
	aLeg, err := pbx.WaitChannel(ctx, "1001")
	if err != nil {
		t.Fatal(err)
	}
	bLeg, err := pbx.WaitChannel(ctx, "1002")
	if err != nil {
		t.Fatal(err)
	}
	aIn, err := pbx.Events.WaitFor(ctx, "ChannelEnteredBridge of the 1001 leg", IsType("ChannelEnteredBridge", aLeg.ID))
	if err != nil {
		t.Fatal(err)
	}
	bIn, err := pbx.Events.WaitFor(ctx, "ChannelEnteredBridge of the 1002 leg", IsType("ChannelEnteredBridge", bLeg.ID))
	if err != nil {
		t.Fatal(err)
	}
	if aIn.Bridge == nil || bIn.Bridge == nil || aIn.Bridge.ID != bIn.Bridge.ID {
		t.Fatalf("legs not in the same bridge: %+v / %+v", aIn.Bridge, bIn.Bridge)
	}
	t.Logf("PBX legs %s (%s) and %s (%s) in bridge %s", aLeg.Name, aLeg.ID, bLeg.Name, bLeg.ID, aIn.Bridge.ID)

	// snoop + record the callee leg
	snoopID := "lab-snoop-" + randomID()
	if _, err := pbx.Snoop(ctx, bLeg.ID, snoopID, "both"); err != nil {
		t.Fatal(err)
	}
	if _, err := pbx.Events.WaitFor(ctx, "StasisStart of the snoop", IsType("StasisStart", snoopID)); err != nil {
		t.Fatal(err)
	}
	name := "lab-smoke-" + randomID()
	if _, err := pbx.Record(ctx, snoopID, name, "wav", "fail"); err != nil {
		t.Fatal(err)
	}
	isRec := func(typ string) func(Event) bool {
		return func(e Event) bool { return e.Type == typ && e.Recording != nil && e.Recording.Name == name }
	}
	started, err := pbx.Events.WaitFor(ctx, "RecordingStarted", isRec("RecordingStarted"))
	if err != nil {
		t.Fatal(err)
	}
	path, err := RecordingFile(name, "wav")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if !t.Failed() {
			_ = pbx.Do(context.Background(), http.MethodDelete, "/recordings/stored/"+name, nil, nil, nil)
			_ = os.Remove(path)
		}
	}()

	// RFC 4733 DTMF from the caller: the PBX reports each digit on the caller's leg and
	// passes it on to the callee
	const digits = "456" // no feature code (#1, *2) starts with these
	if err := caller.SendDTMF(ctx, digits, false); err != nil {
		t.Fatal(err)
	}
	from := 0
	for _, d := range digits {
		ev, i, err := pbx.Events.WaitFrom(ctx, from, "ChannelDtmfReceived "+string(d)+" on the 1001 leg", func(e Event) bool {
			return e.Type == "ChannelDtmfReceived" && e.ChannelID() == aLeg.ID
		})
		if err != nil {
			t.Fatal(err)
		}
		if ev.Digit != string(d) {
			t.Fatalf("PBX saw digit %q, want %q", ev.Digit, string(d))
		}
		from = i + 1
	}
	if err := callee.WaitDigits(ctx, digits); err != nil {
		t.Fatal(err)
	}

	// talk for 3 s, then the caller hangs up
	select {
	case <-time.After(time.Until(started.Received.Add(3 * time.Second))):
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	if err := caller.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	hungUp := time.Now()
	finished, err := pbx.Events.WaitFor(ctx, "RecordingFinished", isRec("RecordingFinished"))
	if err != nil {
		t.Fatal(err)
	}
	if err := callee.WaitEnded(ctx); err != nil {
		t.Fatal(err)
	}
	if err := pbx.Hangup(ctx, snoopID); err != nil {
		t.Errorf("hang up snoop: %v", err)
	}

	// the file in the chroot's spool: plausible duration, both parties audible
	w, err := ReadWAV(path)
	if err != nil {
		t.Fatal(err)
	}
	want := hungUp.Sub(started.Received)
	t.Logf("%s: %v, %d Hz, header complete %v; expected ~%v; RecordingFinished duration %ds",
		path, w.Duration(), w.SampleRate, w.Complete(), want.Round(time.Millisecond), finished.Recording.Duration)
	if w.SampleRate != 8000 || !w.Complete() {
		t.Errorf("want a finished 8 kHz WAV, got %d Hz, complete=%v", w.SampleRate, w.Complete())
	}
	if diff := math.Abs((w.Duration() - want).Seconds()); diff > 0.3 {
		t.Errorf("duration %v, want %v ± 0.3 s", w.Duration(), want)
	}
	r := w.Tones(tones["1001"], tones["1002"], tones["1003"], tones["1004"], tones[ToneCarrier])
	t.Log(r)
	for _, p := range []string{"1001", "1002"} {
		if f := r.Fraction(tones[p]); f < 0.8 {
			t.Errorf("%s's tone (%d Hz) audible in %.0f%% of the recording, want ≥ 80%%", p, tones[p], 100*f)
		}
	}
	for _, p := range []string{"1003", "1004", ToneCarrier} {
		if f := r.Fraction(tones[p]); f > 0.02 {
			t.Errorf("%s's tone (%d Hz) audible in %.0f%% of the recording, want none", p, tones[p], 100*f)
		}
	}
}
