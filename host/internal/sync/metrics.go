package sync

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// middleware measures every job worked with m; none without it.
func middleware(m JobMetrics) []rivertype.Middleware {
	if m == nil {
		return nil
	}
	return []rivertype.Middleware{river.WorkerMiddlewareFunc(func(ctx context.Context, job *rivertype.JobRow, work func(context.Context) error) error {
		start := time.Now()
		// ScheduledAt is when the job became available: its insert, its
		// snooze or its retry's due time.
		m.JobStarted(job.Queue, job.Kind, max(start.Sub(job.ScheduledAt), 0))
		err := work(ctx)
		outcome := "ok"
		var snooze *river.JobSnoozeError
		switch {
		case errors.As(err, &snooze):
			outcome = "snoozed"
		case err != nil:
			outcome = "error"
		}
		m.JobFinished(job.Queue, job.Kind, outcome, time.Since(start))
		return err
	})}
}
