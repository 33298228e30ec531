package api

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// tenancyCase says how to call one route against tenant A's objects and
// what a caller of tenant B must get.
type tenancyCase struct {
	path, body string
	// want: 404 (A's object is invisible), "list" (200 without any of A's
	// data), "own" (2xx acting on B's own data), 403 (role not allowed),
	// "public" (no tenant data at all), 401 (needs the session cookie, not
	// a token).
	want    any
	errorID string // a 404's error_id when not "not-found" (Wazo's own ids)
}

func tenancyTable(ev *env) map[string]tenancyCase {
	a := ev.callA
	media := fmt.Sprintf("/cdr/%d/recordings/%s/media", a.ID, recSeed)
	cl := "/api/call-logd/1.0"
	c := map[string]tenancyCase{
		"GET /healthz":          {path: "/healthz", want: "public"},
		"GET /readyz":           {path: "/readyz", want: "public"},
		"GET /api/openapi.json": {path: "/api/openapi.json", want: "public"},
		"GET /metrics":          {path: "/metrics", want: 403},

		"GET /api/confd/1.1/users":                           {path: "/api/confd/1.1/users", want: "list"},
		"POST /api/confd/1.1/users":                          {path: "/api/confd/1.1/users", body: `{"firstname":"New"}`, want: "own"},
		"GET /api/confd/1.1/users/:user_uuid":                {path: "/api/confd/1.1/users/" + userOlga, want: 404},
		"PUT /api/confd/1.1/users/:user_uuid":                {path: "/api/confd/1.1/users/" + userOlga, body: `{"online_call_record_enabled":true}`, want: 404},
		"GET /api/confd/1.1/extensions/features":             {path: "/api/confd/1.1/extensions/features", want: "list"},
		"GET /api/confd/1.1/extensions/features/:feature_id": {path: fmt.Sprintf("/api/confd/1.1/extensions/features/%d", ev.ids["featureA"]), want: 404},
		"PUT /api/confd/1.1/extensions/features/:feature_id": {path: fmt.Sprintf("/api/confd/1.1/extensions/features/%d", ev.ids["featureA"]), body: `{"enabled":false}`, want: 404},
		"GET /api/confd/1.1/groups":                          {path: "/api/confd/1.1/groups", want: "list"},
		"POST /api/confd/1.1/groups":                         {path: "/api/confd/1.1/groups", body: `{"name":"NEWNAME"}`, want: "own"},
		"GET /api/confd/1.1/groups/:group_uuid":              {path: "/api/confd/1.1/groups/" + groupA, want: 404},
		"PUT /api/confd/1.1/groups/:group_uuid":              {path: "/api/confd/1.1/groups/" + groupA, body: `{"dtmf_record_toggle":true}`, want: 404},
		"GET /api/confd/1.1/queues":                          {path: "/api/confd/1.1/queues", want: "list"},
		"POST /api/confd/1.1/queues":                         {path: "/api/confd/1.1/queues", body: `{"name":"NEWNAME"}`, want: "own"},
		"GET /api/confd/1.1/queues/:queue_uuid":              {path: "/api/confd/1.1/queues/" + queueA, want: 404},
		"PUT /api/confd/1.1/queues/:queue_uuid":              {path: "/api/confd/1.1/queues/" + queueA, body: `{"dtmf_record_toggle":true}`, want: 404},

		"GET /api/calld/1.0/calls":          {path: "/api/calld/1.0/calls", want: "list"},
		"GET /api/calld/1.0/users/me/calls": {path: "/api/calld/1.0/users/me/calls", want: "list"},

		"GET " + cl + "/cdr":                                                   {path: cl + "/cdr", want: "list"},
		"GET " + cl + "/cdr/:cdr_id":                                           {path: fmt.Sprintf(cl+"/cdr/%d", a.ID), want: 404},
		"GET " + cl + "/users/me/cdr":                                          {path: cl + "/users/me/cdr", want: "list"},
		"GET " + cl + "/users/:user_uuid/cdr":                                  {path: cl + "/users/" + userOlga + "/cdr", want: 404},
		"GET " + cl + "/cdr/:cdr_id/recordings/:recording_uuid/media":          {path: cl + media, want: 404},
		"DELETE " + cl + "/cdr/:cdr_id/recordings/:recording_uuid/media":       {path: cl + media, want: 404},
		"GET " + cl + "/users/me/cdr/:cdr_id/recordings/:recording_uuid/media": {path: cl + "/users/me" + media, want: 404},
		"DELETE " + cl + "/cdr/recordings/media":                               {path: cl + "/cdr/recordings/media", body: fmt.Sprintf(`{"cdr_ids":[%d]}`, a.ID), want: 404},
		"GET " + cl + "/retention":                                             {path: cl + "/retention", want: "own"},
		"PUT " + cl + "/retention":                                             {path: cl + "/retention", body: `{"cdr_days":365}`, want: "own"},

		"GET /api/callrecd/1.0/tenants":              {path: "/api/callrecd/1.0/tenants", want: "list"},
		"POST /api/callrecd/1.0/tenants":             {path: "/api/callrecd/1.0/tenants", body: `{"uuid":"` + tenantA + `","name":"x"}`, want: 403},
		"GET /api/callrecd/1.0/tenants/:tenant_uuid": {path: "/api/callrecd/1.0/tenants/" + tenantA, want: 404},
		"PUT /api/callrecd/1.0/tenants/:tenant_uuid": {path: "/api/callrecd/1.0/tenants/" + tenantA, body: `{"audio_recording_enabled":false}`, want: 404},
		"GET /api/callrecd/1.0/tokens":               {path: "/api/callrecd/1.0/tokens", want: "list"},
		"POST /api/callrecd/1.0/tokens":              {path: "/api/callrecd/1.0/tokens", body: `{"role":"user","user_uuid":"` + userOlga + `"}`, want: 404},
		"DELETE /api/callrecd/1.0/tokens/:token_id":  {path: "/api/callrecd/1.0/tokens/" + ev.tokens["adminA-id"], want: 404},
		"GET /api/callrecd/1.0/audit":                {path: "/api/callrecd/1.0/audit", want: "list"},
	}
	for _, verb := range []string{"start", "stop", "pause", "resume"} {
		for _, prefix := range []string{"/api/calld/1.0", "/api/calld/1.0/users/me", "/api/calld/user/me"} {
			c["PUT "+prefix+"/calls/:call_id/record/"+verb] = tenancyCase{path: prefix + "/calls/" + liveChanA + "/record/" + verb, want: 404}
		}
	}
	maps.Copy(c, exportTenancyCases(ev))
	maps.Copy(c, sipCredentialTenancyCases(ev))
	maps.Copy(c, webMediaTenancyCases(ev))
	maps.Copy(c, sessionTenancyCases(ev))
	return c
}

