package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// queueConns is how many connections the job queue's handle may open: its
// fetches, completions and maintenance overlap, and WAL lets its readers
// run beside the one writer.
const queueConns = 4

// OpenQueueDB opens a second handle on the SQLite file, for the job queue
// (host/internal/sync), so that the queue's own work never waits for, nor
// holds, the single writing connection the API's writes share. Like the store's,
// its transactions start IMMEDIATE and it waits up to 5 s for the write
// lock. The caller closes it. On PostgreSQL the queue uses Pool instead,
// and OpenQueueDB refuses.
func (s *Store) OpenQueueDB(ctx context.Context) (*sql.DB, error) {
	if s.dialect != SQLite {
		return nil, errors.New("store: OpenQueueDB is for SQLite; on PostgreSQL the queue shares the store's Pool")
	}
	path, err := s.SQLiteFile(ctx)
	if err != nil {
		return nil, err
	}
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open the queue's SQLite handle: %w", err)
	}
	db.SetMaxOpenConns(queueConns)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open the queue's SQLite handle: %w", err)
	}
	return db, nil
}

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
// shop's job (a *sql.Tx on the queue's SQLite handle, a pgx.Tx on
// PostgreSQL), so that a webhook committed before it is seen and one
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
