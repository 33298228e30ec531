package wiring

import (
	"context"
	"log/slog"
	"time"

	"github.com/callrecd/callrecd/config"
	"github.com/callrecd/callrecd/doctor"
)

// doctorAfterReconnects runs callrecd doctor's checks each time the PBX
// link came back (serve also runs them once as it starts): a PBX restarted
// with another configuration, a lost channelvars line or a spool that moved
// show in the log then, not days later as missing recordings. It looks at
// the link's reconnect count once a second and waits for the link's first
// re-sync after a reconnect before it checks.
func doctorAfterReconnects(ctx context.Context, cfg config.Config, reconnects func() int64, ready func() error, log *slog.Logger) {
	seen := reconnects()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		n := reconnects()
		if n == seen || ready() != nil {
			continue
		}
		seen = n
		r := doctor.AfterReconnect(ctx, cfg, 3*time.Second)
		if ctx.Err() != nil {
			return
		}
		log.Info("set-up checked again after the PBX link came back", "checks", len(r), "failed", r.Failed())
		r.Log(log)
	}
}
