// Package sync runs the connector's background work on River, a job queue
// whose tables live in the store's database beside ours: SQLite through
// riversqlite, PostgreSQL through riverpgxv5. It is the only package that
// imports River. It owns River's migrations (run by Open), the client's
// lifecycle (Start, Stop), its queues and its job kinds.
//
// A shop's work is one unique job per shop: EnqueueTx, called in the
// transaction that records a change, makes sure the shop's job will run
// once that transaction commits (and never if it rolls back); while the job
// is queued or running, more calls add nothing. The job calls
// Options.SyncShop again while SyncShop reports that items remain (for up to
// a second, then it yields its worker and runs again when one is free), and
// ends only in a transaction that finds none of the shop's items pending
// (Options.Pending), so a change recorded while it ran is never left behind.
// With Options.Coalesce, it first lets a burst of webhooks gather
// (coalesce.go).
//
// Usage:
//
//	q, err := sync.Open(ctx, sync.Options{Store: s, SyncShop: shops.Sync, Pending: s.HasPendingTx})
//	if err != nil { ... }
//	if err := q.Start(ctx); err != nil { ... }
//	defer q.Stop(drainCtx)
//	// in a store transaction: q.EnqueueTx(ctx, tx, "acme")
package sync

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"

	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/store"
)

// Queues. Each has its own workers, so that a long resync in the bulk
// queue never delays a webhook's job.
const (
	QueueWebhooks = "webhooks"
	QueueBulk     = "bulk"
)

// KindShopSync is the kind of a shop's sync job.
const KindShopSync = "shop_sync"

// Defaults of Options.
const (
	DefaultWorkers    = 10
	DefaultJobTimeout = time.Minute
	DefaultRetryDelay = time.Second
)

const (
	// maxRetryDelay caps the doubling backoff: a shop that failed many
	// times still catches up within minutes of the cause going away.
	maxRetryDelay = 5 * time.Minute
	// maxAttempts of a failing job: with the backoff above, about an hour
	// of failures, after which River discards the job. The shop's pending
	// items stay recorded: its next change or reconciliation enqueues a
	// fresh job.
	maxAttempts = 20
	// fetchCooldown is the shortest pause between two fetches of a queue.
	// A fetch takes at most a queue's free workers, so River's default
	// (100 ms) would cap a queue at ten fetches' worth of jobs a second.
	fetchCooldown = 10 * time.Millisecond
	// webhooksPollInterval is how often the webhooks queue looks for jobs
	// besides River's insert notifications, which a snoozed or retried job
	// does not send: it bounds how long such a job waits to run again.
	webhooksPollInterval = 100 * time.Millisecond
	// cancelGrace bounds how long Stop waits for cancelled jobs to return.
	cancelGrace = 10 * time.Second
)

// uniqueStates are the states in which a shop's job blocks another: every
// state before it ends. River's default would also count completed jobs,
// which would refuse a shop's next job until the cleaner removed the last.
var uniqueStates = []rivertype.JobState{
	rivertype.JobStateAvailable,
	rivertype.JobStatePending,
	rivertype.JobStateRetryable,
	rivertype.JobStateRunning,
	rivertype.JobStateScheduled,
}

