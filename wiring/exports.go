package wiring

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/callrecd/callrecd/config"
	"github.com/callrecd/callrecd/export"
	"github.com/callrecd/callrecd/store"
	"github.com/google/uuid"
)

// buildExports makes the export service from exports.*, smtp.* and
// http.public_url, and makes the schedules of the configuration file the
// index's config schedules (added, changed, removed).
func buildExports(ctx context.Context, cfg config.Config, sys *System, opts Options, log *slog.Logger) (*export.Service, error) {
	dir, err := filepath.Abs(cfg.Exports.Dir)
	if err != nil {
		return nil, fmt.Errorf("exports.dir: %w", err)
	}
	now := time.Now
	if opts.Clock != nil {
		now = opts.Clock.Now
	}
	var mailer export.Mailer
	if cfg.SMTP.Host != "" {
		mailer = export.SMTP{Host: cfg.SMTP.Host, Port: cfg.SMTP.Port, Username: cfg.SMTP.Username,
			Password: cfg.SMTP.Password, From: cfg.SMTP.From, TLS: cfg.SMTP.TLS, Now: now}
	}
	public := cfg.HTTP.PublicURL
	if public == "" {
		public = "http://" + cfg.HTTP.Listen
		if mailer != nil {
			log.Warn("http.public_url is not set: export e-mails link to http.listen, which users may not reach",
				"link_base", public)
		}
	}
	svc, err := export.New(export.Config{Store: sys.Store, Root: sys.Root, Dir: dir, Keep: cfg.Exports.Keep,
		Workers: cfg.Exports.Workers, MaxPerTenant: cfg.Exports.MaxPerTenant, Webhook: cfg.Exports.Webhook,
		Mailer: mailer, PublicURL: public, Now: now, Logger: log.With("component", "export")})
	if err != nil {
		return nil, err
	}
	want := make([]store.ExportSchedule, 0, len(cfg.Exports.Schedules))
	for _, sc := range cfg.Exports.Schedules {
		f := export.ScheduleFilter{CallDirection: sc.Filters.CallDirection, Search: sc.Filters.Search,
			Number: sc.Filters.Number, Tags: sc.Filters.Tags, UserUUIDs: sc.Filters.UserUUIDs}
		s := store.ExportSchedule{UUID: uuid.NewString(), TenantUUID: sc.Tenant, Name: sc.Name, Cron: sc.Cron,
			Period: sc.Period, Email: sc.Email, Enabled: !sc.Disabled, Filters: f.JSON(), Webhook: sc.Webhook,
			Directory: sc.Directory}
		if err := export.ValidateSchedule(s); err != nil {
			return nil, fmt.Errorf("exports.schedules (%s): %w", sc.Name, err)
		}
		want = append(want, s)
	}
	if err := sys.Store.SyncConfigSchedules(ctx, want, now()); err != nil {
		return nil, fmt.Errorf("exports.schedules: %w", err)
	}
	return svc, nil
}
