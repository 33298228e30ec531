package api

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/callrecd/callrecd/media"
	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"
)

// What the web page needs beyond Wazo's API (callrecd 1.0): a recording's
// waveform, a copy of it a browser can play, and the dashboard. Recordings
// are found as the media route finds them (loadRecording), so the users/me
// forms read only the user's own calls.

const (
	maxBuckets = 4000
	// cacheKeep: a playable copy older than this is removed and made again
	// when next asked for, so copies of recordings nobody plays go away.
	cacheKeep = 7 * 24 * time.Hour
	// The cache sweep looks at sweepBatch files at most every sweepEvery,
	// so no request pays for a large cache.
	sweepEvery    = 10 * time.Minute
	sweepBatch    = 64
	dashboardDays = 30
)

func (s *server) webMediaRoutes() []route {
	ok := http.StatusOK
	rec := "/cdr/:cdr_id/recordings/:recording_uuid"
	play := "audio/wav, audio/mpeg"
	return []route{
		{method: "GET", path: own + rec + "/waveform", access: accessAdmin, tag: "callrecd", summary: "a recording's waveform: duration, peaks (0..1, 600 by default) and paused spans on the file's timeline", query: []string{"buckets"}, status: ok, response: "Waveform", handler: s.waveform(false)},
		{method: "GET", path: own + "/users/me" + rec + "/waveform", access: accessUser, tag: "callrecd", summary: "the waveform of one of the user's recordings", query: []string{"buckets"}, status: ok, response: "Waveform", handler: s.waveform(true)},
		{method: "GET", path: own + rec + "/playable", access: accessAdmin, tokenInQuery: true, tenantInQuery: true, tag: "callrecd", summary: "a recording as browsers play it (AMR as MP3; Range, ETag)", query: []string{"tenant", "disposition"}, status: ok, produces: play, handler: s.playable(false)},
		{method: "GET", path: own + "/users/me" + rec + "/playable", access: accessUser, tokenInQuery: true, tenantInQuery: true, tag: "callrecd", summary: "one of the user's recordings as browsers play it", query: []string{"tenant", "disposition"}, status: ok, produces: play, handler: s.playable(true)},
		{method: "GET", path: own + "/dashboard", access: accessAdmin, tag: "callrecd", summary: "recordings per day (30 UTC days), storage, PBX link", status: ok, response: "Dashboard", handler: s.dashboard(false)},
		{method: "GET", path: own + "/users/me/dashboard", access: accessUser, tag: "callrecd", summary: "the user's recordings per day and storage, the PBX link", status: ok, response: "Dashboard", handler: s.dashboard(true)},
	}
}

// webMedia is the state of those routes.
type webMedia struct {
	cache    *media.PlayableCache
	space    func() (media.Space, error)
	floor    media.Floor
	tc       media.Transcoder
	flight   singleflight.Group // one waveform computation per file, however many ask
	computed prometheus.Counter

	mu        sync.Mutex
	lastSweep time.Time
}

func newWebMedia(opts Options, reg prometheus.Registerer) (*webMedia, error) {
	dir := opts.CacheDir
	if dir == "" {
		dir = filepath.Join(filepath.Dir(opts.Store.Path()), "cache")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("api: cache folder: %w", err)
	}
	w := &webMedia{cache: &media.PlayableCache{Dir: dir, Keep: cacheKeep}, space: opts.Space, floor: opts.MinFree,
		computed: prometheus.NewCounter(prometheus.CounterOpts{Name: "callrecd_waveforms_computed_total",
			Help: "Waveforms computed from a recording's file (not found in the index's cache)."})}
	if w.space == nil {
		root := opts.StorageRoot
		w.space = func() (media.Space, error) { return media.FreeSpace(root) }
	}
	transcodes := prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "callrecd_playable_transcodes_total",
		Help: "AMR recordings transcoded to MP3 for browsers (not found in the cache folder)."},
		func() float64 { return float64(w.cache.Transcodes()) })
	for _, c := range []prometheus.Collector{w.computed, transcodes} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// errMediaGone: the recording's audio is not there (deleted, or its file
// missing). 404, not loadRecording's 400 for a deleted one: the page shows
// "no audio", not a bad request.
func errMediaGone(uuid, filename string) *apiError {
	return newError(http.StatusNotFound, "recording-media-not-found", "recording file "+cmp.Or(filename, uuid)+" not found",
		map[string]any{"recording_uuid": uuid, "filename": filename})
}

