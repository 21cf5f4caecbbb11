package shop_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/syncrules/syncrules/host/internal/auth"
	"github.com/syncrules/syncrules/host/internal/compute"
	"github.com/syncrules/syncrules/host/internal/fakes"
	"github.com/syncrules/syncrules/host/internal/shop"
)

// lastEntry is the newest history entry of a SKU in a warehouse.
func (h *syncHarness) lastEntry(sku, warehouse string) shop.HistoryEntry {
	h.t.Helper()
	list, _, err := h.svc.SyncHistoryPage(context.Background(), shop.Operator, shopID, shop.HistoryFilter{SKUID: sku}, 0, 100)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, e := range list {
		if e.WarehouseID == warehouse {
			return e
		}
	}
	h.t.Fatalf("no history of SKU %s in %s", sku, warehouse)
	return shop.HistoryEntry{}
}

// TestSyncHistoryRecordsWhatRan: a publication's entry records the
// modules that ran, the item's trace, what the rules computed for every
// warehouse, and TikTok's request id; so does a refused SKU's.
func TestSyncHistoryRecordsWhatRan(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testSyncHistoryRecordsWhatRan(t, false) })
	t.Run("postgres", func(t *testing.T) { testSyncHistoryRecordsWhatRan(t, true) })
}

func testSyncHistoryRecordsWhatRan(t *testing.T, postgres bool) {
	cat := generate(t, 4, 2, 2)
	h := newSyncHarness(t, cat, postgres)
	a := singleWarehouse(cat)[1]
	h.stock(a, 10)
	cause := h.webhook(a)
	h.sync()

	e := h.lastEntry(a.TikTokID, h.main)
	if e.Outcome != shop.OutcomePublished || e.Cause != cause || e.RequestID == "" {
		t.Errorf("entry = %+v, want published, caused by %s, with TikTok's request id", e, cause)
	}
	var mods []compute.ModuleRun
	if err := json.Unmarshal(e.Modules, &mods); err != nil || len(mods) != 1 || mods[0].Name != compute.DefaultRuleName {
		t.Errorf("modules = %s (%v), want the default rule alone", e.Modules, err)
	}
	var trace []struct {
		Stage      string         `json:"stage"`
		Quantities map[string]int `json:"quantities"`
	}
	if err := json.Unmarshal(e.Trace, &trace); err != nil || len(trace) != 1 || trace[0].Stage != compute.DefaultRuleName || trace[0].Quantities[h.main] != 8 {
		t.Errorf("trace = %s (%v), want the default rule's stage giving 8 in %s", e.Trace, err, h.main)
	}
	if e.Computed[h.main] != 8 {
		t.Errorf("computed = %v, want 8 in %s", e.Computed, h.main)
	}
	var in struct {
		Locations  []shop.Location  `json:"locations"`
		Warehouses []shop.Warehouse `json:"warehouses"`
	}
	if err := json.Unmarshal(e.Inputs, &in); err != nil || len(in.Locations) == 0 || len(in.Warehouses) == 0 {
		t.Errorf("inputs = %s (%v), want the shop's locations and warehouses", e.Inputs, err)
	}

	if err := h.tiktok.InjectFault(fakes.Fault{Path: "/inventory/update", SKUID: a.TikTokID, Code: 12052109, Message: "over the limit"}); err != nil {
		t.Fatal(err)
	}
	h.stock(a, 20)
	h.webhook(a)
	h.sync()
	if f := h.lastEntry(a.TikTokID, h.main); f.Outcome != shop.OutcomeFailed || f.RequestID == "" || f.Computed[h.main] != 16 {
		t.Errorf("refused entry = %+v, want failed with TikTok's request id, 16 computed", f)
	}
}

