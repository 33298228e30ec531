package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callrecd/callrecd/store"
)

// callrecd runs the command line in-process and returns exit status, stdout
// and stderr.
func callrecd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestHelpListsSubcommands(t *testing.T) {
	code, out, _ := callrecd(t, "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, sub := range []string{"serve", "migrate", "token", "import", "version"} {
		if !strings.Contains(out, "\n  "+sub+" ") {
			t.Errorf("--help does not list %s:\n%s", sub, out)
		}
	}
	for _, sub := range [][]string{{"serve", "--help"}, {"token", "create", "--help"}, {"import", "--help"}} {
		if code, out, _ := callrecd(t, sub...); code != 0 || !strings.Contains(out, "Usage:") {
			t.Errorf("%v: exit %d\n%s", sub, code, out)
		}
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	db := filepath.Join(t.TempDir(), "sub", "x.db")
	code, out, errOut := callrecd(t, "migrate", "--db", db)
	if code != 0 || !strings.Contains(out, "applied migration 1") {
		t.Fatalf("first migrate: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = callrecd(t, "migrate", "--db", db)
	if code != 0 || !strings.Contains(out, "up to date") || strings.Contains(out, "applied") {
		t.Fatalf("second migrate: exit %d\n%s", code, out)
	}
}

func TestBadConfigExitsTwoNamingTheKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(path, []byte("http:\n  listen: nowhere\n"), 0o600)
	code, _, errOut := callrecd(t, "migrate", "-c", path)
	if code != 2 || !strings.Contains(errOut, "http.listen") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = callrecd(t, "migrate", "-c", filepath.Join(t.TempDir(), "missing.yaml"))
	if code != 2 || !strings.Contains(errOut, "missing.yaml") {
		t.Fatalf("missing file: exit %d, stderr %q", code, errOut)
	}
	if code, _, _ := callrecd(t, "migrate", "--no-such-flag"); code != 2 {
		t.Fatalf("unknown flag: exit %d", code)
	}
}

func TestCommandsRefuseAnUnmigratedDatabase(t *testing.T) {
	db := filepath.Join(t.TempDir(), "x.db")
	code, _, errOut := callrecd(t, "token", "list", "--db", db)
	if code != 1 || !strings.Contains(errOut, "callrecd migrate") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func TestImportThenTokensLifecycle(t *testing.T) {
	db := filepath.Join(t.TempDir(), "x.db")
	if code, _, e := callrecd(t, "migrate", "--db", db); code != 0 {
		t.Fatal(e)
	}
	code, out, errOut := callrecd(t, "import", "--db", db, "../../testdata/import.example.yaml")
	if code != 0 || !strings.Contains(out, "5 created") {
		t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
	}
	const tenant = "2c34c282-433e-4bb8-8d56-fec14ff7e1e9"
	const user = "b2e98781-7118-4010-8da3-b93b1b7e1389"

	code, plain, errOut := callrecd(t, "token", "create", "--db", db, "--tenant", tenant, "--role", "admin")
	plain = strings.TrimSpace(plain)
	if code != 0 || !strings.HasPrefix(plain, "crd_") || !strings.Contains(errOut, "will not be shown again") {
		t.Fatalf("create: exit %d, %q %q", code, plain, errOut)
	}
	if code, _, _ := callrecd(t, "token", "create", "--db", db, "--role", "system"); code != 0 {
		t.Fatal("system token refused")
	}
	if code, _, _ := callrecd(t, "token", "create", "--db", db, "--tenant", tenant, "--role", "user", "--user", user); code != 0 {
		t.Fatal("user token refused")
	}
	for _, bad := range [][]string{
		{"--role", "admin"},
		{"--role", "root", "--tenant", tenant},
		{"--role", "user", "--tenant", tenant},
		{"--role", "system", "--tenant", tenant},
		{"--role", "admin", "--tenant", "acme"},
		{"--role", "admin", "--tenant", "8f0b5b1e-5d1c-4c53-9d7e-6a0c1b2d3e4f"},
		{"--role", "user", "--tenant", tenant, "--user", "8f0b5b1e-5d1c-4c53-9d7e-6a0c1b2d3e4f"},
	} {
		if code, _, errOut := callrecd(t, append([]string{"token", "create", "--db", db}, bad...)...); code != 2 || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q", bad, code, errOut)
		}
	}

	s, err := store.OpenCurrent(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.Authenticate(context.Background(), plain)
	s.Close()
	if err != nil || tok.Role != store.RoleAdmin || tok.TenantUUID != tenant {
		t.Fatalf("printed token does not authenticate: %+v, %v", tok, err)
	}

	code, out, _ = callrecd(t, "token", "list", "--db", db)
	if code != 0 || strings.Count(out, "\n") != 4 || strings.Contains(out, plain) || !strings.Contains(out, tok.ID) {
		t.Fatalf("list: exit %d\n%s", code, out)
	}
	if code, _, _ := callrecd(t, "token", "revoke", "--db", db, tok.ID); code != 0 {
		t.Fatal("revoke failed")
	}
	if code, _, _ := callrecd(t, "token", "revoke", "--db", db, "nope"); code != 2 {
		t.Fatal("revoking an unknown token succeeded")
	}
	s, _ = store.OpenCurrent(context.Background(), db)
	defer s.Close()
	if _, err := s.Authenticate(context.Background(), plain); !store.IsNotFound(err) {
		t.Fatalf("revoked token still authenticates: %v", err)
	}
}

func TestImportRefusesABadFileWritingNothing(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "x.db")
	callrecd(t, "migrate", "--db", db)
	cases := map[string]string{
		"unknown field": "users:\n  - uuid: b2e98781-7118-4010-8da3-b93b1b7e1389\n    extenson: '1'\n",
		"bad uuid":      "tenants:\n  - uuid: acme\n    name: A\n",
		// Valid shape, but the group member is nobody: refused by the
		// database after the tenant was already inserted, so the rollback
		// is what keeps the tenant out.
		"unknown member": "tenants:\n  - uuid: 2c34c282-433e-4bb8-8d56-fec14ff7e1e9\n    name: A\ngroups:\n" +
			"  - uuid: 6d2f1e4c-58a4-4a8e-9d7e-0e3c1b2a0700\n    tenant_uuid: 2c34c282-433e-4bb8-8d56-fec14ff7e1e9\n    name: s\n    members: [b2e98781-7118-4010-8da3-b93b1b7e1389]\n",
	}
	for name, body := range cases {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".yaml")
		os.WriteFile(path, []byte(body), 0o600)
		code, _, errOut := callrecd(t, "import", "--db", db, path)
		if code != 2 || !strings.Contains(errOut, path) {
			t.Errorf("%s: exit %d, stderr %q", name, code, errOut)
		}
	}
	s, _ := store.OpenCurrent(context.Background(), db)
	defer s.Close()
	if tenants, _ := s.ListTenants(context.Background()); len(tenants) != 0 {
		t.Fatalf("a refused import wrote %v", tenants)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serveConfig writes a serve configuration under dir: the Asterisk at
// ariBase (http://host:port), quick reconnects, one default tenant.
func serveConfig(t *testing.T, dir, ariBase, listen string) string {
	t.Helper()
	cfg := filepath.Join(dir, "callrecd.yaml")
	if err := os.WriteFile(cfg, []byte(`pbx:
  asterisk:
    url: `+ariBase+`/ari
    password: x
  connect_timeout: 200ms
  reconnect_max_backoff: 200ms
storage:
  root: `+filepath.Join(dir, "rec")+`
database:
  path: `+filepath.Join(dir, "db", "callrecd.db")+`
http:
  listen: `+listen+`
tenants:
  - uuid: 2c34c282-433e-4bb8-8d56-fec14ff7e1e9
    name: Acme
    default: true
`), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// serve with no PBX reachable: it answers /healthz, reports not ready with
// the PBX disconnected, keeps retrying, and stops cleanly when told to.
func TestServeWithoutPBX(t *testing.T) {
	dir := t.TempDir()
	listen := freePort(t)
	deadPBX := freePort(t) // nothing listens there
	cfg := serveConfig(t, dir, "http://"+deadPBX, listen)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var errb bytes.Buffer
	go func() { done <- run(ctx, []string{"serve", "-c", cfg}, &bytes.Buffer{}, &errb) }()

	var health *http.Response
	for i := 0; i < 200; i++ {
		resp, err := http.Get("http://" + listen + "/healthz")
		if err == nil {
			health = resp
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if health == nil || health.StatusCode != 200 {
		cancel()
		t.Fatalf("healthz never answered: %+v\n%s", health, errb.String())
	}
	health.Body.Close()
	resp, err := http.Get("http://" + listen + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var ready struct {
		Ready  bool
		Checks map[string]string
	}
	json.NewDecoder(resp.Body).Decode(&ready)
	resp.Body.Close()
	if resp.StatusCode != 503 || ready.Ready || ready.Checks["pbx"] != "disconnected" || ready.Checks["database"] != "ok" {
		t.Fatalf("readyz = %d %+v", resp.StatusCode, ready)
	}
	// The REST API is mounted: a system token made by the CLI on the same
	// database sees the configured tenant; no token, no data.
	code, plain, _ := callrecd(t, "token", "create", "-c", cfg, "--role", "system")
	if code != 0 {
		t.Fatalf("token create exit %d", code)
	}
	get := func(path, token string) (int, string) {
		req, _ := http.NewRequest("GET", "http://"+listen+path, nil)
		if token != "" {
			req.Header.Set("X-Auth-Token", strings.TrimSpace(token))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	if status, body := get("/api/callrecd/1.0/tenants", plain); status != 200 || !strings.Contains(body, "2c34c282-433e-4bb8-8d56-fec14ff7e1e9") {
		t.Fatalf("tenants: %d %s", status, body)
	}
	if status, _ := get("/api/call-logd/1.0/cdr", ""); status != 401 {
		t.Fatalf("cdr without a token: %d", status)
	}
	if status, body := get("/metrics", plain); status != 200 || !strings.Contains(body, "callrecd_storage_below_floor 0") ||
		!strings.Contains(body, "callrecd_recording_files_failed_total 0") || !strings.Contains(body, "callrecd_pbx_watchdog_trips_total 0") {
		t.Fatalf("metrics: %d %.300s", status, body)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exit %d\n%s", code, errb.String())
	}
	s, err := store.OpenCurrent(context.Background(), filepath.Join(dir, "db", "callrecd.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.GetTenant(context.Background(), "2c34c282-433e-4bb8-8d56-fec14ff7e1e9"); err != nil {
		t.Fatalf("configured tenant not registered: %v", err)
	}
	if !strings.Contains(errb.String(), "retrying") {
		t.Fatalf("no retry logged:\n%s", errb.String())
	}
}
