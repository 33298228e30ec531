package store

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"regexp"
	"time"
)

// SIPCredential is a SIP digest user of callrecd's SIP listener. Only the
// HA1 of each algorithm is stored (RFC 2617 / RFC 8760:
// H(username:realm:password)), never the password.
type SIPCredential struct {
	TenantUUID string
	Username   string
	// Endpoint is the engine's endpoint name of the user's phone (PJSIP
	// endpoint "1002"): who must be a party of the call controlled.
	Endpoint  string
	Realm     string
	HA1MD5    string // hex
	HA1SHA256 string // hex
	CreatedAt time.Time
	UpdatedAt time.Time
}

// DefaultSIPRealm is the realm credentials are hashed for until a listener
// has recorded its own (SetSIPRealm).
const DefaultSIPRealm = "callrecd"

// Digest algorithms, as the Authorization header spells them.
const (
	DigestMD5    = "MD5"
	DigestSHA256 = "SHA-256"
)

// DigestHA1 is H(username:realm:password) in hex for algorithm (DigestMD5
// or DigestSHA256); "" for another algorithm.
func DigestHA1(algorithm, username, realm, password string) string {
	var h hash.Hash
	switch algorithm {
	case DigestMD5:
		h = md5.New()
	case DigestSHA256:
		h = sha256.New()
	default:
		return ""
	}
	h.Write([]byte(username + ":" + realm + ":" + password))
	return hex.EncodeToString(h.Sum(nil))
}

// sipName is what a username or endpoint may be: SIP user-part characters
// that need no escaping and cannot break a quoted digest parameter.
var sipName = regexp.MustCompile(`^[A-Za-z0-9_.!~*'()&=+$,;?/-]{1,64}$`)

// ValidSIPName reports whether s may be a SIP credential's username or
// endpoint.
func ValidSIPName(s string) bool { return sipName.MatchString(s) }

// PutSIPCredential creates or replaces the credential (tenant, username)
// with a new password, hashed for the recorded listener realm
// (SIPRealm). Endpoint "" means the username itself. created reports a new
// row. ErrInvalid: a bad username, endpoint or empty password; ErrConflict:
// another tenant has that username in the realm.
func (s *Store) PutSIPCredential(ctx context.Context, c SIPCredential, password string) (_ SIPCredential, created bool, err error) {
	if c.Endpoint == "" {
		c.Endpoint = c.Username
	}
	switch {
	case !ValidSIPName(c.Username):
		return SIPCredential{}, false, fmt.Errorf("put sip credential: %w: username must be 1-64 SIP user characters", ErrInvalid)
	case !ValidSIPName(c.Endpoint):
		return SIPCredential{}, false, fmt.Errorf("put sip credential: %w: endpoint must be 1-64 SIP user characters", ErrInvalid)
	case password == "":
		return SIPCredential{}, false, fmt.Errorf("put sip credential: %w: password is required", ErrInvalid)
	}
	err = s.tx(ctx, func(q querier) error {
		realm, err := sipRealm(ctx, q)
		if err != nil {
			return err
		}
		c.Realm = realm
		c.HA1MD5 = DigestHA1(DigestMD5, c.Username, c.Realm, password)
		c.HA1SHA256 = DigestHA1(DigestSHA256, c.Username, c.Realm, password)
		now := fromMicros(micros(s.now())) // what the row keeps
		var createdAt int64
		switch err := q.QueryRowContext(ctx, `SELECT created_at FROM sip_credentials WHERE tenant_uuid = ? AND username = ?`,
			c.TenantUUID, c.Username).Scan(&createdAt); {
		case errors.Is(err, sql.ErrNoRows):
			created, c.CreatedAt = true, now
		case err != nil:
			return err
		default:
			c.CreatedAt = fromMicros(createdAt)
		}
		c.UpdatedAt = now
		_, err = q.ExecContext(ctx, `INSERT INTO sip_credentials (tenant_uuid, username, endpoint, realm, ha1_md5, ha1_sha256,
			created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (tenant_uuid, username) DO UPDATE SET endpoint = excluded.endpoint, realm = excluded.realm,
			ha1_md5 = excluded.ha1_md5, ha1_sha256 = excluded.ha1_sha256, updated_at = excluded.updated_at`,
			c.TenantUUID, c.Username, c.Endpoint, c.Realm, c.HA1MD5, c.HA1SHA256, micros(c.CreatedAt), micros(c.UpdatedAt))
		return err
	})
	if err != nil {
		return SIPCredential{}, false, classify("put sip credential", err)
	}
	return c, created, nil
}

