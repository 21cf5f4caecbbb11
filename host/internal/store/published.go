package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/syncrules/syncrules/host/internal/shop"
)

// The sync's publications: published holds the quantity TikTok last
// accepted per (shop, SKU, warehouse), sync_failures the SKUs whose last
// push TikTok refused, sync_history every publication and refusal.

// SyncTargets returns the linked variants of a shop whose inventory items
// are among those given, with their TikTok SKUs' warehouses and imported
// quantities, by variant id.
func (s *Store) SyncTargets(ctx context.Context, id string, items []string) ([]shop.SyncTarget, error) {
	if checkText(id) != nil {
		return nil, shopNotFound(id)
	}
	if err := checkText(items...); err != nil {
		return nil, fmt.Errorf("sync targets: %w", err)
	}
	var out []shop.SyncTarget
	for batch := range slices.Chunk(slices.Compact(slices.Sorted(slices.Values(items))), maxParams-1) {
		args := []any{id}
		marks := make([]string, len(batch))
		for i, item := range batch {
			args = append(args, item)
			marks[i] = fmt.Sprintf("$%d", len(args))
		}
		// Unordered, so that the (shop, inventory_item_id, link_status)
		// index finds each item: with ORDER BY v.id, SQLite's planner
		// walked the link status index, in id order, through every linked
		// variant of the shop, for every batch.
		page, err := collect(ctx, s.read, scanSyncTarget, `SELECT `+syncTargetColumns+`
			FROM catalog_variants v JOIN catalog_tiktok_skus k ON k.shop = v.shop AND k.id = v.link_sku_id
			WHERE v.shop = $1 AND v.link_status = 'linked' AND v.inventory_item_id IN (`+strings.Join(marks, ", ")+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("read the sync targets of shop %q: %w", id, err)
		}
		out = append(out, page...)
	}
	slices.SortFunc(out, func(a, b shop.SyncTarget) int { return strings.Compare(a.Variant.ID, b.Variant.ID) })
	return out, nil
}

