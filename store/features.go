package store

import (
	"context"
	"errors"
)

// FeatureExtension is one feature code of a tenant.
type FeatureExtension struct {
	ID         int64
	TenantUUID string
	Feature    string // a recording.Feature
	Exten      string
	Enabled    bool
}

const featureColumns = `id, tenant_uuid, feature, exten, enabled`

func scanFeature(row interface{ Scan(...any) error }) (FeatureExtension, error) {
	var f FeatureExtension
	err := row.Scan(&f.ID, &f.TenantUUID, &f.Feature, &f.Exten, &f.Enabled)
	return f, err
}

// ListFeatureExtensions lists a tenant's feature extensions ("" tenant: all
// tenants), optionally only one feature.
func (s *Store) ListFeatureExtensions(ctx context.Context, tenant, feature string) ([]FeatureExtension, error) {
	return queryList(ctx, s.q, "list feature extensions", scanFeature, `SELECT `+featureColumns+` FROM feature_extensions
		WHERE (? = '' OR tenant_uuid = ?) AND (? = '' OR feature = ?) ORDER BY tenant_uuid, id`,
		tenant, tenant, feature, feature)
}

// GetFeatureExtension reads one feature extension of a tenant ("" = any tenant).
func (s *Store) GetFeatureExtension(ctx context.Context, tenant string, id int64) (FeatureExtension, error) {
	f, err := scanFeature(s.q.QueryRowContext(ctx, `SELECT `+featureColumns+` FROM feature_extensions
		WHERE id = ? AND (? = '' OR tenant_uuid = ?)`, id, tenant, tenant))
	if err != nil {
		return FeatureExtension{}, classify("get feature extension", err)
	}
	return f, nil
}

// UpdateFeatureExtension changes a feature extension's code and enabled flag.
func (s *Store) UpdateFeatureExtension(ctx context.Context, f FeatureExtension) (FeatureExtension, error) {
	res, err := s.q.ExecContext(ctx, `UPDATE feature_extensions SET exten = ?, enabled = ?
		WHERE id = ? AND tenant_uuid = ?`, f.Exten, f.Enabled, f.ID, f.TenantUUID)
	if err := checkAffected("update feature extension", res, err); err != nil {
		return FeatureExtension{}, err
	}
	return s.GetFeatureExtension(ctx, f.TenantUUID, f.ID)
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// IsNotFound reports whether err means the object does not exist (or is
// another tenant's).
func IsNotFound(err error) bool { return isNotFound(err) }
