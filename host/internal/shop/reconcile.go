package shop

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/syncrules/syncrules/host/internal/auth"
	"github.com/syncrules/syncrules/host/internal/tiktok"
)

// Reconciliation repairs what the webhooks missed: it reads TikTok Shop
// back for every linked SKU, computes what the rule gives from Shopify's
// levels, and repairs the difference. A quantity TikTok shows above the
// rule's is lowered at once. One below it is raised only once it has
// stayed below for the raise grace: TikTok lowers its own stock when an
// order is placed, before the order reaches Shopify, so a lower quantity
// is normal for a while, and raising it at once would sell the same unit
// twice.

// CauseReconcile is the cause of a publication a reconciliation made.
const CauseReconcile = "reconcile"

// DefaultRaiseGrace is how long a quantity must stay below the rule's
// before a reconciliation raises it, when Options.RaiseGrace is not set.
const DefaultRaiseGrace = 15 * time.Minute

// ReadBack is a SKU's stock in a warehouse as a reconciliation read it
// from TikTok Shop.
type ReadBack struct {
	SKUID, WarehouseID string
	// Available is the quantity TikTok sells; Committed is held for its
	// orders not yet shipped.
	Available, Committed int
	At                   time.Time
	// BelowSince is when Available was first seen below the rule's
	// quantity, in read-backs that all were since; zero if it is not.
	BelowSince time.Time
}

// ReconcileStore is the part of Store reconciliation reads and writes.
type ReconcileStore interface {
	// LinkedTargets returns at most limit linked variants of the shop with
	// their SKUs, those with variant ids after the one given, by id.
	LinkedTargets(ctx context.Context, shop, after string, limit int) ([]SyncTarget, error)
	// LastReadBack returns the last read-back of each warehouse of the
	// SKUs given.
	LastReadBack(ctx context.Context, shop string, skuIDs []string) (map[PublishKey]ReadBack, error)
	// RecordReadBack stores read-backs, replacing the last of each.
	RecordReadBack(ctx context.Context, shop string, rb []ReadBack) error
	// PendingAmong returns those of the inventory items given that are
	// pending (every one while the shop's AllItems is).
	PendingAmong(ctx context.Context, shop string, items []string) (map[string]bool, error)
}

// ReconcileQueue runs a shop's reconciliation as a background job. The
// sync's queue implements it.
type ReconcileQueue interface {
	EnqueueReconcile(ctx context.Context, shop string) error
}

// Reconcile makes sure the shop's reconciliation runs soon: it is queued,
// unless it is queued or running already. Admins and the shop may.
func (s *Service) Reconcile(ctx context.Context, p auth.Principal, shopID string) error {
	if err := CheckShop(p, shopID); err != nil {
		return err
	}
	sh, err := s.store.Shop(ctx, shopID)
	if err != nil {
		return storeError(shopID, err)
	}
	if !sh.Connected {
		return Errorf(Conflict, "Shop %q is not connected: there is nothing to reconcile yet. Connect it first (POST /v1/shops/%s/sync/connect).", shopID, shopID)
	}
	q, ok := s.queue.(ReconcileQueue)
	if !ok {
		return Errorf(Unavailable, "The sync is not running in this process: no reconciliation can be queued. Retry on a server that runs it.")
	}
	if err := q.EnqueueReconcile(ctx, shopID); err != nil {
		return fmt.Errorf("reconcile shop %q: %w", shopID, err)
	}
	s.logChange("reconciliation queued", p, "shop", shopID)
	return nil
}

