package tiktok

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// adaptiveLimiter paces one shop's requests. TikTok does not publish its
// limits (they are per app and shop), so the limiter looks for the shop's
// as TCP's congestion control looks for a path's capacity:
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
type adaptiveLimiter struct {
	lim                   *rate.Limiter
	start, ceiling, floor rate.Limit
	now                   func() time.Time

	mu          sync.Mutex
	windowStart time.Time  // the start of the second being observed
	waited      bool       // a caller waited within that second
	lastCut     time.Time  // when the rate was last halved
	cutFrom     rate.Limit // the rate TikTok last refused; 0 before any 429
}

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

func newAdaptiveLimiter(start, ceiling, floor rate.Limit, burst int, now func() time.Time) *adaptiveLimiter {
	return &adaptiveLimiter{lim: rate.NewLimiter(start, burst), start: start, ceiling: ceiling, floor: floor, now: now}
}

// wait blocks until the next request may go, or ctx ends.
func (l *adaptiveLimiter) wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := l.lim.Reserve() // always OK: the burst is at least 1
	delay := r.Delay()
	l.observe(delay > 0)
	if delay == 0 {
		return nil
	}
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < delay {
		r.Cancel()
		return fmt.Errorf("the shop's request rate would make it wait %v, past the deadline: %w", delay.Round(time.Millisecond), context.DeadlineExceeded)
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		r.Cancel()
		return ctx.Err()
	}
}

// limit is the current rate.
func (l *adaptiveLimiter) limit() rate.Limit { return l.lim.Limit() }

// observe records a request about to go, and whether it had to wait for
// the rate; a second that had a wait climbs the rate once it ends.
func (l *adaptiveLimiter) observe(waited bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.waited = l.waited || waited
	if l.windowStart.IsZero() {
		l.windowStart = now
	}
	if now.Sub(l.windowStart) < climbWindow {
		return
	}
	saturated := l.waited
	l.windowStart, l.waited = now, false
	if !saturated || (!l.lastCut.IsZero() && now.Sub(l.lastCut) < holdAfterCut) {
		return
	}
	cur := l.lim.Limit()
	next := cur * slowStart
	if l.cutFrom > 0 {
		next = cur + max(l.cutFrom, l.start)/10
	}
	l.lim.SetLimit(min(next, l.ceiling))
}

// throttled records a rate-limited answer.
func (l *adaptiveLimiter) throttled() {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if !l.lastCut.IsZero() && now.Sub(l.lastCut) < time.Second {
		return
	}
	cur := l.lim.Limit()
	l.lastCut, l.cutFrom = now, cur
	l.lim.SetLimit(max(cur/2, l.floor))
}
