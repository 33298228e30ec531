// Command labdemo is the Go half of `make demo` (scripts/demo brings the lab up and
// down around it): it starts bin/callrecd serve attached to the lab PBX with the demo
// tenant and users of testdata/import.example.yaml, places three calls through the lab's
// peer — one recorded automatically, one paused and resumed with *48/*49, one
// transferred to an external number (the recording stops by the external-to-external
// rule) — waits until their recordings are filed, creates an API token and prints where
// to look: the REST API (with the real /cdr answer), the recordings, the index. Then it
// keeps callrecd running until Ctrl-C, or with -exit stops at once.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/callrecd/callrecd/internal/lab"
	"github.com/callrecd/callrecd/store"
)

func main() {
	bin := flag.String("bin", "bin/callrecd", "the callrecd binary")
	dir := flag.String("dir", "build/demo", "the demo's folder (config, index, recordings, log); must not exist or be empty")
	imp := flag.String("import", "testdata/import.example.yaml", "tenants and users to import")
	listen := flag.String("listen", "127.0.0.1:9298", "callrecd's HTTP address")
	exit := flag.Bool("exit", false, "stop callrecd after printing (else wait for Ctrl-C)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *bin, *dir, *imp, *listen, *exit); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		stop()
		os.Exit(1)
	}
}

func say(format string, a ...any) { fmt.Printf(format+"\n", a...) }

func run(ctx context.Context, bin, dir, imp, listen string, exit bool) error {
	setup, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := lab.CheckUp(setup); err != nil {
		return err
	}
	say("== starting callrecd (tenant Acme and users from %s)", imp)
	cr, err := lab.StartCallrecd(setup, lab.CallrecdConfig{Bin: bin, Dir: dir, Import: imp, Listen: listen})
	if err != nil {
		return err
	}
	defer cr.Stop(15 * time.Second)
	say("   callrecd serve pid %d on %s, attached to the lab PBX (ARI 127.0.0.1:8088, app callrecd)", cr.Pid, cr.URL)

	drv, err := lab.NewDriver(setup, lab.DefaultDriverConfig())
	if err != nil {
		return err
	}
	calls := []struct {
		title string
		play  func(context.Context, *lab.Driver) error
	}{
		{"1. +4915112345678 (carrier) calls Alice's DID 49305551001: recorded automatically (Alice records incoming external calls)", callRecorded},
		{"2. Alice (1001) calls +49 555 0100 outside; pauses with *48, resumes with *49 (paused time is left out of the file)", callPaused},
		{"3. +4915187654321 calls Alice, Alice transfers the caller to 5550199 outside (SIP REFER): the recording stops (external to external)", callTransferred},
	}
	say("== placing %d calls through the lab (real SIP, RTP, RFC 4733 DTMF, REFER)", len(calls))
	for _, c := range calls {
		say("   %s", c.title)
		cctx, ccancel := context.WithTimeout(setup, 40*time.Second)
		err := c.play(cctx, drv)
		ccancel()
		if err != nil {
			drv.Close()
			return fmt.Errorf("call %q: %w", c.title[:2], err)
		}
	}
	drv.Close()

	say("== waiting for the recordings to be filed")
	recs, err := waitFiled(setup, cr.DBPath, len(calls))
	if err != nil {
		return err
	}
	for _, r := range recs {
		paused := ""
		for _, p := range r.PausedIntervals {
			if p.End != nil {
				paused += fmt.Sprintf(", paused %.1f s", p.End.Sub(p.Start).Seconds())
			}
		}
		say("   call %d: recording %s %s (%s), %.1f s of audio%s, %d bytes", r.CallID, r.UUID, r.State, r.StopReason, r.Duration.Seconds(), paused, r.Size)
	}

	out, err := cr.Command(setup, "token", "create", "--tenant", lab.DemoTenant, "--role", "admin", "--description", "make demo")
	if err != nil {
		return err
	}
	token := strings.TrimSpace(out)
	cdrURL := cr.URL + "/api/call-logd/1.0/cdr"
	say("\n== GET %s (X-Auth-Token: the token below)", cdrURL)
	status, body, _, err := get(setup, cdrURL, token)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		say("   HTTP %d: %s", status, strings.TrimSpace(string(body)))
	} else {
		var pretty bytes.Buffer
		if json.Indent(&pretty, body, "   ", "  ") == nil {
			say("   %s", pretty.String())
		} else {
			say("   %s", body)
		}
	}
	var media string
	var first store.Recording
	if len(recs) > 0 {
		first = recs[0]
		media = fmt.Sprintf("%s/%d/recordings/%s/media", cdrURL, first.CallID, first.UUID)
		status, body, ctype, err := get(setup, media, token)
		if err != nil {
			return err
		}
		say("\n== GET %s\n   HTTP %d, %s, %d bytes", media, status, ctype, len(body))
	}

	monitor := filepath.Join(cr.Storage, "tenants", lab.DemoTenant, "monitor")
	files, _ := filepath.Glob(filepath.Join(monitor, "*"))
	say(`
================================================================================
 callrecd is running against the Asterisk lab. Where to look:

 API        %[1]s   (OpenAPI document: %[1]s/api/openapi.json)
 token      export TOKEN=%[2]s
            (admin of tenant Acme %[3]s; more: bin/callrecd -c %[4]s token create --help)

   curl -s -H "X-Auth-Token: $TOKEN" %[5]s
   curl -s -H "X-Auth-Token: $TOKEN" '%[5]s?recorded=true&format=csv'
   curl -s -H "X-Auth-Token: $TOKEN" -o call%[6]d.wav %[7]s
   curl -s -H "X-Auth-Token: $TOKEN" %[1]s/api/confd/1.1/users
   curl -s -H "X-Auth-Token: $TOKEN" %[1]s/api/calld/1.0/calls

 recordings %[8]s/  (%[9]d files)
 index      %[10]s   (sqlite3 %[10]s 'select uuid, state, stop_reason, duration_ms from recordings')
 config     %[4]s
 log        %[11]s
 lab        scripts/asterisk-lab status   (PBX console: chroot build/asterisk-chroot asterisk -rvvv)
================================================================================`,
		cr.URL, token, lab.DemoTenant, cr.ConfigPath, cdrURL, first.CallID, media, monitor, len(files), cr.DBPath, cr.LogPath)
	if exit {
		say("DEMO_EXIT set: stopping callrecd; the lab goes down next.")
		return cr.Stop(15 * time.Second)
	}
	say("callrecd and the lab keep running. Ctrl-C stops both.")
	select {
	case <-ctx.Done():
		say("\nstopping callrecd")
	case <-cr.Done():
		say("callrecd exited; see %s", cr.LogPath)
	}
	return cr.Stop(15 * time.Second)
}

