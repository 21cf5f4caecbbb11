package shop_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/compute"
	"github.com/syncrules/syncrules/host/internal/fakes"
	"github.com/syncrules/syncrules/host/internal/fakes/tiktokfake"
	"github.com/syncrules/syncrules/host/internal/secret"
	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/shopify"
	"github.com/syncrules/syncrules/host/internal/store/storetest"
	"github.com/syncrules/syncrules/host/internal/tiktok"
)

// BenchmarkResyncMemory republishes a whole shop of N SKUs (4 per
// product) on SQLite against the fakes (in a child process; the fake
// Shopify's cost bucket endless, and the TikTok client's pace lifted, as
// TikTok's 10 calls a second would make 25,000 products take 40 minutes).
// Each op is, after a connect (not timed):
//
//   - "changed": new settings publish every SKU, one TikTok call per
//     product;
//   - "unchanged": a resync (POST …/sync/resync) reads every SKU from
//     Shopify again, computes it, and sends nothing.
//
// It reports the peak of the live heap above its start during each (a
// sync that streams keeps it flat in N), and the resync's TikTok calls
// (0) and time.
//
//	go test -run '^$' -bench ResyncMemory -benchtime 1x -timeout 60m ./host/internal/shop/
func BenchmarkResyncMemory(b *testing.B) {
	for _, n := range []int{25_000, 50_000, 100_000} {
		b.Run(fmt.Sprintf("skus=%d", n), func(b *testing.B) {
			addr := startFakes(b, n, fakesEndlessEnv+"=1")
			sealer, err := secret.NewSealer(bytes.Repeat([]byte{9}, secret.KeySize))
			if err != nil {
				b.Fatal(err)
			}
			platforms := shop.Platforms{
				Shopify: shopify.Options{BaseURL: addr.Shopify},
				TikTok:  tiktok.Options{BaseURL: addr.TikTok, AuthBaseURL: addr.TikTok, Rate: 100_000, Burst: 100},
			}
			var changedPeak, unchangedPeak uint64
			var unchangedTime time.Duration
			unchangedCalls, rounds := 0, 0
			b.ResetTimer()
			for range b.N {
				rounds++
				b.StopTimer()
				h := &harness{t: b, store: storetest.SQLite(b, b.TempDir()), sealer: sealer, logs: &lockedBuffer{}}
				h.svc = h.newService(platforms)
				ctx := context.Background()
				if _, _, err := h.svc.PutShop(ctx, shop.Operator, shopID, shop.ShopInput{Name: "Acme", ShopifyDomain: &addr.Domain}); err != nil {
					b.Fatal(err)
				}
				h.putCredentials(shop.Credentials{
					Shopify: &shop.ShopifyCredentials{AccessToken: &addr.ShopifyToken},
					TikTok: &shop.TikTokCredentials{AppKey: &addr.AppKey, AppSecret: &addr.AppSecret,
						AccessToken: ptr(tiktokfake.DefaultAccessToken), RefreshToken: ptr(tiktokfake.DefaultRefreshToken)},
				})
				run, err := h.svc.Connect(ctx, shop.Operator, shopID)
				if err != nil {
					b.Fatal(err)
				}
				waitRunLong(b, h, run.ID)
				warehouse := firstWarehouse(b, addr.TikTok)
				// A percentage of its own each round: the fakes keep
				// what the last round published.
				settings := &compute.Settings{Percentage: compute.NumberOf(fmt.Sprint(50 + rounds%40)),
					Mappings: []compute.Mapping{{Location: compute.AllLocations, Warehouse: warehouse}}}

				stop := watchHeap()
				b.StartTimer()
				if _, err := h.svc.PutSettings(ctx, shop.Operator, shopID, settings, nil); err != nil {
					b.Fatal(err)
				}
				syncAll(b, h.svc)
				b.StopTimer()
				changedPeak = max(changedPeak, stop())

				control(b, "DELETE", addr.TikTok+fakes.ControlPrefix+"requests", nil)
				stop = watchHeap()
				start := time.Now()
				b.StartTimer()
				if _, err := h.svc.Resync(ctx, shop.Operator, shopID); err != nil {
					b.Fatal(err)
				}
				syncAll(b, h.svc)
				b.StopTimer()
				unchangedTime += time.Since(start)
				unchangedPeak = max(unchangedPeak, stop())
				var reqs []fakes.Request
				control(b, "GET", addr.TikTok+fakes.ControlPrefix+"requests", &reqs)
				for _, r := range reqs {
					if strings.HasSuffix(r.Path, "/inventory/update") {
						unchangedCalls++
					}
				}
				b.StartTimer()
			}
			b.StopTimer()
			b.ReportMetric(float64(changedPeak)/(1<<20), "changed-peak-heap-MiB")
			b.ReportMetric(float64(unchangedPeak)/(1<<20), "unchanged-peak-heap-MiB")
			b.ReportMetric(unchangedTime.Seconds()/float64(b.N), "unchanged-s")
			b.ReportMetric(float64(unchangedCalls)/float64(b.N), "unchanged-tiktok-calls")
		})
	}
}

// syncAll runs the shop's sync until nothing is pending, as its job does.
func syncAll(b *testing.B, svc *shop.Service) {
	for {
		more, err := svc.SyncShop(context.Background(), shopID)
		if err != nil {
			b.Fatalf("SyncShop: %v", err)
		}
		if !more {
			return
		}
	}
}

// waitRunLong waits for a connect of up to 100,000 variants.
func waitRunLong(b *testing.B, h *harness, id int64) {
	for deadline := time.Now().Add(30 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		st, err := h.svc.SyncStatus(context.Background(), shop.Operator, shopID)
		if err != nil {
			b.Fatal(err)
		}
		if st.Run != nil && st.Run.ID == id && st.Run.State != shop.RunRunning {
			if st.Run.State != shop.RunSucceeded {
				b.Fatalf("connect ended %s: %s", st.Run.State, st.Run.Error)
			}
			return
		}
	}
	b.Fatal("the connect did not end within 30 minutes")
}

// control calls a fake's control API and decodes its answer into out (if
// not nil).
func control(b *testing.B, method, url string, out any) {
	b.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("%s %s: %s", method, url, resp.Status)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			b.Fatal(err)
		}
	}
}

// firstWarehouse is the fake TikTok's first enabled sales warehouse.
func firstWarehouse(b *testing.B, tiktokURL string) string {
	b.Helper()
	var ws []tiktokfake.WarehouseState
	control(b, "GET", tiktokURL+fakes.ControlPrefix+"warehouses", &ws)
	for _, w := range ws {
		if w.Type == "SALES_WAREHOUSE" && w.EffectStatus == "ENABLED" {
			return w.ID
		}
	}
	b.Fatal("the fake TikTok has no enabled sales warehouse")
	return ""
}
