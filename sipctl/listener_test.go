package sipctl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/mediactl"
	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const realm = "pbx.test"

// fakes is the executor and store side: each test sets the functions it
// cares about (livekit/sip's habit).
type fakes struct {
	control func(session string, op mediactl.Operation, sender string) (engine.RecordingInfo, error)

	mu     sync.Mutex
	calls  []string // "session op sender who" of every control
	audits []store.AuditEntry
}

func (f *fakes) ControlBySession(_ context.Context, session string, op mediactl.Operation, sender string,
	who recording.StartedBy) (engine.RecordingInfo, error) {
	f.mu.Lock()
	f.calls = append(f.calls, fmt.Sprintf("%s %s %s %s", session, op, sender, who))
	f.mu.Unlock()
	if f.control == nil {
		return engine.RecordingInfo{RecordingRow: engine.RecordingRow{UUID: "rec-1", Tenant: "t1", State: recording.StatePaused}}, nil
	}
	return f.control(session, op, sender)
}

func (f *fakes) SIPCredentialByRealm(_ context.Context, r, username string) (store.SIPCredential, error) {
	users := map[string]string{"1002": "s3cret", "bob": "b0b"}
	endpoints := map[string]string{"1002": "1002", "bob": "1003"}
	pass, ok := users[username]
	if !ok {
		return store.SIPCredential{}, store.ErrNotFound
	}
	// Hashed for the listener's realm only, as the store does.
	return store.SIPCredential{TenantUUID: "t1", Username: username, Endpoint: endpoints[username], Realm: realm,
		HA1MD5: store.DigestHA1(store.DigestMD5, username, realm, pass), HA1SHA256: store.DigestHA1(store.DigestSHA256, username, realm, pass)}, nil
}

func (f *fakes) AppendAudit(_ context.Context, e store.AuditEntry) (store.AuditEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.audits = append(f.audits, e)
	return e, nil
}

func (f *fakes) controlled() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type testEnv struct {
	t      *testing.T
	l      *Listener
	f      *fakes
	clock  *clock
	client *sipgo.Client
}

func newTestEnv(t *testing.T, tune func(*Config)) *testEnv {
	t.Helper()
	f := &fakes{}
	ck := &clock{t: time.Now()}
	cfg := Config{UDP: "127.0.0.1:0", TCP: "127.0.0.1:0", Realm: realm, Controller: f, Credentials: f, Audit: f, Now: ck.Now}
	if tune != nil {
		tune(&cfg)
	}
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	quiet := slog.New(slog.DiscardHandler)
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("phone"),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	return &testEnv{t: t, l: l, f: f, clock: ck, client: client}
}

// msg is PortSIP's out-of-dialog MESSAGE from user, over transport.
type msg struct {
	method    sip.RequestMethod
	transport string // "udp" (default) or "tcp"
	from      string
	ctype     string // "-": no Content-Type
	body      string
	toTag     bool
	auth      string // Authorization header value
}

func portsip(op, session string) msg {
	return msg{from: "1002", ctype: mediactl.ContentType, body: fmt.Sprintf(`{"operation":%q,"session_id":%q}`, op, session)}
}

func (e *testEnv) request(m msg) *sip.Request {
	addr := e.l.UDPAddr().(*net.UDPAddr)
	if m.transport == "tcp" {
		a := e.l.TCPAddr().(*net.TCPAddr)
		addr = &net.UDPAddr{IP: a.IP, Port: a.Port}
	}
	if m.method == "" {
		m.method = sip.MESSAGE
	}
	req := sip.NewRequest(m.method, sip.Uri{Scheme: "sip", User: "callrecd", Host: addr.IP.String(), Port: addr.Port})
	if m.transport == "tcp" {
		req.SetTransport("TCP")
	}
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: m.from, Host: "127.0.0.1"}}
	from.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(from)
	to := &sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: "callrecd", Host: addr.IP.String()}}
	if m.toTag {
		to.Params.Add("tag", "dialog")
	}
	req.AppendHeader(to)
	if m.ctype != "-" && m.body != "" {
		req.AppendHeader(sip.NewHeader("Content-Type", m.ctype))
	}
	if m.auth != "" {
		req.AppendHeader(sip.NewHeader("Authorization", m.auth))
	}
	req.SetBody([]byte(m.body))
	return req
}

func (e *testEnv) send(m msg) *sip.Response {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := e.client.Do(ctx, e.request(m))
	if err != nil {
		e.t.Fatalf("%s: %v", m.method, err)
	}
	return res
}

