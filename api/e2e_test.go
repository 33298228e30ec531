package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// seedCDR is the /cdr item of the seed document (wazo-call-recording.txt),
// as it must come back; %d is the call id (the seed's 2060). The seed's line
// ids (76, 52) are Wazo line rows callrecd does not have: they are null.
// Newer Wazo fields (call_status, conversation_id, destination_details,
// requested_user_uuid, source_internal_name) and callrecd's own recording
// keys (state … sha256) are additions to the seed's shape.
const seedCDR = `{
"id": %d,
"tenant_uuid": "2c34c282-433e-4bb8-8d56-fec14ff7e1e9",
"start": "2021-05-14T17:47:15.632882+00:00",
"end": "2021-05-14T17:47:22.979637+00:00",
"answered": true,
"answer": "2021-05-14T17:47:18.146089+00:00",
"duration": 4,
"call_direction": "internal",
"call_status": "answered",
"conversation_id": "1620999999.41",
"destination_details": {"type": "user", "user_uuid": "def42192-837a-41e0-aa4e-86390e46eb17", "user_name": "Anastasia Romanov"},
"destination_extension": "1011",
"destination_internal_context": "inside",
"destination_internal_extension": "1011",
"destination_line_id": null,
"destination_name": "Anastasia Romanov",
"destination_user_uuid": "def42192-837a-41e0-aa4e-86390e46eb17",
"requested_name": "Anastasia Romanov",
"requested_context": "inside",
"requested_extension": "1011",
"requested_internal_context": "inside",
"requested_internal_extension": "1011",
"requested_user_uuid": "def42192-837a-41e0-aa4e-86390e46eb17",
"source_extension": "1015",
"source_internal_context": "inside",
"source_internal_extension": "1015",
"source_internal_name": "Olga Romanov",
"source_line_id": null,
"source_name": "Olga Romanov",
"source_user_uuid": "b2e98781-7118-4010-8da3-b93b1b7e1389",
"tags": ["olga"],
"recordings": [{
"uuid": "5ea37d0b-0823-4d2b-a18c-b9082e551b50",
"start_time": "2021-05-14T17:47:16.701984+00:00",
"end_time": "2021-05-14T17:47:22.979637+00:00",
"deleted": false,
"filename": "2021-05-14T17_47_16UTC-%d-5ea37d0b-0823-4d2b-a18c-b9082e551b50.wav",
"state": "stopped",
"started_by": "policy",
"stop_reason": null,
"failure_reason": null,
"paused_intervals": [],
"format": "wav",
"size": 16044,
"duration": 0,
"sha256": null
}]}`

