package spool

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/callrecd/callrecd/engine"
)

// SeenIndex is the engine's Index, which knows better when a recording was
// last running: the PBX wrote its spool file until it stopped.
type SeenIndex struct {
	engine.Index
	C *Collector
}

// OpenRecordings passes through, each Seen moved to its spool file's last
// write when that is later, and NoAudio set where the spool has no file (the
// PBX creates it as it begins recording) and the PBX's own list, when it
// has one, has none either: a folder that is not where the PBX writes must
// not fail rows whose audio exists.
func (r SeenIndex) OpenRecordings(ctx context.Context) ([]engine.OpenRecording, error) {
	out, err := r.Index.OpenRecordings(ctx)
	if r.C.spool == "" {
		return out, err // files on the PBX's host: no write time to read
	}
	var missing []int
	for i := range out {
		fi, serr := os.Stat(filepath.Join(r.C.spool, out[i].Row.UUID+".wav"))
		switch {
		case serr == nil && fi.ModTime().After(out[i].Seen):
			out[i].Seen = fi.ModTime().UTC()
		case errors.Is(serr, fs.ErrNotExist):
			missing = append(missing, i)
		}
	}
	stored := map[string]bool{}
	if len(missing) > 0 && r.C.Remote != nil {
		names, lerr := r.C.Remote.List(ctx)
		if lerr != nil {
			r.C.log.Warn("cannot list the recordings the PBX stores; open rows without a spool file are taken as never begun",
				"rows", len(missing), "err", lerr)
		}
		for _, n := range names {
			stored[n] = true
		}
	}
	listed := 0
	for _, i := range missing {
		if stored[out[i].Row.UUID] {
			listed++
			continue
		}
		out[i].NoAudio = true
	}
	if listed > 0 {
		r.C.log.Warn("the PBX stores recordings the spool folder does not show: it is not the folder the PBX writes to",
			"spool", r.C.spool, "recordings", listed)
	}
	return out, err
}
