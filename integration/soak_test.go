//go:build lab

package integration

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callrecd/callrecd/internal/lab"
)

// The fault soak, short: a dozen concurrent recorded calls for about a
// minute (automatic, *3, *48/*49, transfers in and out) against the real
// `callrecd serve`, while every fault kind is injected at least once:
// SIGKILL and restart, the ARI websocket cut, the index held busy, the
// storage filled below storage.min_free, the PBX restarted. Nothing may be
// lost, doubled or left open; the timings are reported, not asserted
// (`make soak` is the 10-minute run; SOAK_SEED repeats a run).
func TestSoakShortEveryFaultKind(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	if err := lab.CheckUp(ctx); err != nil {
		t.Fatalf("the Asterisk lab is not up (scripts/asterisk-lab up): %v", err)
	}
	o := lab.SoakOptions{Bin: buildCallrecd(t), Dir: t.TempDir(), Calls: 12, Duration: 60 * time.Second,
		FaultGap: 5 * time.Second, TalkMin: 12 * time.Second, TalkMax: 22 * time.Second, TmpfsSize: "512m",
		LabScript: "../scripts/asterisk-lab", Progress: testWriter{t}}
	if s := os.Getenv("SOAK_SEED"); s != "" {
		var err error
		if o.Seed, err = strconv.ParseInt(s, 10, 64); err != nil {
			t.Fatalf("SOAK_SEED: %v", err)
		}
	}
	rep, err := lab.RunSoak(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	rep.Print(&b)
	t.Log(b.String())
	if !rep.OK() {
		log, _ := os.ReadFile(filepath.Join(o.Dir, "callrecd.log"))
		t.Errorf("lost %d, doubled %d, left open %d (seed %d: SOAK_SEED=%d repeats the mix)\ncallrecd log tail:\n%s",
			rep.Lost, rep.Doubled, rep.LeftOpen, rep.Seed, rep.Seed, tail(string(log), 60))
	}
	for _, k := range lab.SoakFaultKinds() {
		if rep.FaultsByKind[k] == 0 {
			t.Errorf("fault %s never injected", k)
		}
	}
	if rep.RecordingsExpected == 0 || rep.RecordingsFound == 0 {
		t.Errorf("no recorded calls: expected %d, found %d", rep.RecordingsExpected, rep.RecordingsFound)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
