package spool

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callrecd/callrecd/ari"
	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/media"
	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
)

// storedARI is Asterisk's /recordings/stored over real HTTP on loopback,
// with the faults a remote PBX shows: cut transfers, refused deletes.
type storedARI struct {
	mu         sync.Mutex
	files      map[string][]byte
	cutNext    int // the next n downloads stop half-way (Content-Length kept)
	failDelete int // the next n deletes answer 500
	deletes    []string
	gets       int
}

func (s *storedARI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rest, ok := strings.CutPrefix(r.URL.Path, "/ari/recordings/stored")
	switch {
	case !ok:
		http.NotFound(w, r)
	case rest == "" && r.Method == http.MethodGet:
		w.Header().Set("Content-Type", "application/json")
		var b bytes.Buffer
		b.WriteString("[")
		i := 0
		for name := range s.files {
			if i > 0 {
				b.WriteString(",")
			}
			i++
			b.WriteString(`{"name":"` + name + `","format":"wav"}`)
		}
		b.WriteString(`,{"name":"not-ours","format":"gsm"}]`)
		if i == 0 {
			b.Reset()
			b.WriteString("[]")
		}
		w.Write(b.Bytes())
	case strings.HasSuffix(rest, "/file") && r.Method == http.MethodGet:
		s.gets++
		data, ok := s.files[strings.TrimSuffix(strings.TrimPrefix(rest, "/"), "/file")]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"message":"Recording not found"}`))
			return
		}
		if s.cutNext > 0 {
			s.cutNext--
			hj, _ := w.(http.Hijacker)
			conn, buf, _ := hj.Hijack()
			buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: audio/wav\r\nContent-Length: " + strconv.Itoa(len(data)) + "\r\n\r\n")
			buf.Write(data[:len(data)/2])
			buf.Flush()
			conn.Close()
			return
		}
		w.Header().Set("Content-Type", "audio/wav")
		w.Write(data)
	case r.Method == http.MethodDelete:
		name := strings.TrimPrefix(rest, "/")
		if s.failDelete > 0 {
			s.failDelete--
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		if _, ok := s.files[name]; !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		delete(s.files, name)
		s.deletes = append(s.deletes, name)
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

func (s *storedARI) has(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.files[name]
	return ok
}

func wavBytes(t *testing.T, seconds int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := media.WritePCM16(&b, 8000, 1, make([]int16, 8000*seconds)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type remoteSite struct {
	pbx   *storedARI
	idx   *fakeIndex
	c     *Collector
	root  string
	moved chan string
}

func newRemoteSite(t *testing.T, spoolDir string) *remoteSite {
	t.Helper()
	pbx := &storedARI{files: map[string][]byte{}}
	srv := httptest.NewServer(pbx)
	t.Cleanup(srv.Close)
	rest := ari.NewREST(srv.URL+"/ari", "u", "p", 2*time.Second)
	t.Cleanup(rest.Close)
	root := t.TempDir()
	idx := &fakeIndex{files: map[string]store.FileInfo{}}
	c := New(spoolDir, root, idx, nil)
	c.Remote = ari.NewStoredRecordings(rest)
	c.MaxBackoff = 20 * time.Millisecond
	moved := make(chan string, 4)
	c.Moved = func(uuid string, _ media.File) { moved <- uuid }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return &remoteSite{pbx: pbx, idx: idx, c: c, root: root, moved: moved}
}

func (s *remoteSite) waitMoved(t *testing.T, id string) {
	t.Helper()
	select {
	case got := <-s.moved:
		if got != id {
			t.Fatalf("moved %s, want %s", got, id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the recording was never placed")
	}
}

// waitDeleted waits for the PBX's copy to go (after the move, never before).
func (s *remoteSite) waitDeleted(t *testing.T, id string) {
	t.Helper()
	for range 250 {
		if !s.pbx.has(id) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the PBX's copy was never deleted")
}

func remoteRow(id string) engine.RecordingRow {
	return engine.RecordingRow{UUID: id, CallID: 7, Tenant: tenant, Format: "wav", State: recording.StateStopped,
		Start: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
}

// A PBX on another host: the file comes over ARI, byte for byte, is placed
// and indexed, and only then deleted on the PBX. Cut transfers and refused
// deletes are retried; nothing is placed twice or lost.
func TestCollectorFetchesFromRemotePBX(t *testing.T) {
	for _, tc := range []struct {
		name            string
		cut, failDelete int
	}{
		{"clean", 0, 0},
		{"transfer cut twice", 2, 0},
		{"delete refused twice", 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newRemoteSite(t, "")
			id := "3c0e9a41-6b1f-4d2e-9a7c-5e8f0b1d2c3a"
			want := wavBytes(t, 2)
			s.pbx.files[id] = want
			s.pbx.cutNext, s.pbx.failDelete = tc.cut, tc.failDelete
			s.c.Final(remoteRow(id))
			s.waitMoved(t, id)
			fi, ok := s.idx.get(id)
			if !ok || fi.Size != int64(len(want)) || fi.Duration != 2*time.Second {
				t.Fatalf("index %+v %v, want %d bytes, 2 s", fi, ok, len(want))
			}
			path, err := media.BuildPath(s.root, tenant, remoteRow(id).Start, 7, id, recording.WAV)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("placed file differs from the PBX's (%d bytes, %v)", len(got), err)
			}
			s.waitDeleted(t, id)
			if s.pbx.gets != tc.cut+1 {
				t.Errorf("%d downloads, want %d", s.pbx.gets, tc.cut+1)
			}
			leftovers, _ := filepath.Glob(filepath.Join(s.root, ".callrecd-tmp-*"))
			if len(leftovers) > 0 {
				t.Errorf("temp files left: %v", leftovers)
			}
			if moved, _ := s.c.Stats(); moved != 1 {
				t.Errorf("moved %d times", moved)
			}
		})
	}
}

// A header that disagrees with the length is fetched again; once the PBX's
// file stops changing it is taken and repaired.
func TestCollectorRemoteIncompleteHeaderRepairedWhenStable(t *testing.T) {
	s := newRemoteSite(t, "")
	id := "5d1f0b52-7c2a-4e3f-8b9d-6f9a1c2e3d4b"
	data := wavBytes(t, 1)
	data[40], data[41], data[42], data[43] = 0, 0, 0, 0 // data chunk length left 0 by a crash
	s.pbx.files[id] = data
	s.c.Final(remoteRow(id))
	s.waitMoved(t, id)
	if fi, _ := s.idx.get(id); fi.Duration != time.Second {
		t.Fatalf("repaired duration %v, want 1s", fi.Duration)
	}
	if s.pbx.gets != 2 {
		t.Errorf("%d downloads, want 2 (a second look before repairing)", s.pbx.gets)
	}
	s.waitDeleted(t, id)
}

// The local spool wins when it has the file; the PBX's API serves the rest.
// A recording the PBX does not have either is reported, not retried.
func TestCollectorLocalSpoolFirstThenRemote(t *testing.T) {
	spoolDir := t.TempDir()
	s := newRemoteSite(t, spoolDir)
	local, remote, gone := "6e2a1c63-8d3b-4f4a-9c0e-7a0b2d3f4e5c", "7f3b2d74-9e4c-4a5b-8d1f-8b1c3e4a5f6d", "8a4c3e85-0f5d-4b6c-9e2a-9c2d4f5b6a7e"
	writeWAV(t, filepath.Join(spoolDir, local+".wav"), 1)
	s.pbx.files[remote] = wavBytes(t, 1)
	s.c.Final(remoteRow(local))
	s.waitMoved(t, local)
	s.c.Final(remoteRow(remote))
	s.waitMoved(t, remote)
	s.waitDeleted(t, remote)
	s.c.Final(remoteRow(gone))
	time.Sleep(100 * time.Millisecond)
	if _, failed := s.c.Stats(); failed != 1 {
		t.Errorf("failed = %d, want 1 (the recording nobody has)", failed)
	}
	if s.pbx.gets != 2 {
		t.Errorf("%d downloads, want 2 (the local file is not fetched)", s.pbx.gets)
	}
	// A failed start without a file in the spool has none anywhere: the
	// PBX's API is not asked (soak 9: 21 errors "cannot fetch", each retried,
	// for starts the cut link had failed).
	failed := remoteRow("9b5d4f96-1a6e-4c7d-8f3b-0d3e5a6c7b8f")
	failed.State = recording.StateFailed
	s.c.Final(failed)
	time.Sleep(100 * time.Millisecond)
	if _, n := s.c.Stats(); s.pbx.gets != 2 || n != 1 {
		t.Errorf("a failed start without a file: %d downloads (want 2), %d failures (want 1)", s.pbx.gets, n)
	}
}

// After a crash the PBX still stores ended recordings: Recover lists them
// (ours only, ended only) and moves them.
func TestCollectorRecoversRemoteRecordings(t *testing.T) {
	s := newRemoteSite(t, "")
	ended, live := "9b5d4f96-1a6e-4c7d-8f3b-0d3e5a6c7b8f", "0c6e5a07-2b7f-4d8e-9a4c-1e4f6b7d8c9a"
	s.pbx.files[ended], s.pbx.files[live] = wavBytes(t, 1), wavBytes(t, 1)
	rows := map[string]engine.RecordingRow{ended: remoteRow(ended), live: remoteRow(live)}
	l := rows[live]
	l.State = recording.StateRecording
	rows[live] = l
	if _, err := s.c.Recover(context.Background(), rowsIndex(rows)); err != nil {
		t.Fatal(err)
	}
	s.waitMoved(t, ended)
	s.waitDeleted(t, ended)
	if !s.pbx.has(live) {
		t.Fatal("a live recording's file was taken from the PBX")
	}
}

func TestStoredRecordingsNotFoundIsErrNotExist(t *testing.T) {
	s := newRemoteSite(t, "")
	var b bytes.Buffer
	_, err := s.c.Remote.Fetch(context.Background(), "nope", &b)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err %v, want fs.ErrNotExist", err)
	}
}

// A failed row whose file the PBX lists is fetched even though the spool
// folder callrecd reads lacks it (then that folder is not where the PBX
// writes): a failed start is skipped only when nothing says a file exists.
func TestCollectorFetchesAListedFileOfAFailedRow(t *testing.T) {
	s := newRemoteSite(t, t.TempDir())
	id := "1d7f6b18-3c8a-4e9f-8b5d-2f5a7c8e9dab"
	s.pbx.files[id] = wavBytes(t, 1)
	row := remoteRow(id)
	row.State = recording.StateFailed
	if _, err := s.c.Recover(context.Background(), rowsIndex(map[string]engine.RecordingRow{id: row})); err != nil {
		t.Fatal(err)
	}
	s.waitMoved(t, id)
	s.waitDeleted(t, id)
}
