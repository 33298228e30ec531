package api

import (
	"context"
	"net/http"
	"time"

	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
	"github.com/labstack/echo/v4"
)

// tenantJSON is a tenant's recording settings.
type tenantJSON struct {
	UUID                     string          `json:"uuid"`
	Name                     string          `json:"name"`
	AudioRecordingEnabled    bool            `json:"audio_recording_enabled"`
	VideoRecordingEnabled    bool            `json:"video_recording_enabled"`
	RecordExternalToExternal bool            `json:"record_external_to_external"`
	Format                   string          `json:"format"`
	OnlineRecordMode         string          `json:"online_record_mode"`
	AnnounceRecording        bool            `json:"announce_recording"`
	DTMFTimeoutMS            int64           `json:"dtmf_timeout_ms"`
	Retention                store.Retention `json:"retention"`
	Timezone                 string          `json:"timezone"`
	CreatedAt                string          `json:"created_at"`
	UpdatedAt                string          `json:"updated_at"`
}

func renderTenant(t store.Tenant) tenantJSON {
	return tenantJSON{UUID: t.UUID, Name: t.Name, AudioRecordingEnabled: t.AudioRecordingEnabled,
		VideoRecordingEnabled: t.VideoRecordingEnabled, RecordExternalToExternal: t.RecordExternalToExternal,
		Format: t.Format, OnlineRecordMode: t.OnlineRecordMode, AnnounceRecording: t.AnnounceRecording,
		DTMFTimeoutMS: t.DTMFTimeout.Milliseconds(), Retention: t.Retention, Timezone: t.Timezone,
		CreatedAt: ts(t.CreatedAt), UpdatedAt: ts(t.UpdatedAt)}
}

type tenantInput struct {
	UUID                     *string          `json:"uuid"`
	Name                     *string          `json:"name"`
	AudioRecordingEnabled    *bool            `json:"audio_recording_enabled"`
	VideoRecordingEnabled    *bool            `json:"video_recording_enabled"`
	RecordExternalToExternal *bool            `json:"record_external_to_external"`
	Format                   *string          `json:"format"`
	OnlineRecordMode         *string          `json:"online_record_mode"`
	AnnounceRecording        *bool            `json:"announce_recording"`
	DTMFTimeoutMS            *int64           `json:"dtmf_timeout_ms"`
	Retention                *store.Retention `json:"retention"`
	Timezone                 *string          `json:"timezone"`
	CreatedAt                *string          `json:"created_at"` // read-only, ignored
	UpdatedAt                *string          `json:"updated_at"` // read-only, ignored
}

func (in tenantInput) apply(t *store.Tenant) error {
	if in.UUID != nil && *in.UUID != t.UUID {
		return errInvalid("uuid", "read-only; does not match")
	}
	if in.Name != nil {
		if *in.Name == "" {
			return errInvalid("name", "required")
		}
		if err := setStr(&t.Name, in.Name, "name", 128); err != nil {
			return err
		}
	}
	setBool(&t.AudioRecordingEnabled, in.AudioRecordingEnabled)
	setBool(&t.VideoRecordingEnabled, in.VideoRecordingEnabled)
	setBool(&t.RecordExternalToExternal, in.RecordExternalToExternal)
	setBool(&t.AnnounceRecording, in.AnnounceRecording)
	if in.Format != nil {
		if !recording.Format(*in.Format).Valid() {
			return errInvalid("format", "wav, mp3 or amr")
		}
		t.Format = *in.Format
	}
	if in.OnlineRecordMode != nil {
		if !recording.OnlineRecordMode(*in.OnlineRecordMode).Valid() {
			return errInvalid("online_record_mode", "pause or stop")
		}
		t.OnlineRecordMode = *in.OnlineRecordMode
	}
	if in.DTMFTimeoutMS != nil {
		if *in.DTMFTimeoutMS < 100 || *in.DTMFTimeoutMS > 60000 {
			return errInvalid("dtmf_timeout_ms", "100 to 60000")
		}
		t.DTMFTimeout = time.Duration(*in.DTMFTimeoutMS) * time.Millisecond
	}
	if in.Retention != nil {
		if err := checkRetention(*in.Retention); err != nil {
			return err
		}
		t.Retention = *in.Retention
	}
	if in.Timezone != nil {
		if _, err := time.LoadLocation(*in.Timezone); err != nil || *in.Timezone == "" || len(*in.Timezone) > 64 {
			return errInvalid("timezone", "an IANA time zone name")
		}
		t.Timezone = *in.Timezone
	}
	return nil
}

func checkRetention(r store.Retention) error {
	for _, f := range []struct {
		name string
		v    *int
	}{{"cdr_days", r.CDRDays}, {"recording_days", r.RecordingDays}, {"export_days", r.ExportDays}} {
		if f.v != nil && (*f.v < 1 || *f.v > 36500) {
			return errInvalid(f.name, "1 to 36500 days, or null to keep forever")
		}
	}
	if r.CDRDays != nil && r.RecordingDays != nil && *r.RecordingDays > *r.CDRDays {
		return errInvalid("recording_days", "cannot exceed cdr_days")
	}
	return nil
}

