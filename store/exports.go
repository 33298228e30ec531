package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"
)

// Export job statuses (Wazo call-logd's).
const (
	ExportPending    = "pending"
	ExportProcessing = "processing"
	ExportFinished   = "finished"
	ExportError      = "error"
	ExportDeleted    = "deleted"
)

// ExportJob is one bulk export of recordings into a zip.
type ExportJob struct {
	UUID        string
	TenantUUID  string
	RequestedBy string
	Query       json.RawMessage
	Email       string
	Status      string
	Path        string
	Size        int64
	Error       string
	CreatedAt   time.Time
	FinishedAt  *time.Time
}

const exportColumns = `uuid, tenant_uuid, requested_by, query, email, status, path, size, error, created_at, finished_at`

func scanExport(row interface{ Scan(...any) error }) (ExportJob, error) {
	var j ExportJob
	var query string
	var created int64
	var finished sql.NullInt64
	if err := row.Scan(&j.UUID, &j.TenantUUID, &j.RequestedBy, &query, &j.Email, &j.Status, &j.Path,
		&j.Size, &j.Error, &created, &finished); err != nil {
		return ExportJob{}, err
	}
	j.Query, j.CreatedAt, j.FinishedAt = json.RawMessage(query), fromMicros(created), timePtr(finished)
	return j, nil
}

func queryJSON(q json.RawMessage) string {
	if len(q) == 0 {
		return "{}"
	}
	return string(q)
}

// CreateExportJob inserts a pending export job.
func (s *Store) CreateExportJob(ctx context.Context, j ExportJob) (ExportJob, error) {
	if j.Status == "" {
		j.Status = ExportPending
	}
	j.CreatedAt = s.now().UTC()
	_, err := s.q.ExecContext(ctx, `INSERT INTO export_jobs (`+exportColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		j.UUID, j.TenantUUID, j.RequestedBy, queryJSON(j.Query), j.Email, j.Status, j.Path, j.Size, j.Error,
		micros(j.CreatedAt), nullMicros(j.FinishedAt))
	if err != nil {
		return ExportJob{}, classify("create export "+j.UUID, err)
	}
	return s.GetExportJob(ctx, j.TenantUUID, j.UUID)
}

// GetExportJob reads one export job ("" tenant: any tenant).
func (s *Store) GetExportJob(ctx context.Context, tenant, uuid string) (ExportJob, error) {
	j, err := scanExport(s.q.QueryRowContext(ctx, `SELECT `+exportColumns+` FROM export_jobs
		WHERE uuid = ? AND (? = '' OR tenant_uuid = ?)`, uuid, tenant, tenant))
	if err != nil {
		return ExportJob{}, classify("get export "+uuid, err)
	}
	return j, nil
}

// UpdateExportJob writes an export's progress: status, file, size, error, end.
func (s *Store) UpdateExportJob(ctx context.Context, j ExportJob) error {
	res, err := s.q.ExecContext(ctx, `UPDATE export_jobs SET status = ?, path = ?, size = ?, error = ?, finished_at = ?
		WHERE uuid = ?`, j.Status, j.Path, j.Size, j.Error, nullMicros(j.FinishedAt), j.UUID)
	return checkAffected("update export "+j.UUID, res, err)
}

// ListExportJobs lists a tenant's export jobs, newest first ("" = all).
func (s *Store) ListExportJobs(ctx context.Context, tenant string, p Page) ([]ExportJob, error) {
	return queryList(ctx, s.q, "list exports", scanExport, `SELECT `+exportColumns+` FROM export_jobs WHERE (? = '' OR tenant_uuid = ?)
		ORDER BY created_at DESC, uuid LIMIT ? OFFSET ?`, tenant, tenant, limitArg(p.Limit), p.Offset)
}

// Export schedule periods: which calls a run exports, relative to its time.
const (
	PeriodPreviousDay   = "previous_day"
	PeriodPreviousWeek  = "previous_week"
	PeriodPreviousMonth = "previous_month"
)

