package e2e_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/fakes/catalog"
	"github.com/syncrules/syncrules/host/internal/fakes/shopifyfake"
	"pgregory.net/rapid"
)

// world is one shop between its fakes and a deployment, and the changes
// the test made to it.
type world struct {
	d      *deployment
	p      *platforms
	shop   string
	events []event
}

// record notes a change that could raise the quantities of item ("": of
// every item), made between issued and now.
func (w *world) record(item string, issued time.Time) {
	w.events = append(w.events, event{item: item, issued: issued, ended: time.Now()})
}

// deliver sets how the fake sends the next webhooks: "deliver" them,
// "duplicate" each (Shopify's retries), "drop" them (never delivered),
// or "hold" them for a later release, in reverse (reordered).
func (w *world) deliver(tb tester, mode string) {
	tb.Helper()
	set := shopifyfake.WebhookSettings{URL: w.d.webhookURL()}
	switch mode {
	case "duplicate":
		set.Duplicates = 2
	case "drop":
		set.URL = ""
	case "hold":
		set.Hold = true
	}
	if err := w.p.shopify.SetWebhooks(set); err != nil {
		tb.Fatal(err)
	}
}

// release delivers the held webhooks, newest first if reverse.
func (w *world) release(reverse bool) { w.p.shopify.ReleaseWebhooks(reverse) }

// change is one random change to the shop, with the way its webhook goes.
func (w *world) change(t *rapid.T, global bool) {
	st := w.p.shopify.State()
	kinds := []string{"stock", "stock", "stock", "tracked", "policy", "release"}
	if global {
		kinds = append(kinds, "location", "settings")
	}
	kind := rapid.SampledFrom(kinds).Draw(t, "change")
	if kind == "release" {
		w.release(rapid.Bool().Draw(t, "reverse"))
		return
	}
	w.deliver(t, rapid.SampledFrom([]string{"deliver", "duplicate", "drop", "hold"}).Draw(t, "delivery"))
	v := st.Variants[rapid.IntRange(0, len(st.Variants)-1).Draw(t, "variant")]
	issued := time.Now()
	var err error
	switch kind {
	case "stock":
		loc := st.Locations[rapid.IntRange(0, len(st.Locations)-1).Draw(t, "location")]
		q := rapid.IntRange(0, 30).Draw(t, "available")
		if q > v.Available[loc.ID] {
			defer w.record(v.InventoryItemID, issued)
		}
		err = w.p.shopify.SetAvailable(v.InventoryItemID, loc.ID, q)
	case "tracked":
		defer w.record(v.InventoryItemID, issued)
		err = w.p.shopify.SetTracked(v.InventoryItemID, rapid.Bool().Draw(t, "tracked"))
	case "policy":
		defer w.record(v.InventoryItemID, issued)
		err = w.p.shopify.SetInventoryPolicy(v.ID, rapid.SampledFrom([]string{"DENY", "CONTINUE"}).Draw(t, "policy"))
	case "location":
		loc := st.Locations[rapid.IntRange(0, len(st.Locations)-1).Draw(t, "location")]
		defer w.record("", issued)
		err = w.p.shopify.SetLocationActive(loc.ID, rapid.Bool().Draw(t, "active"))
	case "settings":
		defer w.record("", issued)
		w.d.must(t, "PUT", "/v1/shops/"+w.shop+"/settings", fmt.Sprintf(`{"percentage":%d}`, rapid.SampledFrom([]int{50, 80, 100}).Draw(t, "percentage")), nil)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// converge delivers what is held, waits for the sync to go idle, runs a
// reconciliation and waits again: the state in which TikTok must show the
// rule's output, lost webhooks and all.
func (w *world) converge(tb tester) {
	tb.Helper()
	w.release(true)
	w.deliver(tb, "deliver")
	w.d.waitIdle(tb)
	w.d.reconcile(tb, w.shop)
}

// checkAll asserts the end-to-end property on a converged world.
func (w *world) checkAll(tb tester) {
	tb.Helper()
	w.d.checkPublished(tb, w.shop, w.p)
	checkNoUnjustifiedRaise(tb, w.p, w.events)
	w.d.checkNothingToPublish(tb, w.shop, w.p)
	var discarded int
	if err := w.d.store.QueryRow(`SELECT COUNT(*) FROM river_job WHERE state = 'discarded'`).Scan(&discarded); err != nil {
		tb.Fatal(err)
	}
	if discarded != 0 {
		tb.Fatalf("%d sync jobs were discarded: their work was given up", discarded)
	}
}

// TestEndToEnd: after any sequence of stock, flag, location and settings
// changes whose webhooks are delivered, duplicated, reordered or lost,
// TikTok shows the rule's output once the sync is idle and a
// reconciliation has run, publishing again costs no TikTok call, and no quantity
// went up on TikTok without a change that could raise it.
func TestEndToEnd(t *testing.T) {
	checkProperty(t, "", "server")
}

// checkProperty runs the end-to-end property on a deployment of the
// store dsn ("": SQLite) with a server of each name, which share the
// webhooks.
func checkProperty(t *testing.T, dsn string, servers ...string) []*server {
	catalogOptions := catalog.Options{Products: 3, Variants: 2, Locations: 3, Seed: 7, WithoutConflicts: true}
	// One deployment for every check; each check gets new fakes on the
	// same addresses (the servers' config names them) and a shop of its
	// own.
	first := startPlatforms(t, platformOptions{catalog: catalogOptions, domain: "e2e-0.myshopify.com"})
	d := deploy(t, first, dsn, extraConfig{})
	var started []*server
	for _, name := range servers {
		started = append(started, d.start(name))
	}
	shopifyAddr, tiktokAddr := strings.TrimPrefix(first.shopify.URL(), "http://"), strings.TrimPrefix(first.tiktok.URL(), "http://")
	first.shopify.Close()
	first.tiktok.Close()
	n := 0
	rapid.Check(t, func(t *rapid.T) {
		n++
		o := catalogOptions
		o.Seed = rapid.Uint64Range(1, 1000).Draw(t, "seed")
		id := fmt.Sprintf("e2e-%d", n)
		w := &world{d: d, shop: id, p: startPlatforms(t, platformOptions{catalog: o, domain: id + ".myshopify.com",
			shopifyAddr: shopifyAddr, tiktokAddr: tiktokAddr})}
		d.addShop(t, id, w.p, `{"percentage":80}`)
		global := rapid.Bool().Draw(t, "global changes")
		for range rapid.IntRange(1, 25).Draw(t, "changes") {
			w.change(t, global)
		}
		w.converge(t)
		w.checkAll(t)
		d.must(t, "DELETE", "/v1/shops/"+id, "", nil)
	})
	return started
}
