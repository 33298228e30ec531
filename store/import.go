package store

import (
	"context"
	"fmt"
)

// ImportSet is a batch of settings to create or replace, as `callrecd
// import` reads them from a YAML file.
type ImportSet struct {
	Tenants []Tenant
	Users   []User
	Groups  []Group // groups and queues, told apart by Kind
}

// ImportSummary counts what Import did.
type ImportSummary struct {
	Created, Updated int
}

// Import creates or replaces every object of the set (matched by uuid) in one
// transaction: a bad object leaves the database exactly as it was. New
// tenants get the feature codes in codes (defaults for the ones missing).
func (s *Store) Import(ctx context.Context, set ImportSet, codes map[string]string) (ImportSummary, error) {
	var sum ImportSummary
	err := s.InTx(ctx, func(ts *Store) error {
		sum = ImportSummary{}
		for _, t := range set.Tenants {
			switch _, err := ts.GetTenant(ctx, t.UUID); {
			case err == nil:
				if _, err := ts.UpdateTenant(ctx, t); err != nil {
					return err
				}
				sum.Updated++
			case isNotFound(err):
				if _, err := ts.CreateTenant(ctx, t, codes); err != nil {
					return err
				}
				sum.Created++
			default:
				return err
			}
		}
		for _, u := range set.Users {
			switch old, err := ts.GetUser(ctx, "", u.UUID); {
			case err == nil:
				if old.TenantUUID != u.TenantUUID {
					return fmt.Errorf("import user %s: %w: it belongs to tenant %s, not %s", u.UUID, ErrInvalid, old.TenantUUID, u.TenantUUID)
				}
				if _, err := ts.UpdateUser(ctx, u); err != nil {
					return err
				}
				sum.Updated++
			case isNotFound(err):
				if _, err := ts.CreateUser(ctx, u); err != nil {
					return err
				}
				sum.Created++
			default:
				return err
			}
		}
		for _, g := range set.Groups {
			switch old, err := ts.GetGroup(ctx, "", g.Kind, g.UUID); {
			case err == nil:
				if old.TenantUUID != g.TenantUUID {
					return fmt.Errorf("import %s %s: %w: it belongs to tenant %s, not %s", g.Kind, g.UUID, ErrInvalid, old.TenantUUID, g.TenantUUID)
				}
				if _, err := ts.UpdateGroup(ctx, g); err != nil {
					return err
				}
				sum.Updated++
			case isNotFound(err):
				if _, err := ts.CreateGroup(ctx, g); err != nil {
					return err
				}
				sum.Created++
			default:
				return err
			}
		}
		return nil
	})
	return sum, err
}
