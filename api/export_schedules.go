package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/callrecd/callrecd/export"
	"github.com/callrecd/callrecd/store"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
)

// scheduleJSON is an export schedule over /api/callrecd/1.0/export-schedules.
type scheduleJSON struct {
	UUID       string                `json:"uuid"`
	TenantUUID string                `json:"tenant_uuid"`
	Name       string                `json:"name"`
	Cron       string                `json:"cron"`
	Window     string                `json:"window"`
	Filters    export.ScheduleFilter `json:"filters"`
	Email      string                `json:"email"`
	Webhook    string                `json:"webhook"`
	Directory  string                `json:"directory"`
	Enabled    bool                  `json:"enabled"`
	Source     string                `json:"source"`
	LastRunAt  *string               `json:"last_run_at"`
	NextRunAt  *string               `json:"next_run_at"`
	CreatedAt  string                `json:"created_at"`
	UpdatedAt  string                `json:"updated_at"`
}

// scheduleIn is what POST and PUT take: the whole schedule.
type scheduleIn struct {
	Name      string                `json:"name"`
	Cron      string                `json:"cron"`
	Window    string                `json:"window"`
	Filters   export.ScheduleFilter `json:"filters"`
	Email     string                `json:"email"`
	Webhook   string                `json:"webhook"`
	Directory string                `json:"directory"`
	Enabled   *bool                 `json:"enabled"` // nil: true
}

func (s *server) renderSchedule(c echo.Context, sc store.ExportSchedule) scheduleJSON {
	f, _ := parseFilters(sc)
	out := scheduleJSON{UUID: sc.UUID, TenantUUID: sc.TenantUUID, Name: sc.Name, Cron: sc.Cron, Window: sc.Period,
		Filters: f, Email: sc.Email, Webhook: sc.Webhook, Directory: sc.Directory, Enabled: sc.Enabled,
		Source: sc.Source, LastRunAt: tsPtr(sc.LastRunAt), CreatedAt: ts(sc.CreatedAt), UpdatedAt: ts(sc.UpdatedAt)}
	if s.exports != nil && sc.Enabled {
		if n, ok := s.exports.NextRun(c.Request().Context(), sc); ok {
			out.NextRunAt = tsPtr(&n)
		}
	}
	return out
}

func parseFilters(sc store.ExportSchedule) (export.ScheduleFilter, error) {
	var f export.ScheduleFilter
	if len(sc.Filters) == 0 {
		return f, nil
	}
	err := json.Unmarshal(sc.Filters, &f)
	return f, err
}

// scheduleFromBody reads and validates a schedule, naming the bad field.
func scheduleFromBody(c echo.Context, sc store.ExportSchedule) (store.ExportSchedule, error) {
	var in scheduleIn
	if err := decodeJSON(c, &in); err != nil {
		return sc, err
	}
	sc.Name, sc.Cron, sc.Period, sc.Email = in.Name, in.Cron, in.Window, in.Email
	sc.Webhook, sc.Directory, sc.Filters = in.Webhook, in.Directory, in.Filters.JSON()
	sc.Enabled = in.Enabled == nil || *in.Enabled
	if err := export.ValidateSchedule(sc); err != nil {
		var fe *export.FieldError
		if errors.As(err, &fe) {
			return sc, errInvalid(fe.Field, fe.Problem)
		}
		return sc, err
	}
	return sc, nil
}

func (s *server) loadSchedule(c echo.Context) (store.ExportSchedule, error) {
	id, err := pathUUID(c, "schedule_uuid")
	if err != nil {
		return store.ExportSchedule{}, err
	}
	sc, err := s.store.GetExportSchedule(c.Request().Context(), getPrincipal(c).tenant, id)
	return sc, fromStore("export schedule", err)
}

func (s *server) listSchedules(c echo.Context) error {
	scs, err := s.store.ListExportSchedules(c.Request().Context(), getPrincipal(c).tenant)
	if err != nil {
		return err
	}
	out := make([]scheduleJSON, len(scs))
	for i, sc := range scs {
		out[i] = s.renderSchedule(c, sc)
	}
	return renderList(c, out, len(out))
}

func (s *server) getSchedule(c echo.Context) error {
	sc, err := s.loadSchedule(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.renderSchedule(c, sc))
}

func (s *server) createSchedule(c echo.Context) error {
	tenant, err := getPrincipal(c).needTenant()
	if err != nil {
		return err
	}
	sc, err := scheduleFromBody(c, store.ExportSchedule{UUID: uuid.NewString(), TenantUUID: tenant,
		Source: store.ScheduleFromAPI, CreatedAt: s.now()})
	if err != nil {
		return err
	}
	if sc, err = s.store.CreateExportSchedule(c.Request().Context(), sc); err != nil {
		return fromStore("export schedule", err)
	}
	if err := s.audit(c, tenant, "export_schedule.create", "export_schedule", sc.UUID,
		map[string]any{"name": sc.Name, "cron": sc.Cron, "window": sc.Period}); err != nil {
		return err
	}
	s.schedulesChanged()
	return c.JSON(http.StatusCreated, s.renderSchedule(c, sc))
}

// readOnly refuses changes to a schedule the configuration file declares:
// the next start would silently undo them.
func readOnly(sc store.ExportSchedule) error {
	if sc.Source == store.ScheduleFromConfig {
		return newError(http.StatusConflict, "schedule-from-config",
			"this schedule is declared in the configuration file (exports.schedules); change it there",
			map[string]any{"schedule_uuid": sc.UUID, "name": sc.Name})
	}
	return nil
}

func (s *server) putSchedule(c echo.Context) error {
	old, err := s.loadSchedule(c)
	if err != nil {
		return err
	}
	if err := readOnly(old); err != nil {
		return err
	}
	sc, err := scheduleFromBody(c, old)
	if err != nil {
		return err
	}
	if sc, err = s.store.UpdateExportSchedule(c.Request().Context(), sc); err != nil {
		return fromStore("export schedule", err)
	}
	if err := s.audit(c, sc.TenantUUID, "export_schedule.update", "export_schedule", sc.UUID,
		map[string]any{"name": sc.Name, "cron": sc.Cron, "window": sc.Period, "enabled": sc.Enabled}); err != nil {
		return err
	}
	s.schedulesChanged()
	return c.JSON(http.StatusOK, s.renderSchedule(c, sc))
}

func (s *server) deleteSchedule(c echo.Context) error {
	sc, err := s.loadSchedule(c)
	if err != nil {
		return err
	}
	if err := readOnly(sc); err != nil {
		return err
	}
	if err := s.store.DeleteExportSchedule(c.Request().Context(), sc.TenantUUID, sc.UUID); err != nil {
		return fromStore("export schedule", err)
	}
	if err := s.audit(c, sc.TenantUUID, "export_schedule.delete", "export_schedule", sc.UUID,
		map[string]any{"name": sc.Name}); err != nil {
		return err
	}
	s.schedulesChanged()
	return c.NoContent(http.StatusNoContent)
}

func (s *server) schedulesChanged() {
	if s.exports != nil {
		s.exports.SchedulesChanged()
	}
}
