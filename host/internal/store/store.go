// Package store keeps the service's state in SQL: shops and the history of
// their settings, sealed credentials, API tokens, plugin ownership, and
// each connected shop's catalog with the runs that import it. It is the
// only package that speaks SQL.
//
// Two engines serve the same code through database/sql: SQLite (the embedded
// default, one file in the data folder) and PostgreSQL (pgx), which several
// replicas may share. Queries use $1-style placeholders: PostgreSQL's own,
// and SQLite binds $N to the Nth argument too, so no rewriting is needed.
// Opening a store migrates its schema; on PostgreSQL an advisory lock lets
// replicas that start together migrate one at a time.
//
// Usage:
//
//	s, err := store.Open(ctx, store.Options{DataDir: "data"})
//	if err != nil { ... }
//	defer s.Close()
//	created, err := s.PutShop(ctx, store.Shop{ID: "acme", Name: "Acme"}, nil)
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/syncrules/syncrules/host/internal/registry"
	"github.com/syncrules/syncrules/host/internal/shop"
)

// Errors a caller tests with errors.Is: the application layer's, which
// this package implements the Store of.
var (
	ErrNotFound        = shop.ErrNotFound
	ErrVersionMismatch = shop.ErrVersionMismatch
	ErrExists          = shop.ErrExists
	ErrBusy            = shop.ErrBusy
	ErrInvalid         = shop.ErrInvalidText
	ErrConnected       = shop.ErrConnected
)

// Dialects Dialect returns.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

var schemeRE = regexp.MustCompile(`^[a-z][a-z0-9+.-]{0,15}$`)

// Options configure Open.
type Options struct {
	// DSN selects the database: "" is the SQLite file DataDir/syncrules.db,
	// "sqlite:PATH" an SQLite file elsewhere, "postgres://…" or
	// "postgresql://…" a PostgreSQL database.
	DSN string
	// DataDir holds the default SQLite file; created if missing.
	DataDir string
	// Existing refuses to create an SQLite database: a command that
	// manages a server's store must find it, not start an empty one.
	Existing bool
	Logger   *slog.Logger
}

// NoStoreError is Open's error for a missing SQLite database when
// Options.Existing is set.
type NoStoreError struct{ Path string }

func (e *NoStoreError) Error() string { return "no store at " + e.Path }

// Store is the service's database. It is safe for concurrent use.
type Store struct {
	db *sql.DB
	// read serves the reads made outside a transaction. On SQLite it is a
	// pool of query-only connections beside db's single writer: WAL lets
	// them read while a write is in progress, so a token lookup never
	// queues behind a write (the job queue's among them). On PostgreSQL
	// it is db.
	read    *sql.DB
	pool    *pgxpool.Pool // nil on SQLite
	dialect string
	log     *slog.Logger
	// lockShop ends a SELECT of one shops row so that the transaction holds
	// the row until it ends. SQLite needs none: its transactions start
	// IMMEDIATE, holding the database's write lock.
	lockShop string
	// lockShare ends a SELECT of rows the transaction needs to stay as
	// they are until it ends, without excluding other readers.
	lockShare string
}

