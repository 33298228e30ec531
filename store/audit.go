package store

import (
	"context"
	"encoding/json"
	"time"
)

// AuditEntry is one line of the append-only audit log: who did what to which
// object, when and from where.
type AuditEntry struct {
	ID         int64
	At         time.Time
	TenantUUID string
	Actor      string
	Action     string
	ObjectType string
	ObjectID   string
	RemoteAddr string
	Details    map[string]any
}

// AppendAudit adds an entry. The table refuses updates and deletes.
func (s *Store) AppendAudit(ctx context.Context, e AuditEntry) (AuditEntry, error) {
	if e.At.IsZero() {
		e.At = s.now()
	}
	e.At = e.At.UTC()
	details := "{}"
	if len(e.Details) > 0 {
		b, err := json.Marshal(e.Details)
		if err != nil {
			return AuditEntry{}, err
		}
		details = string(b)
	}
	res, err := s.q.ExecContext(ctx, `INSERT INTO audit_log (at, tenant_uuid, actor, action, object_type, object_id,
		remote_addr, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, micros(e.At), nullString(e.TenantUUID), e.Actor,
		e.Action, e.ObjectType, e.ObjectID, e.RemoteAddr, details)
	if err != nil {
		return AuditEntry{}, classify("append audit", err)
	}
	e.ID, _ = res.LastInsertId()
	return e, nil
}

// AuditFilter selects audit entries.
type AuditFilter struct {
	Tenant string // "" = all
	Since  *time.Time
	Page
}

// ListAudit lists entries oldest first.
func (s *Store) ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	var since int64
	if f.Since != nil {
		since = micros(*f.Since)
	}
	rows, err := s.q.QueryContext(ctx, `SELECT id, at, coalesce(tenant_uuid, ''), actor, action, object_type,
		object_id, remote_addr, details FROM audit_log WHERE (? = '' OR tenant_uuid = ?) AND at >= ?
		ORDER BY id LIMIT ? OFFSET ?`, f.Tenant, f.Tenant, since, limitArg(f.Limit), f.Offset)
	if err != nil {
		return nil, classify("list audit", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at int64
		var details string
		if err := rows.Scan(&e.ID, &at, &e.TenantUUID, &e.Actor, &e.Action, &e.ObjectType, &e.ObjectID,
			&e.RemoteAddr, &details); err != nil {
			return nil, classify("list audit", err)
		}
		e.At = fromMicros(at)
		if err := json.Unmarshal([]byte(details), &e.Details); err != nil {
			return nil, classify("list audit", err)
		}
		out = append(out, e)
	}
	return out, classify("list audit", rows.Err())
}
