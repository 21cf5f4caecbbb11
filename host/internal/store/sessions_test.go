package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/store"
)

func TestSessions(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		t0 := time.Date(2026, 12, 7, 9, 0, 0, 1000, time.UTC)
		a := shop.Session{IDHash: [32]byte{1}, TokenID: "tok_a", TokenHash: [32]byte{10}, Created: t0, Expires: t0.Add(time.Hour)}
		b := shop.Session{IDHash: [32]byte{2}, TokenID: "tok_b", TokenHash: [32]byte{11}, Created: t0, Expires: t0.Add(2 * time.Hour)}
		c := shop.Session{IDHash: [32]byte{3}, TokenID: "tok_a", TokenHash: [32]byte{10}, Created: t0, Expires: t0.Add(3 * time.Hour)}
		for _, sess := range []shop.Session{a, b, c} {
			if err := s.CreateSession(ctx, sess); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.CreateSession(ctx, shop.Session{IDHash: [32]byte{1}, TokenID: "tok_z"}); !errors.Is(err, store.ErrExists) {
			t.Errorf("a second session with the same id hash: %v, want ErrExists", err)
		}
		got, err := s.SessionByHash(ctx, [32]byte{2})
		if err != nil || got.TokenID != b.TokenID || got.TokenHash != b.TokenHash || !got.Created.Equal(b.Created) || !got.Expires.Equal(b.Expires) {
			t.Errorf("SessionByHash = %+v, %v; want %+v", got, err, b)
		}
		if _, err := s.SessionByHash(ctx, [32]byte{9}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("an unknown session: %v, want ErrNotFound", err)
		}

		// Expiry at or before the instant given deletes a, not b or c.
		if err := s.DeleteExpiredSessions(ctx, a.Expires); err != nil {
			t.Fatal(err)
		}
		// Revoking tok_a's sessions deletes c, not b.
		if err := s.DeleteTokenSessions(ctx, "tok_a"); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			name  string
			hash  [32]byte
			found bool
		}{{"expired", a.IDHash, false}, {"other token's", b.IDHash, true}, {"revoked token's", c.IDHash, false}} {
			_, err := s.SessionByHash(ctx, tt.hash)
			if found := err == nil; found != tt.found || (err != nil && !errors.Is(err, store.ErrNotFound)) {
				t.Errorf("the %s session: %v, want found %v", tt.name, err, tt.found)
			}
		}
		// Signing out: gone, and signing out again is no error.
		for range 2 {
			if err := s.DeleteSession(ctx, b.IDHash); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.SessionByHash(ctx, b.IDHash); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a deleted session: %v, want ErrNotFound", err)
		}
	})
}
