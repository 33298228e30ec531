//go:build lab

package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/callrecd/callrecd/internal/lab"
	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
)

// buildCallrecd builds the real binary for a test; TEST_CALLRECD_BIN names
// another build to run the same story against (e.g. an older commit's).
func buildCallrecd(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("TEST_CALLRECD_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(t.TempDir(), "callrecd")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/callrecd")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/callrecd: %v\n%s", err, out)
	}
	return bin
}

// `callrecd serve` itself, SIGKILLed while a recorded call runs; the call
// ends while it is down. The next `callrecd serve` closes what the crash
// left open: the recording stopped with stop_reason pbx_lost at about when
// the call ended (the spool file's last write), the call ended, and the
// file moved into the layout. (Before the engine declared its index in
// engine.Config, serve's wrapped Records hid it and the rows stayed open
// forever, while the hand-wired harness passed.)
func TestServeClosesRowsACrashLeftOpen(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := startServedCall(t, ctx)
	st, carrier, alice, rec := c.st, c.carrier, c.alice, c.rec
	time.Sleep(1500 * time.Millisecond) // some audio in the spool file

	c.serve.Kill()
	if err := carrier.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if err := alice.WaitEnded(ctx); err != nil {
		t.Fatal(err)
	}
	ended := time.Now()
	time.Sleep(time.Second) // the call is over well before callrecd is back

	second, err := lab.StartCallrecd(ctx, c.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Stop(10 * time.Second)
	eventually(t, 10*time.Second, "the recording closed with its file in place", func() bool {
		r, err := st.GetRecording(ctx, lab.DemoTenant, rec.UUID)
		if err == nil {
			rec = r
		}
		return err == nil && !r.Live() && r.SHA256 != ""
	})
	if rec.State != string(recording.StateStopped) || rec.StopReason != string(recording.StopPBXLost) || rec.End == nil {
		t.Fatalf("recording after the restart: state %s, stop reason %s, end %v", rec.State, rec.StopReason, rec.End)
	}
	if d := rec.End.Sub(ended); d < -2*time.Second || d > 2*time.Second {
		t.Errorf("recording end %s, want about when the call ended (%s)", rec.End.Format(time.RFC3339Nano), ended.Format(time.RFC3339Nano))
	}
	call, err := st.GetCall(ctx, lab.DemoTenant, rec.CallID)
	if err != nil {
		t.Fatal(err)
	}
	if call.End == nil {
		t.Fatalf("call %d still open after the restart", call.ID)
	}
	if rs, err := st.ListRecordings(ctx, store.RecordingFilter{Tenant: lab.DemoTenant}); err != nil || len(rs) != 1 {
		t.Fatalf("recordings after the restart: %d, %v (want the one)", len(rs), err)
	}
}

func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for: %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// servedCall is a call the real `callrecd serve` records: the carrier calls
// Alice (1001), who records incoming external calls, and the recording row
// is up. The index is opened beside the running binary.
type servedCall struct {
	cfg            lab.CallrecdConfig
	serve          *lab.Callrecd
	carrier, alice *lab.Party
	st             *store.Store
	rec            store.Recording
}

// startServedCall builds and starts callrecd serve on the lab and places
// the call; its log is printed if the test fails.
func startServedCall(t *testing.T, ctx context.Context) *servedCall {
	t.Helper()
	if err := lab.CheckUp(ctx); err != nil {
		t.Fatalf("the Asterisk lab is not up (scripts/asterisk-lab up): %v", err)
	}
	dir := t.TempDir()
	c := &servedCall{cfg: lab.CallrecdConfig{Bin: buildCallrecd(t), Dir: dir, Import: "../testdata/import.example.yaml"}}
	var err error
	if c.serve, err = lab.StartCallrecd(ctx, c.cfg); err != nil {
		t.Fatal(err)
	}
	c.cfg.Import = "" // a restart keeps the index
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "callrecd.log"))
			t.Logf("callrecd log:\n%s", log)
		}
	})
	drv, err := lab.NewDriver(ctx, lab.DefaultDriverConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { drv.Close() })
	if c.carrier, err = drv.CallFromCarrier(ctx, "+4915112345678", "49305551001"); err != nil {
		t.Fatal(err)
	}
	if c.alice, err = drv.Incoming(ctx, "1001"); err != nil {
		t.Fatal(err)
	}
	if err := c.alice.WaitUp(ctx); err != nil {
		t.Fatal(err)
	}
	if c.st, err = store.OpenCurrent(ctx, c.serve.DBPath); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.st.Close() })
	eventually(t, 5*time.Second, "the recording row", func() bool {
		rs, err := c.st.ListRecordings(ctx, store.RecordingFilter{Tenant: lab.DemoTenant})
		if err != nil || len(rs) != 1 || rs[0].State != string(recording.StateRecording) {
			return false
		}
		c.rec = rs[0]
		return true
	})
	return c
}

