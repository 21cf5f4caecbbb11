package sync_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/store/storetest"
	"github.com/syncrules/syncrules/host/internal/sync"
)

// TestSQLiteQueueHasOneProcess: a second queue on the same SQLite file is
// refused while the first runs, saying what to do, and may start once the
// first stopped.
func TestSQLiteQueueHasOneProcess(t *testing.T) {
	s := storetest.SQLite(t, t.TempDir())
	first := open(t, s, newFakeShops())
	start(t, first)
	second := open(t, s, newFakeShops())
	err := second.Start(context.Background())
	if err == nil {
		stop(t, second)
		t.Fatal("a second queue on the same SQLite file started")
	}
	if !strings.Contains(err.Error(), "another syncrules serve uses the data folder") {
		t.Errorf("the refusal does not say what is wrong: %v", err)
	}
	stop(t, first)
	third := open(t, s, newFakeShops())
	start(t, third)
	stop(t, third)
}

// TestSQLiteQueueTakesBackRunningJobs: a job a killed process left running
// runs as soon as the next queue starts, not after River's rescue delay
// (2 × job timeout + 1 min: two hours here).
func TestSQLiteQueueTakesBackRunningJobs(t *testing.T) {
	s := storetest.SQLite(t, t.TempDir())
	f := newFakeShops()
	long := func(o *sync.Options) { o.JobTimeout = time.Hour }
	dead := open(t, s, f, long)
	if err := dead.Enqueue(context.Background(), "acme"); err != nil {
		t.Fatal(err)
	}
	stop(t, dead) // never started: the job is still available
	// What a process killed while working the job leaves behind.
	res, err := s.DB().ExecContext(context.Background(), `UPDATE river_job SET state = 'running', attempt = 1,
		attempted_at = datetime('now', 'subsec'), attempted_by = '["dead-process"]' WHERE state = 'available'`)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("marked %d jobs running, want 1", n)
	}
	next := open(t, s, f, long)
	start(t, next)
	defer stop(t, next)
	c := f.next(t)
	if c.shop != "acme" {
		t.Fatalf("SyncShop(%q), want acme", c.shop)
	}
	c.reply <- result{}
}
