//go:build lab

package integration

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/callrecd/callrecd/mediactl"
	"github.com/callrecd/callrecd/store"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// PortSIP's out-of-dialog MESSAGE sent straight to callrecd's own SIP listener (Asterisk
// refuses its Content-Type with 415): the phone reads the session id from its INVITE's
// X-Session-Id (the lab's pre-dial hook sets it to the call's linkedid, which the engine
// resolves as the call), authenticates by SIP digest against the credentials callrecd
// stores, and pauses and resumes the recording. The paused span is absent from the WAV,
// the row has it, the audit log says source sip_message. Wrong password, a phone that is
// not in the call, an unknown session, bad JSON, a wrong Content-Type and a replayed
// nonce are all refused and change nothing.
func TestStorySIPListenerPauseResume(t *testing.T) {
	e := newEnv(t, map[string]userFlags{"1001": {outInt: true}})
	for user, pass := range map[string]string{"1002": "s3cret-1002", "1003": "s3cret-1003"} {
		if _, _, err := e.st.PutSIPCredential(e.ctx, store.SIPCredential{TenantUUID: tenantID, Username: user}, pass); err != nil {
			t.Fatal(err)
		}
	}
	caller, callee := e.call("1001", "1002", "1002")
	e.waitRecording(0)
	session, err := callee.SessionID(e.ctx)
	if err != nil || session == "" {
		t.Fatalf("X-Session-Id on 1002's INVITE: %q, %v", session, err)
	}
	if ci, err := e.calls().Call("", session); err != nil || ci.PBXCallID != session {
		t.Fatalf("the X-Session-Id %q does not name the call: %+v %v", session, ci, err)
	}
	ph := newPhone(t, e)
	body := func(op, s string) string { return fmt.Sprintf(`{"operation":%q,"session_id":%q}`, op, s) }
	time.Sleep(talk)

	if code := ph.send("", mediactl.ContentType, body("pause", session)).StatusCode; code != 401 {
		t.Fatalf("no credentials: %d", code)
	}
	if code := ph.authed("1002", "wrong", mediactl.ContentType, body("pause", session)); code != 401 {
		t.Fatalf("wrong password: %d", code)
	}
	if code := ph.authed("1003", "s3cret-1003", mediactl.ContentType, body("pause", session)); code != 403 {
		t.Fatalf("1003 is not in the call: %d", code)
	}
	if code := ph.send("", mediactl.ContentType, body("pause", "no-such-session")).StatusCode; code != 401 {
		t.Fatalf("unknown session before authentication: %d (must not tell)", code)
	}
	if code := ph.authed("1002", "s3cret-1002", mediactl.ContentType, body("pause", "no-such-session")); code != 404 {
		t.Fatalf("unknown session: %d", code)
	}
	if code := ph.authed("1002", "s3cret-1002", mediactl.ContentType, `{"operation":"pause",`); code != 400 {
		t.Fatalf("bad JSON: %d", code)
	}
	if code := ph.authed("1002", "s3cret-1002", "application/json", body("pause", session)); code != 415 {
		t.Fatalf("wrong Content-Type: %d", code)
	}
	time.Sleep(300 * time.Millisecond)
	if r := e.waitRecording(0); r.State != "recording" || len(r.PausedIntervals) != 0 {
		t.Fatalf("a refused MESSAGE changed the recording: %+v", r)
	}

	if code := ph.authed("1002", "s3cret-1002", mediactl.ContentType, body("pause", session)); code != 202 {
		t.Fatalf("pause: %d", code)
	}
	pauseAt := time.Now()
	e.eventually(2*time.Second, "recording paused", func() bool { return e.waitRecording(0).State == "paused" })
	replayed := ph.send(ph.lastAuth, mediactl.ContentType, body("resume", session))
	if chal, _ := digest.ParseChallenge(headerValue(replayed, "WWW-Authenticate")); replayed.StatusCode != 401 || chal == nil || !chal.Stale {
		t.Fatalf("replayed nonce: %d %v", replayed.StatusCode, chal)
	}
	time.Sleep(3 * time.Second)
	if r := e.waitRecording(0); r.State != "paused" {
		t.Fatalf("the replay resumed it: %+v", r)
	}
	if code := ph.authed("1002", "s3cret-1002", "text/plain", body("resume", session)); code != 202 {
		t.Fatalf("resume (text/plain): %d", code)
	}
	pause := time.Since(pauseAt)
	e.eventually(2*time.Second, "recording resumed", func() bool { return e.waitRecording(0).State == "recording" })
	time.Sleep(talk)
	e.hangup(caller)
	r, w := e.oneRecording("hangup", "policy", 0)
	if len(r.PausedIntervals) != 1 || r.PausedIntervals[0].End == nil {
		t.Fatalf("paused intervals %+v", r.PausedIntervals)
	}
	near(t, "call minus file (the pause)", r.End.Sub(r.Start)-w.Duration(), pause, 400*time.Millisecond)
	e.tonesPresent(w, 3, []string{"1001", "1002"}, nil)

	audit, err := e.st.ListAudit(e.ctx, store.AuditFilter{Tenant: tenantID})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range audit {
		if a.Details["source"] == "sip_message" {
			got = append(got, a.Action+" by "+a.Actor+" on "+a.ObjectID)
		}
	}
	if want := []string{"recording.pause by sip:1002 on " + r.UUID, "recording.resume by sip:1002 on " + r.UUID}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("audit %q, want %q", got, want)
	}
}

