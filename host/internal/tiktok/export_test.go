package tiktok

import (
	"context"
	"log/slog"
	"time"

	"golang.org/x/time/rate"
)

// Pace is a shop's pace as a Client keeps it, for the tests outside the
// package: Reserve takes a request's slot (unless it is further than
// within) and says how long the request waits for it, without waiting.
type Pace interface {
	Reserve(ctx context.Context, within time.Duration) (time.Duration, bool, error)
	Refused(ctx context.Context)
	Limit() float64
}

// NewLocalPace is a pace in memory on the clock now.
func NewLocalPace(start, ceiling, floor float64, burst int, now func() time.Time) Pace {
	return localPace{newAdaptiveLimiter(rate.Limit(start), rate.Limit(ceiling), rate.Limit(floor), burst, now)}
}

// NewSharedPace is the pace of the app's shop kept in paces.
func NewSharedPace(paces SharedPaces, appKey, cipher string, start, ceiling, floor float64, burst int) Pace {
	return sharedPace{&sharedLimiter{paces: paces, appKey: appKey, cipher: cipher,
		bounds: paceBounds{start, ceiling, floor, max(burst, 1)}, log: slog.Default()}}
}

type localPace struct{ l *adaptiveLimiter }

func (p localPace) Reserve(_ context.Context, within time.Duration) (time.Duration, bool, error) {
	d, ok := p.l.reserve(within)
	return d, ok, nil
}
func (p localPace) Refused(ctx context.Context) { p.l.refused(ctx) }
func (p localPace) Limit() float64              { return float64(p.l.limit()) }

type sharedPace struct{ l *sharedLimiter }

func (p sharedPace) Reserve(ctx context.Context, within time.Duration) (time.Duration, bool, error) {
	return p.l.reserve(ctx, within)
}
func (p sharedPace) Refused(ctx context.Context) { p.l.refused(ctx) }
func (p sharedPace) Limit() float64              { return float64(p.l.limit()) }
