package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/syncrules/syncrules/host/internal/shop"
)

// Reconciliation: sync_read_back holds what TikTok Shop showed when a SKU
// was last read back, per (shop, SKU, warehouse); sync_reconciles when each
// shop's reconciliation last started and where it resumes.

// syncTargetColumns are what scanSyncTarget reads, of catalog_variants v
// joined with catalog_tiktok_skus k.
const syncTargetColumns = `v.id, v.product_id, v.sku, v.tags, v.inventory_policy, v.inventory_item_id, v.tracked, v.available,
	v.link_sku_id, v.link_product_id, k.warehouses, k.quantities`

func scanSyncTarget(r *sql.Rows) (shop.SyncTarget, error) {
	var t shop.SyncTarget
	v := &t.Variant
	var tags, available, warehouses, quantities string
	err := r.Scan(&v.ID, &v.ProductID, &v.SKU, &tags, &v.InventoryPolicy, &v.InventoryItemID, &v.Tracked, &available,
		&t.SKUID, &t.ProductID, &warehouses, &quantities)
	if err != nil {
		return t, err
	}
	v.Link = shop.Link{Status: shop.LinkLinked, SKUID: t.SKUID, TikTokProductID: t.ProductID}
	for _, f := range []struct {
		text string
		to   any
	}{{tags, &v.Tags}, {available, &v.Available}, {warehouses, &t.Warehouses}, {quantities, &t.Quantities}} {
		if err := json.Unmarshal([]byte(f.text), f.to); err != nil {
			return t, fmt.Errorf("variant %s: stored catalog: %w", v.ID, err)
		}
	}
	return t, nil
}

// LinkedTargets returns at most limit (<= 0: every) linked variants of a
// shop with their TikTok SKUs, those whose ids come after the one given,
// by id.
func (s *Store) LinkedTargets(ctx context.Context, id, after string, limit int) ([]shop.SyncTarget, error) {
	if checkText(id) != nil {
		return nil, shopNotFound(id)
	}
	if err := checkText(after); err != nil {
		return nil, fmt.Errorf("linked variants: %w", err)
	}
	out, err := collect(ctx, s.read, scanSyncTarget, `SELECT `+syncTargetColumns+`
		FROM catalog_variants v JOIN catalog_tiktok_skus k ON k.shop = v.shop AND k.id = v.link_sku_id
		WHERE v.shop = $1 AND v.link_status = 'linked' AND v.id > $2
		ORDER BY v.id LIMIT $3`, id, after, pageLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("read the linked variants of shop %q: %w", id, err)
	}
	return out, nil
}

// LastReadBack returns the last read-back of every warehouse of the SKUs
// given that has one.
func (s *Store) LastReadBack(ctx context.Context, id string, skuIDs []string) (map[shop.PublishKey]shop.ReadBack, error) {
	if checkText(id) != nil {
		return nil, shopNotFound(id)
	}
	if err := checkText(skuIDs...); err != nil {
		return nil, fmt.Errorf("read-back: %w", err)
	}
	out := map[shop.PublishKey]shop.ReadBack{}
	for batch := range slices.Chunk(skuIDs, maxParams-1) {
		args := []any{id}
		marks := make([]string, len(batch))
		for i, sku := range batch {
			args = append(args, sku)
			marks[i] = fmt.Sprintf("$%d", len(args))
		}
		list, err := collect(ctx, s.read, func(r *sql.Rows) (shop.ReadBack, error) {
			var rb shop.ReadBack
			var at int64
			var below sql.NullInt64
			err := r.Scan(&rb.SKUID, &rb.WarehouseID, &rb.Available, &rb.Committed, &at, &below)
			rb.At = fromMicros(at)
			if below.Valid {
				rb.BelowSince = fromMicros(below.Int64)
			}
			return rb, err
		}, `SELECT sku_id, warehouse_id, quantity, committed, read_at, below_since FROM sync_read_back
			WHERE shop = $1 AND sku_id IN (`+strings.Join(marks, ", ")+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("read the read-back of shop %q: %w", id, err)
		}
		for _, rb := range list {
			out[shop.PublishKey{SKUID: rb.SKUID, WarehouseID: rb.WarehouseID}] = rb
		}
	}
	return out, nil
}

