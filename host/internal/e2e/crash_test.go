package e2e_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/fakes/catalog"
)

// TestCrash: the server killed with SIGKILL while webhooks arrive and a
// republish of the whole shop (a settings change) is under way, then
// started again on the same data folder: every webhook it had accepted
// is processed, nothing stays pending, and TikTok converges on the
// rule's output.
//
// The restarted server takes back at once the jobs the killed one left
// running (it owns the SQLite file), rather than waiting for River's
// rescuer (2 × job_timeout + 1 minute): the wait below is the ordinary
// deadline, which the rescuer's three minutes would miss.
func TestCrash(t *testing.T) {
	const jobTimeout = time.Minute
	p := startPlatforms(t, platformOptions{
		catalog: catalog.Options{Products: 40, Variants: 2, Locations: 2, Seed: 3, WithoutConflicts: true},
		domain:  "crash.myshopify.com",
	})
	d := deploy(t, p, "", extraConfig{sync: fmt.Sprintf("job_timeout = %q\n", jobTimeout)})
	first := d.start("first")
	w := &world{d: d, p: p, shop: "crash"}
	d.addShop(t, w.shop, p, `{"percentage":80}`)

	st := p.shopify.State()
	change := func(i int) {
		v := st.Variants[(i*7)%len(st.Variants)]
		loc := st.Locations[i%len(st.Locations)]
		issued := time.Now()
		before, _ := p.shopify.Available(v.InventoryItemID, loc.ID)
		q := (i * 13) % 40
		if err := p.shopify.SetAvailable(v.InventoryItemID, loc.ID, q); err != nil {
			t.Fatal(err)
		}
		if q > before {
			w.record(v.InventoryItemID, issued)
		}
	}
	// Every quantity changes: a republish of one call per product.
	issued := time.Now()
	d.must(t, "PUT", "/v1/shops/"+w.shop+"/settings", `{"percentage":50}`, nil)
	w.record("", issued)
	calls := updateCalls(t, p.tiktok)
	i := 0
	for ; i < 400; i++ {
		change(i)
		// Killed mid-way: some of the republish's calls made, some not.
		if updateCalls(t, p.tiktok)-calls >= 15 && i >= 30 {
			break
		}
	}
	first.kill()
	if n := updateCalls(t, p.tiktok) - calls; n >= len(p.catalog.Products)+i {
		t.Fatalf("the server made %d update calls before it was killed: it had finished, the kill tested nothing", n)
	}
	// Webhooks sent while no server runs are lost (Shopify would retry
	// them); the republish at the end catches them up.
	for j := i + 1; j < i+20; j++ {
		change(j)
	}
	d.start("second")
	for j := i + 20; j < i+120; j++ {
		change(j)
	}
	lost := refusedDeliveries(p)
	if lost == 0 {
		t.Fatal("no webhook arrived while the server was down")
	}
	start := time.Now()
	waitWithin(t, deadline, "the sync to be idle after the restart", func() (bool, error) { return idle(d.store) })
	t.Logf("idle %v after the restart (%d webhooks lost while down)", time.Since(start).Round(time.Millisecond), lost)
	checkWebhooksProcessed(t, p)
	w.converge(t)
	w.checkAll(t)
}
