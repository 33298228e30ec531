package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callrecd/callrecd/media"
	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
	"github.com/google/uuid"
)

const own10 = "/api/callrecd/1.0"

// toneGapTone is 1 s of a 440 Hz tone at half scale, 1 s of silence, 1 s of tone.
func toneGapTone(gap bool) []int16 {
	s := make([]int16, 3*8000)
	for i := range s {
		if !gap || i < 8000 || i >= 16000 {
			s[i] = int16(16384 * math.Sin(2*math.Pi*440*float64(i)/8000))
		}
	}
	return s
}

// writeWAV writes an 8 kHz mono WAV of samples at p.
func writeWAV(t *testing.T, p string, samples []int16) {
	t.Helper()
	var b bytes.Buffer
	if err := errors.Join(media.WritePCM16(&b, 8000, 1, samples), os.WriteFile(p, b.Bytes(), 0o640)); err != nil {
		t.Fatal(err)
	}
}

// addRecording puts a stopped recording of a new call of tenant A (src and
// dst users; "" = an outside party) in the layout and the index: a WAV of
// samples, transcoded to f. mod adjusts the row before it is written.
func addRecording(ev *env, src, dst string, f recording.Format, samples []int16, mod func(*store.Recording)) (store.Call, store.Recording) {
	t := ev.t
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	start, id := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), uuid.NewString()
	call, err := ev.store.CreateCall(ctx, store.Call{TenantUUID: tenantA, PBXCallID: id, Start: start,
		Direction: store.DirectionInternal, SourceUserUUID: src, DestinationUserUUID: dst})
	must(err)
	p, err := media.BuildPath(ev.root, tenantA, start, call.ID, id, recording.WAV)
	must(err)
	writeWAV(t, p, samples)
	file, err := media.Inspect(p)
	if f != recording.WAV {
		file, err = media.Transcoder{}.Transcode(ctx, p, f)
	}
	must(err)
	end := start.Add(time.Duration(len(samples)) * time.Second / 8000)
	rec := store.Recording{UUID: id, CallID: call.ID, TenantUUID: tenantA, Start: start, End: &end,
		Filename: filepath.Base(file.Path), Format: string(f), Size: file.Size, Duration: end.Sub(start),
		SHA256: file.SHA256, State: string(recording.StateStopped), StartedBy: string(recording.ByPolicy)}
	if mod != nil {
		mod(&rec)
	}
	must(ev.store.CreateRecording(ctx, rec))
	return call, rec
}

func recPath(prefix string, call store.Call, rec store.Recording, what string) string {
	return fmt.Sprintf("%s%s/cdr/%d/recordings/%s/%s", own10, prefix, call.ID, rec.UUID, what)
}