// Options configure Open.
type Options struct {
	// Store is the database River's tables live in. Required.
	Store *store.Store
	// Logger receives River's and the queue's logs; slog.Default if nil.
	Logger *slog.Logger
	// Workers is how many jobs each queue runs at once in this process;
	// DefaultWorkers if 0.
	Workers int
	// JobTimeout cancels a job that runs longer; DefaultJobTimeout if 0.
	// A job left running by a crashed process runs again after about
	// twice as long.
	JobTimeout time.Duration
	// RetryDelay is how long a failed job waits before its first retry;
	// each further failure doubles it, up to 5 minutes.
	// DefaultRetryDelay if 0.
	RetryDelay time.Duration
	// SyncShop processes the shop's pending items; more reports that some
	// remain, and the shop's job then runs again soon. An error retries it
	// with backoff, except one wrapping shop.ErrSyncBlocked, which is
	// warned of once and read as "nothing more": the job ends unless
	// Pending says otherwise (SyncShop records the shop blocked, and a
	// change that may unblock it clears that in the transaction that
	// enqueues it). Required.
	SyncShop func(ctx context.Context, shop string) (more bool, err error)
	// Pending reports whether the shop has pending items, read in tx: the
	// transaction that marks the shop's job completed (*sql.Tx on SQLite,
	// pgx.Tx on PostgreSQL). The job ends only if none are pending, so a
	// change recorded after SyncShop's last look, while the job still
	// counted as running and EnqueueTx added nothing, is not left behind.
	// Required.
	Pending func(ctx context.Context, tx any, shop string) (bool, error)
	// Coalesce is the coalescing window (coalesce.go): a shop's job calls
	// SyncShop only once the oldest webhook its pending items wait for
	// was received at least this long ago, so that a burst of webhooks
	// costs one read. 0 calls it at once.
	Coalesce time.Duration
	// PendingSince returns when the oldest webhook the shop's pending
	// items wait for was received, if all were received after cutoff;
	// the zero time if one is due (received at or before cutoff, or left
	// pending by no webhook) or none is pending. Required if Coalesce > 0.
	PendingSince func(ctx context.Context, shop string, cutoff time.Time) (time.Time, error)
	// Reconcile reconciles a page of the shop's linked variants, those
	// after the variant id given, and returns the last one it took ("" once
	// none remain) and how many quantities it repaired. An error wrapping
	// shop.ErrSyncBlocked skips the shop until its next slot; another
	// retries with backoff, from the page that failed. Nil runs no
	// reconciliation.
	Reconcile func(ctx context.Context, shop, after string) (next string, repairs int, err error)
	// ReconcileInterval is how often each connected shop is reconciled;
	// DefaultReconcileInterval if 0.
	ReconcileInterval time.Duration
	// Metrics receives each job's wait and run time; nil records none.
	Metrics JobMetrics
	// HistoryDays, if not 0, runs the cleanup job (cleanup.go): hourly,
	// once per cluster, it deletes the sync history older than this many
	// days and webhook receipts older than a week.
	HistoryDays int
}

// JobMetrics receives the measurements of the jobs this process works.
// Package metrics implements it; this package does not import Prometheus.
type JobMetrics interface {
	// JobStarted reports a job of kind starting in queue after waiting
	// wait since it became available (inserted, snoozed or due to retry).
	JobStarted(queue, kind string, wait time.Duration)
	// JobFinished reports the job's run: outcome is "ok", "snoozed" (it
	// yielded and runs again) or "error" (it retries with backoff).
	JobFinished(queue, kind, outcome string, d time.Duration)
}

// Queue is the connector's job queue. Open it, Start it, and Stop it once.
type Queue struct {
	engine engine
	sqlite *sql.DB // SQLite only: the store's writing handle, which River shares
	file   string  // SQLite only: the database's file
	lock   *os.File
	log    *slog.Logger
}

// Stats is the depth of the queue.
type Stats struct {
	// ByState counts jobs of every queue by River state: available,
	// running, scheduled (snoozed or delayed), retryable (failed, waiting
	// for a retry), completed, discarded (gave up), cancelled, pending.
	ByState map[string]int
	// ByQueue counts each queue's available and running jobs.
	ByQueue map[string]QueueStats
}

// QueueStats is one queue's depth.
type QueueStats struct {
	Available int
	Running   int
}

