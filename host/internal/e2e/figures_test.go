package e2e_test

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/fakes/catalog"
	"github.com/syncrules/syncrules/host/internal/fakes/shopifyfake"
)

// figuresEnv runs the figures of BENCHMARKS.md ("The sync, end to end"):
// minutes each, so not part of make test.
const figuresEnv = "SYNCRULES_E2E_FIGURES"

// figuresRateEnv fixes the TikTok client's per-shop rate (tiktok.rate and
// max_rate, with a burst of a fifth of it) for the figures; unset, the
// client's default, which climbs from rate to max_rate. The fake's own
// limit is off.
const figuresRateEnv = "SYNCRULES_E2E_TIKTOK_RATE"

// figuresConfig is the [tiktok] keys of figuresRateEnv, and what they
// say for the log.
func figuresConfig(t *testing.T) (extra, says string) {
	v := os.Getenv(figuresRateEnv)
	if v == "" {
		return "", "the TikTok client's default rate (10 requests/s per shop, climbing to 50)"
	}
	r, err := strconv.ParseFloat(v, 64)
	if err != nil || r <= 0 {
		t.Fatalf("%s=%q: want a positive number of requests a second", figuresRateEnv, v)
	}
	return fmt.Sprintf("rate = %g\nmax_rate = %g\nburst = %d\n", r, r, max(1, int(r/5))), fmt.Sprintf("TikTok client fixed at %g requests/s per shop", r)
}

func needFigures(t *testing.T) {
	if os.Getenv(figuresEnv) == "" {
		t.Skipf("a figure of BENCHMARKS.md: set %s=1 to measure it", figuresEnv)
	}
}

