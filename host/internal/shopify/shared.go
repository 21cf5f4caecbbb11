package shopify

import (
	"context"
	"sync"
	"time"
)

// SharedBucket keeps a shop's cost bucket where every process of the app
// sees it (the store of replicas): each reservation takes points out of it
// atomically, refilled at its restore rate since on one clock, so that the
// processes together never spend more than the bucket holds. See
// RATIONALE.md, "Why do replicas share the Shopify cost bucket through the
// store?".
type SharedBucket interface {
	// Reserve takes cost, at most the bucket's size, out of the bucket
	// if it holds it. While no answer has reported the bucket, one query
	// at a time, of any process, goes out as its probe.
	Reserve(ctx context.Context, cost float64) (Reservation, error)
	// Settle ends a reservation of reserved points that Shopify answered,
	// having spent spent (0 if THROTTLED) and reporting the bucket as
	// report: what the query did not spend goes back, and the bucket is
	// lowered to the report if that holds less. A probe's answer (0
	// reserved) reports the bucket.
	Settle(ctx context.Context, reserved, spent float64, report BucketReport) error
	// Cancel ends a reservation of reserved points that got no answer.
	// They stay spent: Shopify may have charged them. A probe's (0
	// reserved) lets another query probe.
	Cancel(ctx context.Context, reserved float64) error
}

// Reservation is what Reserve did.
type Reservation struct {
	// Probe: no answer has reported the bucket yet; nothing is taken,
	// and the query goes out unpaced, the only one, to learn it.
	Probe bool
	// Taken is what was taken out, when Wait is 0.
	Taken float64
	// Wait, when above 0, is how long the bucket needs before it may hold
	// the cost; nothing was taken.
	Wait time.Duration
}

// BucketReport is the bucket as an answer reported it
// (extensions.cost.throttleStatus).
type BucketReport struct {
	Max, Available, Rate float64
}

// NewSharedPacer returns a Pacer over a bucket kept in b: clients of
// several processes that each use one over the same bucket pace themselves
// together.
func NewSharedPacer(b SharedBucket) Pacer {
	return &sharedPacer{bucket: b, costs: map[string]float64{}}
}

type sharedPacer struct {
	bucket SharedBucket
	mu     sync.Mutex
	// costs is what each operation asked for last, as in bucket.
	costs map[string]float64
}

func (p *sharedPacer) costOf(op string, estimate float64) float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.costs[op]; ok {
		return c
	}
	return estimate
}

func (p *sharedPacer) take(ctx context.Context, op string, estimate float64, reserve bool,
	_ func() time.Time, sleep func(context.Context, time.Duration) error) (ticket, error) {
	if !reserve {
		// Only the unpaced client of a test asks to wait without taking.
		return ticket{}, ctx.Err()
	}
	for {
		r, err := p.bucket.Reserve(ctx, p.costOf(op, estimate))
		switch {
		case err != nil:
			return ticket{}, err
		case r.Probe:
			return ticket{probe: true}, nil
		case r.Wait <= 0:
			return ticket{cost: r.Taken, paced: true}, nil
		}
		if err := sleep(ctx, r.Wait); err != nil {
			return ticket{}, err
		}
	}
}

func (p *sharedPacer) observe(ctx context.Context, op string, c cost, tk ticket, _ time.Time) error {
	if c.RequestedQueryCost > 0 {
		p.mu.Lock()
		p.costs[op] = c.RequestedQueryCost
		p.mu.Unlock()
	}
	ts := c.ThrottleStatus
	if ts == nil || ts.MaximumAvailable <= 0 {
		return p.release(ctx, tk)
	}
	return p.bucket.Settle(ctx, tk.cost, c.ActualQueryCost,
		BucketReport{Max: ts.MaximumAvailable, Available: ts.CurrentlyAvailable, Rate: ts.RestoreRate})
}

func (p *sharedPacer) release(ctx context.Context, tk ticket) error {
	if tk.cost == 0 && !tk.probe {
		return nil
	}
	return p.bucket.Cancel(ctx, tk.cost)
}
