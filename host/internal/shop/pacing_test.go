package shop_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/compute"
	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/shopify"
	"github.com/syncrules/syncrules/host/internal/tiktok"
	"github.com/syncrules/syncrules/rules/defaultrule"
	"github.com/syncrules/syncrules/sdk"
)

// TestReplicasShareTheShopifyBucket: two services on one PostgreSQL
// store, as two replicas; one runs the shop's sync job while the other
// reconciles the shop, both reading Shopify at once. With the cost bucket
// kept in the store, Shopify never answers THROTTLED; each pacing on the
// answers it got, they collide, which shows the test can tell. In one
// process the two jobs' clients share the bucket in memory.
func TestReplicasShareTheShopifyBucket(t *testing.T) {
	for _, tc := range []struct {
		name string
		// shared keeps the bucket in the store; oneProcess runs both
		// jobs in one service, whose clients share it in memory.
		shared, oneProcess bool
	}{
		{"each replica paces on its own answers", false, false},
		{"the replicas share the bucket in the store", true, false},
		{"one process shares it in memory", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cat := generate(t, 80, 2, 2)
			// Shopify's bucket, refilling twenty times as fast: the sync and the
			// reconciliation each spend it several times over.
			h := newHarness(t, cat, harnessOptions{postgres: true, shopifyMax: 1000, shopifyRate: 1000})
			h.connect()
			replica := func() *shop.Service {
				cs, err := compute.NewService(&nativeRule{runner: sdk.NewRunner(defaultrule.Rule)}, compute.Limits{}, compute.MaxMaxQuantity)
				if err != nil {
					t.Fatal(err)
				}
				opt := shop.Options{Store: h.store, Compute: cs, Sealer: h.sealer, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
					Platforms: shop.Platforms{
						Shopify: shopify.Options{BaseURL: h.shopify.URL()},
						TikTok: tiktok.Options{BaseURL: h.tiktok.URL(), AuthBaseURL: h.tiktok.URL(),
							RetryBase: time.Millisecond, RetryMax: 10 * time.Millisecond, Rate: 10_000, Burst: 100},
					}}
				if tc.shared {
					opt.ShopifyBuckets = h.store
				}
				svc := shop.New(opt)
				t.Cleanup(svc.Close)
				return svc
			}
			a, b := replica(), replica()
			if tc.oneProcess {
				b = a
			}
			ctx := context.Background()
			putPercentage := func(p string) {
				settings := &compute.Settings{Percentage: compute.NumberOf(p),
					Mappings: []compute.Mapping{{Location: compute.AllLocations, Warehouse: cat.Warehouses[0].ID}}}
				if _, err := a.PutSettings(ctx, shop.Operator, shopID, settings, nil); err != nil {
					t.Fatal(err)
				}
			}
			syncAll := func() error {
				for {
					more, err := a.SyncShop(ctx, shopID)
					if err != nil || !more {
						return err
					}
				}
			}
			putPercentage("80")
			if err := syncAll(); err != nil {
				t.Fatal(err)
			}

			before := h.shopify.Usage()
			putPercentage("50")
			start := make(chan struct{})
			var wg sync.WaitGroup
			var syncErr, reconcileErr error
			wg.Go(func() {
				<-start
				syncErr = syncAll()
			})
			wg.Go(func() {
				<-start
				for after := ""; ; {
					next, _, err := b.ReconcilePage(ctx, shopID, after)
					if err != nil || next == "" {
						reconcileErr = err
						return
					}
					after = next
				}
			})
			close(start)
			wg.Wait()
			if syncErr != nil || reconcileErr != nil {
				t.Fatalf("sync: %v; reconciliation: %v", syncErr, reconcileErr)
			}
			after := h.shopify.Usage()
			queries, throttled := after.Queries-before.Queries, after.Throttled-before.Throttled
			t.Logf("%d queries, %d THROTTLED", queries, throttled)
			collide := !tc.shared && !tc.oneProcess
			if !collide && throttled > 0 {
				t.Errorf("%d of %d queries THROTTLED, want none: the jobs share the shop's bucket", throttled, queries)
			}
			if collide && throttled == 0 {
				t.Errorf("no query THROTTLED: the replicas did not collide, the test cannot tell")
			}
		})
	}
}
