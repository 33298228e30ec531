package api

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
)

// addCall adds an ended, answered-or-not call of tenant A.
func (ev *env) addCall(start time.Time, src, srcUser, dst, dstUser string, answered bool) store.Call {
	ev.t.Helper()
	end := start.Add(time.Minute)
	c := store.Call{TenantUUID: tenantA, PBXCallID: fmt.Sprintf("%d.%d", start.Unix(), start.Nanosecond()),
		Start: start, End: &end, Direction: store.DirectionInternal, SourceExtension: src, SourceUserUUID: srcUser,
		DestinationExtension: dst, DestinationUserUUID: dstUser}
	if answered {
		a := start.Add(time.Second)
		c.Answer = &a
	}
	created, err := ev.store.CreateCall(context.Background(), c)
	if err != nil {
		ev.t.Fatal(err)
	}
	return created
}

func ids(t *testing.T, r resp) []int64 {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var out []int64
	for _, it := range r.json(t)["items"].([]any) {
		out = append(out, int64(it.(map[string]any)["id"].(float64)))
	}
	return out
}

// TestCDRNewestFirstByDefault: Wazo's order=start, direction=desc.
func TestCDRNewestFirstByDefault(t *testing.T) {
	ev := newEnv(t)
	later := ev.addCall(ev.callA.Start.Add(time.Hour), "1015", userOlga, "1011", userAna, true)
	admin := ev.tokens["adminA"]
	if got := ids(t, ev.do("GET", "/api/call-logd/1.0/cdr", admin, nil)); !slices.Equal(got, []int64{later.ID, ev.callA.ID}) {
		t.Fatalf("default order %v, want newest first", got)
	}
	if got := ids(t, ev.do("GET", "/api/call-logd/1.0/cdr?direction=asc", admin, nil)); !slices.Equal(got, []int64{ev.callA.ID, later.ID}) {
		t.Fatalf("direction=asc %v", got)
	}
}

// TestLenientLikeWazo: unknown query parameters and body fields are
// ignored (the SDK's updateUser and listDistinctCallLogs); wrong types are
// still refused naming the field.
func TestLenientLikeWazo(t *testing.T) {
	ev := newEnv(t)
	admin, olga := ev.tokens["adminA"], ev.tokens["olga"]
	user := "/api/confd/1.1/users/" + userOlga
	r := ev.do("PUT", user, admin, `{"firstname":"Olya","lastname":"Romanova","email":"olga@example.com","mobile_phone_number":"+15550100"}`)
	if r.status != http.StatusNoContent {
		t.Fatalf("SDK updateUser: %d %s", r.status, r.body)
	}
	u, err := ev.store.GetUser(context.Background(), tenantA, userOlga)
	if err != nil || u.Firstname != "Olya" || u.Lastname != "Romanova" || u.Email != "olga@example.com" {
		t.Fatalf("user after PUT: %+v %v", u, err)
	}
	if !strings.Contains(ev.logs.String(), "mobile_phone_number") {
		t.Fatalf("ignored field not logged at debug: %s", ev.logs.String())
	}
	r = ev.do("PUT", user, admin, `{"firstname":7}`)
	wantError(t, r, 400, "invalid-data")
	if _, ok := r.json(t)["details"].(map[string]any)["firstname"]; !ok {
		t.Fatalf("wrong type does not name the field: %s", r.body)
	}
	// Wazo's confd client sends a feature back with its id.
	fid := ev.ids["featureA"]
	r = ev.do("PUT", fmt.Sprintf("/api/confd/1.1/extensions/features/%d", fid), admin,
		fmt.Sprintf(`{"id":%d,"exten":"*26","context":"xivo-features","feature":"callrecord","enabled":false}`, fid))
	if r.status != http.StatusNoContent {
		t.Fatalf("confd client's feature PUT: %d %s", r.status, r.body)
	}
	if f, _ := ev.store.GetFeatureExtension(context.Background(), tenantA, fid); f.Enabled {
		t.Fatal("*26 still enabled")
	}
	// Unknown query parameters are ignored; known ones are read.
	if got := ids(t, ev.do("GET", "/api/call-logd/1.0/cdr?sort=start&whatever=1&tenant="+tenantA, admin, nil)); len(got) != 1 {
		t.Fatalf("unknown params: %v", got)
	}
	// distinct=peer_exten: Olga's newest call per peer.
	base := ev.callA.Start
	c1 := ev.addCall(base.Add(1*time.Hour), "1015", userOlga, "1011", userAna, true)
	c2 := ev.addCall(base.Add(2*time.Hour), "1099", "", "1015", userOlga, false)
	c3 := ev.addCall(base.Add(3*time.Hour), "1015", userOlga, "1099", "", true)
	ev.addCall(base.Add(4*time.Hour), "2001", "", "1011", userAna, true) // not Olga's
	got := ids(t, ev.do("GET", "/api/call-logd/1.0/users/me/cdr?distinct=peer_exten&limit=5&offset=0", olga, nil))
	if !slices.Equal(got, []int64{c3.ID, c1.ID}) {
		t.Fatalf("distinct=peer_exten: %v, want [%d %d] (c2 %d is older with 1099)", got, c3.ID, c1.ID, c2.ID)
	}
	got = ids(t, ev.do("GET", "/api/call-logd/1.0/cdr?distinct=peer_exten&user_uuid="+userOlga, admin, nil))
	if !slices.Contains(got, c3.ID) || slices.Contains(got, c2.ID) || slices.Contains(got, ev.callA.ID) {
		t.Fatalf("admin distinct=peer_exten: %v", got)
	}
}

