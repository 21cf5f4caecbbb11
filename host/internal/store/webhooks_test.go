package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/store"
)

// enqueueRecorder is a queue's side of RecordWebhook: it counts its calls
// and reads, through the transaction it is given, the receipts that
// transaction sees, which proves it is the store's.
type enqueueRecorder struct {
	mu       sync.Mutex
	calls    int
	receipts []int // receipts of the shop seen through tx, per call
	fail     error
}

func (e *enqueueRecorder) enqueue(shopID string) func(ctx context.Context, tx any) error {
	return func(ctx context.Context, tx any) error {
		const q = `SELECT COUNT(*) FROM webhook_receipts WHERE shop = $1`
		var n int
		switch tx := tx.(type) {
		case *sql.Tx:
			if err := tx.QueryRowContext(ctx, q, shopID).Scan(&n); err != nil {
				return err
			}
		case pgx.Tx:
			if err := tx.QueryRow(ctx, q, shopID).Scan(&n); err != nil {
				return err
			}
		default:
			return fmt.Errorf("enqueue got a %T, want *sql.Tx or pgx.Tx", tx)
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		e.calls++
		e.receipts = append(e.receipts, n)
		return e.fail
	}
}

// pendingIDs lists a shop's pending items, oldest first, as item@cause.
func pendingIDs(t *testing.T, s *store.Store, shopID string) []string {
	t.Helper()
	items, err := s.PendingItems(t.Context(), shopID, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i, p := range items {
		if i > 0 && p.Seq <= items[i-1].Seq {
			t.Errorf("pending items out of seq order: %+v", items)
		}
		out = append(out, p.InventoryItemID+"@"+p.Cause)
	}
	return out
}

func TestRecordWebhook(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		mustPutShop(t, s, "a")
		mustPutShop(t, s, "b")
		rec := &enqueueRecorder{}
		receipt := func(id string) shop.WebhookReceipt {
			return shop.WebhookReceipt{Shop: "a", WebhookID: id, Topic: "inventory_levels/update", Body: []byte(`{"id":` + id + `}`)}
		}
		steps := []struct {
			name    string
			r       shop.WebhookReceipt
			items   []string
			all     bool
			fail    error
			wantDup bool
			wantErr error
			want    []string // the shop's pending items after, oldest first
		}{
			{name: "a first webhook", r: receipt("w1"), items: []string{"i2", "i1", "i2"}, want: []string{"i1@w1", "i2@w1"}},
			{name: "its retry does nothing", r: receipt("w1"), items: []string{"i3"}, wantDup: true, want: []string{"i1@w1", "i2@w1"}},
			{name: "an item named again moves last", r: receipt("w2"), items: []string{"i1"}, want: []string{"i2@w1", "i1@w2"}},
			{name: "a failing enqueue changes nothing", r: receipt("w3"), items: []string{"i2", "i4"}, all: true, fail: errBoom, wantErr: errBoom,
				want: []string{"i2@w1", "i1@w2"}},
			{name: "the webhook delivered again is recorded", r: receipt("w3"), items: []string{"i4"}, all: true,
				want: []string{"i2@w1", "i1@w2", "*@w3", "i4@w3"}},
			{name: "a webhook that names nothing", r: receipt("w4"), want: []string{"i2@w1", "i1@w2", "*@w3", "i4@w3"}},
			{name: "another shop's webhook of the same id", r: shop.WebhookReceipt{Shop: "b", WebhookID: "w1", Topic: "t"}, items: []string{"i9"},
				want: []string{"i2@w1", "i1@w2", "*@w3", "i4@w3"}},
			{name: "no such shop", r: shop.WebhookReceipt{Shop: "nope", WebhookID: "w5", Topic: "t"}, items: []string{"i1"}, wantErr: store.ErrNotFound,
				want: []string{"i2@w1", "i1@w2", "*@w3", "i4@w3"}},
			{name: "text no engine stores", r: receipt("w\x00"), wantErr: store.ErrInvalid, want: []string{"i2@w1", "i1@w2", "*@w3", "i4@w3"}},
		}
		wantCalls := 0
		for _, st := range steps {
			rec.fail = st.fail
			dup, err := s.RecordWebhook(ctx, st.r, st.items, st.all, rec.enqueue(st.r.Shop))
			if dup != st.wantDup || !errors.Is(err, st.wantErr) || (st.wantErr == nil) != (err == nil) {
				t.Fatalf("%s: RecordWebhook = %v, %v; want %v, %v", st.name, dup, err, st.wantDup, st.wantErr)
			}
			if !st.wantDup && (st.wantErr == nil || st.fail != nil) {
				wantCalls++
			}
			if rec.calls != wantCalls {
				t.Fatalf("%s: enqueue called %d times, want %d", st.name, rec.calls, wantCalls)
			}
			if got := pendingIDs(t, s, "a"); !slices.Equal(got, st.want) {
				t.Errorf("%s: pending %v, want %v", st.name, got, st.want)
			}
		}
		// Each enqueue saw its own receipt through the transaction.
		if want := []int{1, 2, 3, 3, 4, 1}; !slices.Equal(rec.receipts, want) {
			t.Errorf("receipts seen through the transaction: %v, want %v", rec.receipts, want)
		}
		if got := pendingIDs(t, s, "b"); !slices.Equal(got, []string{"i9@w1"}) {
			t.Errorf("shop b's pending items: %v", got)
		}
		if _, err := s.PendingItems(ctx, "nope", 0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("PendingItems of no shop: %v, want ErrNotFound", err)
		}
		// Deleting the shop forgets its receipts and pending items.
		if err := s.DeleteShop(ctx, "b"); err != nil {
			t.Fatal(err)
		}
		mustPutShop(t, s, "b")
		if dup, err := s.RecordWebhook(ctx, shop.WebhookReceipt{Shop: "b", WebhookID: "w1", Topic: "t"}, nil, false, rec.enqueue("b")); dup || err != nil {
			t.Errorf("a recreated shop's first webhook: %v, %v; want recorded", dup, err)
		}
		if got := pendingIDs(t, s, "b"); len(got) != 0 {
			t.Errorf("a recreated shop has pending items: %v", got)
		}
	})
}

