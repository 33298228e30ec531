package main

import (
	"errors"
	"fmt"

	"github.com/callrecd/callrecd/store"
	"github.com/google/uuid"
)

// checkRoleFlags explains a wrong --role/--tenant/--user combination for a
// token or an account (kind) before the database refuses it less clearly.
func checkRoleFlags(kind, role, tenant, user string) error {
	for flag, v := range map[string]string{"--tenant": tenant, "--user": user} {
		if _, err := uuid.Parse(v); v != "" && (err != nil || len(v) != 36) {
			return fmt.Errorf("%s %q is not a UUID", flag, v)
		}
	}
	switch role {
	case store.RoleSystem:
		if tenant != "" || user != "" {
			return fmt.Errorf("a system %s belongs to no tenant or user: drop --tenant and --user", kind)
		}
	case store.RoleAdmin:
		if tenant == "" || user != "" {
			return fmt.Errorf("an admin %s needs --tenant and no --user", kind)
		}
	case store.RoleUser:
		if tenant == "" || user == "" {
			return fmt.Errorf("a user %s needs --tenant and --user", kind)
		}
	case "":
		return errors.New("--role is required (system, admin or user)")
	default:
		return fmt.Errorf("--role %q: must be system, admin or user", role)
	}
	return nil
}