// loadWebRecording is loadRecording plus its file's path and stat.
func (s *server) loadWebRecording(c echo.Context, me bool) (store.Call, store.Recording, string, fs.FileInfo, error) {
	call, rec, err := s.loadRecording(c, me)
	if ae := (*apiError)(nil); errors.As(err, &ae) && ae.ErrorID == "recording-media-not-found" {
		ru, _ := pathUUID(c, "recording_uuid")
		deleted, _ := s.store.GetRecording(c.Request().Context(), getPrincipal(c).tenant, ru)
		return call, rec, "", nil, errMediaGone(ru, deleted.Filename)
	} else if err != nil {
		return call, rec, "", nil, err
	}
	p, err := s.filePath(rec)
	if err != nil {
		s.log.Error("recording has an unsafe file name", "recording", rec.UUID, "err", err, "request_id", requestID(c))
		return call, rec, "", nil, errMediaGone(rec.UUID, rec.Filename)
	}
	st, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !st.Mode().IsRegular()) {
		return call, rec, "", nil, errMediaGone(rec.UUID, rec.Filename)
	}
	return call, rec, p, st, err
}

// mediaError answers a file that could not be decoded or transcoded.
func (s *server) mediaError(c echo.Context, rec store.Recording, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return errMediaGone(rec.UUID, rec.Filename)
	case errors.Is(err, media.ErrTools):
		s.log.Error("ffmpeg is needed for this recording", "recording", rec.UUID, "err", err, "request_id", requestID(c))
		return newError(http.StatusServiceUnavailable, "media-tools-missing",
			"ffmpeg is not installed on the server (scripts/install-media-deps)", nil)
	}
	s.log.Warn("recording file does not decode", "recording", rec.UUID, "err", err, "request_id", requestID(c))
	return newError(http.StatusUnprocessableEntity, "recording-media-unreadable", "the recording's file does not decode",
		map[string]any{"recording_uuid": rec.UUID, "filename": rec.Filename})
}

type spanJSON struct {
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

type waveformJSON struct {
	Duration float64    `json:"duration"`
	Peaks    []float64  `json:"peaks"`
	Paused   []spanJSON `json:"paused"`
}

func (s *server) waveform(me bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		unknownQuery(c, []string{"buckets", "tenant"})
		n := media.DefaultBuckets
		if v := c.QueryParam("buckets"); v != "" {
			b, err := strconv.Atoi(v)
			if err != nil || b < 1 || b > maxBuckets {
				return errInvalid("buckets", "an integer from 1 to "+strconv.Itoa(maxBuckets))
			}
			n = b
		}
		_, rec, path, st, err := s.loadWebRecording(c, me)
		if err != nil {
			return err
		}
		ctx := c.Request().Context()
		key := store.WaveformKey{RecordingUUID: rec.UUID, FileSize: st.Size(), FileMTime: st.ModTime(),
			SHA256: rec.SHA256, Buckets: n}
		w, err := s.store.GetWaveform(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			w, err = s.computeWaveform(ctx, key, path)
			if err != nil {
				return s.mediaError(c, rec, err)
			}
		} else if err != nil {
			return err
		}
		out := waveformJSON{Duration: seconds(w.Duration), Peaks: make([]float64, len(w.Peaks)),
			Paused: filePauses(rec, w.Duration, s.now())}
		for i, p := range w.Peaks {
			out.Peaks[i] = math.Round(p*1e4) / 1e4 // plenty to draw; a third of the JSON
		}
		return c.JSON(http.StatusOK, out)
	}
}

// computeWaveform reads the file once for every request asking for the
// same key, caches the result and answers what the cache now holds (so a
// first answer is the same as the later ones).
func (s *server) computeWaveform(ctx context.Context, key store.WaveformKey, path string) (store.Waveform, error) {
	fk := fmt.Sprintf("waveform %s %d %d %s %d", key.RecordingUUID, key.FileSize, key.FileMTime.UnixNano(), key.SHA256, key.Buckets)
	v, err, _ := s.web.flight.Do(fk, func() (any, error) {
		ctx := context.WithoutCancel(ctx) // shared: one client leaving must not fail the others
		s.web.computed.Inc()
		mw, err := s.web.tc.Waveform(ctx, path, key.Buckets)
		if err != nil {
			return nil, err
		}
		w := store.Waveform{WaveformKey: key, Duration: mw.Duration, Peaks: mw.Peaks}
		if err := s.store.PutWaveform(ctx, w); err != nil {
			s.log.Warn("waveform not cached", "recording", key.RecordingUUID, "err", err)
			return w, nil
		}
		return s.store.GetWaveform(ctx, key)
	})
	if err != nil {
		return store.Waveform{}, err
	}
	return v.(store.Waveform), nil
}