// TestNewCDRFieldsAndFilters: call_status and conversation_id filter;
// GET /cdr/{id} answers CSV when asked; the CSV carries callrecd's
// recording keys.
func TestNewCDRFieldsAndFilters(t *testing.T) {
	ev := newEnv(t)
	admin := ev.tokens["adminA"]
	missed := ev.addCall(ev.callA.Start.Add(time.Hour), "1011", userAna, "1015", userOlga, false)
	if got := ids(t, ev.do("GET", "/api/call-logd/1.0/cdr?call_status=answered", admin, nil)); !slices.Equal(got, []int64{ev.callA.ID}) {
		t.Fatalf("answered: %v", got)
	}
	r := ev.do("GET", "/api/call-logd/1.0/cdr?call_status=unknown", admin, nil)
	if got := ids(t, r); !slices.Equal(got, []int64{missed.ID}) || r.json(t)["items"].([]any)[0].(map[string]any)["call_status"] != "unknown" {
		t.Fatalf("unknown: %v %s", got, r.body)
	}
	if got := ids(t, ev.do("GET", "/api/call-logd/1.0/cdr?call_status=voicemail", admin, nil)); len(got) != 0 {
		t.Fatalf("voicemail: %v", got)
	}
	if got := ids(t, ev.do("GET", "/api/call-logd/1.0/cdr?conversation_id=1620999999.41", admin, nil)); !slices.Equal(got, []int64{ev.callA.ID}) {
		t.Fatalf("conversation_id: %v", got)
	}
	// One CDR as CSV, as Wazo answers for Accept: text/csv.
	r = ev.do("GET", fmt.Sprintf("/api/call-logd/1.0/cdr/%d", ev.callA.ID), admin, nil, "Accept", "text/csv")
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("GET /cdr/{id} as CSV: %d %q %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("csv: %v %q", err, r.body)
	}
	col := func(name string) string {
		i := slices.Index(rows[0], name)
		if i < 0 {
			t.Fatalf("no column %s in %v", name, rows[0])
		}
		return rows[1][i]
	}
	if col("id") != fmt.Sprint(ev.callA.ID) || col("call_status") != "answered" || col("recording_1_uuid") != recSeed ||
		col("recording_1_state") != "stopped" || col("recording_1_started_by") != "policy" || col("recording_1_size") != "16044" {
		t.Fatalf("csv row: %v", rows)
	}
	if r := ev.do("GET", fmt.Sprintf("/api/call-logd/1.0/cdr/%d", ev.callA.ID), admin, nil, "Accept", "application/json"); r.status != 200 || r.json(t)["id"] == nil {
		t.Fatalf("GET /cdr/{id} JSON: %d", r.status)
	}
}