// TestSyncHistoryPages: pages come newest first and say whether more
// follow; another shop's token sees no shop.
func TestSyncHistoryPages(t *testing.T) {
	cat := generate(t, 4, 2, 2)
	h := newSyncHarness(t, cat, false)
	ctx := context.Background()
	all, more, err := h.svc.SyncHistoryPage(ctx, shop.Operator, shopID, shop.HistoryFilter{}, 0, 1000)
	if err != nil || more || len(all) < 3 {
		t.Fatalf("history = %d entries, more %v, %v; want at least 3, no more", len(all), more, err)
	}
	page, more, err := h.svc.SyncHistoryPage(ctx, shop.Operator, shopID, shop.HistoryFilter{}, 0, 2)
	if err != nil || !more || len(page) != 2 || page[0].ID != all[0].ID || page[0].ID <= page[1].ID {
		t.Errorf("first page = %+v, more %v, %v; want the 2 newest, more", page, more, err)
	}
	page, more, err = h.svc.SyncHistoryPage(ctx, shop.Operator, shopID, shop.HistoryFilter{}, all[len(all)-2].ID, 2)
	if err != nil || more || len(page) != 1 || page[0].ID != all[len(all)-1].ID {
		t.Errorf("last page = %+v, more %v, %v; want the oldest alone", page, more, err)
	}
	if _, _, err := h.svc.SyncHistoryPage(ctx, otherShopToken(), shopID, shop.HistoryFilter{}, 0, 2); !isCode(err, shop.NotFound) {
		t.Errorf("another shop's token: %v, want not found", err)
	}
}

// TestSyncItemReport: the report of a linked variant has its levels as
// Shopify has them now, the rule's quantities with the trace, the
// quantity TikTok accepted and its recent history; with Shopify
// unreachable, the levels are the sync's last read, and say so.
func TestSyncItemReport(t *testing.T) {
	cat := generate(t, 4, 2, 2)
	h := newSyncHarness(t, cat, false)
	ctx := context.Background()
	a := singleWarehouse(cat)[1]
	h.stock(a, 10)
	h.webhook(a)
	h.sync()
	// Shopify changes, and the webhook has not arrived yet.
	if err := h.shopify.SetAvailable(a.InventoryItemID, h.loc, 5); err != nil {
		t.Fatal(err)
	}
	variant := "gid://shopify/ProductVariant/" + a.VariantID
	r, err := h.svc.SyncItem(ctx, shop.Operator, shopID, variant)
	if err != nil {
		t.Fatal(err)
	}
	if r.SKUID != a.TikTokID || !slices.Equal(r.Warehouses, []string{h.main}) {
		t.Errorf("SKU %s in %v, want %s in %s", r.SKUID, r.Warehouses, a.TikTokID, h.main)
	}
	if r.Levels.Source != shop.LevelsFromShopify || r.Levels.Available[h.loc] != 5 {
		t.Errorf("levels = %+v, want 5 at %s read now from Shopify", r.Levels, h.loc)
	}
	if r.Computed.Quantities[h.main] != 4 || r.Computed.Error != "" || !strings.Contains(string(r.Computed.Trace), `"default"`) {
		t.Errorf("computed = %+v, want 4 (80%% of 5) in %s with the default rule's trace", r.Computed, h.main)
	}
	if p := r.Published[h.main]; p.Quantity != 8 || p.Time.IsZero() {
		t.Errorf("published = %+v, want 8 in %s, with its time", r.Published, h.main)
	}
	if len(r.History) == 0 || r.History[0].SKUID != a.TikTokID || r.History[0].Quantity != 8 || r.Failure != nil {
		t.Errorf("history = %+v, failure %+v; want the publication of 8 first, no failure", r.History, r.Failure)
	}

	h.shopify.Close()
	r, err = h.svc.SyncItem(ctx, shop.Operator, shopID, variant)
	if err != nil {
		t.Fatal(err)
	}
	if r.Levels.Source != shop.LevelsFromSync || r.Levels.Available[h.loc] != 10 || r.Levels.ShopifyError == "" || r.Computed.Quantities[h.main] != 8 {
		t.Errorf("with Shopify unreachable: levels %+v, computed %+v; want the sync's last read (10), why, and 8 computed", r.Levels, r.Computed)
	}
	if _, err := h.svc.SyncItem(ctx, shop.Operator, shopID, "gid://shopify/ProductVariant/0"); !isCode(err, shop.NotFound) {
		t.Errorf("no such variant: %v, want not found", err)
	}
}

