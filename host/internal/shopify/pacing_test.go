package shopify

import (
	"context"
	"fmt"
	"net/http"
	"strings"
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
			b.observe(context.Background(), "q", cost{RequestedQueryCost: tc.cost, ThrottleStatus: &throttleStatus{1000, tc.current, tc.rate}}, ticket{}, start)
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

// simShop is a shop's cost bucket as Shopify keeps it: a request is
// charged what it asks for when it arrives, and refunded down to what it
// actually cost once it has run; one the bucket cannot pay for is
// THROTTLED and charged nothing.
type simShop struct {
	max, rate, level float64
	at               time.Time
}

func (s *simShop) levelAt(now time.Time) float64 {
	return min(s.max, s.level+s.rate*now.Sub(s.at).Seconds())
}

// arrive runs a request and returns the cost its answer reports.
func (s *simShop) arrive(now time.Time, requested, actual float64) (c cost, throttled bool) {
	s.level, s.at = s.levelAt(now), now
	if s.level < requested {
		actual, throttled = 0, true
	}
	s.level -= actual
	return cost{RequestedQueryCost: requested, ActualQueryCost: actual,
		ThrottleStatus: &throttleStatus{s.max, s.level, s.rate}}, throttled
}

// playBucket plays a script of requests of cost 40 (spending actual) from
// one client against a simulated shop whose 100-point bucket, full at the
// start, refills 10 a second. Steps:
//
//	take A    A waits for the mirror (on the test's clock) and is sent
//	arrive A  A reaches the shop, which charges it and writes its report
//	answer A  A's answer, with that report, reaches the client
//	lose A    A's answer never comes (if A has not arrived, it never will)
//	wait 2s   time passes
//
// After every step the mirror must hold no more than the shop's bucket
// less what the requests still on their way will take: otherwise the
// client may send a request the shop throttles. It returns how long the
// takes waited in all.
func playBucket(t *testing.T, actual float64, script []string) (waited time.Duration) {
	t.Helper()
	const requested = 40.0
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	shop := &simShop{max: 100, rate: 10, level: 100, at: clock.now()}
	b := newBucket()
	b.observe(context.Background(), "q", cost{ThrottleStatus: &throttleStatus{shop.max, shop.level, shop.rate}}, ticket{}, clock.now())
	var (
		tickets = map[string]ticket{}
		pending = map[string]bool{} // sent, not arrived
		reports = map[string]cost{}
	)
	for _, step := range script {
		verb, arg, _ := strings.Cut(step, " ")
		switch verb {
		case "take":
			// A take that waits for an answer the script never gives
			// would hang: bound it.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second*slowtest.Factor)
			tk, err := b.take(ctx, "q", requested, true, clock.now, clock.sleep)
			cancel()
			if err != nil {
				t.Fatalf("%s: %v (waiting for an answer the script does not give?)", step, err)
			}
			tickets[arg], pending[arg] = tk, true
		case "arrive":
			c, throttled := shop.arrive(clock.now(), requested, actual)
			if throttled {
				t.Errorf("%s: THROTTLED, the bucket held %.1f", step, c.ThrottleStatus.CurrentlyAvailable)
			}
			reports[arg] = c
			delete(pending, arg)
		case "answer":
			b.observe(context.Background(), "q", reports[arg], tickets[arg], clock.now())
		case "lose":
			b.release(context.Background(), tickets[arg])
			delete(pending, arg)
		case "wait":
			d, err := time.ParseDuration(arg)
			if err != nil {
				t.Fatal(err)
			}
			clock.mu.Lock()
			clock.t = clock.t.Add(d)
			clock.mu.Unlock()
		default:
			t.Fatalf("unknown step %q", step)
		}
		now := clock.now()
		truth := shop.levelAt(now)
		for name := range pending {
			truth -= tickets[name].cost
		}
		b.mu.Lock()
		mirror := b.level(now)
		b.mu.Unlock()
		if mirror > truth+1e-9 {
			t.Errorf("after %q the mirror holds %.1f, the bucket %.1f: the next request may be throttled", step, mirror, truth)
		}
	}
	waited, _ = clock.slept()
	return waited
}

// TestMirrorNeverExceedsTheBucket plays the orders a busy machine
// produces: answers overtaking each other, requests overtaking each other
// on the way, lost answers, a full bucket while requests travel.
func TestMirrorNeverExceedsTheBucket(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script string
	}{
		{"in order", "take A, arrive A, answer A, take B, arrive B, answer B"},
		{"an answer overtaken by a later request's", "take A, take B, arrive A, arrive B, answer B, answer A, take C, arrive C"},
		{"a request overtaken on its way by a later one", "take A, take B, arrive B, arrive A, answer A, answer B, take C, arrive C"},
		{"an answer overtaken by a lost one", "take A, take B, arrive A, arrive B, lose B, answer A, take C, arrive C"},
		{"a lost request that never arrived", "take A, take B, lose B, arrive A, answer A, take C, arrive C"},
		{"a full bucket while requests travel", "take A, take B, wait 3s, arrive A, arrive B, answer A, take C, arrive C"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			playBucket(t, 40, strings.Split(tc.script, ", "))
		})
	}
}

// TestMirrorKeepsUpUnderOverlap: requests that always overlap, so that no
// answer is the only one in its request's time out, and that spend a
// quarter of what they ask for, as the refill gives back, never wait: the
// mirror does not drift low.
func TestMirrorKeepsUpUnderOverlap(t *testing.T) {
	script := []string{"take X0", "arrive X0"}
	for i := 1; i <= 30; i++ {
		script = append(script, fmt.Sprintf("take X%d", i), fmt.Sprintf("arrive X%d", i),
			fmt.Sprintf("answer X%d", i-1), "wait 1s")
	}
	if waited := playBucket(t, 10, script); waited > 0 {
		t.Errorf("the requests waited %v in all, want none: the bucket always held what they cost", waited)
	}
}
