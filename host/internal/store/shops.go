package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/syncrules/syncrules/host/internal/shop"
)

// Locations and warehouses are stored as JSON arrays of the shop package's
// Location and Warehouse: [{"id":"A","active":true}], and
// [{"id":"alpha","active":true,"default":true}]. Every flag is explicit, so
// what a shop has never depends on a default.

// PutShop creates or replaces a shop; Created and Updated are set by the
// store, and Connected is kept (false for a new shop): only Connect sets
// it. A ShopifyDomain another shop has is ErrExists; "" removes the
// shop's. check, if not nil, sees the shop's current settings (zero Settings,
// but for Shop, if none or a new shop) and its error aborts the write,
// returned as is. It runs before the write transaction, so that a slow check
// (it runs plugins) holds no lock; the write happens only if the settings
// are still the ones it saw, else the check runs again.
func (s *Store) PutShop(ctx context.Context, sh shop.Shop, check func(current shop.StoredSettings) error) (created bool, err error) {
	row, err := shopRowOf(sh)
	if err != nil {
		return false, err
	}
	for range maxAttempts {
		current, err := readSettings(ctx, s.read, sh.ID)
		exists := err == nil
		switch {
		case errors.Is(err, ErrNotFound):
			current = shop.StoredSettings{Shop: sh.ID}
		case err != nil:
			return false, fmt.Errorf("put shop %q: %w", sh.ID, err)
		}
		if check != nil {
			if err := check(current); err != nil {
				return false, err
			}
		}
		created, err = s.putShop(ctx, row, exists, current.Version)
		if !errors.Is(err, errRaced) {
			return created, err
		}
	}
	return false, fmt.Errorf("put shop %q: changed by others %d times while it was checked: %w", sh.ID, maxAttempts, ErrBusy)
}

// shopRow is a shop as its row holds it.
type shopRow struct {
	id, name, locations, warehouses string
	domain                          sql.NullString // NULL when unset: many shops may have none
}

func shopRowOf(sh shop.Shop) (shopRow, error) {
	texts := []string{sh.ID, sh.Name, sh.ShopifyDomain}
	for _, l := range sh.Locations {
		texts = append(texts, l.ID)
	}
	for _, w := range sh.Warehouses {
		texts = append(texts, w.ID)
	}
	if err := checkText(texts...); err != nil {
		return shopRow{}, fmt.Errorf("put shop: %w", err)
	}
	locations, warehouses, err := placesJSON(sh.Locations, sh.Warehouses)
	if err != nil {
		return shopRow{}, fmt.Errorf("put shop %q: %w", sh.ID, err)
	}
	return shopRow{id: sh.ID, name: sh.Name, locations: locations, warehouses: warehouses,
		domain: sql.NullString{String: sh.ShopifyDomain, Valid: sh.ShopifyDomain != ""}}, nil
}

// placesJSON encodes locations and warehouses as their columns hold them.
func placesJSON(ls []shop.Location, ws []shop.Warehouse) (locations, warehouses string, err error) {
	l, err := json.Marshal(emptyIfNil(ls))
	if err != nil {
		return "", "", err
	}
	w, err := json.Marshal(emptyIfNil(ws))
	if err != nil {
		return "", "", err
	}
	return string(l), string(w), nil
}

func emptyIfNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// maxAttempts bounds the checks of a write whose subject keeps changing.
const maxAttempts = 5

// errRaced reports that another transaction changed what a check saw.
var errRaced = errors.New("changed concurrently")

