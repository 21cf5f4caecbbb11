package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/syncrules/syncrules/host/internal/shop"
)

// The sync history's reads: pages newest first with filters, one entry,
// and the published quantities with the time TikTok accepted them.

// historyColumns are what scanHistory reads, in its order.
const historyColumns = `id, at, sku_id, warehouse_id, previous, quantity, outcome, cause, inputs, settings_version, modules,
	request_id, error_code, error_message, trace, computed`

// historyRowParams is the number of parameters one history row takes.
const historyRowParams = 16

func scanHistory(r *sql.Rows) (shop.HistoryEntry, error) {
	var h shop.HistoryEntry
	var at int64
	var prev sql.NullInt64
	var inputs, modules, trace, computed string
	err := r.Scan(&h.ID, &at, &h.SKUID, &h.WarehouseID, &prev, &h.Quantity, &h.Outcome, &h.Cause,
		&inputs, &h.SettingsVersion, &modules, &h.RequestID, &h.ErrorCode, &h.ErrorMsg, &trace, &computed)
	if err != nil {
		return h, err
	}
	h.Time, h.Inputs, h.Modules, h.Trace = fromMicros(at), json.RawMessage(inputs), json.RawMessage(modules), json.RawMessage(trace)
	if err := json.Unmarshal([]byte(computed), &h.Computed); err != nil {
		return h, fmt.Errorf("history entry %d: stored computed quantities: %w", h.ID, err)
	}
	if prev.Valid {
		q := int(prev.Int64)
		h.Previous = &q
	}
	return h, nil
}

