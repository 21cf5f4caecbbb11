package shop

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/syncrules/syncrules/host/internal/auth"
	"github.com/syncrules/syncrules/host/internal/compute"
	"github.com/syncrules/syncrules/host/internal/shopify"
	"github.com/syncrules/syncrules/host/internal/tiktok"
)

// A shop's sync publishes the rule's output to TikTok Shop. Each call of
// SyncShop takes a batch of the shop's pending inventory items, reads their
// levels from Shopify (the webhooks only said what changed), computes them
// through the shop's settings and plugin chain, and sends TikTok the
// quantities that differ from those it last accepted, one product per
// call, every product with a decrease before any other. A quantity is
// recorded as published only once TikTok accepted it; every publication
// and refusal is written to the shop's sync history.

// SyncBatch is how many pending items one SyncShop call takes: Shopify's
// nodes query reads at most 250 ids.
const SyncBatch = 250

// The outcomes of a sync history entry.
const (
	OutcomePublished = "published" // TikTok accepted the quantity
	OutcomeFailed    = "failed"    // TikTok refused the SKU; the published quantity is kept
	OutcomeRefused   = "refused"   // the sync did not send it: the entry's error says why
	// OutcomeAlreadyThere: TikTok already showed the quantity (imported at
	// connect, or read back); it is recorded as published without a call.
	OutcomeAlreadyThere = "already_there"
)

// CauseConnect is the cause of a publication after a connect, which may
// have linked new SKUs.
const CauseConnect = "connect"

// settingsCause is the cause of a publication after a settings change.
func settingsCause(version int64) string { return "settings:" + strconv.FormatInt(version, 10) }

// CauseResync is the cause of a publication that no webhook caused: every
// item of the shop was read again.
const CauseResync = "resync"

// PublishKey names a published quantity: a TikTok SKU in a warehouse.
type PublishKey struct{ SKUID, WarehouseID string }

// SyncTarget is a linked variant as the sync needs it: the catalog's
// variant with its TikTok SKU, the warehouses that SKU is stocked in and
// their quantities as imported.
type SyncTarget struct {
	Variant   Variant
	SKUID     string
	ProductID string // the TikTok product
	// Warehouses are every warehouse of the SKU: an update must list
	// them all.
	Warehouses []string
	// Quantities are TikTok's, by warehouse, as the last connect read
	// them.
	Quantities map[string]int
}

// SKUFailure is a SKU whose last push TikTok refused.
type SKUFailure struct {
	SKUID, Code, Message, RequestID string
}

// HistoryEntry is one publication or refusal of a quantity.
type HistoryEntry struct {
	ID          int64     `json:"id"`
	Time        time.Time `json:"time"` // set by the store when zero
	SKUID       string    `json:"sku_id"`
	WarehouseID string    `json:"warehouse_id"`
	// Previous is the quantity published before; nil if none was. For
	// cause CauseReconcile, it is the quantity TikTok showed.
	Previous *int   `json:"previous"`
	Quantity int    `json:"quantity"`
	Outcome  string `json:"outcome"`
	// Cause is the webhook id that left the item pending, settings:N,
	// CauseResync, CauseConnect or a reconciliation's.
	Cause string `json:"cause"`
	// Inputs are the item's levels and flags as read, with the shop's
	// locations and warehouses then, in JSON (syncInput).
	Inputs          json.RawMessage `json:"inputs"`
	SettingsVersion int64           `json:"settings_version"`
	// Modules are the modules that ran, default rule first, in JSON:
	// [{name, version, sha256}] (compute.ModuleRun).
	Modules json.RawMessage `json:"modules"`
	// Trace is the item's trace through the rules (compute with
	// explain), in JSON.
	Trace json.RawMessage `json:"trace"`
	// Computed are the quantities the rules computed for the item, by
	// warehouse; empty if the rules failed it.
	Computed map[string]int `json:"computed"`
	// RequestID is TikTok's request id of the call, accepted or refused.
	RequestID string `json:"request_id"`
	ErrorCode string `json:"error_code"`
	ErrorMsg  string `json:"error_message"`
}