// putShop writes the shop if it still exists (or not) as the check saw it,
// with the settings version it saw; errRaced otherwise.
func (s *Store) putShop(ctx context.Context, sh shopRow, existed bool, settingsVersion int64) (created bool, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var version int64
		var connected bool
		var locations, warehouses string
		err := tx.QueryRowContext(ctx, `SELECT settings_version, connected, locations, warehouses FROM shops WHERE id = $1`+s.lockShop,
			sh.id).Scan(&version, &connected, &locations, &warehouses)
		exists := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if exists != existed || (exists && version != settingsVersion) {
			return errRaced
		}
		// Checked here, not only by the caller: a connect may have landed
		// since the caller read the shop.
		if connected && (locations != sh.locations || warehouses != sh.warehouses) {
			return fmt.Errorf("put shop %q: %w", sh.id, ErrConnected)
		}
		t := micros(now())
		if exists {
			_, err = tx.ExecContext(ctx, `UPDATE shops SET name = $2, locations = $3, warehouses = $4, updated = $5,
				shopify_domain = $6, revision = revision + 1 WHERE id = $1`,
				sh.id, sh.name, sh.locations, sh.warehouses, t, sh.domain)
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO shops (id, name, locations, warehouses, created, updated, shopify_domain)
			VALUES ($1, $2, $3, $4, $5, $5, $6) ON CONFLICT (id) DO NOTHING`,
			sh.id, sh.name, sh.locations, sh.warehouses, t, sh.domain)
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
	case errors.Is(err, errRaced), errors.Is(err, ErrConnected):
		return false, err
	case isUnique(err): // the id conflicts do nothing: the domain is taken
		return false, fmt.Errorf("put shop %q: shopify_domain %q belongs to another shop: %w", sh.id, sh.domain.String, ErrExists)
	case err != nil:
		return false, fmt.Errorf("put shop %q: %w", sh.id, err)
	}
	return created, nil
}

// shopColumns are what scanShop reads; shopColumnsOfS the same of a
// shops table named s.
const (
	shopColumns    = `id, name, locations, warehouses, created, updated, shopify_domain, connected, sync_paused, sync_unblocks, sync_blocked`
	shopColumnsOfS = `s.id, s.name, s.locations, s.warehouses, s.created, s.updated, s.shopify_domain, s.connected, s.sync_paused, s.sync_unblocks, s.sync_blocked`
)

// scanShop scans shopColumns and then extra.
func scanShop(row interface{ Scan(...any) error }, extra ...any) (shop.Shop, error) {
	var sh shop.Shop
	var locations, warehouses string
	var created, updated int64
	var domain sql.NullString
	var blockedAt int64
	dest := append([]any{&sh.ID, &sh.Name, &locations, &warehouses, &created, &updated, &domain, &sh.Connected,
		&sh.SyncPaused, &sh.SyncUnblocks, &blockedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		return shop.Shop{}, err
	}
	sh.SyncBlocked = blockedAt == sh.SyncUnblocks
	sh.ShopifyDomain = domain.String
	sh.Locations, sh.Warehouses = []shop.Location{}, []shop.Warehouse{}
	if err := json.Unmarshal([]byte(locations), &sh.Locations); err != nil {
		return shop.Shop{}, fmt.Errorf("shop %q: stored locations: %w", sh.ID, err)
	}
	if err := json.Unmarshal([]byte(warehouses), &sh.Warehouses); err != nil {
		return shop.Shop{}, fmt.Errorf("shop %q: stored warehouses: %w", sh.ID, err)
	}
	sh.Created, sh.Updated = fromMicros(created), fromMicros(updated)
	return sh, nil
}

// Shop returns one shop, or ErrNotFound.
func (s *Store) Shop(ctx context.Context, id string) (shop.Shop, error) {
	if checkText(id) != nil {
		return shop.Shop{}, shopNotFound(id)
	}
	sh, err := scanShop(s.read.QueryRowContext(ctx, `SELECT `+shopColumns+` FROM shops WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return shop.Shop{}, shopNotFound(id)
	}
	if err != nil {
		return shop.Shop{}, fmt.Errorf("read shop %q: %w", id, err)
	}
	return sh, nil
}

// Shops returns every shop, ordered by id.
func (s *Store) Shops(ctx context.Context) ([]shop.Shop, error) {
	shops, err := collect(ctx, s.read, func(r *sql.Rows) (shop.Shop, error) { return scanShop(r) },
		`SELECT `+shopColumns+` FROM shops ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list shops: %w", err)
	}
	return shops, nil
}

// ShopsAfter returns at most limit shops whose ids sort after after ("":
// from the first), ordered by id: one page of the list, found by the
// primary key whatever the page (no OFFSET to count through).
func (s *Store) ShopsAfter(ctx context.Context, after string, limit int) ([]shop.Shop, error) {
	if err := checkText(after); err != nil {
		return nil, fmt.Errorf("list shops: %w", err)
	}
	shops, err := collect(ctx, s.read, func(r *sql.Rows) (shop.Shop, error) { return scanShop(r) },
		`SELECT `+shopColumns+` FROM shops WHERE id > $1 ORDER BY id LIMIT $2`, after, pageLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("list shops: %w", err)
	}
	return shops, nil
}

// pageLimit is a page's LIMIT: every row if limit <= 0.
func pageLimit(limit int) int64 {
	if limit <= 0 {
		return 1<<63 - 1
	}
	return int64(limit)
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
