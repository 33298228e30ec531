package api

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/callrecd/callrecd/store"
)

func TestSIPCredentialsAPI(t *testing.T) {
	ev := newEnv(t)
	path := "/api/callrecd/1.0/sip_credentials"
	r := ev.do("PUT", path+"/1002", ev.tokens["adminA"], map[string]any{"password": "s3cret"})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	if m := r.json(t); m["username"] != "1002" || m["endpoint"] != "1002" || m["realm"] != store.DefaultSIPRealm || m["tenant_uuid"] != tenantA {
		t.Fatalf("created %v", m)
	}
	if strings.Contains(string(r.body), "s3cret") || strings.Contains(strings.ToLower(string(r.body)), "ha1") {
		t.Fatalf("a secret in the answer: %s", r.body)
	}
	r = ev.do("PUT", path+"/1002", ev.tokens["adminA"], map[string]any{"password": "n3w", "endpoint": "Bob"})
	if r.status != http.StatusOK || r.json(t)["endpoint"] != "Bob" {
		t.Fatalf("replace: %d %s", r.status, r.body)
	}
	c, err := ev.store.SIPCredentialByRealm(context.Background(), store.DefaultSIPRealm, "1002")
	if err != nil || c.HA1MD5 != store.DigestHA1(store.DigestMD5, "1002", store.DefaultSIPRealm, "n3w") {
		t.Fatalf("stored %+v %v", c, err)
	}

	wantError(t, ev.do("PUT", path+"/1002", ev.tokens["adminB"], map[string]any{"password": "x"}), http.StatusConflict, "sip-username-taken")
	wantError(t, ev.do("PUT", path+"/1003", ev.tokens["adminA"], map[string]any{}), http.StatusBadRequest, "invalid-data")
	wantError(t, ev.do("PUT", path+"/1003", ev.tokens["adminA"], map[string]any{"password": 5}), http.StatusBadRequest, "invalid-data")
	wantError(t, ev.do("PUT", path+"/a%20b", ev.tokens["adminA"], map[string]any{"password": "x"}), http.StatusBadRequest, "invalid-data")
	wantError(t, ev.do("PUT", path+"/1003", ev.tokens["adminA"], map[string]any{"password": "x", "endpoint": "a b"}), http.StatusBadRequest, "invalid-data")
	wantError(t, ev.do("PUT", path+"/1003", ev.tokens["olga"], map[string]any{"password": "x"}), http.StatusForbidden, "forbidden")
	wantError(t, ev.do("PUT", path+"/1003", ev.tokens["system"], map[string]any{"password": "x"}), http.StatusBadRequest, "tenant-required")

	r = ev.do("GET", path, ev.tokens["adminA"], nil)
	if r.status != http.StatusOK || r.json(t)["total"] != float64(1) || strings.Contains(strings.ToLower(string(r.body)), "ha1") {
		t.Fatalf("list A: %d %s", r.status, r.body)
	}
	if r := ev.do("GET", path, ev.tokens["adminB"], nil); r.json(t)["total"] != float64(0) {
		t.Fatalf("tenant B sees A's: %s", r.body)
	}
	wantError(t, ev.do("DELETE", path+"/1002", ev.tokens["adminB"], nil), http.StatusNotFound, "not-found")
	if r := ev.do("DELETE", path+"/1002", ev.tokens["adminA"], nil); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	audit, err := ev.store.ListAudit(context.Background(), store.AuditFilter{Tenant: tenantA})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range audit {
		if e.ObjectType == "sip_credential" {
			actions = append(actions, e.Action)
		}
	}
	if strings.Join(actions, ",") != "sip_credential.create,sip_credential.update,sip_credential.delete" {
		t.Fatalf("audit %v", actions)
	}
}

// sipCredentialTenancyCases: tenant A has a credential; B never sees or
// deletes it, and B's own PUT acts on B's own credentials.
func sipCredentialTenancyCases(ev *env) map[string]tenancyCase {
	if _, _, err := ev.store.PutSIPCredential(context.Background(),
		store.SIPCredential{TenantUUID: tenantA, Username: "olga-phone", Endpoint: "olga"}, "pw"); err != nil {
		ev.t.Fatal(err)
	}
	p := "/api/callrecd/1.0/sip_credentials"
	return map[string]tenancyCase{
		"GET " + p:                   {path: p, want: "list"},
		"PUT " + p + "/:username":    {path: p + "/bob-phone", body: `{"password":"x"}`, want: "own"},
		"DELETE " + p + "/:username": {path: p + "/olga-phone", want: 404},
	}
}
