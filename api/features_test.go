package api

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
)

func TestDeleteRecordingRemovesFileMarksDeletedAndAudits(t *testing.T) {
	ev := newEnv(t)
	ctx := context.Background()
	admin := ev.tokens["adminA"]
	file := filepath.Join(ev.root, "tenants", tenantA, "monitor", ev.callA.Recordings[0].Filename)
	path := fmt.Sprintf("/api/call-logd/1.0/cdr/%d/recordings/%s/media", ev.callA.ID, recSeed)

	// A user may not delete, even their own call's recording.
	if r := ev.do("DELETE", path, ev.tokens["olga"], nil); r.status != 403 {
		t.Fatalf("user delete: %d", r.status)
	}
	r := ev.do("DELETE", path, admin, nil)
	if r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("file still there: %v", err)
	}
	got := ev.do("GET", fmt.Sprintf("/api/call-logd/1.0/cdr/%d", ev.callA.ID), admin, nil).json(t)
	rec := got["recordings"].([]any)[0].(map[string]any)
	if rec["deleted"] != true {
		t.Fatalf("recording not marked deleted: %v", rec)
	}
	// Gone for download and for a second delete: Wazo's 400
	// recording-media-not-found (the row is there, its media is not).
	wantError(t, ev.do("GET", path, admin, nil, "Accept", "audio/wav"), 400, "recording-media-not-found")
	wantError(t, ev.do("DELETE", path, admin, nil), 400, "recording-media-not-found")
	entries, _ := ev.store.ListAudit(ctx, store.AuditFilter{Tenant: tenantA})
	if len(entries) != 1 || entries[0].Action != "recording.delete" || entries[0].ObjectID != recSeed ||
		entries[0].Actor != "token:"+ev.tokens["adminA-id"] || entries[0].RemoteAddr == "" {
		t.Fatalf("audit: %+v", entries)
	}
}

