package store

import (
	"context"
	"strings"
	"time"
)

// User is a PBX user and their recording settings (Wazo confd's user fields).
type User struct {
	UUID       string
	TenantUUID string
	Extension  string
	Firstname  string
	Lastname   string
	Email      string
	// Endpoints are the user's PBX endpoints (PJSIP endpoint names,
	// FreeSWITCH user@domain); a channel on one of them is this user.
	Endpoints                         []string
	CallRecordIncomingInternalEnabled bool
	CallRecordIncomingExternalEnabled bool
	CallRecordOutgoingInternalEnabled bool
	CallRecordOutgoingExternalEnabled bool
	OnlineCallRecordEnabled           bool
	RecordAudio                       bool
	RecordVideo                       bool
	CreatedAt                         time.Time
	UpdatedAt                         time.Time
}

// Name is "Firstname Lastname", trimmed.
func (u User) Name() string { return strings.TrimSpace(u.Firstname + " " + u.Lastname) }

// AutoRecordAny reports whether any of the four automatic recording flags is on.
func (u User) AutoRecordAny() bool {
	return u.CallRecordIncomingInternalEnabled || u.CallRecordIncomingExternalEnabled ||
		u.CallRecordOutgoingInternalEnabled || u.CallRecordOutgoingExternalEnabled
}

const userColumns = `uuid, tenant_uuid, extension, firstname, lastname, email,
	call_record_incoming_internal_enabled, call_record_incoming_external_enabled,
	call_record_outgoing_internal_enabled, call_record_outgoing_external_enabled,
	online_call_record_enabled, record_audio, record_video, created_at, updated_at`

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var u User
	var created, updated int64
	err := row.Scan(&u.UUID, &u.TenantUUID, &u.Extension, &u.Firstname, &u.Lastname, &u.Email,
		&u.CallRecordIncomingInternalEnabled, &u.CallRecordIncomingExternalEnabled,
		&u.CallRecordOutgoingInternalEnabled, &u.CallRecordOutgoingExternalEnabled,
		&u.OnlineCallRecordEnabled, &u.RecordAudio, &u.RecordVideo, &created, &updated)
	if err != nil {
		return User{}, err
	}
	u.CreatedAt, u.UpdatedAt = fromMicros(created), fromMicros(updated)
	return u, nil
}

// CreateUser inserts a user and their endpoints.
func (s *Store) CreateUser(ctx context.Context, u User) (User, error) {
	now := s.now()
	err := s.tx(ctx, func(tx querier) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO users (`+userColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			u.UUID, u.TenantUUID, u.Extension, u.Firstname, u.Lastname, u.Email,
			u.CallRecordIncomingInternalEnabled, u.CallRecordIncomingExternalEnabled,
			u.CallRecordOutgoingInternalEnabled, u.CallRecordOutgoingExternalEnabled,
			u.OnlineCallRecordEnabled, u.RecordAudio, u.RecordVideo, micros(now), micros(now))
		if err != nil {
			return err
		}
		return replaceEndpoints(ctx, tx, u)
	})
	if err != nil {
		return User{}, classify("create user "+u.UUID, err)
	}
	return s.GetUser(ctx, u.TenantUUID, u.UUID)
}

func replaceEndpoints(ctx context.Context, tx querier, u User) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM user_endpoints WHERE user_uuid = ?`, u.UUID); err != nil {
		return err
	}
	for _, ep := range u.Endpoints {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO user_endpoints (tenant_uuid, endpoint, user_uuid) VALUES (?, ?, ?)`,
			u.TenantUUID, ep, u.UUID); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) loadEndpoints(ctx context.Context, u *User) error {
	rows, err := s.q.QueryContext(ctx, `SELECT endpoint FROM user_endpoints WHERE user_uuid = ? ORDER BY endpoint`, u.UUID)
	if err != nil {
		return err
	}
	defer rows.Close()
	u.Endpoints = []string{}
	for rows.Next() {
		var ep string
		if err := rows.Scan(&ep); err != nil {
			return err
		}
		u.Endpoints = append(u.Endpoints, ep)
	}
	return rows.Err()
}

// GetUser reads a user of a tenant ("" tenant: any tenant).
func (s *Store) GetUser(ctx context.Context, tenant, uuid string) (User, error) {
	u, err := scanUser(s.q.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users
		WHERE uuid = ? AND (? = '' OR tenant_uuid = ?)`, uuid, tenant, tenant))
	if err == nil {
		err = s.loadEndpoints(ctx, &u)
	}
	if err != nil {
		return User{}, classify("get user "+uuid, err)
	}
	return u, nil
}

// UserByEndpoint finds the user a PBX endpoint belongs to.
func (s *Store) UserByEndpoint(ctx context.Context, tenant, endpoint string) (User, error) {
	u, err := scanUser(s.q.QueryRowContext(ctx, `SELECT `+prefixed("u.", userColumns)+`
		FROM user_endpoints e JOIN users u ON u.uuid = e.user_uuid
		WHERE e.tenant_uuid = ? AND e.endpoint = ?`, tenant, endpoint))
	if err == nil {
		err = s.loadEndpoints(ctx, &u)
	}
	if err != nil {
		return User{}, classify("user by endpoint "+endpoint, err)
	}
	return u, nil
}

// Page selects a window of a list. Limit 0 means no limit.
type Page struct {
	Limit  int
	Offset int
}

// UserFilter selects users for ListUsers.
type UserFilter struct {
	Tenant string // "" = all tenants
	Search string // matches extension, names, email
	Page
}

