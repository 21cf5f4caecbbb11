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
	ID          int64
	Time        time.Time // set by the store when zero
	SKUID       string
	WarehouseID string
	// Previous is the quantity published before; nil if none was.
	Previous *int
	Quantity int
	Outcome  string
	// Cause is the webhook id that left the item pending, or CauseResync.
	Cause string
	// Inputs are the item's levels and flags as read, in JSON.
	Inputs          json.RawMessage
	SettingsVersion int64
	// Modules are the rules that ran (plugin@version), in JSON.
	Modules   json.RawMessage
	RequestID string
	ErrorCode string
	ErrorMsg  string
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
	sh, stored, err := s.store.ShopSettings(ctx, shopID)
	switch {
	case errors.Is(err, ErrNotFound):
		return false, nil // deleted: its pending items went with it
	case err != nil:
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
	if !sh.Connected {
		return false, blocked(shopID, "it is not connected; its changes stay pending until it is (POST /v1/shops/"+shopID+"/sync/connect)")
	}
	if stored.Version == 0 {
		return false, blocked(shopID, "it has no settings; its changes stay pending until settings are saved (PUT /v1/shops/"+shopID+"/settings)")
	}
	settings, err := DecodeSettings(stored.Doc)
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
	if err := s.store.TakePending(ctx, shopID, items); err != nil {
		return false, err
	}
	left, err := s.store.PendingItems(ctx, shopID, 1)
	if err != nil {
		return false, err
	}
	return len(left) > 0, nil
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
	inputs json.RawMessage
	// want is the computed quantity per warehouse of the SKU.
	want map[string]int
}

func (p *publisher) run(ctx context.Context) error {
	s, shopID := p.s, p.shop.ID
	cause := make(map[string]string, len(p.items))
	ids := make([]string, 0, len(p.items))
	for _, it := range p.items {
		if it.InventoryItemID != AllItems {
			ids = append(ids, it.InventoryItemID)
			cause[it.InventoryItemID] = it.Cause
		}
	}
	targets, err := s.store.SyncTargets(ctx, shopID, ids)
	if err != nil || len(targets) == 0 {
		return err // no linked variant: nothing to publish
	}
	clients, err := s.syncClients(ctx, p.shop)
	if err != nil {
		return err
	}
	itemIDs := make([]string, 0, len(targets))
	for _, t := range targets {
		itemIDs = append(itemIDs, t.Variant.InventoryItemID)
	}
	levels, err := clients.shopify.InventoryLevels(ctx, dedupe(itemIDs))
	if err != nil {
		return fmt.Errorf("sync shop %q: read the levels from Shopify: %w", shopID, err)
	}
	read := make(map[string]shopify.ItemLevels, len(levels))
	for _, l := range levels {
		read[l.InventoryItemID] = l
	}

	refs := make([]string, len(p.settings.Rules))
	for i, r := range p.settings.Rules {
		refs[i] = r.Plugin + "@" + r.Version
	}
	p.modules, _ = json.Marshal(refs)

	ts := make([]*target, len(targets))
	req := computeRequest(p.shop)
	req.Settings, req.Items = p.settings, make([]compute.Item, len(targets))
	for i, t := range targets {
		ts[i] = &target{SyncTarget: t, cause: cmp.Or(cause[t.Variant.InventoryItemID], CauseResync)}
		in := syncInput{InventoryItemID: t.Variant.InventoryItemID, VariantID: t.Variant.ID, Available: map[string]int{},
			Tracked: t.Variant.Tracked, ContinueSelling: t.Variant.InventoryPolicy == string(shopify.PolicyContinue)}
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
		item := compute.Item{ID: strconv.Itoa(i), ProductID: t.Variant.ProductID, SKU: t.Variant.SKU, Tags: t.Variant.Tags,
			Tracked: compute.Flag{Set: true, Value: in.Tracked}, ContinueSelling: in.ContinueSelling}
		for _, loc := range slices.Sorted(maps.Keys(in.Available)) {
			item.Available = append(item.Available, compute.StockEntry{Location: loc, Quantity: compute.NumberOf(strconv.Itoa(in.Available[loc]))})
		}
		req.Items[i] = item
	}
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	resp, err := s.compute.Compute(cctx, req, compute.Options{Tenant: shopTenant(shopID), Class: compute.Sync})
	cancel()
	if err != nil {
		if err := storedBroken(err); isBrokenSettings(err) {
			p.refusedBySettings = true
			return err
		}
		return fmt.Errorf("sync shop %q: compute: %w", shopID, err)
	}

	var refusals []HistoryEntry
	for i, res := range resp.Items {
		t := ts[i]
		if res.Error != nil {
			// The chain failed the item: what TikTok has stays.
			for _, wh := range t.Warehouses {
				refusals = append(refusals, p.entry(t, wh, nil, 0, OutcomeRefused, "", res.Error.Code,
					fmt.Sprintf("the rule %s failed the item: %s", res.Error.Rule, res.Error.Detail)))
			}
			continue
		}
		t.want = make(map[string]int, len(t.Warehouses))
		for wh, q := range res.Quantities.All() {
			if slices.Contains(t.Warehouses, wh) {
				t.want[wh] = int(q)
			} else if q > 0 {
				refusals = append(refusals, p.entry(t, wh, nil, int(q), OutcomeRefused, "", "sku_not_in_warehouse",
					"the rule sends stock to this warehouse, but the TikTok SKU is not stocked in it: add the SKU to the warehouse in TikTok Shop, then connect again"))
			}
		}
	}
	if len(refusals) > 0 {
		if err := s.store.RecordPublication(ctx, shopID, Publication{History: refusals}); err != nil {
			return err
		}
	}
	return p.publish(ctx, clients.tiktok, ts)
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
	// previous is the published quantity of each (SKU, warehouse) sent.
	previous map[PublishKey]*int
}

