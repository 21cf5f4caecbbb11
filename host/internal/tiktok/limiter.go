package tiktok

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// A shop's pace, as TikTok lets it be found: TikTok does not publish its
// limits (they are per app and shop), so the pace looks for the shop's as
// TCP's congestion control looks for a path's capacity:
//
//   - it starts at the configured rate (Options.Rate);
//   - while callers wait on it — the shop has more to send than the rate
//     lets through — it climbs, at most once a second: ×1.25 until TikTok
//     first answers 429 ("slow start": 10 → 50 in 8 s), then by a tenth of
//     the rate TikTok last refused ("congestion avoidance": it probes past
//     that rate gently), never above Options.MaxRate;
//   - a rate-limited answer halves the rate (at most once a second, so that
//     answers to requests already in flight count once), never below
//     Options.MinRate, and the rate holds for holdAfterCut before it climbs
//     again;
//   - a second in which no caller waited changes nothing: a quiet shop
//     keeps its rate, and its next burst finds no rate it has not earned.
//
// The pace is a PaceState and the pure methods below, so that it can live
// in this process's memory (adaptiveLimiter) or in a row of the store that
// every replica locks in turn (sharedLimiter, SharedPaces).

const (
	// climbWindow is how often the rate may climb, and how long a caller's
	// wait counts as evidence that the shop has more to send.
	climbWindow = time.Second
	// slowStart is the factor of a climb before the first 429.
	slowStart = 1.25
	// holdAfterCut is how long the rate stays put after a halving: the
	// requests in flight and their retries meet TikTok's window first.
	holdAfterCut = 3 * time.Second
)

// PaceState is what a shop's pace remembers between requests. The zero
// PaceState is a pace that has seen no request.
type PaceState struct {
	// Rate is the requests a second; 0 before the first request (the
	// start rate).
	Rate float64
	// Next is when the next request would go if no burst were left (the
	// "theoretical arrival time" of GCRA's virtual scheduling): a request
	// may go up to Burst-1 intervals before it, and moves it on by one.
	// In the past, the whole burst is available.
	Next time.Time
	// WindowStart is the start of the second being observed, Waited
	// whether a request waited for the rate within it.
	WindowStart time.Time
	Waited      bool
	// LastCut is when the rate was last halved; CutFrom the rate TikTok
	// then refused, 0 before any 429.
	LastCut time.Time
	CutFrom float64
}

// paceBounds are a pace's settings: Options.Rate, MaxRate, MinRate and
// Burst. They are not state: a replica with new settings applies them to
// the state the others left.
type paceBounds struct {
	start, ceiling, floor float64
	burst                 int
}

// rate is the current rate, within the bounds.
func (p *PaceState) rate(b paceBounds) float64 {
	if p.Rate <= 0 {
		return b.start
	}
	return min(max(p.Rate, b.floor), b.ceiling)
}

// interval is the time one request takes of the rate r.
func interval(r float64) time.Duration { return time.Duration(float64(time.Second) / r) }

// reserve takes the next request's slot at now and says how long the
// request waits for it. A request that would wait longer than within
// takes nothing (ok false), but its wait still counts towards a climb, as
// the demand it shows is real.
func (p *PaceState) reserve(b paceBounds, now time.Time, within time.Duration) (delay time.Duration, ok bool) {
	r := p.rate(b)
	p.Rate = r
	next := p.Next
	if next.Before(now) {
		next = now
	}
	step := interval(r)
	delay = max(next.Add(-time.Duration(b.burst-1)*step).Sub(now), 0)
	if ok = delay <= within; ok {
		p.Next = next.Add(step)
	}
	p.observe(b, now, delay > 0)
	return delay, ok
}

// setRate changes the rate at now, keeping what was taken of the burst:
// the requests scheduled ahead are rescheduled at the new rate.
func (p *PaceState) setRate(now time.Time, r float64) {
	if ahead := p.Next.Sub(now); ahead > 0 && p.Rate > 0 {
		p.Next = now.Add(time.Duration(float64(ahead) * p.Rate / r))
	}
	p.Rate = r
}

// observe records a request about to go at now, and whether it had to
// wait for the rate; a second that had a wait climbs the rate once it
// ends.
func (p *PaceState) observe(b paceBounds, now time.Time, waited bool) {
	p.Rate = p.rate(b)
	p.Waited = p.Waited || waited
	if p.WindowStart.IsZero() {
		p.WindowStart = now
	}
	if now.Sub(p.WindowStart) < climbWindow {
		return
	}
	saturated := p.Waited
	p.WindowStart, p.Waited = now, false
	if !saturated || (!p.LastCut.IsZero() && now.Sub(p.LastCut) < holdAfterCut) {
		return
	}
	next := p.Rate * slowStart
	if p.CutFrom > 0 {
		next = p.Rate + max(p.CutFrom, b.start)/10
	}
	p.setRate(now, min(next, b.ceiling))
}

// throttled records a rate-limited answer at now.
func (p *PaceState) throttled(b paceBounds, now time.Time) {
	cur := p.rate(b)
	p.Rate = cur
	if !p.LastCut.IsZero() && now.Sub(p.LastCut) < time.Second {
		return
	}
	p.LastCut, p.CutFrom = now, cur
	p.setRate(now, max(cur/2, b.floor))
}