// TestReplayHistory: a recorded publication replays identical, even
// after the settings changed (the entry's version is used); an entry
// whose stored inputs were changed does not; an entry whose module's
// sha256 is not the installed one is refused, naming the module.
func TestReplayHistory(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testReplayHistory(t, false) })
	t.Run("postgres", func(t *testing.T) { testReplayHistory(t, true) })
}

func testReplayHistory(t *testing.T, postgres bool) {
	cat := generate(t, 4, 2, 2)
	h := newSyncHarness(t, cat, postgres)
	ctx := context.Background()
	a := singleWarehouse(cat)[1]
	h.stock(a, 10)
	h.webhook(a)
	h.sync()
	e := h.lastEntry(a.TikTokID, h.main)
	// New settings since: the replay uses the entry's version.
	if _, err := h.svc.PutSettings(ctx, shop.Operator, shopID, &compute.Settings{Percentage: compute.NumberOf("50"),
		Mappings: []compute.Mapping{{Location: compute.AllLocations, Warehouse: h.main}}}, nil); err != nil {
		t.Fatal(err)
	}

	r, err := h.svc.ReplayHistory(ctx, shop.Operator, shopID, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Identical || !r.TraceIdentical || r.Replayed.Quantities[h.main] != 8 || !maps.Equal(r.Recorded.Quantities, r.Replayed.Quantities) {
		t.Errorf("replay = %+v, want identical: 8 in %s", r, h.main)
	}

	db := h.store.DB()
	tampered := strings.Replace(string(e.Inputs), `":10`, `":20`, 1)
	if tampered == string(e.Inputs) {
		t.Fatalf("inputs %s have no level 10 to change", e.Inputs)
	}
	if _, err := db.ExecContext(ctx, `UPDATE sync_history SET inputs = $1 WHERE id = $2`, tampered, e.ID); err != nil {
		t.Fatal(err)
	}
	r, err = h.svc.ReplayHistory(ctx, shop.Operator, shopID, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Identical || r.Replayed.Quantities[h.main] != 16 || r.Recorded.Quantities[h.main] != 8 {
		t.Errorf("replay of tampered inputs = %+v, want not identical: 8 recorded, 16 replayed", r)
	}

	if _, err := db.ExecContext(ctx, `UPDATE sync_history SET modules = $1 WHERE id = $2`, `[{"name":"default","sha256":"00ff"}]`, e.ID); err != nil {
		t.Fatal(err)
	}
	_, err = h.svc.ReplayHistory(ctx, shop.Operator, shopID, e.ID)
	var se *shop.Error
	if !errors.As(err, &se) || se.Code != shop.Conflict || !strings.Contains(se.Message, "default ran with sha256 00ff") {
		t.Errorf("replay with another default rule: %v, want a conflict naming the default rule's sha256", err)
	}
	if _, err := h.svc.ReplayHistory(ctx, shop.Operator, shopID, e.ID+1000); !isCode(err, shop.NotFound) {
		t.Errorf("replay of no entry: %v, want not found", err)
	}
	if _, err := h.svc.ReplayHistory(ctx, otherShopToken(), shopID, e.ID); !isCode(err, shop.NotFound) {
		t.Errorf("replay with another shop's token: %v, want not found", err)
	}
}

// otherShopToken is a token of another shop.
func otherShopToken() auth.Principal {
	return auth.Principal{TokenID: "t-other", Scopes: []auth.Scope{{Kind: auth.KindShop, Name: "other"}}}
}

// isCode reports whether err is a *shop.Error of code.
func isCode(err error, code shop.Code) bool {
	var se *shop.Error
	return errors.As(err, &se) && se.Code == code
}
