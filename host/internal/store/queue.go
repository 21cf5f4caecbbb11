package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// SQLiteFile is the path of the SQLite database's file as SQLite resolved
// it, rather than a copy kept from Open: every handle then names the same
// file.
func (s *Store) SQLiteFile(ctx context.Context) (string, error) {
	if s.dialect != SQLite {
		return "", errors.New("store: the database is not SQLite")
	}
	var seq int
	var name, path string
	if err := s.db.QueryRowContext(ctx, `PRAGMA database_list`).Scan(&seq, &name, &path); err != nil {
		return "", fmt.Errorf("store: find the SQLite file: %w", err)
	}
	if name != "main" || path == "" {
		return "", fmt.Errorf("store: the SQLite database %q has no file", name)
	}
	return path, nil
}

// HasPendingTx reports whether the shop has inventory items waiting for
// its sync, read in tx: the queue's own transaction that completes the
// shop's job (a *sql.Tx on SQLite, a pgx.Tx on PostgreSQL), so that a webhook committed before it is seen and one
// committed after it queues a new job. A paused shop has nothing pending
// for its job, which then ends; resuming it enqueues a new one. So has a
// shop its sync found blocked (SetSyncBlocked) unless a change that may
// unblock it committed since.
func (s *Store) HasPendingTx(ctx context.Context, tx any, shop string) (bool, error) {
	const q = `SELECT EXISTS (SELECT 1 FROM sync_pending p JOIN shops s ON s.id = p.shop
		WHERE p.shop = $1 AND NOT s.sync_paused AND s.sync_blocked <> s.sync_unblocks)`
	var pending bool
	var err error
	switch tx := tx.(type) {
	case *sql.Tx:
		err = tx.QueryRowContext(ctx, q, shop).Scan(&pending)
	case pgx.Tx:
		err = tx.QueryRow(ctx, q, shop).Scan(&pending)
	default:
		return false, fmt.Errorf("store: pending items of shop %q: a %T is not a transaction of either engine", shop, tx)
	}
	if err != nil {
		return false, fmt.Errorf("store: pending items of shop %q: %w", shop, err)
	}
	return pending, nil
}