// Publication is what one TikTok call (or a refusal to make one) leaves
// to record, in one store transaction.
type Publication struct {
	// Accepted are the quantities TikTok accepted: each replaces the
	// published one, and clears its SKU's failure.
	Accepted map[PublishKey]int
	// Failed are the SKUs TikTok refused: their published quantities stay.
	Failed  []SKUFailure
	History []HistoryEntry
}

// PublishStore is the part of Store the sync writes its publications to.
type PublishStore interface {
	// SyncTargets returns the linked variants of the shop whose inventory
	// items are among those given, with their SKUs.
	SyncTargets(ctx context.Context, shop string, items []string) ([]SyncTarget, error)
	// ExpandAllPending replaces the pending item AllItems, if its seq is
	// still all's, by the inventory items of every linked variant of the
	// shop, with its cause; items already pending stay as they are.
	ExpandAllPending(ctx context.Context, shop string, all PendingItem) error
	// Published returns the quantities last published for the SKUs given.
	Published(ctx context.Context, shop string, skus []string) (map[PublishKey]int, error)
	// SyncFailures returns the SKUs of the shop whose last push failed.
	SyncFailures(ctx context.Context, shop string) ([]SKUFailure, error)
	// MarkAllPending leaves every item of the shop pending (AllItems) with
	// the cause given, and calls enqueue, unless nil, in the same
	// transaction, as RecordWebhook does.
	MarkAllPending(ctx context.Context, shop, cause string, enqueue func(ctx context.Context, tx any) error) error
	// RecordPublication records p in one transaction.
	RecordPublication(ctx context.Context, shop string, p Publication) error
	// SyncHistory returns at most limit entries of the shop's history
	// after the id given (0: from the first), oldest first.
	SyncHistory(ctx context.Context, shop string, after int64, limit int) ([]HistoryEntry, error)
	HistoryStore
}

// syncInput is an item's inputs as the history records them.
type syncInput struct {
	InventoryItemID string         `json:"inventory_item_id"`
	VariantID       string         `json:"variant_id"`
	Available       map[string]int `json:"available"`
	Tracked         bool           `json:"tracked"`
	ContinueSelling bool           `json:"continue_selling"`
	// Deleted: Shopify no longer has the item; it counts as no stock.
	Deleted bool `json:"deleted,omitempty"`
	// What else the rules saw, so that a replay computes the same: the
	// item's product, SKU and tags, and the shop's locations and
	// warehouses as they were.
	ProductID  string      `json:"product_id,omitempty"`
	SKU        string      `json:"sku,omitempty"`
	Tags       []string    `json:"tags,omitempty"`
	Locations  []Location  `json:"locations"`
	Warehouses []Warehouse `json:"warehouses"`
}

// ErrSyncBlocked is the error of SyncShop for a shop that cannot publish:
// not connected, or without valid settings. Its items stay pending.
var ErrSyncBlocked = errors.New("the shop's sync is blocked")

// blocked is ErrSyncBlocked with its reason.
func blocked(shopID, reason string) error {
	return fmt.Errorf("shop %q: %w: %s", shopID, ErrSyncBlocked, reason)
}

