package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Token roles.
const (
	RoleSystem = "system" // every tenant; Wazo-Tenant selects one
	RoleAdmin  = "admin"  // one tenant
	RoleUser   = "user"   // one user's own calls and recordings
)

// Token is an API token as stored: never the secret, only its hash.
type Token struct {
	ID          string
	Role        string
	TenantUUID  string
	UserUUID    string
	Description string
	CreatedAt   time.Time
	LastUsedAt  *time.Time
	RevokedAt   *time.Time
}

// tokenPrefix makes a leaked token easy to recognise (and to grep for).
const tokenPrefix = "crd_"

// HashToken is the stored form of a token: hex SHA-256. Tokens carry 256 bits
// of randomness, so a fast hash is enough; a slow KDF would only cost latency.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CreateToken stores a new token and returns it with its secret, which is
// never retrievable again.
func (s *Store) CreateToken(ctx context.Context, t Token) (Token, string, error) {
	var idb [6]byte
	var secret [32]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return Token{}, "", err
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return Token{}, "", err
	}
	t.ID = hex.EncodeToString(idb[:])
	plain := tokenPrefix + t.ID + "_" + base64.RawURLEncoding.EncodeToString(secret[:])
	t.CreatedAt = s.now().UTC()
	_, err := s.q.ExecContext(ctx, `INSERT INTO api_tokens (id, hash, role, tenant_uuid, user_uuid, description, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, t.ID, HashToken(plain), t.Role, nullString(t.TenantUUID),
		nullString(t.UserUUID), t.Description, micros(t.CreatedAt))
	if err != nil {
		return Token{}, "", classify("create token", err)
	}
	return t, plain, nil
}

const tokenColumns = `id, role, tenant_uuid, user_uuid, description, created_at, last_used_at, revoked_at`

func scanToken(row interface{ Scan(...any) error }) (Token, error) {
	var t Token
	var tenant, user sql.NullString
	var created int64
	var used, revoked sql.NullInt64
	if err := row.Scan(&t.ID, &t.Role, &tenant, &user, &t.Description, &created, &used, &revoked); err != nil {
		return Token{}, err
	}
	t.TenantUUID, t.UserUUID = tenant.String, user.String
	t.CreatedAt, t.LastUsedAt, t.RevokedAt = fromMicros(created), timePtr(used), timePtr(revoked)
	return t, nil
}

// TokenCacheTTL is how long Authenticate trusts a token it looked up
// without asking the database again. Revoking a token (RevokeToken) or
// deleting its user (DeleteUser) through this Store drops the cache at once,
// so in this process a revocation takes effect immediately; a revocation by
// another process on the same database file (the `callrecd token revoke`
// command) takes effect within this TTL.
const TokenCacheTTL = 2 * time.Second

// tokenCacheMax bounds the cache; when full it starts again empty.
const tokenCacheMax = 4096

// tokenCache maps a token hash to the live token found for it. gen counts
// invalidations so that a lookup which raced with a revocation never stores
// what it read before the revocation.
type tokenCache struct {
	mu  sync.Mutex
	gen uint64
	m   map[string]cachedToken
}

type cachedToken struct {
	tok     Token
	expires time.Time // monotonic clock
}

func newTokenCache() *tokenCache { return &tokenCache{m: map[string]cachedToken{}} }

// get returns the cached token for hash, or the generation to hand to put.
func (c *tokenCache) get(hash string, now time.Time) (Token, bool, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[hash]
	if ok && now.Before(e.expires) {
		return e.tok, true, c.gen
	}
	if ok {
		delete(c.m, hash)
	}
	return Token{}, false, c.gen
}

// put stores a token read from the database unless the cache was
// invalidated since gen was taken.
func (c *tokenCache) put(hash string, t Token, gen uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.m) >= tokenCacheMax {
		clear(c.m)
	}
	c.m[hash] = cachedToken{tok: t, expires: now.Add(TokenCacheTTL)}
}

// noteUse records in the cached entry that the token's use was written at
// used; it reports false when another request already did so (or the entry
// is gone), so that one write per minute is all a busy token costs.
func (c *tokenCache) noteUse(hash string, prev *time.Time, used time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[hash]
	if !ok {
		return true
	}
	if (e.tok.LastUsedAt == nil) != (prev == nil) || (prev != nil && !e.tok.LastUsedAt.Equal(*prev)) {
		return false
	}
	e.tok.LastUsedAt = &used
	c.m[hash] = e
	return true
}

// invalidate drops every cached token.
func (c *tokenCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.m)
}

// Authenticate finds the live token a client presented and notes its use.
// Unknown and revoked tokens are both ErrNotFound: the caller answers 401.
// Live tokens are cached for TokenCacheTTL (see there for revocation).
func (s *Store) Authenticate(ctx context.Context, plain string) (Token, error) {
	if !strings.HasPrefix(plain, tokenPrefix) {
		return Token{}, fmt.Errorf("authenticate: %w", ErrNotFound)
	}
	hash := HashToken(plain)
	mono := time.Now()
	t, hit, gen := s.tokens.get(hash, mono)
	if !hit {
		var err error
		t, err = scanToken(s.r.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens
			WHERE hash = ? AND revoked_at IS NULL`, hash))
		if err != nil {
			return Token{}, classify("authenticate", err)
		}
	}
	// Note the use at most once a minute (a busy client must not turn every
	// read into a write), and off the request's path: a read must not wait
	// out the busy timeout behind another writer for a bookkeeping field
	// (in the fault soak, a held write lock stalled a /cdr read past 1 s).
	now := s.now()
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) > time.Minute {
		used := now.UTC()
		if !hit || s.tokens.noteUse(hash, t.LastUsedAt, used) {
			s.noteTokenUse(t.ID, now)
		}
		t.LastUsedAt = &used
	}
	if !hit {
		s.tokens.put(hash, t, gen, mono)
	}
	return t, nil
}

// noteTokenUse writes a token's last use in the background (best effort:
// a write that fails is caught up by the next use a minute later; Close
// waits for it).
func (s *Store) noteTokenUse(id string, at time.Time) {
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = s.db.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ?`, micros(at), id)
	}()
}

// ListTokens lists tokens ("" tenant: all, including system tokens).
func (s *Store) ListTokens(ctx context.Context, tenant string) ([]Token, error) {
	return queryList(ctx, s.q, "list tokens", scanToken, `SELECT `+tokenColumns+` FROM api_tokens
		WHERE (? = '' OR tenant_uuid = ?) ORDER BY created_at, id`, tenant, tenant)
}

// RevokeToken revokes a token by id ("" tenant: any tenant). Revoking twice
// keeps the first revocation time. Authenticate refuses the token from the
// moment RevokeToken returns (inside InTx: once the transaction commits).
func (s *Store) RevokeToken(ctx context.Context, tenant, id string) error {
	res, err := s.q.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?)
		WHERE id = ? AND (? = '' OR tenant_uuid = ?)`, micros(s.now()), id, tenant, tenant)
	s.afterWrite(s.tokens.invalidate)
	return checkAffected("revoke token "+id, res, err)
}