var errBoom = errors.New("boom")

// TestTakePending: the sync deletes what it read, but an item a webhook
// named while it worked stays pending; batches cross statement bounds.
func TestTakePending(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		mustPutShop(t, s, "a")
		rec := &enqueueRecorder{}
		var items []string
		for i := range 600 {
			items = append(items, fmt.Sprintf("gid://shopify/InventoryItem/%d", i))
		}
		if _, err := s.RecordWebhook(ctx, shop.WebhookReceipt{Shop: "a", WebhookID: "w1", Topic: "products/update"}, items, false, rec.enqueue("a")); err != nil {
			t.Fatal(err)
		}
		taken, err := s.PendingItems(ctx, "a", 250)
		if err != nil || len(taken) != 250 {
			t.Fatalf("PendingItems(250) = %d items, %v", len(taken), err)
		}
		// While the sync works, a webhook names a taken item and an untaken one.
		again := []string{taken[7].InventoryItemID, items[599]}
		if _, err := s.RecordWebhook(ctx, shop.WebhookReceipt{Shop: "a", WebhookID: "w2", Topic: "inventory_items/update"}, again, false, rec.enqueue("a")); err != nil {
			t.Fatal(err)
		}
		if err := s.TakePending(ctx, "a", taken); err != nil {
			t.Fatal(err)
		}
		left, err := s.PendingItems(ctx, "a", 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(left) != 600-250+1 {
			t.Fatalf("%d items left, want %d", len(left), 600-250+1)
		}
		last := left[len(left)-2:]
		if last[0].Cause != "w2" || last[1].Cause != "w2" || !slices.Contains(again, last[0].InventoryItemID) || !slices.Contains(again, last[1].InventoryItemID) {
			t.Errorf("the items named again are not pending last: %+v", last)
		}
		// Taking what is not pending, or the same twice, is harmless.
		if err := s.TakePending(ctx, "a", append(taken[:3], shop.PendingItem{InventoryItemID: "none", Seq: 1 << 62})); err != nil {
			t.Error(err)
		}
		if err := s.TakePending(ctx, "a", left); err != nil {
			t.Fatal(err)
		}
		if got := pendingIDs(t, s, "a"); len(got) != 0 {
			t.Errorf("pending after taking everything: %v", got)
		}
	})
}