// SyncShop publishes a batch of the shop's pending items to TikTok Shop
// and reports whether items remain pending. An error (Shopify or TikTok
// unreachable, the store failing) leaves the batch pending: the caller
// retries with backoff.
//
// A shop that is not connected, or whose settings are missing or broken,
// publishes nothing and keeps its items pending: the error wraps
// ErrSyncBlocked. It is an error, not "nothing more", because the queue
// completes a shop's job only once nothing is pending: the queue ends the
// job on it instead of spinning or retrying, and connecting, saving
// settings or storing credentials enqueues the shop again.
//
// A paused shop publishes nothing and reports nothing more: its items stay
// pending, and resuming it enqueues its job again.
func (s *Service) SyncShop(ctx context.Context, shopID string) (more bool, err error) {
	sh, stored, settings, err := s.syncSettings(ctx, shopID)
	switch {
	case errors.Is(err, ErrNotFound):
		return false, nil // deleted: its pending items went with it
	case err != nil && !errors.Is(err, ErrSyncBlocked):
		return false, err
	case sh.SyncPaused:
		return false, nil
	}
	defer func(read Shop) {
		// The queue ends the job of a shop found blocked, until a change
		// that may unblock it; a resync's or a settings change's run
		// shows how far it got.
		s.recordBlocked(ctx, read, err)
		s.trackRepublish(ctx, shopID, more, err)
	}(sh)
	if err != nil {
		return false, err
	}

	items, err := s.store.PendingItems(ctx, shopID, SyncBatch)
	if err != nil {
		return false, err
	}
	if i := slices.IndexFunc(items, func(p PendingItem) bool { return p.InventoryItemID == AllItems }); i >= 0 {
		// A location or warehouse may have changed (a locations webhook):
		// read them again before computing with them.
		if sh, stored, err = s.refreshConnection(ctx, sh); err != nil {
			return false, reauthorizeBlocked(shopID, err)
		}
		if settings, err = DecodeSettings(stored.Doc); err != nil {
			return false, err
		}
		// Every linked item: pending one by one, the batches below take
		// them over as many calls as they need.
		if err := s.store.ExpandAllPending(ctx, shopID, items[i]); err != nil {
			return false, err
		}
		if items, err = s.store.PendingItems(ctx, shopID, SyncBatch); err != nil {
			return false, err
		}
	}
	if len(items) == 0 {
		return false, nil
	}

	p := &publisher{s: s, shop: sh, settings: settings, version: stored.Version, items: items}
	if err := p.run(ctx); err != nil {
		if p.refusedBySettings {
			return false, blocked(shopID, fmt.Sprintf("its settings (version %d) no longer validate: %v; its changes stay pending until they are fixed", stored.Version, err))
		}
		return false, reauthorizeBlocked(shopID, err)
	}
	// p.items: a full batch may leave its last product for the next one.
	if err := s.store.TakePending(ctx, shopID, p.items); err != nil {
		return false, err
	}
	left, err := s.store.PendingItems(ctx, shopID, 1)
	if err != nil {
		return false, err
	}
	return len(left) > 0, nil
}

// syncSettings returns a shop that can publish, with its settings: an
// error wrapping ErrSyncBlocked if it is not connected or has none, the
// store's ErrNotFound if it is gone. A blocked shop is returned too, as
// read: its sync records that it is blocked.
func (s *Service) syncSettings(ctx context.Context, shopID string) (Shop, StoredSettings, *compute.Settings, error) {
	sh, stored, err := s.store.ShopSettings(ctx, shopID)
	if err != nil {
		return Shop{}, StoredSettings{}, nil, err
	}
	if !sh.Connected {
		return sh, stored, nil, blocked(shopID, "it is not connected; its changes stay pending until it is (POST /v1/shops/"+shopID+"/sync/connect)")
	}
	if stored.Version == 0 {
		return sh, stored, nil, blocked(shopID, "it has no settings; its changes stay pending until settings are saved (PUT /v1/shops/"+shopID+"/settings)")
	}
	settings, err := DecodeSettings(stored.Doc)
	if err != nil {
		return Shop{}, StoredSettings{}, nil, err
	}
	return sh, stored, settings, nil
}

// reauthorizeBlocked is err, or ErrSyncBlocked saying what to do if it is
// TikTok's refusal of the refresh token.
func reauthorizeBlocked(shopID string, err error) error {
	if !errors.Is(err, tiktok.ErrReauthorize) {
		return err
	}
	return blocked(shopID, fmt.Sprintf("TikTok Shop refused the refresh token: the seller must authorise the app again, "+
		"then store the new tokens (PUT /v1/shops/%s/credentials); its changes stay pending meanwhile", shopID))
}

// publisher is one SyncShop batch.
type publisher struct {
	s        *Service
	shop     Shop
	settings *compute.Settings
	version  int64
	items    []PendingItem
	modules  json.RawMessage
	// refusedBySettings: the stored settings no longer validate against
	// the shop; nothing was published and the items stay pending.
	refusedBySettings bool
}

// target is a linked variant with what the batch computed for it.
type target struct {
	SyncTarget
	cause  string
	since  time.Time // the first webhook's receipt, for the lag; zero if none
	inputs json.RawMessage
	// want is the computed quantity per warehouse of the SKU; computed
	// every warehouse the rules computed, and trace how, for the history.
	want     map[string]int
	computed map[string]int
	trace    json.RawMessage
	// item is what the rules computed from.
	item compute.Item
}

