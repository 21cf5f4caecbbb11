package shopify

import (
	"context"
	"sync"
	"time"
)

// bucket mirrors the shop's cost bucket (a leaky bucket per app and shop)
// as the answers reported it, refilled at its restore rate since. A
// request waits until the mirror holds the request's cost, and takes it
// out before it is sent, so concurrent requests do not spend the same
// points. See RATIONALE.md, "Why pace Shopify requests by the cost bucket,
// rather than only retry THROTTLED answers?" and "Why may an overtaken
// answer only lower the cost bucket's mirror?".
type bucket struct {
	mu sync.Mutex
	// known: an answer has reported the bucket; until then requests go
	// out unpaced.
	known bool
	// max, avail and rate are the bucket's size, what the mirror held at
	// at, and its refill per second. avail is net of inflight: it is what
	// the client may still spend.
	max, avail, rate float64
	at               time.Time
	// inflight is the cost taken by requests not yet answered: an answer
	// reports the bucket without them.
	inflight float64
	// ended counts the requests answered or abandoned so far: a ticket
	// notes it at send, so an answer can tell whether another ended while
	// it was out.
	ended uint64
	// costs is what each operation asked for last (requestedQueryCost,
	// what Shopify takes before running a query).
	costs map[string]float64
	// changed is closed, and replaced, when a request ends: while the
	// bucket is unknown one request goes out alone and the others wait
	// for what its answer says.
	changed chan struct{}
}

// ticket is what a request took from the bucket before it was sent.
type ticket struct {
	// cost is what it took out of the mirror.
	cost float64
	// ended is bucket.ended when it was sent.
	ended uint64
	// paced: the request waited for the bucket and took its cost. An
	// unpaced request's answer is taken at its word.
	paced bool
	// probe: the request went out unpaced, alone, to learn a shared
	// bucket no answer had reported yet.
	probe bool
}

// Pacer keeps a shop's cost bucket for the clients that share it: each
// waits, before it sends a query, until the bucket holds the query's cost.
// NewPacer keeps it in memory, for the clients of one process;
// NewSharedPacer keeps it where several processes see it.
type Pacer interface {
	// take waits until the bucket holds op's cost and, if reserve, takes
	// it out; the ticket says what it took, for observe or release.
	take(ctx context.Context, op string, estimate float64, reserve bool,
		now func() time.Time, sleep func(context.Context, time.Duration) error) (ticket, error)
	// observe takes the answer to the request that took tk, arrived at at.
	observe(ctx context.Context, op string, c cost, tk ticket, at time.Time) error
	// release ends the request that took tk and got no answer.
	release(ctx context.Context, tk ticket) error
}

// NewPacer returns a cost bucket kept in memory: the clients of one
// process that share it pace themselves together.
func NewPacer() Pacer { return newBucket() }

func newBucket() *bucket {
	return &bucket{costs: map[string]float64{}, changed: make(chan struct{})}
}