// Open migrates River's tables in the store's database and prepares a
// client, which Start starts.
func Open(ctx context.Context, opt Options) (*Queue, error) {
	if opt.Store == nil {
		return nil, errors.New("sync: Options.Store is required")
	}
	if opt.SyncShop == nil || opt.Pending == nil {
		return nil, errors.New("sync: Options.SyncShop and Options.Pending are required: without them no job could run")
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Workers < 0 || opt.JobTimeout < 0 || opt.RetryDelay < 0 || opt.ReconcileInterval < 0 || opt.HistoryDays < 0 || opt.Coalesce < 0 {
		return nil, errors.New("sync: Workers, JobTimeout, RetryDelay, ReconcileInterval, HistoryDays and Coalesce must not be negative")
	}
	if opt.Coalesce > 0 && opt.PendingSince == nil {
		return nil, errors.New("sync: Options.PendingSince is required when Coalesce is set: the job reads when its items' webhooks were received")
	}
	if opt.ReconcileInterval == 0 {
		opt.ReconcileInterval = DefaultReconcileInterval
	}
	if opt.Workers == 0 {
		opt.Workers = DefaultWorkers
	}
	if opt.JobTimeout == 0 {
		opt.JobTimeout = DefaultJobTimeout
	}
	if opt.RetryDelay == 0 {
		opt.RetryDelay = DefaultRetryDelay
	}
	q := &Queue{log: opt.Logger}
	var err error
	switch dialect := opt.Store.Dialect(); dialect {
	case store.SQLite:
		// River writes through the store's one writing connection, as
		// the store does: SQLite has one writer, and writers waiting in Go
		// take turns where two handles would poll for the lock in SQLite's
		// busy handler (RATIONALE.md, "Why does River share the store's
		// connection on SQLite?").
		if q.file, err = opt.Store.SQLiteFile(ctx); err != nil {
			return nil, err
		}
		q.sqlite = opt.Store.DB()
		driver := riversqlite.New(q.sqlite)
		// One process works the queue (Start locks it): nothing to
		// serialize.
		if err = migrate(ctx, driver, opt.Logger, noLock); err == nil {
			db := q.sqlite
			q.engine, err = newEngine(driver, opt, "*sql.Tx (from the store's DB().BeginTx)",
				func(ctx context.Context) (*sql.Tx, error) { return db.BeginTx(ctx, nil) },
				func(_ context.Context, tx *sql.Tx, commit bool) error {
					if commit {
						return tx.Commit()
					}
					return tx.Rollback()
				})
		}
	case store.Postgres:
		pool := opt.Store.Pool()
		driver := riverpgxv5.New(pool)
		if err = migrate(ctx, driver, opt.Logger, lockPostgres(pool)); err == nil {
			q.engine, err = newEngine(driver, opt, "pgx.Tx (from the store's Pool().Begin)",
				pool.Begin,
				func(ctx context.Context, tx pgx.Tx, commit bool) error {
					if commit {
						return tx.Commit(ctx)
					}
					return tx.Rollback(ctx)
				})
		}
	default:
		err = fmt.Errorf("sync: no River driver for the store's dialect %q", dialect)
	}
	if err != nil {
		return nil, err
	}
	return q, nil
}

// EnqueueTx makes sure the shop's sync job runs after tx commits: it
// inserts the job in tx unless the shop's job is already queued or
// running. tx is the store's open transaction: a *sql.Tx on SQLite, a
// pgx.Tx on PostgreSQL.
func (q *Queue) EnqueueTx(ctx context.Context, tx any, shop string) error {
	if err := q.engine.insertTx(ctx, tx, shopSyncArgs{Shop: shop}); err != nil {
		return fmt.Errorf("sync: enqueue shop %q: %w", shop, err)
	}
	return nil
}

// Enqueue is EnqueueTx in a transaction of its own, for work that records
// nothing first (a resync, a reconciliation).
func (q *Queue) Enqueue(ctx context.Context, shop string) error {
	if err := q.engine.insert(ctx, shopSyncArgs{Shop: shop}); err != nil {
		return fmt.Errorf("sync: enqueue shop %q: %w", shop, err)
	}
	return nil
}

// Start starts working jobs, until Stop. The context is for starting only.
func (q *Queue) Start(ctx context.Context) error {
	if q.sqlite != nil {
		lock, reclaimed, err := claimQueue(ctx, q.sqlite, q.file)
		switch {
		case errors.Is(err, errors.ErrUnsupported):
		case err != nil:
			return err
		default:
			q.lock = lock
			if reclaimed > 0 {
				q.log.Info("sync: jobs a stopped process left running run again", "jobs", reclaimed)
			}
		}
	}
	// River stops hard when Start's context ends; Stop decides instead.
	if err := q.engine.start(context.WithoutCancel(ctx)); err != nil {
		q.unlock()
		return fmt.Errorf("sync: start the queue: %w", err)
	}
	return nil
}

// unlock releases the SQLite queue's lock, if Start took it.
func (q *Queue) unlock() {
	if q.lock != nil {
		q.lock.Close()
		q.lock = nil
	}
}

// Stop stops fetching jobs and waits for the running ones to finish; when
// ctx ends first, it cancels them and waits a little more for them to
// return. Either way it then releases the queue's database handle. The
// queue cannot start again: Open a new one. Calling Stop again does nothing.
func (q *Queue) Stop(ctx context.Context) error {
	err := q.engine.stop(ctx)
	if err != nil && ctx.Err() != nil {
		q.log.Warn("sync: jobs still running at the end of the drain; cancelling them")
		cancelCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cancelGrace)
		defer cancel()
		err = q.engine.stopAndCancel(cancelCtx)
	}
	if err != nil {
		err = fmt.Errorf("sync: stop the queue: %w", err)
	}
	q.unlock()
	return err
}

// Stats counts the queue's jobs.
func (q *Queue) Stats(ctx context.Context) (Stats, error) {
	st, err := q.engine.stats(ctx)
	if err != nil {
		return Stats{}, fmt.Errorf("sync: queue stats: %w", err)
	}
	return st, nil
}

// shopSyncArgs are a shop's sync job: unique per shop.
type shopSyncArgs struct {
	Shop string `json:"shop"`
}

