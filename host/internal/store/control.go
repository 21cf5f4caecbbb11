package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/syncrules/syncrules/host/internal/shop"
)

// The sync's controls (pause, resume, the queue's nudges) and the figures
// its status shows.

// queueTx runs fn in a transaction that enqueue, unless nil, joins once fn
// succeeded: a *sql.Tx on SQLite, a pgx.Tx on PostgreSQL (begun on Pool),
// the transactions the queue's EnqueueTx takes. fn gets a querier over the
// same transaction. enqueue runs only when fn reports true.
func (s *Store) queueTx(ctx context.Context, fn func(q txQuerier) (bool, error), enqueue func(ctx context.Context, tx any) error) error {
	if s.dialect == Postgres {
		tx, err := s.pool.Begin(ctx)
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }() // a no-op after Commit
		call, err := fn(pgxQuerier{ctx, tx})
		if err != nil {
			return err
		}
		if call && enqueue != nil {
			if err := enqueue(ctx, tx); err != nil {
				return err
			}
		}
		return tx.Commit(ctx)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		call, err := fn(sqlQuerier{ctx, tx})
		if err != nil || !call || enqueue == nil {
			return err
		}
		return enqueue(ctx, tx)
	})
}

// txQuerier is the little queueTx's functions need of either engine's
// transaction.
type txQuerier interface {
	exec(query string, args ...any) (rows int64, err error)
	queryRow(query string, args ...any) interface{ Scan(...any) error }
}

type sqlQuerier struct {
	ctx context.Context
	tx  *sql.Tx
}

func (q sqlQuerier) exec(query string, args ...any) (int64, error) {
	res, err := q.tx.ExecContext(q.ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q sqlQuerier) queryRow(query string, args ...any) interface{ Scan(...any) error } {
	return q.tx.QueryRowContext(q.ctx, query, args...)
}

type pgxQuerier struct {
	ctx context.Context
	tx  pgx.Tx
}

func (q pgxQuerier) exec(query string, args ...any) (int64, error) {
	tag, err := q.tx.Exec(q.ctx, query, args...)
	return tag.RowsAffected(), err
}

func (q pgxQuerier) queryRow(query string, args ...any) interface{ Scan(...any) error } {
	return q.tx.QueryRow(q.ctx, query, args...)
}

// SetSyncPaused pauses or resumes a shop's sync. Resuming calls enqueue
// (unless nil) in the same transaction, so that the shop's job catches up
// with what was recorded while it was paused. ErrNotFound if the shop does
// not exist.
func (s *Store) SetSyncPaused(ctx context.Context, id string, paused bool, enqueue func(ctx context.Context, tx any) error) error {
	if checkText(id) != nil {
		return shopNotFound(id)
	}
	var missing bool
	err := s.queueTx(ctx, func(q txQuerier) (bool, error) {
		n, err := q.exec(`UPDATE shops SET sync_paused = $2, sync_unblocks = sync_unblocks + CASE WHEN $2 THEN 0 ELSE 1 END WHERE id = $1`, id, paused)
		missing = err == nil && n == 0
		return !paused && !missing, err
	}, enqueue)
	switch {
	case err != nil:
		return fmt.Errorf("set the sync of shop %q paused=%t: %w", id, paused, err)
	case missing:
		return shopNotFound(id)
	}
	return nil
}

// EnqueuePending records a change that may unblock the shop's sync (new
// credentials), and calls enqueue in the same transaction if the shop is
// not paused and has items pending, and reports whether it did: its job
// takes up what waited. ErrNotFound if the shop does not exist.
func (s *Store) EnqueuePending(ctx context.Context, id string, enqueue func(ctx context.Context, tx any) error) (bool, error) {
	if checkText(id) != nil {
		return false, shopNotFound(id)
	}
	var pending, missing bool
	err := s.queueTx(ctx, func(q txQuerier) (bool, error) {
		var paused bool
		err := q.queryRow(`UPDATE shops SET sync_unblocks = sync_unblocks + 1 WHERE id = $1
			RETURNING sync_paused, EXISTS (SELECT 1 FROM sync_pending WHERE shop = $1)`, id).
			Scan(&paused, &pending)
		if errors.Is(err, sql.ErrNoRows) || errors.Is(err, pgx.ErrNoRows) {
			missing = true
			return false, nil
		}
		pending = pending && !paused
		return pending, err
	}, enqueue)
	switch {
	case err != nil:
		return false, fmt.Errorf("enqueue the pending items of shop %q: %w", id, err)
	case missing:
		return false, shopNotFound(id)
	}
	return pending, nil
}

// SyncCounts returns the figures of a shop's sync status, each read
// through an index: its pending items, its failing SKUs with the most
// recent failures (at most failures of them), and its last publication.
// ErrNotFound if the shop does not exist.
func (s *Store) SyncCounts(ctx context.Context, id string, failures int) (shop.SyncCounts, error) {
	if checkText(id) != nil {
		return shop.SyncCounts{}, shopNotFound(id)
	}
	var c shop.SyncCounts
	var last, oldest sql.NullInt64
	// The oldest receipt reads the rows the count reads: no index more.
	err := s.read.QueryRowContext(ctx, `SELECT
			(SELECT COUNT(*) FROM sync_pending WHERE shop = $1 AND inventory_item_id <> $2),
			EXISTS (SELECT 1 FROM sync_pending WHERE shop = $1 AND inventory_item_id = $2),
			(SELECT COUNT(*) FROM sync_failures WHERE shop = $1),
			(SELECT MAX(updated) FROM published WHERE shop = $1),
			(SELECT MIN(since) FROM sync_pending WHERE shop = $1 AND since > 0)
		FROM shops WHERE id = $1`, id, shop.AllItems).Scan(&c.Pending, &c.AllPending, &c.Failing, &last, &oldest)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return shop.SyncCounts{}, shopNotFound(id)
	case err != nil:
		return shop.SyncCounts{}, fmt.Errorf("read the sync counts of shop %q: %w", id, err)
	}
	if last.Valid {
		c.LastPublished = fromMicros(last.Int64)
	}
	if oldest.Valid {
		c.OldestPending = fromMicros(oldest.Int64)
	}
	if failures > 0 && c.Failing > 0 {
		c.Failures, err = collect(ctx, s.read, func(r *sql.Rows) (shop.SKUFailureAt, error) {
			var f shop.SKUFailureAt
			var at int64
			err := r.Scan(&f.SKUID, &f.Code, &f.Message, &f.RequestID, &at)
			f.Time = fromMicros(at)
			return f, err
		}, `SELECT sku_id, code, message, request_id, failed FROM sync_failures WHERE shop = $1
			ORDER BY failed DESC, sku_id LIMIT $2`, id, failures)
		if err != nil {
			return shop.SyncCounts{}, fmt.Errorf("read the sync failures of shop %q: %w", id, err)
		}
	}
	return c, nil
}

