package sync_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/syncrules/syncrules/host/internal/slowtest"
	"github.com/syncrules/syncrules/host/internal/store"
	"github.com/syncrules/syncrules/host/internal/store/storetest"
	"github.com/syncrules/syncrules/host/internal/sync"
)

// wait bounds every wait for something that must happen.
var wait = 20 * time.Second * slowtest.Factor

var quiet = slog.New(slog.DiscardHandler)

// engines runs a test on SQLite and, with SYNCRULES_TEST_POSTGRES, on
// PostgreSQL.
var engines = []struct {
	name string
	open func(t *testing.T) *store.Store
}{
	{"sqlite", func(t *testing.T) *store.Store { return storetest.SQLite(t, t.TempDir()) }},
	{"postgres", func(t *testing.T) *store.Store { return storetest.Postgres(t) }},
}

func forEachEngine(t *testing.T, test func(t *testing.T, s *store.Store)) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) { test(t, e.open(t)) })
	}
}

// call is one SyncShop call the test answers.
type call struct {
	shop  string
	ctx   context.Context
	reply chan<- result
}

type result struct {
	more bool
	err  error
}

// fakeShops is a SyncShop whose every call waits for the test's answer,
// and a Pending that answers pending.
type fakeShops struct {
	calls   chan call
	count   atomic.Int64
	pending atomic.Bool
}

func (f *fakeShops) Pending(_ context.Context, tx any, _ string) (bool, error) {
	switch tx.(type) {
	case *sql.Tx, pgx.Tx:
		return f.pending.Load(), nil
	}
	return false, fmt.Errorf("Pending got a %T, want a *sql.Tx or a pgx.Tx", tx)
}

func nonePending(context.Context, any, string) (bool, error) { return false, nil }

func newFakeShops() *fakeShops { return &fakeShops{calls: make(chan call)} }