// limiter paces one shop's requests (or an app's token requests).
type limiter interface {
	// wait blocks until the next request may go, or ctx ends.
	wait(ctx context.Context) error
	// refused records a rate-limited answer.
	refused(ctx context.Context)
	// limit is the rate, as last seen.
	limit() rate.Limit
}

// within is how long a request may wait for the rate before ctx's
// deadline; forever without one.
func within(ctx context.Context) time.Duration {
	if deadline, ok := ctx.Deadline(); ok {
		return time.Until(deadline)
	}
	return 1<<63 - 1
}

// sleep waits delay, or until ctx ends.
func sleep(ctx context.Context, delay time.Duration) error {
	if delay <= 0 {
		return nil
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func pastTheDeadline(delay time.Duration) error {
	return fmt.Errorf("the shop's request rate would make it wait %v, past the deadline: %w", delay.Round(time.Millisecond), context.DeadlineExceeded)
}

// adaptiveLimiter is a pace in this process's memory.
type adaptiveLimiter struct {
	bounds paceBounds
	now    func() time.Time

	mu    sync.Mutex
	state PaceState
}

func newAdaptiveLimiter(start, ceiling, floor rate.Limit, burst int, now func() time.Time) *adaptiveLimiter {
	return &adaptiveLimiter{bounds: paceBounds{float64(start), float64(ceiling), float64(floor), max(burst, 1)}, now: now}
}

// reserve takes the next request's slot, unless it is more than within
// away.
func (l *adaptiveLimiter) reserve(within time.Duration) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state.reserve(l.bounds, l.now(), within)
}

// wait blocks until the next request may go, or ctx ends. A request
// abandoned while it waits keeps its slot: the later ones keep theirs.
func (l *adaptiveLimiter) wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	delay, ok := l.reserve(within(ctx))
	if !ok {
		return pastTheDeadline(delay)
	}
	return sleep(ctx, delay)
}

func (l *adaptiveLimiter) limit() rate.Limit {
	l.mu.Lock()
	defer l.mu.Unlock()
	return rate.Limit(l.state.rate(l.bounds))
}

// observe records a request about to go, and whether it waited.
func (l *adaptiveLimiter) observe(waited bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.state.observe(l.bounds, l.now(), waited)
}

// throttled records a rate-limited answer.
func (l *adaptiveLimiter) throttled() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.state.throttled(l.bounds, l.now())
}

func (l *adaptiveLimiter) refused(context.Context) { l.throttled() }

// SharedPaces keep shops' paces where every process of the app sees them
// (the store, for replicas on one PostgreSQL database), so that the
// processes together keep to the shop's limit. See RATIONALE.md, "Why do
// replicas share each shop's TikTok pace through the store?".
type SharedPaces interface {
	// UpdateTikTokPace calls apply with the pace of the app's shop, locked
	// against every other process until apply returns, and the time on
	// the clock the processes share, and keeps what apply leaves in it. A
	// pace not kept yet is the zero PaceState.
	UpdateTikTokPace(ctx context.Context, appKey, cipher string, apply func(p *PaceState, now time.Time)) error
}

// sharedLimiter is a pace kept in SharedPaces: one short transaction per
// request, and one per rate-limited answer.
type sharedLimiter struct {
	paces          SharedPaces
	appKey, cipher string
	bounds         paceBounds
	log            *slog.Logger

	mu       sync.Mutex
	lastRate rate.Limit
}

func (l *sharedLimiter) reserve(ctx context.Context, within time.Duration) (delay time.Duration, ok bool, err error) {
	var r float64
	err = l.paces.UpdateTikTokPace(ctx, l.appKey, l.cipher, func(p *PaceState, now time.Time) {
		delay, ok = p.reserve(l.bounds, now, within)
		r = p.Rate
	})
	if err != nil {
		return 0, false, err
	}
	l.mu.Lock()
	l.lastRate = rate.Limit(r)
	l.mu.Unlock()
	return delay, ok, nil
}

// wait reserves the request's slot in the shared pace and waits for it.
// When the pace cannot be reached the request fails (and the sync job
// that made it is retried): sent on a pace of its own, each process could
// send the shop's whole limit.
func (l *sharedLimiter) wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	delay, ok, err := l.reserve(ctx, within(ctx))
	switch {
	case err != nil:
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("the shop's request rate, shared by the replicas, could not be reserved: %w", err)
	case !ok:
		return pastTheDeadline(delay)
	}
	return sleep(ctx, delay)
}

func (l *sharedLimiter) refused(ctx context.Context) {
	var r float64
	err := l.paces.UpdateTikTokPace(ctx, l.appKey, l.cipher, func(p *PaceState, now time.Time) {
		p.throttled(l.bounds, now)
		r = p.Rate
	})
	if err != nil {
		// The request is retried after its backoff all the same; the
		// next 429 halves the rate.
		l.log.WarnContext(ctx, "tiktok: a rate-limited answer could not lower the shop's shared rate", "error", err.Error())
		return
	}
	l.mu.Lock()
	l.lastRate = rate.Limit(r)
	l.mu.Unlock()
}

func (l *sharedLimiter) limit() rate.Limit {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lastRate == 0 {
		return rate.Limit(l.bounds.start)
	}
	return l.lastRate
}
