package shop_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/compute"
	"github.com/syncrules/syncrules/host/internal/fakes"
	"github.com/syncrules/syncrules/host/internal/fakes/catalog"
	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/shopify"
	"github.com/syncrules/syncrules/host/internal/tiktok"
)

// syncHarness is a connected shop whose settings publish 80% of every
// active location to the main warehouse (the seed's settings).
type syncHarness struct {
	*harness
	main, second string // TikTok warehouses
	loc          string // the active Shopify location, global id
	webhooks     int
}

func newSyncHarness(t *testing.T, cat *catalog.Catalog, postgres bool) *syncHarness {
	t.Helper()
	h := &syncHarness{harness: newHarness(t, cat, harnessOptions{postgres: postgres}),
		main: cat.Warehouses[0].ID, second: cat.Warehouses[1].ID, loc: locationGID(cat.Locations[0].ID)}
	h.connect()
	// TikTok's own pace (10 calls a second) would make a test of one
	// call per product slow.
	h.svc = h.newService(shop.Platforms{
		Shopify: shopify.Options{BaseURL: h.shopify.URL()},
		TikTok: tiktok.Options{BaseURL: h.tiktok.URL(), AuthBaseURL: h.tiktok.URL(), RetryBase: time.Millisecond, RetryMax: 10 * time.Millisecond,
			Rate: 10_000, Burst: 100},
	})
	settings := &compute.Settings{Percentage: compute.NumberOf("80"),
		Mappings: []compute.Mapping{{Location: compute.AllLocations, Warehouse: h.main}}}
	if _, err := h.svc.PutSettings(context.Background(), shop.Operator, shopID, settings, nil); err != nil {
		t.Fatal(err)
	}
	// The settings publish the whole shop.
	h.sync()
	h.tiktok.ResetRequests()
	return h
}

// singleWarehouse returns the links whose TikTok SKU is stocked in one
// warehouse only.
func singleWarehouse(cat *catalog.Catalog) []catalog.Link {
	warehouses := map[string]int{}
	for _, p := range cat.TikTokProducts {
		for _, k := range p.SKUs {
			warehouses[k.ID] = len(k.Inventory)
		}
	}
	var out []catalog.Link
	for _, l := range cat.Links {
		if warehouses[l.TikTokID] == 1 {
			out = append(out, l)
		}
	}
	return out
}

func itemGID(id string) string { return "gid://shopify/InventoryItem/" + id }

// stock makes a linked variant tracked and deny-selling, with available
// at the active location; the fake's own webhooks go nowhere.
func (h *syncHarness) stock(l catalog.Link, available int) {
	h.t.Helper()
	if err := h.shopify.SetTracked(l.InventoryItemID, true); err != nil {
		h.t.Fatal(err)
	}
	if err := h.shopify.SetInventoryPolicy(l.VariantID, "DENY"); err != nil {
		h.t.Fatal(err)
	}
	if err := h.shopify.SetAvailable(l.InventoryItemID, h.loc, available); err != nil {
		h.t.Fatal(err)
	}
}

// webhook records a webhook that leaves the links' items pending, and
// returns its id.
func (h *syncHarness) webhook(links ...catalog.Link) string {
	h.t.Helper()
	h.webhooks++
	id := fmt.Sprintf("webhook-%d", h.webhooks)
	items := make([]string, len(links))
	for i, l := range links {
		items[i] = itemGID(l.InventoryItemID)
	}
	r := shop.WebhookReceipt{Shop: shopID, WebhookID: id, Topic: shop.TopicInventoryLevelsUpdate, Body: []byte("{}")}
	if _, err := h.store.RecordWebhook(context.Background(), r, items, len(links) == 0, nil); err != nil {
		h.t.Fatal(err)
	}
	return id
}

// sync calls SyncShop until it reports nothing left, and returns how many
// calls it took.
func (h *syncHarness) sync() int {
	h.t.Helper()
	for calls := 1; calls <= 100; calls++ {
		more, err := h.svc.SyncShop(context.Background(), shopID)
		if err != nil {
			h.t.Fatalf("SyncShop: %v", err)
		}
		if !more {
			return calls
		}
	}
	h.t.Fatal("SyncShop still reports items left after 100 calls")
	return 0
}