// RecordReadBack stores read-backs, each replacing the last of its SKU and
// warehouse. A zero At is now. ErrNotFound if the shop does not exist.
func (s *Store) RecordReadBack(ctx context.Context, id string, rbs []shop.ReadBack) error {
	if checkText(id) != nil {
		return shopNotFound(id)
	}
	for _, rb := range rbs {
		if err := checkText(rb.SKUID, rb.WarehouseID); err != nil {
			return fmt.Errorf("record read-back: %w", err)
		}
	}
	if len(rbs) == 0 {
		return nil
	}
	const columns = 7
	at := micros(now())
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for batch := range slices.Chunk(rbs, (maxParams-1)/columns) {
			args := []any{id}
			values := make([]string, len(batch))
			for i, rb := range batch {
				when := at
				if !rb.At.IsZero() {
					when = micros(rb.At)
				}
				var below sql.NullInt64
				if !rb.BelowSince.IsZero() {
					below = sql.NullInt64{Int64: micros(rb.BelowSince), Valid: true}
				}
				n := len(args)
				args = append(args, rb.SKUID, rb.WarehouseID, rb.Available, rb.Committed, when, below)
				values[i] = fmt.Sprintf("($1, $%d, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO sync_read_back (shop, sku_id, warehouse_id, quantity, committed, read_at, below_since)
				VALUES `+strings.Join(values, ", ")+`
				ON CONFLICT (shop, sku_id, warehouse_id) DO UPDATE SET quantity = excluded.quantity, committed = excluded.committed,
					read_at = excluded.read_at, below_since = excluded.below_since`, args...); err != nil {
				return err
			}
		}
		return nil
	})
	switch {
	case isForeignKey(err):
		return shopNotFound(id)
	case err != nil:
		return fmt.Errorf("record the read-back of shop %q: %w", id, err)
	}
	return nil
}

// PendingAmong returns those of the inventory items given that are pending
// for the shop: every one of them while shop.AllItems is.
func (s *Store) PendingAmong(ctx context.Context, id string, items []string) (map[string]bool, error) {
	if checkText(id) != nil {
		return nil, shopNotFound(id)
	}
	if err := checkText(items...); err != nil {
		return nil, fmt.Errorf("pending items: %w", err)
	}
	out := map[string]bool{}
	for batch := range slices.Chunk(append([]string{shop.AllItems}, items...), maxParams-1) {
		args := []any{id}
		marks := make([]string, len(batch))
		for i, item := range batch {
			args = append(args, item)
			marks[i] = fmt.Sprintf("$%d", len(args))
		}
		list, err := collect(ctx, s.read, func(r *sql.Rows) (string, error) {
			var item string
			return item, r.Scan(&item)
		}, `SELECT inventory_item_id FROM sync_pending WHERE shop = $1 AND inventory_item_id IN (`+strings.Join(marks, ", ")+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("read the pending items of shop %q: %w", id, err)
		}
		for _, item := range list {
			if item == shop.AllItems {
				for _, it := range items {
					out[it] = true
				}
				return out, nil
			}
			out[item] = true
		}
	}
	return out, nil
}

// ReconcileState is a connected shop's reconciliation: when it last
// started (zero: never) and the variant id it resumes after ("" once done).
type ReconcileState struct {
	Shop        string
	Started     time.Time
	ResumeAfter string
}

// ReconcileStates returns the reconciliation of every connected shop, by
// shop id.
func (s *Store) ReconcileStates(ctx context.Context) ([]ReconcileState, error) {
	list, err := collect(ctx, s.read, func(r *sql.Rows) (ReconcileState, error) {
		var st ReconcileState
		var started sql.NullInt64
		var after sql.NullString
		err := r.Scan(&st.Shop, &started, &after)
		if started.Valid {
			st.Started = fromMicros(started.Int64)
		}
		st.ResumeAfter = after.String
		return st, err
	}, `SELECT s.id, r.started, r.resume_after FROM shops s LEFT JOIN sync_reconciles r ON r.shop = s.id
		WHERE s.connected AND NOT s.sync_paused ORDER BY s.id`)
	if err != nil {
		return nil, fmt.Errorf("read the shops' reconciliations: %w", err)
	}
	return list, nil
}

// StartReconcile records that the shop's reconciliation starts (or
// resumes) at the time given, and returns the variant id it resumes after
// ("" from the first). ErrNotFound if the shop does not exist.
func (s *Store) StartReconcile(ctx context.Context, id string, at time.Time) (after string, err error) {
	if checkText(id) != nil {
		return "", shopNotFound(id)
	}
	err = s.db.QueryRowContext(ctx, `INSERT INTO sync_reconciles (shop, started, resume_after) VALUES ($1, $2, '')
		ON CONFLICT (shop) DO UPDATE SET started = excluded.started RETURNING resume_after`, id, micros(at)).Scan(&after)
	switch {
	case isForeignKey(err):
		return "", shopNotFound(id)
	case err != nil:
		return "", fmt.Errorf("start the reconciliation of shop %q: %w", id, err)
	}
	return after, nil
}

// ResumeReconcileAfter records the variant id the shop's reconciliation
// resumes after; "" once it is done.
func (s *Store) ResumeReconcileAfter(ctx context.Context, id, after string) error {
	if checkText(id) != nil {
		return shopNotFound(id)
	}
	if err := checkText(after); err != nil {
		return fmt.Errorf("reconciliation: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE sync_reconciles SET resume_after = $2 WHERE shop = $1`, id, after); err != nil {
		return fmt.Errorf("record where the reconciliation of shop %q resumes: %w", id, err)
	}
	return nil
}
