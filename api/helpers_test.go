package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/media"
	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// The seed's example: tenant, Olga (caller) and Anastasia (callee).
const (
	tenantA   = "2c34c282-433e-4bb8-8d56-fec14ff7e1e9"
	tenantB   = "8f0b5b1e-5d1c-4c53-9d7e-6a0c1b2d3e4f"
	userOlga  = "b2e98781-7118-4010-8da3-b93b1b7e1389"
	userAna   = "def42192-837a-41e0-aa4e-86390e46eb17"
	userBob   = "0b0b0b0b-1111-4222-8333-444455556666" // tenant B
	recSeed   = "5ea37d0b-0823-4d2b-a18c-b9082e551b50"
	groupA    = "11111111-2222-4333-8444-555555555555"
	queueA    = "66666666-7777-4888-8999-aaaaaaaaaaaa"
	groupB    = "bbbbbbbb-2222-4333-8444-555555555555"
	liveChanA = "1620999999.42" // a channel of a live call of tenant A
)

// fakeCalls is a CallControl whose behaviour each test sets, function by
// function; unset functions answer "no such call".
type fakeCalls struct {
	calls  func(tenant string) []engine.CallInfo
	call   func(tenant, ref string) (engine.CallInfo, error)
	action func(op, tenant, ref string, who recording.StartedBy) (engine.RecordingInfo, error)
}

func (f *fakeCalls) Calls(tenant string) []engine.CallInfo {
	if f.calls == nil {
		return nil
	}
	return f.calls(tenant)
}

func (f *fakeCalls) Call(tenant, ref string) (engine.CallInfo, error) {
	if f.call == nil {
		return engine.CallInfo{}, engine.ErrNoSuchCall
	}
	return f.call(tenant, ref)
}

func (f *fakeCalls) do(op, tenant, ref string, who recording.StartedBy) (engine.RecordingInfo, error) {
	if f.action == nil {
		return engine.RecordingInfo{}, engine.ErrNoSuchCall
	}
	return f.action(op, tenant, ref, who)
}

func (f *fakeCalls) StartRecording(_ context.Context, t, r string, w recording.StartedBy) (engine.RecordingInfo, error) {
	return f.do("start", t, r, w)
}
func (f *fakeCalls) StopRecording(_ context.Context, t, r string, w recording.StartedBy) (engine.RecordingInfo, error) {
	return f.do("stop", t, r, w)
}
func (f *fakeCalls) PauseRecording(_ context.Context, t, r string, w recording.StartedBy) (engine.RecordingInfo, error) {
	return f.do("pause", t, r, w)
}
func (f *fakeCalls) ResumeRecording(_ context.Context, t, r string, w recording.StartedBy) (engine.RecordingInfo, error) {
	return f.do("resume", t, r, w)
}

// liveCallA is a live call of tenant A between Olga and Anastasia.
func liveCallA() engine.CallInfo {
	start := time.Date(2021, 5, 14, 17, 47, 15, 0, time.UTC)
	return engine.CallInfo{ID: 1, PBXCallID: "1620999999.41", Tenant: tenantA, Start: start, Answer: start.Add(2 * time.Second),
		Direction: engine.DirInternal, Record: recording.StateRecording,
		Parties: []engine.PartyInfo{
			{Channel: "1620999999.41", Role: engine.RoleInternal, UserUUID: userOlga, Number: "1015", Name: "Olga Romanov", Answered: true},
			{Channel: liveChanA, Role: engine.RoleInternal, UserUUID: userAna, Number: "1011", Name: "Anastasia Romanov", Answered: true},
		},
		Recordings: []engine.RecordingInfo{{RecordingRow: engine.RecordingRow{UUID: recSeed, CallID: 1, Tenant: tenantA,
			Start: start.Add(time.Second), State: recording.StateRecording, StartedBy: recording.ByPolicy}, Live: true}},
	}
}

// engineLike answers like the engine: calls are found by channel, PBX call
// id or CDR id within the tenant ("" = any).
func engineLike(calls ...engine.CallInfo) *fakeCalls {
	find := func(tenant, ref string) (engine.CallInfo, error) {
		for _, c := range calls {
			if tenant != "" && c.Tenant != tenant {
				continue
			}
			if c.PBXCallID == ref || fmt.Sprint(c.ID) == ref {
				return c, nil
			}
			for _, p := range c.Parties {
				if p.Channel == ref {
					return c, nil
				}
			}
		}
		return engine.CallInfo{}, fmt.Errorf("%w: %q", engine.ErrNoSuchCall, ref)
	}
	return &fakeCalls{
		calls: func(tenant string) []engine.CallInfo {
			var out []engine.CallInfo
			for _, c := range calls {
				if tenant == "" || c.Tenant == tenant {
					out = append(out, c)
				}
			}
			return out
		},
		call: find,
		action: func(op, tenant, ref string, who recording.StartedBy) (engine.RecordingInfo, error) {
			c, err := find(tenant, ref)
			if err != nil {
				return engine.RecordingInfo{}, err
			}
			if who != recording.ByAPI {
				return engine.RecordingInfo{}, fmt.Errorf("who = %q", who)
			}
			r := c.Recordings[0]
			r.Tenant = c.Tenant
			return r, nil
		},
	}
}

