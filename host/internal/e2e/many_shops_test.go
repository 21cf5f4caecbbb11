package e2e_test

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/fakes"
	"github.com/syncrules/syncrules/host/internal/fakes/catalog"
)

// manyShopsTikTok lifts the TikTok client's per-shop pace for these
// tests: the big shop's first publication is one call per product, which
// at the default 10 a second would take minutes before anything is tested.
const manyShopsTikTok = "rate = 1000\nmax_rate = 1000\nburst = 200\n"

// deployShops deploys servers that reach every shop's fakes at one
// Shopify and one TikTok base URL, as they reach the real platforms: a
// front routes each request to the fake whose credentials it carries (the
// Shopify access token, the TikTok app key), so each shop's fakes need
// their own (platformOptions.shopifyToken, tiktokAppKey).
func deployShops(t *testing.T, dsn string, extra extraConfig, shops ...*platforms) *deployment {
	t.Helper()
	byToken, byAppKey := map[string]http.Handler{}, map[string]http.Handler{}
	for _, p := range shops {
		byToken[p.shopify.AccessToken()] = p.shopify
		byAppKey[p.tiktok.AppKey()] = p.tiktok
	}
	front := func(route func(*http.Request) http.Handler) string {
		l, err := fakes.Listen("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := route(r)
			if h == nil {
				http.Error(w, "no fake shop has these credentials", http.StatusUnauthorized)
				return
			}
			h.ServeHTTP(w, r)
		}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return l.URL()
	}
	fronts := &platforms{
		shopifyURL: front(func(r *http.Request) http.Handler { return byToken[r.Header.Get("X-Shopify-Access-Token")] }),
		tiktokURL:  front(func(r *http.Request) http.Handler { return byAppKey[r.URL.Query().Get("app_key")] }),
	}
	return deploy(t, fronts, dsn, extra)
}

