package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callrecd/callrecd/store"
)

const accountPassword = "correct horse"

// sessEnv is the API over a real SQLite file, served on loopback, with a
// clock the test moves and three accounts: root (system), alice (admin of
// tenant A), olga (user Olga of tenant A).
type sessEnv struct {
	*env
	srv    *httptest.Server
	client *http.Client
	mu     sync.Mutex
	now    time.Time
}

func (x *sessEnv) clock() time.Time {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.now
}

func (x *sessEnv) advance(d time.Duration) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.now = x.now.Add(d)
}

// newSessionEnv starts the server; tls serves HTTPS, proxies are
// Options.TrustedProxies.
func newSessionEnv(t *testing.T, tls bool, proxies ...*net.IPNet) *sessEnv {
	t.Helper()
	x := &sessEnv{env: newEnv(t), now: time.Now().UTC()}
	for _, a := range []store.Account{{Username: "root", Role: store.RoleSystem},
		{Username: "alice", Role: store.RoleAdmin, TenantUUID: tenantA},
		{Username: "olga", Role: store.RoleUser, TenantUUID: tenantA, UserUUID: userOlga}} {
		if _, err := x.store.CreateAccount(context.Background(), a, accountPassword); err != nil {
			t.Fatal(err)
		}
	}
	e, err := New(Options{Store: x.store, StorageRoot: x.root, Calls: x.calls, Now: x.clock, TrustedProxies: proxies,
		Logger: slog.New(slog.NewTextHandler(x.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	x.e = e
	x.srv = httptest.NewUnstartedServer(e)
	if tls {
		x.srv.StartTLS()
	} else {
		x.srv.Start()
	}
	t.Cleanup(x.srv.Close)
	x.client = x.srv.Client()
	return x
}

// call sends one request; hdr is header name/value pairs.
func (x *sessEnv) call(method, path string, body any, hdr ...string) resp {
	x.t.Helper()
	var rd io.Reader
	if body != nil {
		b, ok := body.(string)
		if !ok {
			j, _ := json.Marshal(body)
			b = string(j)
		}
		rd = strings.NewReader(b)
	}
	req, err := http.NewRequest(method, x.srv.URL+path, rd)
	if err != nil {
		x.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := x.client.Do(req)
	if err != nil {
		x.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		x.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// signIn signs in and returns the answer, the Cookie header to send and
// the CSRF token.
func (x *sessEnv) signIn(body any) (resp, string, string) {
	x.t.Helper()
	r := x.call("POST", sessionPath, body)
	if r.status != http.StatusCreated {
		x.t.Fatalf("sign in %v: %d %s", body, r.status, r.body)
	}
	for _, ck := range (&http.Response{Header: r.header}).Cookies() {
		if ck.Name == sessionCookie {
			csrf, _ := r.json(x.t)["csrf_token"].(string)
			return r, sessionCookie + "=" + ck.Value, csrf
		}
	}
	x.t.Fatalf("no %s cookie: %v", sessionCookie, r.header)
	return r, "", ""
}

func (x *sessEnv) auditLog() []store.AuditEntry {
	x.t.Helper()
	entries, err := x.store.ListAudit(context.Background(), store.AuditFilter{})
	if err != nil {
		x.t.Fatal(err)
	}
	return entries
}

func (x *sessEnv) auditActions(actor string) (out []string) {
	for _, e := range x.auditLog() {
		if e.Actor == actor {
			out = append(out, e.Action)
		}
	}
	return out
}

func TestSessionSignIn(t *testing.T) {
	x := newSessionEnv(t, false)
	r, cookie, csrf := x.signIn(map[string]string{"username": "alice", "password": accountPassword})
	m := r.json(t)
	exp, _ := m["expires_at"].(string)
	if _, err := time.Parse(time.RFC3339, exp); err != nil || m["username"] != "alice" || m["role"] != "admin" ||
		m["tenant_uuid"] != tenantA || m["user_uuid"] != nil || len(csrf) != 43 || exp != ts(x.clock().Add(store.WebSessionLifetime)) {
		t.Fatalf("answer %s (expires_at: %v)", r.body, err)
	}
	if g := x.call("GET", sessionPath, nil, "Cookie", cookie); g.status != 200 || !bytes.Equal(g.body, r.body) {
		t.Fatalf("GET session: %d %s, want %s", g.status, g.body, r.body)
	}

	r, cookie, _ = x.signIn(map[string]string{"token": x.tokens["olga"]})
	if m := r.json(t); m["username"] != "token:"+x.tokens["olga-id"] || m["role"] != "user" || m["user_uuid"] != userOlga {
		t.Fatalf("token sign-in: %s", r.body)
	}
	if g := x.call("GET", "/api/calld/1.0/users/me/calls", nil, "Cookie", cookie); g.status != 200 {
		t.Fatalf("token session on users/me: %d %s", g.status, g.body)
	}

	wrongPass := x.call("POST", sessionPath, map[string]string{"username": "alice", "password": "not the password"})
	noUser := x.call("POST", sessionPath, map[string]string{"username": "mallory", "password": "not the password"})
	wantError(t, wrongPass, http.StatusUnauthorized, "invalid-credentials")
	strip := func(r resp) map[string]any { m := r.json(t); delete(m, "timestamp"); return m }
	if a, b := strip(wrongPass), strip(noUser); !reflect.DeepEqual(a, b) || wrongPass.header.Get("Set-Cookie") != "" {
		t.Fatalf("wrong password %v and unknown user %v answer differently", a, b)
	}
	wantError(t, x.call("POST", sessionPath, map[string]string{"token": "crd_0123456789ab_nope"}), http.StatusUnauthorized, "invalid-credentials")

	for name, tc := range map[string]struct{ body, field string }{
		"bad JSON":         {`{"username":`, "body"},
		"empty body":       {``, "body"},
		"no username":      {`{"password":"x"}`, "username"},
		"no password":      {`{"username":"alice"}`, "password"},
		"empty password":   {`{"username":"alice","password":""}`, "password"},
		"wrong type":       {`{"username":5,"password":"x"}`, "username"},
		"empty token":      {`{"token":""}`, "token"},
		"token and user":   {`{"token":"crd_x","username":"alice"}`, "token"},
		"huge username":    {`{"username":"` + strings.Repeat("a", 300) + `","password":"x"}`, "username"},
		"null username":    {`{"username":null,"password":"x"}`, "username"},
		"array not object": {`[]`, "body"},
	} {
		r := x.call("POST", sessionPath, tc.body, "Content-Type", "application/json")
		wantError(t, r, http.StatusBadRequest, "invalid-data")
		if !strings.Contains(string(r.body), tc.field) {
			t.Errorf("%s: the error does not name %s: %s", name, tc.field, r.body)
		}
	}
	wantError(t, x.call("GET", sessionPath, nil), http.StatusUnauthorized, "unauthorized")
	wantError(t, x.call("GET", sessionPath, nil, "Cookie", sessionCookie+"=forged"), http.StatusUnauthorized, "unauthorized")
	// An API token is not a session.
	wantError(t, x.call("GET", sessionPath, nil, "X-Auth-Token", x.tokens["adminA"]), http.StatusUnauthorized, "unauthorized")

	alice, tok := x.auditActions("account:alice"), x.auditActions("token:"+x.tokens["olga-id"])
	if strings.Join(alice, ",") != "session.sign_in" || strings.Join(tok, ",") != "session.sign_in" {
		t.Fatalf("audit: alice %v, olga's token %v", alice, tok)
	}
	var tried []string
	for _, e := range x.auditLog() {
		if e.Action == "session.sign_in_failed" {
			tried = append(tried, e.Details["username"].(string))
		}
		if b, _ := json.Marshal(e.Details); strings.Contains(string(b), "not the password") ||
			strings.Contains(string(b), accountPassword) || strings.Contains(string(b), "_nope") {
			t.Errorf("a secret in the audit log: %s", b)
		}
	}
	if strings.Join(tried, ",") != "alice,mallory,token:0123456789ab" {
		t.Fatalf("failed sign-ins audited: %v", tried)
	}
}

func TestSessionCookieFlags(t *testing.T) {
	_, loopback, _ := net.ParseCIDR("127.0.0.0/8")
	_, elsewhere, _ := net.ParseCIDR("192.0.2.0/24")
	for name, tc := range map[string]struct {
		tls     bool
		proxies []*net.IPNet
		hdr     []string
		secure  bool
	}{
		"plain HTTP":                    {},
		"TLS":                           {tls: true, secure: true},
		"https from a trusted proxy":    {proxies: []*net.IPNet{loopback}, hdr: []string{"X-Forwarded-Proto", "https"}, secure: true},
		"nearest proxy says http":       {proxies: []*net.IPNet{loopback}, hdr: []string{"X-Forwarded-Proto", "https, http"}},
		"https from an untrusted peer":  {proxies: []*net.IPNet{elsewhere}, hdr: []string{"X-Forwarded-Proto", "https"}},
		"https without trusted proxies": {hdr: []string{"X-Forwarded-Proto", "https"}},
	} {
		t.Run(name, func(t *testing.T) {
			x := newSessionEnv(t, tc.tls, tc.proxies...)
			r := x.call("POST", sessionPath, map[string]string{"username": "root", "password": accountPassword}, tc.hdr...)
			if r.status != http.StatusCreated {
				t.Fatalf("%d %s", r.status, r.body)
			}
			raw := r.header.Get("Set-Cookie")
			value, attrs, _ := strings.Cut(raw, "; ")
			want := "Path=/; HttpOnly; SameSite=Strict"
			if tc.secure {
				want = "Path=/; HttpOnly; Secure; SameSite=Strict"
			}
			if attrs != want || !strings.HasPrefix(value, sessionCookie+"=") || len(value) != len(sessionCookie)+1+43 {
				t.Fatalf("Set-Cookie %q, want %s=<43 base64url>; %s", raw, sessionCookie, want)
			}
			out := x.call("DELETE", sessionPath, nil, append(tc.hdr, "Cookie", value, headerCSRF, r.json(t)["csrf_token"].(string))...)
			if c := out.header.Get("Set-Cookie"); out.status != 204 || c != sessionCookie+"=; Path=/; Max-Age=0; "+want[len("Path=/; "):] {
				t.Fatalf("sign-out: %d, Set-Cookie %q", out.status, c)
			}
		})
	}
}

func TestSessionRateLimit(t *testing.T) {
	x := newSessionEnv(t, false)
	right := map[string]string{"username": "alice", "password": accountPassword}
	wrong := map[string]string{"username": "alice", "password": "guess guess"}
	for i := range signInPerUser {
		if r := x.call("POST", sessionPath, wrong); r.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d %s", i+1, r.status, r.body)
		}
		x.advance(time.Minute)
	}
	// Blocked even with the right password, until the first failure is 15 min old.
	r := x.call("POST", sessionPath, right)
	wantError(t, r, http.StatusTooManyRequests, "too-many-sign-in-attempts")
	if r.header.Get("Retry-After") != "600" || r.header.Get("Set-Cookie") != "" {
		t.Fatalf("Retry-After %q (want 600), Set-Cookie %q", r.header.Get("Retry-After"), r.header.Get("Set-Cookie"))
	}
	// Another username from the same address is not blocked by alice's count.
	if r := x.call("POST", sessionPath, map[string]string{"username": "root", "password": accountPassword}); r.status != 201 {
		t.Fatalf("root: %d %s", r.status, r.body)
	}
	x.advance(10*time.Minute - time.Second)
	wantError(t, x.call("POST", sessionPath, right), http.StatusTooManyRequests, "too-many-sign-in-attempts")
	x.advance(time.Second)
	x.signIn(right) // the oldest failure left the window; success forgives the rest
	for range signInPerUser - 1 {
		x.call("POST", sessionPath, wrong)
	}
	x.signIn(right)

	// 20 failures from one address, whatever the usernames, block it.
	x.advance(signInWindow)
	for i := range signInPerIP {
		body := map[string]string{"username": "nobody" + string(rune('a'+i)), "password": "guess guess"}
		wantError(t, x.call("POST", sessionPath, body), http.StatusUnauthorized, "invalid-credentials")
	}
	for _, body := range []map[string]string{right, {"token": x.tokens["adminA"]}} {
		r := x.call("POST", sessionPath, body)
		wantError(t, r, http.StatusTooManyRequests, "too-many-sign-in-attempts")
		if r.header.Get("Retry-After") != "900" {
			t.Fatalf("Retry-After %q, want 900", r.header.Get("Retry-After"))
		}
	}
	x.advance(signInWindow)
	x.signIn(right)

	limited := 0
	for _, e := range x.auditLog() {
		if e.Action == "session.sign_in_failed" && e.Details["reason"] == "too-many-sign-in-attempts" {
			limited++
			if e.RemoteAddr != "127.0.0.1" || e.Actor != "anonymous" {
				t.Errorf("audit entry %+v", e)
			}
		}
	}
	if limited != 4 {
		t.Fatalf("%d rate-limited sign-ins audited, want 4", limited)
	}
}

// The limiter's maps stay bounded: the key failed longest ago goes first.
func TestSignInLimiterIsBounded(t *testing.T) {
	f := newFailureLog(signInPerUser)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range signInKeys + 10 {
		f.add(string(rune(0x4e00+i)), t0.Add(time.Duration(i)*time.Millisecond))
	}
	if len(f.keys) != signInKeys || f.order.Len() != signInKeys {
		t.Fatalf("%d keys, %d in order, want %d", len(f.keys), f.order.Len(), signInKeys)
	}
	if _, ok := f.keys[string(rune(0x4e00))]; ok {
		t.Fatal("the oldest key was kept")
	}
	if _, ok := f.keys[string(rune(0x4e00+signInKeys+9))]; !ok {
		t.Fatal("the newest key was evicted")
	}
}

func TestSessionReachesRoutesByRole(t *testing.T) {
	x := newSessionEnv(t, false)
	_, admin, _ := x.signIn(map[string]string{"username": "alice", "password": accountPassword})
	_, root, _ := x.signIn(map[string]string{"username": "root", "password": accountPassword})
	_, olga, _ := x.signIn(map[string]string{"username": "olga", "password": accountPassword})
	for name, tc := range map[string]struct {
		cookie, path string
		hdr          []string
		status       int
		has, hasNot  string
	}{
		"admin: users":              {admin, "/api/confd/1.1/users", nil, 200, userOlga, userBob},
		"admin: a user":             {admin, "/api/confd/1.1/users/" + userOlga, nil, 200, "Olga", ""},
		"admin: other tenant's":     {admin, "/api/confd/1.1/users/" + userBob, nil, 404, "", ""},
		"admin: Wazo-Tenant B":      {admin, "/api/confd/1.1/users", []string{"Wazo-Tenant", tenantB}, 401, "", ""},
		"admin: system route":       {admin, "/metrics", nil, 403, "", ""},
		"system: Wazo-Tenant B":     {root, "/api/confd/1.1/users", []string{"Wazo-Tenant", tenantB}, 200, userBob, userOlga},
		"system: metrics":           {root, "/metrics", nil, 200, "", ""},
		"user: admin route":         {olga, "/api/confd/1.1/users", nil, 403, "forbidden", ""},
		"user: cdr":                 {olga, "/api/call-logd/1.0/cdr", nil, 403, "", ""},
		"user: users/me cdr":        {olga, "/api/call-logd/1.0/users/me/cdr", nil, 200, recSeed, ""},
		"user: users/me calls":      {olga, "/api/calld/1.0/users/me/calls", nil, 200, "", ""},
		"user: other tenant header": {olga, "/api/calld/1.0/users/me/calls", []string{"Wazo-Tenant", tenantB}, 401, "", ""},
	} {
		r := x.call("GET", tc.path, nil, append([]string{"Cookie", tc.cookie}, tc.hdr...)...)
		if r.status != tc.status || !strings.Contains(string(r.body), tc.has) ||
			(tc.hasNot != "" && strings.Contains(string(r.body), tc.hasNot)) {
			t.Errorf("%s: %d %.300s", name, r.status, r.body)
		}
	}
}

func TestSessionCSRF(t *testing.T) {
	x := newSessionEnv(t, false)
	_, cookie, csrf := x.signIn(map[string]string{"username": "alice", "password": accountPassword})
	host := strings.TrimPrefix(x.srv.URL, "http://")
	user := "/api/confd/1.1/users/" + userOlga
	body := map[string]bool{"online_call_record_enabled": true}
	for _, tc := range []struct {
		name, method, path string
		body               any
		hdr                []string
		status             int
		says               string
	}{
		{"PUT without the header", "PUT", user, body, nil, 403, "missing the X-CSRF-Token"},
		{"PUT with a wrong one", "PUT", user, body, []string{headerCSRF, csrf[1:] + "x"}, 403, "does not match"},
		{"PUT from another site", "PUT", user, body, []string{headerCSRF, csrf, "Origin", "https://evil.example"}, 403, "Origin"},
		{"PUT with Origin null", "PUT", user, body, []string{headerCSRF, csrf, "Origin", "null"}, 403, "Origin"},
		{"PUT with it", "PUT", user, body, []string{headerCSRF, csrf}, 204, ""},
		{"PUT with it, same Origin", "PUT", user, body, []string{headerCSRF, csrf, "Origin", "http://" + host}, 204, ""},
		{"POST without", "POST", own + "/tokens", map[string]string{"role": "admin"}, nil, 403, "CSRF"},
		{"POST with", "POST", own + "/tokens", map[string]string{"role": "admin"}, []string{headerCSRF, csrf}, 201, ""},
		{"DELETE without", "DELETE", own + "/tokens/" + x.tokens["olga-id"], nil, nil, 403, "CSRF"},
		{"DELETE with", "DELETE", own + "/tokens/" + x.tokens["olga-id"], nil, []string{headerCSRF, csrf}, 204, ""},
		{"GET needs none", "GET", user, nil, []string{"Origin", "https://evil.example"}, 200, ""},
	} {
		r := x.call(tc.method, tc.path, tc.body, append([]string{"Cookie", cookie}, tc.hdr...)...)
		if r.status != tc.status || !strings.Contains(string(r.body), tc.says) {
			t.Errorf("%s: %d %s", tc.name, r.status, r.body)
		} else if tc.status == 403 {
			wantError(t, r, 403, "csrf-check-failed")
		}
	}
	// X-Auth-Token is no ambient credential: no CSRF check, even with a cookie.
	if r := x.call("PUT", user, body, "X-Auth-Token", x.tokens["adminA"], "Cookie", cookie); r.status != 204 {
		t.Fatalf("token PUT: %d %s", r.status, r.body)
	}
	wantError(t, x.call("POST", sessionPath, map[string]string{"username": "alice", "password": accountPassword},
		"Origin", "https://evil.example"), 403, "csrf-check-failed")
	got := x.auditActions("account:alice")
	if strings.Join(got, ",") != "session.sign_in,user.update,user.update,token.create,token.revoke" {
		t.Fatalf("alice's audit: %v", got)
	}
}

func TestSessionSignOutAndExpiry(t *testing.T) {
	x := newSessionEnv(t, false)
	_, cookie, csrf := x.signIn(map[string]string{"username": "alice", "password": accountPassword})
	wantError(t, x.call("DELETE", sessionPath, nil, "Cookie", cookie), 403, "csrf-check-failed")
	if r := x.call("DELETE", sessionPath, nil, "Cookie", cookie, headerCSRF, csrf); r.status != 204 ||
		!strings.Contains(r.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("sign-out: %d %v", r.status, r.header)
	}
	if _, err := x.store.WebSession(context.Background(), strings.TrimPrefix(cookie, sessionCookie+"="), x.clock()); !store.IsNotFound(err) {
		t.Fatalf("the session row is still there: %v", err)
	}
	wantError(t, x.call("GET", sessionPath, nil, "Cookie", cookie), 401, "unauthorized")
	wantError(t, x.call("GET", "/api/confd/1.1/users", nil, "Cookie", cookie), 401, "unauthorized")
	wantError(t, x.call("DELETE", sessionPath, nil, "Cookie", cookie, headerCSRF, csrf), 401, "unauthorized")
	if got := x.auditActions("account:alice"); strings.Join(got, ",") != "session.sign_in,session.sign_out" {
		t.Fatalf("audit: %v", got)
	}

	_, cookie, _ = x.signIn(map[string]string{"username": "alice", "password": accountPassword})
	x.advance(13 * time.Hour)
	wantError(t, x.call("GET", sessionPath, nil, "Cookie", cookie), 401, "unauthorized")

	// Used every hour, a session still ends 12 h after sign-in.
	_, cookie, _ = x.signIn(map[string]string{"username": "alice", "password": accountPassword})
	for i := range 11 {
		x.advance(time.Hour)
		if r := x.call("GET", "/api/confd/1.1/users", nil, "Cookie", cookie); r.status != 200 {
			t.Fatalf("at +%d h: %d", i+1, r.status)
		}
	}
	x.advance(90 * time.Minute) // idle 1.5 h only
	r := x.call("GET", "/api/confd/1.1/users", nil, "Cookie", cookie)
	wantError(t, r, 401, "unauthorized")
	if !strings.Contains(r.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("the ended session's cookie is not cleared: %v", r.header)
	}
	// Idle for 2 h.
	_, cookie, _ = x.signIn(map[string]string{"username": "alice", "password": accountPassword})
	x.advance(store.WebSessionIdle)
	wantError(t, x.call("GET", sessionPath, nil, "Cookie", cookie), 401, "unauthorized")
}

// sessionTenancyCases: the session routes hold no tenant data for B to
// reach; B's token signs in as B, and is not a session.
func sessionTenancyCases(ev *env) map[string]tenancyCase {
	return map[string]tenancyCase{
		"POST " + sessionPath:   {path: sessionPath, body: `{"token":"` + ev.tokens["adminB"] + `"}`, want: "own"},
		"GET " + sessionPath:    {path: sessionPath, want: 401},
		"DELETE " + sessionPath: {path: sessionPath, want: 401},
	}
}
