package export

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/callrecd/callrecd/store"
	"github.com/google/uuid"
)

// Config builds a Service.
type Config struct {
	Store *store.Store // required
	Root  string       // the recordings root, absolute (required)
	Dir   string       // where zips are kept until they expire (required)
	// Keep is how long a finished export stays downloadable unless the
	// tenant's retention export_days says otherwise (Wazo: 2 days).
	Keep time.Duration
	// Workers bounds jobs running at once; MaxPerTenant bounds them per
	// tenant, so one tenant's year of calls does not hold up the others.
	Workers      int
	MaxPerTenant int
	// Webhook, if set, is told of every export's end (a schedule may name
	// its own too).
	Webhook string
	// Mailer sends the "Your export is ready" e-mail; nil: exports asking
	// for one are refused.
	Mailer    Mailer
	PublicURL string // base of the e-mailed link, e.g. https://pbx.example.com
	// LinkTTL is how long an e-mailed link works (Wazo: 48 h).
	LinkTTL    time.Duration
	HTTPClient *http.Client // webhooks; nil: a client with a 10 s timeout
	Now        func() time.Time
	Logger     *slog.Logger
	// MaxAttempts: a job interrupted this many times by restarts is marked
	// error instead of being started again (0: 3).
	MaxAttempts int
	// OnDone, if set, is called after each job ends (tests, the CLI).
	OnDone func(store.ExportJob)
}

// Service runs export jobs.
type Service struct {
	cfg Config
	st  *store.Store
	log *slog.Logger
	now func() time.Time

	mu       sync.Mutex
	runCtx   context.Context // nil until Run: jobs queue up
	queue    []queued        // pending jobs, oldest first
	known    map[string]bool // queued or running: never queued twice
	running  map[string]int  // tenant → jobs running
	active   int
	wg       sync.WaitGroup
	schedule chan struct{} // wakes the scheduler (schedules changed)
	// beforeRun, if set, is called by a worker before it builds its job
	// (tests hold workers there).
	beforeRun func(id string)
}

type queued struct{ uuid, tenant string }

// New checks cfg and builds the service; nothing runs until Run.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("export: Config.Store is required")
	}
	if !filepath.IsAbs(cfg.Root) || !filepath.IsAbs(cfg.Dir) {
		return nil, fmt.Errorf("export: the recordings root %q and exports dir %q must be absolute", cfg.Root, cfg.Dir)
	}
	if cfg.Keep <= 0 {
		cfg.Keep = 48 * time.Hour
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.MaxPerTenant <= 0 {
		cfg.MaxPerTenant = 1
	}
	if cfg.LinkTTL <= 0 {
		cfg.LinkTTL = 48 * time.Hour
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 3
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg, st: cfg.Store, log: cfg.Logger, now: cfg.Now, running: map[string]int{},
		known: map[string]bool{}, schedule: make(chan struct{}, 1)}, nil
}

// Request asks for one export.
type Request struct {
	Tenant       string
	UserUUID     string // the requesting user ("" for an admin token)
	Actor        string // for the audit log: token:<id>, schedule:<uuid>, cli
	RemoteAddr   string
	AuditDetails map[string]any // added to the export.create audit entry
	Filter       Filter
	Email        string
	Webhook      string
	Directory    string
	ScheduleUUID string
	out          string // the CLI's --out
}

// destinations is ExportJob.Destinations.
type destinations struct {
	Webhook   string `json:"webhook,omitempty"`
	Directory string `json:"directory,omitempty"`
	File      string `json:"file,omitempty"` // the CLI's --out
}

// ErrNoMail: an e-mail was asked for but no SMTP server is configured.
var ErrNoMail = errors.New("e-mail is not configured on this server (smtp.host)")

// Submit records a pending export and queues it. It fails with
// ErrNothingToExport when no selected call has an exportable recording.
// Without an until, the export stops at the request time, so what it holds
// is what was there when asked (and a resumed job makes the same zip).
func (s *Service) Submit(ctx context.Context, r Request) (store.ExportJob, error) {
	j, err := s.create(ctx, s.st, r)
	if err != nil {
		return store.ExportJob{}, err
	}
	s.enqueue(j)
	return j, nil
}

// Prepare records a pending export without queueing it: the CLI builds it
// at once with RunJob.
func (s *Service) Prepare(ctx context.Context, r Request, out string) (store.ExportJob, error) {
	r.out = out
	return s.create(ctx, s.st, r)
}

