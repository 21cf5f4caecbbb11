package tiktok

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"
	"pgregory.net/rapid"

	"github.com/syncrules/syncrules/host/internal/fakes/catalog"
	"github.com/syncrules/syncrules/host/internal/fakes/tiktokfake"
)

// limiterStep is one event a limiter sees: the clock moves on by after,
// then a request that waited for the rate ("wait"), one that did not
// ("go"), or a rate-limited answer ("429"). want, when not 0, is the rate
// after it.
type limiterStep struct {
	after time.Duration
	event string
	want  rate.Limit
}

// every is n steps of event, a second apart, the rate after each in want
// (0: not checked).
func every(event string, n int, want ...rate.Limit) []limiterStep {
	steps := make([]limiterStep, n)
	for i := range steps {
		steps[i] = limiterStep{after: time.Second, event: event}
		if i < len(want) {
			steps[i].want = want[i]
		}
	}
	return steps
}

func step(after time.Duration, event string, want rate.Limit) []limiterStep {
	return []limiterStep{{after, event, want}}
}

func (l *adaptiveLimiter) apply(event string) {
	switch event {
	case "wait":
		l.observe(true)
	case "go":
		l.observe(false)
	case "429":
		l.throttled()
	default:
		panic("unknown limiter event " + event)
	}
}

func TestLimiterClimbsUnderDemandAndHalvesOnRateLimits(t *testing.T) {
	cases := []struct {
		name                  string
		start, ceiling, floor rate.Limit
		steps                 [][]limiterStep
	}{
		{"callers waiting every second climb it ×1.25 a second up to max_rate", 10, 50, 0.5, [][]limiterStep{
			step(0, "wait", 10),
			every("wait", 9, 12.5, 15.625, 19.53125, 24.4140625, 30.517578125, 38.14697265625, 47.6837158203125, 50, 50),
		}},
		{"requests that never wait never climb it", 10, 50, 0.5, [][]limiterStep{
			every("go", 120),
			step(0, "go", 10),
		}},
		{"one second with a wait climbs one step, not one per idle second after it", 10, 50, 0.5, [][]limiterStep{
			step(0, "wait", 10),
			step(time.Minute, "go", 12.5),
			every("go", 30),
			step(0, "go", 12.5),
		}},
		{"waits within one second climb once", 10, 50, 0.5, [][]limiterStep{
			step(0, "wait", 10),
			step(300*time.Millisecond, "wait", 10),
			step(300*time.Millisecond, "wait", 10),
			step(400*time.Millisecond, "wait", 12.5),
		}},
		{"a 429 halves it and it holds 3 s, then climbs by a tenth of the refused rate", 20, 100, 0.5, [][]limiterStep{
			step(0, "wait", 20),
			step(time.Second, "wait", 25),
			step(0, "429", 12.5),
			every("wait", 5, 12.5, 12.5, 15, 17.5, 20),
		}},
		{"429s within a second count once", 20, 100, 0.5, [][]limiterStep{
			step(0, "429", 10),
			step(500*time.Millisecond, "429", 10),
			step(500*time.Millisecond, "429", 5),
		}},
		{"it never goes below the floor", 2, 50, 0.5, [][]limiterStep{
			every("429", 4, 1, 0.5, 0.5, 0.5),
		}},
		{"a climb after many 429s adds a tenth of the start rate", 10, 50, 1, [][]limiterStep{
			every("429", 4, 5, 2.5, 1.25, 1),
			every("wait", 4, 1, 1, 2, 3),
		}},
		{"max_rate = rate: no climb, and back to it after a 429", 10, 10, 0.5, [][]limiterStep{
			step(0, "wait", 10),
			every("wait", 2, 10, 10),
			step(0, "429", 5),
			every("wait", 9, 5, 5, 6, 7, 8, 9, 10, 10, 10),
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock(0)
			l := newAdaptiveLimiter(tc.start, tc.ceiling, tc.floor, 5, clk.Now)
			var elapsed time.Duration
			for i, s := range concatSteps(tc.steps) {
				clk.Add(s.after)
				elapsed += s.after
				l.apply(s.event)
				if got := l.limit(); s.want != 0 && got != s.want {
					t.Fatalf("step %d (%s at %v): rate %v, want %v", i, s.event, elapsed, got, s.want)
				}
			}
		})
	}
}