// TestEveryRouteHidesOtherTenants calls every registered route with tenant
// B's credentials on tenant A's objects: 404 (never 403, never A's data).
// A route missing from the table fails the test.
func TestEveryRouteHidesOtherTenants(t *testing.T) {
	ev := newEnv(t)
	table := tenancyTable(ev)
	// A's fingerprints: none may appear in an answer to B.
	markers := []string{tenantA, userOlga, userAna, groupA, queueA, liveChanA, recSeed, "1620999999.41",
		ev.tokens["adminA-id"], ev.tokens["olga-id"], "Olga", "Anastasia"}
	seen := map[string]bool{}
	var keys []string
	for _, r := range ev.e.Routes() {
		keys = append(keys, r.Method+" "+r.Path)
	}
	sort.Strings(keys)
	callers := []struct {
		name  string
		admin []string // token + headers for admin routes
		user  []string // for users/me routes
	}{
		{"admin of B", []string{ev.tokens["adminB"]}, []string{ev.tokens["bob"]}},
		{"system as B", []string{ev.tokens["system"], "Wazo-Tenant", tenantB}, []string{ev.tokens["bob"], "Wazo-Tenant", tenantB}},
	}
	for _, key := range keys {
		tc, ok := table[key]
		if !ok {
			t.Errorf("route %s has no wrong-tenant case: add one to tenancyTable", key)
			continue
		}
		seen[key] = true
		method := strings.SplitN(key, " ", 2)[0]
		for ci, cl := range callers {
			cred := cl.admin
			if strings.Contains(key, "/me/") {
				cred = cl.user
			}
			want := tc.want
			if want == 403 && cl.name == "system as B" {
				continue // system tokens may use system routes
			}
			var body any
			if tc.body != "" {
				body = strings.ReplaceAll(tc.body, "NEWNAME", fmt.Sprint("new", ci))
			}
			r := ev.do(method, tc.path, cred[0], body, append(cred[1:], "Accept", "*/*")...)
			switch want {
			case 404:
				wantError(t, r, http.StatusNotFound, cmp.Or(tc.errorID, "not-found"))
			case 403:
				wantError(t, r, http.StatusForbidden, "forbidden")
			case 401:
				wantError(t, r, http.StatusUnauthorized, "unauthorized")
			case "public":
				if r.status != 200 {
					t.Errorf("%s: %d", key, r.status)
				}
			case "list", "own":
				if r.status < 200 || r.status > 299 {
					t.Errorf("%s as %s: status %d: %s", key, cl.name, r.status, r.body)
				}
				for _, m := range markers {
					if m != "" && strings.Contains(string(r.body), m) {
						t.Errorf("%s as %s: answer contains tenant A's %q: %s", key, cl.name, m, r.body)
					}
				}
				if want == "own" && len(r.body) > 0 && r.json(t)["tenant_uuid"] != nil && r.json(t)["tenant_uuid"] != tenantB {
					t.Errorf("%s as %s: acted on tenant %v", key, cl.name, r.json(t)["tenant_uuid"])
				}
			}
		}
	}
	for key := range table {
		if !seen[key] {
			t.Errorf("tenancyTable has %s, which is not a route", key)
		}
	}
	// Nothing of A changed.
	ctx := context.Background()
	if u, _ := ev.store.GetUser(ctx, tenantA, userOlga); u.OnlineCallRecordEnabled {
		t.Error("B changed A's user")
	}
	if g, _ := ev.store.GetGroup(ctx, tenantA, "group", groupA); g.DTMFRecordToggle {
		t.Error("B changed A's group")
	}
	if f, _ := ev.store.GetFeatureExtension(ctx, tenantA, ev.ids["featureA"]); !f.Enabled {
		t.Error("B changed A's feature")
	}
	if tn, _ := ev.store.GetTenant(ctx, tenantA); !tn.AudioRecordingEnabled || tn.Retention.CDRDays != nil {
		t.Error("B changed A's tenant")
	}
	if r, _ := ev.store.GetRecording(ctx, tenantA, recSeed); r.Deleted {
		t.Error("B deleted A's recording")
	}
	if _, err := os.Stat(filepath.Join(ev.root, "tenants", tenantA, "monitor", ev.callA.Recordings[0].Filename)); err != nil {
		t.Error("B removed A's file:", err)
	}
	if r := ev.do("GET", "/api/calld/1.0/calls", ev.tokens["adminA"], nil); r.status != 200 || !strings.Contains(string(r.body), liveChanA) {
		t.Errorf("A's admin does not see A's live call: %s", r.body)
	}
	if r := ev.do("GET", "/api/confd/1.1/users/"+userOlga, ev.tokens["adminA"], nil); r.status != 200 {
		t.Errorf("A's admin cannot read A's user: %d", r.status)
	}
	toks, _ := ev.store.ListTokens(ctx, tenantA)
	for _, tk := range toks {
		if tk.RevokedAt != nil {
			t.Error("B revoked A's token", tk.ID)
		}
	}
}

// TestOpenAPIMatchesRoutes: every registered route is in the document and
// every documented operation is registered.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	ev := newEnv(t)
	r := ev.do("GET", "/api/openapi.json", "", nil)
	if r.status != 200 {
		t.Fatalf("openapi: %d", r.status)
	}
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("not an OpenAPI 3 document: %v %s", err, doc.OpenAPI)
	}
	documented := map[string]bool{}
	for p, ops := range doc.Paths {
		for m, op := range ops {
			documented[strings.ToUpper(m)+" "+p] = true
			if op["summary"] == "" || op["responses"] == nil {
				t.Errorf("%s %s: no summary or responses", m, p)
			}
		}
	}
	registered := map[string]bool{}
	for _, rt := range ev.e.Routes() {
		p, _ := openAPIPath(rt.Path)
		registered[rt.Method+" "+p] = true
		if !documented[rt.Method+" "+p] {
			t.Errorf("route %s %s is not in the OpenAPI document", rt.Method, p)
		}
	}
	for op := range documented {
		if !registered[op] {
			t.Errorf("documented %s is not a route", op)
		}
	}
	if len(registered) < 50 {
		t.Errorf("only %d routes registered", len(registered))
	}
}
