package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/syncrules/syncrules/host/internal/tiktok"
)

// Shops' TikTok Shop paces, shared by the replicas (tiktok.SharedPaces):
// each request locks its shop's row, reads the database's clock, applies
// the pace's rules to the row and writes it back, so that the replicas'
// requests queue on the row and take the shop's slots one after another.

// clockMicros is the database's clock in microseconds since the epoch.
func (s *Store) clockMicros() string {
	if s.dialect == Postgres {
		return `(extract(epoch from clock_timestamp()) * 1000000)::bigint`
	}
	return `CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)`
}

// unixNanos is t in nanoseconds since the epoch; 0 for the zero time.
func unixNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNanos(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// UpdateTikTokPace calls apply with the pace of the app's shop, its row
// locked until the transaction ends, and the database's time, and writes
// back what apply leaves: one short transaction (a SELECT … FOR UPDATE
// and an UPDATE on PostgreSQL; an INSERT too the first time).
func (s *Store) UpdateTikTokPace(ctx context.Context, appKey, cipher string, apply func(p *tiktok.PaceState, now time.Time)) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		p, now, err := s.lockPace(ctx, tx, appKey, cipher)
		if errors.Is(err, sql.ErrNoRows) {
			if _, err := tx.ExecContext(ctx, `INSERT INTO tiktok_paces (app_key, shop_cipher) VALUES ($1, $2)
				ON CONFLICT (app_key, shop_cipher) DO NOTHING`, appKey, cipher); err != nil {
				return err
			}
			p, now, err = s.lockPace(ctx, tx, appKey, cipher)
		}
		if err != nil {
			return err
		}
		apply(&p, now)
		_, err = tx.ExecContext(ctx, `UPDATE tiktok_paces SET rate = $3, next_at = $4, window_start = $5, waited = $6, last_cut = $7, cut_from = $8
			WHERE app_key = $1 AND shop_cipher = $2`, appKey, cipher,
			p.Rate, unixNanos(p.Next), unixNanos(p.WindowStart), p.Waited, unixNanos(p.LastCut), p.CutFrom)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: update the TikTok Shop pace of shop %s: %w", cipher, err)
	}
	return nil
}

// lockPace reads a shop's pace, its row locked until tx ends, and the
// database's time.
func (s *Store) lockPace(ctx context.Context, tx *sql.Tx, appKey, cipher string) (tiktok.PaceState, time.Time, error) {
	var (
		p                           tiktok.PaceState
		next, window, cut, nowMicro int64
	)
	err := tx.QueryRowContext(ctx, `SELECT rate, next_at, window_start, waited, last_cut, cut_from, `+s.clockMicros()+`
		FROM tiktok_paces WHERE app_key = $1 AND shop_cipher = $2`+s.lockShop, appKey, cipher).
		Scan(&p.Rate, &next, &window, &p.Waited, &cut, &p.CutFrom, &nowMicro)
	if err != nil {
		return tiktok.PaceState{}, time.Time{}, err
	}
	p.Next, p.WindowStart, p.LastCut = fromUnixNanos(next), fromUnixNanos(window), fromUnixNanos(cut)
	return p, time.UnixMicro(nowMicro).UTC(), nil
}
