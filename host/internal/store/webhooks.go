package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/syncrules/syncrules/host/internal/shop"
)

// Webhooks are recorded in webhook_receipts, once per (shop, webhook id),
// and leave inventory items pending in sync_pending until the shop's sync
// takes them. Each upsert of a pending item gives it a new seq, from
// SQLite's counter row or PostgreSQL's sequence: the sync deletes only the
// rows whose seq it read, so a webhook that arrives while it works leaves
// its item pending.

// RecordWebhook records a webhook receipt and, unless its webhook id is
// recorded already, upserts items (and shop.AllItems when all) as pending
// and calls enqueue (unless nil) in the same transaction, which commits
// only if every step succeeds. enqueue gets the transaction: *sql.Tx on SQLite (the
// store's only connection), pgx.Tx on PostgreSQL (begun on Pool), for a
// queue that inserts its job in it (the PostgreSQL one is a *pgxpool.Tx,
// which implements pgx.Tx). A duplicate commits nothing new and
// calls no enqueue. ErrNotFound if the shop does not exist.
func (s *Store) RecordWebhook(ctx context.Context, r shop.WebhookReceipt, items []string, all bool,
	enqueue func(ctx context.Context, tx any) error) (duplicate bool, err error) {
	if checkText(r.Shop) != nil {
		return false, shopNotFound(r.Shop)
	}
	if err := checkText(append([]string{r.WebhookID, r.Topic, r.TriggeredAt}, items...)...); err != nil {
		return false, fmt.Errorf("record webhook: %w", err)
	}
	pending := slices.Clone(items)
	if all {
		pending = append(pending, shop.AllItems)
	}
	slices.Sort(pending)
	// One row each: PostgreSQL refuses an upsert that touches a row twice.
	pending = slices.Compact(pending)
	received := r.Received
	if received.IsZero() {
		received = now()
	}
	sum := sha256.Sum256(r.Body)
	receipt := []any{r.Shop, r.WebhookID, r.Topic, micros(received), r.TriggeredAt, sum[:], emptyIfNil(r.Body)}
	const insertReceipt = `INSERT INTO webhook_receipts (shop, webhook_id, topic, received, triggered_at, body_sha256, body)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (shop, webhook_id) DO NOTHING`
	if s.dialect == Postgres {
		duplicate, err = s.recordPostgres(ctx, receipt, insertReceipt, r.Shop, r.WebhookID, micros(received), pending, enqueue)
	} else {
		duplicate, err = s.recordSQLite(ctx, receipt, insertReceipt, r.Shop, r.WebhookID, micros(received), pending, enqueue)
	}
	switch {
	case isForeignKey(err):
		return false, shopNotFound(r.Shop)
	case err != nil:
		return false, fmt.Errorf("record webhook %q of shop %q: %w", r.WebhookID, r.Shop, err)
	}
	return duplicate, nil
}

func (s *Store) recordSQLite(ctx context.Context, receipt []any, insertReceipt, shopID, cause string, since int64, pending []string,
	enqueue func(ctx context.Context, tx any) error) (duplicate bool, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, insertReceipt, receipt...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			duplicate = true
			return nil
		}
		if len(pending) > 0 {
			// The transaction is IMMEDIATE: it holds the write lock, so
			// the counter's values are this transaction's alone.
			var last int64
			if err := tx.QueryRowContext(ctx, `UPDATE sync_pending_seq SET last = last + $1 WHERE id = 1 RETURNING last`,
				len(pending)).Scan(&last); err != nil {
				return fmt.Errorf("next seq: %w", err)
			}
			next := last - int64(len(pending))
			err := upsertPendingSince(shopID, cause, since, pending, func(int) string { next++; return fmt.Sprint(next) },
				func(query string, args ...any) error {
					_, err := tx.ExecContext(ctx, query, args...)
					return err
				})
			if err != nil {
				return err
			}
		}
		if enqueue == nil {
			return nil
		}
		return enqueue(ctx, tx)
	})
	return duplicate, err
}

func (s *Store) recordPostgres(ctx context.Context, receipt []any, insertReceipt, shopID, cause string, since int64, pending []string,
	enqueue func(ctx context.Context, tx any) error) (duplicate bool, err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }() // a no-op after Commit
	tag, err := tx.Exec(ctx, insertReceipt, receipt...)
	if err != nil {
		return false, err
	}
	if tag.RowsAffected() == 0 {
		return true, nil
	}
	err = upsertPendingSince(shopID, cause, since, pending, func(int) string { return "nextval('sync_pending_seq')" },
		func(query string, args ...any) error {
			_, err := tx.Exec(ctx, query, args...)
			return err
		})
	if err != nil {
		return false, err
	}
	if enqueue != nil {
		if err := enqueue(ctx, tx); err != nil {
			return false, err
		}
	}
	return false, tx.Commit(ctx)
}

// upsertPending upserts pending items of a shop in statements of at most
// maxParams parameters; seq gives the SQL of the i-th item's seq.
func upsertPending(shopID, cause string, pending []string, seq func(i int) string, exec func(query string, args ...any) error) error {
	return upsertPendingSince(shopID, cause, 0, pending, seq, exec)
}