// ReconcilePage reconciles the shop's linked variants after the variant
// id given ("" from the first), at most SyncBatch of them, and returns the
// last variant id it took ("" once none remain) and how many quantities
// TikTok accepted as repairs. A shop that cannot publish (not connected,
// without settings, its TikTok authorisation revoked) returns an error
// wrapping ErrSyncBlocked; a deleted shop reconciles nothing.
//
// A SKU whose item is pending is left to the shop's sync, which reads
// Shopify again: a repair must not overwrite a newer publication.
func (s *Service) ReconcilePage(ctx context.Context, shopID, after string) (next string, repairs int, err error) {
	sh, stored, settings, err := s.syncSettings(ctx, shopID)
	switch {
	case errors.Is(err, ErrNotFound):
		return "", 0, nil
	case err != nil:
		return "", 0, err
	case sh.SyncPaused:
		return "", 0, blocked(shopID, "its sync is paused; it is reconciled again once resumed")
	}
	if after == "" {
		// A lost locations webhook leaves the stored locations and
		// warehouses stale, and TikTok sends no notice when a warehouse is
		// disabled: read them again, once per reconciliation, and
		// republish the shop if they changed (the sync reads it; the pages
		// below leave its pending items alone).
		before := sh
		fresh, freshStored, err := s.refreshConnection(ctx, sh)
		if err != nil {
			return "", 0, reconcileError(shopID, stored.Version, err)
		}
		sh, stored = fresh, freshStored
		if settings, err = DecodeSettings(stored.Doc); err != nil {
			return "", 0, blocked(shopID, fmt.Sprintf("its settings (version %d) no longer validate: %v", stored.Version, err))
		}
		if !samePlaces(before, sh) {
			s.log.Info("reconcile: the shop's locations or warehouses changed; republishing it", "shop", shopID)
			s.resyncAll(ctx, shopID, CauseReconcile)
		}
	}
	targets, err := s.store.LinkedTargets(ctx, shopID, after, SyncBatch)
	if err != nil || len(targets) == 0 {
		return "", 0, err
	}
	if len(targets) == SyncBatch {
		next = targets[len(targets)-1].Variant.ID
	}
	repairs, err = s.reconcile(ctx, &publisher{s: s, shop: sh, settings: settings, version: stored.Version}, targets)
	s.metrics.Repaired(repairs)
	if err != nil {
		return "", repairs, reconcileError(shopID, stored.Version, err)
	}
	return next, repairs, nil
}

// reconcileError is a reconciliation's err, wrapping ErrSyncBlocked when
// only a change to the shop can fix it.
func reconcileError(shopID string, version int64, err error) error {
	switch {
	case isBrokenSettings(err):
		return blocked(shopID, fmt.Sprintf("its settings (version %d) no longer validate: %v", version, err))
	case errors.Is(err, tiktok.ErrReauthorize):
		return blocked(shopID, fmt.Sprintf("TikTok Shop refused the refresh token: the seller must authorise the app again, "+
			"then store the new tokens (PUT /v1/shops/%s/credentials)", shopID))
	}
	return err
}

