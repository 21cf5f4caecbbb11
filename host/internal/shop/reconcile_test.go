package shop_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/compute"
	"github.com/syncrules/syncrules/host/internal/fakes/catalog"
	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/shopify"
	"github.com/syncrules/syncrules/host/internal/tiktok"
	"github.com/syncrules/syncrules/rules/defaultrule"
	"github.com/syncrules/syncrules/sdk"
)

const testGrace = 15 * time.Minute

// reconcileHarness is a syncHarness whose service reconciles with a raise
// grace of testGrace, on a clock the test moves.
type reconcileHarness struct {
	*syncHarness
	now time.Time
}

func newReconcileHarness(t *testing.T, cat *catalog.Catalog, postgres bool) *reconcileHarness {
	t.Helper()
	h := &reconcileHarness{syncHarness: newSyncHarness(t, cat, postgres), now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	cs, err := compute.NewService(&nativeRule{runner: sdk.NewRunner(defaultrule.Rule)}, compute.Limits{}, compute.MaxMaxQuantity)
	if err != nil {
		t.Fatal(err)
	}
	h.svc = shop.New(shop.Options{Store: h.store, Compute: cs, Sealer: h.sealer,
		Platforms: shop.Platforms{
			Shopify: shopify.Options{BaseURL: h.shopify.URL()},
			TikTok: tiktok.Options{BaseURL: h.tiktok.URL(), AuthBaseURL: h.tiktok.URL(), RetryBase: time.Millisecond, RetryMax: 10 * time.Millisecond,
				Rate: 10_000, Burst: 100},
		},
		RaiseGrace: testGrace,
		Clock:      func() time.Time { return h.now },
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	t.Cleanup(h.svc.Close)
	return h
}

// reconcile reconciles the whole shop, a page at a time, and returns the
// repairs.
func (h *reconcileHarness) reconcile() int {
	h.t.Helper()
	repairs, after := 0, ""
	for pages := 1; pages <= 100; pages++ {
		next, n, err := h.svc.ReconcilePage(context.Background(), shopID, after)
		if err != nil {
			h.t.Fatalf("ReconcilePage: %v", err)
		}
		repairs += n
		if next == "" {
			return repairs
		}
		after = next
	}
	h.t.Fatal("ReconcilePage still reports pages left after 100")
	return 0
}

// calls counts the TikTok requests whose path ends with suffix.
func (h *reconcileHarness) calls(suffix string) int {
	n := 0
	for _, r := range h.tiktok.Requests() {
		if strings.HasSuffix(r.Path, suffix) {
			n++
		}
	}
	return n
}

// readBack is the last read-back of a SKU in a warehouse.
func (h *reconcileHarness) readBack(sku, warehouse string) shop.ReadBack {
	h.t.Helper()
	rb, err := h.svc.LastReadBack(context.Background(), shop.Operator, shopID, []string{sku})
	if err != nil {
		h.t.Fatal(err)
	}
	got, ok := rb[shop.PublishKey{SKUID: sku, WarehouseID: warehouse}]
	if !ok {
		h.t.Fatalf("no read-back of SKU %s in %s: %+v", sku, warehouse, rb)
	}
	return got
}

// reconcileEntries are the history entries of a SKU caused by
// reconciliation.
func (h *reconcileHarness) reconcileEntries(sku string) []shop.HistoryEntry {
	var out []shop.HistoryEntry
	for _, e := range h.history() {
		if e.SKUID == sku && e.Cause == shop.CauseReconcile {
			out = append(out, e)
		}
	}
	return out
}

// TestReconcileNothingDrifted: with TikTok as the rule wants it, a
// reconciliation reads TikTok back, one call for the page, and sends no
// update.
func TestReconcileNothingDrifted(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testReconcileNothingDrifted(t, false) })
	t.Run("postgres", func(t *testing.T) { testReconcileNothingDrifted(t, true) })
}

func testReconcileNothingDrifted(t *testing.T, postgres bool) {
	h := newReconcileHarness(t, generate(t, 4, 2, 2), postgres)
	if repairs := h.reconcile(); repairs != 0 {
		t.Errorf("repairs = %d, want 0", repairs)
	}
	if n := h.calls("/inventory/update"); n != 0 {
		t.Errorf("%d inventory updates with nothing drifted, want 0", n)
	}
	if n := h.calls("/inventory/search"); n != 1 {
		t.Errorf("%d inventory searches for 8 linked SKUs, want 1", n)
	}
}

// TestReconcileLowersAtOnce: a stock decrease whose webhook never came
// leaves TikTok above the rule: the reconciliation lowers it at once, and
// records it with what TikTok showed.
func TestReconcileLowersAtOnce(t *testing.T) {
	h := newReconcileHarness(t, generate(t, 4, 2, 2), false)
	a := h.cat.Links[3]
	h.stock(a, 10)
	h.webhook(a)
	h.sync()
	h.stock(a, 5) // no webhook
	h.tiktok.ResetRequests()
	if repairs := h.reconcile(); repairs != 1 {
		t.Errorf("repairs = %d, want 1", repairs)
	}
	if got := h.tiktokQuantity(a.TikTokID, h.main); got != 4 {
		t.Errorf("TikTok after the reconciliation = %d, want 4 (80%% of 5)", got)
	}
	if n := h.calls("/inventory/update"); n != 1 {
		t.Errorf("%d inventory updates, want 1", n)
	}
	entries := h.reconcileEntries(a.TikTokID)
	if len(entries) != 1 || entries[0].Outcome != shop.OutcomePublished || entries[0].Previous == nil || *entries[0].Previous != 8 || entries[0].Quantity != 4 {
		t.Errorf("reconcile history = %+v, want one published 8 -> 4", entries)
	}
	published, err := h.store.Published(context.Background(), shopID, []string{a.TikTokID})
	if err != nil || published[shop.PublishKey{SKUID: a.TikTokID, WarehouseID: h.main}] != 4 {
		t.Errorf("published = %v, %v; want 4", published, err)
	}
}

// TestReconcileReadsLocations: a location deactivated whose webhook never
// came: the reconciliation reads the locations again and republishes the
// shop, which lowers the SKUs that counted its stock.
func TestReconcileReadsLocations(t *testing.T) {
	cat := generate(t, 4, 2, 3) // the third location is inactive
	h := newReconcileHarness(t, cat, false)
	a, second := h.publishAtTwoLocations(cat)
	if err := h.shopify.SetLocationActive(second, false); err != nil { // no webhook
		t.Fatal(err)
	}
	h.reconcile()
	// The changed places republish the shop: its sync publishes them.
	h.sync()
	if got := h.tiktokQuantity(a.TikTokID, h.main); got != 8 {
		t.Errorf("SKU a after the reconciliation and the sync = %d, want 8 (80%% of the active location's 10)", got)
	}
}

// TestReconcileRaisesAfterGrace: an order TikTok took lowers its quantity
// below the rule's before Shopify hears of it; the reconciliation leaves
// it until it has stayed below for the grace, then raises it. A read-back
// equal to the rule's ends the grace, so a later drop starts its own.
func TestReconcileRaisesAfterGrace(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testReconcileRaisesAfterGrace(t, false) })
	t.Run("postgres", func(t *testing.T) { testReconcileRaisesAfterGrace(t, true) })
}