// ExpandAllPending replaces the pending item shop.AllItems by the
// inventory items of every linked variant of the shop, each with a new seq
// and all's cause; items already pending keep theirs. The AllItems row is
// deleted only if its seq is still all's: one recorded since stays.
//
// The seqs follow (TikTok product, item), so that a SyncShop batch, which
// takes items in seq order, holds whole products: in item id order a
// product's variants scatter over batches and each batch sends its own
// call for the product (a whole-shop republish of 3,400 products of three
// variants took 9,976 calls).
func (s *Store) ExpandAllPending(ctx context.Context, id string, all shop.PendingItem) error {
	if checkText(id) != nil {
		return shopNotFound(id)
	}
	if err := checkText(all.Cause); err != nil {
		return fmt.Errorf("expand pending items: %w", err)
	}
	const linked = `SELECT inventory_item_id AS item, MIN(link_product_id) AS product FROM catalog_variants
		WHERE shop = $1 AND link_status = 'linked' AND inventory_item_id <> ''
		GROUP BY inventory_item_id`
	// The items take over the receipt time of the webhook that left all
	// pending (a location changed), for the lag.
	var since int64
	if !all.Since.IsZero() {
		since = micros(all.Since)
	}
	if s.dialect == SQLite {
		if err := s.expandInChunks(ctx, id, all.Cause, since); err != nil {
			return fmt.Errorf("expand the pending items of shop %q: %w", id, err)
		}
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if s.dialect == Postgres {
			if _, err := tx.ExecContext(ctx, `INSERT INTO sync_pending (shop, inventory_item_id, seq, cause, since)
				SELECT $1, item, nextval('sync_pending_seq'), $2, $3 FROM (`+linked+`) d ORDER BY product, item
				ON CONFLICT (shop, inventory_item_id) DO NOTHING`, id, all.Cause, since); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM sync_pending WHERE shop = $1 AND inventory_item_id = $2 AND seq <= $3`,
			id, shop.AllItems, all.Seq)
		return err
	})
	if err != nil {
		return fmt.Errorf("expand the pending items of shop %q: %w", id, err)
	}
	return nil
}

// expandChunk is how many items a SQLite expansion reads per query and
// marks pending per transaction: a transaction of 500 held the writer
// about 20 ms (p90 33 ms), one of 2,000 about 60 ms (up to 160 ms), and
// beside a 100,000-item expansion in those another shop's webhook waited
// up to 1.2 s for the writer (BENCHMARKS.md, "Another shop's webhooks
// during a 100,000-SKU resync"). Set by tests.
var expandChunk = 500

// expandInChunks is ExpandAllPending's insert on SQLite, in short
// statements: SQLite has one writer and the store one connection, and the
// single INSERT … SELECT, for a shop of 100,000 items, held both for about
// 10 s, during which every other shop's webhook waited (or timed out) and
// the queue's fetches failed with SQLITE_BUSY. It reads the linked items
// expandChunk at a time along the item index, on the read connections,
// sorts them by (product, item) in memory (about 8 MB at 100,000: keyset
// pages in that order would each sort the whole shop, without an index on
// the product), and marks them pending expandChunk a transaction; other
// shops' writes take their turns in between. Nothing takes the shop's items meanwhile (its job is the one
// expanding), and an expansion cut short is done again whole: items
// already pending keep their seq.
func (s *Store) expandInChunks(ctx context.Context, id, cause string, since int64) error {
	type linkedItem struct{ item, product string }
	var items []linkedItem
	for after := ""; ; {
		page, err := collect(ctx, s.read, func(r *sql.Rows) (linkedItem, error) {
			var l linkedItem
			var product sql.NullString
			err := r.Scan(&l.item, &product)
			l.product = product.String
			return l, err
		}, `SELECT inventory_item_id, MIN(link_product_id) FROM catalog_variants
			WHERE shop = $1 AND inventory_item_id > $2 AND link_status = 'linked'
			GROUP BY inventory_item_id ORDER BY inventory_item_id LIMIT $3`, id, after, expandChunk)
		if err != nil {
			return err
		}
		items = append(items, page...)
		if len(page) < expandChunk {
			break
		}
		after = page[len(page)-1].item
	}
	slices.SortFunc(items, func(a, b linkedItem) int {
		return cmp.Or(strings.Compare(a.product, b.product), strings.Compare(a.item, b.item))
	})
	for chunk := range slices.Chunk(items, expandChunk) {
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			// The transaction is IMMEDIATE: the counter's values taken are
			// this transaction's alone.
			var last int64
			if err := tx.QueryRowContext(ctx, `UPDATE sync_pending_seq SET last = last + $1 WHERE id = 1 RETURNING last`, len(chunk)).Scan(&last); err != nil {
				return fmt.Errorf("next seq: %w", err)
			}
			seq := last - int64(len(chunk))
			for batch := range slices.Chunk(chunk, maxParams-3) {
				args := []any{id, cause, since}
				values := make([]string, len(batch))
				for j, l := range batch {
					args = append(args, l.item)
					seq++
					values[j] = fmt.Sprintf("($1, $%d, %d, $2, $3)", len(args), seq)
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO sync_pending (shop, inventory_item_id, seq, cause, since) VALUES `+
					strings.Join(values, ", ")+` ON CONFLICT (shop, inventory_item_id) DO NOTHING`, args...); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Published returns the quantities last published for the SKUs given.
func (s *Store) Published(ctx context.Context, id string, skus []string) (map[shop.PublishKey]int, error) {
	if checkText(id) != nil {
		return nil, shopNotFound(id)
	}
	if err := checkText(skus...); err != nil {
		return nil, fmt.Errorf("published quantities: %w", err)
	}
	out := map[shop.PublishKey]int{}
	for batch := range slices.Chunk(skus, maxParams-1) {
		args := []any{id}
		marks := make([]string, len(batch))
		for i, sku := range batch {
			args = append(args, sku)
			marks[i] = fmt.Sprintf("$%d", len(args))
		}
		rows, err := s.read.QueryContext(ctx, `SELECT sku_id, warehouse_id, quantity FROM published
			WHERE shop = $1 AND sku_id IN (`+strings.Join(marks, ", ")+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("read the published quantities of shop %q: %w", id, err)
		}
		for rows.Next() {
			var k shop.PublishKey
			var q int
			if err := rows.Scan(&k.SKUID, &k.WarehouseID, &q); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read the published quantities of shop %q: %w", id, err)
			}
			out[k] = q
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read the published quantities of shop %q: %w", id, err)
		}
	}
	return out, nil
}

// SyncFailures returns the SKUs of a shop whose last push TikTok refused,
// by SKU id.
func (s *Store) SyncFailures(ctx context.Context, id string) ([]shop.SKUFailure, error) {
	if checkText(id) != nil {
		return nil, shopNotFound(id)
	}
	list, err := collect(ctx, s.read, func(r *sql.Rows) (shop.SKUFailure, error) {
		var f shop.SKUFailure
		err := r.Scan(&f.SKUID, &f.Code, &f.Message, &f.RequestID)
		return f, err
	}, `SELECT sku_id, code, message, request_id FROM sync_failures WHERE shop = $1 ORDER BY sku_id`, id)
	if err != nil {
		return nil, fmt.Errorf("read the sync failures of shop %q: %w", id, err)
	}
	return list, nil
}

// RecordPublication records, in one transaction, the quantities TikTok
// accepted (clearing their SKUs' failures), the SKUs it refused, and the
// history entries. ErrNotFound if the shop does not exist.
func (s *Store) RecordPublication(ctx context.Context, id string, p shop.Publication) error {
	if checkText(id) != nil {
		return shopNotFound(id)
	}
	for k := range p.Accepted {
		if err := checkText(k.SKUID, k.WarehouseID); err != nil {
			return fmt.Errorf("record publication: %w", err)
		}
	}
	for _, f := range p.Failed {
		if err := checkText(f.SKUID, f.Code, f.Message, f.RequestID); err != nil {
			return fmt.Errorf("record publication: %w", err)
		}
	}
	for _, h := range p.History {
		if err := checkText(h.SKUID, h.WarehouseID, h.Outcome, h.Cause, string(h.Inputs), string(h.Modules),
			h.RequestID, h.ErrorCode, h.ErrorMsg, string(h.Trace)); err != nil {
			return fmt.Errorf("record publication: %w", err)
		}
	}
	at := micros(now())
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		accepted := map[string]bool{}
		keys := slices.SortedFunc(maps.Keys(p.Accepted), func(a, b shop.PublishKey) int {
			return strings.Compare(a.SKUID+"\x00"+a.WarehouseID, b.SKUID+"\x00"+b.WarehouseID)
		})
		for _, k := range keys {
			accepted[k.SKUID] = true
			if _, err := tx.ExecContext(ctx, `INSERT INTO published (shop, sku_id, warehouse_id, quantity, updated) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (shop, sku_id, warehouse_id) DO UPDATE SET quantity = excluded.quantity, updated = excluded.updated`,
				id, k.SKUID, k.WarehouseID, p.Accepted[k], at); err != nil {
				return fmt.Errorf("published: %w", err)
			}
		}
		for _, sku := range slices.Sorted(maps.Keys(accepted)) {
			if _, err := tx.ExecContext(ctx, `DELETE FROM sync_failures WHERE shop = $1 AND sku_id = $2`, id, sku); err != nil {
				return fmt.Errorf("sync failures: %w", err)
			}
		}
		for _, f := range p.Failed {
			if _, err := tx.ExecContext(ctx, `INSERT INTO sync_failures (shop, sku_id, code, message, request_id, failed) VALUES ($1, $2, $3, $4, $5, $6)
				ON CONFLICT (shop, sku_id) DO UPDATE SET code = excluded.code, message = excluded.message,
					request_id = excluded.request_id, failed = excluded.failed`,
				id, f.SKUID, f.Code, f.Message, f.RequestID, at); err != nil {
				return fmt.Errorf("sync failures: %w", err)
			}
		}
		return insertHistory(ctx, tx, id, at, p.History)
	})
	switch {
	case isForeignKey(err):
		return shopNotFound(id)
	case err != nil:
		return fmt.Errorf("record a publication of shop %q: %w", id, err)
	}
	return nil
}

