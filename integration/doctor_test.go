//go:build lab

package integration

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
	"net/http"
	"os"
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

// plantProbeFile writes a probe's one-second test recording into the spool
// as if a probe had left it at mtime, and returns its path.
func plantProbeFile(t *testing.T, spool, name string, mtime time.Time) string {
	t.Helper()
	const rate = 8000
	data := make([]byte, 2*rate)
	h := make([]byte, 0, 44)
	h = append(h, "RIFF"...)
	h = binary.LittleEndian.AppendUint32(h, uint32(36+len(data)))
	h = append(h, "WAVEfmt "...)
	h = binary.LittleEndian.AppendUint32(h, 16)
	h = binary.LittleEndian.AppendUint16(h, 1) // PCM
	h = binary.LittleEndian.AppendUint16(h, 1) // mono
	h = binary.LittleEndian.AppendUint32(h, rate)
	h = binary.LittleEndian.AppendUint32(h, 2*rate)
	h = binary.LittleEndian.AppendUint16(h, 2)
	h = binary.LittleEndian.AppendUint16(h, 16)
	h = append(h, "data"...)
	h = binary.LittleEndian.AppendUint32(h, uint32(len(data)))
	path := filepath.Join(spool, name+".wav")
	if err := os.WriteFile(path, append(h, data...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(path) })
	return path
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

	// A probe killed mid-recording (SIGKILL) left its test file; one a
	// probe beside this one is making is young. The next probe sweeps the
	// first and leaves the second alone.
	spool := cfg.PBX.Asterisk.RecordingSpool
	killed := plantProbeFile(t, spool, "callrecd-doctor-killed01", time.Now().Add(-2*time.Minute))
	young := plantProbeFile(t, spool, "callrecd-doctor-young001", time.Now())

	r := doctor.Run(ctx, cfg, 3*time.Second)
	var out bytes.Buffer
	r.Print(&out)
	if r.Failed() || strings.Contains(out.String(), "! ") {
		t.Fatalf("on the lab:\n%s", out.String())
	}
	if _, err := os.Stat(killed); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the killed probe's file is still in the spool: %v", err)
	}
	if _, err := os.Stat(young); err != nil {
		t.Errorf("a young probe file (another probe's) was swept: %v", err)
	}
	os.Remove(young)
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