func concatSteps(parts [][]limiterStep) []limiterStep {
	var all []limiterStep
	for _, p := range parts {
		all = append(all, p...)
	}
	return all
}

// TestLimiterStaysWithinItsBounds: whatever the requests and answers, the
// rate stays within [floor, max_rate]; it rises only after a request
// waited for it, at most once a second, and never within the hold after a
// 429; a 429 never raises it.
func TestLimiterStaysWithinItsBounds(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		floor := rate.Limit(rapid.Float64Range(0.1, 5).Draw(t, "floor"))
		start := floor * rate.Limit(rapid.Float64Range(1, 20).Draw(t, "start/floor"))
		ceiling := start * rate.Limit(rapid.Float64Range(1, 10).Draw(t, "max_rate/rate"))
		clk := newClock(0)
		l := newAdaptiveLimiter(start, ceiling, floor, 5, clk.Now)
		var (
			now               time.Duration
			waitedSinceRise   bool
			lastRise, lastCut = -time.Hour, -time.Hour
			events            = rapid.SampledFrom([]string{"wait", "go", "429"})
		)
		for i := range rapid.IntRange(1, 200).Draw(t, "events") {
			after := time.Duration(rapid.Int64Range(0, int64(5*time.Second)).Draw(t, fmt.Sprintf("after %d", i)))
			event := events.Draw(t, fmt.Sprintf("event %d", i))
			clk.Add(after)
			now += after
			before := l.limit()
			l.apply(event)
			got := l.limit()
			if got < floor || got > ceiling {
				t.Fatalf("at %v after %s: rate %v outside [%v, %v]", now, event, got, floor, ceiling)
			}
			waitedSinceRise = waitedSinceRise || event == "wait"
			switch {
			case got > before:
				if event == "429" {
					t.Fatalf("at %v a 429 raised the rate from %v to %v", now, before, got)
				}
				if !waitedSinceRise {
					t.Fatalf("at %v the rate rose from %v to %v with no request waiting since it last rose", now, before, got)
				}
				if now-lastCut < holdAfterCut {
					t.Fatalf("at %v the rate rose from %v to %v %v after a 429, within the hold of %v", now, before, got, now-lastCut, holdAfterCut)
				}
				if now-lastRise < climbWindow {
					t.Fatalf("at %v the rate rose again %v after it last rose", now, now-lastRise)
				}
				lastRise, waitedSinceRise = now, false
			case got < before:
				if event != "429" {
					t.Fatalf("at %v a %q request lowered the rate from %v to %v", now, event, before, got)
				}
				lastCut = now
			case event == "429" && before > floor && now-lastCut >= time.Second:
				t.Fatalf("at %v a 429 a second after the last cut left the rate at %v", now, got)
			}
		}
	})
}