func get(ctx context.Context, url, token string) (int, []byte, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, "", err
	}
	req.Header.Set("X-Auth-Token", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	return resp.StatusCode, b, resp.Header.Get("Content-Type"), err
}

// waitFiled waits until n recordings are stopped with their files in the layout and
// every call of the index has ended.
func waitFiled(ctx context.Context, db string, n int) ([]store.Recording, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	s, err := store.OpenCurrent(ctx, db)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	for {
		rs, err := s.ListRecordings(ctx, store.RecordingFilter{Tenant: lab.DemoTenant})
		done := 0
		for _, r := range rs {
			if !r.Live() && r.SHA256 != "" {
				done++
			}
		}
		calls, _, _, cerr := s.ListCalls(ctx, store.CallFilter{Tenant: lab.DemoTenant})
		open := 0
		for _, c := range calls {
			if c.End == nil {
				open++
			}
		}
		if err == nil && cerr == nil && done >= n && open == 0 {
			return rs, nil
		}
		select {
		case <-ctx.Done():
			return rs, fmt.Errorf("%d of %d recordings filed and %d calls open after 20 s (err %v, %v)", done, n, open, err, cerr)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func wait(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// inbound: the carrier calls DID 49305551001 with caller id from; Alice answers.
func inbound(ctx context.Context, d *lab.Driver, from string) (carrier, alice *lab.Party, err error) {
	if carrier, err = d.CallFromCarrier(ctx, from, "49305551001"); err != nil {
		return nil, nil, err
	}
	if alice, err = d.Incoming(ctx, "1001"); err != nil {
		return nil, nil, err
	}
	if err = alice.WaitUp(ctx); err != nil {
		return nil, nil, err
	}
	return carrier, alice, carrier.WaitUp(ctx)
}

func callRecorded(ctx context.Context, d *lab.Driver) error {
	carrier, _, err := inbound(ctx, d, "+4915112345678")
	if err != nil {
		return err
	}
	if err := wait(ctx, 4*time.Second); err != nil {
		return err
	}
	return hangup(ctx, carrier)
}

func callPaused(ctx context.Context, d *lab.Driver) error {
	alice, err := d.CallExternal(ctx, "1001", "5550100")
	if err != nil {
		return err
	}
	out, err := d.Incoming(ctx, "5550100")
	if err != nil {
		return err
	}
	if err := out.WaitUp(ctx); err != nil {
		return err
	}
	if err := alice.WaitUp(ctx); err != nil {
		return err
	}
	steps := []struct {
		dtmf string
		then time.Duration
	}{{"", 2 * time.Second}, {"*48", 3 * time.Second}, {"*49", 2 * time.Second}}
	for _, s := range steps {
		if s.dtmf != "" {
			if err := alice.SendDTMF(ctx, s.dtmf, true); err != nil {
				return err
			}
		}
		if err := wait(ctx, s.then); err != nil {
			return err
		}
	}
	return hangup(ctx, alice)
}

func callTransferred(ctx context.Context, d *lab.Driver) error {
	carrier, alice, err := inbound(ctx, d, "+4915187654321")
	if err != nil {
		return err
	}
	if err := wait(ctx, 3*time.Second); err != nil {
		return err
	}
	if err := alice.BlindTransfer(ctx, "95550199"); err != nil {
		return err
	}
	out, err := d.Incoming(ctx, "5550199")
	if err != nil {
		return err
	}
	if err := out.WaitUp(ctx); err != nil {
		return err
	}
	if err := wait(ctx, 2*time.Second); err != nil {
		return err
	}
	return hangup(ctx, carrier)
}

func hangup(ctx context.Context, p *lab.Party) error {
	if err := p.Hangup(ctx); err != nil {
		return err
	}
	return p.WaitEnded(ctx)
}
