package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/callrecd/callrecd/recording"
)

// Retention in days; nil keeps forever.
type Retention struct {
	CDRDays       *int `json:"cdr_days"`
	RecordingDays *int `json:"recording_days"`
	ExportDays    *int `json:"export_days"`
}

// Tenant holds a tenant's recording settings.
type Tenant struct {
	UUID                     string
	Name                     string
	AudioRecordingEnabled    bool
	VideoRecordingEnabled    bool
	RecordExternalToExternal bool
	Format                   string // a recording.Format
	OnlineRecordMode         string
	AnnounceRecording        bool
	DTMFTimeout              time.Duration
	Retention                Retention
	Timezone                 string
	CreatedAt                time.Time
	UpdatedAt                time.Time
}

// NewTenant returns a tenant with the product's defaults: audio recording
// on, external-to-external recording off (stop), WAV, *3 pauses, 3 s DTMF
// inter-digit timeout, UTC.
func NewTenant(uuid, name string) Tenant {
	return Tenant{
		UUID:                  uuid,
		Name:                  name,
		AudioRecordingEnabled: true,
		Format:                string(recording.WAV),
		OnlineRecordMode:      string(recording.OnlineRecordPause),
		DTMFTimeout:           3 * time.Second,
		Timezone:              "UTC",
	}
}

const tenantColumns = `uuid, name, audio_recording_enabled, video_recording_enabled,
	record_external_to_external, format, online_record_mode, announce_recording, dtmf_timeout_ms,
	cdr_days, recording_days, export_days, timezone, created_at, updated_at`

func scanTenant(row interface{ Scan(...any) error }) (Tenant, error) {
	var t Tenant
	var dtmfMS int64
	var cdr, rec, exp sql.NullInt64
	var created, updated int64
	err := row.Scan(&t.UUID, &t.Name, &t.AudioRecordingEnabled, &t.VideoRecordingEnabled,
		&t.RecordExternalToExternal, &t.Format, &t.OnlineRecordMode, &t.AnnounceRecording, &dtmfMS,
		&cdr, &rec, &exp, &t.Timezone, &created, &updated)
	if err != nil {
		return Tenant{}, err
	}
	t.DTMFTimeout = time.Duration(dtmfMS) * time.Millisecond
	t.Retention = Retention{CDRDays: intPtr(cdr), RecordingDays: intPtr(rec), ExportDays: intPtr(exp)}
	t.CreatedAt, t.UpdatedAt = fromMicros(created), fromMicros(updated)
	return t, nil
}

// CreateTenant inserts a tenant and its feature extensions (codes maps a
// feature name to its extension; missing features get recording.DefaultCode).
func (s *Store) CreateTenant(ctx context.Context, t Tenant, codes map[string]string) (Tenant, error) {
	if err := validateTimezone(t.Timezone); err != nil {
		return Tenant{}, err
	}
	now := s.now()
	t.CreatedAt, t.UpdatedAt = now.UTC(), now.UTC()
	err := s.tx(ctx, func(tx querier) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO tenants (`+tenantColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			t.UUID, t.Name, t.AudioRecordingEnabled, t.VideoRecordingEnabled,
			t.RecordExternalToExternal, t.Format, t.OnlineRecordMode, t.AnnounceRecording, t.DTMFTimeout.Milliseconds(),
			nullInt(t.Retention.CDRDays), nullInt(t.Retention.RecordingDays), nullInt(t.Retention.ExportDays),
			t.Timezone, micros(now), micros(now))
		if err != nil {
			return err
		}
		for _, f := range recording.Features() {
			exten := codes[string(f)]
			if exten == "" {
				exten = recording.DefaultCode(f)
			}
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO feature_extensions (tenant_uuid, feature, exten, enabled) VALUES (?, ?, ?, 1)`,
				t.UUID, string(f), exten); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Tenant{}, classify("create tenant "+t.UUID, err)
	}
	return t, nil
}

// EnsureTenant creates the tenant with defaults if it does not exist yet and
// leaves an existing one untouched. It reports whether it created it.
func (s *Store) EnsureTenant(ctx context.Context, uuid, name string, codes map[string]string) (bool, error) {
	if _, err := s.GetTenant(ctx, uuid); err == nil {
		return false, nil
	} else if !isNotFound(err) {
		return false, err
	}
	if _, err := s.CreateTenant(ctx, NewTenant(uuid, name), codes); err != nil {
		return false, err
	}
	return true, nil
}

// GetTenant reads one tenant.
func (s *Store) GetTenant(ctx context.Context, uuid string) (Tenant, error) {
	t, err := scanTenant(s.q.QueryRowContext(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE uuid = ?`, uuid))
	if err != nil {
		return Tenant{}, classify("get tenant "+uuid, err)
	}
	return t, nil
}

// ListTenants lists every tenant by name.
func (s *Store) ListTenants(ctx context.Context) ([]Tenant, error) {
	return queryList(ctx, s.q, "list tenants", scanTenant, `SELECT `+tenantColumns+` FROM tenants ORDER BY name, uuid`)
}

// UpdateTenant replaces a tenant's settings (not its uuid or creation time).
func (s *Store) UpdateTenant(ctx context.Context, t Tenant) (Tenant, error) {
	if err := validateTimezone(t.Timezone); err != nil {
		return Tenant{}, err
	}
	now := s.now()
	res, err := s.q.ExecContext(ctx, `UPDATE tenants SET name = ?, audio_recording_enabled = ?,
		video_recording_enabled = ?, record_external_to_external = ?, format = ?, online_record_mode = ?,
		announce_recording = ?, dtmf_timeout_ms = ?, cdr_days = ?, recording_days = ?, export_days = ?,
		timezone = ?, updated_at = ? WHERE uuid = ?`,
		t.Name, t.AudioRecordingEnabled, t.VideoRecordingEnabled, t.RecordExternalToExternal, t.Format,
		t.OnlineRecordMode, t.AnnounceRecording, t.DTMFTimeout.Milliseconds(),
		nullInt(t.Retention.CDRDays), nullInt(t.Retention.RecordingDays), nullInt(t.Retention.ExportDays),
		t.Timezone, micros(now), t.UUID)
	if err := checkAffected("update tenant "+t.UUID, res, err); err != nil {
		return Tenant{}, err
	}
	return s.GetTenant(ctx, t.UUID)
}

func validateTimezone(tz string) error {
	if _, err := time.LoadLocation(tz); err != nil || tz == "" {
		return fmt.Errorf("%w: unknown timezone %q", ErrInvalid, tz)
	}
	return nil
}
