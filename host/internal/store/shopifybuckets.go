package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/syncrules/syncrules/host/internal/shopify"
)

// Shops' Shopify cost buckets, shared by the replicas (shop.ShopifyBuckets):
// each operation reads a shop's bucket with its row locked, and the
// database's clock, refills it since it was last written, and writes it
// back, so that concurrent reservations from any process queue on the row
// and never spend the same points.

// waitForAnEnd is how long a reservation waits, and tries again, when the
// requests in flight hold so much of the bucket that it cannot hold the
// cost until one of them ends, possibly in another process.
const waitForAnEnd = 100 * time.Millisecond

// costBucket is a shopify_buckets row.
type costBucket struct {
	max, avail, rate, inflight, at float64
}

// level is what the bucket holds at now (seconds). It never holds more
// than its size, less what requests in flight took: until they reach
// Shopify, a full bucket gains nothing.
func (b costBucket) level(now float64) float64 {
	return min(b.max-b.inflight, b.avail+b.rate*max(now-b.at, 0))
}

// clock is the database's clock in seconds since the epoch: replicas on
// several machines read the one clock.
func (s *Store) clock() string {
	if s.dialect == Postgres {
		return `extract(epoch from clock_timestamp())::float8`
	}
	return `((julianday('now') - 2440587.5) * 86400.0)`
}

// lockBucket reads the domain's bucket, its row locked until tx ends, and
// the time; ok is false when no bucket is kept.
func (s *Store) lockBucket(ctx context.Context, tx *sql.Tx, domain string) (b costBucket, now float64, ok bool, err error) {
	err = tx.QueryRowContext(ctx, `SELECT maximum, available, rate, inflight, at, `+s.clock()+`
		FROM shopify_buckets WHERE domain = $1`+s.lockShop, domain).Scan(&b.max, &b.avail, &b.rate, &b.inflight, &b.at, &now)
	if errors.Is(err, sql.ErrNoRows) {
		return costBucket{}, 0, false, nil
	}
	return b, now, err == nil, err
}

func (s *Store) saveBucket(ctx context.Context, tx *sql.Tx, domain string, b costBucket) error {
	_, err := tx.ExecContext(ctx, `UPDATE shopify_buckets SET maximum = $2, available = $3, rate = $4, inflight = $5, at = $6
		WHERE domain = $1`, domain, b.max, b.avail, b.rate, b.inflight, b.at)
	return err
}

// ReserveShopifyCost takes cost, at most the bucket's size, out of the
// domain's bucket if it holds it, and otherwise says how long to wait.
// Points in flight on a bucket left untouched for stale belong to requests
// that ended without a word (their process stopped): they are dropped.
//
// Until an answer has reported the bucket, its row has no size (0) and
// marks whether a probe is in flight (inflight 1): one query at a time, of
// any replica, goes out unpaced to learn it, and the others wait, rather
// than spend a bucket no one knows.
func (s *Store) ReserveShopifyCost(ctx context.Context, domain string, cost float64, stale time.Duration) (shopify.Reservation, error) {
	var r shopify.Reservation
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		b, now, ok, err := s.lockBucket(ctx, tx, domain)
		if err != nil {
			return err
		}
		if !ok {
			res, err := tx.ExecContext(ctx, `INSERT INTO shopify_buckets (domain, maximum, available, rate, inflight, at)
				VALUES ($1, 0, 0, 0, 1, `+s.clock()+`) ON CONFLICT (domain) DO NOTHING`, domain)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n == 1 {
				r.Probe = true
				return err
			}
			// Another process's probe is out.
			r.Wait = waitForAnEnd
			return nil
		}
		if now-b.at >= stale.Seconds() {
			b.inflight = 0
		}
		if b.max <= 0 {
			if b.inflight > 0 {
				r.Wait = waitForAnEnd
				return nil
			}
			r.Probe = true
			b.inflight, b.at = 1, now
			return s.saveBucket(ctx, tx, domain, b)
		}
		// A query dearer than the whole bucket can never wait long enough:
		// it goes when the bucket is full, and Shopify says so.
		need := min(cost, b.max)
		have := b.level(now)
		switch {
		case have >= need:
			r.Taken = need
			b.avail, b.at, b.inflight = have-need, now, b.inflight+need
			return s.saveBucket(ctx, tx, domain, b)
		case b.max-b.inflight < need || b.rate <= 0:
			r.Wait = waitForAnEnd
		default:
			// Rounded up so the wait never ends a hair short of the cost.
			r.Wait = time.Duration((need-have)/b.rate*float64(time.Second)) + time.Millisecond
		}
		return nil
	})
	if err != nil {
		return shopify.Reservation{}, fmt.Errorf("store: reserve Shopify points for %s: %w", domain, err)
	}
	return r, nil
}

// SettleShopifyCost ends a reservation of reserved points that Shopify
// answered: what the query did not spend goes back, and the bucket is
// lowered to what the answer reported if that is less (another client of
// the shop spent points this account does not know of). The probe's
// answer reports the bucket.
//
// The report is never raised to: it lacks what requests reserved and not
// yet arrived will cost, and the account already holds every reservation.
func (s *Store) SettleShopifyCost(ctx context.Context, domain string, reserved, spent float64, report shopify.BucketReport) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		b, now, ok, err := s.lockBucket(ctx, tx, domain)
		if err != nil {
			return err
		}
		if !ok || b.max <= 0 {
			// The probe's answer, or an answer after the row was lost.
			_, err := tx.ExecContext(ctx, `INSERT INTO shopify_buckets (domain, maximum, available, rate, inflight, at)
				VALUES ($1, $2, $3, $4, 0, `+s.clock()+`)
				ON CONFLICT (domain) DO UPDATE SET maximum = $2, available = $3, rate = $4, inflight = 0, at = `+s.clock(),
				domain, report.Max, report.Available, report.Rate)
			return err
		}
		own := b.level(now) + reserved - spent
		b.inflight = max(b.inflight-reserved, 0)
		b.max, b.rate = report.Max, report.Rate
		b.avail, b.at = min(own, report.Available), now
		return s.saveBucket(ctx, tx, domain, b)
	})
	if err != nil {
		return fmt.Errorf("store: settle Shopify points for %s: %w", domain, err)
	}
	return nil
}

// CancelShopifyCost ends a reservation of reserved points that got no
// answer. The points stay spent: Shopify may have charged them. A lost
// probe (0 reserved) lets another query probe.
func (s *Store) CancelShopifyCost(ctx context.Context, domain string, reserved float64) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		b, now, ok, err := s.lockBucket(ctx, tx, domain)
		if err != nil || !ok {
			return err
		}
		if b.max <= 0 {
			b.inflight = 0
		} else {
			b.avail = b.level(now)
			b.inflight = max(b.inflight-reserved, 0)
		}
		b.at = now
		return s.saveBucket(ctx, tx, domain, b)
	})
	if err != nil {
		return fmt.Errorf("store: cancel Shopify points for %s: %w", domain, err)
	}
	return nil
}
