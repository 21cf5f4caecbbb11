package sync_test

import (
	"context"
	"fmt"
	gosync "sync"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/store"
	"github.com/syncrules/syncrules/host/internal/sync"
)

// TestRecordedWebhooksAreAllTaken: webhooks recorded by the store, each
// queueing the shop's job in its own transaction, while a worker takes
// the pending items a few at a time (as the sync will), leave nothing
// pending once the queue is idle, and every item is taken after the last
// webhook that named it — on both engines, with the store's real Pending.
func TestRecordedWebhooksAreAllTaken(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		const shopID = "acme"
		if _, err := s.PutShop(ctx, shop.Shop{ID: shopID, Locations: []shop.Location{}, Warehouses: []shop.Warehouse{}}, nil); err != nil {
			t.Fatal(err)
		}
		var mu gosync.Mutex
		lastSent := map[string]time.Time{}  // item → when its last webhook began to commit
		lastTaken := map[string]time.Time{} // item → when a worker last took it
		syncShop := func(ctx context.Context, id string) (bool, error) {
			items, err := s.PendingItems(ctx, id, 3)
			if err != nil {
				return false, err
			}
			now := time.Now()
			mu.Lock()
			for _, it := range items {
				lastTaken[it.InventoryItemID] = now
			}
			mu.Unlock()
			if err := s.TakePending(ctx, id, items); err != nil {
				return false, err
			}
			return len(items) == 3, nil
		}
		q, err := sync.Open(ctx, sync.Options{Store: s, Logger: quiet, SyncShop: syncShop, Pending: s.HasPendingTx})
		if err != nil {
			t.Fatal(err)
		}
		start(t, q)

		var wg gosync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for i := range 25 {
					item := fmt.Sprintf("gid://shopify/InventoryItem/%d", (w*25+i)%10)
					r := shop.WebhookReceipt{Shop: shopID, WebhookID: fmt.Sprintf("w%d-%d", w, i), Topic: shop.TopicInventoryLevelsUpdate,
						Received: time.Now(), Body: []byte("{}")}
					// Noted before it commits: a take after the commit is
					// later than this.
					mu.Lock()
					if now := time.Now(); now.After(lastSent[item]) {
						lastSent[item] = now
					}
					mu.Unlock()
					enqueue := func(ctx context.Context, tx any) error { return q.EnqueueTx(ctx, tx, shopID) }
					if _, err := s.RecordWebhook(ctx, r, []string{item}, false, enqueue); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()

		waitIdle(t, s, q, shopID)
		mu.Lock()
		defer mu.Unlock()
		for item, sent := range lastSent {
			if taken := lastTaken[item]; taken.Before(sent) {
				t.Errorf("%s: last taken %v, before its last webhook %v", item, taken, sent)
			}
		}
	})
}
