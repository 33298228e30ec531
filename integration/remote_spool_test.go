//go:build lab

package integration

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callrecd/callrecd/ari"
	"github.com/callrecd/callrecd/config"
)

// Asterisk on another host: callrecd cannot read the chroot's spool, so each
// finished recording comes over ARI (/recordings/stored/{name}/file), is
// placed and indexed, and only then deleted on Asterisk. Once with
// recording_spool: ari, once with a folder this machine does not have
// (chosen automatically, said in the log).
func TestStoryRemoteAsteriskSpoolOverARI(t *testing.T) {
	for _, tc := range []struct{ name, setting, logLine string }{
		{"recording_spool_ari", config.SpoolOverARI, "recording spool: fetched over ARI"},
		{"spool_not_on_this_machine", "/nonexistent/asterisk/recording", "recording spool not readable from this machine; fetching recordings over ARI"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, map[string]userFlags{"1001": {outInt: true}})
			e.stop()
			e.spoolSetting = tc.setting
			e.start()
			if !strings.Contains(e.logBuf.String(), tc.logLine) {
				t.Fatalf("the log does not say where recordings come from (%q)", tc.logLine)
			}
			caller, _ := e.call("1001", "1002", "1002")
			r0 := e.waitRecording(0)
			time.Sleep(talk)
			e.hangup(caller)
			r, w := e.finished(r0.UUID)
			if r.StopReason != "hangup" || r.State != "stopped" {
				t.Fatalf("recording %s/%s", r.State, r.StopReason)
			}
			near(t, "WAV duration", w.Duration(), talk, 400*time.Millisecond)
			e.tonesPresent(w, 2, []string{"1001", "1002"}, nil)
			e.eventually(5*time.Second, "Asterisk's copy deleted", func() bool {
				_, err := os.Stat(filepath.Join(e.spool, r0.UUID+".wav"))
				return os.IsNotExist(err)
			})
			rest := ari.NewREST(e.ariURL+"/ari", "recorder", "secret", 3*time.Second)
			defer rest.Close()
			err := rest.Do(e.ctx, http.MethodGet, "/recordings/stored/"+r0.UUID, nil, nil, nil)
			if ari.StatusOf(err) != http.StatusNotFound {
				t.Fatalf("ARI still stores the recording: %v", err)
			}
			if !strings.Contains(e.logBuf.String(), "recording file in place") {
				t.Fatal("no placement in the log")
			}
		})
	}
}