func (f *fakeShops) SyncShop(ctx context.Context, shop string) (bool, error) {
	f.count.Add(1)
	reply := make(chan result, 1)
	select {
	case f.calls <- call{shop: shop, ctx: ctx, reply: reply}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	select {
	case r := <-reply:
		return r.more, r.err
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// next is the next call, which must come.
func (f *fakeShops) next(t *testing.T) call {
	t.Helper()
	select {
	case c := <-f.calls:
		return c
	case <-time.After(wait):
		t.Fatalf("no SyncShop call within %s", wait)
		return call{}
	}
}

func open(t *testing.T, s *store.Store, f *fakeShops, tweak ...func(*sync.Options)) *sync.Queue {
	t.Helper()
	opt := sync.Options{Store: s, Logger: quiet, SyncShop: f.SyncShop, Pending: f.Pending, RetryDelay: 10 * time.Millisecond}
	for _, fn := range tweak {
		fn(&opt)
	}
	q, err := sync.Open(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func start(t *testing.T, q *sync.Queue) {
	t.Helper()
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func stop(t *testing.T, q *sync.Queue) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := q.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// inTx runs fn in a transaction of the kind the store begins for a write
// that enqueues: *sql.Tx on SQLite, pgx.Tx on PostgreSQL.
func inTx(t *testing.T, s *store.Store, commit bool, fn func(tx any) error) {
	t.Helper()
	ctx := context.Background()
	var tx any
	var end func(commit bool) error
	switch s.Dialect() {
	case store.SQLite:
		sqlTx, err := s.DB().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		tx, end = sqlTx, func(commit bool) error {
			if commit {
				return sqlTx.Commit()
			}
			return sqlTx.Rollback()
		}
	default:
		pgxTx, err := s.Pool().Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tx, end = pgxTx, func(commit bool) error {
			if commit {
				return pgxTx.Commit(ctx)
			}
			return pgxTx.Rollback(ctx)
		}
	}
	if err := fn(tx); err != nil {
		_ = end(false)
		t.Fatal(err)
	}
	if err := end(commit); err != nil {
		t.Fatal(err)
	}
}

func enqueueTx(t *testing.T, s *store.Store, q *sync.Queue, shop string, commit bool) {
	t.Helper()
	inTx(t, s, commit, func(tx any) error { return q.EnqueueTx(context.Background(), tx, shop) })
}

// jobs counts River's jobs by shop and state, read from the store.
func jobs(t *testing.T, s *store.Store) map[string]int {
	t.Helper()
	query := `SELECT args::text, state::text FROM river_job`
	if s.Dialect() == store.SQLite {
		query = `SELECT json(args), state FROM river_job` // args are JSONB
	}
	rows, err := s.DB().QueryContext(context.Background(), query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var args, state string
		if err := rows.Scan(&args, &state); err != nil {
			t.Fatal(err)
		}
		var a struct{ Shop string }
		if err := json.Unmarshal([]byte(args), &a); err != nil {
			t.Fatalf("job args %s: %v", args, err)
		}
		out[key(a.Shop, state)]++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func key(shop, state string) string { return shop + " " + state }

func TestEnqueueTxRunsOnlyOnCommit(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *store.Store) {
		f := newFakeShops()
		q := open(t, s, f)
		start(t, q)
		enqueueTx(t, s, q, "rolled-back", false)
		enqueueTx(t, s, q, "committed", true)
		c := f.next(t)
		if c.shop != "committed" {
			t.Fatalf("SyncShop(%q) ran; want only the committed shop's job", c.shop)
		}
		c.reply <- result{}
		stop(t, q)
		if n := f.count.Load(); n != 1 {
			t.Errorf("SyncShop ran %d times, want once", n)
		}
		got := jobs(t, s)
		want := map[string]int{key("committed", "completed"): 1}
		if !sameCounts(got, want) {
			t.Errorf("jobs = %v, want %v: a rolled-back EnqueueTx must leave no job", got, want)
		}
	})
}

func TestBurstCostsOneJob(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *store.Store) {
		f := newFakeShops()
		q := open(t, s, f)
		for range 100 {
			enqueueTx(t, s, q, "acme", true)
		}
		if got, want := jobs(t, s), map[string]int{key("acme", "available"): 1}; !sameCounts(got, want) {
			t.Fatalf("after 100 EnqueueTx: jobs = %v, want %v", got, want)
		}
		start(t, q)
		c := f.next(t)
		// A change recorded while the job runs adds no job: the running
		// one will see it (its SyncShop reports more).
		enqueueTx(t, s, q, "acme", true)
		if got, want := jobs(t, s), map[string]int{key("acme", "running"): 1}; !sameCounts(got, want) {
			t.Fatalf("EnqueueTx while the job runs: jobs = %v, want %v", got, want)
		}
		c.reply <- result{}
		stop(t, q)
		if n := f.count.Load(); n != 1 {
			t.Errorf("SyncShop ran %d times, want once", n)
		}

		// After the job completed, the shop's next change runs it again,
		// also in a process restarted on the same database.
		q = open(t, s, f)
		enqueueTx(t, s, q, "acme", true)
		start(t, q)
		f.next(t).reply <- result{}
		stop(t, q)
		if got, want := jobs(t, s), map[string]int{key("acme", "completed"): 2}; !sameCounts(got, want) {
			t.Errorf("jobs = %v, want %v", got, want)
		}
	})
}

func TestSyncShopRunsAgainWhileMore(t *testing.T) {
	for _, tc := range []struct {
		name string
		turn time.Duration // how long the job calls SyncShop before yielding
	}{
		{"within its turn", time.Hour},
		{"yielding after each call", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer sync.SetMaxTurn(tc.turn)()
			forEachEngine(t, func(t *testing.T, s *store.Store) {
				f := newFakeShops()
				q := open(t, s, f)
				start(t, q)
				enqueueTx(t, s, q, "acme", true)
				answers := []result{{more: true}, {more: true}, {more: false}}
				for i, r := range answers {
					c := f.next(t)
					if c.shop != "acme" {
						t.Fatalf("call %d: SyncShop(%q), want acme", i+1, c.shop)
					}
					c.reply <- r
				}
				stop(t, q)
				if n := f.count.Load(); n != int64(len(answers)) {
					t.Errorf("SyncShop ran %d times, want %d: until it reports no more", n, len(answers))
				}
				if got, want := jobs(t, s), map[string]int{key("acme", "completed"): 1}; !sameCounts(got, want) {
					t.Errorf("jobs = %v, want %v: the same job runs again", got, want)
				}
			})
		})
	}
}

// A shop whose items keep coming yields its worker, after its turn, to the
// shops queued behind it.
func TestLongJobYieldsToQueuedShops(t *testing.T) {
	for _, tc := range []struct {
		name string
		turn time.Duration
		want []string // shops in the order SyncShop runs
	}{
		{"turn not over", time.Hour, []string{"busy", "busy", "other"}},
		{"turn over", 0, []string{"busy", "other", "busy"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer sync.SetMaxTurn(tc.turn)()
			forEachEngine(t, func(t *testing.T, s *store.Store) {
				f := newFakeShops()
				q := open(t, s, f, func(o *sync.Options) { o.Workers = 1 })
				start(t, q)
				enqueueTx(t, s, q, "busy", true)
				var got []string
				c := f.next(t)
				got = append(got, c.shop)
				enqueueTx(t, s, q, "other", true)
				c.reply <- result{more: true}
				for range 2 {
					c := f.next(t)
					got = append(got, c.shop)
					c.reply <- result{}
				}
				stop(t, q)
				if strings.Join(got, " ") != strings.Join(tc.want, " ") {
					t.Errorf("SyncShop ran for %v, want %v", got, tc.want)
				}
			})
		})
	}
}

// A change recorded after SyncShop's last look, while its job still counts
// as running (so EnqueueTx adds no job), runs SyncShop again.
func TestChangeAsJobEndsRunsAgain(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *store.Store) {
		f := newFakeShops()
		q := open(t, s, f)
		start(t, q)
		enqueueTx(t, s, q, "acme", true)
		c := f.next(t)
		// The webhook: its item pending, its EnqueueTx a duplicate.
		enqueueTx(t, s, q, "acme", true)
		f.pending.Store(true)
		c.reply <- result{more: false}
		c = f.next(t)
		f.pending.Store(false)
		c.reply <- result{more: false}
		stop(t, q)
		if n := f.count.Load(); n != 2 {
			t.Errorf("SyncShop ran %d times, want twice", n)
		}
		if got, want := jobs(t, s), map[string]int{key("acme", "completed"): 1}; !sameCounts(got, want) {
			t.Errorf("jobs = %v, want %v", got, want)
		}
	})
}

func TestFailedJobIsRetried(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *store.Store) {
		f := newFakeShops()
		q := open(t, s, f)
		start(t, q)
		enqueueTx(t, s, q, "acme", true)
		f.next(t).reply <- result{err: errors.New("TikTok answered 503")}
		c := f.next(t)
		if c.shop != "acme" {
			t.Fatalf("retry ran SyncShop(%q), want acme", c.shop)
		}
		c.reply <- result{}
		stop(t, q)
		if got, want := jobs(t, s), map[string]int{key("acme", "completed"): 1}; !sameCounts(got, want) {
			t.Errorf("jobs = %v, want %v", got, want)
		}
	})
}

