package sipctl

import (
	"strings"
	"testing"
)

func TestParseAuthorization(t *testing.T) {
	h := `Digest username="1002", realm="pbx.test", nonce="abc", uri="sip:callrecd@127.0.0.1:5062", ` +
		`response="0123", algorithm=SHA-256, cnonce="c\"x", qop=auth, nc=00000001, opaque=""`
	a, err := parseAuthorization(h)
	if err != nil {
		t.Fatal(err)
	}
	want := authorization{Username: "1002", Realm: "pbx.test", Nonce: "abc", URI: "sip:callrecd@127.0.0.1:5062",
		Response: "0123", Algorithm: "SHA-256", CNonce: `c"x`, QOP: "auth", NC: "00000001"}
	if a != want {
		t.Fatalf("got %+v", a)
	}
	for _, bad := range []string{
		"", "Basic dXNlcjpwYXNz", `Digest username="a"`, `Digest username="a", username="b", realm="r", nonce="n", uri="u", response="x"`,
		`Digest username="a, realm="r"`, `Digest username="a" realm="r", nonce="n", uri="u", response="x"`, `Digest =x`,
		`Digest username="a\`, "Digest " + strings.Repeat("x", maxAuthHeader),
	} {
		if _, err := parseAuthorization(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// FuzzParseAuthorization: never panics; what it accepts has every
// required field and survives being written back and read again.
func FuzzParseAuthorization(f *testing.F) {
	f.Add(`Digest username="1002", realm="callrecd", nonce="n", uri="sip:callrecd@127.0.0.1", response="r", qop=auth, nc=00000001, cnonce="c"`)
	f.Add(`digest USERNAME=a,REALM=b,NONCE=c,URI=d,RESPONSE=e`)
	f.Add(`Digest username="a\\\"b", realm="", nonce=`)
	f.Fuzz(func(t *testing.T, h string) {
		a, err := parseAuthorization(h)
		if err != nil {
			return
		}
		if a.Username == "" || a.Realm == "" || a.Nonce == "" || a.URI == "" || a.Response == "" {
			t.Fatalf("accepted without a required field: %+v", a)
		}
		q := func(s string) string { return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"` }
		again, err := parseAuthorization("Digest username=" + q(a.Username) + ", realm=" + q(a.Realm) + ", nonce=" + q(a.Nonce) +
			", uri=" + q(a.URI) + ", response=" + q(a.Response) + ", algorithm=" + q(a.Algorithm) + ", cnonce=" + q(a.CNonce) +
			", qop=" + q(a.QOP) + ", nc=" + q(a.NC) + ", opaque=" + q(a.Opaque))
		if err != nil && len(h) < maxAuthHeader/4 {
			t.Fatalf("re-parse of %+v: %v", a, err)
		}
		if err == nil && again != a {
			t.Fatalf("round trip %+v != %+v", again, a)
		}
	})
}
