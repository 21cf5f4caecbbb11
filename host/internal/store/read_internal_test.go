package store

import (
	"log/slog"
	"testing"
)

// TestSQLiteReadPoolRefusesWrites: a write sent to the readers by mistake
// fails at once instead of taking the write lock beside the writer.
func TestSQLiteReadPoolRefusesWrites(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, Options{DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.read.ExecContext(ctx, `DELETE FROM tokens`); err == nil {
		t.Fatal("a DELETE on the SQLite read pool succeeded; want it refused (query_only)")
	}
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM tokens`).Scan(&n); err != nil {
		t.Fatalf("a SELECT on the read pool: %v", err)
	}
}