// TestSeedSequenceEndToEnd starts the real server on loopback over a real
// SQLite file and runs the seed's sequence with net/http.
func TestSeedSequenceEndToEnd(t *testing.T) {
	ev := newEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: ev.e, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	base := "http://" + ln.Addr().String()
	client := &http.Client{Timeout: 10 * time.Second}
	admin, olga := ev.tokens["adminA"], ev.tokens["olga"]

	call := func(method, path, token, body string, hdr ...string) (int, http.Header, []byte) {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, base+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Accept", "application/json")
		if token != "" {
			req.Header.Set("X-Auth-Token", token)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, res.Header, b
	}
	expect := func(status int, want int, body []byte, what string) {
		t.Helper()
		if status != want {
			t.Fatalf("%s: status %d, want %d: %s", what, status, want, body)
		}
	}
	obj := func(b []byte) map[string]any {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%v: %s", err, b)
		}
		return m
	}

	// Health needs no token.
	st, _, b := call("GET", "/healthz", "", "")
	expect(st, 200, b, "healthz")

	// 1. PUT /users/{user_uuid} with the four flags.
	users := "/api/confd/1.1/users/" + userOlga
	st, _, b = call("PUT", users, admin, `{"call_record_outgoing_internal_enabled": true,
"call_record_outgoing_external_enabled": true, "call_record_incoming_internal_enabled": true,
"call_record_incoming_external_enabled": true}`)
	expect(st, 204, b, "PUT user flags")
	st, _, b = call("PUT", users, admin, `{"online_call_record_enabled": true}`)
	expect(st, 204, b, "PUT online_call_record_enabled")
	st, _, b = call("GET", users, admin, "")
	expect(st, 200, b, "GET user")
	u := obj(b)
	for _, f := range []string{"call_record_outgoing_internal_enabled", "call_record_outgoing_external_enabled",
		"call_record_incoming_internal_enabled", "call_record_incoming_external_enabled", "online_call_record_enabled"} {
		if u[f] != true {
			t.Fatalf("%s = %v after PUT: %s", f, u[f], b)
		}
	}
	if u["firstname"] != "Olga" || u["extension"] != "1015" {
		t.Fatalf("partial PUT changed other fields: %s", b)
	}

	// 2. GET /extensions/features?feature=callrecord, then PUT {"enabled": false}.
	st, _, b = call("GET", "/api/confd/1.1/extensions/features?feature=callrecord", admin, "")
	expect(st, 200, b, "GET features")
	items := obj(b)["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("features: %s", b)
	}
	feat := items[0].(map[string]any)
	if feat["feature"] != "callrecord" || feat["exten"] != "*26" || feat["enabled"] != true {
		t.Fatalf("callrecord feature: %s", b)
	}
	fid := int64(feat["id"].(float64))
	st, _, b = call("PUT", fmt.Sprintf("/api/confd/1.1/extensions/features/%d", fid), admin, `{"enabled": false}`)
	expect(st, 204, b, "PUT feature enabled false")
	st, _, b = call("GET", fmt.Sprintf("/api/confd/1.1/extensions/features/%d", fid), admin, "")
	expect(st, 200, b, "GET feature")
	if obj(b)["enabled"] != false || obj(b)["exten"] != "*26" {
		t.Fatalf("feature after PUT: %s", b)
	}

	// 3. Group and queue dtmf_record_toggle.
	for _, gq := range []struct{ path, uuid string }{{"groups", groupA}, {"queues", queueA}} {
		p := "/api/confd/1.1/" + gq.path + "/" + gq.uuid
		st, _, b = call("PUT", p, admin, `{"dtmf_record_toggle": true}`)
		expect(st, 204, b, "PUT "+gq.path)
		st, _, b = call("GET", p, admin, "")
		expect(st, 200, b, "GET "+gq.path)
		if obj(b)["dtmf_record_toggle"] != true {
			t.Fatalf("%s after PUT: %s", gq.path, b)
		}
	}
	// The settings reached the store the engine reads.
	if g, err := ev.store.GetGroup(t.Context(), tenantA, "group", groupA); err != nil || !g.DTMFRecordToggle || len(g.Members) != 1 {
		t.Fatalf("stored group %+v %v", g, err)
	}

	// 4. Start and stop through the seed's literal calld path (user token).
	for _, verb := range []string{"start", "stop"} {
		st, _, b = call("PUT", "/api/calld/user/me/calls/"+liveChanA+"/record/"+verb, ev.tokens["ana"], "")
		expect(st, 204, b, "record "+verb)
	}

	// 5. GET /cdr: the seed's shape, exactly.
	st, _, b = call("GET", "/api/call-logd/1.0/cdr", admin, "")
	expect(st, 200, b, "GET /cdr")
	list := obj(b)
	if list["total"] != float64(1) || list["filtered"] != float64(1) {
		t.Fatalf("total/filtered: %s", b)
	}
	got := list["items"].([]any)[0]
	var want any
	if err := json.Unmarshal([]byte(fmt.Sprintf(seedCDR, ev.callA.ID, ev.callA.ID)), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Fatalf("cdr item differs from the seed:\ngot  %s\nwant %s", g, w)
	}
	rec := got.(map[string]any)["recordings"].([]any)[0].(map[string]any)

	// 6. Download the recording as the seed's curl does (Accept: audio/wav).
	mediaPath := fmt.Sprintf("/api/call-logd/1.0/cdr/%d/recordings/%s/media", int64(got.(map[string]any)["id"].(float64)), rec["uuid"])
	st, hdr, b := call("GET", mediaPath, admin, "", "Accept", "audio/wav")
	expect(st, 200, b, "media")
	if hdr.Get("Content-Type") != "audio/wav" || !bytes.Equal(b, ev.wav) {
		t.Fatalf("media: type %q, %d bytes (want %d)", hdr.Get("Content-Type"), len(b), len(ev.wav))
	}
	if !strings.Contains(hdr.Get("Content-Disposition"), rec["filename"].(string)) {
		t.Fatalf("content-disposition %q", hdr.Get("Content-Disposition"))
	}
	etag := hdr.Get("ETag")
	st, _, _ = call("GET", mediaPath, admin, "", "Accept", "audio/wav", "If-None-Match", etag)
	expect(st, 304, nil, "media If-None-Match")
	st, hdr, b = call("GET", mediaPath, admin, "", "Accept", "audio/wav", "Range", "bytes=44-99")
	expect(st, 206, b, "media range")
	if !bytes.Equal(b, ev.wav[44:100]) || hdr.Get("Content-Range") != fmt.Sprintf("bytes 44-99/%d", len(ev.wav)) {
		t.Fatalf("range: %q %d bytes", hdr.Get("Content-Range"), len(b))
	}
	// A link with ?token= (as in export e-mails) works without the header.
	st, _, b = call("GET", mediaPath+"?token="+admin, "", "", "Accept", "audio/wav")
	expect(st, 200, b, "media ?token=")
	// Wazo ignores Accept (its SDK sends application/json): the file comes.
	st, _, b = call("GET", mediaPath, admin, "", "Accept", "application/json")
	expect(st, 200, b, "media Accept: application/json")
	// Olga, a party of the call, downloads it through the users/me form.
	st, _, b = call("GET", strings.Replace(mediaPath, "/cdr/", "/users/me/cdr/", 1), olga, "", "Accept", "audio/*")
	expect(st, 200, b, "users/me media")

	// The downloads are in the audit log, with the remote address.
	st, _, b = call("GET", "/api/callrecd/1.0/audit", admin, "")
	expect(st, 200, b, "audit")
	downloads := 0
	for _, it := range obj(b)["items"].([]any) {
		e := it.(map[string]any)
		if e["action"] == "recording.download" && e["object_id"] == recSeed {
			downloads++
			if !strings.HasPrefix(e["remote_addr"].(string), "127.0.0.1") {
				t.Fatalf("remote_addr %v", e["remote_addr"])
			}
		}
	}
	// Plain, ?token=, Accept: application/json and users/me; a 304 serves
	// nothing and the range is a listen.
	if downloads != 4 {
		t.Fatalf("%d download audit entries, want 4: %s", downloads, b)
	}

	// Shut down cleanly.
	if err := srv.Close(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		t.Fatal(err)
	}
}
