package shop_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/compute"
	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/shopify"
	syncq "github.com/syncrules/syncrules/host/internal/sync"
	"github.com/syncrules/syncrules/host/internal/tiktok"
	"github.com/syncrules/syncrules/rules/defaultrule"
	"github.com/syncrules/syncrules/sdk"
)

// TestWebhookReachesTikTokThroughTheQueue: with the River queue running
// SyncShop, a signed webhook's stock change reaches TikTok as the rule's
// output with no further call; so do the connect and the settings saved
// before it: the job the connect enqueued ends blocked (no settings yet),
// and saving the settings enqueues it again.
func TestWebhookReachesTikTokThroughTheQueue(t *testing.T) {
	cat := generate(t, 4, 2, 2)
	h := newHarness(t, cat, harnessOptions{})
	secret := "the-webhook-secret"
	h.putCredentials(shop.Credentials{Shopify: &shop.ShopifyCredentials{AccessToken: ptr(h.shopify.AccessToken()), WebhookSecret: &secret}})

	cs, err := compute.NewService(&nativeRule{runner: sdk.NewRunner(defaultrule.Rule)}, compute.Limits{}, compute.MaxMaxQuantity)
	if err != nil {
		t.Fatal(err)
	}
	var svc *shop.Service
	q, err := syncq.Open(context.Background(), syncq.Options{Store: h.store, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		RetryDelay: 10 * time.Millisecond, JobTimeout: runDeadline,
		SyncShop: func(ctx context.Context, id string) (bool, error) { return svc.SyncShop(ctx, id) },
		Pending:  h.store.HasPendingTx})
	if err != nil {
		t.Fatal(err)
	}
	svc = shop.New(shop.Options{Store: h.store, Compute: cs, Sealer: h.sealer, Queue: q,
		Logger: slog.New(slog.NewTextHandler(h.logs, nil)),
		Platforms: shop.Platforms{
			Shopify: shopify.Options{BaseURL: h.shopify.URL()},
			TikTok:  tiktok.Options{BaseURL: h.tiktok.URL(), AuthBaseURL: h.tiktok.URL(), RetryBase: time.Millisecond, RetryMax: 10 * time.Millisecond, Rate: 10_000, Burst: 100},
		}})
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), runDeadline)
		defer cancel()
		if err := q.Stop(ctx); err != nil {
			t.Error(err)
		}
		svc.Close()
	})
	h.svc = svc
	h.connect()
	main := cat.Warehouses[0].ID
	settings := &compute.Settings{Percentage: compute.NumberOf("80"), Mappings: []compute.Mapping{{Location: compute.AllLocations, Warehouse: main}}}
	if _, err := svc.PutSettings(context.Background(), shop.Operator, shopID, settings, nil); err != nil {
		t.Fatal(err)
	}

	l := cat.Links[3]
	if err := h.shopify.SetTracked(l.InventoryItemID, true); err != nil {
		t.Fatal(err)
	}
	if err := h.shopify.SetInventoryPolicy(l.VariantID, "DENY"); err != nil {
		t.Fatal(err)
	}
	for _, available := range []int{10, 11, 12, 13} { // the last wins: 80% of 13 is 10
		if err := h.shopify.SetAvailable(l.InventoryItemID, locationGID(cat.Locations[0].ID), available); err != nil {
			t.Fatal(err)
		}
		body := fmt.Sprintf(`{"inventory_item_id":%s,"location_id":%s,"available":%d}`, l.InventoryItemID, cat.Locations[0].ID, available)
		_, err := svc.ReceiveWebhook(context.Background(), shop.ShopifyWebhook{ShopDomain: h.shopify.ShopDomain(),
			Topic: shop.TopicInventoryLevelsUpdate, WebhookID: fmt.Sprintf("level-%d", available), HMAC: sign(secret, []byte(body)), Body: []byte(body)})
		if err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.NewTimer(runDeadline)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		q, _ := h.tiktok.Quantity(l.TikTokID, main)
		pending, err := h.store.PendingItems(context.Background(), shopID, 0)
		if err != nil {
			t.Fatal(err)
		}
		if q == 10 && len(pending) == 0 {
			return
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("after %s TikTok has %d, want 10 (80%% of 13); pending %v", runDeadline, q, pending)
		}
	}
}