// LinkedItems counts the inventory items of a shop's linked variants:
// what a resync reads and publishes.
func (s *Store) LinkedItems(ctx context.Context, id string) (int64, error) {
	if checkText(id) != nil {
		return 0, shopNotFound(id)
	}
	var n int64
	err := s.read.QueryRowContext(ctx, `SELECT COUNT(DISTINCT inventory_item_id) FROM catalog_variants
		WHERE shop = $1 AND link_status = 'linked' AND inventory_item_id <> ''`, id).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count the linked items of shop %q: %w", id, err)
	}
	return n, nil
}

// SetSyncBlocked records that the shop's sync found it blocked, as of the
// shop's sync_unblocks it read (Shop.SyncUnblocks): its job then sees
// nothing pending and ends. If a change that may unblock it committed
// since (the count moved), nothing is recorded. blocked false clears the
// record, once the sync is no longer blocked.
func (s *Store) SetSyncBlocked(ctx context.Context, id string, blocked bool, unblocks int64) error {
	if checkText(id) != nil {
		return shopNotFound(id)
	}
	at := int64(-1)
	if blocked {
		at = unblocks
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE shops SET sync_blocked = $2 WHERE id = $1 AND sync_unblocks = $3`, id, at, unblocks); err != nil {
		return fmt.Errorf("record the sync of shop %q blocked=%t: %w", id, blocked, err)
	}
	return nil
}

// unblockShop counts a change that may unblock a shop's sync.
const unblockShop = `UPDATE shops SET sync_unblocks = sync_unblocks + 1 WHERE id = $1`
