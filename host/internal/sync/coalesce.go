package sync

import (
	"context"
	"fmt"
	"time"
)

// A burst of webhooks for a shop (a hundred for one item within a few
// hundred milliseconds, a bulk edit naming many) would cost a Shopify read
// per job run if the job took the items as soon as the first webhook
// committed: the later ones land while it reads, and leave their items
// pending again. The coalescer holds the job until the oldest webhook its
// items wait for is window old, so that the burst's webhooks are all
// recorded and one read takes them together. Items no webhook left pending
// (a resync, a settings change, a connect) do not wait: there is nothing
// to gather.
//
// The job waits holding its worker rather than snoozing: a snoozed job
// runs again only at the webhooks queue's next poll (up to 100 ms late)
// and costs two more writes, and a job that waited for a free worker
// finds its items already old and waits no more (RATIONALE.md, "Why does
// a shop's job wait for a burst holding its worker?").
type coalescer struct {
	window       time.Duration
	pendingSince func(ctx context.Context, shop string, cutoff time.Time) (time.Time, error)
}

// wait returns once the shop's pending items are due: at once with no
// window, or when none waits for a webhook younger than the window.
func (c coalescer) wait(ctx context.Context, shop string) error {
	if c.window <= 0 {
		return nil
	}
	now := time.Now()
	since, err := c.pendingSince(ctx, shop, now.Add(-c.window))
	if err != nil {
		return fmt.Errorf("coalesce the shop's webhooks: %w", err)
	}
	if since.IsZero() {
		return nil
	}
	// At most a window, whatever the receipt's clock said: another
	// replica's may be ahead of this one's.
	d := min(since.Add(c.window).Sub(now), c.window)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