// Two crash windows of `callrecd serve`, staged on a real call around a
// SIGKILL (soak 9 and soak 8 found them):
//   - killed between asking Asterisk for a recording and Asterisk beginning
//     it: the row is open and the spool has no file. The next run fails it
//     (recording.FailureNeverStarted) instead of closing it stopped, which
//     promised a file that never existed; the call's real recording is
//     adopted, one recording, not two;
//   - killed between moving a file into the layout and indexing it: the row
//     is stopped without a file and the spool has none. The next run finds
//     the file in the layout and indexes it.
func TestServeRecoversWhatAKillBetweenTwoStepsLeft(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := startServedCall(t, ctx)
	st, carrier, real, cfg := c.st, c.carrier, c.rec, c.cfg

	// The first window: the killed run had asked for a second recording of
	// this call (its row written, the PBX not begun).
	c.serve.Kill()
	never := store.Recording{UUID: "7d0c5b1e-9a4f-4c2d-8e6b-3f1a2c4d5e6f", CallID: real.CallID, TenantUUID: lab.DemoTenant,
		Start: time.Now().UTC(), Filename: "never.wav", Format: string(recording.WAV), State: string(recording.StateRecording),
		StartedBy: string(recording.ByAPI)}
	if err := st.CreateRecording(ctx, never); err != nil {
		t.Fatal(err)
	}
	second, err := lab.StartCallrecd(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the row the PBX never began failed", func() bool {
		r, err := st.GetRecording(ctx, lab.DemoTenant, never.UUID)
		return err == nil && r.State == string(recording.StateFailed) && r.FailureReason == recording.FailureNeverStarted
	})
	if r, err := st.GetRecording(ctx, lab.DemoTenant, real.UUID); err != nil || r.State != string(recording.StateRecording) {
		t.Fatalf("the call's recording after the restart: %+v, %v (want it adopted, still recording)", r, err)
	}
	if err := carrier.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the recording stopped with its file", func() bool {
		r, err := st.GetRecording(ctx, lab.DemoTenant, real.UUID)
		if err == nil {
			real = r
		}
		return err == nil && r.State == string(recording.StateStopped) && r.SHA256 != ""
	})
	if err := second.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}

	// The second window: as if the run had died after placing the file and
	// before indexing it (what the index held before SetRecordingFile).
	placed := real
	if err := st.SetRecordingFile(ctx, real.UUID, store.FileInfo{Filename: real.Filename, Format: real.Format}); err != nil {
		t.Fatal(err)
	}
	third, err := lab.StartCallrecd(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Stop(10 * time.Second)
	eventually(t, 10*time.Second, "the placed file indexed again", func() bool {
		r, err := st.GetRecording(ctx, lab.DemoTenant, real.UUID)
		if err == nil {
			real = r
		}
		return err == nil && r.SHA256 != ""
	})
	if real.SHA256 != placed.SHA256 || real.Size != placed.Size || real.Filename != placed.Filename {
		t.Fatalf("indexed %s (%d bytes, %s), want the placed file %s (%d bytes, %s)",
			real.Filename, real.Size, real.SHA256, placed.Filename, placed.Size, placed.SHA256)
	}
}