// filePauses places a recording's paused spans on its file's timeline
// (seconds from the file's start). A pause leaves its audio out of the file
// (Asterisk, FreeSWITCH 1.10.7 and later): the span is then an instant, at
// the cut. An older FreeSWITCH masks it (silence in the file) and the span
// keeps its length. Which of the two a finished recording did shows in the
// file's length: nearer the wall-clock length less the pauses, or nearer
// the wall-clock length.
func filePauses(rec store.Recording, file time.Duration, now time.Time) []spanJSON {
	end := now
	if rec.End != nil {
		end = *rec.End
	}
	ivs := slices.Clone(rec.PausedIntervals)
	sort.Slice(ivs, func(i, j int) bool { return ivs[i].Start.Before(ivs[j].Start) })
	ivEnd := func(iv store.Interval) time.Time {
		if iv.End != nil {
			return *iv.End
		}
		return end
	}
	var paused time.Duration
	for _, iv := range ivs {
		paused += max(ivEnd(iv).Sub(iv.Start), 0)
	}
	wall := end.Sub(rec.Start)
	abs := func(d time.Duration) time.Duration { return max(d, -d) }
	cut := rec.End == nil || abs(file-(wall-paused)) <= abs(file-wall)
	out := []spanJSON{}
	var removed time.Duration
	for _, iv := range ivs {
		from := max(iv.Start.Sub(rec.Start), 0)
		to := max(ivEnd(iv).Sub(rec.Start), from)
		if cut {
			at := from - removed
			removed += to - from
			from, to = at, at
		}
		out = append(out, spanJSON{Start: seconds(min(max(from, 0), file)), End: seconds(min(max(to, 0), file))})
	}
	return out
}

// playable serves WAV and MP3 as the media route does (browsers play
// them), and AMR as an MP3 copy made once into the cache folder. Either
// way the default disposition is inline: it is a player's source.
func (s *server) playable(me bool) echo.HandlerFunc {
	original := s.media(me)
	return func(c echo.Context) error {
		call, rec, src, st, err := s.loadWebRecording(c, me)
		if err != nil {
			return err
		}
		if c.QueryParam("disposition") == "" {
			c.QueryParams().Set("disposition", "inline")
		}
		if recording.Format(rec.Format) != recording.AMR {
			return original(c)
		}
		unknownQuery(c, []string{"token", "tenant", "disposition"})
		disp := c.QueryParam("disposition")
		if disp != "attachment" && disp != "inline" {
			return errInvalid("disposition", "attachment or inline")
		}
		s.sweepCache(c)
		f, err := s.web.cache.Open(c.Request().Context(), rec.UUID, src, st)
		if err != nil {
			return s.mediaError(c, rec, err)
		}
		defer f.Close()
		return s.serveCopy(c, call, rec, f, disp)
	}
}

// sweepCache runs a batch of the cache's sweep at most every sweepEvery:
// copies of recordings deleted or gone from the index go, and old ones.
func (s *server) sweepCache(c echo.Context) {
	w, now := s.web, s.now()
	w.mu.Lock()
	due := w.lastSweep.IsZero() || now.Sub(w.lastSweep) >= sweepEvery
	if due {
		w.lastSweep = now
	}
	w.mu.Unlock()
	if !due {
		return
	}
	ctx := c.Request().Context()
	_, err := w.cache.Sweep(now, sweepBatch, func(uuid string) bool {
		r, err := s.store.GetRecording(ctx, "", uuid)
		return errors.Is(err, store.ErrNotFound) || (err == nil && r.Deleted)
	})
	if err != nil {
		s.log.Warn("playable cache sweep failed", "dir", w.cache.Dir, "err", err, "request_id", requestID(c))
	}
}

