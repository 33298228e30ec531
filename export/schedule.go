package export

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/callrecd/callrecd/store"
)

// ScheduleFilter is what a schedule's runs select besides their window.
type ScheduleFilter struct {
	Search        string   `json:"search,omitempty"`
	CallDirection string   `json:"call_direction,omitempty"`
	Number        string   `json:"number,omitempty"`
	Tags          []string `json:"tags,omitempty"`
	UserUUIDs     []string `json:"user_uuid,omitempty"`
}

// maxSleep bounds the scheduler's wait, so a wall-clock jump (NTP, a
// suspended VM) is noticed within a minute.
const maxSleep = time.Minute

// RunSchedules fires schedules until ctx ends. The first tick is at once:
// that is the catch-up of runs missed while callrecd was down.
func (s *Service) RunSchedules(ctx context.Context) error {
	for {
		if _, err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("export schedules", "err", err)
		}
		wait := maxSleep
		if next, ok := s.nextFire(ctx); ok {
			wait = min(max(next.Sub(s.now()), time.Second), maxSleep)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-s.schedule:
		case <-t.C:
		}
		t.Stop()
	}
}

// Tick runs every enabled schedule whose fire time has come since its last
// run: once, for the latest such time, however many were missed. The last
// run time moves in the same transaction as the job is created: a crash
// cannot make a run happen twice, nor lose one. It returns the jobs made.
func (s *Service) Tick(ctx context.Context) ([]store.ExportJob, error) {
	scs, err := s.st.ListExportSchedules(ctx, "")
	if err != nil {
		return nil, err
	}
	now := s.now()
	var made []store.ExportJob
	var errs []error
	for _, sc := range scs {
		if !sc.Enabled {
			continue
		}
		j, ok, err := s.fire(ctx, sc, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("schedule %s (%s): %w", sc.Name, sc.UUID, err))
			continue
		}
		if ok {
			made = append(made, j)
		}
	}
	for _, j := range made {
		s.enqueue(j)
	}
	return made, errors.Join(errs...)
}

func (s *Service) loc(ctx context.Context, tenant string) *time.Location {
	t, err := s.st.GetTenant(ctx, tenant)
	if err != nil {
		return time.UTC
	}
	loc, err := time.LoadLocation(t.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// due is a schedule's latest fire time at or before now, if not run yet.
func (s *Service) due(ctx context.Context, sc store.ExportSchedule, now time.Time) (time.Time, *time.Location, bool, error) {
	spec, err := ParseCron(sc.Cron)
	if err != nil {
		return time.Time{}, nil, false, err
	}
	loc := s.loc(ctx, sc.TenantUUID)
	base := sc.CreatedAt
	if sc.LastRunAt != nil {
		base = *sc.LastRunAt
	}
	fire, ok := latestFire(spec, base, now, loc)
	return fire, loc, ok, nil
}

func (s *Service) fire(ctx context.Context, sc store.ExportSchedule, now time.Time) (store.ExportJob, bool, error) {
	fire, loc, ok, err := s.due(ctx, sc, now)
	if err != nil || !ok {
		return store.ExportJob{}, false, err
	}
	from, until, err := Window(sc.Period, fire, loc)
	if err != nil {
		return store.ExportJob{}, false, err
	}
	sf, err := parseScheduleFilter(sc.Filters)
	if err != nil {
		return store.ExportJob{}, false, err
	}
	req := Request{Tenant: sc.TenantUUID, Actor: "schedule:" + sc.UUID, ScheduleUUID: sc.UUID,
		Email: sc.Email, Webhook: sc.Webhook, Directory: sc.Directory,
		AuditDetails: map[string]any{"schedule": sc.Name, "fire_time": formatTS(fire)},
		Filter: Filter{From: &from, Until: &until, Search: sf.Search, CallDirection: sf.CallDirection,
			Number: sf.Number, Tags: sf.Tags, UserUUIDs: sf.UserUUIDs}}
	var j store.ExportJob
	made := false
	err = s.st.InTx(ctx, func(tx *store.Store) error {
		if err := tx.SetScheduleLastRun(ctx, sc.UUID, sc.LastRunAt, fire); err != nil {
			return err
		}
		var err error
		j, err = s.create(ctx, tx, req)
		if errors.Is(err, ErrNothingToExport) {
			// The run happened: there was nothing in its window.
			_, err = tx.AppendAudit(ctx, store.AuditEntry{At: now, TenantUUID: sc.TenantUUID, Actor: req.Actor,
				Action: "export.schedule_empty", ObjectType: "export_schedule", ObjectID: sc.UUID,
				Details: map[string]any{"from": formatTS(from), "until": formatTS(until), "fire_time": formatTS(fire)}})
			return err
		}
		made = err == nil
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return store.ExportJob{}, false, nil // another runner took this fire time, or the schedule is gone
	}
	if err == nil {
		s.log.Info("export schedule fired", "schedule", sc.Name, "fire_time", fire, "from", from, "until", until,
			"export", j.UUID)
	}
	return j, made, err
}

// nextFire is the soonest fire time of any enabled schedule.
func (s *Service) nextFire(ctx context.Context) (time.Time, bool) {
	scs, err := s.st.ListExportSchedules(ctx, "")
	if err != nil {
		return time.Time{}, false
	}
	var best time.Time
	for _, sc := range scs {
		if !sc.Enabled {
			continue
		}
		if n, ok := s.NextRun(ctx, sc); ok && (best.IsZero() || n.Before(best)) {
			best = n
		}
	}
	return best, !best.IsZero()
}

// NextRun is when a schedule fires next (after its last run, or now when
// a missed run is due).
func (s *Service) NextRun(ctx context.Context, sc store.ExportSchedule) (time.Time, bool) {
	spec, err := ParseCron(sc.Cron)
	if err != nil {
		return time.Time{}, false
	}
	base := sc.CreatedAt
	if sc.LastRunAt != nil {
		base = *sc.LastRunAt
	}
	n := spec.Next(base.In(s.loc(ctx, sc.TenantUUID)))
	return n, !n.IsZero()
}
