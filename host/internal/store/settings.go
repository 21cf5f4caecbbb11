package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Settings is one version of a shop's settings.
type Settings struct {
	Shop    string
	Version int64           // 0: none stored yet
	Doc     json.RawMessage // the settings object as stored
	Created time.Time       // when this version was written
	Token   string          // id of the token that wrote it
}

// PluginRef names a plugin version.
type PluginRef struct{ Name, Version string }

// PutSettings is a settings write.
type PutSettings struct {
	Doc json.RawMessage
	// Refs are the plugin versions Doc references; they replace the shop's.
	Refs  []PluginRef
	Token string
	// IfMatch makes the write fail with ErrVersionMismatch unless the
	// current version is IfVersion (0: none stored yet); without it the
	// last write wins.
	IfMatch   bool
	IfVersion int64
	// Check, if not nil, sees the shop the settings are for; its error
	// aborts the write and is returned as is. It runs before the write
	// transaction, so that a slow check (it runs plugins) holds no lock;
	// the write happens only if the shop is still the one it saw, else the
	// check runs again.
	Check func(Shop) error
}

// PutSettings appends a version (current+1) to the shop's settings history
// and makes it current, atomically: concurrent writers queue on the shop
// row (PostgreSQL: SELECT … FOR UPDATE; SQLite: an immediate transaction)
// and never lose a version. ErrNotFound if the shop does not exist.
func (s *Store) PutSettings(ctx context.Context, shop string, p PutSettings) (Settings, error) {
	if len(p.Doc) == 0 {
		return Settings{}, fmt.Errorf("put settings of shop %q: empty document", shop)
	}
	texts := []string{shop, string(p.Doc), p.Token}
	for _, r := range p.Refs {
		texts = append(texts, r.Name, r.Version)
	}
	if err := checkText(texts...); err != nil {
		return Settings{}, fmt.Errorf("put settings: %w", err)
	}
	for range maxAttempts {
		var revision int64
		sh, err := scanShop(s.db.QueryRowContext(ctx, `SELECT `+shopColumns+`, revision FROM shops WHERE id = $1`, shop), &revision)
		if errors.Is(err, sql.ErrNoRows) {
			return Settings{}, shopNotFound(shop)
		}
		if err != nil {
			return Settings{}, fmt.Errorf("put settings of shop %q: %w", shop, err)
		}
		if p.Check != nil {
			if err := p.Check(sh); err != nil {
				return Settings{}, err
			}
		}
		out, err := s.putSettings(ctx, shop, p, revision)
		if !errors.Is(err, errRaced) {
			return out, err
		}
	}
	return Settings{}, fmt.Errorf("put settings of shop %q: the shop changed %d times while the settings were checked: %w", shop, maxAttempts, ErrBusy)
}

// putSettings writes a version if the shop is still at revision; errRaced
// otherwise.
func (s *Store) putSettings(ctx context.Context, shop string, p PutSettings, revision int64) (Settings, error) {
	out := Settings{Shop: shop, Doc: append(json.RawMessage(nil), p.Doc...), Created: now(), Token: p.Token}
	var keep error // errors returned as they are
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var version, rev int64
		err := tx.QueryRowContext(ctx, `SELECT settings_version, revision FROM shops WHERE id = $1`+s.lockShop, shop).Scan(&version, &rev)
		if errors.Is(err, sql.ErrNoRows) {
			keep = shopNotFound(shop)
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
			keep = fmt.Errorf("shop %q settings are at version %d, not %d: %w", shop, version, p.IfVersion, ErrVersionMismatch)
			return keep
		}
		if err := tx.QueryRowContext(ctx, `UPDATE shops SET settings_version = settings_version + 1
			WHERE id = $1 RETURNING settings_version`, shop).Scan(&out.Version); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO settings_history (shop, version, doc, created, token)
			VALUES ($1, $2, $3, $4, $5)`, shop, out.Version, string(p.Doc), micros(out.Created), p.Token); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM shop_plugin_refs WHERE shop = $1`, shop); err != nil {
			return err
		}
		for _, r := range p.Refs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO shop_plugin_refs (shop, plugin, version)
				VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, shop, r.Name, r.Version); err != nil {
				return err
			}
		}
		return nil
	})
	if keep != nil {
		return Settings{}, keep
	}
	if err != nil {
		return Settings{}, fmt.Errorf("put settings of shop %q: %w", shop, err)
	}
	return out, nil
}

// Settings returns a shop's current settings: Version 0 and a nil Doc if
// none are stored yet; ErrNotFound if the shop does not exist.
func (s *Store) Settings(ctx context.Context, shop string) (Settings, error) {
	if checkText(shop) != nil {
		return Settings{}, shopNotFound(shop)
	}
	cur, err := readSettings(ctx, s.db, shop)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Settings{}, fmt.Errorf("read settings of shop %q: %w", shop, err)
	}
	return cur, err
}

func readSettings(ctx context.Context, q querier, shop string) (Settings, error) {
	cur := Settings{Shop: shop}
	var doc, token sql.NullString
	var created sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT s.settings_version, h.doc, h.created, h.token
		FROM shops s LEFT JOIN settings_history h ON h.shop = s.id AND h.version = s.settings_version
		WHERE s.id = $1`, shop).Scan(&cur.Version, &doc, &created, &token)
	if errors.Is(err, sql.ErrNoRows) {
		return Settings{}, shopNotFound(shop)
	}
	if err != nil {
		return Settings{}, err
	}
	if doc.Valid {
		cur.Doc, cur.Created, cur.Token = json.RawMessage(doc.String), fromMicros(created.Int64), token.String
	}
	return cur, nil
}

// SettingsHistory returns a shop's settings versions newest first: at most
// limit of them (every one if limit <= 0), and only those older than before
// if before > 0. ErrNotFound if the shop does not exist.
func (s *Store) SettingsHistory(ctx context.Context, shop string, before int64, limit int) ([]Settings, error) {
	if checkText(shop) != nil {
		return nil, shopNotFound(shop)
	}
	if before <= 0 {
		before = 1<<63 - 1
	}
	if limit <= 0 {
		limit = 1<<31 - 1
	}
	history, err := collect(ctx, s.db, func(r *sql.Rows) (Settings, error) {
		v := Settings{Shop: shop}
		var doc string
		var created int64
		err := r.Scan(&v.Version, &doc, &created, &v.Token)
		v.Doc, v.Created = json.RawMessage(doc), fromMicros(created)
		return v, err
	}, `SELECT version, doc, created, token FROM settings_history
		WHERE shop = $1 AND version < $2 ORDER BY version DESC LIMIT $3`, shop, before, int64(limit))
	if err == nil && len(history) == 0 {
		err = shopExists(ctx, s.db, shop) // no versions, or no shop?
	}
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("read settings history of shop %q: %w", shop, err)
	}
	return history, nil
}

// PluginUsers returns the ids of the shops whose current settings reference
// the plugin version name@version, sorted.
func (s *Store) PluginUsers(ctx context.Context, name, version string) ([]string, error) {
	if checkText(name, version) != nil {
		return nil, nil
	}
	shops, err := collect(ctx, s.db, func(r *sql.Rows) (string, error) {
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
