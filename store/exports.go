package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
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
	RequestedBy string // the actor (token:<id>, schedule:<uuid>, cli)
	UserUUID    string // the requesting user, "" for an admin or system token
	Query       json.RawMessage
	Email       string
	Status      string
	Path        string
	Size        int64
	Error       string
	CreatedAt   time.Time // Wazo's requested_at
	FinishedAt  *time.Time

	ScheduleUUID string
	// Destinations is {"webhook": url, "directory": path} as JSON.
	Destinations json.RawMessage
	FilesTotal   int
	FilesDone    int
	FilesMissing int
	BytesDone    int64
	Attempts     int
	StartedAt    *time.Time
	NotifyError  string
}

const exportColumns = `uuid, tenant_uuid, requested_by, query, email, status, path, size, error, created_at, finished_at,
	user_uuid, schedule_uuid, destinations, files_total, files_done, files_missing, bytes_done, attempts, started_at,
	notify_error`

func scanExport(row interface{ Scan(...any) error }) (ExportJob, error) {
	var j ExportJob
	var query, dest string
	var created int64
	var finished, started sql.NullInt64
	if err := row.Scan(&j.UUID, &j.TenantUUID, &j.RequestedBy, &query, &j.Email, &j.Status, &j.Path,
		&j.Size, &j.Error, &created, &finished, &j.UserUUID, &j.ScheduleUUID, &dest, &j.FilesTotal, &j.FilesDone,
		&j.FilesMissing, &j.BytesDone, &j.Attempts, &started, &j.NotifyError); err != nil {
		return ExportJob{}, err
	}
	j.Query, j.CreatedAt, j.FinishedAt = json.RawMessage(query), fromMicros(created), timePtr(finished)
	j.Destinations, j.StartedAt = json.RawMessage(dest), timePtr(started)
	return j, nil
}

func queryJSON(q json.RawMessage) string {
	if len(q) == 0 {
		return "{}"
	}
	return string(q)
}

