package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// Account is a sign-in account of the web page. It acts with its role
// exactly as an API token of that role: system (every tenant), admin (one
// tenant), user (one user's own calls). Its password hash never leaves the
// store.
type Account struct {
	Username   string
	Role       string
	TenantUUID string
	UserUUID   string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Web session lifetimes: a session ends 12 h after sign-in whatever its use,
// or after 2 h without a request.
const (
	WebSessionLifetime = 12 * time.Hour
	WebSessionIdle     = 2 * time.Hour
)

// Password bounds: bcrypt reads no further than 72 bytes, so a longer
// password would be silently cut rather than checked whole.
const (
	MinPasswordChars = 8
	MaxPasswordBytes = 72
)

// accountName is what a username may be: no spaces, no colon (a token's
// session is named "token:<id>"), room for an e-mail address.
var accountName = regexp.MustCompile(`^[\p{L}\p{N}._@+-]{1,64}$`)

// ValidAccountName reports whether s may be an account's username.
func ValidAccountName(s string) bool { return accountName.MatchString(s) }

// ValidPassword explains why a password may not be set (ErrInvalid), or
// returns nil.
func ValidPassword(password string) error {
	switch {
	case utf8.RuneCountInString(password) < MinPasswordChars:
		return fmt.Errorf("%w: the password must be at least %d characters", ErrInvalid, MinPasswordChars)
	case len(password) > MaxPasswordBytes:
		return fmt.Errorf("%w: the password must be at most %d bytes (bcrypt ignores the rest)", ErrInvalid, MaxPasswordBytes)
	}
	return nil
}

// dummyHash is the bcrypt hash (cost bcrypt.DefaultCost) of a random
// password nobody knows: CheckPassword compares against it when the account
// does not exist, so an unknown username costs the same time as a wrong
// password and the answer's latency does not tell which usernames exist.
const dummyHash = "$2a$10$9wzxhycMFPxTHeAJJAGRkeLQrfvTMLiUHXzt0iTkX2isaYCO.oPq2"

func hashPassword(password string) (string, error) {
	if err := ValidPassword(password); err != nil {
		return "", err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	return string(h), err
}

// CreateAccount stores a new account with a bcrypt hash of password.
// ErrInvalid: a bad username or password, a role that does not fit the
// tenant and user, an unknown tenant, a user not of the tenant;
// ErrConflict: the username is taken.
func (s *Store) CreateAccount(ctx context.Context, a Account, password string) (Account, error) {
	if !ValidAccountName(a.Username) {
		return Account{}, fmt.Errorf("create account: %w: username must be 1-64 letters, digits or ._@+-", ErrInvalid)
	}
	hash, err := hashPassword(password)
	if err != nil {
		return Account{}, fmt.Errorf("create account: %w", err)
	}
	a.CreatedAt = fromMicros(micros(s.now())) // what the row keeps
	a.UpdatedAt = a.CreatedAt
	err = s.tx(ctx, func(q querier) error {
		if a.UserUUID != "" {
			// The foreign key only says the user exists; it must be the tenant's.
			var n int
			if err := q.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE uuid = ? AND tenant_uuid = ?`,
				a.UserUUID, a.TenantUUID).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return fmt.Errorf("%w: user %s is not in tenant %s", ErrInvalid, a.UserUUID, a.TenantUUID)
			}
		}
		_, err := q.ExecContext(ctx, `INSERT INTO accounts (username, password_hash, role, tenant_uuid, user_uuid,
			created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`, a.Username, hash, a.Role, nullString(a.TenantUUID),
			nullString(a.UserUUID), micros(a.CreatedAt), micros(a.UpdatedAt))
		return err
	})
	if err != nil {
		return Account{}, classify("create account", err)
	}
	return a, nil
}

const accountColumns = `username, role, tenant_uuid, user_uuid, created_at, updated_at`

func scanAccount(row interface{ Scan(...any) error }) (Account, error) {
	var a Account
	var tenant, user sql.NullString
	var created, updated int64
	if err := row.Scan(&a.Username, &a.Role, &tenant, &user, &created, &updated); err != nil {
		return Account{}, err
	}
	a.TenantUUID, a.UserUUID = tenant.String, user.String
	a.CreatedAt, a.UpdatedAt = fromMicros(created), fromMicros(updated)
	return a, nil
}

// GetAccount finds an account by username.
func (s *Store) GetAccount(ctx context.Context, username string) (Account, error) {
	a, err := scanAccount(s.r.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE username = ?`, username))
	return a, classify("account "+username, err)
}

// ListAccounts lists accounts by username ("" tenant: all, including system
// accounts).
func (s *Store) ListAccounts(ctx context.Context, tenant string) ([]Account, error) {
	return queryList(ctx, s.r, "list accounts", scanAccount, `SELECT `+accountColumns+` FROM accounts
		WHERE (? = '' OR tenant_uuid = ?) ORDER BY username`, tenant, tenant)
}

// DeleteAccount deletes an account and, with it, its sessions.
func (s *Store) DeleteAccount(ctx context.Context, username string) error {
	res, err := s.q.ExecContext(ctx, `DELETE FROM accounts WHERE username = ?`, username)
	return checkAffected("delete account "+username, res, err)
}

// SetAccountPassword replaces an account's password and ends its sessions:
// a password changed because it leaked must also sign the thief out.
func (s *Store) SetAccountPassword(ctx context.Context, username, password string) error {
	hash, err := hashPassword(password)
	if err != nil {
		return fmt.Errorf("set account password: %w", err)
	}
	return s.tx(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, `UPDATE accounts SET password_hash = ?, updated_at = ? WHERE username = ?`,
			hash, micros(s.now()), username)
		if err := checkAffected("set account password "+username, res, err); err != nil {
			return err
		}
		_, err = q.ExecContext(ctx, `DELETE FROM web_sessions WHERE username = ?`, username)
		return classify("set account password", err)
	})
}

// CheckPassword returns the account whose password this is. An unknown
// username and a wrong password are the same ErrNotFound, found in the same
// time (see dummyHash).
func (s *Store) CheckPassword(ctx context.Context, username, password string) (Account, error) {
	var hash string
	err := s.r.QueryRowContext(ctx, `SELECT password_hash FROM accounts WHERE username = ?`, username).Scan(&hash)
	known := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return Account{}, classify("check password", err)
	}
	if !known {
		hash = dummyHash
	}
	// A password too long to have been set still costs one comparison.
	match := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil && len(password) <= MaxPasswordBytes
	if !known || !match {
		return Account{}, fmt.Errorf("check password: %w", ErrNotFound)
	}
	return s.GetAccount(ctx, username)
}

// WebSession is a signed-in browser. The cookie holds its id, of which only
// the SHA-256 is stored. It acts with Role, TenantUUID and UserUUID, copied
// from the account or token it came from.
type WebSession struct {
	CSRFToken  string // the page sends it back in X-CSRF-Token
	Role       string
	TenantUUID string
	UserUUID   string
	Username   string // the account signed in; "" for a token's session
	TokenID    string // the API token signed in with; "" for an account's
	CreatedAt  time.Time
	ExpiresAt  time.Time // absolute: CreatedAt + WebSessionLifetime
	LastSeenAt time.Time
}

func randomString() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// CreateWebSession starts a session at now and returns it with its id (256
// random bits, base64url), which is never retrievable again.
func (s *Store) CreateWebSession(ctx context.Context, w WebSession, now time.Time) (WebSession, string, error) {
	plain, err := randomString()
	if err != nil {
		return WebSession{}, "", err
	}
	if w.CSRFToken, err = randomString(); err != nil {
		return WebSession{}, "", err
	}
	w.CreatedAt = fromMicros(micros(now))
	w.ExpiresAt, w.LastSeenAt = w.CreatedAt.Add(WebSessionLifetime), w.CreatedAt
	_, err = s.q.ExecContext(ctx, `INSERT INTO web_sessions (hash, csrf_token, role, tenant_uuid, user_uuid, username,
		token_id, created_at, expires_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, HashToken(plain),
		w.CSRFToken, w.Role, nullString(w.TenantUUID), nullString(w.UserUUID), nullString(w.Username),
		nullString(w.TokenID), micros(w.CreatedAt), micros(w.ExpiresAt), micros(w.LastSeenAt))
	if err != nil {
		return WebSession{}, "", classify("create web session", err)
	}
	return w, plain, nil
}

// WebSession finds the live session of a cookie's id at now and notes its
// use. Unknown, expired (absolute or idle) sessions and those of a revoked
// token are all ErrNotFound.
func (s *Store) WebSession(ctx context.Context, plain string, now time.Time) (WebSession, error) {
	var w WebSession
	var tenant, user, username, token sql.NullString
	var created, expires, seen int64
	hash := HashToken(plain)
	err := s.r.QueryRowContext(ctx, `SELECT w.csrf_token, w.role, w.tenant_uuid, w.user_uuid, w.username, w.token_id,
		w.created_at, w.expires_at, w.last_seen_at FROM web_sessions w LEFT JOIN api_tokens t ON t.id = w.token_id
		WHERE w.hash = ? AND w.expires_at > ? AND w.last_seen_at > ? AND (w.token_id IS NULL OR t.revoked_at IS NULL)`,
		hash, micros(now), micros(now.Add(-WebSessionIdle))).Scan(&w.CSRFToken, &w.Role, &tenant, &user, &username,
		&token, &created, &expires, &seen)
	if err != nil {
		return WebSession{}, classify("web session", err)
	}
	w.TenantUUID, w.UserUUID, w.Username, w.TokenID = tenant.String, user.String, username.String, token.String
	w.CreatedAt, w.ExpiresAt, w.LastSeenAt = fromMicros(created), fromMicros(expires), fromMicros(seen)
	// Slide at most once a minute: a page polling every few seconds must
	// not turn every read into a write.
	if now.Sub(w.LastSeenAt) >= time.Minute {
		w.LastSeenAt = fromMicros(micros(now))
		if _, err := s.q.ExecContext(ctx, `UPDATE web_sessions SET last_seen_at = ? WHERE hash = ?`,
			micros(w.LastSeenAt), hash); err != nil {
			return WebSession{}, classify("web session", err)
		}
	}
	return w, nil
}

// DeleteWebSession ends a session (sign-out).
func (s *Store) DeleteWebSession(ctx context.Context, plain string) error {
	res, err := s.q.ExecContext(ctx, `DELETE FROM web_sessions WHERE hash = ?`, HashToken(plain))
	return checkAffected("delete web session", res, err)
}

// PurgeWebSessions deletes the sessions expired at now (absolute or idle)
// and returns how many.
func (s *Store) PurgeWebSessions(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.q.ExecContext(ctx, `DELETE FROM web_sessions WHERE expires_at <= ? OR last_seen_at <= ?`,
		micros(now), micros(now.Add(-WebSessionIdle)))
	if err != nil {
		return 0, classify("purge web sessions", err)
	}
	return res.RowsAffected()
}
