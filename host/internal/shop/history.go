package shop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/syncrules/syncrules/host/internal/auth"
	"github.com/syncrules/syncrules/host/internal/compute"
	"github.com/syncrules/syncrules/host/internal/shopify"
)

// The sync's history as the API shows it: pages of it, the story of one
// variant ("why is this number what it is"), and the replay of an entry
// from its stored inputs.

// HistoryFilter narrows a page of history; zero fields do not filter.
type HistoryFilter struct {
	SKUID string
	Cause string
	Since time.Time // entries at or after it
}

// PublishedQuantity is a quantity TikTok accepted, and when.
type PublishedQuantity struct {
	Quantity int       `json:"quantity"`
	Time     time.Time `json:"time"`
}

// HistoryStore is the part of Store the history's API reads.
type HistoryStore interface {
	// SyncHistoryPage returns at most limit entries passing f, newest
	// first, with ids below before (0: from the newest).
	SyncHistoryPage(ctx context.Context, shop string, f HistoryFilter, before int64, limit int) ([]HistoryEntry, error)
	// SyncHistoryEntry returns one entry, found false if the shop has
	// none of that id.
	SyncHistoryEntry(ctx context.Context, shop string, id int64) (e HistoryEntry, found bool, err error)
	// PublishedAt returns the quantities last published for the SKUs
	// given, with when TikTok accepted each.
	PublishedAt(ctx context.Context, shop string, skus []string) (map[PublishKey]PublishedQuantity, error)
	// CatalogVariant returns one variant with its link, found false if
	// the shop has none of that id.
	CatalogVariant(ctx context.Context, shop, variant string) (v Variant, found bool, err error)
}

// RecentHistory is how many entries GET .../sync/items/{variant} shows.
const RecentHistory = 20

// item is the compute item the sync builds from an item's inputs.
func (in syncInput) item(id string) compute.Item {
	item := compute.Item{ID: id, ProductID: in.ProductID, SKU: in.SKU, Tags: in.Tags,
		Tracked: compute.Flag{Set: true, Value: in.Tracked}, ContinueSelling: in.ContinueSelling}
	for _, loc := range slices.Sorted(maps.Keys(in.Available)) {
		item.Available = append(item.Available, compute.StockEntry{Location: loc, Quantity: compute.NumberOf(strconv.Itoa(in.Available[loc]))})
	}
	return item
}

// traceJSON encodes an item's trace; its types encode with the JSON
// package compute uses.
func traceJSON(trace []compute.Stage) json.RawMessage {
	if len(trace) == 0 {
		return json.RawMessage("[]")
	}
	b, err := jsonv2.Marshal(trace)
	if err != nil {
		return json.RawMessage("[]")
	}
	return b
}

// quantitiesMap is an item's computed quantities by warehouse.
func quantitiesMap(q compute.Quantities) map[string]int {
	out := map[string]int{}
	for wh, v := range q.All() {
		out[wh] = int(v)
	}
	return out
}

// SyncHistoryPage returns at most limit entries of the shop's sync
// history passing f, newest first, with ids below before (0: from the
// newest), and whether more follow. Admins and the shop may.
func (s *Service) SyncHistoryPage(ctx context.Context, p auth.Principal, shopID string, f HistoryFilter, before int64, limit int) ([]HistoryEntry, bool, error) {
	if err := CheckShop(p, shopID); err != nil {
		return nil, false, err
	}
	limit = pageSize(limit, DefaultPageSize, MaxPageSize)
	list, err := s.store.SyncHistoryPage(ctx, shopID, f, before, limit+1)
	if err != nil {
		return nil, false, storeError(shopID, err)
	}
	more := len(list) > limit
	return list[:min(limit, len(list))], more, nil
}

