package sync_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/store"
	"github.com/syncrules/syncrules/host/internal/sync"
)

// lockedBuffer is a log destination the queue's workers and the test
// share.
type lockedBuffer struct {
	mu gosync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestBlockedShopEndsItsJob: a shop whose sync is blocked (not connected,
// no settings, TikTok re-authorisation) ends its job with one warning, not
// retried, when Pending then sees nothing (the store's answer for a shop
// recorded blocked); when Pending sees items (a change that may unblock
// the shop committed while the job ran), the job calls SyncShop again.
func TestBlockedShopEndsItsJob(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *store.Store) {
		blockedErr := fmt.Errorf("shop %q: %w: it has no settings", "acme", shop.ErrSyncBlocked)
		f := newFakeShops()
		var logs lockedBuffer
		q := open(t, s, f, func(o *sync.Options) { o.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
		start(t, q)
		enqueueTx(t, s, q, "acme", true)
		f.next(t).reply <- result{err: blockedErr}
		waitForJobs(t, s, map[string]int{key("acme", "completed"): 1})

		// Settings saved while the job runs: Pending sees the items.
		enqueueTx(t, s, q, "acme", true)
		f.pending.Store(true)
		f.next(t).reply <- result{err: blockedErr}
		again := f.next(t)
		f.pending.Store(false)
		again.reply <- result{}
		stop(t, q)
		if got, want := jobs(t, s), map[string]int{key("acme", "completed"): 2}; !sameCounts(got, want) {
			t.Errorf("jobs = %v, want %v", got, want)
		}
		if n := f.count.Load(); n != 3 {
			t.Errorf("SyncShop ran %d times, want 3: blocked, then blocked and again", n)
		}
		if n := strings.Count(logs.String(), "msg=\"sync: the shop's sync is blocked"); n != 2 {
			t.Errorf("%d warnings of the blocked shop, want 2 (one a job):\n%s", n, logs.String())
		}
	})
}

// waitForJobs waits until the jobs are as wanted.
func waitForJobs(t *testing.T, s *store.Store, want map[string]int) {
	t.Helper()
	deadline := time.Now().Add(wait)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		got := jobs(t, s)
		if sameCounts(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs = %v after %s, want %v", got, wait, want)
		}
		<-tick.C
	}
}