type env struct {
	t       *testing.T
	store   *store.Store
	root    string
	e       *echo.Echo
	reg     *prometheus.Registry
	metrics *Metrics
	calls   *fakeCalls
	ready   error
	tokens  map[string]string // name → plain token
	callA   store.Call        // the seed's call, tenant A, Olga → Anastasia
	callB   store.Call        // a call of tenant B
	wav     []byte            // the seed recording's file content
	ids     map[string]int64  // feature ids etc.
	logs    *bytes.Buffer
	proxies []*net.IPNet // Options.TrustedProxies
}

// newEnv builds a store with two tenants, users, groups, queues, tokens, the
// seed's call and recording (with a real WAV under the storage root) and a
// call of tenant B.
func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "callrecd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx, 0); err != nil {
		t.Fatal(err)
	}
	ev := &env{t: t, store: st, root: filepath.Join(dir, "sounds"), tokens: map[string]string{}, ids: map[string]int64{},
		logs: &bytes.Buffer{}}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, tn := range []string{tenantA, tenantB} {
		_, err := st.CreateTenant(ctx, store.NewTenant(tn, "tenant "+tn[:4]), nil)
		must(err)
	}
	for _, u := range []store.User{
		{UUID: userOlga, TenantUUID: tenantA, Extension: "1015", Firstname: "Olga", Lastname: "Romanov", Endpoints: []string{"olga"}},
		{UUID: userAna, TenantUUID: tenantA, Extension: "1011", Firstname: "Anastasia", Lastname: "Romanov", Endpoints: []string{"ana"}},
		{UUID: userBob, TenantUUID: tenantB, Extension: "2001", Firstname: "Bob", Lastname: "B"},
	} {
		_, err := st.CreateUser(ctx, u)
		must(err)
	}
	for _, g := range []store.Group{
		{UUID: groupA, TenantUUID: tenantA, Kind: store.KindGroup, Name: "sales", Members: []string{userAna}},
		{UUID: queueA, TenantUUID: tenantA, Kind: store.KindQueue, Name: "support"},
		{UUID: groupB, TenantUUID: tenantB, Kind: store.KindGroup, Name: "sales"},
	} {
		_, err := st.CreateGroup(ctx, g)
		must(err)
	}
	for _, tok := range []struct {
		name string
		t    store.Token
	}{
		{"system", store.Token{Role: store.RoleSystem}},
		{"adminA", store.Token{Role: store.RoleAdmin, TenantUUID: tenantA}},
		{"adminB", store.Token{Role: store.RoleAdmin, TenantUUID: tenantB}},
		{"olga", store.Token{Role: store.RoleUser, TenantUUID: tenantA, UserUUID: userOlga}},
		{"ana", store.Token{Role: store.RoleUser, TenantUUID: tenantA, UserUUID: userAna}},
		{"bob", store.Token{Role: store.RoleUser, TenantUUID: tenantB, UserUUID: userBob}},
	} {
		created, plain, err := st.CreateToken(ctx, tok.t)
		must(err)
		ev.tokens[tok.name] = plain
		ev.tokens[tok.name+"-id"] = created.ID
	}
	fs, err := st.ListFeatureExtensions(ctx, tenantA, string(recording.FeatureCallRecord))
	must(err)
	ev.ids["featureA"] = fs[0].ID

	// The seed's call and recording, times to the microsecond.
	at := func(s string) *time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		must(err)
		return &v
	}
	callA, err := st.CreateCall(ctx, store.Call{TenantUUID: tenantA, PBXCallID: "1620999999.41",
		Start: *at("2021-05-14T17:47:15.632882Z"), Answer: at("2021-05-14T17:47:18.146089Z"),
		End: at("2021-05-14T17:47:22.979637Z"), Direction: store.DirectionInternal,
		SourceExtension: "1015", SourceName: "Olga Romanov", SourceUserUUID: userOlga,
		DestinationExtension: "1011", DestinationName: "Anastasia Romanov", DestinationUserUUID: userAna,
		RequestedExtension: "1011", Tags: []string{"olga"}})
	must(err)
	ev.wav = testWAV(t)
	name, err := recording.Name{Start: *at("2021-05-14T17:47:16Z"), CallID: callA.ID, RecordingUUID: recSeed, Format: recording.WAV}.FileName()
	must(err)
	must(os.MkdirAll(filepath.Join(ev.root, "tenants", tenantA, "monitor"), 0o750))
	must(os.WriteFile(filepath.Join(ev.root, "tenants", tenantA, "monitor", name), ev.wav, 0o640))
	must(st.CreateRecording(ctx, store.Recording{UUID: recSeed, CallID: callA.ID, TenantUUID: tenantA,
		Start: *at("2021-05-14T17:47:16.701984Z"), End: at("2021-05-14T17:47:22.979637Z"), Filename: name,
		Format: string(recording.WAV), Size: int64(len(ev.wav)), State: string(recording.StateStopped), StartedBy: string(recording.ByPolicy)}))
	ev.callA, err = st.GetCall(ctx, tenantA, callA.ID)
	must(err)

	callB, err := st.CreateCall(ctx, store.Call{TenantUUID: tenantB, PBXCallID: "b.1", Start: time.Now().UTC(),
		Direction: store.DirectionInbound, SourceExtension: "+15550001", DestinationExtension: "2001", DestinationUserUUID: userBob})
	must(err)
	const recB = "bbbbbbbb-0823-4d2b-a18c-b9082e551b50"
	must(os.MkdirAll(filepath.Join(ev.root, "tenants", tenantB, "monitor"), 0o750))
	must(os.WriteFile(filepath.Join(ev.root, "tenants", tenantB, "monitor", "b.wav"), ev.wav, 0o640))
	must(st.CreateRecording(ctx, store.Recording{UUID: recB, CallID: callB.ID, TenantUUID: tenantB, Start: callB.Start,
		Filename: "b.wav", Format: string(recording.WAV), State: string(recording.StateStopped), StartedBy: string(recording.ByPolicy)}))
	ev.callB, err = st.GetCall(ctx, tenantB, callB.ID)
	must(err)

	ev.calls = engineLike(liveCallA())
	ev.build()
	return ev
}

