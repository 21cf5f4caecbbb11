package tiktok_test

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/syncrules/syncrules/host/internal/store/storetest"
	"github.com/syncrules/syncrules/host/internal/tiktok"
)

// onClock keeps paces in a store but applies them at a test's time, not
// the database's, so that they can be compared with a pace in memory.
type onClock struct {
	paces tiktok.SharedPaces
	now   func() time.Time
}

func (c onClock) UpdateTikTokPace(ctx context.Context, appKey, cipher string, apply func(*tiktok.PaceState, time.Time)) error {
	return c.paces.UpdateTikTokPace(ctx, appKey, cipher, func(p *tiktok.PaceState, _ time.Time) { apply(p, c.now()) })
}

// TestSharedPaceIsTheLocalPace: whatever the requests and 429s, and
// whichever of two replicas sees them, a shop's pace kept in the store on
// either engine gives every request the same wait, and has the same rate,
// as a pace in one process's memory: keeping it in a row loses nothing of
// it, and the replicas together pace the shop as one process does.
func TestSharedPaceIsTheLocalPace(t *testing.T) {
	for _, engine := range storetest.Engines {
		t.Run(engine, func(t *testing.T) {
			replicas := storetest.Replicas(t, engine)
			var shops atomic.Int64
			rapid.Check(t, func(rt *rapid.T) {
				ctx := context.Background()
				floor := rapid.Float64Range(0.1, 5).Draw(rt, "floor")
				start := floor * rapid.Float64Range(1, 20).Draw(rt, "start/floor")
				ceiling := start * rapid.Float64Range(1, 10).Draw(rt, "max_rate/start")
				burst := rapid.IntRange(1, 10).Draw(rt, "burst")
				// An odd number of nanoseconds: the row must keep them all.
				now := time.Unix(1_800_000_000, 123_456_789)
				clock := func() time.Time { return now }
				cipher := fmt.Sprintf("shop%d", shops.Add(1))
				local := tiktok.NewLocalPace(start, ceiling, floor, burst, clock)
				var shared [2]tiktok.Pace
				for i, s := range replicas {
					shared[i] = tiktok.NewSharedPace(onClock{s, clock}, "app", cipher, start, ceiling, floor, burst)
				}
				for i := range rapid.IntRange(1, 60).Draw(rt, "events") {
					now = now.Add(time.Duration(rapid.Int64Range(0, int64(2*time.Second)).Draw(rt, fmt.Sprintf("after %d", i))))
					replica := shared[rapid.IntRange(0, 1).Draw(rt, fmt.Sprintf("replica %d", i))]
					if rapid.IntRange(0, 9).Draw(rt, fmt.Sprintf("429? %d", i)) == 0 {
						local.Refused(ctx)
						replica.Refused(ctx)
					} else {
						within := time.Duration(math.MaxInt64)
						if rapid.Bool().Draw(rt, fmt.Sprintf("deadline %d", i)) {
							within = time.Duration(rapid.Int64Range(0, int64(time.Second)).Draw(rt, fmt.Sprintf("within %d", i)))
						}
						wantDelay, wantOK, _ := local.Reserve(ctx, within)
						delay, ok, err := replica.Reserve(ctx, within)
						if err != nil {
							rt.Fatal(err)
						}
						if delay != wantDelay || ok != wantOK {
							rt.Fatalf("event %d: the shared pace gives %v, %v; the local one %v, %v", i, delay, ok, wantDelay, wantOK)
						}
					}
					if got, want := replica.Limit(), local.Limit(); got != want {
						rt.Fatalf("event %d: the shared pace's rate is %v, the local one's %v", i, got, want)
					}
				}
			})
		})
	}
}
