// Package storetest opens stores for tests: SQLite in a temporary folder,
// and PostgreSQL in a fresh database when SYNCRULES_TEST_POSTGRES names a
// server, so that one suite runs on both engines.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/syncrules/syncrules/host/internal/store"
)

// EnvPostgres names a PostgreSQL server on which tests may CREATE
// DATABASE, such as what .ci/postgres prints.
const EnvPostgres = "SYNCRULES_TEST_POSTGRES"

var quiet = slog.New(slog.DiscardHandler)

// SQLite opens a store in dir, closed when the test ends.
func SQLite(tb testing.TB, dir string) *store.Store {
	tb.Helper()
	return open(tb, store.Options{DataDir: dir, Logger: quiet})
}

// Postgres opens a store in a fresh PostgreSQL database, dropped when the
// test ends. Without SYNCRULES_TEST_POSTGRES it skips the test.
func Postgres(tb testing.TB) *store.Store {
	tb.Helper()
	return open(tb, store.Options{DSN: FreshPostgres(tb), Logger: quiet})
}

// Engines name the engines Replicas opens.
var Engines = []string{"sqlite", "postgres"}

// Replicas opens two stores on one database of the engine ("sqlite" or
// "postgres"), as two replicas (or two processes) would, closed when the
// test ends. PostgreSQL's database is fresh; without SYNCRULES_TEST_POSTGRES
// it skips the test.
func Replicas(tb testing.TB, engine string) [2]*store.Store {
	tb.Helper()
	opt := store.Options{Logger: quiet}
	switch engine {
	case "sqlite":
		opt.DataDir = tb.TempDir()
	case "postgres":
		opt.DSN = FreshPostgres(tb)
	default:
		tb.Fatalf("storetest: no engine %q", engine)
	}
	return [2]*store.Store{open(tb, opt), open(tb, opt)}
}

func open(tb testing.TB, opt store.Options) *store.Store {
	tb.Helper()
	s, err := store.Open(context.Background(), opt)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// FreshPostgres creates an empty database, dropped when the test ends, and
// returns its DSN. Without SYNCRULES_TEST_POSTGRES it skips the test, with
// a message that says how to run it.
func FreshPostgres(tb testing.TB) string {
	tb.Helper()
	admin := os.Getenv(EnvPostgres)
	if admin == "" {
		tb.Skip("PostgreSQL: SYNCRULES_TEST_POSTGRES not set; see README (Testing on PostgreSQL)")
	}
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		tb.Fatalf("%s must be a postgres:// URL of a user who may CREATE DATABASE", EnvPostgres)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "syncrules_test_" + hex.EncodeToString(b)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		tb.Fatalf("connect to %s: %v", EnvPostgres, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	// Registered before the store's Close, so it runs after it.
	tb.Cleanup(func() {
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			tb.Errorf("drop test database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("drop test database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}