func testReconcileRaisesAfterGrace(t *testing.T, postgres bool) {
	h := newReconcileHarness(t, generate(t, 4, 2, 2), postgres)
	a := h.cat.Links[3]
	h.stock(a, 10)
	h.webhook(a)
	h.sync() // TikTok: 8
	start := h.now

	if err := h.tiktok.PlaceOrder(a.TikTokID, h.main, 3); err != nil {
		t.Fatal(err)
	}
	h.tiktok.ResetRequests()
	for _, after := range []time.Duration{0, testGrace / 2, testGrace - time.Second} {
		h.now = start.Add(after)
		if repairs := h.reconcile(); repairs != 0 {
			t.Errorf("%s after the drop: %d repairs, want 0", after, repairs)
		}
		if got := h.tiktokQuantity(a.TikTokID, h.main); got != 5 {
			t.Errorf("%s after the drop: TikTok = %d, want 5 kept", after, got)
		}
	}
	if n := h.calls("/inventory/update"); n != 0 {
		t.Errorf("%d inventory updates within the grace, want 0", n)
	}
	if rb := h.readBack(a.TikTokID, h.main); rb.Available != 5 || !rb.BelowSince.Equal(start) || !rb.At.Equal(h.now) {
		t.Errorf("read-back = %+v, want 5 below since %s, read at %s", rb, start, h.now)
	}

	h.now = start.Add(testGrace)
	if repairs := h.reconcile(); repairs != 1 {
		t.Errorf("at the end of the grace: %d repairs, want 1", repairs)
	}
	if got := h.tiktokQuantity(a.TikTokID, h.main); got != 8 {
		t.Errorf("at the end of the grace: TikTok = %d, want 8", got)
	}
	if rb := h.readBack(a.TikTokID, h.main); !rb.BelowSince.IsZero() {
		t.Errorf("read-back after the raise = %+v, want not below", rb)
	}
	entries := h.reconcileEntries(a.TikTokID)
	if len(entries) != 1 || entries[0].Previous == nil || *entries[0].Previous != 5 || entries[0].Quantity != 8 {
		t.Errorf("reconcile history = %+v, want one published 5 -> 8", entries)
	}

	// An order that reaches Shopify: TikTok equals the rule again, which
	// clears the grace and records the quantity as published.
	if err := h.tiktok.PlaceOrder(a.TikTokID, h.main, 2); err != nil {
		t.Fatal(err)
	}
	h.now = h.now.Add(time.Minute)
	h.reconcile() // below since now
	h.stock(a, 7) // 80% of 7 = 5, no webhook
	if err := h.tiktok.PlaceOrder(a.TikTokID, h.main, 1); err != nil {
		t.Fatal(err)
	}
	// TikTok 5 = the rule's 5.
	h.now = h.now.Add(time.Minute)
	h.tiktok.ResetRequests()
	h.reconcile()
	if rb := h.readBack(a.TikTokID, h.main); rb.Available != 5 || !rb.BelowSince.IsZero() {
		t.Errorf("read-back equal to the rule = %+v, want 5, not below", rb)
	}
	published, err := h.store.Published(context.Background(), shopID, []string{a.TikTokID})
	if err != nil || published[shop.PublishKey{SKUID: a.TikTokID, WarehouseID: h.main}] != 5 {
		t.Errorf("published = %v, %v; want 5, as TikTok shows", published, err)
	}
	if last := h.reconcileEntries(a.TikTokID); last[len(last)-1].Outcome != shop.OutcomeAlreadyThere || last[len(last)-1].Quantity != 5 {
		t.Errorf("last reconcile entry = %+v, want already_there 5", last[len(last)-1])
	}
	// A new drop starts a new grace.
	if err := h.tiktok.PlaceOrder(a.TikTokID, h.main, 1); err != nil {
		t.Fatal(err)
	}
	dropped := h.now.Add(time.Minute)
	h.now = dropped
	h.reconcile()
	h.now = dropped.Add(testGrace - time.Second)
	h.reconcile()
	if got := h.tiktokQuantity(a.TikTokID, h.main); got != 4 {
		t.Errorf("within the new drop's grace: TikTok = %d, want 4 kept", got)
	}
	if n := h.calls("/inventory/update"); n != 0 {
		t.Errorf("%d inventory updates within the new grace, want 0", n)
	}
}

