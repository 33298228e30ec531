package sipctl

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/callrecd/callrecd/store"
)

// Digest authentication (RFC 2617 with qop=auth; RFC 8760 for SHA-256),
// server side. The stored secret is the HA1 of each algorithm, so the
// password itself is never needed here.

// authorization is a parsed "Authorization: Digest …" header.
type authorization struct {
	Username, Realm, Nonce, URI, Response string
	Algorithm, CNonce, QOP, NC, Opaque    string
}

// maxAuthHeader bounds the header the parser looks at; real ones are
// under 500 bytes.
const maxAuthHeader = 2048

var errBadAuthHeader = errors.New("malformed Digest Authorization header")

// parseAuthorization reads a Digest credentials header: "Digest" then
// comma-separated name=value pairs, each value a token or a quoted string
// (backslash escapes). Names are case-insensitive; a repeated name or any
// syntax error is refused, as is a missing username, realm, nonce, uri or
// response. Not icholy/digest's ParseCredentials (which the tests' client
// uses): it takes a repeated parameter silently, and a header that two
// parties could read differently must be refused.
func parseAuthorization(h string) (authorization, error) {
	var a authorization
	if len(h) > maxAuthHeader {
		return a, fmt.Errorf("%w: longer than %d bytes", errBadAuthHeader, maxAuthHeader)
	}
	h = strings.TrimSpace(h)
	scheme, rest, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Digest") {
		return a, fmt.Errorf("%w: scheme %q", errBadAuthHeader, scheme)
	}
	seen := map[string]bool{}
	// Each pass consumes one pair, so the loop ends within len(rest) passes.
	for pass := 0; pass <= len(rest); pass++ {
		rest = strings.TrimLeft(rest, " \t,")
		if rest == "" {
			break
		}
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return a, fmt.Errorf("%w: expected name=value", errBadAuthHeader)
		}
		name := strings.ToLower(strings.TrimSpace(rest[:eq]))
		rest = strings.TrimLeft(rest[eq+1:], " \t")
		var value string
		var err error
		if strings.HasPrefix(rest, `"`) {
			value, rest, err = quoted(rest)
			if err != nil {
				return a, err
			}
		} else {
			end := strings.IndexAny(rest, ", \t")
			if end < 0 {
				end = len(rest)
			}
			value, rest = rest[:end], rest[end:]
		}
		rest = strings.TrimLeft(rest, " \t")
		if rest != "" && rest[0] != ',' {
			return a, fmt.Errorf("%w: junk after %s", errBadAuthHeader, name)
		}
		if seen[name] {
			return a, fmt.Errorf("%w: %s twice", errBadAuthHeader, name)
		}
		seen[name] = true
		switch name {
		case "username":
			a.Username = value
		case "realm":
			a.Realm = value
		case "nonce":
			a.Nonce = value
		case "uri":
			a.URI = value
		case "response":
			a.Response = value
		case "algorithm":
			a.Algorithm = value
		case "cnonce":
			a.CNonce = value
		case "qop":
			a.QOP = value
		case "nc":
			a.NC = value
		case "opaque":
			a.Opaque = value
		}
	}
	if a.Username == "" || a.Realm == "" || a.Nonce == "" || a.URI == "" || a.Response == "" {
		return a, fmt.Errorf("%w: username, realm, nonce, uri and response are required", errBadAuthHeader)
	}
	return a, nil
}

// quoted reads a quoted string at the start of s and returns its value and
// what follows the closing quote.
func quoted(s string) (value, rest string, err error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 == len(s) {
				return "", "", fmt.Errorf("%w: dangling escape", errBadAuthHeader)
			}
			i++
			b.WriteByte(s[i])
		case '"':
			return b.String(), s[i+1:], nil
		default:
			b.WriteByte(s[i])
		}
	}
	return "", "", fmt.Errorf("%w: unterminated quoted string", errBadAuthHeader)
}

// algorithms callrecd offers, most preferred first (RFC 8760 §2.4: the
// challenges are listed in order of preference).
var algorithms = []string{store.DigestSHA256, store.DigestMD5}

func newHash(algorithm string) hash.Hash {
	if algorithm == store.DigestSHA256 {
		return sha256.New()
	}
	return md5.New()
}

func hexHash(algorithm, s string) string {
	h := newHash(algorithm)
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil))
}

// expectedResponse is RFC 2617's request-digest for qop=auth.
func expectedResponse(algorithm, ha1, method string, a authorization) string {
	ha2 := hexHash(algorithm, method+":"+a.URI)
	return hexHash(algorithm, ha1+":"+a.Nonce+":"+a.NC+":"+a.CNonce+":"+a.QOP+":"+ha2)
}

// responseMatches compares in constant time (the expected value is secret
// until matched).
func responseMatches(want, got string) bool {
	return subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(got))) == 1
}