// refusal is a quantity the sync does not send, to record.
type refusal struct {
	t         *target
	warehouse string
	quantity  int
	code, msg string
}

func (p *publisher) run(ctx context.Context) error {
	s, shopID := p.s, p.shop.ID
	cause := make(map[string]string, len(p.items))
	since := make(map[string]time.Time, len(p.items))
	ids := make([]string, 0, len(p.items))
	for _, it := range p.items {
		if it.InventoryItemID != AllItems {
			ids = append(ids, it.InventoryItemID)
			cause[it.InventoryItemID] = it.Cause
			since[it.InventoryItemID] = it.Since
		}
	}
	targets, err := s.store.SyncTargets(ctx, shopID, ids)
	if err != nil || len(targets) == 0 {
		return err // no linked variant: nothing to publish
	}
	targets = p.endOnProduct(targets)
	clients, err := s.syncClients(ctx, p.shop)
	if err != nil {
		return err
	}
	ts, refusals, err := p.computeTargets(ctx, clients.shopify, targets, func(item string) string { return cmp.Or(cause[item], CauseResync) })
	if err != nil {
		return err
	}
	for _, t := range ts {
		t.since = since[t.Variant.InventoryItemID]
	}
	return p.publish(ctx, clients.tiktok, ts, refusals)
}

// endOnProduct makes a full batch end on a product boundary: a TikTok
// call takes one product, so the product of the batch's last item, whose
// other variants are likely next in line (a whole-shop republish numbers
// items by product), waits for the next batch, which then sends it in one
// call rather than two. It returns the targets kept and leaves p.items
// without the items held back, which stay pending. A batch of one product,
// or whose last product waits for a webhook, is kept whole.
func (p *publisher) endOnProduct(targets []SyncTarget) []SyncTarget {
	if len(p.items) < SyncBatch {
		return targets
	}
	productsOf := map[string][]string{} // inventory item → TikTok products
	for _, t := range targets {
		productsOf[t.Variant.InventoryItemID] = append(productsOf[t.Variant.InventoryItemID], t.ProductID)
	}
	last := ""
	for _, it := range slices.Backward(p.items) {
		if ps := productsOf[it.InventoryItemID]; len(ps) > 0 {
			last = ps[0]
			break
		}
	}
	kept := slices.DeleteFunc(slices.Clone(targets), func(t SyncTarget) bool { return t.ProductID == last })
	if len(kept) == 0 {
		return targets
	}
	held := map[string]bool{}
	for _, t := range targets {
		if t.ProductID == last {
			held[t.Variant.InventoryItemID] = true
		}
	}
	// A webhook's change goes now: held back, a product that webhooks
	// keep naming again (its items then the newest) could wait forever
	// behind a backlog.
	for _, it := range p.items {
		if held[it.InventoryItemID] && !it.Since.IsZero() {
			return targets
		}
	}
	// An item of the held product and of a kept one waits too: its
	// targets are computed together.
	kept = slices.DeleteFunc(kept, func(t SyncTarget) bool { return held[t.Variant.InventoryItemID] })
	if len(kept) == 0 {
		return targets
	}
	p.items = slices.DeleteFunc(slices.Clone(p.items), func(it PendingItem) bool { return held[it.InventoryItemID] })
	return kept
}