func TestShopsRunConcurrently(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *store.Store) {
		f := newFakeShops()
		q := open(t, s, f, func(o *sync.Options) { o.Workers = 2 })
		start(t, q)
		enqueueTx(t, s, q, "a", true)
		enqueueTx(t, s, q, "b", true)
		// Both calls arrive before either is answered.
		first, second := f.next(t), f.next(t)
		if shops := []string{first.shop, second.shop}; !(shops[0] == "a" && shops[1] == "b" || shops[0] == "b" && shops[1] == "a") {
			t.Errorf("running shops = %v, want a and b", shops)
		}
		first.reply <- result{}
		second.reply <- result{}
		stop(t, q)
	})
}

func TestStopWaitsForRunningJob(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *store.Store) {
		f := newFakeShops()
		q := open(t, s, f)
		start(t, q)
		enqueueTx(t, s, q, "acme", true)
		c := f.next(t)
		stopped := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			stopped <- q.Stop(ctx)
		}()
		select {
		case err := <-stopped:
			t.Fatalf("Stop returned (%v) while a job was running", err)
		case <-time.After(200 * time.Millisecond * slowtest.Factor):
		}
		if err := c.ctx.Err(); err != nil {
			t.Errorf("the running job's context ended (%v) during Stop; a graceful Stop lets it finish", err)
		}
		c.reply <- result{}
		if err := <-stopped; err != nil {
			t.Fatal(err)
		}
		if got, want := jobs(t, s), map[string]int{key("acme", "completed"): 1}; !sameCounts(got, want) {
			t.Errorf("jobs = %v, want %v", got, want)
		}
	})
}

