package sipctl

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"strings"

	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/mediactl"
	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
	"github.com/emiago/sipgo/sip"
)

// allow is the Allow header of every answer that lists methods.
const allow = "MESSAGE, OPTIONS"

// answer is one response with what the log line and the counter say.
type answer struct {
	code   int
	reason string
	result string // the counter's label
	detail string // for the log
	// challenge: add WWW-Authenticate (stale: the nonce was ours but old or replayed)
	challenge, stale bool
	headers          []sip.Header
}

func (l *Listener) respond(req *sip.Request, tx sip.ServerTransaction, a answer, attrs ...any) {
	res := sip.NewResponseFromRequest(req, a.code, a.reason, nil)
	if to := res.To(); to != nil && a.code >= 200 {
		if _, ok := to.Params.Get("tag"); !ok {
			to.Params.Add("tag", newTag()) // RFC 3261 8.2.6.2
		}
	}
	if a.challenge {
		for _, alg := range algorithms {
			res.AppendHeader(sip.NewHeader("WWW-Authenticate", challenge(l.cfg.Realm, l.nonces.issue(), alg, a.stale)))
		}
	}
	for _, h := range a.headers {
		res.AppendHeader(h)
	}
	l.metrics.count(a.result)
	level := slog.LevelInfo
	if a.code >= 500 {
		level = slog.LevelError
	}
	attrs = append([]any{"method", req.Method.String(), "status", a.code, "result", a.result, "source", req.Source(),
		"transport", req.Transport(), "call_id", callID(req)}, attrs...)
	if a.detail != "" {
		attrs = append(attrs, "detail", a.detail)
	}
	l.log.Log(context.Background(), level, "SIP request answered", attrs...)
	if err := tx.Respond(res); err != nil {
		l.log.Warn("SIP answer not sent", "status", a.code, "err", err)
	}
}

func callID(req *sip.Request) string {
	if h := req.CallID(); h != nil {
		return h.Value()
	}
	return ""
}

func newTag() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (l *Listener) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	l.respond(req, tx, answer{code: 200, reason: "OK", result: "options", headers: []sip.Header{
		sip.NewHeader("Allow", allow), sip.NewHeader("Accept", mediactl.ContentType+", text/plain")}})
}

func (l *Listener) onOther(req *sip.Request, tx sip.ServerTransaction) {
	l.respond(req, tx, answer{code: 405, reason: "Method Not Allowed", result: "method_not_allowed",
		headers: []sip.Header{sip.NewHeader("Allow", allow)}})
}

// sender is who a request comes from, once authenticated.
type sender struct {
	endpoint string // the engine's endpoint name
	actor    string // for the audit log: "sip:<username>" or "sip-trusted:<from user>"
	tenant   string // the credential's tenant ("" for a trusted network)
}

func (l *Listener) onMessage(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil {
		if _, inDialog := to.Params.Get("tag"); inDialog {
			l.respond(req, tx, answer{code: 481, reason: "Call/Transaction Does Not Exist", result: "in_dialog",
				detail: "callrecd holds no dialogs; send the MESSAGE out of dialog"})
			return
		}
	}
	who, denied := l.authenticate(req)
	if denied != nil {
		l.respond(req, tx, *denied)
		return
	}
	attrs := []any{"sender", who.endpoint, "actor", who.actor}
	body := req.Body()
	if len(body) > mediactl.MaxBody {
		l.respond(req, tx, answer{code: 413, reason: "Request Entity Too Large", result: "too_large"}, attrs...)
		return
	}
	ct := req.ContentType()
	if ct == nil {
		l.respond(req, tx, unsupported("no Content-Type"), attrs...)
		return
	}
	parsed, err := mediactl.Parse(ct.Value(), body)
	switch {
	case errors.Is(err, mediactl.ErrUnsupportedMediaType):
		l.respond(req, tx, unsupported(err.Error()), attrs...)
		return
	case errors.Is(err, mediactl.ErrTooLarge):
		l.respond(req, tx, answer{code: 413, reason: "Request Entity Too Large", result: "too_large"}, attrs...)
		return
	case err != nil:
		l.respond(req, tx, answer{code: 400, reason: "Bad Request", result: "bad_request", detail: err.Error()}, attrs...)
		return
	case parsed.InDialogForm():
		l.respond(req, tx, answer{code: 400, reason: "Bad Request", result: "bad_request",
			detail: "a plain in-dialog command names no call out of dialog: send the JSON with session_id"}, attrs...)
		return
	}
	attrs = append(attrs, "operation", parsed.Operation, "session", parsed.SessionID)
	ctx, cancel := l.requestContext()
	defer cancel()
	info, err := l.cfg.Controller.ControlBySession(ctx, parsed.SessionID, parsed.Operation, who.endpoint, recording.BySIPMessage)
	switch {
	case errors.Is(err, engine.ErrNoSuchCall):
		l.respond(req, tx, answer{code: 404, reason: "Not Found", result: "unknown_session"}, attrs...)
	case errors.Is(err, engine.ErrNotAParty):
		l.respond(req, tx, answer{code: 403, reason: "Forbidden", result: "not_a_party",
			detail: "the sender is not an internal party of the call"}, attrs...)
	case errors.Is(err, engine.ErrWrongState):
		l.respond(req, tx, answer{code: 488, reason: "Not Acceptable Here", result: "wrong_state", detail: err.Error()}, attrs...)
	case err != nil:
		l.respond(req, tx, answer{code: 500, reason: "Server Internal Error", result: "error", detail: err.Error()}, attrs...)
	default:
		l.audit(ctx, req, who, parsed, info)
		l.respond(req, tx, answer{code: 202, reason: "Accepted", result: "accepted"},
			append(attrs, "recording", info.UUID, "state", info.State)...)
	}
}