// TestRecordWebhookRace: deliveries of one webhook at once record it
// once and enqueue once.
func TestRecordWebhookRace(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		mustPutShop(t, s, "a")
		rec := &enqueueRecorder{}
		const n = 8
		var wg sync.WaitGroup
		start := make(chan struct{})
		results := make(chan error, n)
		dups := make(chan bool, n)
		for range n {
			wg.Go(func() {
				<-start
				dup, err := s.RecordWebhook(ctx, shop.WebhookReceipt{Shop: "a", WebhookID: "same", Topic: "t"}, []string{"i1"}, false, rec.enqueue("a"))
				results <- err
				dups <- dup
			})
		}
		close(start)
		wg.Wait()
		close(results)
		close(dups)
		for err := range results {
			if err != nil {
				t.Error(err)
			}
		}
		recorded := 0
		for dup := range dups {
			if !dup {
				recorded++
			}
		}
		if recorded != 1 || rec.calls != 1 {
			t.Errorf("%d deliveries recorded, enqueue called %d times; want 1 and 1", recorded, rec.calls)
		}
	})
}

func TestProductInventoryItems(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		mustPutShop(t, s, "a")
		vs := []shop.Variant{
			{ID: "v2", ProductID: "p1", InventoryItemID: "i2"},
			{ID: "v1", ProductID: "p1", InventoryItemID: "i1"},
			{ID: "v3", ProductID: "p2", InventoryItemID: "i3"},
			{ID: "v4", ProductID: "p1"}, // no inventory item
		}
		if err := s.PutVariants(ctx, "a", 1, vs); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			shop, product string
			want          []string
		}{{"a", "p1", []string{"i1", "i2"}}, {"a", "p2", []string{"i3"}}, {"a", "p3", nil}, {"nope", "p1", nil}} {
			got, err := s.ProductInventoryItems(ctx, tt.shop, tt.product)
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("ProductInventoryItems(%s, %s) = %v, %v; want %v", tt.shop, tt.product, got, err, tt.want)
			}
		}
	})
}

func TestPruneWebhookReceipts(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		mustPutShop(t, s, "a")
		rec := &enqueueRecorder{}
		old := time.Now().Add(-72 * time.Hour)
		for i, at := range []time.Time{old, old, time.Now()} {
			r := shop.WebhookReceipt{Shop: "a", WebhookID: fmt.Sprint(i), Topic: "t", Received: at}
			if _, err := s.RecordWebhook(ctx, r, nil, false, rec.enqueue("a")); err != nil {
				t.Fatal(err)
			}
		}
		n, err := s.PruneWebhookReceipts(ctx, time.Now().Add(-48*time.Hour))
		if err != nil || n != 2 {
			t.Fatalf("PruneWebhookReceipts = %d, %v; want 2", n, err)
		}
		// A pruned id is new again; the kept one is still a duplicate.
		for id, wantDup := range map[string]bool{"0": false, "2": true} {
			if dup, err := s.RecordWebhook(ctx, shop.WebhookReceipt{Shop: "a", WebhookID: id, Topic: "t"}, nil, false, rec.enqueue("a")); err != nil || dup != wantDup {
				t.Errorf("webhook %s after the prune: duplicate %v, %v; want %v", id, dup, err, wantDup)
			}
		}
	})
}