// Open connects to the database opt.DSN names and migrates its schema.
func Open(ctx context.Context, opt Options) (*Store, error) {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	s := &Store{log: opt.Logger}
	var err error
	switch dsn := opt.DSN; {
	case dsn == "":
		if opt.DataDir == "" {
			return nil, errors.New("store: no data folder for the SQLite database: set the data folder or a database DSN")
		}
		err = s.openSQLite(filepath.Join(opt.DataDir, "syncrules.db"), opt.Existing)
	case strings.HasPrefix(dsn, "sqlite:"):
		err = s.openSQLite(strings.TrimPrefix(dsn, "sqlite:"), opt.Existing)
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		err = s.openPostgres(ctx, dsn)
	default:
		// Never echo the DSN: it may hold a password. A scheme is safe.
		what := "database DSN"
		if scheme, _, ok := strings.Cut(dsn, "://"); ok && schemeRE.MatchString(scheme) {
			what = fmt.Sprintf("database DSN scheme %q", scheme)
		}
		return nil, fmt.Errorf("store: unsupported %s: use \"\" (SQLite in the data folder), \"sqlite:PATH\", or \"postgres://user:password@host:port/database\"", what)
	}
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) openSQLite(path string, existing bool) error {
	if path == "" {
		return errors.New("store: \"sqlite:\" needs a file path, such as sqlite:data/syncrules.db")
	}
	if strings.ContainsAny(path, "?#") {
		return fmt.Errorf("store: SQLite path %q must not contain ? or #", path)
	}
	if existing {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return &NoStoreError{Path: path}
		}
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("store: create the database folder: %w", err)
		}
	}
	// The file holds token hashes and sealed credentials: only the service
	// reads it. SQLite gives its -wal and -shm files the same mode.
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("store: create the database file: %w", err)
	}
	f.Close()
	// One connection for writes, which the job queue shares (DB): SQLite
	// has one writer anyway, and a single connection makes the immediate
	// transactions queue in database/sql instead of spinning on
	// busy_timeout. busy_timeout covers other processes. Reads go to
	// s.read.
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return fmt.Errorf("store: open SQLite %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	// The readers: query_only refuses a write sent here by mistake. They
	// set no journal mode: the writer's connection made the file WAL.
	read, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=query_only(1)")
	if err != nil {
		db.Close()
		return fmt.Errorf("store: open SQLite %s for reading: %w", path, err)
	}
	read.SetMaxOpenConns(readConns)
	read.SetMaxIdleConns(readConns) // reopening one parses the schema again
	s.db, s.read, s.dialect = db, read, SQLite
	return nil
}

// readConns is how many reads may run at once on SQLite: a few more than
// the cores, since a read also waits for its page reads and its caller.
const readConns = 4

func (s *Store) openPostgres(ctx context.Context, dsn string) error {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the DSN; keep the password out of logs.
		return errors.New("store: the PostgreSQL DSN does not parse: expected postgres://user:password@host:port/database?sslmode=…")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("store: connect to PostgreSQL: %w", err)
	}
	s.db, s.pool, s.dialect = stdlib.OpenDBFromPool(pool), pool, Postgres
	s.read = s.db
	s.lockShop, s.lockShare = " FOR UPDATE", " FOR SHARE"
	return nil
}

// Close closes the database.
func (s *Store) Close() error {
	err := s.db.Close()
	if s.read != s.db {
		err = errors.Join(err, s.read.Close())
	}
	if s.pool != nil {
		s.pool.Close()
	}
	return err
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping %s: %w", s.dialect, err)
	}
	return nil
}

// Dialect is SQLite ("sqlite") or Postgres ("postgres").
func (s *Store) Dialect() string { return s.dialect }

// DB is the database/sql handle of either engine that writes: on SQLite
// its one connection, which the job queue shares with the store.
func (s *Store) DB() *sql.DB { return s.db }

// Pool is the PostgreSQL pool under DB, for River; nil on SQLite.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// collect runs a query and scans each row with scan.
func collect[T any](ctx context.Context, q querier, scan func(*sql.Rows) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// inTx runs fn in a transaction and commits it unless fn fails. On SQLite,
// fn must not use s.db: the transaction holds the only connection.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// now is the current time as the database keeps it: microseconds, UTC.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// isUnique reports a unique or primary key violation.
func isUnique(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// isForeignKey reports a foreign key violation: the row referred to is gone.
func isForeignKey(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23503"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	return false
}

// checkText refuses text that SQLite and PostgreSQL would not both store
// as given, so that the engines agree (TestEnginesAgree).
func checkText(fields ...string) error {
	for _, f := range fields {
		if !utf8.ValidString(f) || strings.IndexByte(f, 0) >= 0 {
			return fmt.Errorf("%q: %w: the text must be UTF-8 without NUL", f, ErrInvalid)
		}
	}
	return nil
}

// shopNotFound wraps ErrNotFound for one shop.
func shopNotFound(id string) error { return fmt.Errorf("shop %q: %w", id, ErrNotFound) }

// shopExists returns ErrNotFound unless the shop exists.
func shopExists(ctx context.Context, q querier, id string) error {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM shops WHERE id = $1`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return shopNotFound(id)
	}
	return err
}

var _ shop.Store = (*Store)(nil)

var _ registry.Store = (*Store)(nil)
