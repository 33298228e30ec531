package doctor

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callrecd/callrecd/config"
	"github.com/callrecd/callrecd/esl/esltest"
)

func baseConfig(t *testing.T) config.Config {
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Storage = config.Storage{Root: filepath.Join(dir, "recordings"), MinFree: "1MiB"}
	cfg.Database.Path = filepath.Join(dir, "callrecd.db")
	return cfg
}

func find(t *testing.T, r Report, check string) Result {
	t.Helper()
	for _, x := range r {
		if strings.HasPrefix(x.Check, check) {
			return x
		}
	}
	t.Fatalf("no check %q in %+v", check, r)
	return Result{}
}

// A closed loopback port: nothing listens there.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestFreeSWITCHChecks(t *testing.T) {
	for _, c := range []struct {
		name, version, password string
		link, pause             Status
	}{
		{"1.10.12", "FreeSWITCH Version 1.10.12-release~64bit (-release 64bit)", "ClueCon", OK, OK},
		{"before pause existed", "FreeSWITCH Version 1.10.6-release~64bit (-release 64bit)", "ClueCon", OK, Warn},
		{"wrong password", "", "nope", Fail, OK},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := esltest.NewServer(t, "ClueCon")
			srv.HandleAPI("version", func(string) (string, []esltest.Event) { return c.version + "\n", nil })
			cfg := baseConfig(t)
			cfg.PBX.Type = "freeswitch"
			cfg.PBX.FreeSWITCH = config.FreeSWITCH{Address: srv.Addr(), Password: c.password, RecordingDir: t.TempDir()}
			r := Run(context.Background(), cfg, 2*time.Second)
			link := find(t, r, "event socket")
			if link.Status != c.link {
				t.Fatalf("%+v", link)
			}
			if c.link == Fail {
				if link.Fix == "" || !r.Failed() {
					t.Fatalf("a failure without its fix: %+v", r)
				}
				return
			}
			if p := find(t, r, "FreeSWITCH version"); p.Status != c.pause {
				t.Fatalf("%+v", p)
			}
			if r.Failed() {
				var b bytes.Buffer
				r.Print(&b)
				t.Fatalf("failed:\n%s", b.String())
			}
		})
	}
}

func TestLocalChecks(t *testing.T) {
	cfg := baseConfig(t)
	cfg.PBX.Type = "freeswitch"
	cfg.PBX.FreeSWITCH = config.FreeSWITCH{Address: closedPort(t), Password: "x", RecordingDir: filepath.Join(t.TempDir(), "missing")}
	cfg.Database.AutoMigrate = false
	_, port, _ := net.SplitHostPort(closedPort(t))
	cfg.SMTP.Host = "127.0.0.1"
	cfg.SMTP.Port, _ = strconv.Atoi(port)
	r := Run(context.Background(), cfg, time.Second)
	for _, check := range []string{"event socket", "recording folder", "database", "mail"} {
		if x := find(t, r, check); x.Status != Fail || x.Fix == "" {
			t.Errorf("%s: %+v, want a failure with its fix", check, x)
		}
	}
	if x := find(t, r, "storage"); x.Status != OK {
		t.Errorf("storage: %+v", x)
	}
	var b bytes.Buffer
	r.Print(&b)
	if !strings.Contains(b.String(), "✗ database (database.path)") || !strings.Contains(b.String(), "    fix: run callrecd migrate") {
		t.Fatalf("printed:\n%s", b.String())
	}

	cfg.Storage.MinFree = "100%"
	if x := find(t, Run(context.Background(), cfg, time.Second), "storage"); x.Status != Fail {
		t.Errorf("storage below its floor: %+v", x)
	}
}

// What ari.conf's channelvars let through decides the check: every one of
// callrecd's variables must arrive, with the value the probe set.
func TestCheckChannelvars(t *testing.T) {
	for _, tc := range []struct {
		name    string
		got     map[string]string
		status  Status
		missing string
	}{
		{"all there", map[string]string{"CALLRECD_GROUP": probeValue, "CALLRECD_QUEUE": probeValue, "CHANNEL(linkedid)": "1733.7"}, OK, ""},
		{"no channelvars line", nil, Fail, "CALLRECD_GROUP, CALLRECD_QUEUE, CHANNEL(linkedid)"},
		{"an old line without the group", map[string]string{"CALLRECD_QUEUE": probeValue, "CHANNEL(linkedid)": "1733.7", "ACCOUNTCODE": "x"}, Fail, "CALLRECD_GROUP"},
		{"listed but empty", map[string]string{"CALLRECD_GROUP": "", "CALLRECD_QUEUE": probeValue, "CHANNEL(linkedid)": "1733.7"}, Fail, "CALLRECD_GROUP"},
		{"no linkedid", map[string]string{"CALLRECD_GROUP": probeValue, "CALLRECD_QUEUE": probeValue}, Fail, "CHANNEL(linkedid)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := checkChannelvars(Result{}, tc.got)
			if r.Status != tc.status {
				t.Fatalf("status %v, want %v: %+v", r.Status, tc.status, r)
			}
			if tc.status == Fail && (!strings.Contains(r.Detail, "lack "+tc.missing+":") || !strings.Contains(r.Fix, "do not replace it")) {
				t.Fatalf("detail %q fix %q", r.Detail, r.Fix)
			}
		})
	}
}
