package shopify

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/slowtest"
)

// bucketServer answers every query at a fixed cost from a leaky bucket of
// its own, on its own clock, as Shopify does: a request the bucket cannot
// pay for is THROTTLED. It counts the requests that arrived to an empty
// bucket.
type bucketServer struct {
	mu                  sync.Mutex
	max, rate, cost     float64
	level               float64
	at                  time.Time
	answered, throttled int
	lowest              float64 // the least the bucket held at an arrival
}

func (b *bucketServer) handle(w http.ResponseWriter, req gqlRequest) {
	b.mu.Lock()
	now := time.Now()
	b.level = min(b.max, b.level+b.rate*now.Sub(b.at).Seconds())
	b.at = now
	b.lowest = min(b.lowest, b.level)
	var body map[string]any
	if b.level < b.cost {
		b.throttled++
		body = map[string]any{"errors": []any{map[string]any{"message": "Throttled", "extensions": map[string]any{"code": "THROTTLED"}}},
			"extensions": costExt(b.cost, 0, b.max, b.level, b.rate)}
	} else {
		b.answered++
		b.level -= b.cost
		body = map[string]any{"data": map[string]any{"shop": map[string]any{"name": "Acme"}},
			"extensions": costExt(b.cost, b.cost, b.max, b.level, b.rate)}
	}
	b.mu.Unlock()
	writeJSON(w, body)
}

// runSteady sends n queries from `workers` goroutines at once, as a busy
// sync does, and returns the server's counts and the queries that failed.
func runSteady(t *testing.T, paced bool, n, workers int) (b *bucketServer, failed int) {
	t.Helper()
	// A bucket that refills in a blink, so the run takes ~ n*cost/rate.
	b = &bucketServer{max: 100, rate: 2000 / float64(slowtest.Factor), cost: 40, level: 100, at: time.Now(), lowest: 100}
	srv := newGQLServer(t, b.handle)
	c := newTestClient(t, srv.URL, nil, nil)
	c.noPacing = !paced
	jobs := make(chan struct{}, n)
	for range n {
		jobs <- struct{}{}
	}
	close(jobs)
	var (
		wg sync.WaitGroup
		mu sync.Mutex
	)
	for range workers {
		wg.Go(func() {
			for range jobs {
				if _, err := c.Shop(context.Background()); err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return b, failed
}

func TestPacingSendsNothingToAnEmptyBucket(t *testing.T) {
	b, failed := runSteady(t, true, 60, 4)
	if b.throttled != 0 || b.answered != 60 || failed != 0 {
		t.Errorf("%d answered, %d throttled, want 60 and none: a paced client waits for the bucket", b.answered, b.throttled)
	}
	if b.lowest < b.cost {
		t.Errorf("a request arrived when the bucket held %.1f of the %.0f it costs", b.lowest, b.cost)
	}
}

// TestUnpacedIsThrottled proves the bucket server can tell: without
// pacing, the same run is throttled.
func TestUnpacedIsThrottled(t *testing.T) {
	b, failed := runSteady(t, false, 60, 4)
	if b.throttled == 0 {
		t.Errorf("%d answered, %d throttled, want some THROTTLED", b.answered, b.throttled)
	}
	t.Logf("unpaced: %d answered, %d throttled, %d given up", b.answered, b.throttled, failed)
}

func TestThrottledWaitsForTheRefill(t *testing.T) {
	const requested, left, rate = 110.0, 10.0, 50.0
	first := true
	srv := newGQLServer(t, func(w http.ResponseWriter, req gqlRequest) {
		if first {
			first = false
			writeJSON(w, map[string]any{"errors": []any{map[string]any{"message": "Throttled", "extensions": map[string]any{"code": "THROTTLED"}}},
				"extensions": costExt(requested, 0, 1000, left, rate)})
			return
		}
		answerData(w, map[string]any{"shop": map[string]any{"name": "Acme"}})
	})
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	if _, err := newTestClient(t, srv.URL, clock, nil).Shop(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := time.Duration((requested - left) / rate * float64(time.Second))
	total, _ := clock.slept()
	if total < want || total > want+time.Second/10 {
		t.Errorf("waited %v before the retry, want the refill of %v", total, want)
	}
	if n := len(srv.got()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

func TestBucketWaitsForWhatItLacks(t *testing.T) {
	start := time.Unix(1e9, 0)
	for _, tc := range []struct {
		name                string
		current, cost, rate float64
		elapsed, want       time.Duration
	}{
		{"holds it", 500, 100, 50, 0, 0},
		{"refilled since", 0, 100, 50, 2 * time.Second, 0},
		{"lacks 50 at 50/s", 50, 100, 50, 0, time.Second},
		{"dearer than the bucket waits for it full", 0, 5000, 100, 0, 10 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{t: start}
			b := newBucket()
			b.observe("q", cost{RequestedQueryCost: tc.cost, ThrottleStatus: &struct {
				MaximumAvailable   float64 `json:"maximumAvailable"`
				CurrentlyAvailable float64 `json:"currentlyAvailable"`
				RestoreRate        float64 `json:"restoreRate"`
			}{1000, tc.current, tc.rate}}, 0, start)
			clock.t = start.Add(tc.elapsed)
			if _, err := b.take(context.Background(), "q", 1, true, clock.now, clock.sleep); err != nil {
				t.Fatal(err)
			}
			got, _ := clock.slept()
			if got < tc.want || got > tc.want+10*time.Millisecond {
				t.Errorf("waited %v, want %v", got, tc.want)
			}
		})
	}
}