// build (re)creates the API over the env's store.
func (ev *env) build() {
	ev.t.Helper()
	ev.reg = prometheus.NewRegistry()
	m, err := NewMetrics(ev.reg)
	if err != nil {
		ev.t.Fatal(err)
	}
	ev.metrics = m
	var cc CallControl
	if ev.calls != nil {
		cc = ev.calls
	}
	e, err := New(Options{Store: ev.store, StorageRoot: ev.root, Calls: cc, Registry: ev.reg, Metrics: m,
		Ready:    func() error { return ev.ready },
		Logger:   slog.New(slog.NewTextHandler(ev.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Contexts: map[string]string{tenantA: "inside"}, TrustedProxies: ev.proxies, Exports: newTestExporter(ev)})
	if err != nil {
		ev.t.Fatal(err)
	}
	ev.e = e
}

// testWAV is one second of 8 kHz 16-bit mono silence with a ramp.
func testWAV(t *testing.T) []byte {
	t.Helper()
	samples := make([]int16, 8000)
	for i := range samples {
		samples[i] = int16(i % 200)
	}
	var b bytes.Buffer
	if err := media.WritePCM16(&b, 8000, 1, samples); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

// do runs one request through the handler. hdr is header name/value pairs.
func (ev *env) do(method, path, token string, body any, hdr ...string) resp {
	ev.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			ev.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	ev.e.ServeHTTP(rec, req)
	return resp{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// wantError checks a Wazo-shaped error answer.
func wantError(t *testing.T, r resp, status int, errorID string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d: %s", r.status, status, r.body)
	}
	m := r.json(t)
	if _, ok := m["message"].(string); !ok {
		t.Fatalf("no message: %s", r.body)
	}
	if _, ok := m["details"].(map[string]any); !ok {
		t.Fatalf("no details object: %s", r.body)
	}
	// Wazo's four keys: its Python clients recognise an error by them.
	if _, ok := m["error_id"].(string); !ok {
		t.Fatalf("no error_id: %s", r.body)
	}
	if ts, ok := m["timestamp"].(float64); !ok || ts < 1e9 {
		t.Fatalf("no Unix timestamp: %s", r.body)
	}
	if errorID != "" && m["error_id"] != errorID {
		t.Fatalf("error_id = %v, want %s: %s", m["error_id"], errorID, r.body)
	}
}