// create checks and inserts the job through st (a transaction's Store when
// a schedule fires), without queueing it.
func (s *Service) create(ctx context.Context, st *store.Store, r Request) (store.ExportJob, error) {
	// A schedule's run goes ahead without a mailer: the zip is made and
	// the job says the e-mail could not be sent.
	if r.Email != "" && s.cfg.Mailer == nil && r.ScheduleUUID == "" {
		return store.ExportJob{}, ErrNoMail
	}
	now := s.now().UTC()
	if r.Filter.Until == nil {
		r.Filter.Until = &now
	}
	found := false
	if err := each(ctx, st, r.Tenant, r.Filter, func(item) bool { found = true; return false }); err != nil {
		return store.ExportJob{}, err
	}
	if !found {
		return store.ExportJob{}, ErrNothingToExport
	}
	dest, _ := json.Marshal(destinations{Webhook: r.Webhook, Directory: r.Directory, File: r.out})
	j, err := st.CreateExportJob(ctx, store.ExportJob{UUID: uuid.NewString(), TenantUUID: r.Tenant,
		RequestedBy: r.Actor, UserUUID: r.UserUUID, Query: r.Filter.JSON(), Email: r.Email, CreatedAt: now,
		ScheduleUUID: r.ScheduleUUID, Destinations: dest})
	if err != nil {
		return store.ExportJob{}, err
	}
	details := map[string]any{"filter": r.Filter}
	for k, v := range r.AuditDetails {
		details[k] = v
	}
	if r.Email != "" {
		details["email"] = r.Email
	}
	if r.ScheduleUUID != "" {
		details["schedule_uuid"] = r.ScheduleUUID
	}
	if _, err := st.AppendAudit(ctx, store.AuditEntry{At: now, TenantUUID: r.Tenant, Actor: r.Actor,
		Action: "export.create", ObjectType: "export", ObjectID: j.UUID, RemoteAddr: r.RemoteAddr,
		Details: details}); err != nil {
		return store.ExportJob{}, err
	}
	return j, nil
}

func (s *Service) enqueue(j store.ExportJob) {
	s.mu.Lock()
	s.push(j)
	s.mu.Unlock()
	s.kick()
}

// push queues a job unless it is queued or running already (s.mu held).
func (s *Service) push(j store.ExportJob) {
	if !s.known[j.UUID] {
		s.known[j.UUID] = true
		s.queue = append(s.queue, queued{uuid: j.UUID, tenant: j.TenantUUID})
	}
}

// kick starts queued jobs, oldest first, while workers are free and their
// tenant is under its limit.
func (s *Service) kick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runCtx == nil || s.runCtx.Err() != nil {
		return
	}
	for i := 0; i < len(s.queue) && s.active < s.cfg.Workers; {
		q := s.queue[i]
		if s.running[q.tenant] >= s.cfg.MaxPerTenant {
			i++
			continue
		}
		s.queue = append(s.queue[:i], s.queue[i+1:]...)
		s.running[q.tenant]++
		s.active++
		s.wg.Add(1)
		go s.work(s.runCtx, q)
	}
}

func (s *Service) work(ctx context.Context, q queued) {
	defer s.wg.Done()
	if s.beforeRun != nil {
		s.beforeRun(q.uuid)
	}
	j, err := s.RunJob(ctx, q.uuid, RunOptions{})
	if err != nil && ctx.Err() == nil {
		s.log.Error("export failed", "export", q.uuid, "tenant", q.tenant, "err", err)
	}
	s.mu.Lock()
	s.running[q.tenant]--
	s.active--
	if ctx.Err() == nil {
		delete(s.known, q.uuid)
	}
	s.mu.Unlock()
	if ctx.Err() == nil && s.cfg.OnDone != nil {
		s.cfg.OnDone(j)
	}
	s.kick()
}

