package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/syncrules/syncrules/host/internal/shop"
)

// PutSettings appends a version (current+1) to the shop's settings history
// and makes it current, atomically: concurrent writers queue on the shop
// row (PostgreSQL: SELECT … FOR UPDATE; SQLite: an immediate transaction)
// and never lose a version. ErrNotFound if the shop does not exist.
func (s *Store) PutSettings(ctx context.Context, id string, p shop.SettingsWrite) (shop.StoredSettings, error) {
	if len(p.Doc) == 0 {
		return shop.StoredSettings{}, fmt.Errorf("put settings of shop %q: empty document", id)
	}
	texts := []string{id, string(p.Doc), p.Token}
	for _, r := range append(p.Refs, p.Require...) {
		texts = append(texts, r.Name, r.Version)
	}
	if err := checkText(texts...); err != nil {
		return shop.StoredSettings{}, fmt.Errorf("put settings: %w", err)
	}
	for range maxAttempts {
		var revision int64
		sh, err := scanShop(s.read.QueryRowContext(ctx, `SELECT `+shopColumns+`, revision FROM shops WHERE id = $1`, id), &revision)
		if errors.Is(err, sql.ErrNoRows) {
			return shop.StoredSettings{}, shopNotFound(id)
		}
		if err != nil {
			return shop.StoredSettings{}, fmt.Errorf("put settings of shop %q: %w", id, err)
		}
		if p.Check != nil {
			if err := p.Check(sh); err != nil {
				return shop.StoredSettings{}, err
			}
		}
		out, err := s.putSettings(ctx, id, p, revision)
		if !errors.Is(err, errRaced) {
			return out, err
		}
	}
	return shop.StoredSettings{}, fmt.Errorf("put settings of shop %q: the shop changed %d times while the settings were checked: %w", id, maxAttempts, ErrBusy)
}

// putSettings writes a version if the shop is still at revision; errRaced
// otherwise.
func (s *Store) putSettings(ctx context.Context, id string, p shop.SettingsWrite, revision int64) (shop.StoredSettings, error) {
	out := shop.StoredSettings{Shop: id, Doc: bytes.Clone(p.Doc), Created: now(), Token: p.Token}
	var keep error // errors returned as they are
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var version, rev int64
		err := tx.QueryRowContext(ctx, `SELECT settings_version, revision FROM shops WHERE id = $1`+s.lockShop, id).Scan(&version, &rev)
		if errors.Is(err, sql.ErrNoRows) {
			keep = shopNotFound(id)
			return keep
		}
		if err != nil {
			return err
		}
		if rev != revision {
			keep = errRaced
			return keep
		}
		if p.IfMatch && p.IfVersion != version {
			keep = fmt.Errorf("shop %q settings are at version %d, not %d: %w", id, version, p.IfVersion, ErrVersionMismatch)
			return keep
		}
		for _, r := range p.Require {
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM plugin_versions WHERE plugin = $1 AND version = $2`+s.lockShare,
				r.Name, r.Version).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				keep = fmt.Errorf("plugin %s %s: %w", r.Name, r.Version, shop.ErrPluginGone)
				return keep
			}
			if err != nil {
				return err
			}
		}
		if err := tx.QueryRowContext(ctx, `UPDATE shops SET settings_version = settings_version + 1
			WHERE id = $1 RETURNING settings_version`, id).Scan(&out.Version); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO settings_history (shop, version, doc, created, token)
			VALUES ($1, $2, $3, $4, $5)`, id, out.Version, string(p.Doc), micros(out.Created), p.Token); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM shop_plugin_refs WHERE shop = $1`, id); err != nil {
			return err
		}
		for _, r := range p.Refs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO shop_plugin_refs (shop, plugin, version)
				VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, id, r.Name, r.Version); err != nil {
				return err
			}
		}
		return nil
	})
	if keep != nil {
		return shop.StoredSettings{}, keep
	}
	if err != nil {
		return shop.StoredSettings{}, fmt.Errorf("put settings of shop %q: %w", id, err)
	}
	return out, nil
}

// Settings returns a shop's current settings: Version 0 and a nil Doc if
// none are stored yet; ErrNotFound if the shop does not exist.
func (s *Store) Settings(ctx context.Context, id string) (shop.StoredSettings, error) {
	if checkText(id) != nil {
		return shop.StoredSettings{}, shopNotFound(id)
	}
	cur, err := readSettings(ctx, s.read, id)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return shop.StoredSettings{}, fmt.Errorf("read settings of shop %q: %w", id, err)
	}
	return cur, err
}

func readSettings(ctx context.Context, q querier, id string) (shop.StoredSettings, error) {
	cur := shop.StoredSettings{Shop: id}
	var doc, token sql.NullString
	var created sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT s.settings_version, h.doc, h.created, h.token
		FROM shops s LEFT JOIN settings_history h ON h.shop = s.id AND h.version = s.settings_version
		WHERE s.id = $1`, id).Scan(&cur.Version, &doc, &created, &token)
	if errors.Is(err, sql.ErrNoRows) {
		return shop.StoredSettings{}, shopNotFound(id)
	}
	if err != nil {
		return shop.StoredSettings{}, err
	}
	if doc.Valid {
		cur.Doc, cur.Created, cur.Token = []byte(doc.String), fromMicros(created.Int64), token.String
	}
	return cur, nil
}

// SettingsHistory returns a shop's settings versions newest first: at most
// limit of them (every one if limit <= 0), and only those older than before
// if before > 0. ErrNotFound if the shop does not exist.
func (s *Store) SettingsHistory(ctx context.Context, id string, before int64, limit int) ([]shop.StoredSettings, error) {
	if checkText(id) != nil {
		return nil, shopNotFound(id)
	}
	if before <= 0 {
		before = 1<<63 - 1
	}
	if limit <= 0 {
		limit = 1<<31 - 1
	}
	history, err := collect(ctx, s.read, func(r *sql.Rows) (shop.StoredSettings, error) {
		v := shop.StoredSettings{Shop: id}
		var doc string
		var created int64
		err := r.Scan(&v.Version, &doc, &created, &v.Token)
		v.Doc, v.Created = []byte(doc), fromMicros(created)
		return v, err
	}, `SELECT version, doc, created, token FROM settings_history
		WHERE shop = $1 AND version < $2 ORDER BY version DESC LIMIT $3`, id, before, int64(limit))
	if err == nil && len(history) == 0 {
		err = shopExists(ctx, s.read, id) // no versions, or no shop?
	}
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("read settings history of shop %q: %w", id, err)
	}
	return history, nil
}

// PluginUsers returns the ids of the shops whose current settings reference
// the plugin version name@version, sorted.
func (s *Store) PluginUsers(ctx context.Context, name, version string) ([]string, error) {
	if checkText(name, version) != nil {
		return nil, nil
	}
	shops, err := collect(ctx, s.read, func(r *sql.Rows) (string, error) {
		var id string
		err := r.Scan(&id)
		return id, err
	},
		`SELECT shop FROM shop_plugin_refs WHERE plugin = $1 AND version = $2 ORDER BY shop`, name, version)
	if err != nil {
		return nil, fmt.Errorf("list users of plugin %s@%s: %w", name, version, err)
	}
	return shops, nil
}
