package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/store"
)

// pendingSeen is an enqueue that records what HasPendingTx answers in the
// transaction it is given: what the queue's job would see once it commits.
type pendingSeen struct {
	s     *store.Store
	shop  string
	calls []bool
}

func (p *pendingSeen) enqueue(ctx context.Context, tx any) error {
	pending, err := p.s.HasPendingTx(ctx, tx, p.shop)
	p.calls = append(p.calls, pending)
	return err
}

// TestSyncPaused: a paused shop keeps recording pending items, but its
// job sees none; resuming enqueues it in the transaction that resumes it,
// where its items are pending again. EnqueuePending enqueues only a shop
// not paused with items pending.
func TestSyncPaused(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		mustPutShop(t, s, "a")
		seen := &pendingSeen{s: s, shop: "a"}
		if ok, err := s.EnqueuePending(ctx, "a", seen.enqueue); ok || err != nil || len(seen.calls) != 0 {
			t.Errorf("EnqueuePending of a shop with nothing pending = %t, %v, %d calls; want no enqueue", ok, err, len(seen.calls))
		}
		if err := s.SetSyncPaused(ctx, "a", true, seen.enqueue); err != nil {
			t.Fatal(err)
		}
		if len(seen.calls) != 0 {
			t.Error("pausing enqueued the shop's job")
		}
		if sh, err := s.Shop(ctx, "a"); err != nil || !sh.SyncPaused {
			t.Errorf("Shop after pausing: paused %t, %v", sh.SyncPaused, err)
		}
		if _, err := s.RecordWebhook(ctx, shop.WebhookReceipt{Shop: "a", WebhookID: "w1", Topic: "t"}, []string{"i1"}, false, seen.enqueue); err != nil {
			t.Fatal(err)
		}
		if got := pendingIDs(t, s, "a"); len(got) != 1 {
			t.Errorf("a paused shop's webhook left %v pending, want its item", got)
		}
		if ok, err := s.EnqueuePending(ctx, "a", seen.enqueue); ok || err != nil {
			t.Errorf("EnqueuePending of a paused shop = %t, %v; want no enqueue", ok, err)
		}
		if err := s.SetSyncPaused(ctx, "a", false, seen.enqueue); err != nil {
			t.Fatal(err)
		}
		// The webhook's job saw nothing pending (paused); resume's sees it.
		if want := []bool{false, true}; len(seen.calls) != 2 || seen.calls[0] != want[0] || seen.calls[1] != want[1] {
			t.Errorf("pending seen by the webhook's and resume's enqueue = %v, want %v", seen.calls, want)
		}
		if ok, err := s.EnqueuePending(ctx, "a", seen.enqueue); !ok || err != nil || len(seen.calls) != 3 {
			t.Errorf("EnqueuePending of a resumed shop with items pending = %t, %v; want an enqueue", ok, err)
		}
		for name, err := range map[string]error{
			"SetSyncPaused": s.SetSyncPaused(ctx, "nope", true, nil),
			"EnqueuePending": func() error {
				_, err := s.EnqueuePending(ctx, "nope", seen.enqueue)
				return err
			}(),
		} {
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s of no shop: %v, want ErrNotFound", name, err)
			}
		}
	})
}