// prepareEmpty prepares a shop's stock as prepareStock does, all of it 0,
// and TikTok's available quantities to 0 too (as orders would), before the
// shop is connected: its first publication then finds TikTok showing the
// rule's output and sends nothing, so that a large shop is set up in
// seconds rather than in one TikTok call per product.
func prepareEmpty(t *testing.T, p *platforms) {
	prepareStock(t, p)
	for _, k := range p.tiktok.Stock() {
		for _, wh := range k.Warehouses {
			if wh.Available > 0 {
				if err := p.tiktok.PlaceOrder(k.SKUID, wh.WarehouseID, wh.Available); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// startResync starts a resync of the shop and waits until its run has
// made progress (some items done) and is still running: a resync in
// progress.
func (d *deployment) startResync(tb tester, shop string) int64 {
	tb.Helper()
	var run struct {
		ID int64 `json:"id"`
	}
	d.must(tb, "POST", "/v1/shops/"+shop+"/sync/resync", "", &run)
	waitFor(tb, "the resync of shop "+shop+" to make progress", func() (bool, error) {
		r := d.latestRun(tb, shop)
		if r.ID != run.ID || r.State != "running" {
			tb.Fatalf("the resync run %d of shop %s is %s (latest run %d) before any progress was seen: it ended too soon to test anything beside it", run.ID, shop, r.State, r.ID)
		}
		return r.Done > 0, nil
	})
	return run.ID
}

// waitRunEnd waits until the run has succeeded.
func (d *deployment) waitRunEnd(tb tester, shop string, run int64, within time.Duration) {
	tb.Helper()
	waitWithin(tb, within, "the run of shop "+shop+" to end", func() (bool, error) {
		r := d.latestRun(tb, shop)
		switch {
		case r.ID != run || r.State == "running":
			return false, nil
		case r.State != "succeeded":
			tb.Fatalf("run %d of shop %s: %s", run, shop, r.State)
		}
		return true, nil
	})
}

// raiser raises one SKU's stock at a time to a new high at the first
// location of a shop prepared by prepareStock, where TikTok's quantity is
// then that stock: a webhook's quantity is known before it is sent.
type raiser struct {
	p    *platforms
	loc  string
	next int
	mu   sync.Mutex
	sent []sentChange
}

// sentChange is a raise: the SKU, its new quantity and when it was made.
type sentChange struct {
	sku      string
	quantity int
	at       time.Time
}

func newRaiser(p *platforms) *raiser {
	return &raiser{p: p, loc: p.shopify.State().Locations[0].ID}
}

// raise raises the stock of the i-th linked SKU (modulo their number).
func (r *raiser) raise(tb tester, i int) sentChange {
	tb.Helper()
	r.mu.Lock()
	r.next++
	q := r.next
	r.mu.Unlock()
	l := r.p.catalog.Links[i%len(r.p.catalog.Links)]
	at := time.Now()
	if err := r.p.shopify.SetAvailable(l.InventoryItemID, r.loc, q); err != nil {
		tb.Fatal(err)
	}
	c := sentChange{l.TikTokID, q, at}
	r.mu.Lock()
	r.sent = append(r.sent, c)
	r.mu.Unlock()
	return c
}

// lags are, for each change in order, the time from it to the start of
// the first TikTok update that TikTok accepted with its quantity or a
// later one (quantities only rise); false if one never arrived.
func lags(tb tester, p *platforms, changes []sentChange) ([]time.Duration, bool) {
	ups, _ := acceptedUpdates(tb, p.tiktok)
	bySKU := map[string][]update{}
	for _, u := range ups {
		bySKU[u.sku] = append(bySKU[u.sku], u)
	}
	var out []time.Duration
	for _, c := range changes {
		i := slices.IndexFunc(bySKU[c.sku], func(u update) bool { return u.quantity >= c.quantity && !u.time.Before(c.at) })
		if i < 0 {
			return nil, false
		}
		out = append(out, bySKU[c.sku][i].time.Sub(c.at))
	}
	return out, true
}

// percentile of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

// deployBigAndSmall starts one server for two shops: A ("big", products
// of 4 variants, nothing to change when published) and B ("small",
// products of 2 variants with stock), their platforms seeded from seed.
func deployBigAndSmall(t *testing.T, dsn string, bigProducts, smallProducts int, seed uint64) (*deployment, *platforms, *platforms) {
	t.Helper()
	big := startPlatforms(t, platformOptions{
		catalog: catalog.Options{Products: bigProducts, Variants: 4, Locations: 2, Seed: seed, WithoutConflicts: true},
		domain:  "big.myshopify.com", shopifyToken: "shpat_big", tiktokAppKey: "big-app-key",
	})
	small := startPlatforms(t, platformOptions{
		catalog: catalog.Options{Products: smallProducts, Variants: 2, Locations: 2, Seed: seed + 1, WithoutConflicts: true},
		domain:  "small.myshopify.com", shopifyToken: "shpat_small", tiktokAppKey: "small-app-key",
	})
	prepareEmpty(t, big)
	prepareStock(t, small)
	d := deployShops(t, dsn, extraConfig{tiktok: manyShopsTikTok}, big, small)
	d.start("server")
	return d, big, small
}

// TestManyShops: one server, two shops. While shop A's resync of 10,000
// SKUs is in progress, stock changes of shop B reach B's TikTok: B's
// webhooks do not wait for A's run. Both shops then converge on the
// rule's output.
func TestManyShops(t *testing.T) {
	onEachEngine(t, func(t *testing.T, engine, dsn string) {
		d, big, small := deployBigAndSmall(t, dsn, 2500, 5, 21)
		start := time.Now()
		d.addShop(t, "big", big, `{"percentage":100}`)
		t.Logf("shop A: %d SKUs connected and published in %v", len(big.catalog.Links), time.Since(start).Round(time.Millisecond))
		d.addShop(t, "small", small, `{"percentage":100}`)

		start = time.Now()
		run := d.startResync(t, "big")
		b := newRaiser(small)
		for i := range len(small.catalog.Links) {
			b.raise(t, i)
		}
		waitFor(t, "shop B's new quantities at its TikTok", func() (bool, error) {
			_, ok := lags(t, small, b.sent)
			return ok, nil
		})
		r := d.latestRun(t, "big")
		if r.ID != run || r.State != "running" {
			t.Fatalf("shop B's %d changes reached its TikTok only after shop A's resync ended (run %d: %s): B waited for A", len(b.sent), r.ID, r.State)
		}
		bLags, _ := lags(t, small, b.sent)
		slices.Sort(bLags)
		t.Logf("shop B's %d changes accepted by its TikTok (slowest after %v) while shop A's resync was at %d of %d SKUs",
			len(b.sent), bLags[len(bLags)-1].Round(time.Millisecond), r.Done, r.Total)

		d.waitRunEnd(t, "big", run, deadline)
		t.Logf("shop A's resync took %v", time.Since(start).Round(time.Millisecond))
		d.waitIdle(t)
		d.checkPublished(t, "big", big)
		d.checkPublished(t, "small", small)
	})
}

// TestFigureManyShops: shop B's webhook → TikTok accepted lag while shop
// A resyncs 100,000 SKUs (25,000 products of 4 variants, nothing to
// change), from the resync's request to its end, against B's lag with A
// idle, in the same run. B has 20 SKUs
// (prepared as in TestFigureLag) and receives 10 webhooks a second, each
// raising one SKU's stock to a new high.
func TestFigureManyShops(t *testing.T) {
	needFigures(t)
	// Connecting and first publishing 100,000 SKUs takes minutes.
	defer func(d time.Duration) { deadline = d }(deadline)
	deadline = 30 * time.Minute
	onEachEngine(t, func(t *testing.T, engine, dsn string) {
		d, big, small := deployBigAndSmall(t, dsn, 25_000, 10, 31)
		start := time.Now()
		d.addShop(t, "big", big, `{"percentage":100}`)
		t.Logf("%s: shop A's %d SKUs connected and published in %v", engine, len(big.catalog.Links), time.Since(start).Round(time.Second))
		d.addShop(t, "small", small, `{"percentage":100}`)

		const rate = 10 // shop B's webhooks a second
		b := newRaiser(small)
		// send raises B's stock at rate until stop says to end, and
		// returns the changes it made.
		// Each raise in a goroutine of its own, as Shopify sends
		// webhooks whether or not the last was answered: a stalled
		// server then delays every webhook due meanwhile, not one.
		send := func(stop func(i int) bool) []sentChange {
			var (
				mu  sync.Mutex
				out []sentChange
				wg  sync.WaitGroup
			)
			begin := time.Now()
			for i := 0; !stop(i); i++ {
				time.Sleep(time.Until(begin.Add(time.Duration(i) * time.Second / rate))) // pacing the load, not synchronising
				wg.Go(func() {
					c := b.raise(t, i)
					mu.Lock()
					out = append(out, c)
					mu.Unlock()
				})
			}
			wg.Wait()
			return out
		}
		measure := func(changes []sentChange) []time.Duration {
			d.waitIdle(t)
			l, ok := lags(t, small, changes)
			if !ok {
				t.Fatal("a change of shop B never reached its TikTok")
			}
			slices.Sort(l)
			return l
		}
		idleLags := measure(send(func(i int) bool { return i >= 30*rate }))

		// From the resync's request on: its first step, marking every
		// item pending, is part of it.
		var started struct {
			ID int64 `json:"id"`
		}
		resyncStart := time.Now()
		d.must(t, "POST", "/v1/shops/big/sync/resync", "", &started)
		run := started.ID
		during := send(func(int) bool { r := d.latestRun(t, "big"); return r.ID != run || r.State != "running" })
		resyncTook := time.Since(resyncStart)
		d.waitRunEnd(t, "big", run, deadline)
		if len(during) < 10*rate {
			t.Fatalf("shop A's resync lasted %v: too short to measure beside it", resyncTook)
		}
		busyLags := measure(during)
		ms := func(d time.Duration) string { return fmt.Sprint(d.Round(time.Millisecond)) }
		t.Logf("%s: shop B, %d webhooks with A idle: lag p50 %s, p99 %s, max %s; %d webhooks during A's resync of %d SKUs (%v): p50 %s, p99 %s, max %s; ratio p50 %.2f×, p99 %.2f×",
			engine, len(idleLags), ms(percentile(idleLags, 0.5)), ms(percentile(idleLags, 0.99)), ms(idleLags[len(idleLags)-1]),
			len(busyLags), len(big.catalog.Links), resyncTook.Round(time.Second), ms(percentile(busyLags, 0.5)), ms(percentile(busyLags, 0.99)), ms(busyLags[len(busyLags)-1]),
			float64(percentile(busyLags, 0.5))/float64(percentile(idleLags, 0.5)),
			float64(percentile(busyLags, 0.99))/float64(percentile(idleLags, 0.99)))
	})
}