// tiktokQuantity is the fake TikTok's quantity of a SKU in a warehouse.
func (h *syncHarness) tiktokQuantity(sku, warehouse string) int {
	h.t.Helper()
	q, ok := h.tiktok.Quantity(sku, warehouse)
	if !ok {
		h.t.Fatalf("TikTok SKU %s is not stocked in %s", sku, warehouse)
	}
	return q
}

// updates are the inventory updates TikTok received, by product, in order.
func (h *syncHarness) updates() []string {
	var out []string
	for _, r := range h.tiktok.Requests() {
		if strings.HasSuffix(r.Path, "/inventory/update") {
			out = append(out, strings.TrimSuffix(strings.TrimPrefix(r.Path, "/product/202309/products/"), "/inventory/update"))
		}
	}
	return out
}

func (h *syncHarness) history() []shop.HistoryEntry {
	h.t.Helper()
	list, err := h.svc.SyncHistory(context.Background(), shop.Operator, shopID, 0, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	return list
}

// TestSyncShopPublishesTheRule: a stock change reaches TikTok as the
// rule's output (80% of the active location, rounded down), recorded in
// the history with its cause and inputs; with nothing pending, the next
// sync calls neither platform.
func TestSyncShopPublishesTheRule(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testSyncShopPublishesTheRule(t, false) })
	t.Run("postgres", func(t *testing.T) { testSyncShopPublishesTheRule(t, true) })
}

func testSyncShopPublishesTheRule(t *testing.T, postgres bool) {
	cat := generate(t, 4, 2, 2)
	h := newSyncHarness(t, cat, postgres)
	a, b := cat.Links[3], cat.Links[4]
	before := h.tiktokQuantity(a.TikTokID, h.main) // as the settings published it
	h.stock(a, 10)
	h.stock(b, 3)
	cause := h.webhook(a, b)
	h.sync()
	if got := h.tiktokQuantity(a.TikTokID, h.main); got != 8 {
		t.Errorf("SKU a in the main warehouse = %d, want 8 (80%% of 10)", got)
	}
	if got := h.tiktokQuantity(b.TikTokID, h.main); got != 2 {
		t.Errorf("SKU b in the main warehouse = %d, want 2 (80%% of 3, rounded down)", got)
	}
	pending, err := h.store.PendingItems(context.Background(), shopID, 0)
	if err != nil || len(pending) != 0 {
		t.Errorf("pending after the sync = %v, %v; want none", pending, err)
	}

	hist := h.history()
	i := slices.IndexFunc(hist, func(e shop.HistoryEntry) bool {
		return e.SKUID == a.TikTokID && e.WarehouseID == h.main && e.Cause == cause
	})
	if i < 0 {
		t.Fatalf("no history of SKU a in the main warehouse caused by %s: %+v", cause, hist)
	}
	e := hist[i]
	if e.Outcome != shop.OutcomePublished || e.Previous == nil || *e.Previous != before || e.Quantity != 8 || e.SettingsVersion != 1 {
		t.Errorf("history entry = %+v, want published %d -> 8 under settings 1", e, before)
	}
	if first := hist[0]; first.Cause != "settings:1" || first.Previous != nil {
		t.Errorf("first history entry = %+v, want the settings' first publication, with nothing published before", first)
	}
	var inputs struct {
		Available map[string]int `json:"available"`
		Tracked   bool           `json:"tracked"`
	}
	if err := json.Unmarshal(e.Inputs, &inputs); err != nil || inputs.Available[h.loc] != 10 || !inputs.Tracked {
		t.Errorf("history inputs = %s (%v), want the level 10 at %s, tracked", e.Inputs, err, h.loc)
	}

	h.tiktok.ResetRequests()
	h.shopify.ResetRequests()
	if calls := h.sync(); calls != 1 {
		t.Errorf("an idle sync took %d calls, want 1", calls)
	}
	if n := len(h.tiktok.Requests()) + len(h.shopify.Requests()); n != 0 {
		t.Errorf("an idle sync made %d platform requests, want 0", n)
	}
	// The same items again, with nothing changed: read, not sent.
	h.webhook(a, b)
	h.sync()
	if got := h.updates(); len(got) != 0 {
		t.Errorf("a webhook that changed nothing sent updates for %v, want none", got)
	}
}