func TestStopCancelsJobsAtTheEndOfTheDrain(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *store.Store) {
		f := newFakeShops()
		q := open(t, s, f)
		start(t, q)
		enqueueTx(t, s, q, "acme", true)
		c := f.next(t) // never answered: the job waits for its context
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if err := q.Stop(ctx); err != nil {
			t.Fatalf("Stop after cancelling the running job: %v", err)
		}
		if c.ctx.Err() == nil {
			t.Error("the running job's context is still live after Stop's drain ended")
		}
	})
}

func TestEnqueueTxRefusesOtherTransactions(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *store.Store) {
		q := open(t, s, newFakeShops())
		defer stop(t, q)
		ctx := context.Background()
		var wrong any = "not a transaction"
		if s.Dialect() == store.Postgres {
			sqlTx, err := s.DB().BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer sqlTx.Rollback()
			wrong = sqlTx
		}
		err := q.EnqueueTx(ctx, wrong, "acme")
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%T", wrong)) {
			t.Errorf("EnqueueTx(%T) = %v, want an error naming the type", wrong, err)
		}
	})
}

func TestEnqueueWithoutTransaction(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *store.Store) {
		f := newFakeShops()
		q := open(t, s, f)
		start(t, q)
		if err := q.Enqueue(context.Background(), "acme"); err != nil {
			t.Fatal(err)
		}
		f.next(t).reply <- result{}
		stop(t, q)
	})
}

func TestStatsCountsJobs(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *store.Store) {
		q := open(t, s, newFakeShops())
		defer stop(t, q)
		for _, shop := range []string{"a", "b", "b", "c"} {
			enqueueTx(t, s, q, shop, true)
		}
		st, err := q.Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.ByState["available"] != 3 {
			t.Errorf("ByState = %v, want 3 available", st.ByState)
		}
		if got := st.ByQueue[sync.QueueWebhooks]; got != (sync.QueueStats{Available: 3}) {
			t.Errorf("ByQueue[webhooks] = %+v, want 3 available", got)
		}
	})
}

func TestMigrationsRunAgainOnRestart(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *store.Store) {
		for range 2 {
			q := open(t, s, newFakeShops())
			start(t, q)
			stop(t, q)
			stop(t, q) // a deferred Stop after the explicit one does nothing
		}
	})
}