// ItemReport is what GET .../sync/items/{variant} answers: why the
// variant's TikTok quantity is what it is.
type ItemReport struct {
	Variant Variant `json:"variant"`
	// SKUID and ProductID are the linked TikTok SKU's; Warehouses are
	// those it is stocked in.
	SKUID      string       `json:"sku_id,omitempty"`
	Warehouses []string     `json:"warehouses"`
	Levels     ItemLevels   `json:"levels"`
	Computed   ItemComputed `json:"computed"`
	// Published are the quantities TikTok last accepted, by warehouse.
	Published map[string]PublishedQuantity `json:"published"`
	// ReadBack are the quantities the last reconciliation read back from
	// TikTok, by warehouse.
	ReadBack map[string]PublishedQuantity `json:"read_back"`
	// Failure is the SKU's last refused push, if it is failed.
	Failure *ItemFailure `json:"failure"`
	// History is the SKU's most recent entries, newest first.
	History []HistoryEntry `json:"history"`
}

// ItemFailure is why TikTok refused a SKU's last push.
type ItemFailure struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
}

// Where ItemLevels come from.
const (
	LevelsFromShopify = "shopify"     // read now
	LevelsFromSync    = "last_sync"   // Shopify unreachable: the sync's last read
	LevelsFromCatalog = "catalog"     // Shopify unreachable, never synced: the connect's import
	LevelsUnavailable = "unavailable" // none of them
)

// ItemLevels are the variant's Shopify levels and flags, and where they
// come from.
type ItemLevels struct {
	Source string `json:"source"`
	// Time is when they were read.
	Time            time.Time      `json:"time"`
	Available       map[string]int `json:"available"`
	Tracked         bool           `json:"tracked"`
	ContinueSelling bool           `json:"continue_selling"`
	// ShopifyError says why Shopify could not be read now.
	ShopifyError string `json:"shopify_error,omitempty"`
}

// ItemComputed is what the shop's current settings compute from Levels.
type ItemComputed struct {
	SettingsVersion int64               `json:"settings_version"`
	Quantities      map[string]int      `json:"quantities"`
	Trace           json.RawMessage     `json:"trace"`
	Modules         []compute.ModuleRun `json:"modules"`
	// Error says why nothing was computed: no settings, the rules failed
	// the item, the settings no longer validate.
	Error string `json:"error,omitempty"`
}

// shopifyReadTimeout bounds the item report's read of Shopify: past it,
// the report shows the last levels read.
const shopifyReadTimeout = 5 * time.Second

// SyncItem answers why a variant's TikTok quantity is what it is. Admins
// and the shop may.
func (s *Service) SyncItem(ctx context.Context, p auth.Principal, shopID, variantID string) (ItemReport, error) {
	if err := CheckShop(p, shopID); err != nil {
		return ItemReport{}, err
	}
	sh, stored, err := s.store.ShopSettings(ctx, shopID)
	if err != nil {
		return ItemReport{}, storeError(shopID, err)
	}
	v, found, err := s.store.CatalogVariant(ctx, shopID, variantID)
	if err == nil && !found && isDigits(variantID) {
		// A Shopify id cannot sit in a URL path whole (its slashes): its
		// number stands for it.
		v, found, err = s.store.CatalogVariant(ctx, shopID, variantGIDPrefix+variantID)
	}
	switch {
	case err != nil:
		return ItemReport{}, storeError(shopID, err)
	case !found:
		return ItemReport{}, Errorf(NotFound, "Shop %q has no variant %q in its catalog; connect the shop to import it (GET /v1/shops/%s/sync/items lists them).", shopID, variantID, shopID)
	}
	r := ItemReport{Variant: v, Warehouses: []string{}, Published: map[string]PublishedQuantity{},
		ReadBack: map[string]PublishedQuantity{}, History: []HistoryEntry{}}
	in := syncInput{InventoryItemID: v.InventoryItemID, VariantID: v.ID, ProductID: v.ProductID, SKU: v.SKU, Tags: v.Tags,
		Locations: sh.Locations, Warehouses: sh.Warehouses}
	if v.Link.Status == LinkLinked {
		r.SKUID = v.Link.SKUID
		targets, err := s.store.SyncTargets(ctx, shopID, []string{v.InventoryItemID})
		if err != nil {
			return ItemReport{}, storeError(shopID, err)
		}
		for _, t := range targets {
			if t.Variant.ID == v.ID {
				r.Warehouses = t.Warehouses
			}
		}
		if r.Published, err = s.publishedOf(ctx, shopID, r.SKUID); err != nil {
			return ItemReport{}, err
		}
		// TODO(read back): fill r.ReadBack from the store's
		// LastReadBack(ctx, shop, skuIDs) once the reconciliation adds it.
		failures, err := s.store.SyncFailures(ctx, shopID)
		if err != nil {
			return ItemReport{}, storeError(shopID, err)
		}
		if i := slices.IndexFunc(failures, func(f SKUFailure) bool { return f.SKUID == r.SKUID }); i >= 0 {
			f := failures[i]
			r.Failure = &ItemFailure{Code: f.Code, Message: f.Message, RequestID: f.RequestID}
		}
		hist, err := s.store.SyncHistoryPage(ctx, shopID, HistoryFilter{SKUID: r.SKUID}, 0, RecentHistory)
		if err != nil {
			return ItemReport{}, storeError(shopID, err)
		}
		r.History = hist
	}
	r.Levels = s.itemLevels(ctx, sh, v, r.History)
	in.Available, in.Tracked, in.ContinueSelling = r.Levels.Available, r.Levels.Tracked, r.Levels.ContinueSelling
	r.Computed = s.computeItem(ctx, shopID, stored, in)
	return r, nil
}