func (s *server) listTenants(c echo.Context) error {
	p := getPrincipal(c)
	var out []tenantJSON
	if p.tenant != "" {
		t, err := s.store.GetTenant(c.Request().Context(), p.tenant)
		if err != nil {
			return fromStore("tenant", err)
		}
		out = append(out, renderTenant(t))
	} else {
		ts, err := s.store.ListTenants(c.Request().Context())
		if err != nil {
			return err
		}
		for _, t := range ts {
			out = append(out, renderTenant(t))
		}
	}
	return renderList(c, out, len(out))
}

func (s *server) createTenant(c echo.Context) error {
	var in tenantInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if in.UUID == nil || in.Name == nil {
		return errInvalid("uuid", "uuid and name are required")
	}
	id, err := parseUUID("uuid", *in.UUID)
	if err != nil {
		return err
	}
	in.UUID = &id
	t := store.NewTenant(id, "")
	if err := in.apply(&t); err != nil {
		return err
	}
	created, err := s.store.CreateTenant(c.Request().Context(), t, nil)
	if err != nil {
		return fromStore("tenant", err)
	}
	if err := s.audit(c, id, "tenant.create", "tenant", id, nil); err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, renderTenant(created))
}

// loadTenant reads the path's tenant if the caller may see it.
func (s *server) loadTenant(c echo.Context) (store.Tenant, error) {
	id, err := pathUUID(c, "tenant_uuid")
	if err != nil {
		return store.Tenant{}, err
	}
	if p := getPrincipal(c); p.tenant != "" && p.tenant != id {
		return store.Tenant{}, errNotFound("tenant", "tenant not found")
	}
	t, err := s.store.GetTenant(c.Request().Context(), id)
	return t, fromStore("tenant", err)
}

func (s *server) getTenant(c echo.Context) error {
	t, err := s.loadTenant(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, renderTenant(t))
}

func (s *server) putTenant(c echo.Context) error {
	t, err := s.loadTenant(c)
	if err != nil {
		return err
	}
	var in tenantInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if err := in.apply(&t); err != nil {
		return err
	}
	updated, err := s.store.UpdateTenant(c.Request().Context(), t)
	if err != nil {
		return fromStore("tenant", err)
	}
	if err := s.audit(c, t.UUID, "tenant.update", "tenant", t.UUID, nil); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, renderTenant(updated))
}

type retentionJSON struct {
	TenantUUID    string `json:"tenant_uuid"`
	CDRDays       *int   `json:"cdr_days"`
	RecordingDays *int   `json:"recording_days"`
	ExportDays    *int   `json:"export_days"`
}

func (s *server) getRetention(c echo.Context) error {
	tenant, err := getPrincipal(c).needTenant()
	if err != nil {
		return err
	}
	t, err := s.store.GetTenant(c.Request().Context(), tenant)
	if err != nil {
		return fromStore("tenant", err)
	}
	return c.JSON(http.StatusOK, retentionJSON{TenantUUID: t.UUID, CDRDays: t.Retention.CDRDays,
		RecordingDays: t.Retention.RecordingDays, ExportDays: t.Retention.ExportDays})
}