func unsupported(detail string) answer {
	return answer{code: 415, reason: "Unsupported Media Type", result: "unsupported_media_type", detail: detail,
		headers: []sip.Header{sip.NewHeader("Accept", mediactl.ContentType+", text/plain")}}
}

// authenticate returns the sender, or the answer refusing the request.
// A trusted source network needs no digest. Otherwise the Authorization
// must carry a valid digest for a stored user: a missing, malformed or
// wrong one is challenged again (401), a forged nonce too, an expired or
// replayed nonce with stale=true.
func (l *Listener) authenticate(req *sip.Request) (sender, *answer) {
	if l.trusted(req.Source()) {
		from := req.From()
		if from == nil || !store.ValidSIPName(from.Address.User) {
			return sender{}, &answer{code: 403, reason: "Forbidden", result: "not_a_party",
				detail: "trusted network, but From has no usable user part"}
		}
		return sender{endpoint: from.Address.User, actor: "sip-trusted:" + from.Address.User}, nil
	}
	challengeAgain := func(result, detail string, stale bool) (sender, *answer) {
		return sender{}, &answer{code: 401, reason: "Unauthorized", result: result, detail: detail, challenge: true, stale: stale}
	}
	h := req.GetHeader("Authorization")
	if h == nil {
		return challengeAgain("challenged", "", false)
	}
	a, err := parseAuthorization(h.Value())
	if err != nil {
		return challengeAgain("auth_failed", err.Error(), false)
	}
	alg := canonicalAlgorithm(a.Algorithm)
	switch {
	case alg == "":
		return challengeAgain("auth_failed", "algorithm "+a.Algorithm+" not offered", false)
	case a.Realm != l.cfg.Realm:
		return challengeAgain("auth_failed", "realm "+a.Realm+" is not ours", false)
	case !strings.EqualFold(a.QOP, "auth") || a.CNonce == "":
		return challengeAgain("auth_failed", "qop=auth with cnonce and nc is required", false)
	case a.URI != req.Recipient.String() && a.URI != req.Recipient.Addr():
		return sender{}, &answer{code: 400, reason: "Bad Request", result: "bad_request",
			detail: "digest uri does not match the Request-URI"} // RFC 2617 3.2.2.5
	}
	state, issued := l.nonces.check(a.Nonce)
	if state == nonceBad {
		return challengeAgain("auth_failed", "nonce not issued by callrecd", false)
	}
	ctx, cancel := l.requestContext()
	defer cancel()
	cred, err := l.cfg.Credentials.SIPCredentialByRealm(ctx, a.Realm, a.Username)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return sender{}, &answer{code: 500, reason: "Server Internal Error", result: "error", detail: err.Error()}
	}
	ha1 := cred.HA1MD5
	if alg == store.DigestSHA256 {
		ha1 = cred.HA1SHA256
	}
	// An unknown user is told exactly what a wrong password is told.
	if err != nil || !responseMatches(expectedResponse(alg, ha1, req.Method.String(), a), a.Response) {
		return challengeAgain("auth_failed", "wrong credentials for "+a.Username, false)
	}
	if state == nonceStale {
		return challengeAgain("stale_nonce", "", true)
	}
	if !l.nonces.use(a.Nonce, issued, a.NC) {
		return challengeAgain("replayed_nonce", "nonce-count "+a.NC+" already used (or the nonce was forgotten)", true)
	}
	return sender{endpoint: cred.Endpoint, actor: "sip:" + cred.Username, tenant: cred.TenantUUID}, nil
}

func (l *Listener) trusted(source string) bool {
	if len(l.cfg.Trusted) == 0 {
		return false
	}
	host, _, err := net.SplitHostPort(source)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	for _, n := range l.cfg.Trusted {
		if ip != nil && n.Contains(ip) {
			return true
		}
	}
	return false
}