// upsertPendingSince is upsertPending for items a webhook received at
// since (microseconds; 0: no webhook) leaves pending. An item already
// pending keeps its since, the earliest receipt it waits for, unless it
// had none.
func upsertPendingSince(shopID, cause string, since int64, pending []string, seq func(i int) string, exec func(query string, args ...any) error) error {
	i := 0
	for batch := range slices.Chunk(pending, maxParams-3) {
		args := []any{shopID, cause, since}
		values := make([]string, len(batch))
		for j, item := range batch {
			args = append(args, item)
			values[j] = fmt.Sprintf("($1, $%d, %s, $2, $3)", len(args), seq(i))
			i++
		}
		if err := exec(`INSERT INTO sync_pending (shop, inventory_item_id, seq, cause, since) VALUES `+strings.Join(values, ", ")+`
			ON CONFLICT (shop, inventory_item_id) DO UPDATE SET seq = excluded.seq, cause = excluded.cause,
				since = CASE WHEN sync_pending.since = 0 THEN excluded.since ELSE sync_pending.since END`, args...); err != nil {
			return fmt.Errorf("mark items pending: %w", err)
		}
	}
	return nil
}

// PendingItems returns at most limit (<= 0: every) pending items of a
// shop, oldest seq first. ErrNotFound if the shop does not exist.
func (s *Store) PendingItems(ctx context.Context, id string, limit int) ([]shop.PendingItem, error) {
	if checkText(id) != nil {
		return nil, shopNotFound(id)
	}
	items, err := collect(ctx, s.read, func(r *sql.Rows) (shop.PendingItem, error) {
		var p shop.PendingItem
		var since int64
		err := r.Scan(&p.InventoryItemID, &p.Seq, &p.Cause, &since)
		if since != 0 {
			p.Since = fromMicros(since)
		}
		return p, err
	}, `SELECT inventory_item_id, seq, cause, since FROM sync_pending WHERE shop = $1 ORDER BY seq LIMIT $2`, id, pageLimit(limit))
	if err == nil && len(items) == 0 {
		err = shopExists(ctx, s.read, id)
	}
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("read the pending items of shop %q: %w", id, err)
	}
	return items, nil
}

// PendingSince returns when the oldest webhook that left one of the
// shop's items pending was received, if every pending item was left by a
// webhook received after cutoff: the sync, coalescing a burst, waits for
// it to age. It returns the zero time, nothing to wait for, when an item
// was received at or before cutoff, when one was left pending by no
// webhook (a resync, a settings change: nothing to coalesce), or when none
// is pending.
func (s *Store) PendingSince(ctx context.Context, id string, cutoff time.Time) (time.Time, error) {
	// The EXISTS stops at the first item due, usually the first row read
	// (a resync's items have no receipt); the MIN reads the whole burst
	// only when every item is young, so when there are few.
	var since int64
	err := s.read.QueryRowContext(ctx, `SELECT CASE WHEN EXISTS (SELECT 1 FROM sync_pending WHERE shop = $1 AND since <= $2) THEN 0
		ELSE (SELECT COALESCE(MIN(since), 0) FROM sync_pending WHERE shop = $1) END`, id, micros(cutoff)).Scan(&since)
	if err != nil {
		return time.Time{}, fmt.Errorf("read when the pending items of shop %q were received: %w", id, err)
	}
	if since == 0 {
		return time.Time{}, nil
	}
	return fromMicros(since), nil
}

// TakePending deletes the pending items given whose seq is still at most
// the one given: an item a webhook named again since stays pending.
// Items not pending are ignored.
func (s *Store) TakePending(ctx context.Context, id string, items []shop.PendingItem) error {
	if checkText(id) != nil {
		return shopNotFound(id)
	}
	for _, p := range items {
		if err := checkText(p.InventoryItemID); err != nil {
			return fmt.Errorf("take pending items: %w", err)
		}
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for batch := range slices.Chunk(items, (maxParams-1)/2) {
			args := []any{id}
			conds := make([]string, len(batch))
			items := make([]string, len(batch))
			for i, p := range batch {
				args = append(args, p.InventoryItemID, p.Seq)
				conds[i] = fmt.Sprintf("(inventory_item_id = $%d AND seq <= $%d)", len(args)-1, len(args))
				items[i] = fmt.Sprintf("$%d", len(args)-1)
			}
			// The IN list lets SQLite find each row by the primary key;
			// with the ORs alone it scanned the shop's pending items for
			// every batch.
			if _, err := tx.ExecContext(ctx, `DELETE FROM sync_pending WHERE shop = $1 AND inventory_item_id IN (`+strings.Join(items, ", ")+`)
				AND (`+strings.Join(conds, " OR ")+`)`, args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("take %d pending items of shop %q: %w", len(items), id, err)
	}
	return nil
}

// ProductInventoryItems returns the inventory items of the variants of a
// product in a shop's catalog, by variant id; none for a product or shop
// the catalog does not have.
func (s *Store) ProductInventoryItems(ctx context.Context, id, productID string) ([]string, error) {
	if checkText(id, productID) != nil {
		return nil, nil
	}
	items, err := collect(ctx, s.read, func(r *sql.Rows) (string, error) {
		var item string
		err := r.Scan(&item)
		return item, err
	}, `SELECT inventory_item_id FROM catalog_variants WHERE shop = $1 AND product_id = $2 AND inventory_item_id <> '' ORDER BY id`, id, productID)
	if err != nil {
		return nil, fmt.Errorf("read the inventory items of product %q of shop %q: %w", productID, id, err)
	}
	return items, nil
}

// PruneWebhookReceipts deletes the receipts received before a time, and
// returns how many: Shopify retries a webhook for hours, not weeks, so old
// receipts dedupe nothing.
func (s *Store) PruneWebhookReceipts(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.pruneBatches(ctx, `DELETE FROM webhook_receipts WHERE (shop, webhook_id) IN
		(SELECT shop, webhook_id FROM webhook_receipts WHERE received < $1 LIMIT $2)`, micros(before))
	if err != nil {
		return n, fmt.Errorf("prune webhook receipts: %w", err)
	}
	return n, nil
}