// counter reads one of the API's counters from its registry.
func counter(ev *env, name string) float64 {
	ev.t.Helper()
	mfs, err := ev.reg.Gather()
	if err != nil {
		ev.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	ev.t.Fatalf("no metric %s", name)
	return 0
}

func decodeWaveform(t *testing.T, r resp) waveformJSON {
	t.Helper()
	var keys map[string]json.RawMessage
	var w waveformJSON
	if r.status != http.StatusOK || json.Unmarshal(r.body, &keys) != nil || json.Unmarshal(r.body, &w) != nil ||
		len(keys) != 3 || keys["duration"] == nil || keys["peaks"] == nil || keys["paused"] == nil {
		t.Fatalf("waveform: %d %s", r.status, r.body)
	}
	return w
}

// quietMiddle reports whether the middle third is silent and the rest loud.
func quietMiddle(w waveformJSON) bool {
	n := len(w.Peaks)
	for i, v := range w.Peaks {
		inGap := i > n/3+1 && i < 2*n/3-1
		inTone := i < n/3-1 || i > 2*n/3+1
		if inGap && v > 0.01 || inTone && v < 0.4 {
			return false
		}
	}
	return true
}

func TestWaveformIsComputedOnceAndFollowsTheFile(t *testing.T) {
	ev := newEnv(t)
	call, rec := addRecording(ev, userOlga, userAna, recording.WAV, toneGapTone(true), nil)
	w := decodeWaveform(t, ev.do("GET", recPath("", call, rec, "waveform"), ev.tokens["adminA"], nil))
	if w.Duration != 3 || len(w.Peaks) != media.DefaultBuckets || !quietMiddle(w) || len(w.Paused) != 0 {
		t.Fatalf("duration %v, %d peaks, quiet middle %v, paused %v", w.Duration, len(w.Peaks), quietMiddle(w), w.Paused)
	}
	if top := slices.Max(w.Peaks); top < 0.49 || top > 0.51 {
		t.Fatalf("loudest %v, want half scale", top)
	}
	// Cached: the user's form answers the same without reading the file.
	again := decodeWaveform(t, ev.do("GET", recPath("/users/me", call, rec, "waveform"), ev.tokens["ana"], nil))
	if n := counter(ev, "callrecd_waveforms_computed_total"); n != 1 || !slices.Equal(again.Peaks, w.Peaks) {
		t.Fatalf("%v computations; same peaks %v", n, slices.Equal(again.Peaks, w.Peaks))
	}
	p := filepath.Join(ev.root, "tenants", tenantA, "monitor", rec.Filename)
	st, _ := os.Stat(p)
	// The file changes (same size, the gap filled): computed again.
	writeWAV(t, p, toneGapTone(false))
	later := st.ModTime().Add(time.Second) // however coarse the filesystem's clock
	if err := os.Chtimes(p, later, later); err != nil {
		t.Fatal(err)
	}
	w = decodeWaveform(t, ev.do("GET", recPath("", call, rec, "waveform"), ev.tokens["adminA"], nil))
	if n := counter(ev, "callrecd_waveforms_computed_total"); n != 2 || quietMiddle(w) || slices.Min(w.Peaks[50:550]) < 0.4 {
		t.Fatalf("after the change: %v computations, quiet middle %v", n, quietMiddle(w))
	}
	// Another resolution; a bad one.
	if w = decodeWaveform(t, ev.do("GET", recPath("", call, rec, "waveform")+"?buckets=50", ev.tokens["adminA"], nil)); len(w.Peaks) != 50 {
		t.Fatalf("%d peaks", len(w.Peaks))
	}
	for _, bad := range []string{"0", "4001", "x"} {
		wantError(t, ev.do("GET", recPath("", call, rec, "waveform")+"?buckets="+bad, ev.tokens["adminA"], nil), 400, "invalid-data")
	}
}

// A paused span is an instant of the file's timeline where its audio was
// left out; with silence in the file instead (an older FreeSWITCH) it keeps
// its length.
func TestWaveformPausedSpans(t *testing.T) {
	ev := newEnv(t)
	call, rec := addRecording(ev, userOlga, userAna, recording.WAV, toneGapTone(true), func(r *store.Recording) {
		p1, p2 := r.Start.Add(1500*time.Millisecond), r.Start.Add(2500*time.Millisecond)
		end := r.Start.Add(4 * time.Second) // 3 s of audio over 4 s: the pause is not in the file
		r.End, r.PausedIntervals = &end, []store.Interval{{Start: p1, End: &p2}}
	})
	w := decodeWaveform(t, ev.do("GET", recPath("", call, rec, "waveform"), ev.tokens["adminA"], nil))
	if len(w.Paused) != 1 || w.Paused[0] != (spanJSON{Start: 1.5, End: 1.5}) {
		t.Fatalf("paused %+v", w.Paused)
	}

	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	at := func(ms int) *time.Time { v := t0.Add(time.Duration(ms) * time.Millisecond); return &v }
	ivs := []store.Interval{{Start: *at(5000), End: at(6000)}, {Start: *at(1000), End: at(3000)}}
	for _, tc := range []struct {
		name string
		end  *time.Time
		ivs  []store.Interval
		file time.Duration
		want []spanJSON
	}{
		{"cut, out of order", at(10000), ivs, 7 * time.Second, []spanJSON{{1, 1}, {3, 3}}},
		{"masked", at(10000), ivs, 10 * time.Second, []spanJSON{{1, 3}, {5, 6}}},
		{"live, still paused", nil, []store.Interval{{Start: *at(2000)}}, 2 * time.Second, []spanJSON{{2, 2}}},
		{"none", at(1000), nil, time.Second, []spanJSON{}},
	} {
		got := filePauses(store.Recording{Start: t0, End: tc.end, PausedIntervals: tc.ivs}, tc.file, t0.Add(20*time.Second))
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// A user never reaches a call it is not a party of; missing and deleted
// files are 404 naming the file.
func TestWebMediaNotFound(t *testing.T) {
	ev := newEnv(t)
	call, rec := addRecording(ev, userOlga, userAna, recording.WAV, toneGapTone(true), nil)
	anaOnly, anaRec := addRecording(ev, "", userAna, recording.AMR, toneGapTone(true), nil)
	for _, what := range []string{"waveform", "playable"} {
		wantError(t, ev.do("GET", recPath("/users/me", anaOnly, anaRec, what), ev.tokens["olga"], nil), 404, "not-found")
		r := ev.do("GET", recPath("/users/me", anaOnly, anaRec, what), ev.tokens["ana"], nil)
		if r.status != 200 {
			t.Fatalf("%s of Ana's own call: %d %s", what, r.status, r.body)
		}
		if what == "waveform" { // an AMR file: decoded by ffmpeg
			if w := decodeWaveform(t, r); math.Abs(w.Duration-3) > 0.1 || slices.Max(w.Peaks[240:360]) > 0.01 {
				t.Fatalf("AMR waveform: %v s, middle peak %v", w.Duration, slices.Max(w.Peaks[240:360]))
			}
		}
	}
	if err := os.Remove(filepath.Join(ev.root, "tenants", tenantA, "monitor", rec.Filename)); err != nil {
		t.Fatal(err)
	}
	if r := ev.do("DELETE", fmt.Sprintf("/api/call-logd/1.0/cdr/%d/recordings/%s/media", anaOnly.ID, anaRec.UUID), ev.tokens["adminA"], nil); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	for _, what := range []string{"waveform", "playable"} {
		for i, r := range []store.Recording{rec, anaRec} { // missing file, deleted recording
			got := ev.do("GET", recPath("", []store.Call{call, anaOnly}[i], r, what), ev.tokens["adminA"], nil)
			wantError(t, got, 404, "recording-media-not-found")
			if d := got.json(t)["details"].(map[string]any); d["filename"] != r.Filename || d["recording_uuid"] != r.UUID {
				t.Fatalf("%s: details %v", what, d)
			}
		}
	}
}

// httpGet asks the loopback server; hdr is header name/value pairs.
func httpGet(t *testing.T, url, token string, hdr ...string) resp {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Auth-Token", token)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err) // from the concurrent requests' goroutines too
		return resp{}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Error(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// An AMR recording plays as an MP3 made once, however many ask at once,
// with Range and an audit entry; the download stays the AMR file. A WAV
// plays as it is.
func TestPlayableAMR(t *testing.T) {
	ev := newEnv(t)
	srv := httptest.NewServer(ev.e)
	t.Cleanup(srv.Close)
	call, rec := addRecording(ev, userOlga, userAna, recording.AMR, toneGapTone(true), nil)
	url := srv.URL + recPath("", call, rec, "playable")
	var wg sync.WaitGroup
	got, start := make([]resp, 4), make(chan struct{})
	for i := range got {
		wg.Go(func() {
			<-start
			got[i] = httpGet(t, url, ev.tokens["adminA"])
		})
	}
	close(start)
	wg.Wait()
	for i, r := range got {
		if r.status != 200 || r.header.Get("Content-Type") != "audio/mpeg" || !bytes.Equal(r.body, got[0].body) {
			t.Fatalf("request %d: %d %q, %d bytes", i, r.status, r.header.Get("Content-Type"), len(r.body))
		}
	}
	if n := counter(ev, "callrecd_playable_transcodes_total"); n != 1 {
		t.Fatalf("%v transcodes for 4 concurrent requests", n)
	}
	probe := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name,sample_rate", "-of", "csv=p=0", "-")
	probe.Stdin = bytes.NewReader(got[0].body)
	out, err := probe.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "mp3,8000" {
		t.Fatalf("ffprobe: %q %v", out, err)
	}
	if cd := got[0].header.Get("Content-Disposition"); !strings.HasPrefix(cd, "inline") || !strings.Contains(cd, ".mp3") {
		t.Fatalf("Content-Disposition %q", cd)
	}
	// Range, as a browser seeking asks; the user's form; ETag revalidation.
	r := httpGet(t, srv.URL+recPath("/users/me", call, rec, "playable"), ev.tokens["olga"], "Range", "bytes=100-199")
	if want := fmt.Sprintf("bytes 100-199/%d", len(got[0].body)); r.status != 206 || r.header.Get("Content-Range") != want ||
		!bytes.Equal(r.body, got[0].body[100:200]) {
		t.Fatalf("range: %d %q", r.status, r.header.Get("Content-Range"))
	}
	if r := httpGet(t, url, ev.tokens["adminA"], "If-None-Match", got[0].header.Get("ETag")); r.status != 304 {
		t.Fatalf("If-None-Match: %d", r.status)
	}
	wantError(t, ev.do("GET", recPath("", call, rec, "playable"), ev.tokens["adminA"], nil, "Range", "bytes=999999-"), 416, "range-not-satisfiable")
	// Every answer with bytes was audited: 4 full listens and one range.
	entries, err := ev.store.ListAudit(context.Background(), store.AuditFilter{Tenant: tenantA})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(slices.DeleteFunc(entries, func(e store.AuditEntry) bool {
		return e.Action != "recording.listen" || e.ObjectID != rec.UUID || e.Details["transcoded_to"] != "mp3"
	})); n != 5 {
		t.Fatalf("%d listens audited, want 5", n)
	}
	// The download is the original.
	dl := httpGet(t, srv.URL+fmt.Sprintf("/api/call-logd/1.0/cdr/%d/recordings/%s/media", call.ID, rec.UUID), ev.tokens["adminA"])
	if dl.status != 200 || !bytes.HasPrefix(dl.body, []byte("#!AMR\n")) || dl.header.Get("Content-Type") != "audio/amr" {
		t.Fatalf("download: %d %q", dl.status, dl.header.Get("Content-Type"))
	}
	// A WAV (as an MP3) plays as the media route serves it, untouched.
	seed := ev.callA.Recordings[0]
	w := httpGet(t, srv.URL+recPath("", ev.callA, seed, "playable"), ev.tokens["adminA"])
	if w.status != 200 || !bytes.Equal(w.body, ev.wav) || w.header.Get("Content-Type") != "audio/wav" ||
		!strings.HasPrefix(w.header.Get("Content-Disposition"), "inline") || w.header.Get("ETag") == "" {
		t.Fatalf("WAV: %d %v", w.status, w.header)
	}
	if w = httpGet(t, srv.URL+recPath("/users/me", ev.callA, seed, "playable"), ev.tokens["olga"], "Range", "bytes=0-43"); w.status != 206 || !bytes.Equal(w.body, ev.wav[:44]) {
		t.Fatalf("WAV range: %d", w.status)
	}
	if n := counter(ev, "callrecd_playable_transcodes_total"); n != 1 {
		t.Fatalf("%v transcodes after a WAV", n)
	}
}

// The route sweeps the cache: copies older than a week and those of deleted
// recordings go; files that are not copies stay.
func TestPlayableCacheEviction(t *testing.T) {
	ev := newEnv(t)
	call, rec := addRecording(ev, userOlga, userAna, recording.AMR, toneGapTone(true), nil)
	_, gone := addRecording(ev, userOlga, userAna, recording.WAV, toneGapTone(true), func(r *store.Recording) { r.Deleted = true })
	if r := ev.do("GET", recPath("", call, rec, "playable"), ev.tokens["adminA"], nil); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	dir := filepath.Join(filepath.Dir(ev.store.Path()), "cache")
	copies, _ := filepath.Glob(filepath.Join(dir, rec.UUID+"-*.mp3"))
	if len(copies) != 1 {
		t.Fatalf("copies %v", copies)
	}
	old := time.Now().Add(-8 * 24 * time.Hour)
	deleted := filepath.Join(dir, gone.UUID+"-1-2.mp3")
	unknown := filepath.Join(dir, "00000000-0000-4000-8000-000000000000-1-2.mp3")
	foreign := filepath.Join(dir, "README")
	if err := errors.Join(os.Chtimes(copies[0], old, old), os.WriteFile(deleted, nil, 0o600), os.WriteFile(unknown, nil, 0o600),
		os.WriteFile(foreign, nil, 0o600)); err != nil {
		t.Fatal(err)
	}
	ev.build() // a restart: the sweep is due at the first request
	if r := ev.do("GET", recPath("", call, rec, "playable"), ev.tokens["adminA"], nil); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	for p, kept := range map[string]bool{deleted: false, unknown: false, foreign: true} {
		if _, err := os.Stat(p); (err == nil) != kept {
			t.Errorf("%s kept: %v, want %v", filepath.Base(p), err == nil, kept)
		}
	}
	st, err := os.Stat(copies[0])
	if err != nil || st.ModTime().Before(time.Now().Add(-time.Hour)) || counter(ev, "callrecd_playable_transcodes_total") != 1 {
		t.Fatalf("the old copy was not made again: %v %v", st, err)
	}
}

func TestDashboard(t *testing.T) {
	ev := newEnv(t)
	now := time.Date(2026, 12, 15, 10, 0, 0, 0, time.UTC)
	ctx := context.Background()
	add := func(tenant, src, dst string, at time.Time, d time.Duration, size int64) {
		c, err := ev.store.CreateCall(ctx, store.Call{TenantUUID: tenant, PBXCallID: uuid.NewString(), Start: at,
			SourceUserUUID: src, DestinationUserUUID: dst})
		if err == nil {
			err = ev.store.CreateRecording(ctx, store.Recording{UUID: uuid.NewString(), CallID: c.ID, TenantUUID: tenant,
				Start: at, Filename: "x.wav", Format: "wav", Size: size, Duration: d, State: "stopped", StartedBy: "policy"})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	add(tenantA, userOlga, userAna, now.Add(-time.Hour), 10*time.Second, 1000)
	add(tenantA, userOlga, "", time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC), 2500*time.Millisecond, 500)
	add(tenantA, "", userAna, time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC), 4*time.Second, 300)
	add(tenantA, "", userAna, time.Date(2026, 11, 15, 23, 59, 59, 0, time.UTC), time.Second, 50) // 31 days ago
	add(tenantB, "", userBob, now, time.Minute, 7777)
	seed := int64(len(ev.wav)) // the env's recording of Olga and Ana
	const down = "ari: dial tcp 127.0.0.1:8088: connection refused"
	e, err := New(Options{Store: ev.store, StorageRoot: ev.root, Now: func() time.Time { return now },
		Ready:   func() error { return errors.New(down) },
		Space:   func() (media.Space, error) { return media.Space{Free: 5 << 30, Total: 100 << 30}, nil },
		MinFree: media.Floor{Bytes: 1 << 30, Percent: 2}}) // 2 % of 100 GiB is above 1 GiB
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		name, path  string
		auth        []string   // token, then headers
		first, last [2]float64 // count and seconds of the oldest day and of today
		used        int64
	}{
		{"admin", "/dashboard", []string{ev.tokens["adminA"]}, [2]float64{1, 4}, [2]float64{2, 12.5}, 1000 + 500 + 300 + 50 + seed},
		{"system as A", "/dashboard", []string{ev.tokens["system"], "Wazo-Tenant", tenantA}, [2]float64{1, 4}, [2]float64{2, 12.5}, 1000 + 500 + 300 + 50 + seed},
		{"Olga", "/users/me/dashboard", []string{ev.tokens["olga"]}, [2]float64{0, 0}, [2]float64{2, 12.5}, 1000 + 500 + seed},
		{"Ana", "/users/me/dashboard", []string{ev.tokens["ana"]}, [2]float64{1, 4}, [2]float64{1, 10}, 1000 + 300 + 50 + seed},
	} {
		days := make([]any, 30)
		for i := range days {
			days[i] = map[string]any{"day": now.AddDate(0, 0, i-29).Format("2006-01-02"), "count": 0.0, "seconds": 0.0}
		}
		days[0] = map[string]any{"day": "2026-11-16", "count": tc.first[0], "seconds": tc.first[1]}
		days[29] = map[string]any{"day": "2026-12-15", "count": tc.last[0], "seconds": tc.last[1]}
		want := map[string]any{"recordings_per_day": days,
			"storage": map[string]any{"used_bytes": float64(tc.used), "free_bytes": float64(5 << 30), "min_free_bytes": float64(2 << 30)},
			"pbx":     map[string]any{"linked": false, "error": down}}
		r := httpGet(t, srv.URL+own10+tc.path, tc.auth[0], tc.auth[1:]...)
		var got any
		if err := json.Unmarshal(r.body, &got); err != nil || r.status != 200 || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %d %s\nwant %v", tc.name, r.status, r.body, want)
		}
	}
	if r := httpGet(t, srv.URL+own10+"/dashboard", ev.tokens["olga"]); r.status != 403 {
		t.Fatalf("a user on the admin dashboard: %d", r.status)
	}
	// The env's own server: a PBX without a Ready func is linked.
	r := ev.do("GET", own10+"/dashboard", ev.tokens["adminB"], nil)
	if r.status != 200 || r.json(t)["pbx"].(map[string]any)["linked"] != true {
		t.Fatalf("%d %s", r.status, r.body)
	}
}

// webMediaTenancyCases: tenant B never reaches A's recordings; its
// dashboard holds nothing of A.
func webMediaTenancyCases(ev *env) map[string]tenancyCase {
	rec := fmt.Sprintf("/cdr/%d/recordings/%s/", ev.callA.ID, recSeed)
	c := map[string]tenancyCase{
		"GET " + own10 + "/dashboard":          {path: own10 + "/dashboard", want: "list"},
		"GET " + own10 + "/users/me/dashboard": {path: own10 + "/users/me/dashboard", want: "list"},
	}
	for _, what := range []string{"waveform", "playable"} {
		c["GET "+own10+"/cdr/:cdr_id/recordings/:recording_uuid/"+what] = tenancyCase{path: own10 + rec + what, want: 404}
		c["GET "+own10+"/users/me/cdr/:cdr_id/recordings/:recording_uuid/"+what] = tenancyCase{path: own10 + "/users/me" + rec + what, want: 404}
	}
	return c
}
