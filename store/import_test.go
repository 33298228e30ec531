package store

import (
	"context"
	"errors"
	"testing"

	"github.com/callrecd/callrecd/recording"
)

func TestImportIsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	set := ImportSet{
		Tenants: []Tenant{NewTenant(tenantA, "Acme")},
		Users: []User{
			{UUID: userOlga, TenantUUID: tenantA, Extension: "1015", Endpoints: []string{"1015"}, OnlineCallRecordEnabled: true},
			{UUID: userAna, TenantUUID: tenantA, Extension: "1011", Endpoints: []string{"1011"}},
		},
		Groups: []Group{{UUID: "6d2f1e4c-0000-4000-8000-000000000001", TenantUUID: tenantA, Kind: KindQueue,
			Name: "support", DTMFRecordToggle: true, Members: []string{userOlga, userAna}}},
	}
	sum, err := s.Import(ctx, set, map[string]string{string(recording.FeatureCallRecord): "*96"})
	if err != nil || sum.Created != 4 || sum.Updated != 0 {
		t.Fatalf("first import %+v, %v", sum, err)
	}
	if f, _ := s.ListFeatureExtensions(ctx, tenantA, string(recording.FeatureCallRecord)); len(f) != 1 || f[0].Exten != "*96" {
		t.Fatalf("feature codes %v", f)
	}
	// Importing again replaces in place.
	set.Users[1].CallRecordIncomingExternalEnabled = true
	if sum, err = s.Import(ctx, set, nil); err != nil || sum.Created != 0 || sum.Updated != 4 {
		t.Fatalf("second import %+v, %v", sum, err)
	}
	if u, _ := s.GetUser(ctx, tenantA, userAna); !u.CallRecordIncomingExternalEnabled {
		t.Fatalf("update not applied: %+v", u)
	}
	// A bad object at the end leaves everything before it unwritten.
	set.Tenants = append(set.Tenants, NewTenant(tenantB, "Beta"))
	set.Users[0].Extension = "2000"
	set.Groups[0].Members = []string{"00000000-0000-4000-8000-00000000dead"}
	if _, err := s.Import(ctx, set, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad import: err = %v", err)
	}
	if _, err := s.GetTenant(ctx, tenantB); !errors.Is(err, ErrNotFound) {
		t.Fatalf("tenant B written by a failed import: %v", err)
	}
	if u, _ := s.GetUser(ctx, tenantA, userOlga); u.Extension != "1015" {
		t.Fatalf("user changed by a failed import: %+v", u)
	}
}
