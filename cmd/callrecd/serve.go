package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/callrecd/callrecd/config"
	"github.com/callrecd/callrecd/doctor"
	"github.com/callrecd/callrecd/wiring"
	"github.com/spf13/cobra"
)

func newServeCmd(g *globals) *cobra.Command {
	var listen, storageRoot string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the daemon: PBX link, recording engine, REST API, retention",
		Long: `Run callrecd: open (and migrate) the index, register the configured tenants, keep the
PBX link up (reconnecting with backoff while the PBX is away), drive recordings by the
tenants' rules, serve the REST API, /healthz, /readyz and /metrics on http.listen, and
apply each tenant's recording retention daily. Stops cleanly on SIGINT/SIGTERM.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			extra := map[string]any{}
			if listen != "" {
				extra["http.listen"] = listen
			}
			if storageRoot != "" {
				extra["storage.root"] = storageRoot
			}
			cfg, err := g.load(extra)
			if err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, newLogger(cfg, cmd.ErrOrStderr()))
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "HTTP listen address (overrides http.listen)")
	cmd.Flags().StringVar(&storageRoot, "storage-root", "", "recordings root (overrides storage.root)")
	return cmd
}

func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	sys, err := wiring.Build(ctx, cfg, wiring.Options{Logger: log})
	if err != nil {
		doctor.Run(ctx, cfg, 3*time.Second).Log(log) // what else is wrong, with the fixes
		return err
	}
	defer sys.Close()
	// The set-up checks run beside the daemon, not before it: they take
	// two seconds or more (a test recording on the PBX), and a restart
	// after a crash must pick up the calls at once (the fault soak lost
	// the starts of calls answered in that window).
	checked := make(chan struct{})
	go func() {
		defer close(checked)
		doctor.Run(ctx, cfg, 3*time.Second).Log(log)
	}()
	err = sys.Run(ctx)
	<-checked
	return err
}