// jsonText is a JSON document as stored, def when there is none.
func jsonText(doc json.RawMessage, def string) string {
	if len(doc) == 0 {
		return def
	}
	return string(doc)
}

// SyncHistory returns at most limit (<= 0: every) entries of a shop's
// sync history with ids above after, oldest first.
func (s *Store) SyncHistory(ctx context.Context, id string, after int64, limit int) ([]shop.HistoryEntry, error) {
	if checkText(id) != nil {
		return nil, shopNotFound(id)
	}
	list, err := collect(ctx, s.read, scanHistory, `SELECT `+historyColumns+`
		FROM sync_history WHERE shop = $1 AND id > $2 ORDER BY id LIMIT $3`, id, after, pageLimit(limit))
	if err == nil && len(list) == 0 {
		err = shopExists(ctx, s.read, id)
	}
	if err != nil {
		return nil, fmt.Errorf("read the sync history of shop %q: %w", id, err)
	}
	return list, nil
}

// MarkAllPending leaves every item of a shop pending (shop.AllItems) with
// the cause given, and calls enqueue (unless nil) in the same transaction:
// *sql.Tx on SQLite, pgx.Tx on PostgreSQL, as RecordWebhook does. It is a
// change that may unblock the shop's sync (a connect, new settings): it
// counts in sync_unblocks (see SetSyncBlocked). ErrNotFound if the shop
// does not exist.
func (s *Store) MarkAllPending(ctx context.Context, id, cause string, enqueue func(ctx context.Context, tx any) error) error {
	if checkText(id) != nil {
		return shopNotFound(id)
	}
	if err := checkText(cause); err != nil {
		return fmt.Errorf("mark every item pending: %w", err)
	}
	pending := []string{shop.AllItems}
	var err error
	if s.dialect == Postgres {
		err = func() error {
			tx, err := s.pool.Begin(ctx)
			if err != nil {
				return err
			}
			defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }() // a no-op after Commit
			err = upsertPending(id, cause, pending, func(int) string { return "nextval('sync_pending_seq')" },
				func(query string, args ...any) error {
					_, err := tx.Exec(ctx, query, args...)
					return err
				})
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, unblockShop, id); err != nil {
				return err
			}
			if enqueue != nil {
				if err := enqueue(ctx, tx); err != nil {
					return err
				}
			}
			return tx.Commit(ctx)
		}()
	} else {
		err = s.inTx(ctx, func(tx *sql.Tx) error {
			var last int64
			if err := tx.QueryRowContext(ctx, `UPDATE sync_pending_seq SET last = last + 1 WHERE id = 1 RETURNING last`).Scan(&last); err != nil {
				return fmt.Errorf("next seq: %w", err)
			}
			err := upsertPending(id, cause, pending, func(int) string { return fmt.Sprint(last) },
				func(query string, args ...any) error {
					_, err := tx.ExecContext(ctx, query, args...)
					return err
				})
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, unblockShop, id); err != nil {
				return err
			}
			if enqueue == nil {
				return nil
			}
			return enqueue(ctx, tx)
		})
	}
	switch {
	case isForeignKey(err):
		return shopNotFound(id)
	case err != nil:
		return fmt.Errorf("mark every item of shop %q pending: %w", id, err)
	}
	return nil
}
