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

// Authenticate finds the live token a client presented and notes its use.
// Unknown and revoked tokens are both ErrNotFound: the caller answers 401.
func (s *Store) Authenticate(ctx context.Context, plain string) (Token, error) {
	if !strings.HasPrefix(plain, tokenPrefix) {
		return Token{}, fmt.Errorf("authenticate: %w", ErrNotFound)
	}
	t, err := scanToken(s.q.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens
		WHERE hash = ? AND revoked_at IS NULL`, HashToken(plain)))
	if err != nil {
		return Token{}, classify("authenticate", err)
	}
	// Note the use at most once a minute: a busy client must not turn every
	// read into a write.
	now := s.now()
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) > time.Minute {
		if _, err := s.q.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ?`, micros(now), t.ID); err != nil {
			return Token{}, classify("authenticate", err)
		}
		used := now.UTC()
		t.LastUsedAt = &used
	}
	return t, nil
}

// ListTokens lists tokens ("" tenant: all, including system tokens).
func (s *Store) ListTokens(ctx context.Context, tenant string) ([]Token, error) {
	rows, err := s.q.QueryContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens
		WHERE (? = '' OR tenant_uuid = ?) ORDER BY created_at, id`, tenant, tenant)
	if err != nil {
		return nil, classify("list tokens", err)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, classify("list tokens", err)
		}
		out = append(out, t)
	}
	return out, classify("list tokens", rows.Err())
}

// RevokeToken revokes a token by id ("" tenant: any tenant). Revoking twice
// keeps the first revocation time.
func (s *Store) RevokeToken(ctx context.Context, tenant, id string) error {
	res, err := s.q.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?)
		WHERE id = ? AND (? = '' OR tenant_uuid = ?)`, micros(s.now()), id, tenant, tenant)
	return checkAffected("revoke token "+id, res, err)
}