// insertHistory writes a publication's history entries, as few
// multi-row inserts as the parameter limit allows: one for a product's
// SKUs. Entries without a time get at.
func insertHistory(ctx context.Context, tx *sql.Tx, id string, at int64, entries []shop.HistoryEntry) error {
	const perInsert = 60 // 960 parameters, within both engines' limits
	for start := 0; start < len(entries); start += perInsert {
		batch := entries[start:min(start+perInsert, len(entries))]
		args := make([]any, 0, len(batch)*historyRowParams)
		rows := make([]string, len(batch))
		for i, h := range batch {
			when := at
			if !h.Time.IsZero() {
				when = micros(h.Time)
			}
			var prev sql.NullInt64
			if h.Previous != nil {
				prev = sql.NullInt64{Int64: int64(*h.Previous), Valid: true}
			}
			computed := "{}"
			if len(h.Computed) > 0 {
				b, err := json.Marshal(h.Computed)
				if err != nil {
					return err
				}
				computed = string(b)
			}
			marks := make([]string, historyRowParams)
			for k := range marks {
				marks[k] = fmt.Sprintf("$%d", len(args)+k+1)
			}
			rows[i] = "(" + strings.Join(marks, ", ") + ")"
			args = append(args, id, when, h.SKUID, h.WarehouseID, prev, h.Quantity, h.Outcome, h.Cause,
				jsonText(h.Inputs, "{}"), h.SettingsVersion, jsonText(h.Modules, "[]"), h.RequestID, h.ErrorCode, h.ErrorMsg,
				jsonText(h.Trace, "[]"), computed)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO sync_history (shop, at, sku_id, warehouse_id, previous, quantity, outcome, cause,
				inputs, settings_version, modules, request_id, error_code, error_message, trace, computed)
			VALUES `+strings.Join(rows, ", "), args...); err != nil {
			return fmt.Errorf("sync history: %w", err)
		}
	}
	return nil
}

// SyncHistoryPage returns at most limit (<= 0: every) entries of a shop's
// sync history that pass the filter, newest first, with ids below before
// (0: from the newest).
func (s *Store) SyncHistoryPage(ctx context.Context, id string, f shop.HistoryFilter, before int64, limit int) ([]shop.HistoryEntry, error) {
	if checkText(id) != nil {
		return nil, shopNotFound(id)
	}
	if err := checkText(f.SKUID, f.Cause); err != nil {
		return nil, fmt.Errorf("sync history: %w", err)
	}
	where, args := []string{"shop = $1"}, []any{id}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if before > 0 {
		add("id < $%d", before)
	}
	if f.SKUID != "" {
		add("sku_id = $%d", f.SKUID)
	}
	if f.Cause != "" {
		add("cause = $%d", f.Cause)
	}
	if !f.Since.IsZero() {
		add("at >= $%d", micros(f.Since))
	}
	args = append(args, pageLimit(limit))
	list, err := collect(ctx, s.read, scanHistory, `SELECT `+historyColumns+` FROM sync_history
		WHERE `+strings.Join(where, " AND ")+fmt.Sprintf(` ORDER BY id DESC LIMIT $%d`, len(args)), args...)
	if err == nil && len(list) == 0 {
		err = shopExists(ctx, s.read, id)
	}
	if err != nil {
		return nil, fmt.Errorf("read the sync history of shop %q: %w", id, err)
	}
	return list, nil
}

// SyncHistoryEntry returns one entry of a shop's sync history, found
// false if the shop has none of that id; ErrNotFound if the shop does not
// exist.
func (s *Store) SyncHistoryEntry(ctx context.Context, id string, entry int64) (shop.HistoryEntry, bool, error) {
	if checkText(id) != nil {
		return shop.HistoryEntry{}, false, shopNotFound(id)
	}
	list, err := collect(ctx, s.read, scanHistory, `SELECT `+historyColumns+` FROM sync_history WHERE shop = $1 AND id = $2`, id, entry)
	if err != nil {
		return shop.HistoryEntry{}, false, fmt.Errorf("read sync history entry %d of shop %q: %w", entry, id, err)
	}
	if len(list) == 0 {
		return shop.HistoryEntry{}, false, shopExists(ctx, s.read, id)
	}
	return list[0], true, nil
}

// PublishedAt returns the quantities last published for the SKUs given (a
// few: the parameters are bound in one query), with when TikTok accepted
// each.
func (s *Store) PublishedAt(ctx context.Context, id string, skus []string) (map[shop.PublishKey]shop.PublishedQuantity, error) {
	if checkText(id) != nil {
		return nil, shopNotFound(id)
	}
	if err := checkText(skus...); err != nil {
		return nil, fmt.Errorf("published quantities: %w", err)
	}
	out := map[shop.PublishKey]shop.PublishedQuantity{}
	if len(skus) == 0 {
		return out, nil
	}
	args := []any{id}
	marks := make([]string, len(skus))
	for i, sku := range skus {
		args = append(args, sku)
		marks[i] = fmt.Sprintf("$%d", len(args))
	}
	type row struct {
		key shop.PublishKey
		q   shop.PublishedQuantity
	}
	list, err := collect(ctx, s.read, func(r *sql.Rows) (row, error) {
		var x row
		var at int64
		err := r.Scan(&x.key.SKUID, &x.key.WarehouseID, &x.q.Quantity, &at)
		x.q.Time = fromMicros(at)
		return x, err
	}, `SELECT sku_id, warehouse_id, quantity, updated FROM published WHERE shop = $1 AND sku_id IN (`+strings.Join(marks, ", ")+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("read the published quantities of shop %q: %w", id, err)
	}
	for _, x := range list {
		out[x.key] = x.q
	}
	return out, nil
}

// CatalogVariant returns one variant of a shop's catalog with its link,
// found false if the shop has no variant of that id; ErrNotFound if the
// shop does not exist.
func (s *Store) CatalogVariant(ctx context.Context, id, variant string) (shop.Variant, bool, error) {
	if checkText(id) != nil {
		return shop.Variant{}, false, shopNotFound(id)
	}
	if err := checkText(variant); err != nil {
		return shop.Variant{}, false, fmt.Errorf("catalog variant: %w", err)
	}
	list, err := collect(ctx, s.read, scanVariant, `SELECT id, product_id, sku, tags, inventory_policy, inventory_item_id, tracked, available,
			link_status, link_variant_id, link_sku_id, link_product_id, link_reason
		FROM catalog_variants WHERE shop = $1 AND id = $2`, id, variant)
	if err != nil {
		return shop.Variant{}, false, fmt.Errorf("read variant %s of shop %q: %w", variant, id, err)
	}
	if len(list) == 0 {
		return shop.Variant{}, false, shopExists(ctx, s.read, id)
	}
	return list[0], true, nil
}
