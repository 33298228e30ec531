package ari

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
)

// StoredRecordings hands over finished recordings that live on an Asterisk
// whose spool callrecd cannot read (another host, no shared mount): ARI's
// /recordings/stored serves each file and deletes it. It is the spool
// collector's Remote.
type StoredRecordings struct {
	rest *REST
}

// NewStoredRecordings uses rest, whose credentials must be ARI's.
func NewStoredRecordings(rest *REST) *StoredRecordings { return &StoredRecordings{rest: rest} }

func storedPath(name string) string { return "/recordings/stored/" + url.PathEscape(name) }

// Fetch writes recording name's file (the WAV) to w. A recording Asterisk
// does not store fails with an error wrapping fs.ErrNotExist.
func (s *StoredRecordings) Fetch(ctx context.Context, name string, w io.Writer) (int64, error) {
	n, err := s.rest.Download(ctx, storedPath(name)+"/file", w)
	if IsNotFound(err) {
		err = fmt.Errorf("%w: %w", fs.ErrNotExist, err)
	}
	return n, err
}

// Delete removes recording name from Asterisk's spool. A recording that is
// already gone is not an error.
func (s *StoredRecordings) Delete(ctx context.Context, name string) error {
	err := s.rest.Do(ctx, http.MethodDelete, storedPath(name), nil, nil, nil)
	if StatusOf(err) == http.StatusNotFound {
		return nil
	}
	return err
}

// List names the WAV recordings Asterisk keeps in its spool.
func (s *StoredRecordings) List(ctx context.Context) ([]string, error) {
	var out []struct {
		Name   string `json:"name"`
		Format string `json:"format"`
	}
	if err := s.rest.Do(ctx, http.MethodGet, "/recordings/stored", nil, nil, &out); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(out))
	for _, r := range out {
		if r.Format == "wav" {
			names = append(names, r.Name)
		}
	}
	return names, nil
}

// IsNotFound reports whether err is ARI's 404 (the recording is not stored).
func IsNotFound(err error) bool { return StatusOf(err) == http.StatusNotFound }
