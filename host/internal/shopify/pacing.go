package shopify

import (
	"context"
	"sync"
	"time"
)

// bucket mirrors the shop's cost bucket (a leaky bucket per app and shop)
// as the last answer reported it, refilled at its restore rate since. A
// request waits until the mirror holds the request's cost, and takes it
// out before it is sent, so concurrent requests do not spend the same
// points. See RATIONALE.md, "Why pace Shopify requests by the cost bucket,
// rather than only retry THROTTLED answers?".
type bucket struct {
	mu sync.Mutex
	// known: an answer has reported the bucket; until then requests go
	// out unpaced.
	known bool
	// max, avail and rate are the bucket's size, what it held at at, and
	// its refill per second.
	max, avail, rate float64
	at               time.Time
	// inflight is the cost taken by requests not yet answered: an answer
	// reports the bucket without them.
	inflight float64
	// costs is what each operation asked for last (requestedQueryCost,
	// what Shopify takes before running a query).
	costs map[string]float64
	// changed is closed, and replaced, when a request ends: while the
	// bucket is unknown one request goes out alone and the others wait
	// for what its answer says.
	changed chan struct{}
}

func newBucket() *bucket {
	return &bucket{costs: map[string]float64{}, changed: make(chan struct{})}
}

// signal wakes the requests waiting for a request to end; b.mu is held.
func (b *bucket) signal() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// costOf is what op is expected to cost: what it asked for last time, or
// the estimate from its shape.
func (b *bucket) costOf(op string, estimate float64) float64 {
	if c, ok := b.costs[op]; ok {
		return c
	}
	return estimate
}

// level is what the bucket holds at now.
func (b *bucket) level(now time.Time) float64 {
	d := now.Sub(b.at).Seconds()
	if d < 0 {
		d = 0
	}
	return min(b.max, b.avail+b.rate*d)
}

// take waits until the bucket holds op's cost and, if reserve, takes it
// out; it returns what it took.
func (b *bucket) take(ctx context.Context, op string, estimate float64, reserve bool,
	now func() time.Time, sleep func(context.Context, time.Duration) error) (float64, error) {
	for {
		b.mu.Lock()
		need := b.costOf(op, estimate)
		if !b.known {
			if b.inflight > 0 {
				changed := b.changed
				b.mu.Unlock()
				select {
				case <-changed:
					continue
				case <-ctx.Done():
					return 0, ctx.Err()
				}
			}
			if reserve {
				b.inflight += need
			} else {
				need = 0
			}
			b.mu.Unlock()
			return need, ctx.Err()
		}
		// A query dearer than the whole bucket can never wait long enough:
		// send it when the bucket is full and let Shopify say so.
		need = min(need, b.max)
		t := now()
		have := b.level(t)
		if have >= need {
			if reserve {
				b.avail, b.at = have-need, t
				b.inflight += need
			} else {
				need = 0
			}
			b.mu.Unlock()
			return need, ctx.Err()
		}
		wait := time.Second
		if b.rate > 0 {
			wait = time.Duration((need - have) / b.rate * float64(time.Second))
			// Round up so the wait never ends a hair short of the cost.
			wait += time.Millisecond
		}
		b.mu.Unlock()
		if err := sleep(ctx, wait); err != nil {
			return 0, err
		}
	}
}

// observe takes an answer's report of the bucket, after op that had taken
// reserved, at the time the answer arrived. The report is older than that
// (the server wrote it before sending), so the mirror errs low: safe.
func (b *bucket) observe(op string, c cost, reserved float64, at time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	defer b.signal()
	b.inflight = max(b.inflight-reserved, 0)
	if c.RequestedQueryCost > 0 {
		b.costs[op] = c.RequestedQueryCost
	}
	ts := c.ThrottleStatus
	if ts == nil || ts.MaximumAvailable <= 0 {
		return
	}
	b.known = true
	b.max, b.rate = ts.MaximumAvailable, ts.RestoreRate
	b.avail, b.at = ts.CurrentlyAvailable-b.inflight, at
}

// release returns the reservation of a request that got no answer. The
// points stay spent in the mirror: Shopify may have charged them.
func (b *bucket) release(reserved float64) {
	b.mu.Lock()
	b.inflight = max(b.inflight-reserved, 0)
	b.signal()
	b.mu.Unlock()
}