// ExportSchedule is a cron-driven recurring export.
type ExportSchedule struct {
	UUID       string
	TenantUUID string
	Name       string
	Cron       string
	Period     string
	Email      string
	Enabled    bool
	LastRunAt  *time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

const scheduleColumns = `uuid, tenant_uuid, name, cron, period, email, enabled, last_run_at, created_at, updated_at`

func scanSchedule(row interface{ Scan(...any) error }) (ExportSchedule, error) {
	var sc ExportSchedule
	var last sql.NullInt64
	var created, updated int64
	if err := row.Scan(&sc.UUID, &sc.TenantUUID, &sc.Name, &sc.Cron, &sc.Period, &sc.Email, &sc.Enabled,
		&last, &created, &updated); err != nil {
		return ExportSchedule{}, err
	}
	sc.LastRunAt, sc.CreatedAt, sc.UpdatedAt = timePtr(last), fromMicros(created), fromMicros(updated)
	return sc, nil
}

// CreateExportSchedule inserts a schedule. The cron expression is validated
// by the caller (export owns the parser).
func (s *Store) CreateExportSchedule(ctx context.Context, sc ExportSchedule) (ExportSchedule, error) {
	now := micros(s.now())
	_, err := s.q.ExecContext(ctx, `INSERT INTO export_schedules (`+scheduleColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		sc.UUID, sc.TenantUUID, sc.Name, sc.Cron, sc.Period, sc.Email, sc.Enabled, nullMicros(sc.LastRunAt), now, now)
	if err != nil {
		return ExportSchedule{}, classify("create export schedule "+sc.Name, err)
	}
	return s.GetExportSchedule(ctx, sc.TenantUUID, sc.UUID)
}

// GetExportSchedule reads one schedule ("" tenant: any tenant).
func (s *Store) GetExportSchedule(ctx context.Context, tenant, uuid string) (ExportSchedule, error) {
	sc, err := scanSchedule(s.q.QueryRowContext(ctx, `SELECT `+scheduleColumns+` FROM export_schedules
		WHERE uuid = ? AND (? = '' OR tenant_uuid = ?)`, uuid, tenant, tenant))
	if err != nil {
		return ExportSchedule{}, classify("get export schedule "+uuid, err)
	}
	return sc, nil
}

// ListExportSchedules lists schedules by tenant and name ("" = all tenants).
func (s *Store) ListExportSchedules(ctx context.Context, tenant string) ([]ExportSchedule, error) {
	return queryList(ctx, s.q, "list export schedules", scanSchedule, `SELECT `+scheduleColumns+` FROM export_schedules
		WHERE (? = '' OR tenant_uuid = ?) ORDER BY tenant_uuid, name`, tenant, tenant)
}

// UpdateExportSchedule replaces a schedule's settings and last run time.
func (s *Store) UpdateExportSchedule(ctx context.Context, sc ExportSchedule) (ExportSchedule, error) {
	res, err := s.q.ExecContext(ctx, `UPDATE export_schedules SET name = ?, cron = ?, period = ?, email = ?,
		enabled = ?, last_run_at = ?, updated_at = ? WHERE uuid = ? AND tenant_uuid = ?`,
		sc.Name, sc.Cron, sc.Period, sc.Email, sc.Enabled, nullMicros(sc.LastRunAt), micros(s.now()),
		sc.UUID, sc.TenantUUID)
	if err := checkAffected("update export schedule "+sc.UUID, res, err); err != nil {
		return ExportSchedule{}, err
	}
	return s.GetExportSchedule(ctx, sc.TenantUUID, sc.UUID)
}

// DeleteExportSchedule removes a schedule.
func (s *Store) DeleteExportSchedule(ctx context.Context, tenant, uuid string) error {
	res, err := s.q.ExecContext(ctx, `DELETE FROM export_schedules WHERE uuid = ? AND (? = '' OR tenant_uuid = ?)`,
		uuid, tenant, tenant)
	return checkAffected("delete export schedule "+uuid, res, err)
}
