package tiktok

import (
	"testing"
	"time"
)

// TestPaceReserve: the schedule a pace gives requests, on a fake clock:
// the burst goes at once, then one request an interval; the burst refills
// at the rate; a request that would wait past its deadline takes nothing;
// a change of rate reschedules the requests already ahead.
func TestPaceReserve(t *testing.T) {
	type step struct {
		after     time.Duration
		event     string        // "reserve" or "429"
		within    time.Duration // a reservation's longest wait; 0: no bound
		wantDelay time.Duration
		wantOK    bool
	}
	reserve := func(after, want time.Duration) step { return step{after, "reserve", 0, want, true} }
	const ms = time.Millisecond
	cases := []struct {
		name  string
		burst int
		steps []step
	}{
		{"a burst goes at once, then one request an interval", 3, []step{
			reserve(0, 0), reserve(0, 0), reserve(0, 0), reserve(0, 100*ms), reserve(0, 200*ms),
		}},
		{"an idle second refills the whole burst, and no more", 3, []step{
			reserve(0, 0), reserve(0, 0), reserve(0, 0),
			reserve(time.Second, 0), reserve(0, 0), reserve(0, 0), reserve(0, 100*ms),
		}},
		{"the burst refills at the rate", 3, []step{
			reserve(0, 0), reserve(0, 0), reserve(0, 0),
			reserve(100*ms, 0), reserve(0, 100*ms),
		}},
		{"a request that would wait past its deadline takes no slot", 1, []step{
			reserve(0, 0),
			{0, "reserve", 50 * ms, 100 * ms, false},
			{0, "reserve", 100 * ms, 100 * ms, true},
			reserve(0, 200*ms),
		}},
		{"a 429 halves the rate and reschedules the requests ahead at it", 1, []step{
			reserve(0, 0), reserve(0, 100*ms),
			{event: "429"},
			reserve(0, 400*ms), reserve(0, 600*ms),
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := paceBounds{start: 10, ceiling: 10, floor: 1, burst: tc.burst}
			now := time.Unix(1_800_000_000, 0)
			var p PaceState
			for i, s := range tc.steps {
				now = now.Add(s.after)
				if s.event == "429" {
					p.throttled(b, now)
					continue
				}
				within := s.within
				if within == 0 {
					within = time.Hour
				}
				delay, ok := p.reserve(b, now, within)
				if delay != s.wantDelay || ok != s.wantOK {
					t.Fatalf("step %d: reserve = %v, %v; want %v, %v", i, delay, ok, s.wantDelay, s.wantOK)
				}
			}
		})
	}
}

// TestPaceTakesNewBounds: a pace kept by replicas applies each one's
// settings to the state the others left: a rate above a lowered max_rate
// comes down to it, and a pace no request has used starts at the rate.
func TestPaceTakesNewBounds(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	var p PaceState
	if got := p.rate(paceBounds{start: 10, ceiling: 50, floor: 1, burst: 1}); got != 10 {
		t.Fatalf("an unused pace's rate is %v, want the start rate 10", got)
	}
	p.Rate = 40
	p.reserve(paceBounds{start: 10, ceiling: 20, floor: 1, burst: 1}, now, time.Hour)
	if p.Rate != 20 {
		t.Fatalf("a rate of 40 under max_rate 20 is %v, want 20", p.Rate)
	}
}