// prepareStock makes every variant tracked, denying sales out of stock,
// with stock at the first location only, before the shop is connected
// (no webhook is sent): TikTok's quantity is then the stock at that
// location under 100%.
func prepareStock(t *testing.T, p *platforms) {
	if err := p.shopify.SetWebhooks(shopifyfake.WebhookSettings{}); err != nil {
		t.Fatal(err)
	}
	st := p.shopify.State()
	for _, v := range st.Variants {
		if err := p.shopify.SetTracked(v.InventoryItemID, true); err != nil {
			t.Fatal(err)
		}
		if err := p.shopify.SetInventoryPolicy(v.ID, "DENY"); err != nil {
			t.Fatal(err)
		}
		for _, l := range st.Locations {
			if err := p.shopify.SetAvailable(v.InventoryItemID, l.ID, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestFigureLag: webhook → TikTok accepted, at 100 webhooks a second for
// 60 s across 100 SKUs (10 products of 10 variants), each webhook raising
// one SKU's stock to a new high: a webhook's lag runs from its delivery to
// the start of the first TikTok update that TikTok accepted with that
// quantity or a later one.
func TestFigureLag(t *testing.T) {
	needFigures(t)
	onEachEngine(t, func(t *testing.T, engine, dsn string) {
		p := startPlatforms(t, platformOptions{
			catalog: catalog.Options{Products: 10, Variants: 10, Locations: 2, Seed: 9, WithoutConflicts: true},
			domain:  "lag.myshopify.com",
		})
		prepareStock(t, p)
		extra, rateSays := figuresConfig(t)
		d := deploy(t, p, dsn, extraConfig{tiktok: extra})
		d.start("server")
		d.addShop(t, "lag", p, `{"percentage":100}`)

		const rate, duration = 100, 60 * time.Second
		st := p.shopify.State()
		loc := st.Locations[0].ID
		sku := map[string]string{} // inventory item → TikTok SKU
		for _, l := range p.catalog.Links {
			sku[l.InventoryItemID] = l.TikTokID
		}
		var (
			mu    sync.Mutex
			hooks []sentChange
			wg    sync.WaitGroup
			slots = make(chan struct{}, 20)
		)
		start := time.Now()
		total := int(duration.Seconds()) * rate
		for i := range total {
			time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / rate))) // pacing the load, not synchronising
			v := st.Variants[i%len(st.Variants)]
			q := i/len(st.Variants) + 1 // each SKU's stock rises at every webhook
			slots <- struct{}{}
			wg.Go(func() {
				defer func() { <-slots }()
				at := time.Now()
				if err := p.shopify.SetAvailable(v.InventoryItemID, loc, q); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				hooks = append(hooks, sentChange{sku[v.InventoryItemID], q, at})
				mu.Unlock()
			})
		}
		wg.Wait()
		sendTook := time.Since(start)
		d.waitIdle(t)
		_, calls := acceptedUpdates(t, p.tiktok)
		all, ok := lags(t, p, hooks)
		if !ok {
			t.Fatal("a change never reached TikTok")
		}
		// The client's pace starts at [tiktok] rate and climbs while
		// calls queue: the first 10 s are the climb, the rest steady.
		var steady []time.Duration
		for i, h := range hooks {
			if h.at.Sub(start) >= 10*time.Second {
				steady = append(steady, all[i])
			}
		}
		slices.Sort(steady)
		slices.Sort(all)
		delivered := 0
		for _, dl := range p.shopify.Deliveries() {
			if dl.Status == 200 {
				delivered++
			}
		}
		t.Logf("%s, %s: %d webhooks in %v (%d accepted), %d TikTok update calls: lag p50 %v, p99 %v, max %v; after the first 10 s p99 %v",
			engine, rateSays, len(hooks), sendTook.Round(time.Millisecond), delivered, calls,
			percentile(all, 0.50).Round(time.Millisecond), percentile(all, 0.99).Round(time.Millisecond), all[len(all)-1].Round(time.Millisecond),
			percentile(steady, 0.99).Round(time.Millisecond))
	})
}

// TestFigureResync: a shop of 3,400 products of 3 variants (10,200 SKUs)
// published whole, with every quantity changed (the first publication,
// the fake's rate limit off), then resynced with nothing to change.
func TestFigureResync(t *testing.T) {
	needFigures(t)
	p := startPlatforms(t, platformOptions{
		catalog: catalog.Options{Products: 3400, Variants: 3, Locations: 3, Seed: 4, WithoutConflicts: true},
		domain:  "resync.myshopify.com",
	})
	extra, rateSays := figuresConfig(t)
	t.Log(rateSays)
	d := deploy(t, p, "", extraConfig{tiktok: extra})
	d.start("server")
	long := 30 * time.Minute
	republishTimed := func(what string, settings bool) {
		calls := updateCalls(t, p.tiktok)
		var synced time.Time
		if settings {
			d.must(t, "PUT", "/v1/shops/resync/settings", `{"percentage":80}`, nil)
			synced = time.Now()
		} else {
			d.must(t, "POST", "/v1/shops/resync/sync/resync", "", nil)
			synced = time.Now()
		}
		waitWithin(t, long, what, func() (bool, error) { return idle(d.store) })
		t.Logf("%s: %d TikTok update calls for %d products; %v after the %s",
			what, updateCalls(t, p.tiktok)-calls, len(p.catalog.Products),
			time.Since(synced).Round(time.Millisecond), map[bool]string{true: "settings save", false: "POST sync/resync"}[settings])
	}
	d.must(t, "PUT", "/v1/shops/resync", `{"name":"resync","shopify_domain":"`+p.shopify.ShopDomain()+`"}`, nil)
	tokens := p.tiktok.Tokens()
	d.must(t, "PUT", "/v1/shops/resync/credentials", fmt.Sprintf(
		`{"shopify":{"access_token":%q},"tiktok":{"app_key":%q,"app_secret":%q,"access_token":%q,"refresh_token":%q,"shop_cipher":%q}}`,
		p.shopify.AccessToken(), p.tiktok.AppKey(), p.tiktok.AppSecret(), tokens.AccessToken, tokens.RefreshToken, p.tiktok.ShopCipher()), nil)
	start := time.Now()
	d.republish(t, "resync", false)
	t.Logf("connect of %d SKUs: %v", len(p.catalog.Links), time.Since(start).Round(time.Millisecond))
	republishTimed("everything changed", true)
	republishTimed("nothing to change", false)
}