// CreateExportJob inserts an export job (pending unless Status says
// otherwise; CreatedAt defaults to now).
func (s *Store) CreateExportJob(ctx context.Context, j ExportJob) (ExportJob, error) {
	if j.Status == "" {
		j.Status = ExportPending
	}
	if j.CreatedAt.IsZero() {
		j.CreatedAt = s.now()
	}
	j.CreatedAt = j.CreatedAt.UTC()
	_, err := s.q.ExecContext(ctx, `INSERT INTO export_jobs (`+exportColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		j.UUID, j.TenantUUID, j.RequestedBy, queryJSON(j.Query), j.Email, j.Status, j.Path, j.Size, j.Error,
		micros(j.CreatedAt), nullMicros(j.FinishedAt), j.UserUUID, j.ScheduleUUID, queryJSON(j.Destinations),
		j.FilesTotal, j.FilesDone, j.FilesMissing, j.BytesDone, j.Attempts, nullMicros(j.StartedAt), j.NotifyError)
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

// UpdateExportJob writes an export's state: status, file, size, error, end,
// progress, attempts and notification outcome.
func (s *Store) UpdateExportJob(ctx context.Context, j ExportJob) error {
	res, err := s.q.ExecContext(ctx, `UPDATE export_jobs SET status = ?, path = ?, size = ?, error = ?, finished_at = ?,
		files_total = ?, files_done = ?, files_missing = ?, bytes_done = ?, attempts = ?, started_at = ?, notify_error = ?
		WHERE uuid = ?`, j.Status, j.Path, j.Size, j.Error, nullMicros(j.FinishedAt), j.FilesTotal, j.FilesDone,
		j.FilesMissing, j.BytesDone, j.Attempts, nullMicros(j.StartedAt), j.NotifyError, j.UUID)
	return checkAffected("update export "+j.UUID, res, err)
}

// SetExportProgress writes a running export's counters only.
func (s *Store) SetExportProgress(ctx context.Context, uuid string, done, missing int, bytes int64) error {
	res, err := s.q.ExecContext(ctx, `UPDATE export_jobs SET files_done = ?, files_missing = ?, bytes_done = ?
		WHERE uuid = ?`, done, missing, bytes, uuid)
	return checkAffected("export progress "+uuid, res, err)
}

// ListExportJobs lists a tenant's export jobs, newest first ("" = all).
func (s *Store) ListExportJobs(ctx context.Context, tenant string, p Page) ([]ExportJob, error) {
	return queryList(ctx, s.q, "list exports", scanExport, `SELECT `+exportColumns+` FROM export_jobs WHERE (? = '' OR tenant_uuid = ?)
		ORDER BY created_at DESC, uuid LIMIT ? OFFSET ?`, tenant, tenant, limitArg(p.Limit), p.Offset)
}

// ListExportJobsByStatus lists every job in one of the statuses, oldest
// first (restart recovery, expiry).
func (s *Store) ListExportJobsByStatus(ctx context.Context, statuses ...string) ([]ExportJob, error) {
	args := make([]any, len(statuses))
	for i, st := range statuses {
		args[i] = st
	}
	return queryList(ctx, s.q, "list exports by status", scanExport, `SELECT `+exportColumns+` FROM export_jobs
		WHERE status IN (`+placeholders(len(statuses))+`) ORDER BY created_at, uuid`, args...)
}

// CreateExportDownloadToken keeps the hash of a token that downloads one
// export until expires.
func (s *Store) CreateExportDownloadToken(ctx context.Context, exportUUID, tenant, plain string, created, expires time.Time) error {
	_, err := s.q.ExecContext(ctx, `INSERT INTO export_download_tokens (hash, export_uuid, tenant_uuid, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?)`, HashToken(plain), exportUUID, tenant, micros(created), micros(expires))
	return classify("create export download token", err)
}

// ExportDownloadToken is what an e-mailed token allows.
type ExportDownloadToken struct {
	ExportUUID string
	TenantUUID string
	ExpiresAt  time.Time
}

// LookupExportDownloadToken finds an e-mailed token by its plain value
// (expired ones too: the caller compares ExpiresAt with its clock).
func (s *Store) LookupExportDownloadToken(ctx context.Context, plain string) (ExportDownloadToken, error) {
	var t ExportDownloadToken
	var exp int64
	err := s.r.QueryRowContext(ctx, `SELECT export_uuid, tenant_uuid, expires_at FROM export_download_tokens WHERE hash = ?`,
		HashToken(plain)).Scan(&t.ExportUUID, &t.TenantUUID, &exp)
	if err != nil {
		return ExportDownloadToken{}, classify("export download token", err)
	}
	t.ExpiresAt = fromMicros(exp)
	return t, nil
}

// Export schedule periods: which calls a run exports, relative to its time.
const (
	PeriodPreviousDay   = "previous_day"
	PeriodPreviousWeek  = "previous_week"
	PeriodPreviousMonth = "previous_month"
)

// Schedule sources.
const (
	ScheduleFromAPI    = "api"
	ScheduleFromConfig = "config"
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
	// LastRunAt is the fire time of the last run (not when it ran): the
	// next fire time follows it, so a run missed while down is found.
	LastRunAt *time.Time
	CreatedAt time.Time
	UpdatedAt time.Time

	Filters   json.RawMessage // the export's filters, as JSON
	Webhook   string
	Directory string
	Source    string // ScheduleFromAPI or ScheduleFromConfig
}

const scheduleColumns = `uuid, tenant_uuid, name, cron, period, email, enabled, last_run_at, created_at, updated_at,
	filters, webhook, directory, source`

func scanSchedule(row interface{ Scan(...any) error }) (ExportSchedule, error) {
	var sc ExportSchedule
	var last sql.NullInt64
	var created, updated int64
	var filters string
	if err := row.Scan(&sc.UUID, &sc.TenantUUID, &sc.Name, &sc.Cron, &sc.Period, &sc.Email, &sc.Enabled,
		&last, &created, &updated, &filters, &sc.Webhook, &sc.Directory, &sc.Source); err != nil {
		return ExportSchedule{}, err
	}
	sc.LastRunAt, sc.CreatedAt, sc.UpdatedAt = timePtr(last), fromMicros(created), fromMicros(updated)
	sc.Filters = json.RawMessage(filters)
	return sc, nil
}

// CreateExportSchedule inserts a schedule. The cron expression is validated
// by the caller (export owns the parser). CreatedAt defaults to now.
func (s *Store) CreateExportSchedule(ctx context.Context, sc ExportSchedule) (ExportSchedule, error) {
	if sc.CreatedAt.IsZero() {
		sc.CreatedAt = s.now()
	}
	if sc.Source == "" {
		sc.Source = ScheduleFromAPI
	}
	_, err := s.q.ExecContext(ctx, `INSERT INTO export_schedules (`+scheduleColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		sc.UUID, sc.TenantUUID, sc.Name, sc.Cron, sc.Period, sc.Email, sc.Enabled, nullMicros(sc.LastRunAt),
		micros(sc.CreatedAt), micros(sc.CreatedAt), queryJSON(sc.Filters), sc.Webhook, sc.Directory, sc.Source)
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
		enabled = ?, last_run_at = ?, updated_at = ?, filters = ?, webhook = ?, directory = ? WHERE uuid = ? AND tenant_uuid = ?`,
		sc.Name, sc.Cron, sc.Period, sc.Email, sc.Enabled, nullMicros(sc.LastRunAt), micros(s.now()),
		queryJSON(sc.Filters), sc.Webhook, sc.Directory, sc.UUID, sc.TenantUUID)
	if err := checkAffected("update export schedule "+sc.UUID, res, err); err != nil {
		return ExportSchedule{}, err
	}
	return s.GetExportSchedule(ctx, sc.TenantUUID, sc.UUID)
}

// SetScheduleLastRun moves a schedule's last fire time forward, only if it
// is still prev: two runners racing for one fire time cannot both win.
func (s *Store) SetScheduleLastRun(ctx context.Context, uuid string, prev *time.Time, at time.Time) error {
	res, err := s.q.ExecContext(ctx, `UPDATE export_schedules SET last_run_at = ? WHERE uuid = ?
		AND coalesce(last_run_at, -1) = coalesce(?, -1)`, micros(at), uuid, nullMicros(prev))
	return checkAffected("schedule last run "+uuid, res, err)
}

// DeleteExportSchedule removes a schedule.
func (s *Store) DeleteExportSchedule(ctx context.Context, tenant, uuid string) error {
	res, err := s.q.ExecContext(ctx, `DELETE FROM export_schedules WHERE uuid = ? AND (? = '' OR tenant_uuid = ?)`,
		uuid, tenant, tenant)
	return checkAffected("delete export schedule "+uuid, res, err)
}

// SyncConfigSchedules makes the schedules declared in the configuration
// (source config) exactly want: new ones are created (now as their start,
// so nothing before is caught up), changed ones updated keeping their last
// run, and ones no longer declared removed. Matched by tenant and name.
func (s *Store) SyncConfigSchedules(ctx context.Context, want []ExportSchedule, now time.Time) error {
	return s.InTx(ctx, func(tx *Store) error {
		have, err := tx.ListExportSchedules(ctx, "")
		if err != nil {
			return err
		}
		byKey := map[string]ExportSchedule{}
		for _, sc := range have {
			if sc.Source == ScheduleFromConfig {
				byKey[sc.TenantUUID+"/"+sc.Name] = sc
			}
		}
		for _, w := range want {
			w.Source = ScheduleFromConfig
			key := w.TenantUUID + "/" + w.Name
			old, ok := byKey[key]
			delete(byKey, key)
			if !ok {
				w.CreatedAt = now
				if _, err := tx.CreateExportSchedule(ctx, w); err != nil {
					return err
				}
				continue
			}
			w.UUID, w.LastRunAt = old.UUID, old.LastRunAt
			if old.Cron != w.Cron || old.Period != w.Period || old.Email != w.Email || old.Enabled != w.Enabled ||
				old.Webhook != w.Webhook || old.Directory != w.Directory || !sameJSON(old.Filters, w.Filters) {
				if _, err := tx.UpdateExportSchedule(ctx, w); err != nil {
					return err
				}
			}
		}
		for _, gone := range byKey {
			if err := tx.DeleteExportSchedule(ctx, gone.TenantUUID, gone.UUID); err != nil {
				return err
			}
		}
		return nil
	})
}

func sameJSON(a, b json.RawMessage) bool {
	return strings.TrimSpace(queryJSON(a)) == strings.TrimSpace(queryJSON(b))
}
