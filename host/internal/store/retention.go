package store

import (
	"context"
	"fmt"
	"time"
)

// pruneBatch is how many rows one DELETE of a prune removes. A prune
// deletes in batches, each its own statement, so that on SQLite, where
// the API's writes and the cleanup share one connection, a write waits for
// one batch at most, not for a whole day of history.
var pruneBatch = 5000

// PruneSyncHistory deletes the sync history entries recorded before a
// time, of every shop, and returns how many.
func (s *Store) PruneSyncHistory(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.pruneBatches(ctx, `DELETE FROM sync_history WHERE id IN
		(SELECT id FROM sync_history WHERE at < $1 ORDER BY id LIMIT $2)`, micros(before))
	if err != nil {
		return n, fmt.Errorf("prune the sync history: %w", err)
	}
	return n, nil
}

// pruneBatches runs a DELETE of at most $2 rows matching $1 until one
// deletes fewer, and returns the rows deleted.
func (s *Store) pruneBatches(ctx context.Context, query string, before int64) (int64, error) {
	var total int64
	for {
		res, err := s.db.ExecContext(ctx, query, before, pruneBatch)
		if err != nil {
			return total, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += n
		if n < int64(pruneBatch) {
			return total, nil
		}
	}
}
