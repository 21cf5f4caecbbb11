package sync

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivermigrate"
)

// riverMigrationLockID is the PostgreSQL advisory lock that replicas take to
// migrate River's tables one at a time: rivermigrate takes none, and two
// replicas applying the same version at once would fail on the second's
// CREATE TABLE. Distinct from the store's lock (same prefix, "syncriv").
const riverMigrationLockID int64 = 0x73796e63726976

// lockFunc serializes migrations; it returns the unlock.
type lockFunc func(ctx context.Context) (unlock func(), err error)

// noLock is the lockFunc of a database only this process migrates.
func noLock(context.Context) (func(), error) { return func() {}, nil }

// migrate brings River's tables to the version this River needs, under lock.
func migrate[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], log *slog.Logger, lock lockFunc) error {
	unlock, err := lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)}) // we log the results below
	if err != nil {
		return fmt.Errorf("sync: River migrations: %w", err)
	}
	start := time.Now()
	res, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return fmt.Errorf("sync: migrate River's tables: %w", err)
	}
	for _, v := range res.Versions {
		log.Info("queue schema migrated", "version", v.Version, "name", v.Name, "duration", v.Duration)
	}
	log.Debug("queue schema ready", "duration", time.Since(start))
	return nil
}

// lockPostgres holds a session advisory lock on a connection of its own
// while River's migrations run on the pool. pg_advisory_lock waits for a
// replica that is migrating; ctx bounds the wait.
func lockPostgres(pool *pgxpool.Pool) lockFunc {
	return func(ctx context.Context) (func(), error) {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			return nil, fmt.Errorf("sync: connect to PostgreSQL to migrate River's tables: %w", err)
		}
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, riverMigrationLockID); err != nil {
			conn.Release()
			return nil, fmt.Errorf("sync: wait for another replica migrating River's tables: %w", err)
		}
		return func() {
			// On failure, drop the connection: closing it frees the lock.
			if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, riverMigrationLockID); err != nil {
				conn.Conn().Close(context.Background())
			}
			conn.Release()
		}, nil
	}
}
