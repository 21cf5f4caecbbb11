package sync

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/syncrules/syncrules/host/internal/store"
)

// The cleanup job deletes what the sync no longer needs: history entries
// older than Options.HistoryDays, and webhook receipts older than a week
// (Shopify retries a webhook for hours, so an older receipt dedupes
// nothing). River's periodic jobs insert it every cleanupInterval, and
// once at start, from the cluster's leader only: one cleanup per cluster,
// whatever the number of replicas.

// KindCleanup is the kind of the cleanup job.
const KindCleanup = "sync_cleanup"

const (
	// cleanupInterval is how often the cleanup runs: each run then
	// deletes about an hour of rows, in batches.
	cleanupInterval = time.Hour
	// receiptRetention is how long webhook receipts are kept.
	receiptRetention = 7 * 24 * time.Hour
)

// Set by tests: the cleanup's clock, and a hook told of each run.
var (
	cleanupNow  = time.Now
	cleanedHook func(Cleaned)
)

// Cleaned is what one cleanup deleted.
type Cleaned struct {
	History, Receipts int64
}

// cleanupArgs are the cleanup job: one at a time.
type cleanupArgs struct{}

func (cleanupArgs) Kind() string { return KindCleanup }

func (cleanupArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueBulk, UniqueOpts: river.UniqueOpts{ByState: uniqueStates}}
}

// cleanupWorker runs the cleanup job.
type cleanupWorker struct {
	river.WorkerDefaults[cleanupArgs]
	store       *store.Store
	historyDays int
	log         *slog.Logger
}

func (w *cleanupWorker) Work(ctx context.Context, _ *river.Job[cleanupArgs]) error {
	now := cleanupNow()
	var c Cleaned
	var err error
	if c.History, err = w.store.PruneSyncHistory(ctx, now.AddDate(0, 0, -w.historyDays)); err != nil {
		return fmt.Errorf("sync cleanup: %w", err)
	}
	if c.Receipts, err = w.store.PruneWebhookReceipts(ctx, now.Add(-receiptRetention)); err != nil {
		return fmt.Errorf("sync cleanup: %w", err)
	}
	w.log.Info("sync cleanup", "history_deleted", c.History, "history_days", w.historyDays, "webhook_receipts_deleted", c.Receipts)
	if cleanedHook != nil {
		cleanedHook(c)
	}
	return nil
}

// cleanupJobs are the periodic jobs of opt: the cleanup, if
// opt.HistoryDays is set.
func cleanupJobs(workers *river.Workers, opt Options) []*river.PeriodicJob {
	if opt.HistoryDays <= 0 {
		return nil
	}
	river.AddWorker(workers, &cleanupWorker{store: opt.Store, historyDays: opt.HistoryDays, log: opt.Logger})
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(cleanupInterval),
		func() (river.JobArgs, *river.InsertOpts) { return cleanupArgs{}, nil },
		&river.PeriodicJobOpts{ID: KindCleanup, RunOnStart: true})}
}