// TestSyncShopDecreasesFirst: of two products, the one whose quantity
// went down is sent before the one whose quantity went up, whatever the
// order of the webhooks and of the product ids.
func TestSyncShopDecreasesFirst(t *testing.T) {
	cat := generate(t, 4, 2, 2)
	h := newSyncHarness(t, cat, false)
	// Distinct products, single-warehouse SKUs.
	// The decrease is on the product whose id sorts last.
	up, down := cat.Links[3], cat.Links[5]
	if up.TikTokProductID > down.TikTokProductID {
		up, down = down, up
	}
	h.stock(up, 5)
	h.stock(down, 50)
	h.webhook(up, down)
	h.sync()

	h.tiktok.ResetRequests()
	h.stock(up, 20)
	h.stock(down, 1)
	h.webhook(up)
	h.webhook(down)
	h.sync()
	want := []string{down.TikTokProductID, up.TikTokProductID}
	if got := h.updates(); !slices.Equal(got, want) {
		t.Errorf("updates sent for products %v, want %v: the decrease first", got, want)
	}
	if got := h.tiktokQuantity(down.TikTokID, h.main); got != 0 {
		t.Errorf("decreased SKU = %d, want 0 (80%% of 1)", got)
	}
	if got := h.tiktokQuantity(up.TikTokID, h.main); got != 16 {
		t.Errorf("increased SKU = %d, want 16", got)
	}
}

// TestSyncShopSKUFailure: a SKU TikTok refuses is marked failed with its
// code, keeps its published quantity, and is sent again on its next
// change, which clears the failure.
func TestSyncShopSKUFailure(t *testing.T) {
	cat := generate(t, 4, 2, 2)
	h := newSyncHarness(t, cat, false)
	a := cat.Links[3]
	ctx := context.Background()
	h.stock(a, 10)
	h.webhook(a)
	h.sync()

	if err := h.tiktok.InjectFault(fakes.Fault{Path: "/inventory/update", SKUID: a.TikTokID, Code: 12052109, Message: "over the limit"}); err != nil {
		t.Fatal(err)
	}
	h.stock(a, 20)
	h.webhook(a)
	h.sync()
	if got := h.tiktokQuantity(a.TikTokID, h.main); got != 8 {
		t.Errorf("refused SKU on TikTok = %d, want 8 still", got)
	}
	published, err := h.store.Published(ctx, shopID, []string{a.TikTokID})
	if err != nil || published[shop.PublishKey{SKUID: a.TikTokID, WarehouseID: h.main}] != 8 {
		t.Errorf("published = %v, %v; want 8 kept", published, err)
	}
	failures, err := h.store.SyncFailures(ctx, shopID)
	if err != nil || len(failures) != 1 || failures[0].SKUID != a.TikTokID || failures[0].Code != "12052109" {
		t.Errorf("failures = %+v, %v; want SKU %s with code 12052109", failures, err, a.TikTokID)
	}
	hist := h.history()
	last := hist[len(hist)-1]
	if last.Outcome != shop.OutcomeFailed || last.ErrorCode != "12052109" || last.Quantity != 16 || last.Previous == nil || *last.Previous != 8 {
		t.Errorf("last history entry = %+v, want failed 8 -> 16 with code 12052109", last)
	}

	h.stock(a, 25)
	h.webhook(a)
	h.sync()
	if got := h.tiktokQuantity(a.TikTokID, h.main); got != 20 {
		t.Errorf("SKU after its next change = %d, want 20", got)
	}
	if failures, err := h.store.SyncFailures(ctx, shopID); err != nil || len(failures) != 0 {
		t.Errorf("failures after a push TikTok accepted = %+v, %v; want none", failures, err)
	}
}