// Run recovers the jobs a previous run left, starts queued jobs, fires
// the schedules (catching up first) and expires old exports hourly until
// ctx ends; it returns once running jobs stopped.
func (s *Service) Run(ctx context.Context) error {
	if err := s.Recover(ctx); err != nil {
		if ctx.Err() != nil { // stopped while starting: a clean stop, not a failure
			return nil
		}
		return err
	}
	s.mu.Lock()
	s.runCtx = ctx
	s.mu.Unlock()
	s.kick()
	var sched sync.WaitGroup
	sched.Add(1)
	go func() {
		defer sched.Done()
		_ = s.RunSchedules(ctx)
	}()
	defer s.wg.Wait()
	defer sched.Wait()
	tick := time.NewTicker(time.Hour)
	defer tick.Stop()
	for {
		if err := s.Expire(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("export expiry failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// Recover handles what a stopped callrecd left: a job still marked
// processing was interrupted, and runs again from the start (its partial
// file is removed) unless it was interrupted MaxAttempts times, then it is
// marked error with that reason; pending jobs are queued again.
func (s *Service) Recover(ctx context.Context) error {
	s.removeStrayTemps()
	jobs, err := s.st.ListExportJobsByStatus(ctx, store.ExportProcessing, store.ExportPending)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		cli := jobDestinations(j).File != ""
		if cli || (j.Status == store.ExportProcessing && j.Attempts >= s.cfg.MaxAttempts) {
			now := s.now().UTC()
			j.Status, j.FinishedAt = store.ExportError, &now
			j.Error = fmt.Sprintf("interrupted by a restart of callrecd %d times; not started again", j.Attempts)
			if cli {
				j.Error = "the callrecd export command that was writing it to " + jobDestinations(j).File + " stopped"
			}
			if err := s.st.UpdateExportJob(ctx, j); err != nil {
				return err
			}
			s.auditEnd(ctx, j)
			s.log.Warn("export abandoned after repeated restarts", "export", j.UUID, "attempts", j.Attempts)
			continue
		}
		if j.Status == store.ExportProcessing {
			s.log.Info("export interrupted by a restart: running it again", "export", j.UUID, "attempt", j.Attempts+1)
		}
		s.mu.Lock()
		s.push(j)
		s.mu.Unlock()
	}
	return nil
}

// tempPrefix names zips being written; they are never served.
const tempPrefix = ".partial-"

func (s *Service) removeStrayTemps() {
	ents, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), tempPrefix) {
			_ = os.Remove(filepath.Join(s.cfg.Dir, e.Name()))
		}
	}
}

// Expire removes exports older than their tenant's keep (retention
// export_days, else Keep): file removed, status deleted, path cleared, so
// the download answers 404 from then on.
func (s *Service) Expire(ctx context.Context) error {
	jobs, err := s.st.ListExportJobsByStatus(ctx, store.ExportFinished)
	if err != nil {
		return err
	}
	keep := map[string]time.Duration{}
	now := s.now()
	for _, j := range jobs {
		k, ok := keep[j.TenantUUID]
		if !ok {
			k = s.cfg.Keep
			if t, err := s.st.GetTenant(ctx, j.TenantUUID); err == nil && t.Retention.ExportDays != nil {
				k = time.Duration(*t.Retention.ExportDays) * 24 * time.Hour
			}
			keep[j.TenantUUID] = k
		}
		if now.Before(j.CreatedAt.Add(k)) {
			continue
		}
		if j.Path != "" {
			if err := os.Remove(j.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
				s.log.Error("expired export's file not removed", "export", j.UUID, "err", err)
				continue
			}
		}
		j.Status, j.Path = store.ExportDeleted, ""
		if err := s.st.UpdateExportJob(ctx, j); err != nil {
			return err
		}
		if _, err := s.st.AppendAudit(ctx, store.AuditEntry{At: now, TenantUUID: j.TenantUUID, Actor: "callrecd",
			Action: "export.expire", ObjectType: "export", ObjectID: j.UUID,
			Details: map[string]any{"kept": k.String()}}); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) auditEnd(ctx context.Context, j store.ExportJob) {
	details := map[string]any{"status": j.Status, "files": j.FilesDone, "missing": j.FilesMissing, "size": j.Size}
	if j.Error != "" {
		details["error"] = j.Error
	}
	if j.NotifyError != "" {
		details["notify_error"] = j.NotifyError
	}
	if _, err := s.st.AppendAudit(ctx, store.AuditEntry{At: s.now(), TenantUUID: j.TenantUUID, Actor: "callrecd",
		Action: "export." + j.Status, ObjectType: "export", ObjectID: j.UUID, Details: details}); err != nil {
		s.log.Error("export audit entry not written", "export", j.UUID, "err", err)
	}
}

// SchedulesChanged wakes the scheduler after a schedule was created,
// changed or deleted.
func (s *Service) SchedulesChanged() {
	select {
	case s.schedule <- struct{}{}:
	default:
	}
}

// Filename is Wazo's download name: <requested_at UTC>-<uuid>.zip.
func Filename(j store.ExportJob) string {
	return j.CreatedAt.UTC().Format("2006-01-02T15_04_05UTC") + "-" + j.UUID + ".zip"
}
