package shopify

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/slowtest"
)

// memSharedBucket is a SharedBucket in memory, accounted as the store
// keeps it (store.ReserveShopifyCost): the test double of the bucket
// replicas share.
type memSharedBucket struct {
	mu                           sync.Mutex
	known, probing               bool
	max, avail, rate, inflight   float64
	at                           time.Time
	reserved, settled, cancelled int
}

func (b *memSharedBucket) level(now time.Time) float64 {
	return min(b.max-b.inflight, b.avail+b.rate*now.Sub(b.at).Seconds())
}

func (b *memSharedBucket) Reserve(_ context.Context, cost float64) (Reservation, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case !b.known && b.probing:
		return Reservation{Wait: 100 * time.Millisecond}, nil
	case !b.known:
		b.probing = true
		return Reservation{Probe: true}, nil
	}
	now := time.Now()
	need, have := min(cost, b.max), b.level(now)
	if have < need {
		return Reservation{Wait: time.Duration((need-have)/b.rate*float64(time.Second)) + time.Millisecond}, nil
	}
	b.reserved++
	b.avail, b.at, b.inflight = have-need, now, b.inflight+need
	return Reservation{Taken: need}, nil
}

func (b *memSharedBucket) Settle(_ context.Context, reserved, spent float64, r BucketReport) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.settled++
	now := time.Now()
	if !b.known {
		b.known, b.max, b.avail, b.rate, b.at = true, r.Max, r.Available, r.Rate, now
		return nil
	}
	own := b.level(now) + reserved - spent
	b.inflight = max(b.inflight-reserved, 0)
	b.max, b.rate = r.Max, r.Rate
	b.avail, b.at = min(own, r.Available), now
	return nil
}

func (b *memSharedBucket) Cancel(_ context.Context, reserved float64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cancelled++
	if !b.known {
		b.probing = false
		return nil
	}
	now := time.Now()
	b.avail, b.at = b.level(now), now
	b.inflight = max(b.inflight-reserved, 0)
	return nil
}

// TestClientsSharingAPacer: two clients of one shop (a sync job and a
// reconciliation, in one process or on two replicas) send queries at once.
// Each pacing on its own bucket mirror, they are throttled, which shows
// the test can tell; sharing a Pacer, in memory or kept in a
// SharedBucket, they never are.
func TestClientsSharingAPacer(t *testing.T) {
	const n, workers = 60, 3
	tests := []struct {
		name        string
		pacers      func() [2]Pacer
		throttled   bool
		sharedStore *memSharedBucket
	}{
		{"each its own", func() [2]Pacer { return [2]Pacer{NewPacer(), NewPacer()} }, true, nil},
		{"one in memory", func() [2]Pacer { p := NewPacer(); return [2]Pacer{p, p} }, false, nil},
		{"a shared bucket", nil, false, &memSharedBucket{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var pacers [2]Pacer
			if tc.sharedStore != nil {
				// Each process has its own Pacer over the one bucket.
				pacers = [2]Pacer{NewSharedPacer(tc.sharedStore), NewSharedPacer(tc.sharedStore)}
			} else {
				pacers = tc.pacers()
			}
			// Shop queries cost what the client estimates (1): the test
			// measures the sharing, not the estimates.
			b := &bucketServer{max: 4, rate: 30 / float64(slowtest.Factor), cost: 1, level: 4, at: time.Now(), lowest: 4}
			srv := newGQLServer(t, b.handle)
			var wg sync.WaitGroup
			for _, p := range pacers {
				c := newTestClient(t, srv.URL, nil, func(o *Options) { o.Pacer = p })
				for range workers {
					wg.Go(func() {
						for range n / (2 * workers) {
							if _, err := c.Shop(context.Background()); err != nil {
								t.Error(err)
								return
							}
						}
					})
				}
			}
			wg.Wait()
			t.Logf("%d answered, %d throttled", b.answered, b.throttled)
			if got := b.throttled > 0; got != tc.throttled {
				t.Errorf("%d of %d queries throttled, want throttled %v", b.throttled, b.answered+b.throttled, tc.throttled)
			}
			// One query, of either process, probes the bucket unpaced.
			if s := tc.sharedStore; s != nil && (s.reserved == 0 || s.settled != s.reserved+1 || s.cancelled != 0) {
				t.Errorf("the shared bucket had %d reservations, %d settled, %d cancelled, want each settled, and one probe",
					s.reserved, s.settled, s.cancelled)
			}
		})
	}
}
