//go:build lab

package integration

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callrecd/callrecd/ari"
	"github.com/callrecd/callrecd/config"
	"github.com/callrecd/callrecd/doctor"
	"github.com/callrecd/callrecd/internal/lab"
	"github.com/callrecd/callrecd/store"
	"github.com/google/uuid"
)

// noProbeLeft: the probe's recordings are gone from the spool and from ARI.
func noProbeLeft(t *testing.T, ctx context.Context, spoolDir string) {
	t.Helper()
	left, _ := filepath.Glob(filepath.Join(spoolDir, "callrecd-doctor-*"))
	if len(left) > 0 {
		t.Errorf("the probe left files in the spool: %v", left)
	}
	var stored []struct {
		Name string `json:"name"`
	}
	rest := ari.NewREST("http://127.0.0.1:8088/ari", "recorder", "secret", 3*time.Second)
	defer rest.Close()
	if err := rest.Do(ctx, http.MethodGet, "/recordings/stored", nil, nil, &stored); err != nil {
		t.Fatal(err)
	}
	for _, s := range stored {
		if strings.HasPrefix(s.Name, "callrecd-doctor-") {
			t.Errorf("the probe left a stored recording: %s", s.Name)
		}
	}
}

// callrecd doctor on the lab's Asterisk (configured from the README's
// snippets): every check passes; with a wrong ARI password or a trunk the
// PBX does not have, the check says so and gives the fix.
func TestDoctorOnTheLab(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := lab.CheckUp(ctx); err != nil {
		t.Fatalf("the Asterisk lab is not up (scripts/asterisk-lab up): %v", err)
	}
	astroot, err := lab.ASTRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := config.Default()
	cfg.PBX.Asterisk = config.Asterisk{URL: "http://127.0.0.1:8088/ari", Username: "recorder", Password: "secret", App: "callrecd-doctor",
		RecordingSpool: filepath.Join(astroot, "var/spool/asterisk/recording")}
	cfg.Storage = config.Storage{Root: filepath.Join(dir, "recordings"), MinFree: "100MiB"}
	cfg.Database.Path = filepath.Join(dir, "callrecd.db")
	cfg.Trunks.Endpoints = []string{"carrier"}

	r := doctor.Run(ctx, cfg, 3*time.Second)
	var out bytes.Buffer
	r.Print(&out)
	if r.Failed() || strings.Contains(out.String(), "! ") {
		t.Fatalf("on the lab:\n%s", out.String())
	}
	for _, want := range []string{"✓ ARI", "Asterisk 22", "✓ Asterisk modules", "✓ trunks", "✓ recording spool",
		"✓ channel variables in ARI events", "CALLRECD_GROUP, CALLRECD_QUEUE, CHANNEL(linkedid) arrive",
		"✓ a test recording reaches callrecd", "appeared in " + cfg.PBX.Asterisk.RecordingSpool} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %q in:\n%s", want, out.String())
		}
	}
	noProbeLeft(t, ctx, cfg.PBX.Asterisk.RecordingSpool)

	// Stopped half-way through its one-second test recording (serve runs
	// the checks beside the daemon and stops them with it): nothing left.
	half, stopHalf := context.WithTimeout(ctx, 400*time.Millisecond)
	doctor.Run(half, cfg, 3*time.Second)
	stopHalf()
	noProbeLeft(t, ctx, cfg.PBX.Asterisk.RecordingSpool)

	// Asterisk on another host: the spool is fetched over ARI.
	remote := cfg
	remote.PBX.Asterisk.RecordingSpool = config.SpoolOverARI
	out.Reset()
	r = doctor.Run(ctx, remote, 3*time.Second)
	r.Print(&out)
	if r.Failed() || !strings.Contains(out.String(), "✓ a test recording reaches callrecd") || !strings.Contains(out.String(), "served over ARI") ||
		strings.Contains(out.String(), "recording spool (") {
		t.Fatalf("recording_spool: ari:\n%s", out.String())
	}
	// A folder that is not Asterisk's spool: said, and not fatal (ARI serves the files).
	wrong := cfg
	wrong.PBX.Asterisk.RecordingSpool = t.TempDir()
	out.Reset()
	r = doctor.Run(ctx, wrong, 3*time.Second)
	r.Print(&out)
	if r.Failed() || !strings.Contains(out.String(), "! a test recording reaches callrecd") || !strings.Contains(out.String(), "recording_spool: ari") {
		t.Fatalf("a folder that is not the spool:\n%s", out.String())
	}
	noProbeLeft(t, ctx, cfg.PBX.Asterisk.RecordingSpool)

	// A user whose endpoint the PBX does not have.
	st, err := store.Open(ctx, cfg.Database.Path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Migrate(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := st.EnsureTenant(ctx, tenantID, "acme", featureCodes); err != nil {
		t.Fatal(err)
	}
	for ext, ep := range map[string]string{"1001": "1001", "1009": "no-such-phone"} {
		if _, err := st.CreateUser(ctx, store.User{UUID: uuid.NewString(), TenantUUID: tenantID, Extension: ext, Endpoints: []string{ep}}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	out.Reset()
	r = doctor.Run(ctx, cfg, 3*time.Second)
	r.Print(&out)
	if !r.Failed() || !strings.Contains(out.String(), "✗ users' endpoints") || !strings.Contains(out.String(), "no-such-phone (user 1009)") {
		t.Fatalf("a user's unknown endpoint:\n%s", out.String())
	}

	bad := cfg
	bad.PBX.Asterisk.Password = "wrong"
	out.Reset()
	r = doctor.Run(ctx, bad, 3*time.Second)
	r.Print(&out)
	if !r.Failed() || !strings.Contains(out.String(), "✗ ARI") || !strings.Contains(out.String(), "ari.conf") {
		t.Fatalf("wrong password:\n%s", out.String())
	}

	bad = cfg
	bad.Trunks.Endpoints = []string{"carrier", "no-such-trunk"}
	out.Reset()
	r = doctor.Run(ctx, bad, 3*time.Second)
	r.Print(&out)
	if !r.Failed() || !strings.Contains(out.String(), "no-such-trunk") {
		t.Fatalf("unknown trunk:\n%s", out.String())
	}
}