// authorize answers the 401's challenge of algorithm alg as a phone would.
func (e *testEnv) authorize(m msg, res *sip.Response, alg, user, pass string, nc int) string {
	e.t.Helper()
	if res.StatusCode != 401 {
		e.t.Fatalf("want a 401 challenge, got %d", res.StatusCode)
	}
	for _, h := range res.GetHeaders("WWW-Authenticate") {
		chal, err := digest.ParseChallenge(h.Value())
		if err != nil {
			e.t.Fatalf("challenge %q: %v", h.Value(), err)
		}
		if chal.Algorithm != alg {
			continue
		}
		req := e.request(m)
		cred, err := digest.Digest(chal, digest.Options{Method: "MESSAGE", URI: req.Recipient.Addr(), Username: user, Password: pass, Count: nc})
		if err != nil {
			e.t.Fatal(err)
		}
		return cred.String()
	}
	e.t.Fatalf("no %s challenge in %v", alg, res.GetHeaders("WWW-Authenticate"))
	return ""
}

// authed sends m once unauthenticated, then with the digest of alg.
func (e *testEnv) authed(m msg, alg, user, pass string) (*sip.Response, string) {
	e.t.Helper()
	m.auth = e.authorize(m, e.send(m), alg, user, pass, 1)
	return e.send(m), m.auth
}

func (e *testEnv) count(result string) float64 {
	return testutil.ToFloat64(e.l.metrics.total.WithLabelValues(result))
}

func TestPauseWithDigest(t *testing.T) {
	for _, alg := range []string{"MD5", "SHA-256"} {
		for _, tp := range []string{"udp", "tcp"} {
			t.Run(alg+"/"+tp, func(t *testing.T) {
				e := newTestEnv(t, nil)
				m := portsip("pause", "1715000000.12")
				m.transport = tp
				res, _ := e.authed(m, alg, "1002", "s3cret")
				if res.StatusCode != 202 {
					t.Fatalf("status %d %s", res.StatusCode, res.Reason)
				}
				if got := e.f.controlled(); len(got) != 1 || got[0] != "1715000000.12 pause 1002 sip_message" {
					t.Fatalf("controlled %v", got)
				}
				if len(e.f.audits) != 1 || e.f.audits[0].Details["source"] != "sip_message" || e.f.audits[0].Action != "recording.pause" ||
					e.f.audits[0].Actor != "sip:1002" || e.f.audits[0].ObjectID != "rec-1" {
					t.Fatalf("audit %+v", e.f.audits)
				}
				if e.count("accepted") != 1 || e.count("challenged") != 1 {
					t.Fatalf("counters accepted=%v challenged=%v", e.count("accepted"), e.count("challenged"))
				}
			})
		}
	}
}

// The credential's endpoint, not its username, is the sender the party
// check compares.
func TestCredentialEndpointIsTheSender(t *testing.T) {
	e := newTestEnv(t, nil)
	m := portsip("resume", "s1")
	m.from = "bob"
	if res, _ := e.authed(m, "SHA-256", "bob", "b0b"); res.StatusCode != 202 {
		t.Fatalf("status %d", res.StatusCode)
	}
	if got := e.f.controlled(); len(got) != 1 || got[0] != "s1 resume 1003 sip_message" {
		t.Fatalf("controlled %v", got)
	}
}

func TestChallenge(t *testing.T) {
	e := newTestEnv(t, nil)
	res := e.send(portsip("pause", "s1"))
	hs := res.GetHeaders("WWW-Authenticate")
	if res.StatusCode != 401 || len(hs) != 2 {
		t.Fatalf("%d with %d challenges", res.StatusCode, len(hs))
	}
	for i, alg := range []string{"SHA-256", "MD5"} { // RFC 8760: preferred first
		chal, err := digest.ParseChallenge(hs[i].Value())
		if err != nil || chal.Algorithm != alg || chal.Realm != realm || !chal.SupportsQOP("auth") || chal.Stale {
			t.Fatalf("challenge %d: %q %v", i, hs[i].Value(), err)
		}
	}
	if len(e.f.controlled()) != 0 {
		t.Fatal("an unauthenticated request reached the executor")
	}
}

func TestWrongCredentialsAreChallengedAgain(t *testing.T) {
	e := newTestEnv(t, nil)
	for _, c := range []struct{ user, pass string }{{"1002", "wrong"}, {"nobody", "s3cret"}} {
		res, _ := e.authed(portsip("pause", "s1"), "MD5", c.user, c.pass)
		if res.StatusCode != 401 {
			t.Fatalf("%s/%s: %d", c.user, c.pass, res.StatusCode)
		}
		if chal, err := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value()); err != nil || chal.Stale {
			t.Fatalf("%s: a wrong password is not a stale nonce: %v %v", c.user, chal, err)
		}
	}
	if len(e.f.controlled()) != 0 || e.count("auth_failed") != 2 {
		t.Fatalf("controlled %v, auth_failed %v", e.f.controlled(), e.count("auth_failed"))
	}
}

