package tiktok

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// adaptiveLimiter paces one shop's requests. TikTok does not publish its
// limits, so the limiter starts at the configured rate, halves it on every
// rate-limited answer (at most once per second, so that a burst of answers
// to requests already in flight counts once) down to a floor, and climbs
// back by a tenth of the configured rate for each second without one.
type adaptiveLimiter struct {
	lim     *rate.Limiter
	ceiling rate.Limit
	floor   rate.Limit
	now     func() time.Time

	mu        sync.Mutex
	lastCut   time.Time // when the rate was last halved
	lastRaise time.Time // when the rate last climbed (or was cut)
}

func newAdaptiveLimiter(ceiling, floor rate.Limit, burst int, now func() time.Time) *adaptiveLimiter {
	return &adaptiveLimiter{lim: rate.NewLimiter(ceiling, burst), ceiling: ceiling, floor: floor, now: now}
}

// wait blocks until the next request may go, or ctx ends.
func (l *adaptiveLimiter) wait(ctx context.Context) error {
	return l.lim.Wait(ctx)
}

// limit is the current rate.
func (l *adaptiveLimiter) limit() rate.Limit { return l.lim.Limit() }

// throttled records a rate-limited answer.
func (l *adaptiveLimiter) throttled() {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if !l.lastCut.IsZero() && now.Sub(l.lastCut) < time.Second {
		return
	}
	l.lastCut, l.lastRaise = now, now
	l.lim.SetLimit(max(l.lim.Limit()/2, l.floor))
}

// succeeded records an answer that was not rate limited.
func (l *adaptiveLimiter) succeeded() {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur := l.lim.Limit()
	if cur >= l.ceiling {
		return
	}
	now := l.now()
	steps := now.Sub(l.lastRaise) / time.Second
	if steps <= 0 {
		return
	}
	l.lastRaise = l.lastRaise.Add(steps * time.Second)
	l.lim.SetLimit(min(l.ceiling, cur+rate.Limit(steps)*l.ceiling/10))
}
