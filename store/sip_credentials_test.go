package store

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestSIPCredentials(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustTenant(t, s, tenantA)
	mustTenant(t, s, tenantB)

	c, created, err := s.PutSIPCredential(ctx, SIPCredential{TenantUUID: tenantA, Username: "1002"}, "s3cret")
	if err != nil || !created {
		t.Fatalf("put: %+v %v %v", c, created, err)
	}
	// H("1002:callrecd:s3cret"), computed outside Go (python3 hashlib).
	if c.Endpoint != "1002" || c.Realm != DefaultSIPRealm || c.HA1MD5 != "4b8162826bf4420efb871a4b6348c8ba" ||
		c.HA1SHA256 != "5fce3a2628b0f2951565c800e4dffed59e584103dc1f19e7b17e61b26922401d" {
		t.Fatalf("stored %+v", c)
	}
	if len(c.HA1MD5) != 32 || len(c.HA1SHA256) != 64 || strings.Contains(c.HA1MD5+c.HA1SHA256, "s3cret") {
		t.Fatalf("HA1s %q %q", c.HA1MD5, c.HA1SHA256)
	}
	got, err := s.SIPCredentialByRealm(ctx, DefaultSIPRealm, "1002")
	if err != nil || got.HA1SHA256 != DigestHA1(DigestSHA256, "1002", DefaultSIPRealm, "s3cret") || got.TenantUUID != tenantA {
		t.Fatalf("by realm: %+v %v", got, err)
	}
	if _, err := s.SIPCredentialByRealm(ctx, "other", "1002"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another realm: %v", err)
	}

	// The listener's realm moves: the old hash is stale, a new password is hashed for the new realm.
	stale, err := s.SetSIPRealm(ctx, "pbx.example.com")
	if err != nil || stale != 1 {
		t.Fatalf("set realm: %d %v", stale, err)
	}
	c2, created, err := s.PutSIPCredential(ctx, SIPCredential{TenantUUID: tenantA, Username: "1002", Endpoint: "Bob"}, "n3w")
	if err != nil || created || c2.Realm != "pbx.example.com" || c2.Endpoint != "Bob" || !c2.CreatedAt.Equal(c.CreatedAt) {
		t.Fatalf("replace: %+v %v %v", c2, created, err)
	}
	if c2.HA1MD5 != DigestHA1(DigestMD5, "1002", "pbx.example.com", "n3w") {
		t.Fatal("HA1 not recomputed for the new realm")
	}
	if stale, _ := s.SetSIPRealm(ctx, "pbx.example.com"); stale != 0 {
		t.Fatalf("stale after reset: %d", stale)
	}

	// Unique per realm across tenants.
	if _, _, err := s.PutSIPCredential(ctx, SIPCredential{TenantUUID: tenantB, Username: "1002"}, "x"); !errors.Is(err, ErrConflict) {
		t.Fatalf("same username in another tenant, same realm: %v", err)
	}
	if _, _, err := s.PutSIPCredential(ctx, SIPCredential{TenantUUID: tenantB, Username: "2001"}, "x"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct {
		c    SIPCredential
		pass string
	}{
		{SIPCredential{TenantUUID: tenantA, Username: ""}, "x"},
		{SIPCredential{TenantUUID: tenantA, Username: `a"b`}, "x"},
		{SIPCredential{TenantUUID: tenantA, Username: "a", Endpoint: "with space"}, "x"},
		{SIPCredential{TenantUUID: tenantA, Username: "a"}, ""},
		{SIPCredential{TenantUUID: "no-such-tenant", Username: "a"}, "x"},
	} {
		if _, _, err := s.PutSIPCredential(ctx, bad.c, bad.pass); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v %q: %v, want ErrInvalid", bad.c, bad.pass, err)
		}
	}

	list, err := s.ListSIPCredentials(ctx, tenantA)
	if err != nil || len(list) != 1 || list[0].Username != "1002" {
		t.Fatalf("list A: %+v %v", list, err)
	}
	if all, _ := s.ListSIPCredentials(ctx, ""); len(all) != 2 {
		t.Fatalf("list all: %+v", all)
	}
	if err := s.DeleteSIPCredential(ctx, tenantB, "1002"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete another tenant's: %v", err)
	}
	if err := s.DeleteSIPCredential(ctx, tenantA, "1002"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SIPCredentialByRealm(ctx, "pbx.example.com", "1002"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}