// How an Asterisk phone that can only send text/plain reaches the listener: the
// endpoint's message context forwards the MESSAGE with MessageSend to
// sip:callrecd@<listener>, and the listener trusts the PBX's address (From names the
// sender, as Asterisk identified it). Here the dialplan line is added at run time over AMI.
func TestStorySIPListenerViaAsteriskMessageSend(t *testing.T) {
	e := newEnv(t, map[string]userFlags{"1001": {outInt: true}})
	e.stop()
	e.sipTrusted = []string{"127.0.0.1/32"} // the PBX (the lab's phones share it, so they only send through it here)
	e.start()
	port := e.link.sys.SIP.UDPAddr().(*net.UDPAddr).Port
	ami(t, fmt.Sprintf("dialplan add extension callrecd,1,MessageSend(pjsip:1001/sip:callrecd@127.0.0.1:%d,${MESSAGE(from)}) into phones replace", port))
	t.Cleanup(func() { ami(t, "dialplan remove extension callrecd@phones") })

	caller, callee := e.call("1001", "1002", "1002")
	e.waitRecording(0)
	session, err := callee.SessionID(e.ctx)
	if err != nil || session == "" {
		t.Fatalf("X-Session-Id: %q %v", session, err)
	}
	time.Sleep(talk)
	before := e.sipCounts()
	if code, err := e.drv.SendMessage(e.ctx, "1002", "text/plain", fmt.Sprintf(`{"operation":"pause","session_id":%q}`, session)); err != nil || code != 202 {
		t.Fatalf("MESSAGE to Asterisk: %d %v", code, err)
	}
	// The same body also reaches the engine over ARI (TextMessageReceived): whichever comes
	// second finds the recording paused already. Either way the listener got it, trusted
	// the PBX, and found 1002 a party of the call.
	e.eventually(3*time.Second, "the forwarded MESSAGE at the listener", func() bool {
		now := e.sipCounts()
		return now["accepted"]+now["wrong_state"] > before["accepted"]+before["wrong_state"]
	})
	now := e.sipCounts()
	for _, res := range []string{"challenged", "auth_failed", "not_a_party", "unknown_session", "bad_request"} {
		if now[res] != before[res] {
			t.Errorf("listener result %s moved: %v → %v", res, before[res], now[res])
		}
	}
	e.eventually(2*time.Second, "recording paused", func() bool { return e.waitRecording(0).State == "paused" })
	e.hangup(caller)
	e.t.Logf("listener results %v", now)
}