func (shopSyncArgs) Kind() string { return KindShopSync }

func (shopSyncArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:      QueueWebhooks,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: uniqueStates},
	}
}

// maxTurn is how long a shop's job keeps calling SyncShop while items
// remain before it yields its worker to the jobs queued behind it. Set by
// tests.
var maxTurn = time.Second

// shopSyncWorker runs a shop's job.
type shopSyncWorker struct {
	river.WorkerDefaults[shopSyncArgs]
	syncShop func(ctx context.Context, shop string) (bool, error)
	// complete marks the job completed unless the shop has items pending.
	complete func(ctx context.Context, job *river.Job[shopSyncArgs]) (bool, error)
	// turn is maxTurn, or less under a short JobTimeout.
	turn time.Duration
	log  *slog.Logger

	// burst waits for a burst of webhooks to gather (coalesce.go).
	burst coalescer
}

func (w *shopSyncWorker) Work(ctx context.Context, job *river.Job[shopSyncArgs]) error {
	start := time.Now()
	warned := false
	for {
		if err := w.burst.wait(ctx, job.Args.Shop); err != nil {
			return err
		}
		more, err := w.syncShop(ctx, job.Args.Shop)
		if errors.Is(err, shop.ErrSyncBlocked) {
			// Retrying cannot help until someone fixes the shop, and
			// SyncShop recorded it blocked, so that Pending sees nothing:
			// the job ends below, its items stay pending. A change that
			// may unblock the shop and committed meanwhile makes Pending
			// see them, and the loop goes on.
			if !warned {
				w.log.Warn("sync: the shop's sync is blocked; its changes stay pending", "shop", job.Args.Shop, "err", err)
				warned = true
			}
			more, err = false, nil
		}
		if err != nil {
			return err
		}
		if !more {
			// River would mark the job completed later (its completer
			// batches), and until then EnqueueTx adds nothing: complete it
			// now, in a transaction that first sees no item pending.
			if done, err := w.complete(ctx, job); err != nil || done {
				return err
			}
		}
		if time.Since(start) >= w.turn {
			// Run the same job again, behind the jobs already waiting: it
			// stays unique meanwhile, so EnqueueTx keeps adding nothing.
			return river.JobSnooze(0)
		}
	}
}

// backoff doubles a failed job's delay from first up to maxRetryDelay,
// with 10% jitter so that shops that failed together retry apart.
type backoff struct{ first time.Duration }

func (b backoff) NextRetry(job *rivertype.JobRow) time.Time {
	d := maxRetryDelay
	if n := job.Attempt - 1; n < 20 {
		d = min(b.first<<max(n, 0), maxRetryDelay)
	}
	d += time.Duration(rand.Int64N(int64(d)/10 + 1))
	return time.Now().Add(d)
}

// engine is River's client on either driver.
type engine interface {
	insertTx(ctx context.Context, tx any, args river.JobArgs) error
	insert(ctx context.Context, args river.JobArgs) error
	start(ctx context.Context) error
	stop(ctx context.Context) error
	stopAndCancel(ctx context.Context) error
	stats(ctx context.Context) (Stats, error)
}

type riverEngine[TTx any] struct {
	client *river.Client[TTx]
	// txWanted names the transaction type EnqueueTx needs, for its error.
	txWanted string
}

func newEngine[TDriver riverdriver.Driver[TTx], TTx any](driver TDriver, opt Options, txWanted string,
	begin func(context.Context) (TTx, error), end func(ctx context.Context, tx TTx, commit bool) error,
) (*riverEngine[TTx], error) {
	workers := river.NewWorkers()
	river.AddWorker(workers, &shopSyncWorker{
		syncShop: opt.SyncShop,
		complete: completeUnlessPending[TDriver](begin, end, opt.Pending),
		turn:     min(maxTurn, opt.JobTimeout/4),
		burst:    coalescer{window: opt.Coalesce, pendingSince: opt.PendingSince},
		log:      opt.Logger,
	})
	periodic := cleanupJobs(workers, opt)
	if opt.Reconcile != nil {
		// A reconciliation page reads both platforms: half the job's
		// timeout leaves it room for one more.
		river.AddWorker(workers, &shopReconcileWorker{store: opt.Store, reconcile: opt.Reconcile, turn: opt.JobTimeout / 2, log: opt.Logger})
		tick := min(scheduleTick, opt.ReconcileInterval)
		river.AddWorker(workers, &reconcileScheduleWorker[TTx]{store: opt.Store, interval: opt.ReconcileInterval, tick: tick})
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(tick),
			func() (river.JobArgs, *river.InsertOpts) { return reconcileScheduleArgs{}, nil },
			&river.PeriodicJobOpts{ID: KindReconcileSchedule, RunOnStart: true}))
	}
	client, err := river.NewClient(driver, &river.Config{
		Logger: opt.Logger,
		Queues: map[string]river.QueueConfig{
			QueueWebhooks: {MaxWorkers: opt.Workers, FetchPollInterval: webhooksPollInterval},
			QueueBulk:     {MaxWorkers: opt.Workers},
		},
		FetchCooldown: fetchCooldown,
		Middleware:    middleware(opt.Metrics),
		Workers:       workers,
		PeriodicJobs:  periodic,
		JobTimeout:    opt.JobTimeout,
		MaxAttempts:   maxAttempts,
		RetryPolicy:   backoff{first: opt.RetryDelay},
		// A job still running this long after it started belongs to a
		// process that died: run it again.
		RescueStuckJobsAfter: 2*opt.JobTimeout + time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("sync: configure River: %w", err)
	}
	return &riverEngine[TTx]{client: client, txWanted: txWanted}, nil
}