const sipCredentialColumns = `tenant_uuid, username, endpoint, realm, ha1_md5, ha1_sha256, created_at, updated_at`

func scanSIPCredential(row interface{ Scan(...any) error }) (SIPCredential, error) {
	var c SIPCredential
	var created, updated int64
	if err := row.Scan(&c.TenantUUID, &c.Username, &c.Endpoint, &c.Realm, &c.HA1MD5, &c.HA1SHA256, &created, &updated); err != nil {
		return SIPCredential{}, err
	}
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	return c, nil
}

// SIPCredentialByRealm finds the credential the listener checks a digest
// against. ErrNotFound when there is none for that realm and username.
func (s *Store) SIPCredentialByRealm(ctx context.Context, realm, username string) (SIPCredential, error) {
	c, err := scanSIPCredential(s.r.QueryRowContext(ctx, `SELECT `+sipCredentialColumns+`
		FROM sip_credentials WHERE realm = ? AND username = ?`, realm, username))
	return c, classify("sip credential", err)
}

// ListSIPCredentials lists a tenant's credentials ("" = every tenant) by
// username.
func (s *Store) ListSIPCredentials(ctx context.Context, tenant string) ([]SIPCredential, error) {
	return queryList(ctx, s.r, "list sip credentials", scanSIPCredential, `SELECT `+sipCredentialColumns+`
		FROM sip_credentials WHERE (? = '' OR tenant_uuid = ?) ORDER BY tenant_uuid, username`, tenant, tenant)
}

// DeleteSIPCredential deletes one; ErrNotFound if the tenant has none of
// that username.
func (s *Store) DeleteSIPCredential(ctx context.Context, tenant, username string) error {
	res, err := s.q.ExecContext(ctx, `DELETE FROM sip_credentials WHERE tenant_uuid = ? AND username = ?`, tenant, username)
	return checkAffected("delete sip credential", res, err)
}

// SetSIPRealm records the realm the listener challenges with, so that
// credentials set afterwards (API, CLI) are hashed for it. It returns how
// many stored credentials were hashed for another realm: they cannot
// authenticate until their password is set again.
func (s *Store) SetSIPRealm(ctx context.Context, realm string) (stale int, err error) {
	if realm == "" {
		return 0, fmt.Errorf("set sip realm: %w: empty realm", ErrInvalid)
	}
	if _, err := s.q.ExecContext(ctx, `INSERT INTO sip_settings (id, realm) VALUES (1, ?)
		ON CONFLICT (id) DO UPDATE SET realm = excluded.realm`, realm); err != nil {
		return 0, classify("set sip realm", err)
	}
	err = s.q.QueryRowContext(ctx, `SELECT count(*) FROM sip_credentials WHERE realm <> ?`, realm).Scan(&stale)
	return stale, classify("set sip realm", err)
}

// SIPRealm is the recorded listener realm, DefaultSIPRealm if none.
func (s *Store) SIPRealm(ctx context.Context) (string, error) {
	r, err := sipRealm(ctx, s.r)
	return r, classify("sip realm", err)
}

func sipRealm(ctx context.Context, q querier) (string, error) {
	var realm string
	err := q.QueryRowContext(ctx, `SELECT realm FROM sip_settings WHERE id = 1`).Scan(&realm)
	if errors.Is(err, sql.ErrNoRows) {
		return DefaultSIPRealm, nil
	}
	return realm, err
}