// ListUsers lists users ordered by extension and the total matching.
func (s *Store) ListUsers(ctx context.Context, f UserFilter) ([]User, int, error) {
	where := `(? = '' OR tenant_uuid = ?) AND (? = '' OR extension LIKE ? ESCAPE '\'
		OR firstname LIKE ? ESCAPE '\' OR lastname LIKE ? ESCAPE '\' OR email LIKE ? ESCAPE '\')`
	like := likePattern(f.Search)
	args := []any{f.Tenant, f.Tenant, f.Search, like, like, like, like}
	var total int
	if err := s.q.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE `+where, args...).Scan(&total); err != nil {
		return nil, 0, classify("list users", err)
	}
	rows, err := s.q.QueryContext(ctx, `SELECT `+userColumns+` FROM users WHERE `+where+`
		ORDER BY extension, uuid LIMIT ? OFFSET ?`, append(args, limitArg(f.Limit), f.Offset)...)
	if err != nil {
		return nil, 0, classify("list users", err)
	}
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			rows.Close()
			return nil, 0, classify("list users", err)
		}
		out = append(out, u)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, classify("list users", err)
	}
	for i := range out {
		if err := s.loadEndpoints(ctx, &out[i]); err != nil {
			return nil, 0, classify("list users", err)
		}
	}
	return out, total, nil
}

// UpdateUser replaces a user's fields and endpoints (not uuid, tenant or
// creation time).
func (s *Store) UpdateUser(ctx context.Context, u User) (User, error) {
	now := s.now()
	err := s.tx(ctx, func(tx querier) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET extension = ?, firstname = ?, lastname = ?, email = ?,
			call_record_incoming_internal_enabled = ?, call_record_incoming_external_enabled = ?,
			call_record_outgoing_internal_enabled = ?, call_record_outgoing_external_enabled = ?,
			online_call_record_enabled = ?, record_audio = ?, record_video = ?, updated_at = ?
			WHERE uuid = ? AND tenant_uuid = ?`,
			u.Extension, u.Firstname, u.Lastname, u.Email,
			u.CallRecordIncomingInternalEnabled, u.CallRecordIncomingExternalEnabled,
			u.CallRecordOutgoingInternalEnabled, u.CallRecordOutgoingExternalEnabled,
			u.OnlineCallRecordEnabled, u.RecordAudio, u.RecordVideo, micros(now), u.UUID, u.TenantUUID)
		if err := checkAffected("update user "+u.UUID, res, err); err != nil {
			return err
		}
		return replaceEndpoints(ctx, tx, u)
	})
	if err != nil {
		return User{}, classify("update user "+u.UUID, err)
	}
	return s.GetUser(ctx, u.TenantUUID, u.UUID)
}

// SetUserAutoRecord sets all four automatic recording flags of a user at
// once (the *26 toggle).
func (s *Store) SetUserAutoRecord(ctx context.Context, uuid string, on bool) error {
	res, err := s.q.ExecContext(ctx, `UPDATE users SET call_record_incoming_internal_enabled = ?,
		call_record_incoming_external_enabled = ?, call_record_outgoing_internal_enabled = ?,
		call_record_outgoing_external_enabled = ?, updated_at = ? WHERE uuid = ?`,
		on, on, on, on, micros(s.now()), uuid)
	return checkAffected("set auto record "+uuid, res, err)
}

// DeleteUser removes a user of a tenant; their calls keep their history.
func (s *Store) DeleteUser(ctx context.Context, tenant, uuid string) error {
	res, err := s.q.ExecContext(ctx, `DELETE FROM users WHERE uuid = ? AND (? = '' OR tenant_uuid = ?)`, uuid, tenant, tenant)
	// The user's tokens went with it (ON DELETE CASCADE).
	s.afterWrite(s.tokens.invalidate)
	return checkAffected("delete user "+uuid, res, err)
}

// likePattern makes a substring LIKE pattern with % and _ escaped.
func likePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}

// limitArg turns "no limit" (0) into SQLite's -1.
func limitArg(limit int) int {
	if limit <= 0 {
		return -1
	}
	return limit
}

// prefixed qualifies a column list with a table alias.
func prefixed(alias, columns string) string {
	parts := strings.Split(columns, ",")
	for i, p := range parts {
		parts[i] = alias + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

// UserEndpoint is one PBX endpoint a user has, with the user's extension.
type UserEndpoint struct {
	TenantUUID, Endpoint, UserUUID, Extension string
}

// ListUserEndpoints lists every user's endpoints, of every tenant, ordered
// by tenant and endpoint (`callrecd doctor` checks that the PBX has them).
func (s *Store) ListUserEndpoints(ctx context.Context) ([]UserEndpoint, error) {
	rows, err := s.q.QueryContext(ctx, `SELECT e.tenant_uuid, e.endpoint, e.user_uuid, u.extension
		FROM user_endpoints e JOIN users u ON u.uuid = e.user_uuid ORDER BY e.tenant_uuid, e.endpoint`)
	if err != nil {
		return nil, classify("list user endpoints", err)
	}
	defer rows.Close()
	var out []UserEndpoint
	for rows.Next() {
		var ue UserEndpoint
		if err := rows.Scan(&ue.TenantUUID, &ue.Endpoint, &ue.UserUUID, &ue.Extension); err != nil {
			return nil, classify("list user endpoints", err)
		}
		out = append(out, ue)
	}
	return out, classify("list user endpoints", rows.Err())
}
