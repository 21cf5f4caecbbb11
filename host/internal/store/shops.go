package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Shop is a shop the service computes for.
type Shop struct {
	ID, Name   string
	Locations  json.RawMessage // JSON array, validated by the caller
	Warehouses json.RawMessage // JSON array
	Created    time.Time
	Updated    time.Time
}

// PutShop creates or replaces a shop; Created and Updated are set by the
// store. check, if not nil, sees the shop's current settings (zero Settings,
// but for Shop, if none or a new shop) and its error aborts the write,
// returned as is. It runs before the write transaction, so that a slow check
// (it runs plugins) holds no lock; the write happens only if the settings
// are still the ones it saw, else the check runs again.
func (s *Store) PutShop(ctx context.Context, shop Shop, check func(current Settings) error) (created bool, err error) {
	if err := checkText(shop.ID, shop.Name, string(shop.Locations), string(shop.Warehouses)); err != nil {
		return false, fmt.Errorf("put shop: %w", err)
	}
	for range maxAttempts {
		current, err := readSettings(ctx, s.db, shop.ID)
		exists := err == nil
		switch {
		case errors.Is(err, ErrNotFound):
			current = Settings{Shop: shop.ID}
		case err != nil:
			return false, fmt.Errorf("put shop %q: %w", shop.ID, err)
		}
		if check != nil {
			if err := check(current); err != nil {
				return false, err
			}
		}
		created, err = s.putShop(ctx, shop, exists, current.Version)
		if !errors.Is(err, errRaced) {
			return created, err
		}
	}
	return false, fmt.Errorf("put shop %q: changed by others %d times while it was checked: %w", shop.ID, maxAttempts, ErrBusy)
}

// maxAttempts bounds the checks of a write whose subject keeps changing.
const maxAttempts = 5

// errRaced reports that another transaction changed what a check saw.
var errRaced = errors.New("changed concurrently")

// putShop writes the shop if it still exists (or not) as the check saw it,
// with the settings version it saw; errRaced otherwise.
func (s *Store) putShop(ctx context.Context, shop Shop, existed bool, settingsVersion int64) (created bool, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var version int64
		err := tx.QueryRowContext(ctx, `SELECT settings_version FROM shops WHERE id = $1`+s.lockShop, shop.ID).Scan(&version)
		exists := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if exists != existed || (exists && version != settingsVersion) {
			return errRaced
		}
		t := micros(now())
		locations, warehouses := jsonArray(shop.Locations), jsonArray(shop.Warehouses)
		if exists {
			_, err = tx.ExecContext(ctx, `UPDATE shops SET name = $2, locations = $3, warehouses = $4, updated = $5,
				revision = revision + 1 WHERE id = $1`, shop.ID, shop.Name, locations, warehouses, t)
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO shops (id, name, locations, warehouses, created, updated)
			VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (id) DO NOTHING`,
			shop.ID, shop.Name, locations, warehouses, t)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return errRaced // created by another transaction since
		}
		created = true
		return nil
	})
	switch {
	case errors.Is(err, errRaced):
		return false, err
	case err != nil:
		return false, fmt.Errorf("put shop %q: %w", shop.ID, err)
	}
	return created, nil
}

// jsonArray is a stored JSON array: "[]" for none.
func jsonArray(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "[]"
	}
	return string(raw)
}

const shopColumns = `id, name, locations, warehouses, created, updated`

// scanShop scans shopColumns and then extra.
func scanShop(row interface{ Scan(...any) error }, extra ...any) (Shop, error) {
	var sh Shop
	var locations, warehouses string
	var created, updated int64
	dest := append([]any{&sh.ID, &sh.Name, &locations, &warehouses, &created, &updated}, extra...)
	if err := row.Scan(dest...); err != nil {
		return Shop{}, err
	}
	sh.Locations, sh.Warehouses = json.RawMessage(locations), json.RawMessage(warehouses)
	sh.Created, sh.Updated = fromMicros(created), fromMicros(updated)
	return sh, nil
}

// Shop returns one shop, or ErrNotFound.
func (s *Store) Shop(ctx context.Context, id string) (Shop, error) {
	if checkText(id) != nil {
		return Shop{}, shopNotFound(id)
	}
	sh, err := scanShop(s.db.QueryRowContext(ctx, `SELECT `+shopColumns+` FROM shops WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Shop{}, shopNotFound(id)
	}
	if err != nil {
		return Shop{}, fmt.Errorf("read shop %q: %w", id, err)
	}
	return sh, nil
}

// Shops returns every shop, ordered by id.
func (s *Store) Shops(ctx context.Context) ([]Shop, error) {
	shops, err := collect(ctx, s.db, func(r *sql.Rows) (Shop, error) { return scanShop(r) },
		`SELECT `+shopColumns+` FROM shops ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list shops: %w", err)
	}
	return shops, nil
}

// DeleteShop deletes a shop with its settings, their history, its
// credentials and its plugin references (the foreign keys cascade), or
// returns ErrNotFound.
func (s *Store) DeleteShop(ctx context.Context, id string) error {
	if checkText(id) != nil {
		return shopNotFound(id)
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM shops WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete shop %q: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("delete shop %q: %w", id, err)
	}
	if n == 0 {
		return shopNotFound(id)
	}
	return nil
}