func TestBulkDeleteAndLiveRecordingGuard(t *testing.T) {
	ev := newEnv(t)
	ctx := context.Background()
	admin := ev.tokens["adminA"]
	// A second call of A with a recording still running.
	c2, err := ev.store.CreateCall(ctx, store.Call{TenantUUID: tenantA, PBXCallID: "live.2", Start: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	const live = "77777777-0823-4d2b-a18c-b9082e551b50"
	if err := ev.store.CreateRecording(ctx, store.Recording{UUID: live, CallID: c2.ID, TenantUUID: tenantA, Start: time.Now(),
		Filename: "live.wav", Format: string(recording.WAV), State: string(recording.StateRecording), StartedBy: string(recording.ByAPI)}); err != nil {
		t.Fatal(err)
	}
	bulk := "/api/call-logd/1.0/cdr/recordings/media"
	// One live recording among the calls: nothing is deleted.
	wantError(t, ev.do("DELETE", bulk, admin, fmt.Sprintf(`{"cdr_ids":[%d,%d]}`, ev.callA.ID, c2.ID)), 409, "recording-in-progress")
	if r, _ := ev.store.GetRecording(ctx, tenantA, recSeed); r.Deleted {
		t.Fatal("partial bulk delete")
	}
	wantError(t, ev.do("DELETE", fmt.Sprintf("/api/call-logd/1.0/cdr/%d/recordings/%s/media", c2.ID, live), admin, nil), 409, "recording-in-progress")
	if r := ev.do("DELETE", bulk, admin, fmt.Sprintf(`{"cdr_ids":[%d]}`, ev.callA.ID)); r.status != 204 {
		t.Fatalf("bulk: %d %s", r.status, r.body)
	}
	if r, _ := ev.store.GetRecording(ctx, tenantA, recSeed); !r.Deleted {
		t.Fatal("bulk did not delete")
	}
}

func TestCDRFiltersCSVAndUserScope(t *testing.T) {
	ev := newEnv(t)
	ctx := context.Background()
	admin := ev.tokens["adminA"]
	// An inbound call to Anastasia without recording, a day later.
	start := ev.callA.Start.Add(24 * time.Hour)
	if _, err := ev.store.CreateCall(ctx, store.Call{TenantUUID: tenantA, PBXCallID: "in.1", Start: start,
		Direction: store.DirectionInbound, SourceExtension: "+33123456789", DestinationExtension: "1011",
		DestinationUserUUID: userAna, DestinationName: "Anastasia Romanov", Tags: []string{"support"}}); err != nil {
		t.Fatal(err)
	}
	count := func(q, token string) (int, int) {
		t.Helper()
		r := ev.do("GET", "/api/call-logd/1.0/"+q, token, nil)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", q, r.status, r.body)
		}
		m := r.json(t)
		return len(m["items"].([]any)), int(m["filtered"].(float64))
	}
	for _, tc := range []struct {
		q     string
		items int
	}{
		{"cdr", 2},
		{"cdr?recorded=true", 1},
		{"cdr?recorded=false", 1},
		{"cdr?call_direction=inbound", 1},
		{"cdr?direction=internal", 1}, // older clients' form
		{"cdr?direction=desc&limit=1", 1},
		{"cdr?from=2021-05-15T00:00:00%2B00:00", 1},
		{"cdr?until=2021-05-15T00:00:00-0500", 1},
		{"cdr?search=Anastasia", 2},
		{"cdr?number=_456789", 1},
		{"cdr?tags=olga", 1},
		{"cdr?user_uuid=" + userOlga, 1},
		{"cdr?user_uuid=" + userOlga + "," + userAna, 2},
		{fmt.Sprintf("cdr?from_id=%d", ev.callA.ID), 1},
		{"cdr?offset=1", 1},
		{"cdr?recurse=true&order=start", 2},
		{"users/" + userOlga + "/cdr", 1},
	} {
		if n, _ := count(tc.q, admin); n != tc.items {
			t.Errorf("%s: %d items, want %d", tc.q, n, tc.items)
		}
	}
	if _, filtered := count("cdr?direction=desc&limit=1", admin); filtered != 2 {
		t.Errorf("filtered ignores paging: %d", filtered)
	}
	// Users see their own calls only, and total counts only theirs.
	r := ev.do("GET", "/api/call-logd/1.0/users/me/cdr", ev.tokens["olga"], nil).json(t)
	if r["total"] != float64(1) || len(r["items"].([]any)) != 1 {
		t.Errorf("olga's cdr: %v", r)
	}
	r = ev.do("GET", "/api/call-logd/1.0/users/me/cdr", ev.tokens["ana"], nil).json(t)
	if r["total"] != float64(2) {
		t.Errorf("ana's cdr: %v", r)
	}
	// Olga cannot download the inbound call's... she is not on it; and
	// another user's recording is not found through users/me.
	c3, err := ev.store.CreateCall(ctx, store.Call{TenantUUID: tenantA, PBXCallID: "ana.only", Start: start,
		DestinationUserUUID: userAna})
	if err != nil {
		t.Fatal(err)
	}
	const r3 = "33333333-0823-4d2b-a18c-b9082e551b50"
	if err := ev.store.CreateRecording(ctx, store.Recording{UUID: r3, CallID: c3.ID, TenantUUID: tenantA, Start: start,
		Filename: "x.wav", Format: string(recording.WAV), State: string(recording.StateStopped), StartedBy: string(recording.ByPolicy)}); err != nil {
		t.Fatal(err)
	}
	wantError(t, ev.do("GET", fmt.Sprintf("/api/call-logd/1.0/users/me/cdr/%d/recordings/%s/media", c3.ID, r3), ev.tokens["olga"], nil), 404, "not-found")
	// A recording uuid of another call of the same tenant is not found.
	wantError(t, ev.do("GET", fmt.Sprintf("/api/call-logd/1.0/cdr/%d/recordings/%s/media", c3.ID, recSeed), admin, nil), 404, "not-found")

	// CSV: one row per call, recordings flattened.
	csvResp := ev.do("GET", "/api/call-logd/1.0/cdr?format=csv&recorded=true&user_uuid="+userOlga, admin, nil)
	if csvResp.status != 200 || !strings.HasPrefix(csvResp.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %s", csvResp.status, csvResp.header.Get("Content-Type"))
	}
	rows, err := csv.NewReader(strings.NewReader(string(csvResp.body))).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("csv rows %v %v", rows, err)
	}
	col := map[string]string{}
	for i, h := range rows[0] {
		col[h] = rows[1][i]
	}
	if col["recording_1_uuid"] != recSeed || col["recording_1_deleted"] != "false" ||
		col["recording_1_filename"] != ev.callA.Recordings[0].Filename || col["id"] != fmt.Sprint(ev.callA.ID) ||
		col["recording_1_start_time"] != "2021-05-14T17:47:16.701984+00:00" || col["source_name"] != "Olga Romanov" {
		t.Fatalf("csv columns: %v", col)
	}
	if _, ok := col["recording_2_uuid"]; ok {
		t.Fatal("csv has a column for a recording no call has")
	}
	if r := ev.do("GET", "/api/call-logd/1.0/cdr", admin, nil, "Accept", "text/csv"); !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
		t.Fatal("Accept: text/csv not respected")
	}
}