// TestRecordingStopReasonIsShown: why a recording stopped, its paused
// spans and file facts are in /cdr and /calls.
func TestRecordingStopReasonIsShown(t *testing.T) {
	ev := newEnv(t)
	ctx := context.Background()
	rec := ev.callA.Recordings[0]
	p0 := rec.Start.Add(time.Second)
	p1 := p0.Add(2 * time.Second)
	rec.State, rec.StopReason, rec.PausedIntervals = string(recording.StateStopped), string(recording.StopDTMF), []store.Interval{{Start: p0, End: &p1}}
	if err := ev.store.UpdateRecordingState(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := ev.store.SetRecordingFile(ctx, rec.UUID, store.FileInfo{Filename: rec.Filename, Format: "wav", Size: 16044,
		Duration: 1500 * time.Millisecond, SHA256: "abc"}); err != nil {
		t.Fatal(err)
	}
	r := ev.do("GET", "/api/call-logd/1.0/cdr", ev.tokens["adminA"], nil)
	got := r.json(t)["items"].([]any)[0].(map[string]any)["recordings"].([]any)[0].(map[string]any)
	paused := got["paused_intervals"].([]any)
	if got["stop_reason"] != "dtmf" || got["state"] != "stopped" || got["duration"] != 1.5 || got["sha256"] != "abc" ||
		got["format"] != "wav" || len(paused) != 1 || paused[0].(map[string]any)["start"] != ts(p0) {
		t.Fatalf("recording: %v", got)
	}
	// A live call's stopped recording says why, too.
	call := liveCallA()
	call.Recordings[0].State, call.Recordings[0].StopReason = recording.StateStopped, recording.StopAPI
	ev.calls = engineLike(call)
	ev.build()
	r = ev.do("GET", "/api/calld/1.0/calls", ev.tokens["adminA"], nil)
	lr := r.json(t)["items"].([]any)[0].(map[string]any)["recordings"].([]any)[0].(map[string]any)
	if lr["stop_reason"] != "api" || lr["paused_intervals"] == nil {
		t.Fatalf("/calls recording: %v", lr)
	}
}

// TestUserHasWazosShape: what Wazo's SDK Profile.parse reads is there.
func TestUserHasWazosShape(t *testing.T) {
	ev := newEnv(t)
	u := ev.do("GET", "/api/confd/1.1/users/"+userOlga, ev.tokens["adminA"], nil).json(t)
	lines, _ := u["lines"].([]any)
	if len(lines) != 1 {
		t.Fatalf("lines: %v", u["lines"])
	}
	line := lines[0].(map[string]any)
	ext := line["extensions"].([]any)[0].(map[string]any)
	if line["id"] != float64(1) || ext["exten"] != "1015" || ext["context"] != "inside" ||
		line["endpoint_sip"].(map[string]any)["name"] != "olga" {
		t.Fatalf("line: %v", line)
	}
	fw, _ := u["forwards"].(map[string]any)
	for _, k := range []string{"busy", "noanswer", "unconditional"} {
		f, ok := fw[k].(map[string]any)
		if !ok || f["enabled"] != false {
			t.Fatalf("forwards.%s: %v", k, u["forwards"])
		}
	}
	if dnd := u["services"].(map[string]any)["dnd"].(map[string]any); dnd["enabled"] != false {
		t.Fatalf("services: %v", u["services"])
	}
	for _, k := range []string{"incalls", "switchboards", "call_pickup_target_users"} {
		if _, ok := u[k].([]any); !ok {
			t.Fatalf("%s: %v", k, u[k])
		}
	}
	if u["uuid"] != userOlga || u["firstname"] != "Olga" {
		t.Fatalf("identity: %v", u)
	}
}

// TestMetricsPBXLinkAndDeleted: the link gauge follows Ready; a deleted
// recording counts as deleted, not stopped; a /readyz 503 is no ERROR.
func TestMetricsPBXLinkAndDeleted(t *testing.T) {
	ev := newEnv(t)
	if err := ev.store.MarkRecordingDeleted(context.Background(), tenantA, recSeed, time.Now()); err != nil {
		t.Fatal(err)
	}
	scrape := func() string {
		r := ev.do("GET", "/metrics", ev.tokens["system"], nil)
		if r.status != 200 {
			t.Fatalf("metrics: %d", r.status)
		}
		return string(r.body)
	}
	m := scrape()
	for _, want := range []string{"callrecd_pbx_connected 1", `callrecd_recordings{state="deleted"} 1`,
		`callrecd_recordings{state="stopped"} 1`} { // tenant B's recording
		if !strings.Contains(m, want+"\n") {
			t.Fatalf("metrics lack %q:\n%s", want, m)
		}
	}
	ev.ready = errors.New("ari: websocket closed")
	if m := scrape(); !strings.Contains(m, "callrecd_pbx_connected 0\n") {
		t.Fatalf("dead link not shown:\n%s", m)
	}
	if r := ev.do("GET", "/readyz", "", nil); r.status != 503 {
		t.Fatalf("readyz %d", r.status)
	}
	if strings.Contains(ev.logs.String(), "level=ERROR") {
		t.Fatalf("readyz 503 logged as an error:\n%s", ev.logs.String())
	}
}