// variantGIDPrefix begins the global id of a Shopify variant.
const variantGIDPrefix = "gid://shopify/ProductVariant/"

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

func (s *Service) publishedOf(ctx context.Context, shopID, skuID string) (map[string]PublishedQuantity, error) {
	got, err := s.store.PublishedAt(ctx, shopID, []string{skuID})
	if err != nil {
		return nil, storeError(shopID, err)
	}
	out := map[string]PublishedQuantity{}
	for k, q := range got {
		out[k.WarehouseID] = q
	}
	return out, nil
}

// itemLevels reads the variant's levels from Shopify now; if Shopify
// cannot be read, they are the sync's last read (the newest history
// entry's inputs), else the connect's import.
func (s *Service) itemLevels(ctx context.Context, sh Shop, v Variant, hist []HistoryEntry) ItemLevels {
	l := ItemLevels{Available: map[string]int{}}
	read := func() error {
		if !sh.Connected {
			return errors.New("the shop is not connected")
		}
		clients, err := s.syncClients(ctx, sh)
		if err != nil {
			return err
		}
		rctx, cancel := context.WithTimeout(ctx, shopifyReadTimeout)
		defer cancel()
		levels, err := clients.shopify.InventoryLevels(rctx, []string{v.InventoryItemID})
		if err != nil {
			return err
		}
		l.Source, l.Time = LevelsFromShopify, time.Now().UTC()
		l.Tracked, l.ContinueSelling = true, false // deleted since: no stock to sell
		for _, got := range levels {
			if got.InventoryItemID == v.InventoryItemID {
				l.Available, l.Tracked = got.Available, got.Tracked
				l.ContinueSelling = got.InventoryPolicy == shopify.PolicyContinue
			}
		}
		return nil
	}
	err := read()
	if err == nil {
		return l
	}
	l.ShopifyError = err.Error()
	for _, h := range hist {
		var in syncInput
		if json.Unmarshal(h.Inputs, &in) == nil && in.VariantID == v.ID {
			l.Source, l.Time = LevelsFromSync, h.Time
			l.Available, l.Tracked, l.ContinueSelling = in.Available, in.Tracked, in.ContinueSelling
			return l
		}
	}
	l.Source = LevelsFromCatalog
	l.Available, l.Tracked = v.Available, v.Tracked
	l.ContinueSelling = v.InventoryPolicy == string(shopify.PolicyContinue)
	if l.Available == nil {
		l.Available = map[string]int{}
	}
	return l
}

