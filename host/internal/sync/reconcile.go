package sync

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/store"
)

// Reconciliation runs per shop, every ReconcileInterval, each shop at its
// own offset within the interval so that a thousand shops do not read
// TikTok back in the same minute. A periodic job, which River runs on its
// elected leader only, looks every minute for the shops whose slot has
// passed since their reconciliation last started, and queues a
// reconciliation job for each: one per shop at a time (unique), on the
// bulk queue, so that it never delays a webhook's job.

// Job kinds of reconciliation.
const (
	KindShopReconcile     = "shop_reconcile"
	KindReconcileSchedule = "reconcile_schedule"
)

// DefaultReconcileInterval is Options.ReconcileInterval's default.
const DefaultReconcileInterval = time.Hour

// scheduleTick is how often the schedule looks for shops due, at most.
const scheduleTick = time.Minute

// shopReconcileArgs are a shop's reconciliation job: unique per shop.
type shopReconcileArgs struct {
	Shop string `json:"shop"`
}

func (shopReconcileArgs) Kind() string { return KindShopReconcile }

func (shopReconcileArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:      QueueBulk,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: uniqueStates},
	}
}

// reconcileScheduleArgs are the periodic job that queues the shops due.
type reconcileScheduleArgs struct{}

func (reconcileScheduleArgs) Kind() string { return KindReconcileSchedule }

func (reconcileScheduleArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:      QueueBulk,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: uniqueStates},
	}
}

// EnqueueReconcile makes sure the shop's reconciliation runs soon: it
// queues it unless it is queued or running already.
func (q *Queue) EnqueueReconcile(ctx context.Context, shop string) error {
	if err := q.engine.insert(ctx, shopReconcileArgs{Shop: shop}); err != nil {
		return fmt.Errorf("sync: enqueue the reconciliation of shop %q: %w", shop, err)
	}
	return nil
}

// reconcileOffset is the shop's place in every interval: its
// reconciliations start at the times t with t ≡ offset (mod interval),
// counted from the Unix epoch. A hash spreads shops evenly and keeps each
// at the same place on every replica and after every restart.
func reconcileOffset(shop string, interval time.Duration) time.Duration {
	h := fnv.New64a()
	h.Write([]byte(shop))
	return time.Duration(h.Sum64() % uint64(interval))
}

// lastSlot is the latest start time of the shop's reconciliation at or
// before now.
func lastSlot(shop string, now time.Time, interval time.Duration) time.Time {
	since := time.Duration(now.UnixNano()) - reconcileOffset(shop, interval)
	phase := since % interval
	if phase < 0 {
		phase += interval
	}
	return now.Add(-phase)
}

// dueShops returns the shops whose reconciliation is due at now: its slot
// has passed since it last started; a shop never reconciled waits for its
// slot (within window of it), so that the first start of many shops is
// spread too. A shop whose reconciliation stopped half-way resumes.
func dueShops(states []store.ReconcileState, now time.Time, interval, window time.Duration) []string {
	var due []string
	for _, st := range states {
		slot := lastSlot(st.Shop, now, interval)
		switch {
		case st.ResumeAfter != "":
			due = append(due, st.Shop)
		case st.Started.IsZero():
			if now.Sub(slot) < window {
				due = append(due, st.Shop)
			}
		case st.Started.Before(slot):
			due = append(due, st.Shop)
		}
	}
	return due
}

// reconcileScheduleWorker queues the reconciliations that are due.
type reconcileScheduleWorker[TTx any] struct {
	river.WorkerDefaults[reconcileScheduleArgs]
	store    *store.Store
	interval time.Duration
	tick     time.Duration
}

func (w *reconcileScheduleWorker[TTx]) Work(ctx context.Context, _ *river.Job[reconcileScheduleArgs]) error {
	states, err := w.store.ReconcileStates(ctx)
	if err != nil {
		return err
	}
	client := river.ClientFromContext[TTx](ctx)
	// Twice the tick: a schedule job that ran a little late still finds
	// the shops whose first slot fell in the gap.
	for _, id := range dueShops(states, time.Now(), w.interval, 2*w.tick) {
		if _, err := client.Insert(ctx, shopReconcileArgs{Shop: id}, nil); err != nil {
			return fmt.Errorf("queue the reconciliation of shop %q: %w", id, err)
		}
	}
	return nil
}

// shopReconcileWorker runs a shop's reconciliation, a page at a time,
// recording after each page where it resumes: one that runs longer than
// its turn yields its worker, and one that fails resumes where it stopped.
type shopReconcileWorker struct {
	river.WorkerDefaults[shopReconcileArgs]
	store     *store.Store
	reconcile func(ctx context.Context, shop, after string) (next string, repairs int, err error)
	turn      time.Duration
	log       *slog.Logger
}

func (w *shopReconcileWorker) Work(ctx context.Context, job *river.Job[shopReconcileArgs]) error {
	id := job.Args.Shop
	start := time.Now()
	after, err := w.store.StartReconcile(ctx, id, start)
	switch {
	case errors.Is(err, shop.ErrNotFound):
		return nil // deleted
	case err != nil:
		return err
	}
	repairs := 0
	for {
		next, n, err := w.reconcile(ctx, id, after)
		repairs += n
		if errors.Is(err, shop.ErrSyncBlocked) {
			// Nothing to retry until the shop changes: its next slot
			// tries again, from the first page.
			w.log.Warn("sync: reconciliation skipped", "shop", id, "err", err)
			return river.JobCancel(errors.Join(err, w.store.ResumeReconcileAfter(ctx, id, "")))
		}
		if err != nil {
			return err
		}
		if err := w.store.ResumeReconcileAfter(ctx, id, next); err != nil {
			return err
		}
		if next == "" {
			w.log.Info("sync: reconciliation done", "shop", id, "repairs", repairs, "seconds", time.Since(start).Seconds())
			return nil
		}
		after = next
		if time.Since(start) >= w.turn {
			w.log.Info("sync: reconciliation yields its turn", "shop", id, "repairs", repairs, "resumes_after", after)
			return river.JobSnooze(0)
		}
	}
}

// The shop service queues reconciliations through the Queue.
var _ shop.ReconcileQueue = (*Queue)(nil)
