package shop_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
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
				return replicaOf(t, h, tiktok.Options{RetryBase: time.Millisecond, RetryMax: 10 * time.Millisecond, Rate: 10_000, Burst: 100},
					func(opt *shop.Options) {
						if tc.shared {
							opt.ShopifyBuckets = h.store
						}
					})
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

// TestReplicasShareTheTikTokPace: three services on one PostgreSQL store,
// as three replicas, reconcile one shop at once after TikTok orders
// lowered every SKU (a reconciliation raises them at once without a raise
// grace), from the first variant, a third and two thirds in, each calling
// TikTok Shop at a rate a little under the shop's limit. Each on a pace of
// its own, they send more than the limit together and TikTok refuses many
// calls, even though each halves its rate on a 429; with the pace kept in
// the store they keep under it together. Either way every quantity
// arrives.
func TestReplicasShareTheTikTokPace(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 50 s of TikTok calls at 4 a second")
	}
	// A replica makes a call every 100-150 ms here: the limit is below
	// what one sends, so that the pace sets the rate, not the replica.
	const limit, burst, pace = 4, 2, 3.5
	for _, tc := range []struct {
		name   string
		shared bool
	}{
		{"each replica paces itself", false},
		{"the replicas share the pace in the store", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cat := generate(t, 24, 1, 2)
			h := newHarness(t, cat, harnessOptions{postgres: true, tiktokRateLimit: limit, tiktokRateBurst: burst})
			h.connect()
			replica := func() *shop.Service {
				return replicaOf(t, h, tiktok.Options{MaxAttempts: 50, RetryBase: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond,
					Rate: pace, MaxRate: pace, Burst: burst},
					func(opt *shop.Options) {
						if tc.shared {
							opt.TikTokPaces = h.store
						}
					})
			}
			a, b, c := replica(), replica(), replica()
			ctx := context.Background()
			main := cat.Warehouses[0].ID
			settings := &compute.Settings{Percentage: compute.NumberOf("100"),
				Mappings: []compute.Mapping{{Location: compute.AllLocations, Warehouse: main}}}
			if _, err := a.PutSettings(ctx, shop.Operator, shopID, settings, nil); err != nil {
				t.Fatal(err)
			}
			for more := true; more; {
				var err error
				if more, err = a.SyncShop(ctx, shopID); err != nil {
					t.Fatal(err)
				}
			}
			ordered := 0
			for _, l := range cat.Links {
				if q, _ := h.tiktok.Quantity(l.TikTokID, main); q > 0 {
					if err := h.tiktok.PlaceOrder(l.TikTokID, main, 1); err != nil {
						t.Fatal(err)
					}
					ordered++
				}
			}
			if ordered < len(cat.Links)/2 {
				t.Fatalf("only %d of %d SKUs have stock on TikTok to order", ordered, len(cat.Links))
			}
			ids := slices.Sorted(maps.Keys(h.variants(shop.LinkLinked)))
			reconcile := func(svc *shop.Service, after string) (repairs int, err error) {
				for {
					next, n, err := svc.ReconcilePage(ctx, shopID, after)
					repairs += n
					if err != nil || next == "" {
						return repairs, err
					}
					after = next
				}
			}

			h.tiktok.ResetRequests()
			start := make(chan struct{})
			var wg sync.WaitGroup
			replicas := []*shop.Service{a, b, c}
			errs := make([]error, len(replicas))
			for i, svc := range replicas {
				from := ""
				if i > 0 {
					from = ids[i*len(ids)/len(replicas)]
				}
				wg.Go(func() {
					<-start
					_, errs[i] = reconcile(svc, from)
				})
			}
			began := time.Now()
			close(start)
			wg.Wait()
			took := time.Since(began)
			if err := errors.Join(errs...); err != nil {
				t.Fatalf("reconciliations: %v", err)
			}
			var calls, refused int
			for _, r := range h.tiktok.Requests() {
				if strings.HasPrefix(r.Path, "/api/v2/token/") {
					continue
				}
				calls++
				if r.Status == http.StatusTooManyRequests {
					refused++
				}
			}
			t.Logf("%d TikTok calls in %v, %d answered 429", calls, took.Round(time.Millisecond), refused)
			if tc.shared && refused*50 > calls {
				t.Errorf("%d of %d TikTok calls answered 429, want at most one in 50: the replicas share the shop's pace", refused, calls)
			}
			if !tc.shared && refused*10 < calls {
				t.Errorf("%d of %d TikTok calls answered 429, want at least a tenth: the replicas did not collide, the test cannot tell", refused, calls)
			}
			// Every quantity arrived: another reconciliation repairs nothing.
			if repairs, err := reconcile(a, ""); err != nil || repairs > 0 {
				t.Fatalf("a reconciliation after the run repaired %d quantities (%v), want none", repairs, err)
			}
		})
	}
}

// replicaOf is another service on the harness's store and fakes, as a
// second serve process would be: a compute of its own, the TikTok client
// options tk (pointed at the fake), and what share sets of its options.
func replicaOf(t *testing.T, h *harness, tk tiktok.Options, share func(*shop.Options)) *shop.Service {
	t.Helper()
	cs, err := compute.NewService(&nativeRule{runner: sdk.NewRunner(defaultrule.Rule)}, compute.Limits{}, compute.MaxMaxQuantity)
	if err != nil {
		t.Fatal(err)
	}
	tk.BaseURL, tk.AuthBaseURL = h.tiktok.URL(), h.tiktok.URL()
	opt := shop.Options{Store: h.store, Compute: cs, Sealer: h.sealer, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Platforms: shop.Platforms{Shopify: shopify.Options{BaseURL: h.shopify.URL()}, TikTok: tk}}
	share(&opt)
	svc := shop.New(opt)
	t.Cleanup(svc.Close)
	return svc
}