// completeUnlessPending marks a shop's job completed in a transaction that
// then reads whether the shop has items pending, and commits only if none
// are. The completion comes first: on PostgreSQL its UPDATE locks the job's
// row, so a webhook's EnqueueTx that found the job running has committed its
// items before the read (the read waits for it), and one that comes later
// waits for the commit and then inserts a new job. SQLite's transactions
// are serial.
func completeUnlessPending[TDriver riverdriver.Driver[TTx], TTx any](
	begin func(context.Context) (TTx, error), end func(ctx context.Context, tx TTx, commit bool) error,
	pending func(ctx context.Context, tx any, shop string) (bool, error),
) func(ctx context.Context, job *river.Job[shopSyncArgs]) (bool, error) {
	return func(ctx context.Context, job *river.Job[shopSyncArgs]) (bool, error) {
		tx, err := begin(ctx)
		if err != nil {
			return false, err
		}
		if _, err := river.JobCompleteTx[TDriver](ctx, tx, job); err != nil {
			_ = end(ctx, tx, false)
			return false, fmt.Errorf("complete the job: %w", err)
		}
		more, err := pending(ctx, tx, job.Args.Shop)
		if err != nil || more {
			_ = end(ctx, tx, false)
			return false, err
		}
		return true, end(ctx, tx, true)
	}
}

func (e *riverEngine[TTx]) insertTx(ctx context.Context, tx any, args river.JobArgs) error {
	t, ok := tx.(TTx)
	if !ok {
		return fmt.Errorf("the transaction is a %T; this store needs a %s", tx, e.txWanted)
	}
	_, err := e.client.InsertTx(ctx, t, args, nil)
	return err
}

func (e *riverEngine[TTx]) insert(ctx context.Context, args river.JobArgs) error {
	_, err := e.client.Insert(ctx, args, nil)
	return err
}

func (e *riverEngine[TTx]) start(ctx context.Context) error { return e.client.Start(ctx) }

func (e *riverEngine[TTx]) stop(ctx context.Context) error { return e.client.Stop(ctx) }

func (e *riverEngine[TTx]) stopAndCancel(ctx context.Context) error {
	return e.client.StopAndCancel(ctx)
}

func (e *riverEngine[TTx]) stats(ctx context.Context) (Stats, error) {
	exec := e.client.Driver().GetExecutor()
	byState, err := exec.JobCountByAllStates(ctx, &riverdriver.JobCountByAllStatesParams{})
	if err != nil {
		return Stats{}, err
	}
	byQueue, err := exec.JobCountByQueueAndState(ctx, &riverdriver.JobCountByQueueAndStateParams{
		QueueNames: []string{QueueWebhooks, QueueBulk},
	})
	if err != nil {
		return Stats{}, err
	}
	st := Stats{ByState: make(map[string]int, len(byState)), ByQueue: make(map[string]QueueStats, len(byQueue))}
	for state, n := range byState {
		st.ByState[string(state)] = n
	}
	for _, r := range byQueue {
		st.ByQueue[r.Queue] = QueueStats{Available: int(r.CountAvailable), Running: int(r.CountRunning)}
	}
	return st, nil
}

// Compile-time checks that each driver's transaction is what EnqueueTx
// documents.
var (
	_ riverdriver.Driver[*sql.Tx] = (*riversqlite.Driver)(nil)
	_ riverdriver.Driver[pgx.Tx]  = (*riverpgxv5.Driver)(nil)
)
