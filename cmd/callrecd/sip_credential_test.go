package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/callrecd/callrecd/store"
)

// callrecdIn is callrecd with stdin.
func callrecdIn(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRootCmd()
	root.SetArgs(args)
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&errb)
	if err := root.ExecuteContext(context.Background()); err != nil {
		errb.WriteString("callrecd: " + err.Error())
		var ue usageError
		if errors.As(err, &ue) {
			return exitUsage, out.String(), errb.String()
		}
		return exitFailure, out.String(), errb.String()
	}
	return 0, out.String(), errb.String()
}

func TestSIPCredentialCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "x.db")
	if code, _, e := callrecd(t, "migrate", "--db", db); code != 0 {
		t.Fatal(e)
	}
	if code, _, e := callrecd(t, "import", "--db", db, "../../testdata/import.example.yaml"); code != 0 {
		t.Fatal(e)
	}
	const tenant = "2c34c282-433e-4bb8-8d56-fec14ff7e1e9"
	code, out, errOut := callrecdIn(t, "s3cret\n", "sip-credential", "set", "1002", "--db", db, "--tenant", tenant)
	if code != 0 || !strings.Contains(out, "1002 created") || !strings.Contains(out, "realm callrecd") {
		t.Fatalf("set: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = callrecdIn(t, "n3w", "sip-credential", "set", "1002", "--db", db, "--tenant", tenant, "--endpoint", "Bob")
	if code != 0 || !strings.Contains(out, "1002 replaced") || !strings.Contains(out, "endpoint Bob") {
		t.Fatalf("replace: exit %d %s", code, out)
	}
	s, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.SIPCredentialByRealm(context.Background(), "callrecd", "1002")
	s.Close()
	if err != nil || c.HA1SHA256 != store.DigestHA1(store.DigestSHA256, "1002", "callrecd", "n3w") {
		t.Fatalf("stored %+v %v", c, err)
	}
	code, out, _ = callrecd(t, "sip-credential", "list", "--db", db)
	if code != 0 || !strings.Contains(out, "1002") || !strings.Contains(out, "Bob") || strings.Contains(out, c.HA1MD5) {
		t.Fatalf("list: exit %d\n%s", code, out)
	}
	for _, bad := range []struct {
		stdin, want string
		args        []string
	}{
		{"pw\n", "--tenant", []string{"set", "1002"}},
		{"pw\n", "username", []string{"set", "a b", "--tenant", tenant}},
		{"pw\n", "--endpoint", []string{"set", "1003", "--tenant", tenant, "--endpoint", "a\"b"}},
		{"", "no password", []string{"set", "1003", "--tenant", tenant}},
		{"pw\n", "no such tenant", []string{"set", "1003", "--tenant", "8f0b5b1e-5d1c-4c53-9d7e-6a0c1b2d3e4f"}},
		{"", "has no SIP credential", []string{"delete", "nobody", "--tenant", tenant}},
	} {
		code, _, errOut := callrecdIn(t, bad.stdin, append(append([]string{"sip-credential"}, bad.args...), "--db", db)...)
		if code != exitUsage || !strings.Contains(errOut, bad.want) {
			t.Errorf("%v: exit %d, stderr %q (want %q)", bad.args, code, errOut, bad.want)
		}
	}
	if code, out, _ := callrecd(t, "sip-credential", "delete", "1002", "--db", db, "--tenant", tenant); code != 0 || !strings.Contains(out, "deleted") {
		t.Fatalf("delete: exit %d %s", code, out)
	}
}