func TestCallControl(t *testing.T) {
	ev := newEnv(t)
	admin := ev.tokens["adminA"]
	r := ev.do("GET", "/api/calld/1.0/calls", admin, nil).json(t)
	items := r["items"].([]any)
	if len(items) != 2 {
		t.Fatalf("calls: %v", r)
	}
	first := items[0].(map[string]any)
	if first["record_state"] != "active" || first["status"] != "Up" || first["peer_caller_id_name"] != "Anastasia Romanov" ||
		first["user_uuid"] != userOlga || first["cdr_id"] != float64(1) {
		t.Fatalf("call item: %v", first)
	}
	// users/me lists only the user's own channel.
	r = ev.do("GET", "/api/calld/1.0/users/me/calls", ev.tokens["ana"], nil).json(t)
	if items := r["items"].([]any); len(items) != 1 || items[0].(map[string]any)["call_id"] != liveChanA {
		t.Fatalf("ana's calls: %v", r)
	}
	for _, verb := range []string{"start", "stop", "pause", "resume"} {
		if r := ev.do("PUT", "/api/calld/1.0/calls/"+liveChanA+"/record/"+verb, admin, nil); r.status != 204 {
			t.Fatalf("%s: %d %s", verb, r.status, r.body)
		}
		if r := ev.do("PUT", "/api/calld/1.0/users/me/calls/"+liveChanA+"/record/"+verb, ev.tokens["ana"], nil); r.status != 204 {
			t.Fatalf("me %s: %d %s", verb, r.status, r.body)
		}
	}
	// A user of the tenant who is not on the call: not found.
	if _, err := ev.store.CreateUser(context.Background(), store.User{UUID: "12121212-1212-4212-8212-121212121212", TenantUUID: tenantA}); err != nil {
		t.Fatal(err)
	}
	_, plain, err := ev.store.CreateToken(context.Background(), store.Token{Role: store.RoleUser, TenantUUID: tenantA, UserUUID: "12121212-1212-4212-8212-121212121212"})
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, ev.do("PUT", "/api/calld/1.0/users/me/calls/"+liveChanA+"/record/stop", plain, nil), 404, "not-found")
	// Engine refusals map to 403/409 in Wazo's shape.
	ev.calls.action = func(op, _, _ string, _ recording.StartedBy) (engine.RecordingInfo, error) {
		if op == "start" {
			return engine.RecordingInfo{}, fmt.Errorf("%w: external-to-external call", engine.ErrNotAllowed)
		}
		return engine.RecordingInfo{}, fmt.Errorf("%w: not recording", engine.ErrWrongState)
	}
	wantError(t, ev.do("PUT", "/api/calld/1.0/calls/"+liveChanA+"/record/start", admin, nil), 403, "recording-not-allowed")
	wantError(t, ev.do("PUT", "/api/calld/1.0/calls/"+liveChanA+"/record/pause", admin, nil), 409, "wrong-record-state")
	// Record actions are audited.
	entries, _ := ev.store.ListAudit(context.Background(), store.AuditFilter{Tenant: tenantA})
	if len(entries) != 8 || entries[0].Action != "recording.start" {
		t.Fatalf("audit: %d entries %+v", len(entries), entries)
	}
	// Without an engine, call control is unavailable, not broken.
	ev.calls = nil
	ev.build()
	wantError(t, ev.do("GET", "/api/calld/1.0/calls", admin, nil), 503, "call-control-unavailable")
}

