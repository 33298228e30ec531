package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestAccounts(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustTenant(t, s, tenantA)
	mustTenant(t, s, tenantB)
	mustUser(t, s, tenantA, userOlga, "1015")

	const pw = "correct horse"
	admin, err := s.CreateAccount(ctx, Account{Username: "alice@example.com", Role: RoleAdmin, TenantUUID: tenantA}, pw)
	if err != nil || admin.CreatedAt.IsZero() || admin.TenantUUID != tenantA {
		t.Fatalf("create admin: %+v %v", admin, err)
	}
	for _, a := range []Account{
		{Username: "root", Role: RoleSystem},
		{Username: "olga", Role: RoleUser, TenantUUID: tenantA, UserUUID: userOlga},
	} {
		if _, err := s.CreateAccount(ctx, a, pw); err != nil {
			t.Fatalf("create %s: %v", a.Username, err)
		}
	}

	var hash string
	if err := s.db.QueryRowContext(ctx, `SELECT password_hash FROM accounts WHERE username = 'root'`).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if cost, err := bcrypt.Cost([]byte(hash)); err != nil || cost != bcrypt.DefaultCost || strings.Contains(hash, pw) {
		t.Fatalf("stored hash %q: cost %d %v", hash, cost, err)
	}
	// The dummy must cost what a real hash costs, or timing tells unknown names apart.
	if cost, err := bcrypt.Cost([]byte(dummyHash)); err != nil || cost != bcrypt.DefaultCost {
		t.Fatalf("dummy hash cost %d %v", cost, err)
	}

	for name, tc := range map[string]struct {
		a    Account
		pass string
		want error
	}{
		"duplicate":            {Account{Username: "root", Role: RoleSystem}, pw, ErrConflict},
		"7 characters":         {Account{Username: "x", Role: RoleSystem}, "1234567", ErrInvalid},
		"73 bytes":             {Account{Username: "x", Role: RoleSystem}, strings.Repeat("a", 73), ErrInvalid},
		"empty username":       {Account{Username: "", Role: RoleSystem}, pw, ErrInvalid},
		"space in username":    {Account{Username: "a b", Role: RoleSystem}, pw, ErrInvalid},
		"colon in username":    {Account{Username: "token:abc", Role: RoleSystem}, pw, ErrInvalid},
		"65 characters":        {Account{Username: strings.Repeat("a", 65), Role: RoleSystem}, pw, ErrInvalid},
		"system with tenant":   {Account{Username: "x", Role: RoleSystem, TenantUUID: tenantA}, pw, ErrInvalid},
		"admin without":        {Account{Username: "x", Role: RoleAdmin}, pw, ErrInvalid},
		"user without user":    {Account{Username: "x", Role: RoleUser, TenantUUID: tenantA}, pw, ErrInvalid},
		"unknown role":         {Account{Username: "x", Role: "root", TenantUUID: tenantA}, pw, ErrInvalid},
		"unknown tenant":       {Account{Username: "x", Role: RoleAdmin, TenantUUID: "00000000-0000-4000-8000-000000000000"}, pw, ErrInvalid},
		"user of other tenant": {Account{Username: "x", Role: RoleUser, TenantUUID: tenantB, UserUUID: userOlga}, pw, ErrInvalid},
	} {
		if _, err := s.CreateAccount(ctx, tc.a, tc.pass); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	if _, err := s.CreateAccount(ctx, Account{Username: "élodie", Role: RoleAdmin, TenantUUID: tenantB}, "éééééééé"); err != nil {
		t.Fatalf("8 characters of 2 bytes each: %v", err)
	}

	if all, err := s.ListAccounts(ctx, ""); err != nil || len(all) != 4 || all[0].Username != "alice@example.com" {
		t.Fatalf("list all: %+v %v", all, err)
	}
	if inA, _ := s.ListAccounts(ctx, tenantA); len(inA) != 2 || inA[1].UserUUID != userOlga {
		t.Fatalf("list A: %+v", inA)
	}
	if a, err := s.GetAccount(ctx, "olga"); err != nil || a.Role != RoleUser || a.UserUUID != userOlga {
		t.Fatalf("get: %+v %v", a, err)
	}

	if a, err := s.CheckPassword(ctx, "alice@example.com", pw); err != nil || a.Role != RoleAdmin {
		t.Fatalf("right password: %+v %v", a, err)
	}
	for _, bad := range [][2]string{{"alice@example.com", "wrong password"}, {"nobody", pw}, {"", ""}} {
		if _, err := s.CheckPassword(ctx, bad[0], bad[1]); !errors.Is(err, ErrNotFound) {
			t.Errorf("%q/%q: %v, want ErrNotFound", bad[0], bad[1], err)
		}
	}
	// bcrypt reads 72 bytes: a longer guess sharing them must not pass.
	long := strings.Repeat("k", MaxPasswordBytes)
	if _, err := s.CreateAccount(ctx, Account{Username: "long", Role: RoleSystem}, long); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CheckPassword(ctx, "long", long+"x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("73-byte guess: %v", err)
	}

	if err := s.SetAccountPassword(ctx, "alice@example.com", "short"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("short new password: %v", err)
	}
	if err := s.SetAccountPassword(ctx, "nobody", "long enough"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown account: %v", err)
	}
	if err := s.SetAccountPassword(ctx, "alice@example.com", "battery staple"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CheckPassword(ctx, "alice@example.com", pw); !errors.Is(err, ErrNotFound) {
		t.Fatal("the old password still works")
	}
	if _, err := s.CheckPassword(ctx, "alice@example.com", "battery staple"); err != nil {
		t.Fatal(err)
	}

	if err := s.DeleteAccount(ctx, "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAccount(ctx, "alice@example.com"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	if _, err := s.GetAccount(ctx, "alice@example.com"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get deleted: %v", err)
	}
}

func TestWebSessions(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustTenant(t, s, tenantA)
	mustUser(t, s, tenantA, userOlga, "1015")
	if _, err := s.CreateAccount(ctx, Account{Username: "olga", Role: RoleUser, TenantUUID: tenantA, UserUUID: userOlga},
		"correct horse"); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	start := func(w WebSession) (WebSession, string) {
		t.Helper()
		got, plain, err := s.CreateWebSession(ctx, w, t0)
		if err != nil {
			t.Fatal(err)
		}
		return got, plain
	}
	w, plain := start(WebSession{Username: "olga", Role: RoleUser, TenantUUID: tenantA, UserUUID: userOlga})
	if len(plain) != 43 || len(w.CSRFToken) != 43 || w.CSRFToken == plain || !w.ExpiresAt.Equal(t0.Add(12*time.Hour)) {
		t.Fatalf("created %+v %q", w, plain)
	}
	var stored int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM web_sessions WHERE hash = ? AND hash <> ?`,
		HashToken(plain), plain).Scan(&stored); err != nil || stored != 1 {
		t.Fatalf("stored by hash: %d %v", stored, err)
	}

	// Seen at least every 2 h, the session lives on, sliding, until 12 h after sign-in.
	at := t0
	for range 6 {
		at = at.Add(110 * time.Minute)
		got, err := s.WebSession(ctx, plain, at)
		if err != nil || got.Username != "olga" || got.UserUUID != userOlga || got.CSRFToken != w.CSRFToken {
			t.Fatalf("at +%v: %+v %v", at.Sub(t0), got, err)
		}
	}
	got, err := s.WebSession(ctx, plain, at.Add(30*time.Second))
	if err != nil || !got.LastSeenAt.Equal(at) {
		t.Fatalf("last seen %v, want %v (slid, but not again within the minute): %v", got.LastSeenAt, at, err)
	}
	if _, err := s.WebSession(ctx, plain, t0.Add(WebSessionLifetime)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("12 h after sign-in, seen an hour ago: %v, want ErrNotFound", err)
	}
	_, idle := start(WebSession{Username: "olga", Role: RoleUser, TenantUUID: tenantA, UserUUID: userOlga})
	if _, err := s.WebSession(ctx, idle, t0.Add(WebSessionIdle-time.Second)); err != nil {
		t.Fatalf("idle just under 2 h: %v", err)
	}
	if _, err := s.WebSession(ctx, idle, t0.Add(2*WebSessionIdle)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("idle 2 h: %v, want ErrNotFound", err)
	}
	if _, err := s.WebSession(ctx, "not-a-session", t0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}

	// A token's session ends with the token.
	tok, _, err := s.CreateToken(ctx, Token{Role: RoleAdmin, TenantUUID: tenantA})
	if err != nil {
		t.Fatal(err)
	}
	_, tokPlain := start(WebSession{TokenID: tok.ID, Role: RoleAdmin, TenantUUID: tenantA})
	if got, err := s.WebSession(ctx, tokPlain, t0); err != nil || got.TokenID != tok.ID || got.Username != "" {
		t.Fatalf("token session: %+v %v", got, err)
	}
	if err := s.RevokeToken(ctx, "", tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WebSession(ctx, tokPlain, t0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after revocation: %v", err)
	}

	for name, bad := range map[string]WebSession{
		"account and token": {Username: "olga", TokenID: tok.ID, Role: RoleUser, TenantUUID: tenantA, UserUUID: userOlga},
		"neither":           {Role: RoleSystem},
		"unknown account":   {Username: "nobody", Role: RoleSystem},
		"system in tenant":  {Username: "olga", Role: RoleSystem, TenantUUID: tenantA},
	} {
		if _, _, err := s.CreateWebSession(ctx, bad, t0); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}

	// A password change and a deletion end the account's sessions.
	_, p1 := start(WebSession{Username: "olga", Role: RoleUser, TenantUUID: tenantA, UserUUID: userOlga})
	if err := s.SetAccountPassword(ctx, "olga", "battery staple"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WebSession(ctx, p1, t0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after a password change: %v", err)
	}
	_, p2 := start(WebSession{Username: "olga", Role: RoleUser, TenantUUID: tenantA, UserUUID: userOlga})
	_, p3 := start(WebSession{Username: "olga", Role: RoleUser, TenantUUID: tenantA, UserUUID: userOlga})
	if err := s.DeleteWebSession(ctx, p2); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteWebSession(ctx, p2); !errors.Is(err, ErrNotFound) {
		t.Fatalf("sign out twice: %v", err)
	}
	if _, err := s.WebSession(ctx, p3, t0); err != nil {
		t.Fatalf("another session of the account: %v", err)
	}
	if err := s.DeleteAccount(ctx, "olga"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WebSession(ctx, p3, t0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after the account's deletion: %v", err)
	}

	// Purge: only what is expired at now goes.
	admin := WebSession{TokenID: mustToken(t, s), Role: RoleSystem}
	_, live := start(admin)
	_, old := start(admin)
	if _, err := s.WebSession(ctx, live, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	n, err := s.PurgeWebSessions(ctx, t0.Add(WebSessionIdle+time.Minute))
	if err != nil || n < 2 { // old, and the revoked token's
		t.Fatalf("purged %d %v", n, err)
	}
	if _, err := s.WebSession(ctx, live, t0.Add(WebSessionIdle+time.Minute)); err != nil {
		t.Fatalf("the live session was purged: %v", err)
	}
	var left int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM web_sessions WHERE hash = ?`, HashToken(old)).Scan(&left); err != nil || left != 0 {
		t.Fatalf("idle session kept: %d %v", left, err)
	}
}

func mustToken(t *testing.T, s *Store) string {
	t.Helper()
	tok, _, err := s.CreateToken(context.Background(), Token{Role: RoleSystem})
	if err != nil {
		t.Fatal(err)
	}
	return tok.ID
}
