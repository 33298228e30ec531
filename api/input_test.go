package api

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
)

// TestBadInputIsRefusedAndWritesNothing sends malformed, oversized and
// hostile requests: each gets a 4xx in Wazo's error shape and the store is
// left exactly as it was.
func TestBadInputIsRefusedAndWritesNothing(t *testing.T) {
	ev := newEnv(t)
	ctx := context.Background()
	admin := ev.tokens["adminA"]
	snapshot := func() []any {
		u, _ := ev.store.GetUser(ctx, tenantA, userOlga)
		u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
		g, _ := ev.store.GetGroup(ctx, tenantA, "group", groupA)
		f, _ := ev.store.GetFeatureExtension(ctx, tenantA, ev.ids["featureA"])
		tn, _ := ev.store.GetTenant(ctx, tenantA)
		users, n, _ := ev.store.ListUsers(ctx, store.UserFilter{})
		r, _ := ev.store.GetRecording(ctx, tenantA, recSeed)
		return []any{u, g, f, tn, len(users), n, r}
	}
	before := snapshot()
	user := "/api/confd/1.1/users/" + userOlga
	big := `{"firstname":"` + strings.Repeat("x", maxBody+10) + `"}`
	cdr := "/api/call-logd/1.0/cdr"
	media := fmt.Sprintf("/api/call-logd/1.0/cdr/%d/recordings/", ev.callA.ID)
	cases := []struct {
		name, method, path, body string
		status                   int
		errorID                  string
	}{
		{"malformed JSON", "PUT", user, `{"firstname": `, 400, "invalid-data"},
		{"not an object", "PUT", user, `[1,2]`, 400, "invalid-data"},
		{"empty body", "PUT", user, ``, 400, "invalid-data"},
		{"trailing data", "PUT", user, `{"firstname":"a"} {"x":1}`, 400, "invalid-data"},
		{"null boolean", "PUT", user, `{"firstname":"a","online_call_record_enabled":null}`, 400, "invalid-data"},
		{"null feature enabled", "PUT", fmt.Sprintf("/api/confd/1.1/extensions/features/%d", ev.ids["featureA"]), `{"enabled":null}`, 400, "invalid-data"},
		{"wrong type bool", "PUT", user, `{"online_call_record_enabled":"yes"}`, 400, "invalid-data"},
		{"wrong type string", "PUT", user, `{"firstname":12}`, 400, "invalid-data"},
		{"read-only uuid", "PUT", user, `{"uuid":"` + userAna + `"}`, 400, "invalid-data"},
		{"bad extension", "PUT", user, `{"extension":"10; DROP"}`, 400, "invalid-data"},
		{"field too long", "PUT", user, `{"lastname":"` + strings.Repeat("y", 200) + `"}`, 400, "invalid-data"},
		{"body over 1 MiB", "PUT", user, big, 413, "request-too-large"},
		{"invalid uuid", "GET", "/api/confd/1.1/users/not-a-uuid", ``, 400, "invalid-data"},
		{"invalid uuid PUT", "PUT", "/api/confd/1.1/users/1234", `{"firstname":"a"}`, 400, "invalid-data"},
		{"bad feature id", "PUT", "/api/confd/1.1/extensions/features/abc", `{"enabled":false}`, 400, "invalid-data"},
		{"negative feature id", "GET", "/api/confd/1.1/extensions/features/-1", ``, 400, "invalid-data"},
		{"feature enabled wrong type", "PUT", fmt.Sprintf("/api/confd/1.1/extensions/features/%d", ev.ids["featureA"]), `{"enabled":"false"}`, 400, "invalid-data"},
		{"feature bad exten", "PUT", fmt.Sprintf("/api/confd/1.1/extensions/features/%d", ev.ids["featureA"]), `{"exten":"../x"}`, 400, "invalid-data"},
		{"unknown feature", "GET", "/api/confd/1.1/extensions/features?feature=bogus", ``, 400, "invalid-data"},
		{"group toggle wrong type", "PUT", "/api/confd/1.1/groups/" + groupA, `{"dtmf_record_toggle":1}`, 400, "invalid-data"},
		{"group member of other tenant", "PUT", "/api/confd/1.1/groups/" + groupA, `{"members":{"users":[{"uuid":"` + userBob + `"}]}}`, 400, "invalid-data"},
		{"group bad name", "PUT", "/api/confd/1.1/groups/" + groupA, `{"name":"../../etc"}`, 400, "invalid-data"},
		{"create user duplicate", "POST", "/api/confd/1.1/users", `{"uuid":"` + userAna + `"}`, 409, "conflict"},
		{"limit zero", "GET", cdr + "?limit=0", ``, 400, "invalid-data"},
		{"limit too big", "GET", cdr + "?limit=100000", ``, 400, "invalid-data"},
		{"limit not a number", "GET", cdr + "?limit=ten", ``, 400, "invalid-data"},
		{"offset negative", "GET", cdr + "?offset=-1", ``, 400, "invalid-data"},
		{"bad from", "GET", cdr + "?from=yesterday", ``, 400, "invalid-data"},
		{"bad order", "GET", cdr + "?order=start_at%3BDROP", ``, 400, "invalid-data"},
		{"bad direction", "GET", cdr + "?direction=sideways", ``, 400, "invalid-data"},
		{"bad recorded", "GET", cdr + "?recorded=maybe", ``, 400, "invalid-data"},
		{"bad user_uuid", "GET", cdr + "?user_uuid=" + userOlga + ",nope", ``, 400, "invalid-data"},
		{"number not digits", "GET", cdr + "?number=abc", ``, 400, "invalid-data"},
		{"number wildcard inside", "GET", cdr + "?number=1_2", ``, 400, "invalid-data"},
		{"bad distinct", "GET", cdr + "?distinct=peer", ``, 400, "invalid-data"},
		{"bad call_status", "GET", cdr + "?call_status=missed", ``, 400, "invalid-data"},
		{"bad conversation_id", "GET", cdr + "?conversation_id=abc", ``, 400, "invalid-data"},
		{"bad format", "GET", cdr + "?format=xml", ``, 400, "invalid-data"},
		{"users list bad limit", "GET", "/api/confd/1.1/users?limit=-5", ``, 400, "invalid-data"},
		{"traversal in recording uuid", "GET", media + "..%2F..%2F..%2Fetc%2Fpasswd/media", ``, 400, "invalid-data"},
		{"traversal dots", "GET", media + "../../../../etc/passwd", ``, 404, "not-found"},
		{"traversal in cdr id", "GET", "/api/call-logd/1.0/cdr/..%2F1", ``, 400, "invalid-data"},
		{"bulk delete empty", "DELETE", "/api/call-logd/1.0/cdr/recordings/media", `{"cdr_ids":[]}`, 400, "invalid-data"},
		{"bulk delete wrong type", "DELETE", "/api/call-logd/1.0/cdr/recordings/media", `{"cdr_ids":["1"]}`, 400, "invalid-data"},
		{"bulk delete one unknown", "DELETE", "/api/call-logd/1.0/cdr/recordings/media", fmt.Sprintf(`{"cdr_ids":[%d, 999999]}`, ev.callA.ID), 404, "not-found"},
		{"retention zero", "PUT", "/api/call-logd/1.0/retention", `{"cdr_days":0}`, 400, "invalid-data"},
		{"retention recordings beyond cdr", "PUT", "/api/call-logd/1.0/retention", `{"cdr_days":10,"recording_days":20}`, 400, "invalid-data"},
		{"tenant bad format", "PUT", "/api/callrecd/1.0/tenants/" + tenantA, `{"format":"ogg"}`, 400, "invalid-data"},
		{"tenant bad timezone", "PUT", "/api/callrecd/1.0/tenants/" + tenantA, `{"timezone":"Mars/Olympus"}`, 400, "invalid-data"},
		{"token bad role", "POST", "/api/callrecd/1.0/tokens", `{"role":"root"}`, 400, "invalid-data"},
		{"admin makes system token", "POST", "/api/callrecd/1.0/tokens", `{"role":"system"}`, 403, "forbidden"},
		{"bad token id", "DELETE", "/api/callrecd/1.0/tokens/..%2F..", ``, 400, "invalid-data"},
		{"no such route", "GET", "/api/confd/1.1/nothing", ``, 404, "not-found"},
		{"method not allowed", "PATCH", user, `{}`, 405, "method-not-allowed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			r := ev.do(tc.method, tc.path, admin, body, "Accept", "*/*")
			wantError(t, r, tc.status, tc.errorID)
		})
	}
	if after := snapshot(); !reflect.DeepEqual(before, after) {
		t.Fatalf("bad input changed the store:\nbefore %+v\nafter  %+v", before, after)
	}
	// The bad requests wrote no audit entry either.
	entries, err := ev.store.ListAudit(ctx, store.AuditFilter{})
	if err != nil || len(entries) != 0 {
		t.Fatalf("audit entries after bad input: %+v %v", entries, err)
	}
}

// TestUnsafeStoredFilenameIsNotServed: a recording row whose file name
// would leave the monitor folder (a corrupted import) is never served.
func TestUnsafeStoredFilenameIsNotServed(t *testing.T) {
	ev := newEnv(t)
	ctx := context.Background()
	const evil = "eeeeeeee-0823-4d2b-a18c-b9082e551b50"
	for i, name := range []string{"../../../../../../etc/passwd", "..", "a/../../b.wav"} {
		u := evil[:35] + fmt.Sprint(i)
		if err := ev.store.CreateRecording(ctx, store.Recording{UUID: u, CallID: ev.callA.ID, TenantUUID: tenantA,
			Start: ev.callA.Start, Filename: name, Format: string(recording.WAV), State: string(recording.StateStopped),
			StartedBy: string(recording.ByPolicy)}); err != nil {
			t.Fatal(err)
		}
		r := ev.do("GET", fmt.Sprintf("/api/call-logd/1.0/cdr/%d/recordings/%s/media", ev.callA.ID, u), ev.tokens["adminA"], nil)
		wantError(t, r, http.StatusNotFound, "not-found")
		r = ev.do("DELETE", fmt.Sprintf("/api/call-logd/1.0/cdr/%d/recordings/%s/media", ev.callA.ID, u), ev.tokens["adminA"], nil)
		if r.status != http.StatusNoContent {
			t.Fatalf("delete of an unsafe name: %d %s", r.status, r.body)
		}
	}
}

// TestAuthAndRoles: tokens, roles and the Wazo-Tenant header.
func TestAuthAndRoles(t *testing.T) {
	ev := newEnv(t)
	cdr := "/api/call-logd/1.0/cdr"
	cases := []struct {
		name, path, token string
		hdr               []string
		status            int
	}{
		{"no token", cdr, "", nil, 401},
		{"unknown token", cdr, "crd_000000000000_nope", nil, 401},
		{"not our format", cdr, "Bearer x", nil, 401},
		// A valid token without the right: 403, not 401 (which Wazo's
		// clients answer by refreshing the token).
		{"user on admin route", cdr, ev.tokens["olga"], nil, 403},
		{"admin on users/me route", "/api/call-logd/1.0/users/me/cdr", ev.tokens["adminA"], nil, 403},
		{"admin with another tenant header", cdr, ev.tokens["adminA"], []string{"Wazo-Tenant", tenantB}, 401},
		{"admin with own tenant header", cdr, ev.tokens["adminA"], []string{"Wazo-Tenant", tenantA}, 200},
		{"system with unknown tenant", cdr, ev.tokens["system"], []string{"Wazo-Tenant", "99999999-9999-4999-8999-999999999999"}, 401},
		{"system with bad tenant header", cdr, ev.tokens["system"], []string{"Wazo-Tenant", "../a"}, 400},
		{"system, all tenants", cdr, ev.tokens["system"], nil, 200},
		{"bearer header", cdr, "", []string{"Authorization", "Bearer " + ev.tokens["adminA"]}, 200},
		{"?token= not on confd routes", "/api/confd/1.1/users?token=" + ev.tokens["adminA"], "", nil, 401},
		{"?token= on /cdr, as Wazo", cdr + "?token=" + ev.tokens["adminA"], "", nil, 200},
		{"?token= on users/me/cdr", "/api/call-logd/1.0/users/me/cdr?token=" + ev.tokens["olga"], "", nil, 200},
		{"?tenant= on /cdr, as Wazo", cdr + "?tenant=" + tenantB, ev.tokens["system"], nil, 200},
		{"?tenant= of another tenant", cdr + "?tenant=" + tenantB, ev.tokens["adminA"], nil, 401},
		{"metrics needs system", "/metrics", ev.tokens["adminA"], nil, 403},
		{"metrics with system", "/metrics", ev.tokens["system"], nil, 200},
		{"health without token", "/healthz", "", nil, 200},
		{"openapi without token", "/api/openapi.json", "", nil, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ev.do("GET", tc.path, tc.token, nil, tc.hdr...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.status >= 400 {
				wantError(t, r, tc.status, "")
			}
		})
	}
	// A system token sees every tenant without Wazo-Tenant, one with it.
	if n := ev.do("GET", cdr, ev.tokens["system"], nil).json(t)["total"]; n != float64(2) {
		t.Fatalf("system total %v", n)
	}
	if n := ev.do("GET", cdr, ev.tokens["system"], nil, "Wazo-Tenant", tenantB).json(t)["total"]; n != float64(1) {
		t.Fatalf("system as B total %v", n)
	}
	if n := ev.do("GET", cdr+"?tenant="+tenantB, ev.tokens["system"], nil).json(t)["total"]; n != float64(1) {
		t.Fatalf("system with ?tenant=B total %v", n)
	}
	// A revoked token stops working at once.
	if r := ev.do("DELETE", "/api/callrecd/1.0/tokens/"+ev.tokens["ana-id"], ev.tokens["adminA"], nil); r.status != 204 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if r := ev.do("GET", "/api/call-logd/1.0/users/me/cdr", ev.tokens["ana"], nil); r.status != 401 {
		t.Fatalf("revoked token: %d", r.status)
	}
	// A system write without a tenant is refused, not guessed.
	r := ev.do("POST", "/api/confd/1.1/users", ev.tokens["system"], `{"firstname":"x"}`)
	wantError(t, r, 400, "tenant-required")
}

// TestRequestIDsInLogs: every request is logged with its request id, which
// is also sent back.
func TestRequestIDsInLogs(t *testing.T) {
	ev := newEnv(t)
	r := ev.do("GET", "/api/call-logd/1.0/cdr", ev.tokens["adminA"], nil)
	id := r.header.Get("X-Request-Id")
	if id == "" || !strings.Contains(ev.logs.String(), "request_id="+id) {
		t.Fatalf("request id %q not in logs: %s", id, ev.logs.String())
	}
	r = ev.do("GET", "/api/call-logd/1.0/cdr", ev.tokens["adminA"], nil, "X-Request-Id", "from-proxy-1")
	if r.header.Get("X-Request-Id") != "from-proxy-1" || !strings.Contains(ev.logs.String(), "request_id=from-proxy-1") {
		t.Fatal("a proxy's request id is not kept")
	}
}
