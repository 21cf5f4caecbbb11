package e2e_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/fakes/catalog"
	"github.com/syncrules/syncrules/host/internal/fakes/shopifyfake"
	"github.com/syncrules/syncrules/host/internal/slowtest"
)

// TestCrashResync: the server killed with SIGKILL in the middle of a
// resync of 10,200 SKUs (3,400 products, the catalog of the resync
// figure) that has quantities to lower, while webhooks arrive, then
// started again on the same store. The restarted server finishes the
// same run, which ends succeeded; every webhook it had accepted is
// processed; TikTok converges on the rule's output; and no quantity went
// up on TikTok without a stock rise behind it (the resync only lowers).
//
// On SQLite the restarted server takes the killed one's job back at
// once; on PostgreSQL River's rescuer does, 2 × job_timeout + 1 min
// after the job started, so job_timeout is short here, and the run shows
// "interrupted" meanwhile (no progress for over a minute) before it
// moves again.
func TestCrashResync(t *testing.T) {
	onEachEngine(t, func(t *testing.T, engine, dsn string) {
		crashResync(t, dsn)
	})
}

func crashResync(t *testing.T, dsn string) {
	const (
		jobTimeout = 10 * time.Second
		shop       = "crashresync"
		// rescuerDelay is how long River's rescuer may take to run a job
		// a dead replica left running: RescueStuckJobsAfter, plus its
		// run interval (30 s).
		rescuerDelay = 2*jobTimeout + time.Minute + 30*time.Second
	)
	// 10,200 SKUs are far more work than the other tests' shops: every
	// wait of this test, the harness's included, may take three times
	// the usual deadline on a busy machine (40 s of 60 measured for the
	// first publish beside other test suites).
	defer func(usual time.Duration) { deadline = usual }(deadline)
	deadline *= 3
	testStart := time.Now()
	p := startPlatforms(t, platformOptions{
		catalog: catalog.Options{Products: 3400, Variants: 3, Locations: 3, Seed: 4, WithoutConflicts: true},
		domain:  shop + ".myshopify.com",
	})
	// The fake's rate limit is off and the client's far above TikTok's:
	// the test is about the crash, not the pacing.
	d := deploy(t, p, dsn, extraConfig{
		tiktok: "rate = 5000\nmax_rate = 5000\nburst = 1000\n",
		sync:   fmt.Sprintf("job_timeout = %q\n", jobTimeout),
	})
	first := d.start("first")
	w := &world{d: d, p: p, shop: shop}
	d.addShop(t, shop, p, `{"percentage":80}`)
	t.Logf("connected and published %d SKUs in %v", len(p.catalog.Links), time.Since(testStart).Round(time.Millisecond))

	// Lower the first location's stock of every item, without webhooks:
	// only the resync finds out.
	if err := p.shopify.SetWebhooks(shopifyfake.WebhookSettings{}); err != nil {
		t.Fatal(err)
	}
	st := p.shopify.State()
	loc := st.Locations[0].ID
	lowered := 0
	for _, v := range st.Variants {
		if q := v.Available[loc]; q > 0 {
			if err := p.shopify.SetAvailable(v.InventoryItemID, loc, q/2); err != nil {
				t.Fatal(err)
			}
			lowered++
		}
	}
	w.deliver(t, "deliver")

	// A stock change of one item with its webhook, recorded when it
	// raises the stock.
	change := func(i int) {
		v := st.Variants[(i*37)%len(st.Variants)]
		at := st.Locations[1+i%(len(st.Locations)-1)].ID
		issued := time.Now()
		before, _ := p.shopify.Available(v.InventoryItemID, at)
		q := (i * 13) % 40
		if err := p.shopify.SetAvailable(v.InventoryItemID, at, q); err != nil {
			t.Fatal(err)
		}
		if q > before {
			w.record(v.InventoryItemID, issued)
		}
	}

	resyncStart := time.Now()
	var run runStatus
	d.must(t, "POST", "/v1/shops/"+shop+"/sync/resync", "", &run)
	if run.Kind != "resync" || run.Total != int64(len(p.catalog.Links)) {
		t.Fatalf("the resync started as %+v, want a resync of %d items", run, len(p.catalog.Links))
	}
	// Webhooks arrive while the resync runs; the server is killed once
	// it has published a good part of the shop, and well before the end.
	i := 0
	waitFor(t, "the resync to publish 30% of the shop", func() (bool, error) {
		change(i)
		i++
		r := d.latestRun(t, shop)
		if r.ID != run.ID || r.State != "running" {
			return false, fmt.Errorf("the resync ended before the kill: %+v", r)
		}
		return r.Done*10 >= r.Total*3, nil
	})
	first.kill()
	var state string
	var done int64
	if err := d.store.QueryRow(`SELECT state, done FROM runs WHERE id = $1`, run.ID).Scan(&state, &done); err != nil {
		t.Fatal(err)
	}
	if state != "running" || done*10 > run.Total*9 {
		t.Fatalf("the resync was %s with %d of %d items done when the server was killed: the kill tested nothing", state, done, run.Total)
	}
	t.Logf("killed %v into the resync, %d of %d items done (%d lowered, %d webhooks sent)",
		time.Since(resyncStart).Round(time.Millisecond), done, run.Total, lowered, i)

	// Webhooks sent while no server runs are lost (Shopify would retry
	// them); the reconciliation at the end catches them up.
	for j := i; j < i+10; j++ {
		change(j)
	}
	restart := time.Now()
	d.start("second")
	for j := i + 10; j < i+60; j++ {
		change(j)
	}
	lost := refusedDeliveries(p)
	if lost == 0 {
		t.Fatal("no webhook arrived while the server was down")
	}

	// The same run finishes: the restarted server carries it on.
	within := deadline
	if dsn != "" {
		// The rescue's delay is the queue's, not the machine's; the
		// rest of the resync then gets a deadline of its own.
		within += rescuerDelay + deadline
	}
	var last runStatus
	shownInterrupted := false
	waitWithin(t, within, "the resync to finish after the restart", func() (bool, error) {
		last = d.latestRun(t, shop)
		if last.ID != run.ID || (last.State != "running" && last.State != "interrupted") {
			return true, nil
		}
		// On PostgreSQL the run stands still until the rescue: what it
		// says meanwhile must be what to expect, not "connect again".
		shownInterrupted = shownInterrupted || last.State == "interrupted"
		if last.State == "interrupted" && (!strings.Contains(last.Error, "stay pending") || strings.Contains(last.Error, "connect again")) {
			t.Fatalf("the resync, waiting to be taken back, says: %s; want that its items stay pending and the run goes on", last.Error)
		}
		return false, fmt.Errorf("run %d is %s at %d of %d: %s", last.ID, last.State, last.Done, last.Total, last.Error)
	})
	if last.ID != run.ID || last.State != "succeeded" || last.Done != last.Total {
		t.Fatalf("after the restart the latest run is %+v, want the resync %d succeeded with every item done", last, run.ID)
	}
	t.Logf("the resync finished %v after the restart (shown interrupted meanwhile: %v)", time.Since(restart).Round(time.Millisecond), shownInterrupted)
	w.converge(t)
	d.checkPublished(t, shop, p)
	checkNoUnjustifiedRaise(t, p, w.events)
	checkWebhooksProcessed(t, p)
	var discarded int
	if err := d.store.QueryRow(`SELECT COUNT(*) FROM river_job WHERE state = 'discarded'`).Scan(&discarded); err != nil {
		t.Fatal(err)
	}
	if discarded != 0 {
		t.Fatalf("%d sync jobs were discarded: their work was given up", discarded)
	}
	t.Logf("%d webhooks lost while down; whole test %v (deadlines × %d)", lost, time.Since(testStart).Round(time.Millisecond), slowtest.Factor)
}
