package sync_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/store"
	"github.com/syncrules/syncrules/host/internal/sync"
)

// TestCleanupPrunes: the queue's cleanup job, run at start, deletes the
// history older than HistoryDays and the webhook receipts older than a
// week, as of its clock, and keeps the rest.
func TestCleanupPrunes(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		// A clock a year ahead: the rows are recorded at times relative to
		// it, so that only the cleanup's own clock decides.
		now := time.Now().AddDate(1, 0, 0).UTC().Truncate(time.Microsecond)
		cleaned := make(chan sync.Cleaned, 10)
		defer sync.SetCleanup(func() time.Time { return now }, func(c sync.Cleaned) { cleaned <- c })()

		const shopID = "acme"
		if _, err := s.PutShop(ctx, shop.Shop{ID: shopID, Locations: []shop.Location{}, Warehouses: []shop.Warehouse{}}, nil); err != nil {
			t.Fatal(err)
		}
		var p shop.Publication
		for i, age := range []time.Duration{31 * 24 * time.Hour, 30*24*time.Hour + time.Second, 30*24*time.Hour - time.Second, time.Hour} {
			p.History = append(p.History, shop.HistoryEntry{Time: now.Add(-age), SKUID: fmt.Sprint("sku-", i), WarehouseID: "w",
				Outcome: shop.OutcomePublished, Cause: "resync"})
		}
		if err := s.RecordPublication(ctx, shopID, p); err != nil {
			t.Fatal(err)
		}
		for i, age := range []time.Duration{8 * 24 * time.Hour, 7*24*time.Hour + time.Second, 6 * 24 * time.Hour} {
			r := shop.WebhookReceipt{Shop: shopID, WebhookID: fmt.Sprint("hook-", i), Topic: shop.TopicInventoryLevelsUpdate, Received: now.Add(-age)}
			if _, err := s.RecordWebhook(ctx, r, nil, false, nil); err != nil {
				t.Fatal(err)
			}
		}

		q := open(t, s, newFakeShops(), func(o *sync.Options) { o.HistoryDays = 30 })
		start(t, q)
		defer stop(t, q)
		select {
		case c := <-cleaned:
			if want := (sync.Cleaned{History: 2, Receipts: 2}); c != want {
				t.Errorf("the cleanup deleted %+v, want %+v", c, want)
			}
		case <-time.After(wait):
			t.Fatalf("no cleanup within %s of the start", wait)
		}
		left, err := s.SyncHistory(ctx, shopID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(left) != 2 || left[0].SKUID != "sku-2" || left[1].SKUID != "sku-3" {
			t.Errorf("history left: %+v, want sku-2 and sku-3", left)
		}
		// The receipt kept still dedupes; the pruned ones are new again.
		for id, wantDup := range map[string]bool{"hook-0": false, "hook-1": false, "hook-2": true} {
			r := shop.WebhookReceipt{Shop: shopID, WebhookID: id, Topic: shop.TopicInventoryLevelsUpdate}
			if dup, err := s.RecordWebhook(ctx, r, nil, false, nil); err != nil || dup != wantDup {
				t.Errorf("%s after the cleanup: duplicate %v, %v; want %v", id, dup, err, wantDup)
			}
		}
	})
}
