package store

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"
)

// Authenticate caches live tokens; revoking one through the Store must take
// effect at once, not after TokenCacheTTL.
func TestTokenCacheRevocationIsImmediate(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustTenant(t, s, tenantA)
	mustUser(t, s, tenantA, userOlga, "1015")
	admin, plain, err := s.CreateToken(ctx, Token{Role: RoleAdmin, TenantUUID: tenantA})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // the first fills the cache, the others hit it
		if got, err := s.Authenticate(ctx, plain); err != nil || got.ID != admin.ID || got.TenantUUID != tenantA || got.Role != RoleAdmin {
			t.Fatalf("authenticate: %+v, %v", got, err)
		}
	}
	if _, ok, _ := s.tokens.get(HashToken(plain), time.Now()); !ok {
		t.Fatal("live token not cached")
	}
	if err := s.RevokeToken(ctx, tenantA, admin.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, plain); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoked token accepted from the cache: %v", err)
	}

	// Revoked inside a transaction: refused once it commits.
	tok2, plain2, _ := s.CreateToken(ctx, Token{Role: RoleAdmin, TenantUUID: tenantA})
	if _, err := s.Authenticate(ctx, plain2); err != nil {
		t.Fatal(err)
	}
	err = s.InTx(ctx, func(ts *Store) error {
		if err := ts.RevokeToken(ctx, "", tok2.ID); err != nil {
			return err
		}
		// A request between the revocation and the commit still sees the
		// committed (live) row and may cache it...
		if _, err := s.Authenticate(ctx, plain2); err != nil {
			t.Errorf("before commit: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// ...but the commit drops it again.
	if _, err := s.Authenticate(ctx, plain2); !errors.Is(err, ErrNotFound) {
		t.Fatalf("token revoked in a committed transaction accepted: %v", err)
	}

	// A revocation in a rolled-back transaction leaves the token live.
	_, plain3, _ := s.CreateToken(ctx, Token{Role: RoleAdmin, TenantUUID: tenantA})
	tok3, _ := s.Authenticate(ctx, plain3)
	_ = s.InTx(ctx, func(ts *Store) error {
		if err := ts.RevokeToken(ctx, "", tok3.ID); err != nil {
			return err
		}
		return errors.New("roll back")
	})
	if _, err := s.Authenticate(ctx, plain3); err != nil {
		t.Fatalf("token whose revocation rolled back refused: %v", err)
	}

	// A user's tokens go with the user.
	_, plainU, _ := s.CreateToken(ctx, Token{Role: RoleUser, TenantUUID: tenantA, UserUUID: userOlga})
	if _, err := s.Authenticate(ctx, plainU); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, tenantA, userOlga); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, plainU); !errors.Is(err, ErrNotFound) {
		t.Fatalf("token of a deleted user accepted: %v", err)
	}
}

// A revocation by another process (another Store on the same file) is seen
// once the cached entry expires.
func TestTokenCacheExpiresForOtherProcesses(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustTenant(t, s, tenantA)
	tok, plain, _ := s.CreateToken(ctx, Token{Role: RoleAdmin, TenantUUID: tenantA})
	if _, err := s.Authenticate(ctx, plain); err != nil {
		t.Fatal(err)
	}
	other, err := Open(ctx, s.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.RevokeToken(ctx, "", tok.ID); err != nil {
		t.Fatal(err)
	}
	// Within the TTL this process may still accept it; age the entry.
	s.tokens.mu.Lock()
	e := s.tokens.m[HashToken(plain)]
	e.expires = time.Now().Add(-time.Millisecond)
	s.tokens.m[HashToken(plain)] = e
	s.tokens.mu.Unlock()
	if _, err := s.Authenticate(ctx, plain); !errors.Is(err, ErrNotFound) {
		t.Fatalf("token revoked elsewhere accepted after the TTL: %v", err)
	}
}

// A lookup that raced with a revocation must not cache what it read before.
func TestTokenCacheIgnoresStaleFill(t *testing.T) {
	c := newTokenCache()
	now := time.Now()
	_, _, gen := c.get("h", now)
	c.invalidate() // a revocation lands between the read and the fill
	c.put("h", Token{ID: "x"}, gen, now)
	if _, ok, _ := c.get("h", now); ok {
		t.Fatal("stale lookup was cached")
	}
	_, _, gen = c.get("h", now)
	c.put("h", Token{ID: "x"}, gen, now)
	if _, ok, _ := c.get("h", now.Add(TokenCacheTTL)); ok {
		t.Fatal("entry outlived its TTL")
	}
}

// Cached or not, the use is still written at most once a minute.
func TestTokenCacheNotesUse(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustTenant(t, s, tenantA)
	clock := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return clock }
	_, plain, _ := s.CreateToken(ctx, Token{Role: RoleAdmin, TenantUUID: tenantA})
	lastUsed := func() time.Time {
		s.bg.Wait() // the use is written off the caller's path
		list, err := s.ListTokens(ctx, tenantA)
		if err != nil || len(list) != 1 || list[0].LastUsedAt == nil {
			t.Fatalf("tokens %+v, %v", list, err)
		}
		return *list[0].LastUsedAt
	}
	if _, err := s.Authenticate(ctx, plain); err != nil {
		t.Fatal(err)
	}
	first := lastUsed()
	clock = clock.Add(30 * time.Second)
	if _, err := s.Authenticate(ctx, plain); err != nil {
		t.Fatal(err)
	}
	if got := lastUsed(); !got.Equal(first) {
		t.Fatalf("use noted again after 30 s: %v", got)
	}
	clock = clock.Add(61 * time.Second)
	got, err := s.Authenticate(ctx, plain) // a cache hit (same process, within the TTL)
	if err != nil || got.LastUsedAt == nil || !got.LastUsedAt.Equal(clock) {
		t.Fatalf("authenticate %+v, %v", got, err)
	}
	if got := lastUsed(); !got.Equal(clock) {
		t.Fatalf("last_used_at = %v, want %v", got, clock)
	}
}

// A request authenticates at once while another process holds SQLite's
// write lock (the soak's sqlite_busy fault): noting the token's use does
// not wait out the busy timeout on the request's path, and is written once
// the lock is gone.
func TestAuthenticateDoesNotWaitForTheWriteLock(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustTenant(t, s, tenantA)
	_, plain, _ := s.CreateToken(ctx, Token{Role: RoleAdmin, TenantUUID: tenantA})

	other, err := sql.Open("sqlite3", "file:"+s.Path()+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	// Bounded: if Authenticate waited for the lock it would return only
	// after the lock is released below, and the check fails.
	authed := make(chan error, 1)
	go func() {
		_, err := s.Authenticate(ctx, plain)
		authed <- err
	}()
	var released bool
	select {
	case err := <-authed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		released = true
	}
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if released {
		<-authed
		t.Fatal("Authenticate waited for another process's write lock")
	}
	s.bg.Wait()
	list, err := s.ListTokens(ctx, tenantA)
	if err != nil || len(list) != 1 || list[0].LastUsedAt == nil {
		t.Fatalf("the use was not written once the lock was gone: %+v, %v", list, err)
	}
}