// TestSyncShopTransientError: TikTok failing with 5xx fails the sync,
// which leaves the items pending and publishes them once TikTok is back.
func TestSyncShopTransientError(t *testing.T) {
	cat := generate(t, 4, 2, 2)
	h := newSyncHarness(t, cat, false)
	a := cat.Links[3]
	before := h.tiktokQuantity(a.TikTokID, h.main)
	h.stock(a, 10)
	h.webhook(a)
	if err := h.tiktok.InjectFault(fakes.Fault{Path: "/inventory/update", Status: 503, Count: 1000}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.SyncShop(context.Background(), shopID); err == nil {
		t.Fatal("SyncShop succeeded while TikTok answered 503")
	}
	pending, err := h.store.PendingItems(context.Background(), shopID, 0)
	if err != nil || len(pending) != 1 {
		t.Errorf("pending after the failure = %v, %v; want the item still pending", pending, err)
	}
	published, err := h.store.Published(context.Background(), shopID, []string{a.TikTokID})
	if got := published[shop.PublishKey{SKUID: a.TikTokID, WarehouseID: h.main}]; err != nil || got != before {
		t.Errorf("published after the failure = %v, %v; want %d kept", published, err, before)
	}
	if got := h.tiktokQuantity(a.TikTokID, h.main); got != before {
		t.Errorf("SKU while TikTok fails = %d, want %d", got, before)
	}
	h.tiktok.ClearFaults()
	h.sync()
	if got := h.tiktokQuantity(a.TikTokID, h.main); got != 8 {
		t.Errorf("SKU once TikTok is back = %d, want 8", got)
	}
}

// TestSyncShopWaitsForSettings: a shop without settings publishes nothing,
// keeps its items pending, and says it is blocked (so that its job ends
// rather than spins).
func TestSyncShopWaitsForSettings(t *testing.T) {
	cat := generate(t, 2, 2, 2)
	h := &syncHarness{harness: newHarness(t, cat, harnessOptions{}), loc: locationGID(cat.Locations[0].ID)}
	h.connect()
	cause := h.webhook(cat.Links[0])
	if _, err := h.svc.SyncShop(context.Background(), shopID); !errors.Is(err, shop.ErrSyncBlocked) {
		t.Fatalf("SyncShop without settings: %v, want ErrSyncBlocked", err)
	}
	if got := h.updates(); len(got) != 0 {
		t.Errorf("updates sent without settings: %v", got)
	}
	pending, err := h.store.PendingItems(context.Background(), shopID, 0)
	if err != nil || !slices.ContainsFunc(pending, func(p shop.PendingItem) bool { return p.Cause == cause }) {
		t.Errorf("pending = %v, %v; want the webhook's item kept", pending, err)
	}
}

// TestSyncShopAllItems: a change to every item (a location changed)
// publishes every linked SKU as the rule computes it, over several calls
// of at most a batch each.
func TestSyncShopAllItems(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testSyncShopAllItems(t, false) })
	t.Run("postgres", func(t *testing.T) { testSyncShopAllItems(t, true) })
}

