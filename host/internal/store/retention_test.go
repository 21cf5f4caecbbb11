package store_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/store"
)

// TestPruneSyncHistory: entries recorded before the cutoff go, of every
// shop, over as many batches as it takes; the others stay.
func TestPruneSyncHistory(t *testing.T) {
	defer store.SetPruneBatch(2)()
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		cutoff := time.Now().Add(-90 * 24 * time.Hour)
		var kept []string // sku ids of the entries that must stay, by shop "a"
		for _, id := range []string{"a", "b"} {
			mustPutShop(t, s, id)
			var p shop.Publication
			for i, at := range []time.Time{cutoff.Add(-time.Hour), cutoff.Add(-time.Microsecond), cutoff, cutoff.Add(-48 * time.Hour), time.Now(), cutoff.Add(-time.Minute)} {
				sku := fmt.Sprintf("%s-%d", id, i)
				p.History = append(p.History, shop.HistoryEntry{Time: at, SKUID: sku, WarehouseID: "w", Quantity: i, Outcome: shop.OutcomePublished, Cause: "resync"})
				if id == "a" && !at.Before(cutoff) {
					kept = append(kept, sku)
				}
			}
			if err := s.RecordPublication(ctx, id, p); err != nil {
				t.Fatal(err)
			}
		}
		n, err := s.PruneSyncHistory(ctx, cutoff)
		if err != nil || n != 8 {
			t.Fatalf("PruneSyncHistory = %d, %v; want 8 (4 of each shop)", n, err)
		}
		left, err := s.SyncHistory(ctx, "a", 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		var skus []string
		for _, h := range left {
			skus = append(skus, h.SKUID)
		}
		if !slices.Equal(skus, kept) {
			t.Errorf("history of a after the prune: %v, want %v", skus, kept)
		}
		if n, err := s.PruneSyncHistory(ctx, cutoff); err != nil || n != 0 {
			t.Errorf("a second prune = %d, %v; want 0", n, err)
		}
	})
}

// TestPendingSince: a pending item keeps the receipt time of the first
// webhook that named it while it stays pending; a change that no webhook
// made has none, and does not erase one.
func TestPendingSince(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		mustPutShop(t, s, "a")
		first := time.Now().Add(-time.Minute).UTC().Truncate(time.Microsecond)
		record := func(id string, at time.Time, items ...string) {
			t.Helper()
			r := shop.WebhookReceipt{Shop: "a", WebhookID: id, Topic: shop.TopicInventoryLevelsUpdate, Received: at}
			if _, err := s.RecordWebhook(ctx, r, items, false, nil); err != nil {
				t.Fatal(err)
			}
		}
		since := func() map[string]time.Time {
			t.Helper()
			items, err := s.PendingItems(ctx, "a", 0)
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]time.Time{}
			for _, p := range items {
				out[p.InventoryItemID] = p.Since
			}
			return out
		}
		if err := s.MarkAllPending(ctx, "a", "resync", nil); err != nil {
			t.Fatal(err)
		}
		record("1", first, "x")
		record("2", first.Add(time.Second), "x", "y")
		if err := s.MarkAllPending(ctx, "a", "settings:2", nil); err != nil {
			t.Fatal(err)
		}
		got := since()
		want := map[string]time.Time{shop.AllItems: {}, "x": first, "y": first.Add(time.Second)}
		for item, w := range want {
			if !got[item].Equal(w) {
				t.Errorf("since of %q = %v, want %v", item, got[item], w)
			}
		}
		// Taken, then named again: the new webhook's time.
		items, err := s.PendingItems(ctx, "a", 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.TakePending(ctx, "a", items); err != nil {
			t.Fatal(err)
		}
		later := first.Add(time.Hour)
		record("3", later, "x")
		if got := since()["x"]; !got.Equal(later) {
			t.Errorf("since of x pending again = %v, want %v", got, later)
		}
	})
}
