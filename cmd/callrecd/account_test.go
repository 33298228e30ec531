package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/callrecd/callrecd/store"
)

func TestAccountCommands(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "x.db")
	if code, _, e := callrecd(t, "migrate", "--db", db); code != 0 {
		t.Fatal(e)
	}
	if code, _, e := callrecd(t, "import", "--db", db, "../../testdata/import.example.yaml"); code != 0 {
		t.Fatal(e)
	}
	const (
		tenant  = "2c34c282-433e-4bb8-8d56-fec14ff7e1e9"
		olga    = "b2e98781-7118-4010-8da3-b93b1b7e1389"
		tenantB = "8f0b5b1e-5d1c-4c53-9d7e-6a0c1b2d3e4f"
		bob     = "0b0b0b0b-1111-4222-8333-444455556666"
	)
	// A second tenant, so that "a user of another tenant" can be tried.
	s, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTenant(ctx, store.NewTenant(tenantB, "B"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, store.User{UUID: bob, TenantUUID: tenantB, Extension: "2001"}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	for _, ok := range [][]string{
		{"create", "root", "--role", "system"},
		{"create", "alice", "--role", "admin", "--tenant", tenant},
		{"create", "olga@example.com", "--role", "user", "--tenant", tenant, "--user", olga},
	} {
		code, out, errOut := callrecdIn(t, "correct horse\n", append(append([]string{"account"}, ok...), "--db", db)...)
		if code != 0 || !strings.Contains(out, "account "+ok[1]+" created") {
			t.Fatalf("%v: exit %d\n%s%s", ok, code, out, errOut)
		}
	}
	code, out, _ := callrecd(t, "account", "list", "--db", db)
	if code != 0 || !strings.Contains(out, "root") || !strings.Contains(out, "olga@example.com") || !strings.Contains(out, olga) ||
		strings.Contains(out, "$2a$") || strings.Contains(out, "correct horse") {
		t.Fatalf("list: exit %d\n%s", code, out)
	}
	if _, out, _ := callrecd(t, "account", "list", "--tenant", tenant, "--db", db); strings.Contains(out, "root") || !strings.Contains(out, "alice") {
		t.Fatalf("list --tenant:\n%s", out)
	}

	for _, bad := range []struct {
		stdin, want string
		args        []string
	}{
		{"correct horse\n", "no such tenant", []string{"create", "x", "--role", "admin", "--tenant", "00000000-0000-4000-8000-000000000000"}},
		{"correct horse\n", "no such user in tenant", []string{"create", "x", "--role", "user", "--tenant", tenant, "--user", bob}},
		{"correct horse\n", "system account belongs to no tenant", []string{"create", "x", "--role", "system", "--tenant", tenant}},
		{"correct horse\n", "admin account needs --tenant", []string{"create", "x", "--role", "admin"}},
		{"correct horse\n", "user account needs --tenant and --user", []string{"create", "x", "--role", "user", "--tenant", tenant}},
		{"correct horse\n", "--role is required", []string{"create", "x"}},
		{"correct horse\n", "must be system, admin or user", []string{"create", "x", "--role", "root"}},
		{"correct horse\n", "is not a UUID", []string{"create", "x", "--role", "admin", "--tenant", "A"}},
		{"correct horse\n", "name \"a b\"", []string{"create", "a b", "--role", "system"}},
		{"correct horse\n", "already exists", []string{"create", "alice", "--role", "admin", "--tenant", tenant}},
		{"", "no password on standard input", []string{"create", "x", "--role", "system"}},
		{"short\n", "at least 8 characters", []string{"create", "x", "--role", "system"}},
		{strings.Repeat("p", 73) + "\n", "at most 72 bytes", []string{"create", "x", "--role", "system"}},
		{"", "no account \"nobody\"", []string{"delete", "nobody"}},
		{"correct horse\n", "no account \"nobody\"", []string{"passwd", "nobody"}},
		{"short\n", "at least 8 characters", []string{"passwd", "alice"}},
	} {
		code, _, errOut := callrecdIn(t, bad.stdin, append(append([]string{"account"}, bad.args...), "--db", db)...)
		if code != exitUsage || !strings.Contains(errOut, bad.want) {
			t.Errorf("%v: exit %d, stderr %q (want %q)", bad.args, code, errOut, bad.want)
		}
		if strings.Contains(errOut, "sip-credential") || strings.Contains(errOut, "SIP") {
			t.Errorf("%v: the message speaks of SIP credentials: %q", bad.args, errOut)
		}
	}

	if code, out, e := callrecdIn(t, "battery staple\n", "account", "passwd", "alice", "--db", db); code != 0 || !strings.Contains(out, "sessions were ended") {
		t.Fatalf("passwd: exit %d %s%s", code, out, e)
	}
	s, err = store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if a, err := s.CheckPassword(ctx, "alice", "battery staple"); err != nil || a.TenantUUID != tenant {
		t.Fatalf("new password: %+v %v", a, err)
	}
	if _, err := s.CheckPassword(ctx, "alice", "correct horse"); !store.IsNotFound(err) {
		t.Fatalf("old password: %v", err)
	}
	if _, err := s.GetAccount(ctx, "x"); !store.IsNotFound(err) {
		t.Fatalf("a refused create left an account: %v", err)
	}
	if code, out, _ := callrecd(t, "account", "delete", "alice", "--db", db); code != 0 || !strings.Contains(out, "deleted") {
		t.Fatalf("delete: exit %d %s", code, out)
	}
	if _, err := s.GetAccount(ctx, "alice"); !store.IsNotFound(err) {
		t.Fatalf("after delete: %v", err)
	}
}