func testSyncShopAllItems(t *testing.T, postgres bool) {
	cat := generate(t, 150, 2, 2)
	h := newSyncHarness(t, cat, postgres)
	h.webhook() // every item
	if calls := h.sync(); calls < 2 {
		t.Errorf("%d linked items took %d call(s), want at least 2 batches of %d", len(cat.Links), calls, shop.SyncBatch)
	}
	// The rule's output, computed from the catalog as imported (nothing
	// changed since) through the shop's compute.
	linked := h.variants(shop.LinkLinked)
	var items []compute.Item
	var skus []string
	for _, v := range linked {
		item := compute.Item{ID: v.ID, Tracked: compute.Flag{Set: true, Value: v.Tracked}, ContinueSelling: v.InventoryPolicy == "CONTINUE"}
		for loc, q := range v.Available {
			item.Available = append(item.Available, compute.StockEntry{Location: loc, Quantity: compute.NumberOf(fmt.Sprint(q))})
		}
		items = append(items, item)
		skus = append(skus, v.Link.SKUID)
	}
	resp, err := h.svc.ComputeItems(context.Background(), shop.Operator, shopID, items, compute.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, res := range resp.Items {
		want, _ := res.Quantities.Get(h.main)
		if got := h.tiktokQuantity(skus[i], h.main); got != int(want) {
			t.Errorf("SKU %s in the main warehouse = %d, want %d", skus[i], got, want)
		}
	}
}

// TestSyncShopSettingsChange: new settings republish the whole shop; stock
// the rule sends to a warehouse the SKU is not stocked in is refused and
// recorded, and the warehouse it leaves goes down to 0.
func TestSyncShopSettingsChange(t *testing.T) {
	cat := generate(t, 4, 2, 2)
	h := newSyncHarness(t, cat, false)
	a := singleWarehouse(cat)[2]
	h.stock(a, 10)
	h.webhook(a)
	h.sync()
	if got := h.tiktokQuantity(a.TikTokID, h.main); got != 8 {
		t.Fatalf("SKU a = %d, want 8", got)
	}
	settings := &compute.Settings{Percentage: compute.NumberOf("80"),
		Mappings: []compute.Mapping{{Location: compute.AllLocations, Warehouse: h.second}}}
	saved, err := h.svc.PutSettings(context.Background(), shop.Operator, shopID, settings, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.sync()
	if got := h.tiktokQuantity(a.TikTokID, h.main); got != 0 {
		t.Errorf("SKU a in the main warehouse, which nothing feeds now = %d, want 0", got)
	}
	if _, ok := h.tiktok.Quantity(a.TikTokID, h.second); ok {
		t.Errorf("SKU a got stock in the second warehouse, which it is not stocked in")
	}
	cause := fmt.Sprintf("settings:%d", saved.Version)
	var published, refused bool
	for _, e := range h.history() {
		if e.SKUID != a.TikTokID || e.Cause != cause {
			continue
		}
		switch {
		case e.WarehouseID == h.main && e.Outcome == shop.OutcomePublished && e.Quantity == 0 && e.Previous != nil && *e.Previous == 8:
			published = true
		case e.WarehouseID == h.second && e.Outcome == shop.OutcomeRefused && e.Quantity == 8 && e.ErrorCode == "sku_not_in_warehouse":
			refused = true
		}
	}
	if !published || !refused {
		t.Errorf("history caused by %s: published 8 -> 0 in main %v, refused 8 in second %v; want both:\n%+v", cause, published, refused, h.history())
	}
}

// publishAtTwoLocations stocks a single-warehouse SKU with 10 at each of
// the catalog's first two (active) locations and publishes it (80% of 20),
// and returns it with the second location's global id.
func (h *syncHarness) publishAtTwoLocations(cat *catalog.Catalog) (catalog.Link, string) {
	h.t.Helper()
	a := singleWarehouse(cat)[2]
	second := locationGID(cat.Locations[1].ID)
	h.stock(a, 10)
	if err := h.shopify.SetAvailable(a.InventoryItemID, second, 10); err != nil {
		h.t.Fatal(err)
	}
	h.webhook(a)
	h.sync()
	if got := h.tiktokQuantity(a.TikTokID, h.main); got != 16 {
		h.t.Fatalf("SKU a with two active locations of 10 = %d, want 16", got)
	}
	return a, second
}

// TestSyncShopLocationDeactivated: a locations webhook marks every item
// pending; the sync reads the locations again and stops counting the
// stock of the one deactivated.
func TestSyncShopLocationDeactivated(t *testing.T) {
	cat := generate(t, 4, 2, 3) // the third location is inactive
	h := newSyncHarness(t, cat, false)
	a, second := h.publishAtTwoLocations(cat)
	if err := h.shopify.SetLocationActive(second, false); err != nil {
		t.Fatal(err)
	}
	h.webhook() // locations/update: every item
	h.sync()
	if got := h.tiktokQuantity(a.TikTokID, h.main); got != 8 {
		t.Errorf("SKU a once a location is deactivated = %d, want 8 (80%% of the other's 10)", got)
	}
}

// TestSyncShopReauthorize: TikTok refusing the refresh token blocks the
// shop's sync, its items kept pending, until new tokens are stored.
func TestSyncShopReauthorize(t *testing.T) {
	cat := generate(t, 4, 2, 2)
	h := newSyncHarness(t, cat, false)
	a := cat.Links[3]
	h.stock(a, 10)
	cause := h.webhook(a)
	h.tiktok.ExpireAccessTokens()
	h.tiktok.RevokeRefreshTokens()
	if _, err := h.svc.SyncShop(context.Background(), shopID); !errors.Is(err, shop.ErrSyncBlocked) || !strings.Contains(err.Error(), "authorise") {
		t.Fatalf("SyncShop with a revoked refresh token: %v, want ErrSyncBlocked saying to authorise again", err)
	}
	pending, err := h.store.PendingItems(context.Background(), shopID, 0)
	if err != nil || !slices.ContainsFunc(pending, func(p shop.PendingItem) bool { return p.Cause == cause }) {
		t.Errorf("pending = %v, %v; want the webhook's item kept", pending, err)
	}
}