// TestSyncCounts: the status's figures: pending items apart from '*',
// failing SKUs with the most recent first, the last publication, and the
// linked items a resync publishes.
func TestSyncCounts(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		mustPutShop(t, s, "a")
		mustPutShop(t, s, "b")
		c, err := s.SyncCounts(ctx, "a", 2)
		if err != nil || c.Pending != 0 || c.AllPending || c.Failing != 0 || len(c.Failures) != 0 || !c.LastPublished.IsZero() {
			t.Errorf("counts of a new shop = %+v, %v; want zeros", c, err)
		}
		if _, err := s.RecordWebhook(ctx, shop.WebhookReceipt{Shop: "a", WebhookID: "w1", Topic: "t"}, []string{"i1", "i2"}, true, nil); err != nil {
			t.Fatal(err)
		}
		before := time.Now().Add(-time.Second)
		for i, sku := range []string{"k1", "k2", "k3"} {
			p := shop.Publication{Failed: []shop.SKUFailure{{SKUID: sku, Code: "1200" + sku, Message: "refused"}}}
			if i == 0 {
				p.Accepted = map[shop.PublishKey]int{{SKUID: "k9", WarehouseID: "w"}: 4}
			}
			if err := s.RecordPublication(ctx, "a", p); err != nil {
				t.Fatal(err)
			}
		}
		// Shop b's figures are its own.
		if err := s.RecordPublication(ctx, "b", shop.Publication{Failed: []shop.SKUFailure{{SKUID: "kb", Code: "1", Message: "m"}}}); err != nil {
			t.Fatal(err)
		}
		c, err = s.SyncCounts(ctx, "a", 2)
		switch {
		case err != nil:
			t.Fatal(err)
		case c.Pending != 2 || !c.AllPending:
			t.Errorf("pending = %d (all %t), want 2 and every item", c.Pending, c.AllPending)
		case c.Failing != 3 || len(c.Failures) != 2 || c.Failures[0].SKUID != "k3" || c.Failures[1].SKUID != "k2" || c.Failures[0].Code != "1200k3":
			t.Errorf("failures = %d %+v, want 3 with k3 then k2 named", c.Failing, c.Failures)
		case c.Failures[0].Time.Before(before) || c.LastPublished.Before(before) || c.LastPublished.After(c.Failures[0].Time):
			t.Errorf("times: last failure %s, last published %s, want both since %s, the publication first", c.Failures[0].Time, c.LastPublished, before)
		}
		if c, err := s.SyncCounts(ctx, "b", 0); err != nil || c.Failing != 1 || c.Failures != nil || c.Pending != 0 {
			t.Errorf("shop b's counts = %+v, %v; want 1 failing SKU, none named", c, err)
		}
		if _, err := s.SyncCounts(ctx, "nope", 1); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SyncCounts of no shop: %v, want ErrNotFound", err)
		}

		err = s.PutVariants(ctx, "a", 1, []shop.Variant{
			{ID: "v1", ProductID: "p", SKU: "A", InventoryItemID: "i1"},
			{ID: "v2", ProductID: "p", SKU: "B", InventoryItemID: "i2"},
			{ID: "v3", ProductID: "p", SKU: "C", InventoryItemID: "i3"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.PutTikTokSKUs(ctx, "a", 1, []shop.TikTokSKU{{ID: "k1", ProductID: "tp", SellerSKU: "A"}, {ID: "k2", ProductID: "tp", SellerSKU: "B"}}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetLinks(ctx, "a",
			map[string]shop.Link{"v1": {Status: shop.LinkLinked, SKUID: "k1", TikTokProductID: "tp"}, "v2": {Status: shop.LinkLinked, SKUID: "k2", TikTokProductID: "tp"},
				"v3": {Status: shop.LinkUnmatched}},
			map[string]shop.Link{"k1": {Status: shop.LinkLinked, VariantID: "v1"}, "k2": {Status: shop.LinkLinked, VariantID: "v2"}}); err != nil {
			t.Fatal(err)
		}
		if n, err := s.LinkedItems(ctx, "a"); n != 2 || err != nil {
			t.Errorf("LinkedItems = %d, %v; want 2 (v3 is unmatched)", n, err)
		}
		if n, err := s.LinkedItems(ctx, "b"); n != 0 || err != nil {
			t.Errorf("LinkedItems of shop b = %d, %v; want 0", n, err)
		}
	})
}

// TestSyncBlocked: a shop recorded blocked has nothing pending for its
// job, until a change that may unblock it (settings or a connect, new
// credentials, a resume) commits; a record made as of an older count is
// ignored, so a change that commits while the sync looks is never lost.
func TestSyncBlocked(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		mustPutShop(t, s, "a")
		seen := &pendingSeen{s: s, shop: "a"}
		if _, err := s.RecordWebhook(ctx, shop.WebhookReceipt{Shop: "a", WebhookID: "w1", Topic: "t"}, []string{"i1"}, false, nil); err != nil {
			t.Fatal(err)
		}
		block := func() int64 {
			t.Helper()
			sh, err := s.Shop(ctx, "a")
			if err != nil {
				t.Fatal(err)
			}
			if err := s.SetSyncBlocked(ctx, "a", true, sh.SyncUnblocks); err != nil {
				t.Fatal(err)
			}
			return sh.SyncUnblocks
		}
		for name, unblock := range map[string]func() error{
			"settings": func() error { return s.MarkAllPending(ctx, "a", "settings:2", nil) },
			"credentials": func() error {
				_, err := s.EnqueuePending(ctx, "a", nil)
				return err
			},
			"resume": func() error { return s.SetSyncPaused(ctx, "a", false, nil) },
		} {
			seen.calls = nil
			read := block()
			if sh, err := s.Shop(ctx, "a"); err != nil || !sh.SyncBlocked {
				t.Fatalf("%s: the shop is not recorded blocked (%v)", name, err)
			}
			if err := s.SetSyncPaused(ctx, "a", true, nil); err != nil { // pausing unblocks nothing
				t.Fatal(err)
			}
			if err := s.SetSyncPaused(ctx, "a", false, nil); err != nil {
				t.Fatal(err)
			}
			block()
			if err := unblock(); err != nil {
				t.Fatal(err)
			}
			// A blocked record as of the count before the change.
			if err := s.SetSyncBlocked(ctx, "a", true, read); err != nil {
				t.Fatal(err)
			}
			if _, err := s.RecordWebhook(ctx, shop.WebhookReceipt{Shop: "a", WebhookID: "w-" + name, Topic: "t"}, []string{"i1"}, false, seen.enqueue); err != nil {
				t.Fatal(err)
			}
			if len(seen.calls) != 1 || !seen.calls[0] {
				t.Errorf("after %s, the job sees pending %v, want true", name, seen.calls)
			}
			seen.calls = nil
			block()
			if _, err := s.RecordWebhook(ctx, shop.WebhookReceipt{Shop: "a", WebhookID: "w-blocked-" + name, Topic: "t"}, []string{"i1"}, false, seen.enqueue); err != nil {
				t.Fatal(err)
			}
			if len(seen.calls) != 1 || seen.calls[0] {
				t.Errorf("blocked again after %s, the job sees pending %v, want false", name, seen.calls)
			}
			// No longer blocked: cleared as of the count read.
			sh, err := s.Shop(ctx, "a")
			if err != nil {
				t.Fatal(err)
			}
			if err := s.SetSyncBlocked(ctx, "a", false, sh.SyncUnblocks); err != nil {
				t.Fatal(err)
			}
			if sh, err := s.Shop(ctx, "a"); err != nil || sh.SyncBlocked {
				t.Errorf("after %s, the shop is still recorded blocked (%v)", name, err)
			}
		}
	})
}