// sipCounts reads callrecd_sip_message_total by result from the running callrecd.
func (e *env) sipCounts() map[string]float64 {
	e.t.Helper()
	mfs, err := e.link.sys.Registry.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "callrecd_sip_message_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" {
					out[l.GetValue()] = m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}

// phone is a PortSIP client talking straight to callrecd's listener over UDP.
type phone struct {
	t        *testing.T
	e        *env
	client   *sipgo.Client
	lastAuth string
}

func newPhone(t *testing.T, e *env) *phone {
	quiet := slog.New(slog.DiscardHandler)
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("PortSIP-test"),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	c, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	return &phone{t: t, e: e, client: c}
}

func (p *phone) request(auth, ctype, body string) *sip.Request {
	addr := p.e.link.sys.SIP.UDPAddr().(*net.UDPAddr)
	req := sip.NewRequest(sip.MESSAGE, sip.Uri{Scheme: "sip", User: "callrecd", Host: addr.IP.String(), Port: addr.Port})
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "1002", Host: "127.0.0.1"}}
	from.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(from)
	req.AppendHeader(sip.NewHeader("Content-Type", ctype))
	if auth != "" {
		req.AppendHeader(sip.NewHeader("Authorization", auth))
	}
	req.SetBody([]byte(body))
	return req
}

func (p *phone) send(auth, ctype, body string) *sip.Response {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.e.ctx, 5*time.Second)
	defer cancel()
	res, err := p.client.Do(ctx, p.request(auth, ctype, body))
	if err != nil {
		p.t.Fatalf("MESSAGE to the listener: %v", err)
	}
	return res
}

// authed sends once, answers the first (SHA-256) challenge as sipgo's own digest client
// does, and returns the final status.
func (p *phone) authed(user, pass, ctype, body string) int {
	p.t.Helper()
	res := p.send("", ctype, body)
	if res.StatusCode != 401 {
		p.t.Fatalf("want a challenge first, got %d", res.StatusCode)
	}
	chal, err := digest.ParseChallenge(headerValue(res, "WWW-Authenticate"))
	if err != nil {
		p.t.Fatal(err)
	}
	req := p.request("", ctype, body)
	cred, err := digest.Digest(chal, digest.Options{Method: "MESSAGE", URI: req.Recipient.Addr(), Username: user, Password: pass, Count: 1})
	if err != nil {
		p.t.Fatal(err)
	}
	p.lastAuth = cred.String()
	return p.send(p.lastAuth, ctype, body).StatusCode
}

func headerValue(res *sip.Response, name string) string {
	if h := res.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

// ami runs one Asterisk CLI command on the lab PBX over AMI (manager.conf: lab/labsecret).
func ami(t *testing.T, command string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", "127.0.0.1:5038", 3*time.Second)
	if err != nil {
		t.Fatalf("AMI: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	rd := bufio.NewReader(conn)
	if _, err := rd.ReadString('\n'); err != nil { // banner
		t.Fatalf("AMI banner: %v", err)
	}
	reply := func(action string) string {
		if _, err := conn.Write([]byte(action + "\r\n\r\n")); err != nil {
			t.Fatalf("AMI: %v", err)
		}
		var b strings.Builder
		for range 200 { // one response: lines up to a blank one
			line, err := rd.ReadString('\n')
			if err != nil {
				t.Fatalf("AMI: %v after %q", err, b.String())
			}
			if strings.TrimSpace(line) == "" {
				break
			}
			b.WriteString(line)
		}
		return b.String()
	}
	if r := reply("Action: Login\r\nUsername: lab\r\nSecret: labsecret\r\nEvents: off"); !strings.Contains(r, "Success") {
		t.Fatalf("AMI login: %q", r)
	}
	if r := reply("Action: Command\r\nCommand: " + command); !strings.Contains(r, "Success") {
		t.Fatalf("AMI %q: %q", command, r)
	} else {
		t.Logf("AMI %q: %q", command, r)
	}
}
