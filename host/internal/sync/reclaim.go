package sync

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
)

// On SQLite one process works the queue: Start locks a file beside the
// database for as long as the queue runs, so a second server on the same
// data folder is refused instead of running every shop's job twice. Holding
// that lock, the jobs River still records as running can only be those of
// a process that died (kill -9, power loss): Start makes them available
// again at once, where River's rescuer would wait 2 × job timeout + 1 min
// (RATIONALE.md, "Why does a queue on SQLite take back its running jobs at
// start?"). On PostgreSQL, replicas share the queue and the rescuer stays
// the only way back.

// errQueueLocked is the lock being held by another process.
var errQueueLocked = errors.New("another process runs the sync queue on this database")

// lockPath is the queue's lock file for the SQLite database at file.
func lockPath(file string) string { return file + ".queue-lock" }

// claimQueue locks the queue of the SQLite database at file and makes the
// jobs left running by a dead process available. The caller closes the
// lock file when the queue stops.
func claimQueue(ctx context.Context, db *sql.DB, file string) (*os.File, int64, error) {
	lock, err := lockFile(lockPath(file))
	if errors.Is(err, errQueueLocked) {
		return nil, 0, fmt.Errorf("sync: %w (%s is locked): another syncrules serve uses the data folder; "+
			"stop it, or give each server its own data folder (replicas share one PostgreSQL database instead)", err, lockPath(file))
	}
	if err != nil {
		return nil, 0, fmt.Errorf("sync: lock the queue: %w", err)
	}
	res, err := db.ExecContext(ctx, `UPDATE river_job SET state = 'available', scheduled_at = datetime('now', 'subsec')
		WHERE state = 'running'`)
	if err != nil {
		lock.Close()
		return nil, 0, fmt.Errorf("sync: take back the jobs of a stopped process: %w", err)
	}
	n, _ := res.RowsAffected()
	return lock, n, nil
}
