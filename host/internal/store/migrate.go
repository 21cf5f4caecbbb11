package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Migrations holds one folder per dialect with the same versions:
// migrations/sqlite/NNNNN_what.sql and migrations/postgres/NNNNN_what.sql.
//
//go:embed migrations
var migrations embed.FS

// migrationLockID is the PostgreSQL advisory lock replicas take to migrate
// one at a time; distinct from goose's default so that another goose user
// sharing the server does not wait on us.
const migrationLockID int64 = 0x73796e6372756c // "syncrul"

// migrate brings the schema to the newest version.
func (s *Store) migrate(ctx context.Context) error {
	dialect := goose.DialectSQLite3
	if s.dialect == Postgres {
		dialect = goose.DialectPostgres
	}
	dir, err := fs.Sub(migrations, "migrations/"+s.dialect)
	if err != nil {
		return err
	}
	opts := []goose.ProviderOption{
		goose.WithDisableGlobalRegistry(true),
		goose.WithSlog(slog.New(slog.DiscardHandler)), // we log the results below
	}
	if s.dialect == Postgres {
		// Retry each second for up to 5 minutes: the lock's holder is
		// another replica migrating.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrationLockID), lock.WithLockTimeout(1, 300))
		if err != nil {
			return err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	// No Close: the provider's Close would close s.db.
	p, err := goose.NewProvider(dialect, s.db, dir, opts...)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	start := time.Now()
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("store: migrate the %s schema: %w", s.dialect, err)
	}
	for _, r := range results {
		s.log.Info("schema migrated", "dialect", s.dialect, "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
	}
	version, err := p.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("store: read the schema version: %w", err)
	}
	s.log.Debug("database ready", "dialect", s.dialect, "schema", version, "duration", time.Since(start))
	return nil
}
