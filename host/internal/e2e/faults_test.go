package e2e_test

import (
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/fakes"
	"github.com/syncrules/syncrules/host/internal/fakes/catalog"
	"github.com/syncrules/syncrules/host/internal/fakes/tiktokfake"
)

// flakyTikTok fails TikTok's inventory updates as TikTok does on a bad
// day: one in five answers 500 (not applied), one in ten is applied and
// then loses its answer (the connection closes), which the server must
// take for a failure it may retry. In a fixed pattern rather than at
// random, so that every run meets both.
type flakyTikTok struct {
	mu                     sync.Mutex
	calls, failed, dropped int
}

func (f *flakyTikTok) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/inventory/update") {
			next.ServeHTTP(w, r)
			return
		}
		f.mu.Lock()
		f.calls++
		fail, drop := f.calls%5 == 1, f.calls%10 == 3
		if fail {
			f.failed++
		}
		if drop {
			f.dropped++
		}
		f.mu.Unlock()
		switch {
		case fail:
			fakes.WriteJSON(w, http.StatusInternalServerError, map[string]any{
				"code": tiktokfake.CodeInternal, "message": "Internal error, please retry later", "request_id": "flaky"})
		case drop:
			next.ServeHTTP(httptest.NewRecorder(), r) // applied by the fake…
			fakes.DropConnection(w)                   // …and the answer lost
		default:
			next.ServeHTTP(w, r)
		}
	})
}

func (f *flakyTikTok) counts() (failed, dropped int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed, f.dropped
}

// TestFaults: with 20% of TikTok's updates failing with 5xx, 10% applied
// but unanswered, bursts of 429, and Shopify's cost bucket drained now and
// then, the sync still converges on the rule's output, loses no webhook
// (nothing stays pending), and never raises a quantity it had lowered
// without a change that could raise it.
func TestFaults(t *testing.T) {
	flaky := &flakyTikTok{}
	p := startPlatforms(t, platformOptions{
		catalog:       catalog.Options{Products: 6, Variants: 2, Locations: 3, Seed: 12, WithoutConflicts: true},
		domain:        "faults.myshopify.com",
		shopifyBucket: true,
		tiktokFront:   flaky.wrap,
	})
	d := deploy(t, p, "", extraConfig{})
	d.start("server")
	w := &world{d: d, p: p, shop: "faults"}
	d.addShop(t, w.shop, p, `{"percentage":80}`)

	start := time.Now()
	rnd := rand.New(rand.NewPCG(12, 2))
	st := p.shopify.State()
	for i := range 60 {
		switch i {
		case 10:
			// A burst of 429s: the client slows down and retries.
			if err := p.tiktok.InjectFault(fakes.Fault{Path: "/inventory/update", Status: http.StatusTooManyRequests, Count: 3}); err != nil {
				t.Fatal(err)
			}
		case 30:
			// Shopify throttling: the bucket drained (reads answer
			// THROTTLED until it refills) and two HTTP 429s.
			p.shopify.SetThrottle(0)
			if err := p.shopify.InjectFault(fakes.Fault{Path: "graphql", Status: http.StatusTooManyRequests, Count: 2}); err != nil {
				t.Fatal(err)
			}
		}
		// Duplicated webhooks, as Shopify retries them.
		w.deliver(t, []string{"deliver", "duplicate"}[rnd.IntN(2)])
		v := st.Variants[rnd.IntN(len(st.Variants))]
		loc := st.Locations[rnd.IntN(len(st.Locations))]
		q := rnd.IntN(30)
		issued := time.Now()
		before, _ := p.shopify.Available(v.InventoryItemID, loc.ID)
		if err := p.shopify.SetAvailable(v.InventoryItemID, loc.ID, q); err != nil {
			t.Fatal(err)
		}
		if q > before {
			w.record(v.InventoryItemID, issued)
		}
		if i%20 == 19 {
			issued := time.Now()
			if err := p.shopify.SetTracked(v.InventoryItemID, rnd.IntN(2) == 0); err != nil {
				t.Fatal(err)
			}
			w.record(v.InventoryItemID, issued)
		}
	}
	// Every webhook the server accepted is processed, despite the faults.
	for _, dl := range p.shopify.Deliveries() {
		if dl.Status != http.StatusOK {
			t.Fatalf("a webhook was not accepted: %+v", dl)
		}
	}
	w.converge(t)
	t.Logf("converged in %v", time.Since(start))
	failed, dropped := flaky.counts()
	if failed == 0 || dropped == 0 {
		t.Fatalf("TikTok failed %d updates and dropped %d answers: the faults did not happen", failed, dropped)
	}
	throttled := p.shopify.Usage().Throttled
	for _, r := range p.shopify.Requests() {
		if r.Status == http.StatusTooManyRequests {
			throttled++
		}
	}
	if throttled == 0 {
		t.Fatal("Shopify throttled no read: the drained bucket was not met")
	}
	t.Logf("TikTok failed %d updates and dropped the answers of %d; Shopify throttled %d reads", failed, dropped, throttled)
	w.checkAll(t)
}
