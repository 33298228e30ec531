package store

import (
	"context"
	"time"
)

// Kinds of Group: ring groups and call queues have the same recording shape.
const (
	KindGroup = "group"
	KindQueue = "queue"
)

// Group is a ring group or a queue. Name is how the PBX knows it (the
// dialplan's CALLRECD_GROUP / QUEUENAME); DTMFRecordToggle overrides a
// callee's online_call_record_enabled for calls reached through it.
type Group struct {
	UUID             string
	TenantUUID       string
	Kind             string
	Name             string
	Label            string
	DTMFRecordToggle bool
	Members          []string // user uuids
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

const groupColumns = `uuid, tenant_uuid, kind, name, label, dtmf_record_toggle, created_at, updated_at`

func scanGroup(row interface{ Scan(...any) error }) (Group, error) {
	var g Group
	var created, updated int64
	if err := row.Scan(&g.UUID, &g.TenantUUID, &g.Kind, &g.Name, &g.Label, &g.DTMFRecordToggle, &created, &updated); err != nil {
		return Group{}, err
	}
	g.CreatedAt, g.UpdatedAt = fromMicros(created), fromMicros(updated)
	return g, nil
}

// CreateGroup inserts a group or queue with its members.
func (s *Store) CreateGroup(ctx context.Context, g Group) (Group, error) {
	now := s.now()
	err := s.tx(ctx, func(tx querier) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO groups (`+groupColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			g.UUID, g.TenantUUID, g.Kind, g.Name, g.Label, g.DTMFRecordToggle, micros(now), micros(now)); err != nil {
			return err
		}
		return replaceMembers(ctx, tx, g)
	})
	if err != nil {
		return Group{}, classify("create "+g.Kind+" "+g.UUID, err)
	}
	return s.GetGroup(ctx, g.TenantUUID, g.Kind, g.UUID)
}

func replaceMembers(ctx context.Context, tx querier, g Group) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM group_members WHERE group_uuid = ?`, g.UUID); err != nil {
		return err
	}
	for _, m := range g.Members {
		// A member must be a user of the group's own tenant.
		res, err := tx.ExecContext(ctx, `INSERT INTO group_members (group_uuid, user_uuid)
			SELECT ?, uuid FROM users WHERE uuid = ? AND tenant_uuid = ?`, g.UUID, m, g.TenantUUID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return &memberError{user: m}
		}
	}
	return nil
}

type memberError struct{ user string }

func (e *memberError) Error() string { return "member " + e.user + " is not a user of this tenant" }
func (e *memberError) Unwrap() error { return ErrInvalid }

func (s *Store) loadMembers(ctx context.Context, g *Group) error {
	rows, err := s.q.QueryContext(ctx, `SELECT user_uuid FROM group_members WHERE group_uuid = ? ORDER BY user_uuid`, g.UUID)
	if err != nil {
		return err
	}
	defer rows.Close()
	g.Members = []string{}
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			return err
		}
		g.Members = append(g.Members, m)
	}
	return rows.Err()
}

// GetGroup reads a group or queue of a tenant ("" tenant: any tenant).
func (s *Store) GetGroup(ctx context.Context, tenant, kind, uuid string) (Group, error) {
	g, err := scanGroup(s.q.QueryRowContext(ctx, `SELECT `+groupColumns+` FROM groups
		WHERE uuid = ? AND kind = ? AND (? = '' OR tenant_uuid = ?)`, uuid, kind, tenant, tenant))
	if err == nil {
		err = s.loadMembers(ctx, &g)
	}
	if err != nil {
		return Group{}, classify("get "+kind+" "+uuid, err)
	}
	return g, nil
}

// GroupByName finds a group or queue by the name the PBX uses.
func (s *Store) GroupByName(ctx context.Context, tenant, kind, name string) (Group, error) {
	g, err := scanGroup(s.q.QueryRowContext(ctx, `SELECT `+groupColumns+` FROM groups
		WHERE tenant_uuid = ? AND kind = ? AND name = ?`, tenant, kind, name))
	if err == nil {
		err = s.loadMembers(ctx, &g)
	}
	if err != nil {
		return Group{}, classify("get "+kind+" "+name, err)
	}
	return g, nil
}

// ListGroups lists a tenant's groups or queues ("" tenant: all) by name.
func (s *Store) ListGroups(ctx context.Context, tenant, kind string, p Page) ([]Group, int, error) {
	var total int
	if err := s.q.QueryRowContext(ctx, `SELECT count(*) FROM groups WHERE kind = ? AND (? = '' OR tenant_uuid = ?)`,
		kind, tenant, tenant).Scan(&total); err != nil {
		return nil, 0, classify("list "+kind+"s", err)
	}
	rows, err := s.q.QueryContext(ctx, `SELECT `+groupColumns+` FROM groups WHERE kind = ? AND (? = '' OR tenant_uuid = ?)
		ORDER BY name, uuid LIMIT ? OFFSET ?`, kind, tenant, tenant, limitArg(p.Limit), p.Offset)
	if err != nil {
		return nil, 0, classify("list "+kind+"s", err)
	}
	var out []Group
	for rows.Next() {
		g, err := scanGroup(rows)
		if err != nil {
			rows.Close()
			return nil, 0, classify("list "+kind+"s", err)
		}
		out = append(out, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, classify("list "+kind+"s", err)
	}
	for i := range out {
		if err := s.loadMembers(ctx, &out[i]); err != nil {
			return nil, 0, classify("list "+kind+"s", err)
		}
	}
	return out, total, nil
}

// UpdateGroup replaces a group's name, label, toggle and members.
func (s *Store) UpdateGroup(ctx context.Context, g Group) (Group, error) {
	err := s.tx(ctx, func(tx querier) error {
		res, err := tx.ExecContext(ctx, `UPDATE groups SET name = ?, label = ?, dtmf_record_toggle = ?, updated_at = ?
			WHERE uuid = ? AND kind = ? AND tenant_uuid = ?`,
			g.Name, g.Label, g.DTMFRecordToggle, micros(s.now()), g.UUID, g.Kind, g.TenantUUID)
		if err := checkAffected("update "+g.Kind+" "+g.UUID, res, err); err != nil {
			return err
		}
		return replaceMembers(ctx, tx, g)
	})
	if err != nil {
		return Group{}, classify("update "+g.Kind+" "+g.UUID, err)
	}
	return s.GetGroup(ctx, g.TenantUUID, g.Kind, g.UUID)
}

// DeleteGroup removes a group or queue.
func (s *Store) DeleteGroup(ctx context.Context, tenant, kind, uuid string) error {
	res, err := s.q.ExecContext(ctx, `DELETE FROM groups WHERE uuid = ? AND kind = ? AND (? = '' OR tenant_uuid = ?)`,
		uuid, kind, tenant, tenant)
	return checkAffected("delete "+kind+" "+uuid, res, err)
}