// serveCopy serves a playable copy as media serves a recording: Range,
// ETag, and an audit entry before the first byte (it is the recording's
// audio), none for a 304 or a 416.
func (s *server) serveCopy(c echo.Context, call store.Call, rec store.Recording, f *os.File, disp string) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	req := c.Request()
	normalizeRange(req)
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "audio/mpeg")
	h.Set("ETag", `"mp3-`+strconv.FormatInt(st.Size(), 36)+"-"+strconv.FormatInt(st.ModTime().UnixNano(), 36)+`"`)
	name := strings.TrimSuffix(rec.Filename, filepath.Ext(rec.Filename)) + ".mp3"
	h.Set("Content-Disposition", mime.FormatMediaType(disp, map[string]string{"filename": name}))
	h.Set("Cache-Control", "private, no-transform")
	size := strconv.FormatInt(st.Size(), 10)
	w := &servedWriter{ResponseWriter: c.Response().Writer, size: st.Size(),
		onServe: func(status int) error {
			if req.Method != http.MethodGet {
				return nil
			}
			act, served := "recording.listen", "bytes 0-"+strconv.FormatInt(st.Size()-1, 10)+"/"+size
			if disp == "attachment" && status == http.StatusOK {
				act = "recording.download"
			}
			if status == http.StatusPartialContent {
				if served = h.Get("Content-Range"); served == "" {
					served = "multipart " + req.Header.Get("Range")
				}
			}
			return s.audit(c, call.TenantUUID, act, "recording", rec.UUID, map[string]any{"cdr_id": call.ID,
				"filename": rec.Filename, "served": served, "transcoded_to": string(recording.MP3)})
		},
		on416: func() []byte {
			b, _ := json.Marshal(s.stamped(newError(http.StatusRequestedRangeNotSatisfiable, "range-not-satisfiable",
				"the Range header does not fit the recording", map[string]any{"range": req.Header.Get("Range"), "size": st.Size()})))
			return b
		}}
	c.Response().Writer = w
	http.ServeContent(c.Response(), req, name, st.ModTime(), f)
	c.Response().Writer = w.ResponseWriter
	if w.err != nil {
		c.Response().Committed = false
	}
	return w.err
}

type dayJSON struct {
	Day     string  `json:"day"`
	Count   int     `json:"count"`
	Seconds float64 `json:"seconds"`
}

type dashboardJSON struct {
	RecordingsPerDay []dayJSON `json:"recordings_per_day"`
	Storage          struct {
		UsedBytes    int64  `json:"used_bytes"`
		FreeBytes    uint64 `json:"free_bytes"`
		MinFreeBytes uint64 `json:"min_free_bytes"`
	} `json:"storage"`
	PBX struct {
		Linked bool   `json:"linked"`
		Error  string `json:"error"`
	} `json:"pbx"`
}

// dashboard: the tenant's (a user's: its own calls') recordings of the
// last 30 UTC days, today last; the storage as the index counts it and the
// disk reports it; the PBX link.
func (s *server) dashboard(me bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		p := getPrincipal(c)
		sc := store.StatsScope{Tenant: p.tenant}
		if me {
			if p.user == "" {
				return errForbidden("this route needs a user")
			}
			sc.User = p.user
		}
		ctx := c.Request().Context()
		now := s.now().UTC()
		today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
		from := today.AddDate(0, 0, 1-dashboardDays)
		counts, err := s.store.RecordingsPerDay(ctx, sc, from, today.AddDate(0, 0, 1))
		if err != nil {
			return err
		}
		var out dashboardJSON
		out.RecordingsPerDay = make([]dayJSON, dashboardDays)
		for i := range out.RecordingsPerDay {
			out.RecordingsPerDay[i].Day = from.AddDate(0, 0, i).Format(time.DateOnly)
		}
		for _, d := range counts {
			if i := int(d.Day.Sub(from) / (24 * time.Hour)); i >= 0 && i < dashboardDays {
				out.RecordingsPerDay[i].Count, out.RecordingsPerDay[i].Seconds = d.Count, seconds(time.Duration(d.Seconds*float64(time.Second)))
			}
		}
		if out.Storage.UsedBytes, err = s.store.RecordingBytes(ctx, sc); err != nil {
			return err
		}
		// A disk that cannot be read shows 0 free: the disk guard refuses
		// new recordings then too.
		sp, err := s.web.space()
		if err != nil {
			s.log.Warn("free space of the storage unreadable", "err", err, "request_id", requestID(c))
			sp = media.Space{}
		}
		out.Storage.FreeBytes = sp.Free
		out.Storage.MinFreeBytes = max(s.web.floor.Bytes, uint64(math.Ceil(s.web.floor.Percent/100*float64(sp.Total))))
		out.PBX.Linked = true
		if s.ready != nil {
			if err := s.ready(); err != nil {
				out.PBX.Linked, out.PBX.Error = false, err.Error()
			}
		}
		return c.JSON(http.StatusOK, out)
	}
}
