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
// PBX creates it as it begins recording).
func (r SeenIndex) OpenRecordings(ctx context.Context) ([]engine.OpenRecording, error) {
	out, err := r.Index.OpenRecordings(ctx)
	if r.C.spool == "" {
		return out, err // files on the PBX's host: no write time to read
	}
	for i := range out {
		fi, serr := os.Stat(filepath.Join(r.C.spool, out[i].Row.UUID+".wav"))
		switch {
		case serr == nil && fi.ModTime().After(out[i].Seen):
			out[i].Seen = fi.ModTime().UTC()
		case errors.Is(serr, fs.ErrNotExist):
			out[i].NoAudio = true
		}
	}
	return out, err
}