// TestLimiterWaitCountsWaitingCallers: wait tells the limiter whether the
// request waited, so that callers queueing on the rate climb it and a
// single one does not.
func TestLimiterWaitCountsWaitingCallers(t *testing.T) {
	clk := newClock(0)
	l := newAdaptiveLimiter(10, 50, 1, 1, clk.Now)
	ctx := context.Background()
	for range 3 { // three at once at a burst of 1: the last two wait
		if err := l.wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	clk.Add(time.Second)
	l.observe(false)
	if got := l.limit(); got != 12.5 {
		t.Fatalf("rate %v after requests queued on it for a second, want 12.5", got)
	}
	clk.Add(time.Second)
	l.observe(false)
	if got := l.limit(); got != 12.5 {
		t.Fatalf("rate %v after a second in which no request waited, want still 12.5", got)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := l.wait(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait with a cancelled context: %v, want context.Canceled", err)
	}
	slow := newAdaptiveLimiter(0.001, 0.001, 0.001, 1, clk.Now)
	slow.wait(ctx) // the burst
	short, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := slow.wait(short); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "past the deadline") {
		t.Fatalf("wait that would pass the deadline: %v, want at once context.DeadlineExceeded", err)
	}
}

// TestFakeClientSettlesAtTheShopsLimit: against a fake TikTok that answers
// 429 beyond limit calls a second, a client starting at half of it with a
// max_rate far above climbs to it and stays around it, few of its calls are
// refused, and every update is accepted in the end: a refused call is
// retried as the sync retries it.
func TestFakeClientSettlesAtTheShopsLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 12 s of updates against a rate-limited fake")
	}
	const (
		limit    = 20
		callers  = 8
		duration = 12 * time.Second
		settled  = 6 * time.Second // the climb from the start rate is over
	)
	cat, err := catalog.Generate(catalog.Options{Products: callers, Variants: 2, Locations: 2, Seed: 3, WithoutConflicts: true})
	if err != nil {
		t.Fatal(err)
	}
	f := startFake(t, tiktokfake.Options{Catalog: cat, RateLimit: limit, RateBurst: 5})
	shop := fakeClient(t, f, func(o *Options) { o.Rate, o.MaxRate, o.Burst = limit/2, 10*limit, 5 }).Shop(f.ShopCipher(), fakeTokens(f))
	ctx := context.Background()
	var products []Product
	for p, err := range shop.Products(ctx, ProductQuery{}) {
		if err != nil {
			t.Fatal(err)
		}
		products = append(products, p)
	}
	if len(products) != callers {
		t.Fatalf("%d products, want %d", len(products), callers)
	}
	f.ResetRequests()

	// Each caller updates its own product with a rising quantity, as fast
	// as the client lets it; the rate is sampled meanwhile.
	start := time.Now()
	last := make([]int, callers)
	var wg sync.WaitGroup
	for i, p := range products {
		wg.Go(func() {
			for q := 1; time.Since(start) < duration; {
				u := InventoryUpdate{ProductID: p.ID}
				for _, k := range p.SKUs {
					qs := map[string]int{}
					for _, wh := range k.WarehouseIDs() {
						qs[wh] = q
					}
					u.SKUs = append(u.SKUs, SKUQuantities{SKUID: k.ID, Quantities: qs})
				}
				err := shop.UpdateInventory(ctx, u, &p)
				switch {
				case err == nil:
					last[i] = q
					q++
				case !IsTransient(err):
					t.Errorf("product %s: %v", p.ID, err)
					return
				}
			}
		})
	}
	var samples []rate.Limit
	tick := time.NewTicker(100 * time.Millisecond)
	for time.Since(start) < duration {
		<-tick.C
		if time.Since(start) >= settled {
			samples = append(samples, shop.lim.limit())
		}
	}
	tick.Stop()
	wg.Wait()

	var calls, refused, acceptedSettled int
	for _, r := range f.Requests() {
		if !strings.HasSuffix(r.Path, "/inventory/update") {
			continue
		}
		calls++
		switch {
		case r.Status == 429:
			refused++
		case r.Status == 200 && r.Time.Sub(start) >= settled && r.Time.Sub(start) < duration:
			acceptedSettled++
		}
	}
	slices.Sort(samples)
	median := samples[len(samples)/2]
	perSecond := float64(acceptedSettled) / (duration - settled).Seconds()
	t.Logf("%d update calls, %d refused; after %v the rate was %.1f–%.1f (median %.1f) and %.1f calls a second were accepted (limit %d)",
		calls, refused, settled, samples[0], samples[len(samples)-1], median, perSecond, limit)
	if refused*10 > calls {
		t.Errorf("%d of %d calls were refused: more than a tenth", refused, calls)
	}
	// Halved at a 429 and climbing back by a tenth of the refused rate a
	// second, the rate spends most of its time between half the limit and
	// a little above it.
	if median < limit*0.5 || median > limit*1.25 {
		t.Errorf("after %v the rate's median was %.1f (%.1f–%.1f): want it around the limit %d (%.0f–%.0f)",
			settled, median, samples[0], samples[len(samples)-1], limit, limit*0.5, limit*1.25)
	}
	if perSecond < limit*0.5 {
		t.Errorf("after %v %.1f calls a second were accepted: want at least half the limit %d", settled, perSecond, limit)
	}
	for i, p := range products {
		for _, k := range p.SKUs {
			for _, wh := range k.WarehouseIDs() {
				if got, _ := f.Quantity(k.ID, wh); got != last[i] {
					t.Errorf("SKU %s in %s: %d on the fake, want %d, the last update accepted", k.ID, wh, got, last[i])
				}
			}
		}
	}
}
