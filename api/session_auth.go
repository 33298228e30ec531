package api

import (
	clist "container/list" // package api has its own list type
	"crypto/subtle"
	"errors"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/callrecd/callrecd/store"
	"github.com/labstack/echo/v4"
)

// Sign-in for the web page. POST /api/callrecd/1.0/session with
// {"username", "password"} (an account of `callrecd account create`) or
// {"token"} (an API token) starts a session: the answer sets the
// callrecd_session cookie and carries the CSRF token the page sends back in
// X-CSRF-Token on every state change. GET describes the session, DELETE
// ends it. guard accepts the cookie wherever it accepts X-Auth-Token.

const (
	sessionPath   = own + "/session"
	sessionCookie = "callrecd_session"
	headerCSRF    = "X-CSRF-Token"
)

// Sign-in rate limits: failures per username and per client IP within
// signInWindow; the maps keep at most signInKeys keys each.
const (
	signInWindow  = 15 * time.Minute
	signInPerUser = 5
	signInPerIP   = 20
	signInKeys    = 10000
)

func (s *server) sessionRoutes() []route {
	lim := newSignInLimiter()
	return []route{
		{method: "POST", path: sessionPath, access: accessPublic, tag: "callrecd", summary: "sign in (web page): username and password, or an API token; sets the callrecd_session cookie", body: "SessionCreate", status: http.StatusCreated, response: "Session", handler: s.signIn(lim)},
		{method: "GET", path: sessionPath, access: accessSession, tag: "callrecd", summary: "the signed-in session of the cookie", status: http.StatusOK, response: "Session", handler: s.getSession},
		{method: "DELETE", path: sessionPath, access: accessSession, tag: "callrecd", summary: "sign out: end the session and clear its cookie (needs X-CSRF-Token)", status: http.StatusNoContent, handler: s.signOut},
	}
}

type sessionJSON struct {
	Username   string  `json:"username"`
	Role       string  `json:"role"`
	TenantUUID *string `json:"tenant_uuid"`
	UserUUID   *string `json:"user_uuid"`
	CSRFToken  string  `json:"csrf_token"`
	ExpiresAt  string  `json:"expires_at"`
}

// sessionName is the session's "username": the account's, or token:<id>.
func sessionName(w store.WebSession) string {
	if w.Username != "" {
		return w.Username
	}
	return "token:" + w.TokenID
}

func renderSession(w store.WebSession) sessionJSON {
	return sessionJSON{Username: sessionName(w), Role: w.Role, TenantUUID: strPtr(w.TenantUUID), UserUUID: strPtr(w.UserUUID),
		CSRFToken: w.CSRFToken, ExpiresAt: ts(w.ExpiresAt)}
}

func errInvalidCredentials(msg string) *apiError {
	return newError(http.StatusUnauthorized, "invalid-credentials", msg, nil)
}

func errCSRF(msg string) *apiError {
	return newError(http.StatusForbidden, "csrf-check-failed", msg, nil)
}