// putRetention replaces the retention, as Wazo does: a field left out or
// null keeps that data forever.
func (s *server) putRetention(c echo.Context) error {
	tenant, err := getPrincipal(c).needTenant()
	if err != nil {
		return err
	}
	var in struct {
		TenantUUID    *string `json:"tenant_uuid"`
		CDRDays       *int    `json:"cdr_days"`
		RecordingDays *int    `json:"recording_days"`
		ExportDays    *int    `json:"export_days"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if in.TenantUUID != nil && *in.TenantUUID != tenant {
		return errInvalid("tenant_uuid", "read-only; does not match")
	}
	r := store.Retention{CDRDays: in.CDRDays, RecordingDays: in.RecordingDays, ExportDays: in.ExportDays}
	if err := checkRetention(r); err != nil {
		return err
	}
	if err := s.store.SetRetention(c.Request().Context(), tenant, r); err != nil {
		return fromStore("tenant", err)
	}
	if err := s.audit(c, tenant, "retention.update", "tenant", tenant, map[string]any{
		"cdr_days": r.CDRDays, "recording_days": r.RecordingDays, "export_days": r.ExportDays}); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type tokenJSON struct {
	ID          string  `json:"id"`
	Role        string  `json:"role"`
	TenantUUID  *string `json:"tenant_uuid"`
	UserUUID    *string `json:"user_uuid"`
	Description string  `json:"description"`
	CreatedAt   string  `json:"created_at"`
	LastUsedAt  *string `json:"last_used_at"`
	RevokedAt   *string `json:"revoked_at"`
	Token       string  `json:"token,omitempty"` // only in the creation answer
}

func renderToken(t store.Token) tokenJSON {
	return tokenJSON{ID: t.ID, Role: t.Role, TenantUUID: strPtr(t.TenantUUID), UserUUID: strPtr(t.UserUUID),
		Description: t.Description, CreatedAt: ts(t.CreatedAt), LastUsedAt: tsPtr(t.LastUsedAt), RevokedAt: tsPtr(t.RevokedAt)}
}

func (s *server) listTokens(c echo.Context) error {
	toks, err := s.store.ListTokens(c.Request().Context(), getPrincipal(c).tenant)
	if err != nil {
		return err
	}
	out := make([]tokenJSON, len(toks))
	for i, t := range toks {
		out[i] = renderToken(t)
	}
	return renderList(c, out, len(out))
}

// createToken makes a token. Admins make admin and user tokens of their own
// tenant; only a system token makes system tokens.
func (s *server) createToken(c echo.Context) error {
	p := getPrincipal(c)
	var in struct {
		Role        string  `json:"role"`
		UserUUID    *string `json:"user_uuid"`
		Description string  `json:"description"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if err := checkLen("description", in.Description, 256); err != nil {
		return err
	}
	t := store.Token{Role: in.Role, Description: in.Description}
	switch in.Role {
	case store.RoleSystem:
		if p.token.Role != store.RoleSystem {
			return errForbidden("only a system token may create system tokens")
		}
		if in.UserUUID != nil {
			return errInvalid("user_uuid", "only for user tokens")
		}
	case store.RoleAdmin, store.RoleUser:
		tenant, err := p.needTenant()
		if err != nil {
			return err
		}
		t.TenantUUID = tenant
		if in.Role == store.RoleUser {
			if in.UserUUID == nil {
				return errInvalid("user_uuid", "required for a user token")
			}
			id, err := parseUUID("user_uuid", *in.UserUUID)
			if err != nil {
				return err
			}
			if _, err := s.store.GetUser(c.Request().Context(), tenant, id); err != nil {
				return fromStore("user", err)
			}
			t.UserUUID = id
		} else if in.UserUUID != nil {
			return errInvalid("user_uuid", "only for user tokens")
		}
	default:
		return errInvalid("role", "system, admin or user")
	}
	created, plain, err := s.store.CreateToken(c.Request().Context(), t)
	if err != nil {
		return fromStore("token", err)
	}
	if err := s.audit(c, t.TenantUUID, "token.create", "token", created.ID, map[string]any{"new_role": t.Role}); err != nil {
		return err
	}
	out := renderToken(created)
	out.Token = plain
	return c.JSON(http.StatusCreated, out)
}

func (s *server) revokeToken(c echo.Context) error {
	id := c.Param("token_id")
	if len(id) != 12 {
		return errInvalid("token_id", "a 12-character token id")
	}
	for _, r := range id {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
			return errInvalid("token_id", "a 12-character token id")
		}
	}
	p := getPrincipal(c)
	if err := s.store.RevokeToken(c.Request().Context(), p.tenant, id); err != nil {
		return fromStore("token", err)
	}
	if err := s.audit(c, p.tenant, "token.revoke", "token", id, nil); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type auditJSON struct {
	ID         int64          `json:"id"`
	At         string         `json:"at"`
	TenantUUID *string        `json:"tenant_uuid"`
	Actor      string         `json:"actor"`
	Action     string         `json:"action"`
	ObjectType string         `json:"object_type"`
	ObjectID   string         `json:"object_id"`
	RemoteAddr string         `json:"remote_addr"`
	Details    map[string]any `json:"details"`
}

func (s *server) listAudit(c echo.Context) error {
	page, err := parsePage(c, defaultLimit)
	if err != nil {
		return err
	}
	since, err := parseTime("since", c.QueryParam("since"))
	if err != nil {
		return err
	}
	entries, err := s.store.ListAudit(c.Request().Context(), store.AuditFilter{Tenant: getPrincipal(c).tenant,
		Since: since, Page: page})
	if err != nil {
		return err
	}
	out := make([]auditJSON, len(entries))
	for i, e := range entries {
		out[i] = auditJSON{ID: e.ID, At: ts(e.At), TenantUUID: strPtr(e.TenantUUID), Actor: e.Actor, Action: e.Action,
			ObjectType: e.ObjectType, ObjectID: e.ObjectID, RemoteAddr: e.RemoteAddr, Details: e.Details}
	}
	return renderList(c, out, len(out))
}

func (s *server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]any{"status": "ok"})
}

func (s *server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{"database": "ok", "pbx": "connected"}
	status := http.StatusOK
	if err := s.store.Ping(ctx); err != nil {
		checks["database"], status = err.Error(), http.StatusServiceUnavailable
	}
	if s.ready != nil {
		if err := s.ready(); err != nil {
			checks["pbx"], status = err.Error(), http.StatusServiceUnavailable
		}
	}
	return c.JSON(status, map[string]any{"ready": status == http.StatusOK, "checks": checks})
}