// computeItem computes one item's inputs with stored settings, explaining.
func (s *Service) computeItem(ctx context.Context, shopID string, stored StoredSettings, in syncInput) ItemComputed {
	c := ItemComputed{SettingsVersion: stored.Version, Quantities: map[string]int{}, Trace: json.RawMessage("[]"), Modules: []compute.ModuleRun{}}
	if stored.Version == 0 {
		c.Error = "the shop has no settings: nothing is computed or published until they are saved (PUT /v1/shops/" + shopID + "/settings)"
		return c
	}
	settings, err := DecodeSettings(stored.Doc)
	if err != nil {
		c.Error = err.Error()
		return c
	}
	res, mods, err := s.computeInputs(ctx, shopID, settings, in, compute.Interactive)
	if err != nil {
		c.Error = err.Error()
		return c
	}
	c.Modules, c.Trace = mods, traceJSON(res.Trace)
	if res.Error != nil {
		c.Error = fmt.Sprintf("the rule %s failed the item (%s): %s", res.Error.Rule, res.Error.Code, res.Error.Detail)
		return c
	}
	c.Quantities = quantitiesMap(res.Quantities)
	return c
}

// computeInputs computes one item from its recorded inputs, explaining.
func (s *Service) computeInputs(ctx context.Context, shopID string, settings *compute.Settings, in syncInput, class compute.Class) (compute.ItemResult, []compute.ModuleRun, error) {
	req := computeRequest(Shop{Locations: in.Locations, Warehouses: in.Warehouses})
	req.Settings, req.Items = settings, []compute.Item{in.item("0")}
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	resp, err := s.compute.Compute(cctx, req, compute.Options{Tenant: shopTenant(shopID), Class: class, Explain: true})
	if err != nil {
		return compute.ItemResult{}, nil, err
	}
	return resp.Items[0], resp.Modules, nil
}

// Replay is an entry's result computed again from its stored inputs.
type Replay struct {
	Entry HistoryEntry `json:"entry"`
	// Identical: the replay computed the recorded quantities for every
	// warehouse of the item (or failed it as the record says).
	Identical bool `json:"identical"`
	// TraceIdentical: the traces are the same too. A trace may differ
	// where the batch cut a plugin's notes that one item alone keeps.
	TraceIdentical bool         `json:"trace_identical"`
	Recorded       ReplayResult `json:"recorded"`
	Replayed       ReplayResult `json:"replayed"`
}

// ReplayResult is one side of a replay.
type ReplayResult struct {
	Quantities map[string]int      `json:"quantities"`
	Trace      json.RawMessage     `json:"trace"`
	Modules    []compute.ModuleRun `json:"modules"`
}