func TestHealthReadyAndMetrics(t *testing.T) {
	ev := newEnv(t)
	if r := ev.do("GET", "/readyz", "", nil); r.status != 200 || r.json(t)["ready"] != true {
		t.Fatalf("readyz: %d %s", r.status, r.body)
	}
	ev.ready = errors.New("ARI websocket down")
	r := ev.do("GET", "/readyz", "", nil)
	if r.status != 503 || !strings.Contains(string(r.body), "ARI websocket down") {
		t.Fatalf("readyz when PBX down: %d %s", r.status, r.body)
	}
	ev.metrics.EventHandled("ChannelCreated")
	ev.metrics.EventHandled("ChannelCreated")
	ev.metrics.PBXReconnected()
	ev.do("GET", "/api/call-logd/1.0/cdr", ev.tokens["adminA"], nil)
	m := string(ev.do("GET", "/metrics", ev.tokens["system"], nil).body)
	for _, want := range []string{
		"callrecd_live_calls 1",
		`callrecd_recordings{state="stopped"} 2`,
		`callrecd_events_handled_total{type="ChannelCreated"} 2`,
		"callrecd_pbx_reconnects_total 1",
		`callrecd_http_request_duration_seconds_count{code="200",method="GET",route="/api/call-logd/1.0/cdr"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestTenantSettingsTokensRetention(t *testing.T) {
	ev := newEnv(t)
	admin := ev.tokens["adminA"]
	tp := "/api/callrecd/1.0/tenants/" + tenantA
	r := ev.do("PUT", tp, admin, `{"record_external_to_external":true,"format":"mp3","retention":{"recording_days":90}}`)
	if r.status != 200 {
		t.Fatalf("put tenant: %d %s", r.status, r.body)
	}
	got := ev.do("GET", tp, admin, nil).json(t)
	if got["record_external_to_external"] != true || got["format"] != "mp3" || got["audio_recording_enabled"] != true ||
		got["retention"].(map[string]any)["recording_days"] != float64(90) {
		t.Fatalf("tenant: %v", got)
	}
	// Retention, Wazo's form: PUT replaces.
	if r := ev.do("PUT", "/api/call-logd/1.0/retention", admin, `{"cdr_days":365,"recording_days":30}`); r.status != 204 {
		t.Fatalf("retention: %d %s", r.status, r.body)
	}
	ret := ev.do("GET", "/api/call-logd/1.0/retention", admin, nil).json(t)
	if ret["cdr_days"] != float64(365) || ret["recording_days"] != float64(30) || ret["export_days"] != nil || ret["tenant_uuid"] != tenantA {
		t.Fatalf("retention: %v", ret)
	}
	// Tokens: created once with their secret, listed without.
	r = ev.do("POST", "/api/callrecd/1.0/tokens", admin, `{"role":"user","user_uuid":"`+userAna+`","description":"ana's phone app"}`)
	if r.status != 201 {
		t.Fatalf("create token: %d %s", r.status, r.body)
	}
	tok := r.json(t)
	plain := tok["token"].(string)
	if r := ev.do("GET", "/api/call-logd/1.0/users/me/cdr", plain, nil); r.status != 200 {
		t.Fatalf("new token: %d", r.status)
	}
	list := string(ev.do("GET", "/api/callrecd/1.0/tokens", admin, nil).body)
	if strings.Contains(list, plain) || !strings.Contains(list, tok["id"].(string)) {
		t.Fatal("token list shows a secret or misses the new token")
	}
	// System: create a tenant, list all.
	sys := ev.tokens["system"]
	const tc = "cccccccc-2222-4333-8444-555555555555"
	if r := ev.do("POST", "/api/callrecd/1.0/tenants", sys, `{"uuid":"`+tc+`","name":"Charlie","timezone":"Europe/Paris"}`); r.status != 201 {
		t.Fatalf("create tenant: %d %s", r.status, r.body)
	}
	if n := ev.do("GET", "/api/callrecd/1.0/tenants", sys, nil).json(t)["total"]; n != float64(3) {
		t.Fatalf("tenants: %v", n)
	}
	if n := ev.do("GET", "/api/callrecd/1.0/tenants", admin, nil).json(t)["total"]; n != float64(1) {
		t.Fatalf("admin sees %v tenants", n)
	}
	// The new tenant got its feature codes; a user created there is provisioned.
	if r := ev.do("POST", "/api/confd/1.1/users", sys, `{"firstname":"Zoe","extension":"3001","endpoints":["zoe"],"call_record_incoming_external_enabled":true}`,
		"Wazo-Tenant", tc); r.status != 201 || r.json(t)["tenant_uuid"] != tc || r.json(t)["call_record_incoming_external_enabled"] != true {
		t.Fatalf("provision user: %d %s", r.status, r.body)
	}
	if r := ev.do("GET", "/api/confd/1.1/extensions/features", sys, nil, "Wazo-Tenant", tc); len(r.json(t)["items"].([]any)) != 4 {
		t.Fatalf("features of new tenant: %s", r.body)
	}
	// Every change is in the audit log.
	audit := ev.do("GET", "/api/callrecd/1.0/audit", admin, nil).json(t)["items"].([]any)
	var actions []string
	for _, e := range audit {
		actions = append(actions, e.(map[string]any)["action"].(string))
	}
	if strings.Join(actions, ",") != "tenant.update,retention.update,token.create" {
		t.Fatalf("audit actions: %v", actions)
	}
}