// reconcile compares TikTok's quantities of the targets with the rule's
// and repairs them.
func (s *Service) reconcile(ctx context.Context, p *publisher, targets []SyncTarget) (int, error) {
	shopID := p.shop.ID
	clients, err := s.syncClients(ctx, p.shop)
	if err != nil {
		return 0, err
	}
	// The refusals were recorded by the sync that met them; recording
	// them again on every reconciliation would only repeat them.
	ts, _, err := p.computeTargets(ctx, clients.shopify, targets, func(string) string { return CauseReconcile })
	if err != nil {
		return 0, err
	}
	var skuIDs []string
	for _, t := range ts {
		if t.want != nil {
			skuIDs = append(skuIDs, t.SKUID)
		}
	}
	if len(skuIDs) == 0 {
		return 0, nil
	}
	skuIDs = dedupe(skuIDs)
	levels, err := clients.tiktok.InventoryOfSKUs(ctx, skuIDs)
	if err != nil {
		return 0, fmt.Errorf("reconcile shop %q: read the inventory back from TikTok Shop: %w", shopID, err)
	}
	now := s.clock().UTC()
	shown := make(map[PublishKey]ReadBack, len(levels))
	for _, l := range levels {
		for _, w := range l.Warehouses {
			shown[PublishKey{l.SKUID, w.WarehouseID}] = ReadBack{SKUID: l.SKUID, WarehouseID: w.WarehouseID,
				Available: w.Available, Committed: w.Committed, At: now}
		}
	}
	last, err := s.store.LastReadBack(ctx, shopID, skuIDs)
	if err != nil {
		return 0, err
	}
	published, err := s.store.Published(ctx, shopID, skuIDs)
	if err != nil {
		return 0, err
	}

	var changes []skuChange
	var read []ReadBack
	var found []alreadyThere
	for _, t := range ts {
		if t.want == nil {
			continue
		}
		c := skuChange{t: t, quantities: make(map[string]int, len(t.Warehouses)), before: make(map[string]*int, len(t.Warehouses))}
		repair := false
		var there []string // warehouses that show the rule's quantity, not yet recorded as published
		for _, wh := range t.Warehouses {
			key := PublishKey{t.SKUID, wh}
			old, had := published[key]
			rb, ok := shown[key]
			want, computed := t.want[wh]
			switch {
			case !ok:
				// TikTok did not list the warehouse: leave it as known.
				c.quantities[wh] = t.Quantities[wh]
				if had {
					c.quantities[wh] = old
				}
				continue
			case !computed:
				// An inactive warehouse: it keeps what TikTok has.
				c.quantities[wh] = rb.Available
			case rb.Available > want:
				c.quantities[wh], repair, c.decrease = want, true, true
			case rb.Available < want:
				rb.BelowSince = last[key].BelowSince
				if rb.BelowSince.IsZero() {
					rb.BelowSince = now
				}
				if now.Sub(rb.BelowSince) >= s.raiseGrace {
					// Below for the whole grace: raised, and a drop seen
					// later starts a grace of its own.
					c.quantities[wh], repair, rb.BelowSince = want, true, time.Time{}
				} else {
					c.quantities[wh] = rb.Available
				}
			default:
				c.quantities[wh] = want
				if !had || old != want {
					there = append(there, wh)
				}
			}
			available := rb.Available
			c.before[wh] = &available
			read = append(read, rb)
		}
		if repair {
			changes = append(changes, c)
			continue
		}
		for _, wh := range there {
			found = append(found, alreadyThere{t, wh})
		}
	}
	if err := s.store.RecordReadBack(ctx, shopID, read); err != nil {
		return 0, err
	}
	// The history records these items: their traces now, in one compute.
	var recorded []*target
	for _, th := range found {
		recorded = append(recorded, th.t)
	}
	for _, c := range changes {
		recorded = append(recorded, c.t)
	}
	if err := p.explain(ctx, recorded); err != nil {
		return 0, err
	}
	if len(found) > 0 {
		rec := Publication{Accepted: map[PublishKey]int{}}
		for _, th := range found {
			key := PublishKey{th.t.SKUID, th.warehouse}
			var prev *int
			if old, had := published[key]; had {
				prev = &old
			}
			rec.Accepted[key] = th.t.want[th.warehouse]
			rec.History = append(rec.History, p.entry(th.t, th.warehouse, prev, th.t.want[th.warehouse], OutcomeAlreadyThere, "", "", ""))
		}
		if err := s.store.RecordPublication(ctx, shopID, rec); err != nil {
			return 0, err
		}
	}
	if len(changes) == 0 {
		return 0, nil
	}
	items := make([]string, len(changes))
	for i, c := range changes {
		items[i] = c.t.Variant.InventoryItemID
	}
	pending, err := s.store.PendingAmong(ctx, shopID, items)
	if err != nil {
		return 0, err
	}
	changes = slices.DeleteFunc(changes, func(c skuChange) bool { return pending[c.t.Variant.InventoryItemID] })
	return p.sendChanges(ctx, clients.tiktok, changes)
}

// LastReadBack returns what the last reconciliation read back from TikTok
// Shop for each warehouse of the SKUs given. Admins and the shop may.
func (s *Service) LastReadBack(ctx context.Context, p auth.Principal, shopID string, skuIDs []string) (map[PublishKey]ReadBack, error) {
	if err := CheckShop(p, shopID); err != nil {
		return nil, err
	}
	rb, err := s.store.LastReadBack(ctx, shopID, skuIDs)
	return rb, storeError(shopID, err)
}

// samePlaces reports whether two reads of a shop have the same locations
// and warehouses, in any order.
func samePlaces(a, b Shop) bool {
	byID := func(x, y Location) int { return cmp.Compare(x.ID, y.ID) }
	whByID := func(x, y Warehouse) int { return cmp.Compare(x.ID, y.ID) }
	return slices.Equal(slices.SortedFunc(slices.Values(a.Locations), byID), slices.SortedFunc(slices.Values(b.Locations), byID)) &&
		slices.Equal(slices.SortedFunc(slices.Values(a.Warehouses), whByID), slices.SortedFunc(slices.Values(b.Warehouses), whByID))
}