// Replicas starting together on one PostgreSQL database migrate River's
// tables one at a time.
func TestReplicasMigrateTogether(t *testing.T) {
	dsn := storetest.FreshPostgres(t)
	const replicas = 3
	stores := make([]*store.Store, replicas)
	for i := range stores {
		s, err := store.Open(context.Background(), store.Options{DSN: dsn, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	var wg gosync.WaitGroup
	errs := make([]error, replicas)
	for i, s := range stores {
		wg.Go(func() {
			var q *sync.Queue
			q, errs[i] = sync.Open(context.Background(), sync.Options{Store: s, Logger: quiet, SyncShop: newFakeShops().SyncShop, Pending: nonePending})
			if errs[i] == nil {
				errs[i] = q.Stop(context.Background())
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRequiresSyncShopAndPending(t *testing.T) {
	s := storetest.SQLite(t, t.TempDir())
	if _, err := sync.Open(context.Background(), sync.Options{Store: s, Logger: quiet, Pending: nonePending}); err == nil || !strings.Contains(err.Error(), "SyncShop") {
		t.Errorf("Open without SyncShop = %v, want an error naming SyncShop", err)
	}
	if _, err := sync.Open(context.Background(), sync.Options{Store: s, Logger: quiet, SyncShop: newFakeShops().SyncShop}); err == nil || !strings.Contains(err.Error(), "Pending") {
		t.Errorf("Open without Pending = %v, want an error naming Pending", err)
	}
}

func sameCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// BenchmarkEnqueueAndRun enqueues 1,000 shops' jobs, each in a store
// transaction of its own, and runs them with a SyncShop that does nothing:
// the queue's own cost per job. Run once: -bench EnqueueAndRun -benchtime 1x.
func BenchmarkEnqueueAndRun(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			s := openBench(b, e.name)
			const jobs = 1000
			for b.Loop() {
				var done gosync.WaitGroup
				done.Add(jobs)
				q, err := sync.Open(context.Background(), sync.Options{Store: s, Logger: quiet, SyncShop: func(context.Context, string) (bool, error) {
					done.Done()
					return false, nil
				}, Pending: nonePending})
				if err != nil {
					b.Fatal(err)
				}
				if err := q.Start(context.Background()); err != nil {
					b.Fatal(err)
				}
				begin := time.Now()
				for i := range jobs {
					if err := enqueueBench(s, q, fmt.Sprintf("shop-%d-%d", b.N, i)); err != nil {
						b.Fatal(err)
					}
				}
				enqueued := time.Since(begin)
				done.Wait()
				elapsed := time.Since(begin)
				if err := q.Stop(context.Background()); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(jobs)/enqueued.Seconds(), "enqueues/s")
				b.ReportMetric(float64(jobs)/elapsed.Seconds(), "jobs/s")
			}
		})
	}
}

func openBench(b *testing.B, engine string) *store.Store {
	if engine == "sqlite" {
		return storetest.SQLite(b, b.TempDir())
	}
	return storetest.Postgres(b)
}

func enqueueBench(s *store.Store, q *sync.Queue, shop string) error {
	ctx := context.Background()
	if s.Dialect() == store.SQLite {
		tx, err := s.DB().BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if err := q.EnqueueTx(ctx, tx, shop); err != nil {
			tx.Rollback()
			return err
		}
		return tx.Commit()
	}
	return pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error { return q.EnqueueTx(ctx, tx, shop) })
}

// BenchmarkRunAgainAfterYield measures how soon a shop's job that yielded
// its worker (its turn over, items left) runs again on an idle queue: the
// pause a long burst takes once per turn. Run once: -bench
// RunAgainAfterYield -benchtime 1x.
func BenchmarkRunAgainAfterYield(b *testing.B) {
	defer sync.SetMaxTurn(0)()
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			s := openBench(b, e.name)
			const batches = 20
			for b.Loop() {
				calls := make(chan time.Time, batches)
				var n atomic.Int64
				q, err := sync.Open(context.Background(), sync.Options{Store: s, Logger: quiet, SyncShop: func(context.Context, string) (bool, error) {
					calls <- time.Now()
					return n.Add(1) < batches, nil
				}, Pending: nonePending})
				if err != nil {
					b.Fatal(err)
				}
				if err := q.Start(context.Background()); err != nil {
					b.Fatal(err)
				}
				if err := q.Enqueue(context.Background(), fmt.Sprintf("shop-%d", b.N)); err != nil {
					b.Fatal(err)
				}
				first := <-calls
				last := first
				for range batches - 1 {
					last = <-calls
				}
				if err := q.Stop(context.Background()); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(last.Sub(first).Milliseconds())/(batches-1), "ms/rerun")
			}
		})
	}
}

// BenchmarkEnqueueToRun measures, on an idle queue, the time from a store
// transaction's commit with EnqueueTx to its SyncShop call: the queue's
// share of a webhook's lag. Run once: -bench EnqueueToRun -benchtime 1x.
func BenchmarkEnqueueToRun(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			s := openBench(b, e.name)
			const samples = 50
			for b.Loop() {
				ran := make(chan time.Time, 1)
				q, err := sync.Open(context.Background(), sync.Options{Store: s, Logger: quiet, SyncShop: func(context.Context, string) (bool, error) {
					ran <- time.Now()
					return false, nil
				}, Pending: nonePending})
				if err != nil {
					b.Fatal(err)
				}
				if err := q.Start(context.Background()); err != nil {
					b.Fatal(err)
				}
				lags := make([]time.Duration, 0, samples)
				for i := range samples {
					if err := enqueueBench(s, q, fmt.Sprintf("shop-%d-%d", b.N, i)); err != nil {
						b.Fatal(err)
					}
					committed := time.Now()
					lags = append(lags, (<-ran).Sub(committed))
				}
				if err := q.Stop(context.Background()); err != nil {
					b.Fatal(err)
				}
				slices.Sort(lags)
				b.ReportMetric(float64(lags[samples/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lags[samples-1].Microseconds())/1000, "max-ms")
			}
		})
	}
}