// signal wakes the requests waiting for a request to end; b.mu is held.
func (b *bucket) signal() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// awaitAnEnd releases b.mu, held, and waits until a request ends.
func (b *bucket) awaitAnEnd(ctx context.Context) error {
	changed := b.changed
	b.mu.Unlock()
	select {
	case <-changed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// costOf is what op is expected to cost: what it asked for last time, or
// the estimate from its shape.
func (b *bucket) costOf(op string, estimate float64) float64 {
	if c, ok := b.costs[op]; ok {
		return c
	}
	return estimate
}

// level is what the mirror holds at now. The bucket never holds more than
// its size, and the requests in flight may not have reached Shopify yet:
// while they travel, a full bucket gains nothing, so the mirror stops
// their cost short of full.
func (b *bucket) level(now time.Time) float64 {
	d := max(now.Sub(b.at).Seconds(), 0)
	return min(b.max-b.inflight, b.avail+b.rate*d)
}

// take waits until the bucket holds op's cost and, if reserve, takes it
// out; the ticket says what it took, for observe or release.
func (b *bucket) take(ctx context.Context, op string, estimate float64, reserve bool,
	now func() time.Time, sleep func(context.Context, time.Duration) error) (ticket, error) {
	for {
		b.mu.Lock()
		need := b.costOf(op, estimate)
		if !b.known {
			if b.inflight > 0 {
				if err := b.awaitAnEnd(ctx); err != nil {
					return ticket{}, err
				}
				continue
			}
			tk := ticket{}
			if reserve {
				tk = ticket{cost: need, ended: b.ended, paced: true}
				b.inflight += need
			}
			b.mu.Unlock()
			return tk, ctx.Err()
		}
		// A query dearer than the whole bucket can never wait long enough:
		// send it when the bucket is full and let Shopify say so.
		need = min(need, b.max)
		t := now()
		have := b.level(t)
		if have >= need {
			tk := ticket{}
			if reserve {
				tk = ticket{cost: need, ended: b.ended, paced: true}
				b.avail, b.at = have-need, t
				b.inflight += need
			}
			b.mu.Unlock()
			return tk, ctx.Err()
		}
		if b.max-b.inflight < need {
			// The mirror stops short of need until a request ends.
			if err := b.awaitAnEnd(ctx); err != nil {
				return ticket{}, err
			}
			continue
		}
		wait := time.Second
		if b.rate > 0 {
			wait = time.Duration((need - have) / b.rate * float64(time.Second))
			// Round up so the wait never ends a hair short of the cost.
			wait += time.Millisecond
		}
		b.mu.Unlock()
		if err := sleep(ctx, wait); err != nil {
			return ticket{}, err
		}
	}
}

// observe takes the answer to the request that took tk, arrived at at.
//
// The answer's report was written before the answer left Shopify: it
// lacks the cost of the requests that reached Shopify after it. Report −
// inflight is a sound mirror if each of those is still in flight, which
// holds when no other request ended while this one was out: one that
// ended meanwhile may have been charged after the report, and is no
// longer in inflight. An answer that another overtook may therefore only
// lower the mirror, which keeps its own account: the request's cost was
// taken at send, and what it did not spend (requested − actual, which
// Shopify refunds; all of it if THROTTLED) goes back, so under steady
// overlapping load, where few answers are fresh, the mirror does not
// drift low.
func (b *bucket) observe(_ context.Context, op string, c cost, tk ticket, at time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	defer b.signal()
	fresh := tk.ended == b.ended
	b.ended++
	if c.RequestedQueryCost > 0 {
		b.costs[op] = c.RequestedQueryCost
	}
	ts := c.ThrottleStatus
	if ts == nil || ts.MaximumAvailable <= 0 {
		b.inflight = max(b.inflight-tk.cost, 0)
		return nil
	}
	if !b.known || !tk.paced || fresh {
		b.inflight = max(b.inflight-tk.cost, 0)
		b.known = true
		b.max, b.rate = ts.MaximumAvailable, ts.RestoreRate
		b.avail, b.at = ts.CurrentlyAvailable-b.inflight, at
		return nil
	}
	// A clock read before another request's take may be behind b.at.
	at = later(at, b.at)
	own := b.level(at) + tk.cost - c.ActualQueryCost
	b.inflight = max(b.inflight-tk.cost, 0)
	b.max, b.rate = ts.MaximumAvailable, ts.RestoreRate
	b.avail, b.at = min(own, ts.CurrentlyAvailable-b.inflight), at
	return nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// release ends the request that took tk and got no answer. The points
// stay spent in the mirror: Shopify may have charged them.
func (b *bucket) release(_ context.Context, tk ticket) error {
	b.mu.Lock()
	b.inflight = max(b.inflight-tk.cost, 0)
	b.ended++
	b.signal()
	b.mu.Unlock()
	return nil
}
