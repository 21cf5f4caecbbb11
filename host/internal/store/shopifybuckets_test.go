package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/syncrules/syncrules/host/internal/shopify"
	"github.com/syncrules/syncrules/host/internal/store"
	"github.com/syncrules/syncrules/host/internal/store/storetest"
)

// still is a restore rate so slow that the bucket gains nothing while a
// test runs: what it holds is what the test put there.
const still = 1e-6

const neverStale = time.Hour

// bucketStep is one call on a shop's bucket.
type bucketStep struct {
	// op: "settle" (an answer), "cancel" (no answer), or "reserve".
	op string
	// cost is what a reservation asks for.
	cost float64
	// staleAll: the reservation finds every point in flight stale.
	staleAll bool
	// reserved, spent and report: a settle's.
	reserved, spent float64
	report          shopify.BucketReport
	// want is a reservation's result (Wait compared within tolerance).
	want shopify.Reservation
}

func TestShopifyBucketReserve(t *testing.T) {
	full := func(max, rate float64) shopify.BucketReport {
		return shopify.BucketReport{Max: max, Available: max, Rate: rate}
	}
	taken := func(n float64) shopify.Reservation { return shopify.Reservation{Taken: n} }
	wait := func(d time.Duration) shopify.Reservation { return shopify.Reservation{Wait: d} }
	probe := shopify.Reservation{Probe: true}
	tests := []struct {
		name  string
		steps []bucketStep
	}{
		{"an unknown bucket lets one query probe it; the others wait for its answer", []bucketStep{
			{op: "reserve", cost: 50, want: probe},
			{op: "reserve", cost: 50, want: wait(100 * time.Millisecond)},
			{op: "settle", spent: 10, report: shopify.BucketReport{Max: 100, Available: 90, Rate: still}},
			{op: "reserve", cost: 90, want: taken(90)},
		}},
		{"a lost probe lets another query probe", []bucketStep{
			{op: "reserve", cost: 50, want: probe},
			{op: "cancel"},
			{op: "reserve", cost: 50, want: probe},
		}},
		{"a probe out for stale lets another query probe", []bucketStep{
			{op: "reserve", cost: 50, want: probe},
			{op: "reserve", cost: 50, staleAll: true, want: probe},
		}},
		{"the first answer reports the bucket; a reservation takes its cost", []bucketStep{
			{op: "settle", spent: 10, report: shopify.BucketReport{Max: 100, Available: 90, Rate: still}},
			{op: "reserve", cost: 60, want: taken(60)},
			{op: "reserve", cost: 30, want: taken(30)},
		}},
		{"a cost the bucket does not hold waits for its refill", []bucketStep{
			{op: "settle", report: shopify.BucketReport{Max: 100, Available: 10, Rate: 1}},
			{op: "reserve", cost: 30, want: wait(20 * time.Second)},
		}},
		{"a query dearer than the bucket takes the whole full bucket", []bucketStep{
			{op: "settle", report: full(100, still)},
			{op: "reserve", cost: 500, want: taken(100)},
		}},
		{"what an answered query did not spend goes back", []bucketStep{
			{op: "settle", report: full(100, still)},
			{op: "reserve", cost: 80, want: taken(80)},
			{op: "settle", reserved: 80, spent: 30, report: shopify.BucketReport{Max: 100, Available: 70, Rate: still}},
			{op: "reserve", cost: 70, want: taken(70)},
			{op: "reserve", cost: 1, want: wait(time.Hour)},
		}},
		{"a THROTTLED answer spent nothing", []bucketStep{
			{op: "settle", report: full(100, still)},
			{op: "reserve", cost: 80, want: taken(80)},
			{op: "settle", reserved: 80, spent: 0, report: full(100, still)},
			{op: "reserve", cost: 100, want: taken(100)},
		}},
		{"an answer reporting less than the account lowers it", []bucketStep{
			{op: "settle", report: full(100, still)},
			{op: "reserve", cost: 20, want: taken(20)},
			{op: "settle", reserved: 20, spent: 20, report: shopify.BucketReport{Max: 100, Available: 5, Rate: still}},
			{op: "reserve", cost: 6, want: wait(time.Hour)},
			{op: "reserve", cost: 5, want: taken(5)},
		}},
		{"an answer does not give back what queries in flight took", []bucketStep{
			// Two queries in flight; the first is answered before the
			// second reached Shopify, whose report still holds its cost.
			{op: "settle", report: full(100, still)},
			{op: "reserve", cost: 50, want: taken(50)},
			{op: "reserve", cost: 40, want: taken(40)},
			{op: "settle", reserved: 50, spent: 50, report: shopify.BucketReport{Max: 100, Available: 50, Rate: still}},
			{op: "reserve", cost: 11, want: wait(time.Hour)},
			{op: "reserve", cost: 10, want: taken(10)},
		}},
		{"an unanswered query's points stay spent", []bucketStep{
			{op: "settle", report: full(100, still)},
			{op: "reserve", cost: 60, want: taken(60)},
			{op: "cancel", reserved: 60},
			{op: "reserve", cost: 41, want: wait(time.Hour)},
			{op: "reserve", cost: 40, want: taken(40)},
		}},
		{"a full bucket gains nothing while a query travels", []bucketStep{
			{op: "settle", report: full(100, 1000)},
			{op: "reserve", cost: 100, want: taken(100)},
			{op: "reserve", cost: 1, want: wait(100 * time.Millisecond)},
		}},
		{"points in flight on a bucket left untouched for stale are dropped", []bucketStep{
			{op: "settle", report: full(100, 1)},
			{op: "reserve", cost: 50, want: taken(50)},
			// Kept, the 50 in flight cap the bucket at 50: it waits for an
			// end. Dropped, it waits for 10 points of refill.
			{op: "reserve", cost: 60, want: wait(100 * time.Millisecond)},
			{op: "reserve", cost: 60, staleAll: true, want: wait(10 * time.Second)},
		}},
	}
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		for i, tc := range tests {
			domain := fmt.Sprintf("shop%d.myshopify.com", i)
			for j, st := range tc.steps {
				var err error
				switch st.op {
				case "settle":
					err = s.SettleShopifyCost(ctx, domain, st.reserved, st.spent, st.report)
				case "cancel":
					err = s.CancelShopifyCost(ctx, domain, st.reserved)
				case "reserve":
					stale := neverStale
					if st.staleAll {
						stale = 0
					}
					var got shopify.Reservation
					got, err = s.ReserveShopifyCost(ctx, domain, st.cost, stale)
					if err == nil && !sameReservation(got, st.want) {
						t.Errorf("%s: step %d: reserve %g = %+v, want %+v", tc.name, j, st.cost, got, st.want)
					}
				}
				if err != nil {
					t.Fatalf("%s: step %d: %v", tc.name, j, err)
				}
			}
		}
	})
}