// publish sends the changed quantities, one product per call, products
// with a decrease first, recording each call's outcome before the next.
func (p *publisher) publish(ctx context.Context, tk *tiktok.Shop, ts []*target) error {
	skuIDs := make([]string, 0, len(ts))
	for _, t := range ts {
		if t.want != nil {
			skuIDs = append(skuIDs, t.SKUID)
		}
	}
	if len(skuIDs) == 0 {
		return nil
	}
	published, err := p.s.store.Published(ctx, p.shop.ID, dedupe(skuIDs))
	if err != nil {
		return err
	}
	byProduct := map[string]*productUpdate{}
	for _, t := range ts {
		if t.want == nil {
			continue
		}
		changed := false
		quantities := make(map[string]int, len(t.Warehouses))
		previous := make(map[PublishKey]*int, len(t.Warehouses))
		for _, wh := range t.Warehouses {
			key := PublishKey{t.SKUID, wh}
			old, had := published[key]
			if had {
				previous[key] = &old
			}
			want, computed := t.want[wh]
			switch {
			case !computed && had:
				// An inactive warehouse: its quantity stays as published.
				quantities[wh] = old
			case !computed:
				quantities[wh] = t.Quantities[wh]
			default:
				quantities[wh] = want
				if !had || old != want {
					changed = true
				}
			}
		}
		if !changed {
			continue
		}
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
			key := PublishKey{t.SKUID, wh}
			u.previous[key] = previous[key]
			before := t.Quantities[wh]
			if previous[key] != nil {
				before = *previous[key]
			}
			if quantities[wh] < before {
				u.decrease = true
			}
		}
		u.skus = append(u.skus, t)
		u.update.SKUs = append(u.update.SKUs, tiktok.SKUQuantities{SKUID: t.SKUID, Quantities: quantities})
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
	for _, u := range updates {
		if err := p.send(ctx, tk, u); err != nil {
			return err
		}
	}
	return nil
}

// send makes one product's call and records what TikTok accepted and
// refused. A transient failure is returned: the batch is retried, and
// what was recorded before it is not sent again.
func (p *publisher) send(ctx context.Context, tk *tiktok.Shop, u *productUpdate) error {
	err := tk.UpdateInventory(ctx, u.update, nil)
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
			failed[q.SKUID] = SKUFailure{SKUID: q.SKUID, Code: "invalid_update", Message: invalid.Reason}
		}
	default:
		return fmt.Errorf("sync shop %q: update product %s on TikTok Shop: %w", p.shop.ID, u.productID, err)
	}
	rec := Publication{Accepted: map[PublishKey]int{}}
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
				rec.History = append(rec.History, p.entry(t, wh, prev, q.Quantities[wh], OutcomePublished, "", "", ""))
			}
		}
	}
	if len(failed) > 0 {
		p.s.log.Warn("sync: TikTok Shop refused SKUs", "shop", p.shop.ID, "product", u.productID, "err", err)
	}
	// The call is made: its record must outlive a cancelled job.
	return p.s.store.RecordPublication(context.WithoutCancel(ctx), p.shop.ID, rec)
}

func (p *publisher) entry(t *target, wh string, prev *int, q int, outcome, requestID, code, msg string) HistoryEntry {
	return HistoryEntry{SKUID: t.SKUID, WarehouseID: wh, Previous: prev, Quantity: q, Outcome: outcome, Cause: t.cause,
		Inputs: t.inputs, SettingsVersion: p.version, Modules: p.modules, RequestID: requestID, ErrorCode: code, ErrorMsg: msg}
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