func TestReplayedNonceIsRefused(t *testing.T) {
	e := newTestEnv(t, nil)
	m := portsip("pause", "s1")
	res, auth := e.authed(m, "SHA-256", "1002", "s3cret")
	if res.StatusCode != 202 {
		t.Fatalf("first use: %d", res.StatusCode)
	}
	// The same Authorization in a new transaction: a captured request replayed.
	m.auth = auth
	res = e.send(m)
	if res.StatusCode != 401 {
		t.Fatalf("replay: %d", res.StatusCode)
	}
	if chal, _ := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value()); chal == nil || !chal.Stale {
		t.Fatal("a replay is answered stale=true")
	}
	// The phone itself counts on: nonce-count 2 of the same nonce is fine.
	first := e.send(portsip("pause", "s1"))
	m.auth = e.authorize(m, first, "SHA-256", "1002", "s3cret", 1)
	if res := e.send(m); res.StatusCode != 202 {
		t.Fatalf("fresh nonce nc=1: %d", res.StatusCode)
	}
	m.auth = e.authorize(m, first, "SHA-256", "1002", "s3cret", 2)
	if res := e.send(m); res.StatusCode != 202 {
		t.Fatalf("same nonce nc=2: %d", res.StatusCode)
	}
	if n := len(e.f.controlled()); n != 3 || e.count("replayed_nonce") != 1 {
		t.Fatalf("controlled %d times, replayed %v", n, e.count("replayed_nonce"))
	}
}

func TestExpiredAndForgedNonces(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.NonceTTL = time.Minute })
	m := portsip("pause", "s1")
	m.auth = e.authorize(m, e.send(m), "MD5", "1002", "s3cret", 1)
	e.clock.advance(2 * time.Minute)
	res := e.send(m)
	if chal, _ := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value()); res.StatusCode != 401 || chal == nil || !chal.Stale {
		t.Fatalf("expired nonce: %d", res.StatusCode)
	}
	m.auth = strings.Replace(e.authorize(m, res, "MD5", "1002", "s3cret", 1), `nonce="`, `nonce="A`, 1)
	res = e.send(m)
	if chal, _ := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value()); res.StatusCode != 401 || chal == nil || chal.Stale {
		t.Fatalf("forged nonce: %d", res.StatusCode)
	}
	if len(e.f.controlled()) != 0 {
		t.Fatal("controlled with a bad nonce")
	}
}

func TestTrustedNetwork(t *testing.T) {
	_, loopback, _ := net.ParseCIDR("127.0.0.0/8")
	e := newTestEnv(t, func(c *Config) { c.Trusted = []*net.IPNet{loopback} })
	m := portsip("pause", "s1")
	m.from = "1004"
	if res := e.send(m); res.StatusCode != 202 {
		t.Fatalf("trusted: %d", res.StatusCode)
	}
	if got := e.f.controlled(); len(got) != 1 || got[0] != "s1 pause 1004 sip_message" {
		t.Fatalf("controlled %v", got)
	}
	if e.f.audits[0].Actor != "sip-trusted:1004" {
		t.Fatalf("audit actor %q", e.f.audits[0].Actor)
	}
	// A network that is not listed still needs the digest.
	_, other, _ := net.ParseCIDR("10.0.0.0/8")
	e2 := newTestEnv(t, func(c *Config) { c.Trusted = []*net.IPNet{other} })
	if res := e2.send(m); res.StatusCode != 401 {
		t.Fatalf("untrusted: %d", res.StatusCode)
	}
}

