package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/syncrules/syncrules/host/internal/shop"
)

// interruptedError is the error of a running run of kind found stale by
// StartRun: its process stopped without finishing it. A connect must be
// run again; a republishing run's items stay pending, and the shop's sync
// job publishes them when it runs again (a crashed server's job is taken
// back), so connecting again would only redo the catalog.
func interruptedError(kind string) string {
	if kind == shop.RunKindResync || kind == shop.RunKindSettings {
		return "the process running it stopped; the items it had not published stay pending and are published when the shop's sync job runs again"
	}
	return "the process running it stopped; connect again"
}

// StartRun stores a new running run of r.Shop with r's kind, phase,
// progress and token, and returns it with its ID and times. A shop has at
// most one running run: ErrExists if it has one whose Updated moved within
// shop.StaleRunAfter; an older one is first recorded interrupted, its
// process having stopped. ErrNotFound if the shop does not exist.
func (s *Store) StartRun(ctx context.Context, r shop.Run) (shop.Run, error) {
	if err := checkText(r.Shop, r.Kind, string(r.Phase), r.Error, r.Token); err != nil {
		return shop.Run{}, fmt.Errorf("start run: %w", err)
	}
	counts, err := json.Marshal(r.Counts)
	if err != nil {
		return shop.Run{}, fmt.Errorf("start run of shop %q: %w", r.Shop, err)
	}
	t := now()
	r.State, r.Started, r.Updated, r.Finished = shop.RunRunning, t, t, time.Time{}
	var keep error // errors returned as they are
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		// The shop's row lock queues the StartRuns of one shop
		// (SQLite: the immediate transaction does).
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM shops WHERE id = $1`+s.lockShop, r.Shop).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			keep = shopNotFound(r.Shop)
			return keep
		}
		if err != nil {
			return err
		}
		var running, started, updated int64
		var kind string
		err = tx.QueryRowContext(ctx, `SELECT id, kind, started, updated FROM runs WHERE shop = $1 AND state = $2`,
			r.Shop, string(shop.RunRunning)).Scan(&running, &kind, &started, &updated)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case t.Sub(fromMicros(updated)) <= shop.StaleRunAfter:
			keep = fmt.Errorf("shop %q: %s run %d is running since %s (last progress %s); wait for it to finish: %w",
				r.Shop, kind, running, fromMicros(started).Format(time.RFC3339), fromMicros(updated).Format(time.RFC3339), ErrExists)
			return keep
		default:
			if _, err := tx.ExecContext(ctx, `UPDATE runs SET state = $2, error = $3, updated = $4, finished = $4 WHERE id = $1`,
				running, string(shop.RunInterrupted), interruptedError(kind), micros(t)); err != nil {
				return err
			}
		}
		return tx.QueryRowContext(ctx, `INSERT INTO runs (shop, kind, state, phase, done, total, counts, error, token, started, updated)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id`,
			r.Shop, r.Kind, string(r.State), string(r.Phase), r.Done, r.Total, string(counts), r.Error, r.Token, micros(t)).Scan(&r.ID)
	})
	switch {
	case keep != nil:
		return shop.Run{}, keep
	case isUnique(err): // only if the lock above failed to serialise
		return shop.Run{}, fmt.Errorf("shop %q already has a running run: %w", r.Shop, ErrExists)
	case err != nil:
		return shop.Run{}, fmt.Errorf("start run of shop %q: %w", r.Shop, err)
	}
	return r, nil
}

// UpdateRun writes a running run's state, phase, progress, counts, error
// and finish time (now if it leaves the running state without one);
// Updated is set to now. A run is written only while it runs: one already
// finished, or recorded interrupted by a StartRun that found it stale, is
// ErrVersionMismatch; ErrNotFound if there is no such run.
func (s *Store) UpdateRun(ctx context.Context, r shop.Run) error {
	if err := checkText(string(r.State), string(r.Phase), r.Error); err != nil {
		return fmt.Errorf("update run %d: %w", r.ID, err)
	}
	if r.State == "" {
		return fmt.Errorf("update run %d: no state given", r.ID)
	}
	counts, err := json.Marshal(r.Counts)
	if err != nil {
		return fmt.Errorf("update run %d: %w", r.ID, err)
	}
	t := now()
	var finished sql.NullInt64
	switch {
	case !r.Finished.IsZero():
		finished = sql.NullInt64{Int64: micros(r.Finished), Valid: true}
	case r.State != shop.RunRunning:
		finished = sql.NullInt64{Int64: micros(t), Valid: true}
	}
	res, err := s.db.ExecContext(ctx, `UPDATE runs SET state = $2, phase = $3, done = $4, total = $5, counts = $6, error = $7,
		finished = $8, updated = $9 WHERE id = $1 AND state = $10`,
		r.ID, string(r.State), string(r.Phase), r.Done, r.Total, string(counts), r.Error, finished, micros(t), string(shop.RunRunning))
	if err != nil {
		return fmt.Errorf("update run %d: %w", r.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("update run %d: %w", r.ID, err)
	} else if n > 0 {
		return nil
	}
	var state string
	err = s.db.QueryRowContext(ctx, `SELECT state FROM runs WHERE id = $1`, r.ID).Scan(&state)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("run %d: %w", r.ID, ErrNotFound)
	case err != nil:
		return fmt.Errorf("update run %d: %w", r.ID, err)
	}
	return fmt.Errorf("run %d is %s, no longer running (a run that shows no progress for %s is recorded interrupted when the next one starts): %w",
		r.ID, state, shop.StaleRunAfter, ErrVersionMismatch)
}

const runColumns = `id, shop, kind, state, phase, done, total, counts, error, token, started, updated, finished`

// LatestRun returns the shop's most recent run; ErrNotFound if it has none
// or the shop does not exist.
func (s *Store) LatestRun(ctx context.Context, id string) (shop.Run, error) {
	return s.latestRun(ctx, id, "")
}

// LatestRunIn is the shop's most recent run in state; ErrNotFound if none.
func (s *Store) LatestRunIn(ctx context.Context, id string, state shop.RunState) (shop.Run, error) {
	if state == "" {
		return shop.Run{}, errors.New("latest run: no state given")
	}
	return s.latestRun(ctx, id, state)
}

// latestRun is the shop's most recent run in state ("": any).
func (s *Store) latestRun(ctx context.Context, id string, state shop.RunState) (shop.Run, error) {
	if checkText(id) != nil {
		return shop.Run{}, shopNotFound(id)
	}
	var r shop.Run
	var stored, phase, counts string
	var started, updated int64
	var finished sql.NullInt64
	err := s.read.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE shop = $1 AND ($2 = '' OR state = $2)
		ORDER BY id DESC LIMIT 1`, id, string(state)).
		Scan(&r.ID, &r.Shop, &r.Kind, &stored, &phase, &r.Done, &r.Total, &counts, &r.Error, &r.Token, &started, &updated, &finished)
	if errors.Is(err, sql.ErrNoRows) {
		if err := shopExists(ctx, s.read, id); err != nil {
			if errors.Is(err, ErrNotFound) {
				return shop.Run{}, err
			}
			return shop.Run{}, fmt.Errorf("read the latest run of shop %q: %w", id, err)
		}
		if state != "" {
			return shop.Run{}, fmt.Errorf("shop %q has no %s run: %w", id, state, ErrNotFound)
		}
		return shop.Run{}, fmt.Errorf("shop %q has no run yet: %w", id, ErrNotFound)
	}
	if err != nil {
		return shop.Run{}, fmt.Errorf("read the latest run of shop %q: %w", id, err)
	}
	if err := json.Unmarshal([]byte(counts), &r.Counts); err != nil {
		return shop.Run{}, fmt.Errorf("run %d: stored counts: %w", r.ID, err)
	}
	r.State, r.Phase = shop.RunState(stored), shop.RunPhase(phase)
	r.Started, r.Updated = fromMicros(started), fromMicros(updated)
	if finished.Valid {
		r.Finished = fromMicros(finished.Int64)
	}
	return r, nil
}