// ReplayHistory recomputes the history entry id of the shop from its
// stored inputs, with the settings version and modules that computed it.
// Conflict if that settings version or a module's bytes are no longer
// installed, or the entry predates what a replay needs. Admins and the
// shop may.
func (s *Service) ReplayHistory(ctx context.Context, p auth.Principal, shopID string, id int64) (Replay, error) {
	if err := CheckShop(p, shopID); err != nil {
		return Replay{}, err
	}
	e, found, err := s.store.SyncHistoryEntry(ctx, shopID, id)
	switch {
	case err != nil:
		return Replay{}, storeError(shopID, err)
	case !found:
		return Replay{}, Errorf(NotFound, "Shop %q has no sync history entry %d (GET /v1/shops/%s/sync/history lists them).", shopID, id, shopID)
	}
	var in syncInput
	var recordedMods []compute.ModuleRun
	if json.Unmarshal(e.Inputs, &in) != nil || in.Locations == nil || json.Unmarshal(e.Modules, &recordedMods) != nil ||
		len(recordedMods) == 0 || recordedMods[0].Name != compute.DefaultRuleName {
		return Replay{}, Errorf(Conflict, "Entry %d was recorded before the history kept what a replay needs (the shop's locations and warehouses, the modules' sha256); it cannot be replayed.", id)
	}
	versions, err := s.store.SettingsHistory(ctx, shopID, e.SettingsVersion+1, 1)
	if err != nil {
		return Replay{}, storeError(shopID, err)
	}
	if len(versions) == 0 || versions[0].Version != e.SettingsVersion {
		return Replay{}, Errorf(Conflict, "Entry %d was computed with settings version %d, which is no longer stored; it cannot be replayed.", id, e.SettingsVersion)
	}
	settings, err := DecodeSettings(versions[0].Doc)
	if err != nil {
		return Replay{}, err
	}
	res, mods, err := s.computeInputs(ctx, shopID, settings, in, compute.Interactive)
	var inputErr *compute.InputError
	switch {
	case errors.As(err, &inputErr):
		// The stored settings validated when they ran: what fails now
		// is a plugin version no longer installed.
		return Replay{}, &Error{Code: Conflict, Message: fmt.Sprintf("Entry %d cannot be replayed: its settings (version %d) no longer validate, "+
			"most likely because a plugin version it ran is no longer installed (%s).", id, e.SettingsVersion, moduleList(recordedMods)), Err: err}
	case err != nil:
		return Replay{}, err
	}
	if changed := changedModules(recordedMods, mods); changed != "" {
		return Replay{}, Errorf(Conflict, "Entry %d cannot be replayed with the modules that computed it: %s.", id, changed)
	}
	out := Replay{Entry: e,
		Recorded: ReplayResult{Quantities: e.Computed, Trace: e.Trace, Modules: recordedMods},
		Replayed: ReplayResult{Quantities: map[string]int{}, Trace: traceJSON(res.Trace), Modules: mods}}
	if out.Recorded.Quantities == nil {
		out.Recorded.Quantities = map[string]int{}
	}
	if res.Error == nil {
		out.Replayed.Quantities = quantitiesMap(res.Quantities)
	}
	// An item the rules failed has no quantities: the replay must fail
	// it too.
	out.Identical = maps.Equal(out.Recorded.Quantities, out.Replayed.Quantities) && traceFailed(e.Trace) == (res.Error != nil)
	out.TraceIdentical = bytes.Equal(compactJSON(out.Recorded.Trace), compactJSON(out.Replayed.Trace))
	return out, nil
}

// changedModules says which recorded module is no longer installed with
// the same bytes, "" if none.
func changedModules(recorded, now []compute.ModuleRun) string {
	var diffs []string
	for i, r := range recorded {
		name := r.Name
		if r.Version != "" {
			name += "@" + r.Version
		}
		switch {
		case i >= len(now) || now[i].Name != r.Name || now[i].Version != r.Version:
			diffs = append(diffs, name+" did not run")
		case now[i].SHA256 != r.SHA256:
			diffs = append(diffs, fmt.Sprintf("%s ran with sha256 %s, and is installed now with sha256 %s", name, r.SHA256, now[i].SHA256))
		}
	}
	return strings.Join(diffs, "; ")
}

// moduleList names the plugin versions of a record.
func moduleList(mods []compute.ModuleRun) string {
	var names []string
	for _, m := range mods[1:] {
		names = append(names, m.Name+"@"+m.Version+" sha256 "+m.SHA256)
	}
	if len(names) == 0 {
		return "no plugin ran"
	}
	return strings.Join(names, ", ")
}

// traceStage is what traceFailed reads of a recorded stage.
type traceStage struct {
	Error   json.RawMessage `json:"error"`
	Skipped bool            `json:"skipped"`
}

// traceFailed reports whether a recorded trace has a stage that failed
// the item (not one skipped on its error).
func traceFailed(trace json.RawMessage) bool {
	var stages []traceStage
	if json.Unmarshal(trace, &stages) != nil {
		return false
	}
	return slices.ContainsFunc(stages, func(st traceStage) bool {
		return len(st.Error) > 0 && string(st.Error) != "null" && !st.Skipped
	})
}

func compactJSON(b json.RawMessage) []byte {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return b
	}
	return buf.Bytes()
}
