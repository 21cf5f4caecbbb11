package store_test

import (
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/store"
)

// TestSyncCountsOldestPending: the status's lag is the receipt of the
// oldest webhook a shop's items still wait for: a later webhook for the
// same item does not move it, and another shop's do not count.
func TestSyncCountsOldestPending(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		mustPutShop(t, s, "a")
		mustPutShop(t, s, "b")
		if c, err := s.SyncCounts(ctx, "a", 0); err != nil || !c.OldestPending.IsZero() {
			t.Errorf("a shop with nothing pending: oldest %v, %v; want none", c.OldestPending, err)
		}
		first := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
		for i, w := range []struct {
			shop, id string
			at       time.Time
			items    []string
		}{
			{"b", "wb", first.Add(-time.Hour), []string{"i1"}},
			{"a", "w1", first, []string{"i1"}},
			{"a", "w2", first.Add(time.Minute), []string{"i1", "i2"}},
		} {
			if _, err := s.RecordWebhook(ctx, shop.WebhookReceipt{Shop: w.shop, WebhookID: w.id, Topic: "t", Received: w.at}, w.items, false, nil); err != nil {
				t.Fatalf("webhook %d: %v", i, err)
			}
		}
		if c, err := s.SyncCounts(ctx, "a", 0); err != nil || !c.OldestPending.Equal(first) {
			t.Errorf("oldest pending of shop a: %v, %v; want %v", c.OldestPending, err, first)
		}
	})
}
