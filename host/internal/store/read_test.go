package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/slowtest"
	"github.com/syncrules/syncrules/host/internal/store"
)

// TestReadsBesideAWriteTransaction: while a write transaction is open, and
// on SQLite holds the store's one writing connection and the database's
// write lock (as a sync job's write waiting for the queue's lock does), a
// token lookup and a shop's settings still answer, from before the
// transaction; once it commits, the next lookup sees its change.
func TestReadsBesideAWriteTransaction(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		tok := shop.Token{ID: "tok_a", Name: "a", Scopes: []string{"shop:acme"}, Hash: [32]byte{1}}
		if err := s.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if _, err := s.PutShop(ctx, shop.Shop{ID: "acme", Name: "Acme"}, nil); err != nil {
			t.Fatal(err)
		}

		tx, err := s.DB().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE id = $1`, tok.ID); err != nil {
			t.Fatal(err)
		}
		// A read that queued behind the transaction would wait until it
		// ends, which it does only after the reads: the deadline makes
		// that a failure rather than a hang.
		during, cancel := context.WithTimeout(ctx, 5*time.Second*slowtest.Factor)
		defer cancel()
		if got, err := s.TokenByHash(during, tok.Hash); err != nil || got.ID != tok.ID {
			t.Errorf("token lookup during a write transaction = %+v, %v; want %s as it was before it", got, err, tok.ID)
		}
		if sh, _, err := s.ShopSettings(during, "acme"); err != nil || sh.ID != "acme" {
			t.Errorf("shop settings during a write transaction = %+v, %v; want shop acme", sh, err)
		}

		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.TokenByHash(ctx, tok.Hash); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("token lookup after its deletion committed: %v, want ErrNotFound", err)
		}
	})
}