// computeTargets reads the targets' levels from Shopify and computes them
// through the shop's settings and chain: each target's want, with its cause
// (by inventory item) and inputs, and the refusals to record of the items
// the chain failed or that send stock where their SKU is not stocked.
func (p *publisher) computeTargets(ctx context.Context, sc *shopify.Client, targets []SyncTarget, causeOf func(item string) string) ([]*target, []refusal, error) {
	s, shopID := p.s, p.shop.ID
	itemIDs := make([]string, 0, len(targets))
	for _, t := range targets {
		itemIDs = append(itemIDs, t.Variant.InventoryItemID)
	}
	levels, err := sc.InventoryLevels(ctx, dedupe(itemIDs))
	if err != nil {
		return nil, nil, fmt.Errorf("sync shop %q: read the levels from Shopify: %w", shopID, err)
	}
	read := make(map[string]shopify.ItemLevels, len(levels))
	for _, l := range levels {
		read[l.InventoryItemID] = l
	}

	ts := make([]*target, len(targets))
	req := computeRequest(p.shop)
	req.Settings, req.Items = p.settings, make([]compute.Item, len(targets))
	for i, t := range targets {
		ts[i] = &target{SyncTarget: t, cause: causeOf(t.Variant.InventoryItemID)}
		in := syncInput{InventoryItemID: t.Variant.InventoryItemID, VariantID: t.Variant.ID, Available: map[string]int{},
			Tracked: t.Variant.Tracked, ContinueSelling: t.Variant.InventoryPolicy == string(shopify.PolicyContinue),
			ProductID: t.Variant.ProductID, SKU: t.Variant.SKU, Tags: t.Variant.Tags,
			Locations: p.shop.Locations, Warehouses: p.shop.Warehouses}
		if l, ok := read[t.Variant.InventoryItemID]; ok {
			in.Available, in.Tracked = l.Available, l.Tracked
			if l.VariantID != "" {
				in.ContinueSelling = l.InventoryPolicy == shopify.PolicyContinue
			}
		} else {
			// Deleted since: no stock to sell.
			in.Deleted, in.Tracked, in.ContinueSelling = true, true, false
		}
		ts[i].inputs, _ = json.Marshal(in)
		ts[i].item = in.item(strconv.Itoa(i))
		req.Items[i] = ts[i].item
	}
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	// Without explain: the traces of the items the history records are
	// computed apart, once they are known (p.explain).
	resp, err := s.compute.Compute(cctx, req, compute.Options{Tenant: shopTenant(shopID), Class: compute.Sync})
	cancel()
	if err != nil {
		if err := storedBroken(err); isBrokenSettings(err) {
			p.refusedBySettings = true
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("sync shop %q: compute: %w", shopID, err)
	}

	p.modules, _ = json.Marshal(resp.Modules)
	var refusals []refusal
	for i, res := range resp.Items {
		t := ts[i]
		if res.Error != nil {
			// The chain failed the item: what TikTok has stays.
			for _, wh := range t.Warehouses {
				refusals = append(refusals, refusal{t, wh, 0, res.Error.Code,
					fmt.Sprintf("the rule %s failed the item: %s", res.Error.Rule, res.Error.Detail)})
			}
			continue
		}
		t.want = make(map[string]int, len(t.Warehouses))
		t.computed = quantitiesMap(res.Quantities)
		for wh, q := range res.Quantities.All() {
			if slices.Contains(t.Warehouses, wh) {
				t.want[wh] = int(q)
			} else if q > 0 {
				refusals = append(refusals, refusal{t, wh, int(q), "sku_not_in_warehouse",
					"the rule sends stock to this warehouse, but the TikTok SKU is not stocked in it: add the SKU to the warehouse in TikTok Shop, then connect again"})
			}
		}
	}
	return ts, refusals, nil
}

// isBrokenSettings reports whether err is the stored settings failing to
// validate.
func isBrokenSettings(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == BrokenSettings
}

// productUpdate is one TikTok call: a product's SKUs that changed.
type productUpdate struct {
	productID string
	decrease  bool
	skus      []*target
	update    tiktok.InventoryUpdate
	// previous is what TikTok was known to have of each (SKU, warehouse)
	// sent: the quantity published, or read back by a reconciliation.
	previous map[PublishKey]*int
}

// skuChange is a SKU to send: the quantity of every warehouse of it, as
// TikTok wants them all listed.
type skuChange struct {
	t          *target
	quantities map[string]int
	// before is, by warehouse, what TikTok is known to have; nil if
	// unknown. A quantity that differs from it gets a history entry.
	before map[string]*int
	// decrease: some quantity goes below what TikTok has.
	decrease bool
}

// publish sends the changed quantities, one product per call, products
// with a decrease first, recording each call's outcome before the next.
// Refusals are recorded first. A warehouse with nothing published yet
// whose quantity, as connect imported it, is already the rule's is
// recorded as published without a call (OutcomeAlreadyThere).
func (p *publisher) publish(ctx context.Context, tk *tiktok.Shop, ts []*target, refusals []refusal) error {
	skuIDs := make([]string, 0, len(ts))
	for _, t := range ts {
		if t.want != nil {
			skuIDs = append(skuIDs, t.SKUID)
		}
	}
	published := map[PublishKey]int{}
	if len(skuIDs) > 0 {
		var err error
		if published, err = p.s.store.Published(ctx, p.shop.ID, dedupe(skuIDs)); err != nil {
			return err
		}
	}
	var changes []skuChange
	var there []alreadyThere
	for _, t := range ts {
		if t.want == nil {
			continue
		}
		changed := false
		var shown []string // warehouses TikTok already shows the rule's quantity in
		c := skuChange{t: t, quantities: make(map[string]int, len(t.Warehouses)), before: make(map[string]*int, len(t.Warehouses))}
		for _, wh := range t.Warehouses {
			old, had := published[PublishKey{t.SKUID, wh}]
			before := t.Quantities[wh]
			if had {
				c.before[wh], before = &old, old
			}
			want, computed := t.want[wh]
			switch {
			case !computed:
				// An inactive warehouse: its quantity stays as published,
				// or as imported.
				c.quantities[wh] = before
			case had && old == want:
				c.quantities[wh] = want
			case !had && t.Quantities[wh] == want:
				c.quantities[wh] = want
				shown = append(shown, wh)
			default:
				c.quantities[wh] = want
				changed = true
			}
			if c.quantities[wh] < before {
				c.decrease = true
			}
		}
		if changed {
			changes = append(changes, c)
			continue
		}
		for _, wh := range shown {
			there = append(there, alreadyThere{t, wh})
		}
	}
	// The history records these items: their traces now, in one compute.
	var recorded []*target
	for _, r := range refusals {
		recorded = append(recorded, r.t)
	}
	for _, th := range there {
		recorded = append(recorded, th.t)
	}
	for _, c := range changes {
		recorded = append(recorded, c.t)
	}
	if err := p.explain(ctx, recorded); err != nil {
		return err
	}
	if len(refusals) > 0 {
		rec := Publication{History: make([]HistoryEntry, len(refusals))}
		for i, r := range refusals {
			rec.History[i] = p.entry(r.t, r.warehouse, nil, r.quantity, OutcomeRefused, "", r.code, r.msg)
		}
		if err := p.s.store.RecordPublication(ctx, p.shop.ID, rec); err != nil {
			return err
		}
		p.observe(rec.History, nil)
	}
	if len(there) > 0 {
		found := Publication{Accepted: map[PublishKey]int{}}
		for _, th := range there {
			found.Accepted[PublishKey{th.t.SKUID, th.warehouse}] = th.t.want[th.warehouse]
			found.History = append(found.History, p.entry(th.t, th.warehouse, nil, th.t.want[th.warehouse], OutcomeAlreadyThere, "", "", ""))
		}
		if err := p.s.store.RecordPublication(ctx, p.shop.ID, found); err != nil {
			return err
		}
	}
	_, err := p.sendChanges(ctx, tk, changes)
	return err
}

// alreadyThere is a warehouse of a SKU that TikTok already shows the
// rule's quantity in, with nothing published yet.
type alreadyThere struct {
	t         *target
	warehouse string
}

// sendChanges sends the SKUs' quantities, one product per call, products
// with a decrease first, recording each call's outcome before the next. It
// returns how many quantities TikTok accepted that differ from what it
// had.
func (p *publisher) sendChanges(ctx context.Context, tk *tiktok.Shop, changes []skuChange) (int, error) {
	byProduct := map[string]*productUpdate{}
	for _, c := range changes {
		t := c.t
		u := byProduct[t.ProductID]
		if u == nil {
			u = &productUpdate{productID: t.ProductID, previous: map[PublishKey]*int{}}
			u.update.ProductID = t.ProductID
			byProduct[t.ProductID] = u
		}
		if slices.ContainsFunc(u.update.SKUs, func(q tiktok.SKUQuantities) bool { return q.SKUID == t.SKUID }) {
			continue // two variants linked to one SKU cannot be: linking refuses it
		}
		for _, wh := range t.Warehouses {
			u.previous[PublishKey{t.SKUID, wh}] = c.before[wh]
		}
		u.decrease = u.decrease || c.decrease
		u.skus = append(u.skus, t)
		u.update.SKUs = append(u.update.SKUs, tiktok.SKUQuantities{SKUID: t.SKUID, Quantities: c.quantities})
	}
	updates := slices.Collect(maps.Values(byProduct))
	// Decreases first: a quantity that went down must never wait behind
	// one that goes up.
	slices.SortFunc(updates, func(a, b *productUpdate) int {
		if a.decrease != b.decrease {
			if a.decrease {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.productID, b.productID)
	})
	// The history records these items: their traces now (publish may have
	// explained them already).
	var recorded []*target
	for _, u := range updates {
		recorded = append(recorded, u.skus...)
	}
	if err := p.explain(ctx, recorded); err != nil {
		return 0, err
	}
	accepted := 0
	for _, u := range updates {
		n, err := p.send(ctx, tk, u)
		accepted += n
		if err != nil {
			return accepted, err
		}
	}
	return accepted, nil
}

// explain computes the traces of the targets given, which the history is
// about to record, in one compute of those items alone: most batches of a
// resync change nothing, and explaining every item of a batch costs some
// 50 times its compute (RATIONALE.md, "Why are only the recorded items
// explained?").
func (p *publisher) explain(ctx context.Context, ts []*target) error {
	seen := make(map[*target]bool, len(ts))
	req := computeRequest(p.shop)
	req.Settings = p.settings
	var explained []*target
	for _, t := range ts {
		if !seen[t] && t.trace == nil {
			seen[t] = true
			explained = append(explained, t)
			req.Items = append(req.Items, t.item)
		}
	}
	if len(explained) == 0 {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, p.s.timeout)
	defer cancel()
	resp, err := p.s.compute.Compute(cctx, req, compute.Options{Tenant: shopTenant(p.shop.ID), Class: compute.Sync, Explain: true})
	if err != nil {
		return fmt.Errorf("sync shop %q: compute the traces of the history: %w", p.shop.ID, err)
	}
	for i, res := range resp.Items {
		explained[i].trace = traceJSON(res.Trace)
	}
	return nil
}

// send makes one product's call and records what TikTok accepted and
// refused, and returns how many quantities it accepted that differ from
// what it had. A transient failure is returned: the batch is retried, and
// what was recorded before it is not sent again.
func (p *publisher) send(ctx context.Context, tk *tiktok.Shop, u *productUpdate) (int, error) {
	requestID, err := tk.UpdateInventoryRequest(ctx, u.update, nil)
	failed := map[string]SKUFailure{}
	var partial *tiktok.UpdateFailures
	var invalid *tiktok.InvalidUpdateError
	switch {
	case err == nil:
	case errors.As(err, &partial):
		for _, f := range partial.SKUs {
			failed[f.SKUID] = SKUFailure{SKUID: f.SKUID, Code: strconv.FormatInt(f.Code, 10), Message: f.Error(), RequestID: partial.RequestID}
		}
	case errors.As(err, &invalid):
		for _, q := range u.update.SKUs {
			failed[q.SKUID] = SKUFailure{SKUID: q.SKUID, Code: "invalid_update", Message: invalid.Reason, RequestID: requestID}
		}
	default:
		return 0, fmt.Errorf("sync shop %q: update product %s on TikTok Shop: %w", p.shop.ID, u.productID, err)
	}
	rec := Publication{Accepted: map[PublishKey]int{}}
	changed := 0
	for i, q := range u.update.SKUs {
		t := u.skus[i]
		f, refused := failed[q.SKUID]
		if refused {
			rec.Failed = append(rec.Failed, f)
		}
		for _, wh := range slices.Sorted(maps.Keys(q.Quantities)) {
			key := PublishKey{q.SKUID, wh}
			prev := u.previous[key]
			if refused {
				rec.History = append(rec.History, p.entry(t, wh, prev, q.Quantities[wh], OutcomeFailed, f.RequestID, f.Code, f.Message))
				continue
			}
			rec.Accepted[key] = q.Quantities[wh]
			if prev == nil || *prev != q.Quantities[wh] {
				changed++
				rec.History = append(rec.History, p.entry(t, wh, prev, q.Quantities[wh], OutcomePublished, requestID, "", ""))
			}
		}
	}
	if len(failed) > 0 {
		p.s.log.Warn("sync: TikTok Shop refused SKUs", "shop", p.shop.ID, "product", u.productID, "err", err)
	}
	// The call is made: its record must outlive a cancelled job.
	if err := p.s.store.RecordPublication(context.WithoutCancel(ctx), p.shop.ID, rec); err != nil {
		return changed, err
	}
	p.observe(rec.History, u.skus)
	return changed, nil
}

func (p *publisher) entry(t *target, wh string, prev *int, q int, outcome, requestID, code, msg string) HistoryEntry {
	return HistoryEntry{SKUID: t.SKUID, WarehouseID: wh, Previous: prev, Quantity: q, Outcome: outcome, Cause: t.cause,
		Inputs: t.inputs, SettingsVersion: p.version, Modules: p.modules, Trace: t.trace, Computed: t.computed,
		RequestID: requestID, ErrorCode: code, ErrorMsg: msg}
}

// refreshConnection reads the shop's locations and warehouses from the
// platforms into it, as connect does, and returns the shop and its
// settings as they are then.
func (s *Service) refreshConnection(ctx context.Context, sh Shop) (Shop, StoredSettings, error) {
	clients, err := s.syncClients(ctx, sh)
	if err != nil {
		return Shop{}, StoredSettings{}, err
	}
	c, err := readConnection(ctx, clients)
	if err != nil {
		return Shop{}, StoredSettings{}, fmt.Errorf("sync shop %q: %w", sh.ID, err)
	}
	if err := s.store.Connect(ctx, sh.ID, c); err != nil {
		return Shop{}, StoredSettings{}, err
	}
	return s.store.ShopSettings(ctx, sh.ID)
}

// syncClients builds the shop's Shopify and TikTok Shop clients from its
// stored domain and credentials, as connect left them.
func (s *Service) syncClients(ctx context.Context, sh Shop) (platformClients, error) {
	creds, err := s.openCredentials(ctx, sh.ID)
	if err != nil {
		return platformClients{}, err
	}
	sopt := s.platforms.Shopify
	sopt.Domain, sopt.AccessToken = sh.ShopifyDomain, creds["shopify/access_token"]
	sopt.Pacer = s.shopifyPacer(sh.ShopifyDomain)
	if sopt.Logger == nil {
		sopt.Logger = s.log
	}
	sc, err := shopify.New(sopt)
	if err != nil {
		return platformClients{}, fmt.Errorf("shop %q: the Shopify client: %w", sh.ID, err)
	}
	tc, err := s.tiktokClient(creds["tiktok/app_key"], creds["tiktok/app_secret"])
	if err != nil {
		return platformClients{}, fmt.Errorf("shop %q: the TikTok Shop client: %w", sh.ID, err)
	}
	return platformClients{shopify: sc, tiktok: tc.Shop(creds["tiktok/shop_cipher"], &sealedTokens{s: s, shop: sh.ID})}, nil
}

// SyncHistory returns at most limit (<= 0: every) entries of the shop's
// sync history with ids above after, oldest first. Admins and the shop
// may.
func (s *Service) SyncHistory(ctx context.Context, p auth.Principal, shopID string, after int64, limit int) ([]HistoryEntry, error) {
	if err := CheckShop(p, shopID); err != nil {
		return nil, err
	}
	list, err := s.store.SyncHistory(ctx, shopID, after, limit)
	return list, storeError(shopID, err)
}

// resyncAll leaves every item of the shop pending and enqueues its sync,
// after a change that may change every quantity: new settings, a connect.
// A failure is logged, not returned: the change itself is saved, and the
// next webhook or reconciliation catches up.
func (s *Service) resyncAll(ctx context.Context, shopID, cause string) {
	var enqueue func(ctx context.Context, tx any) error
	if s.queue != nil {
		enqueue = func(ctx context.Context, tx any) error { return s.queue.EnqueueTx(ctx, tx, shopID) }
	}
	if err := s.store.MarkAllPending(ctx, shopID, cause, enqueue); err != nil {
		s.log.Error("sync: marking every item of the shop pending failed; its quantities are published on its next change",
			"shop", shopID, "cause", cause, "err", err)
	}
}
