package sync_test

import (
	"context"
	"fmt"
	"slices"
	gosync "sync"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/slowtest"
	"github.com/syncrules/syncrules/host/internal/store"
	"github.com/syncrules/syncrules/host/internal/sync"
)

// take is one SyncShop call of takingShops: when, and the items it took.
type take struct {
	at    time.Time
	items []string
}

// takingShops is a SyncShop that takes every pending item of the shop, as
// the sync does, and records each call.
type takingShops struct {
	s     *store.Store
	mu    gosync.Mutex
	takes []take
	calls chan struct{} // one send per call, buffered
}

func newTakingShops(s *store.Store) *takingShops {
	return &takingShops{s: s, calls: make(chan struct{}, 100)}
}

func (f *takingShops) SyncShop(ctx context.Context, id string) (bool, error) {
	at := time.Now()
	items, err := f.s.PendingItems(ctx, id, 0)
	if err != nil {
		return false, err
	}
	if err := f.s.TakePending(ctx, id, items); err != nil {
		return false, err
	}
	tk := take{at: at}
	for _, it := range items {
		tk.items = append(tk.items, it.InventoryItemID)
	}
	slices.Sort(tk.items)
	f.mu.Lock()
	f.takes = append(f.takes, tk)
	f.mu.Unlock()
	f.calls <- struct{}{}
	return false, nil
}

func (f *takingShops) recorded() []take {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.takes)
}

// waitIdle waits until the shop has nothing pending and the webhooks queue
// runs nothing.
func waitIdle(t *testing.T, s *store.Store, q *sync.Queue, shopID string) {
	t.Helper()
	ctx := context.Background()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		left, err := s.PendingItems(ctx, shopID, 0)
		if err != nil {
			t.Fatal(err)
		}
		st, err := q.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if w := st.ByQueue[sync.QueueWebhooks]; len(left) == 0 && w.Available == 0 && w.Running == 0 {
			return
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("not idle after %s: pending %+v, queue %+v", wait, left, st)
		}
	}
}

func putShop(t *testing.T, s *store.Store, id string) {
	t.Helper()
	if _, err := s.PutShop(context.Background(), shop.Shop{ID: id, Locations: []shop.Location{}, Warehouses: []shop.Warehouse{}}, nil); err != nil {
		t.Fatal(err)
	}
}

func recordWebhook(t *testing.T, s *store.Store, q *sync.Queue, shopID, webhookID, item string, received time.Time) {
	t.Helper()
	r := shop.WebhookReceipt{Shop: shopID, WebhookID: webhookID, Topic: shop.TopicInventoryLevelsUpdate, Received: received, Body: []byte("{}")}
	enqueue := func(ctx context.Context, tx any) error { return q.EnqueueTx(ctx, tx, shopID) }
	if _, err := s.RecordWebhook(context.Background(), r, []string{item}, false, enqueue); err != nil {
		t.Fatal(err)
	}
}

// startCoalescing puts the shop and starts a queue with the coalescing
// window whose jobs take the shop's items through f; it stops with the test.
func startCoalescing(t *testing.T, s *store.Store, shopID string, window time.Duration) (*sync.Queue, *takingShops) {
	t.Helper()
	putShop(t, s, shopID)
	f := newTakingShops(s)
	q, err := sync.Open(context.Background(), sync.Options{Store: s, Logger: quiet, SyncShop: f.SyncShop, Pending: s.HasPendingTx,
		Coalesce: window, PendingSince: s.PendingSince})
	if err != nil {
		t.Fatal(err)
	}
	start(t, q)
	t.Cleanup(func() { stop(t, q) })
	return q, f
}

// TestBurstIsTakenOnceItsWindowIsOver: webhooks recorded within the
// coalescing window, the first of which queued the shop's job, are taken
// by one SyncShop call, made once the first is a window old.
func TestBurstIsTakenOnceItsWindowIsOver(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *store.Store) {
		const shopID = "acme"
		// Long enough for the burst to be recorded on a loaded machine.
		window := 2 * time.Second * slowtest.Factor
		q, f := startCoalescing(t, s, shopID, window)

		first := time.Now()
		items := []string{"gid://shopify/InventoryItem/1", "gid://shopify/InventoryItem/2", "gid://shopify/InventoryItem/3"}
		for i := range 15 {
			received := first
			if i > 0 {
				received = time.Now()
			}
			recordWebhook(t, s, q, shopID, fmt.Sprintf("w%d", i), items[i%len(items)], received)
		}
		if recorded := time.Since(first); recorded >= window {
			t.Fatalf("recording the burst took %s, longer than the window %s: raise SYNCRULES_TEST_SLOWDOWN", recorded, window)
		}
		waitIdle(t, s, q, shopID)

		takes := f.recorded()
		if len(takes) != 1 {
			t.Fatalf("SyncShop took %+v; want one call taking the whole burst", takes)
		}
		if !slices.Equal(takes[0].items, items) {
			t.Errorf("SyncShop took %v, want %v", takes[0].items, items)
		}
		if early := first.Add(window).Sub(takes[0].at); early > 0 {
			t.Errorf("SyncShop ran %s before the first webhook was a window (%s) old", early, window)
		}
	})
}

// TestNothingToGatherRunsAtOnce: with a window longer than the test waits,
// items that wait for no young webhook are taken at once.
func TestNothingToGatherRunsAtOnce(t *testing.T) {
	window := 10 * wait
	for _, tc := range []struct {
		name   string
		record func(t *testing.T, s *store.Store, q *sync.Queue)
	}{
		{"a resync", func(t *testing.T, s *store.Store, q *sync.Queue) {
			enqueue := func(ctx context.Context, tx any) error { return q.EnqueueTx(ctx, tx, "acme") }
			if err := s.MarkAllPending(context.Background(), "acme", shop.CauseResync, enqueue); err != nil {
				t.Fatal(err)
			}
		}},
		{"a webhook received a window ago", func(t *testing.T, s *store.Store, q *sync.Queue) {
			recordWebhook(t, s, q, "acme", "old", "gid://shopify/InventoryItem/1", time.Now().Add(-window))
		}},
		{"a young webhook beside a resync", func(t *testing.T, s *store.Store, q *sync.Queue) {
			if err := s.MarkAllPending(context.Background(), "acme", shop.CauseResync, nil); err != nil {
				t.Fatal(err)
			}
			recordWebhook(t, s, q, "acme", "young", "gid://shopify/InventoryItem/1", time.Now())
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachEngine(t, func(t *testing.T, s *store.Store) {
				q, f := startCoalescing(t, s, "acme", window)
				tc.record(t, s, q)
				select {
				case <-f.calls:
				case <-time.After(wait):
					t.Fatalf("no SyncShop call within %s: the job waited for a window of %s", wait, window)
				}
				waitIdle(t, s, q, "acme")
			})
		})
	}
}

func TestCoalesceNeedsPendingSince(t *testing.T) {
	s := engines[0].open(t)
	_, err := sync.Open(context.Background(), sync.Options{Store: s, Logger: quiet, SyncShop: newFakeShops().SyncShop, Pending: nonePending,
		Coalesce: time.Second})
	if err == nil {
		t.Fatal("Open with Coalesce and no PendingSince succeeded; want an error")
	}
}