func (s *server) signIn(lim *signInLimiter) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := checkOrigin(c); err != nil {
			return err // a sign-in posted by another site's page
		}
		var in struct {
			Username *string `json:"username"`
			Password *string `json:"password"`
			Token    *string `json:"token"`
		}
		if err := decodeJSON(c, &in); err != nil {
			return err
		}
		byToken := in.Token != nil
		switch {
		case byToken && (in.Username != nil || in.Password != nil):
			return errInvalid("token", "send either a token or a username and password, not both")
		case byToken && *in.Token == "":
			return errInvalid("token", "is required")
		case !byToken && (in.Username == nil || *in.Username == ""):
			return errInvalid("username", "is required")
		case !byToken && (in.Password == nil || *in.Password == ""):
			return errInvalid("password", "is required")
		}
		// The name tried goes in the audit log and the limiter: never the
		// password, never a token's secret (its id is public).
		tried, userKey, method := "token", "", "token"
		if byToken {
			if rest, ok := strings.CutPrefix(*in.Token, "crd_"); ok {
				if id, _, ok := strings.Cut(rest, "_"); ok && len(id) == 12 {
					tried = "token:" + id
				}
			}
		} else {
			method = "password"
			if err := checkLen("username", *in.Username, 256); err != nil {
				return err
			}
			if err := checkLen("password", *in.Password, 1024); err != nil {
				return err
			}
			tried, userKey = *in.Username, *in.Username
		}
		fail := func(reason string) error {
			return s.audit(c, "", "session.sign_in_failed", "session", "", map[string]any{"username": tried,
				"method": method, "reason": reason})
		}
		ctx, now, ip := c.Request().Context(), s.now(), c.RealIP()
		if wait, ok := lim.take(userKey, ip, now); !ok {
			if err := fail("too-many-sign-in-attempts"); err != nil {
				return err
			}
			secs := int(math.Ceil(wait.Seconds()))
			c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
			return newError(http.StatusTooManyRequests, "too-many-sign-in-attempts",
				"too many failed sign-ins: try again in "+strconv.Itoa(secs)+" seconds", map[string]any{"retry_after": secs})
		}
		var w store.WebSession
		var err error
		if byToken {
			var tok store.Token
			if tok, err = s.store.Authenticate(ctx, *in.Token); err == nil {
				w = store.WebSession{TokenID: tok.ID, Role: tok.Role, TenantUUID: tok.TenantUUID, UserUUID: tok.UserUUID}
			}
		} else {
			var a store.Account
			if a, err = s.store.CheckPassword(ctx, *in.Username, *in.Password); err == nil {
				w = store.WebSession{Username: a.Username, Role: a.Role, TenantUUID: a.TenantUUID, UserUUID: a.UserUUID}
			}
		}
		if errors.Is(err, store.ErrNotFound) {
			if err := fail("invalid-credentials"); err != nil {
				return err
			}
			if byToken {
				return errInvalidCredentials("invalid or revoked token")
			}
			return errInvalidCredentials("wrong username or password")
		} else if err != nil {
			return err
		}
		lim.succeeded(userKey, ip, now)
		// Sessions end by expiry more often than by sign-out: sweep them here.
		if _, err := s.store.PurgeWebSessions(ctx, now); err != nil {
			logger(c).Warn("purging expired web sessions", "err", err, "request_id", requestID(c))
		}
		if old, err := c.Cookie(sessionCookie); err == nil {
			_ = s.store.DeleteWebSession(ctx, old.Value) // replaced by the new one; gone already is fine
		}
		w, plain, err := s.store.CreateWebSession(ctx, w, now)
		if err != nil {
			return fromStore("session", err)
		}
		c.Set(principalKey, sessionPrincipalOf(w))
		if err := s.audit(c, w.TenantUUID, "session.sign_in", "session", "", map[string]any{"username": sessionName(w),
			"method": method}); err != nil {
			return err
		}
		c.SetCookie(s.newSessionCookie(c, plain))
		return c.JSON(http.StatusCreated, renderSession(w))
	}
}

func (s *server) getSession(c echo.Context) error {
	return c.JSON(http.StatusOK, renderSession(*getPrincipal(c).session))
}

func (s *server) signOut(c echo.Context) error {
	p := getPrincipal(c)
	if ck, err := c.Cookie(sessionCookie); err == nil {
		if err := s.store.DeleteWebSession(c.Request().Context(), ck.Value); err != nil && !store.IsNotFound(err) {
			return err // not found: a concurrent sign-out won
		}
	}
	if err := s.audit(c, p.session.TenantUUID, "session.sign_out", "session", "",
		map[string]any{"username": sessionName(*p.session)}); err != nil {
		return err
	}
	c.SetCookie(s.clearedSessionCookie(c))
	return c.NoContent(http.StatusNoContent)
}

func sessionPrincipalOf(w store.WebSession) *principal {
	return &principal{token: store.Token{ID: w.TokenID, Role: w.Role, TenantUUID: w.TenantUUID, UserUUID: w.UserUUID},
		tenant: w.TenantUUID, user: w.UserUUID, session: &w}
}

// sessionPrincipal authenticates by the session cookie, and checks CSRF on
// a state change: the browser sends the cookie with any request to this
// host, including one a page of another site makes it send.
func (s *server) sessionPrincipal(c echo.Context) (*principal, error) {
	ck, err := c.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil, errUnauthorized("not signed in: POST " + sessionPath + " first")
	}
	w, err := s.store.WebSession(c.Request().Context(), ck.Value, s.now())
	if store.IsNotFound(err) {
		c.SetCookie(s.clearedSessionCookie(c)) // the browser may as well forget it
		return nil, errUnauthorized("the session has ended (expired or signed out): sign in again")
	} else if err != nil {
		return nil, err
	}
	switch c.Request().Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		got := c.Request().Header.Get(headerCSRF)
		if got == "" {
			return nil, errCSRF("missing the " + headerCSRF + " header: send the csrf_token of the sign-in answer")
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(w.CSRFToken)) != 1 {
			return nil, errCSRF("the " + headerCSRF + " header does not match this session's csrf_token")
		}
		if err := checkOrigin(c); err != nil {
			return nil, err
		}
	}
	return sessionPrincipalOf(w), nil
}

// checkOrigin refuses a request whose Origin (when sent) is not this
// server's Host.
func checkOrigin(c echo.Context) error {
	o := c.Request().Header.Get(echo.HeaderOrigin)
	if o == "" {
		return nil
	}
	if u, err := url.Parse(o); err != nil || u.Host == "" || !strings.EqualFold(u.Host, c.Request().Host) {
		return errCSRF("the Origin header " + strconv.Quote(o) + " is not this server (Host " + strconv.Quote(c.Request().Host) + ")")
	}
	return nil
}

