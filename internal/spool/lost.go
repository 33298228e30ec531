package spool

import (
	"context"
	"os"
	"path/filepath"

	"github.com/callrecd/callrecd/engine"
)

var _ engine.OpenRows = Records{}

// OpenCalls passes through (none when the wrapped Records cannot list).
func (r Records) OpenCalls(ctx context.Context) ([]engine.OpenCall, error) {
	if or, ok := r.Records.(engine.OpenRows); ok {
		return or.OpenCalls(ctx)
	}
	return nil, nil
}

// OpenRecordings passes through, and knows better when a recording was
// last running: the PBX wrote its spool file until it stopped.
func (r Records) OpenRecordings(ctx context.Context) ([]engine.OpenRecording, error) {
	or, ok := r.Records.(engine.OpenRows)
	if !ok {
		return nil, nil
	}
	out, err := or.OpenRecordings(ctx)
	for i := range out {
		fi, serr := os.Stat(filepath.Join(r.C.spool, out[i].Row.UUID+".wav"))
		if serr == nil && fi.ModTime().After(out[i].Seen) {
			out[i].Seen = fi.ModTime().UTC()
		}
	}
	return out, err
}