// TestReconcileLeavesPendingItems: a SKU whose item is pending is the
// sync's to publish, from a newer read of Shopify.
func TestReconcileLeavesPendingItems(t *testing.T) {
	h := newReconcileHarness(t, generate(t, 4, 2, 2), false)
	a := h.cat.Links[3]
	h.stock(a, 10)
	h.webhook(a)
	h.sync()
	h.stock(a, 5)
	h.webhook(a) // pending, not yet synced
	h.tiktok.ResetRequests()
	if repairs := h.reconcile(); repairs != 0 {
		t.Errorf("repairs of a pending item = %d, want 0", repairs)
	}
	if n := h.calls("/inventory/update"); n != 0 {
		t.Errorf("%d inventory updates for a pending item, want 0", n)
	}
	h.sync()
	if got := h.tiktokQuantity(a.TikTokID, h.main); got != 4 {
		t.Errorf("after the sync = %d, want 4", got)
	}
}

// TestFirstPublicationComparesWithImport: right after a connect, a SKU
// that TikTok already shows with the rule's quantity costs no call: it is
// recorded as published, already there.
func TestFirstPublicationComparesWithImport(t *testing.T) {
	cat := generate(t, 6, 2, 3) // the third location is inactive
	// Shopify's stock is TikTok's: location 1 feeds the main warehouse,
	// location 2 the second, at 100%.
	qty := map[string]map[string]int{}
	for _, p := range cat.TikTokProducts {
		for _, k := range p.SKUs {
			qty[k.SellerSKU] = map[string]int{}
			for _, st := range k.Inventory {
				qty[k.SellerSKU][st.WarehouseID] = st.Quantity
			}
		}
	}
	main, second := cat.Warehouses[0].ID, cat.Warehouses[1].ID
	for i := range cat.Products {
		for j := range cat.Products[i].Variants {
			v := &cat.Products[i].Variants[j]
			v.Tracked, v.InventoryPolicy = true, "DENY"
			v.Available = map[string]int{cat.Locations[0].ID: qty[v.SKU][main], cat.Locations[1].ID: qty[v.SKU][second], cat.Locations[2].ID: 0}
		}
	}
	h := &syncHarness{harness: newHarness(t, cat, harnessOptions{}), main: main, second: second}
	h.connect()
	h.tiktok.ResetRequests()
	settings := &compute.Settings{Percentage: compute.NumberOf("100"), Mappings: []compute.Mapping{
		{Location: locationGID(cat.Locations[0].ID), Warehouse: main}, {Location: locationGID(cat.Locations[1].ID), Warehouse: second}}}
	if _, err := h.svc.PutSettings(context.Background(), shop.Operator, shopID, settings, nil); err != nil {
		t.Fatal(err)
	}
	h.sync()
	if got := h.updates(); len(got) != 0 {
		t.Errorf("updates for products %v, want none: TikTok already shows every quantity", got)
	}
	a := cat.Links[0] // stocked in both warehouses
	published, err := h.store.Published(context.Background(), shopID, []string{a.TikTokID})
	if err != nil || len(published) != 2 || published[shop.PublishKey{SKUID: a.TikTokID, WarehouseID: second}] != qty[a.SellerSKU][second] {
		t.Errorf("published = %v, %v; want both warehouses as TikTok shows them", published, err)
	}
	if !slices.ContainsFunc(h.history(), func(e shop.HistoryEntry) bool {
		return e.SKUID == a.TikTokID && e.Outcome == shop.OutcomeAlreadyThere && e.Cause == "settings:1"
	}) {
		t.Errorf("no already_there entry for SKU %s caused by settings:1", a.TikTokID)
	}
}
