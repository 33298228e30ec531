//go:build lab

package integration

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callrecd/callrecd/config"
	"github.com/callrecd/callrecd/doctor"
	"github.com/callrecd/callrecd/internal/lab"
)

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
	for _, want := range []string{"✓ ARI", "Asterisk 22", "✓ Asterisk modules", "✓ trunks", "✓ recording spool"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %q in:\n%s", want, out.String())
		}
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