// canonicalAlgorithm maps the header's algorithm ("" is MD5, RFC 2617) to
// one callrecd verifies, or "" (the -sess variants are not offered).
func canonicalAlgorithm(a string) string {
	switch strings.ToUpper(a) {
	case "", "MD5":
		return store.DigestMD5
	case "SHA-256":
		return store.DigestSHA256
	}
	return ""
}

// challenge is one WWW-Authenticate value.
func challenge(realm, nonce, algorithm string, stale bool) string {
	s := fmt.Sprintf(`Digest realm="%s", nonce="%s", algorithm=%s, qop="auth"`, realm, nonce, algorithm)
	if stale {
		s += ", stale=true"
	}
	return s
}

// nonces issues stateless nonces — base64url(issued unix nanoseconds ‖
// 8 random bytes ‖ HMAC-SHA256(key, both)[:16]) — that expire after ttl, and remembers
// the highest nonce-count used with each one so that a replayed (nonce,
// nc) is refused. What it remembers is bounded by max entries: when full
// it forgets the entry used first and raises a floor, and every nonce
// issued at or before the floor counts as stale from then on, so a
// forgotten nonce can never be replayed.
type nonces struct {
	key [32]byte
	ttl time.Duration
	max int
	now func() time.Time

	mu    sync.Mutex
	used  map[string]*nonceUse
	order []string // nonces in order of first use (FIFO, for eviction)
	head  int      // order[head:] are live
	floor int64    // nonces issued at or before this are stale
}

type nonceUse struct {
	issued int64
	nc     uint64 // highest nonce-count accepted
}

func newNonces(ttl time.Duration, max int, now func() time.Time) (*nonces, error) {
	n := &nonces{ttl: ttl, max: max, now: now, used: map[string]*nonceUse{}}
	if _, err := rand.Read(n.key[:]); err != nil {
		return nil, err
	}
	return n, nil
}

func (n *nonces) mac(data []byte) []byte {
	m := hmac.New(sha256.New, n.key[:])
	m.Write(data)
	return m.Sum(nil)[:16]
}

// issue makes a fresh nonce. The random part keeps two nonces issued in
// the same nanosecond apart (each has its own nonce-count).
func (n *nonces) issue() string {
	var b [nonceLen]byte
	binary.BigEndian.PutUint64(b[:8], uint64(n.now().UnixNano()))
	_, _ = rand.Read(b[8:16])
	copy(b[16:], n.mac(b[:16]))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// nonceLen: issued time (8 bytes), random (8), MAC (16).
const nonceLen = 32

// nonceState is what check says of a nonce.
type nonceState int

const (
	nonceBad   nonceState = iota // not ours: forged or garbled
	nonceStale                   // ours, but expired (or forgotten)
	nonceFresh                   // ours and valid
)

// check verifies a nonce's MAC and age; it does not count its use.
func (n *nonces) check(nonce string) (nonceState, int64) {
	b, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(b) != nonceLen || !hmac.Equal(b[16:], n.mac(b[:16])) {
		return nonceBad, 0
	}
	issued := int64(binary.BigEndian.Uint64(b[:8]))
	age := n.now().UnixNano() - issued
	n.mu.Lock()
	floor := n.floor
	n.mu.Unlock()
	if age < 0 || age > int64(n.ttl) || issued <= floor {
		return nonceStale, issued
	}
	return nonceFresh, issued
}

// use records nonce-count nc (8 hex digits) for a fresh nonce; false when
// nc is not above the highest one already accepted (a replay) or when the
// nonce was forgotten meanwhile.
func (n *nonces) use(nonce string, issued int64, nc string) bool {
	count, err := strconv.ParseUint(nc, 16, 32)
	if err != nil || len(nc) != 8 || count == 0 {
		return false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if issued <= n.floor {
		return false
	}
	if u := n.used[nonce]; u != nil {
		if count <= u.nc {
			return false
		}
		u.nc = count
		return true
	}
	n.evict()
	n.used[nonce] = &nonceUse{issued: issued, nc: count}
	n.order = append(n.order, nonce)
	return true
}

// evict drops expired entries from the front, then, while full, the
// oldest used ones, raising the floor over them. n.mu held. Each pass
// removes one entry, so it runs at most len(order) passes.
func (n *nonces) evict() {
	expired := n.now().UnixNano() - int64(n.ttl)
	for n.head < len(n.order) {
		u := n.used[n.order[n.head]]
		if u.issued > expired && len(n.used) < n.max {
			break
		}
		if u.issued > expired && u.issued > n.floor {
			n.floor = u.issued // forgotten while valid: stale from now on
		}
		delete(n.used, n.order[n.head])
		n.order[n.head] = ""
		n.head++
	}
	if n.head > len(n.order)/2 { // compact so order does not grow forever
		n.order = append(n.order[:0], n.order[n.head:]...)
		n.head = 0
	}
}

// remembered is how many nonces are tracked (tests, bounded memory).
func (n *nonces) remembered() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.used)
}