func (s *server) newSessionCookie(c echo.Context, value string) *http.Cookie {
	return &http.Cookie{Name: sessionCookie, Value: value, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: s.overTLS(c)}
}

func (s *server) clearedSessionCookie(c echo.Context) *http.Cookie {
	ck := s.newSessionCookie(c, "")
	ck.MaxAge = -1 // written as Max-Age=0
	return ck
}

// overTLS reports whether the browser reached callrecd over TLS: directly,
// or through a trusted proxy that says so in X-Forwarded-Proto (the last
// value: the one the nearest proxy wrote).
func (s *server) overTLS(c echo.Context) bool {
	if c.IsTLS() {
		return true
	}
	protos := c.Request().Header.Values(echo.HeaderXForwardedProto)
	if len(protos) == 0 || !s.trustedPeer(c) {
		return false
	}
	last := protos[len(protos)-1]
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	return strings.EqualFold(strings.TrimSpace(last), "https")
}

// trustedPeer reports whether the socket peer is one of
// http.trusted_proxies.
func (s *server) trustedPeer(c echo.Context) bool {
	host, _, err := net.SplitHostPort(c.Request().RemoteAddr)
	ip := net.ParseIP(host)
	if err != nil || ip == nil {
		return false
	}
	for _, n := range s.proxies {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// signInLimiter counts failed sign-ins per username and per client IP over
// a sliding window, in memory (a restart forgets them: the limit slows a
// guesser down, it is not an account lock).
type signInLimiter struct {
	mu         sync.Mutex
	users, ips *failureLog
}

func newSignInLimiter() *signInLimiter {
	return &signInLimiter{users: newFailureLog(signInPerUser), ips: newFailureLog(signInPerIP)}
}

// take admits a sign-in attempt at now, counting it as a failure until
// succeeded says otherwise, so that parallel guesses cannot all slip in
// before the first is counted. Refused, it returns how long until the
// oldest counted failure leaves the window. user "" (a token) counts for
// the IP only.
func (l *signInLimiter) take(user, ip string, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	wait := max(l.users.wait(user, now), l.ips.wait(ip, now))
	if wait > 0 {
		return wait, false
	}
	l.users.add(user, now)
	l.ips.add(ip, now)
	return 0, true
}

// succeeded takes back the failure take counted at now; the right password
// also forgives the username's earlier failures.
func (l *signInLimiter) succeeded(user, ip string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.users.drop(user)
	l.ips.undo(ip, at)
}

// failureLog is the recent failures of each key, its keys in the order of
// their latest failure so that the oldest goes first when full.
type failureLog struct {
	limit int
	keys  map[string]*clist.Element // of *failures
	order *clist.List               // latest failure first
}

type failures struct {
	key string
	at  []time.Time // oldest first, at most limit
}

func newFailureLog(limit int) *failureLog {
	return &failureLog{limit: limit, keys: map[string]*clist.Element{}, order: clist.New()}
}

// wait prunes key's failures older than the window and returns how long
// the key stays blocked (0: not blocked).
func (f *failureLog) wait(key string, now time.Time) time.Duration {
	e, ok := f.keys[key]
	if key == "" || !ok {
		return 0
	}
	fs := e.Value.(*failures)
	for len(fs.at) > 0 && !now.Before(fs.at[0].Add(signInWindow)) {
		fs.at = fs.at[1:]
	}
	if len(fs.at) == 0 {
		f.drop(key)
		return 0
	}
	if len(fs.at) < f.limit {
		return 0
	}
	return fs.at[0].Add(signInWindow).Sub(now)
}

func (f *failureLog) add(key string, now time.Time) {
	if key == "" {
		return
	}
	e, ok := f.keys[key]
	if !ok {
		e = f.order.PushFront(&failures{key: key})
		f.keys[key] = e
		if f.order.Len() > signInKeys {
			f.drop(f.order.Back().Value.(*failures).key)
		}
	}
	fs := e.Value.(*failures)
	fs.at = append(fs.at, now)
	if len(fs.at) > f.limit {
		fs.at = fs.at[len(fs.at)-f.limit:]
	}
	f.order.MoveToFront(e)
}

// undo removes one failure counted at at.
func (f *failureLog) undo(key string, at time.Time) {
	e, ok := f.keys[key]
	if !ok {
		return
	}
	fs := e.Value.(*failures)
	for i := len(fs.at) - 1; i >= 0; i-- {
		if fs.at[i].Equal(at) {
			fs.at = append(fs.at[:i], fs.at[i+1:]...)
			break
		}
	}
	if len(fs.at) == 0 {
		f.drop(key)
	}
}

func (f *failureLog) drop(key string) {
	if e, ok := f.keys[key]; ok {
		f.order.Remove(e)
		delete(f.keys, key)
	}
}