func TestEngineAnswers(t *testing.T) {
	cases := []struct {
		name string
		err  error
		code int
	}{
		{"not a party", fmt.Errorf("%w: x", engine.ErrNotAParty), 403},
		{"unknown session", fmt.Errorf("%w: x", engine.ErrNoSuchCall), 404},
		{"not recording", fmt.Errorf("%w: not recording", engine.ErrWrongState), 488},
		{"anything else", errors.New("disk on fire"), 500},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newTestEnv(t, nil)
			e.f.control = func(string, mediactl.Operation, string) (engine.RecordingInfo, error) {
				return engine.RecordingInfo{}, c.err
			}
			// Unauthenticated, the engine is never asked: the answer is 401 whatever the session.
			if res := e.send(portsip("pause", "s1")); res.StatusCode != 401 || len(e.f.controlled()) != 0 {
				t.Fatalf("unauthenticated: %d, controlled %v", res.StatusCode, e.f.controlled())
			}
			if res, _ := e.authed(portsip("pause", "s1"), "MD5", "1002", "s3cret"); res.StatusCode != c.code {
				t.Fatalf("status %d, want %d", res.StatusCode, c.code)
			}
			if len(e.f.audits) != 0 {
				t.Fatal("a refused request was audited")
			}
		})
	}
}

func TestBodyAndTypeAnswers(t *testing.T) {
	ok := `{"operation":"pause","session_id":"s1"}`
	cases := []struct {
		name, ctype, body, transport string
		code                         int
	}{
		{"text/plain JSON", "text/plain", ok, "", 202},
		{"bad JSON", mediactl.ContentType, `{"operation":`, "", 400},
		{"missing session_id", mediactl.ContentType, `{"operation":"pause"}`, "", 400},
		{"unknown operation", mediactl.ContentType, `{"operation":"explode","session_id":"s1"}`, "", 400},
		{"in-dialog command out of dialog", "text/plain", "pause-audio-recording", "", 400},
		{"other type", "application/json", ok, "", 415},
		{"no type", "-", ok, "", 415},
		{"too large", mediactl.ContentType, `{"operation":"pause","session_id":"` + strings.Repeat("x", mediactl.MaxBody) + `"}`, "tcp", 413},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newTestEnv(t, nil)
			m := msg{from: "1002", ctype: c.ctype, body: c.body, transport: c.transport}
			res, _ := e.authed(m, "SHA-256", "1002", "s3cret")
			if res.StatusCode != c.code {
				t.Fatalf("status %d %s, want %d", res.StatusCode, res.Reason, c.code)
			}
			if c.code == 415 && res.GetHeader("Accept") == nil {
				t.Fatal("415 without Accept")
			}
			if want := map[bool]int{true: 1, false: 0}[c.code == 202]; len(e.f.controlled()) != want {
				t.Fatalf("controlled %v", e.f.controlled())
			}
		})
	}
}

func TestMethods(t *testing.T) {
	e := newTestEnv(t, nil)
	res := e.send(msg{method: sip.INFO, from: "1002"})
	if res.StatusCode != 405 || res.GetHeader("Allow") == nil || res.GetHeader("Allow").Value() != allow {
		t.Fatalf("INFO: %d %v", res.StatusCode, res.GetHeader("Allow"))
	}
	if res := e.send(msg{method: sip.OPTIONS, from: "1002"}); res.StatusCode != 200 || res.GetHeader("Allow") == nil {
		t.Fatalf("OPTIONS: %d", res.StatusCode)
	}
	m := portsip("pause", "s1")
	m.toTag = true
	if res := e.send(m); res.StatusCode != 481 {
		t.Fatalf("in dialog: %d", res.StatusCode)
	}
	if e.count("method_not_allowed") != 1 || e.count("options") != 1 || e.count("in_dialog") != 1 {
		t.Fatal("counters")
	}
}

// What the nonce table remembers is bounded; a nonce it had to forget is
// stale from then on, never replayable.
func TestNonceMemoryIsBounded(t *testing.T) {
	ck := &clock{t: time.Now()}
	n, err := newNonces(time.Hour, 4, ck.Now)
	if err != nil {
		t.Fatal(err)
	}
	var issued []string
	for i := 0; i < 10; i++ {
		nonce := n.issue()
		ck.advance(time.Millisecond)
		state, at := n.check(nonce)
		if state != nonceFresh || !n.use(nonce, at, "00000001") {
			t.Fatalf("nonce %d refused", i)
		}
		issued = append(issued, nonce)
	}
	if got := n.remembered(); got > 4 {
		t.Fatalf("remembers %d nonces, bound 4", got)
	}
	if state, at := n.check(issued[0]); state != nonceStale || n.use(issued[0], at, "00000002") {
		t.Fatalf("a forgotten nonce is %v", state)
	}
	if state, at := n.check(issued[9]); state != nonceFresh || n.use(issued[9], at, "00000001") || !n.use(issued[9], at, "00000002") {
		t.Fatal("the newest nonce's count is not tracked")
	}
	if n.use(issued[9], 0, "0000000g") || n.use(issued[9], 0, "1") {
		t.Fatal("malformed nonce-count accepted")
	}
}
