package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/syncrules/syncrules/host/internal/shop"
)

// ShopSettings returns a shop and its current settings as of one instant,
// in one statement: a compute never pairs new settings with old locations.
// ErrNotFound if the shop does not exist.
func (s *Store) ShopSettings(ctx context.Context, id string) (shop.Shop, shop.StoredSettings, error) {
	if checkText(id) != nil {
		return shop.Shop{}, shop.StoredSettings{}, shopNotFound(id)
	}
	cur := shop.StoredSettings{Shop: id}
	var doc, token sql.NullString
	var created sql.NullInt64
	sh, err := scanShop(s.read.QueryRowContext(ctx, `SELECT `+shopColumnsOfS+`,
			s.settings_version, h.doc, h.created, h.token
		FROM shops s LEFT JOIN settings_history h ON h.shop = s.id AND h.version = s.settings_version
		WHERE s.id = $1`, id), &cur.Version, &doc, &created, &token)
	if errors.Is(err, sql.ErrNoRows) {
		return shop.Shop{}, shop.StoredSettings{}, shopNotFound(id)
	}
	if err != nil {
		return shop.Shop{}, shop.StoredSettings{}, fmt.Errorf("read shop %q with its settings: %w", id, err)
	}
	if doc.Valid {
		cur.Doc, cur.Created, cur.Token = []byte(doc.String), fromMicros(created.Int64), token.String
	}
	return sh, cur, nil
}
