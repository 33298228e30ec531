package api

import (
	"fmt"
	"net/http"
	"testing"
)

// Tokens are cached by the store: a warm cache must not let another
// tenant's object through, and revoking a token over the API must shut it
// out on the very next request.
func TestAuthCacheKeepsTenancyAndRevocation(t *testing.T) {
	ev := newEnv(t)
	cl := "/api/call-logd/1.0"
	for range 3 { // warm the cache for both tokens
		if r := ev.do("GET", cl+"/cdr", ev.tokens["adminB"], nil); r.status != http.StatusOK {
			t.Fatalf("list as adminB: %d %s", r.status, r.body)
		}
		if r := ev.do("GET", fmt.Sprintf(cl+"/cdr/%d", ev.callA.ID), ev.tokens["adminA"], nil); r.status != http.StatusOK {
			t.Fatalf("get as adminA: %d %s", r.status, r.body)
		}
	}
	// Tenant B's cached token still gets 404 for tenant A's call.
	r := ev.do("GET", fmt.Sprintf(cl+"/cdr/%d", ev.callA.ID), ev.tokens["adminB"], nil)
	wantError(t, r, http.StatusNotFound, "not-found")
	// Nor may it name tenant A.
	r = ev.do("GET", cl+"/cdr", ev.tokens["adminB"], nil, "Wazo-Tenant", tenantA)
	if r.status != http.StatusUnauthorized {
		t.Fatalf("adminB acting on tenant A: %d %s", r.status, r.body)
	}

	// Revoke adminB's token (with adminB itself) and use it again at once.
	r = ev.do("DELETE", "/api/callrecd/1.0/tokens/"+ev.tokens["adminB-id"], ev.tokens["adminB"], nil)
	if r.status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	r = ev.do("GET", cl+"/cdr", ev.tokens["adminB"], nil)
	if r.status != http.StatusUnauthorized {
		t.Fatalf("revoked token: %d %s", r.status, r.body)
	}
	// Other cached tokens keep working.
	if r := ev.do("GET", cl+"/cdr", ev.tokens["adminA"], nil); r.status != http.StatusOK {
		t.Fatalf("adminA after another token's revocation: %d %s", r.status, r.body)
	}
}
