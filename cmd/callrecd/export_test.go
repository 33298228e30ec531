package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callrecd/callrecd/media"
	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
)

// callrecd export writes the zip to --out (complete, or not at all),
// prints plain progress lines when not on a terminal, and the job is
// then shown by export status and export list.
func TestExportCommand(t *testing.T) {
	const tenant = "2c34c282-433e-4bb8-8d56-fec14ff7e1e9"
	dir := t.TempDir()
	db, root := filepath.Join(dir, "x.db"), filepath.Join(dir, "recordings")
	cfg := filepath.Join(dir, "callrecd.yaml")
	if err := os.WriteFile(cfg, []byte("storage:\n  root: "+root+"\nexports:\n  dir: "+filepath.Join(dir, "exports")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, e := callrecd(t, "migrate", "-c", cfg, "--db", db); code != 0 {
		t.Fatal(e)
	}
	ctx := context.Background()
	s, err := store.OpenCurrent(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTenant(ctx, store.NewTenant(tenant, "Acme"), nil); err != nil {
		t.Fatal(err)
	}
	var want []string
	var wav bytes.Buffer
	if err := media.WritePCM16(&wav, 8000, 1, make([]int16, 800)); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2024, 5, 6, 10, 0, 0, 0, time.UTC)
	for i := 0; i < 12; i++ {
		at := start.Add(time.Duration(i) * time.Hour)
		c, err := s.CreateCall(ctx, store.Call{TenantUUID: tenant, PBXCallID: "c" + string(rune('a'+i)), Start: at})
		if err != nil {
			t.Fatal(err)
		}
		ru := "5ea37d0b-0823-4d2b-a18c-b9082e551b" + string(rune('a'+i/10)) + string(rune('0'+i%10))
		name, _ := recording.Name{Start: at, CallID: c.ID, RecordingUUID: ru, Format: recording.WAV}.FileName()
		os.MkdirAll(filepath.Join(root, "tenants", tenant, "monitor"), 0o750)
		if err := os.WriteFile(filepath.Join(root, "tenants", tenant, "monitor", name), wav.Bytes(), 0o640); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateRecording(ctx, store.Recording{UUID: ru, CallID: c.ID, TenantUUID: tenant, Start: at,
			Filename: name, Format: "wav", State: "stopped", StartedBy: "policy"}); err != nil {
			t.Fatal(err)
		}
		if i < 10 {
			want = append(want, name)
		}
	}
	s.Close()

	out := filepath.Join(dir, "week.zip")
	code, stdout, stderr := callrecd(t, "export", "-c", cfg, "--db", db, "--tenant", tenant,
		"--from", "2024-05-06", "--until", "2024-05-06T20:00:00Z", "--out", out)
	if code != 0 || !strings.Contains(stdout, "10 recording(s)") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "export: 10/10 files") || strings.Count(stderr, "\n") > 11 {
		t.Fatalf("progress lines:\n%s", stderr)
	}
	zr, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range zr.File {
		for _, w := range want {
			if strings.HasSuffix(f.Name, "/"+w) {
				n++
			}
		}
	}
	zr.Close()
	if n != 10 {
		t.Fatalf("%d of 10 recordings in the zip", n)
	}
	if o, err := exec.Command("unzip", "-t", out).CombinedOutput(); err != nil {
		t.Fatalf("unzip -t: %v\n%s", err, o)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".partial-*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}

	code, list, _ := callrecd(t, "export", "list", "-c", cfg, "--db", db)
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if code != 0 || len(lines) != 2 || !strings.Contains(lines[1], "finished") || !strings.Contains(lines[1], "10/10") {
		t.Fatalf("list: exit %d\n%s", code, list)
	}
	id := strings.Fields(lines[1])[0]
	code, status, _ := callrecd(t, "export", "status", "-c", cfg, "--db", db, id)
	var st map[string]any
	if code != 0 || json.Unmarshal([]byte(status), &st) != nil || st["status"] != "finished" || st["uuid"] != id {
		t.Fatalf("status: exit %d\n%s", code, status)
	}

	// Mistakes: exit 2 naming the flag; nothing to export: exit 1.
	for _, bad := range [][]string{
		{"--out", out},
		{"--tenant", "acme", "--out", out},
		{"--tenant", tenant, "--out", out, "--from", "yesterday"},
		{"--tenant", tenant, "--out", out, "--call-direction", "sideways"},
	} {
		if code, _, e := callrecd(t, append([]string{"export", "-c", cfg, "--db", db}, bad...)...); code != 2 || e == "" {
			t.Errorf("%v: exit %d %q", bad, code, e)
		}
	}
	if code, _, e := callrecd(t, "export", "-c", cfg, "--db", db, "--tenant", tenant, "--out", filepath.Join(dir, "none.zip"),
		"--from", "2030-01-01"); code != 1 || !strings.Contains(e, "no recording to export") {
		t.Fatalf("nothing to export: exit %d %q", code, e)
	}
	if _, err := os.Stat(filepath.Join(dir, "none.zip")); !os.IsNotExist(err) {
		t.Fatal("a zip was written for nothing")
	}
	if code, _, _ := callrecd(t, "export", "status", "-c", cfg, "--db", db, "11111111-0000-4000-8000-000000000001"); code != 2 {
		t.Fatalf("unknown export: exit %d", code)
	}
}