// sameReservation compares reservations, a wait within a second (the
// clock runs while the test does; an hour stands for "a long wait").
func sameReservation(got, want shopify.Reservation) bool {
	if got.Probe != want.Probe || got.Taken != want.Taken || (got.Wait > 0) != (want.Wait > 0) {
		return false
	}
	if want.Wait >= time.Hour {
		return got.Wait >= time.Hour
	}
	return got.Wait <= want.Wait+time.Millisecond && got.Wait > want.Wait-time.Second
}

// TestShopifyBucketConcurrent: goroutines on two handles of one database,
// as two replicas, reserve from one bucket at once: together they take no
// more than it holds, and all but less than the dearest cost of it.
func TestShopifyBucketConcurrent(t *testing.T) {
	const size, dearest, workers = 1000.0, 40, 8
	for _, engine := range storetest.Engines {
		t.Run(engine, func(t *testing.T) {
			h := storetest.Replicas(t, engine)
			ctx := t.Context()
			const domain = "busy.myshopify.com"
			if err := h[0].SettleShopifyCost(ctx, domain, 0, 0, shopify.BucketReport{Max: size, Available: size, Rate: still}); err != nil {
				t.Fatal(err)
			}
			var (
				total atomic.Int64 // in thousandths of a point
				wg    sync.WaitGroup
				start = make(chan struct{})
				errs  = make(chan error, workers)
			)
			for w := range workers {
				wg.Go(func() {
					s, rng := h[w%2], rand.New(rand.NewPCG(uint64(w), 1))
					<-start
					for {
						cost := float64(1 + rng.IntN(dearest))
						r, err := s.ReserveShopifyCost(ctx, domain, cost, neverStale)
						if err != nil {
							errs <- err
							return
						}
						if r.Wait > 0 {
							return
						}
						total.Add(int64(r.Taken * 1000))
					}
				})
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			spent := float64(total.Load()) / 1000
			if spent > size+0.01 || spent <= size-dearest {
				t.Errorf("%d goroutines on two handles took %g points of a %g-point bucket, want at most %g and more than %g",
					workers, spent, size, size, size-dearest)
			}
		})
	}
}

// TestShopifyBucketNeverOverspends drives a bucket kept in the store with
// queries reserved, arriving at a simulated Shopify, answered and lost in
// any order, as replicas' queries are: Shopify never receives a query its
// bucket cannot pay for. The bucket does not refill, so the database's
// clock does not matter.
func TestShopifyBucketNeverOverspends(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		var shops atomic.Int64
		rapid.Check(t, func(rt *rapid.T) {
			ctx := context.Background()
			domain := fmt.Sprintf("sim%d.myshopify.com", shops.Add(1))
			const size = 100.0
			// truth is what Shopify's bucket holds.
			truth := size
			type query struct {
				taken, actual float64
				// arrived: Shopify charged it, and wrote report.
				arrived bool
				report  float64
				// lost: the client gave up on it; it may still arrive.
				lost bool
			}
			report := func(available float64) shopify.BucketReport {
				return shopify.BucketReport{Max: size, Available: available, Rate: still}
			}
			// The probe's answer: it cost nothing.
			if r, err := s.ReserveShopifyCost(ctx, domain, 10, neverStale); err != nil || !r.Probe {
				rt.Fatalf("the first reservation = %+v, %v, want a probe", r, err)
			}
			if err := s.SettleShopifyCost(ctx, domain, 0, 0, report(size)); err != nil {
				rt.Fatal(err)
			}
			var flying []*query
			drop := func(i int) { flying = append(flying[:i], flying[i+1:]...) }
			for range rapid.IntRange(1, 40).Draw(rt, "steps") {
				op := rapid.SampledFrom([]string{"reserve", "arrive", "answer", "lose"}).Draw(rt, "op")
				if op == "reserve" {
					cost := float64(rapid.IntRange(1, 60).Draw(rt, "cost"))
					r, err := s.ReserveShopifyCost(ctx, domain, cost, neverStale)
					if err != nil {
						rt.Fatal(err)
					}
					if r.Wait == 0 {
						flying = append(flying, &query{taken: r.Taken, actual: float64(rapid.IntRange(0, int(r.Taken)).Draw(rt, "actual"))})
					}
					continue
				}
				if len(flying) == 0 {
					continue
				}
				i := rapid.IntRange(0, len(flying)-1).Draw(rt, "query")
				q := flying[i]
				switch {
				case op == "arrive" && !q.arrived:
					if truth < q.taken {
						rt.Fatalf("a query of %g reached Shopify when its bucket held %g: THROTTLED", q.taken, truth)
					}
					q.arrived = true
					truth -= q.taken
					q.report = truth
					if q.lost {
						// Nobody waits for its answer: it just ends.
						truth = min(size, truth+q.taken-q.actual)
						drop(i)
					}
				case op == "answer" && q.arrived && !q.lost:
					// Shopify refunds what the query did not spend as it
					// ends, after the report was written.
					truth = min(size, truth+q.taken-q.actual)
					drop(i)
					if err := s.SettleShopifyCost(ctx, domain, q.taken, q.actual, report(q.report)); err != nil {
						rt.Fatal(err)
					}
				case op == "lose" && !q.lost:
					// A query lost after Shopify charged it has ended there;
					// one lost on its way may still arrive.
					if q.arrived {
						truth = min(size, truth+q.taken-q.actual)
						drop(i)
					} else {
						q.lost = true
					}
					if err := s.CancelShopifyCost(ctx, domain, q.taken); err != nil {
						rt.Fatal(err)
					}
				}
			}
		})
	})
}
