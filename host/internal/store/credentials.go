package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/syncrules/syncrules/host/internal/shop"
)

// ReplaceCredentials replaces, in one transaction, every credential of
// each group given (group name → its credentials, whose Group must be that
// name or empty); groups not given are kept. ErrNotFound if the shop does
// not exist.
func (s *Store) ReplaceCredentials(ctx context.Context, id string, groups map[string][]shop.SealedCredential) error {
	names := slices.Sorted(maps.Keys(groups))
	if err := checkText(append([]string{id}, names...)...); err != nil {
		return fmt.Errorf("replace credentials: %w", err)
	}
	for _, group := range names {
		for _, c := range groups[group] {
			if err := checkText(c.Name); err != nil {
				return fmt.Errorf("replace credentials: %w", err)
			}
			if c.Group != "" && c.Group != group {
				return fmt.Errorf("replace %s credentials of shop %q: credential %q is in group %q", group, id, c.Name, c.Group)
			}
		}
	}
	t := now()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := shopExists(ctx, tx, id); err != nil {
			return err
		}
		for _, group := range names {
			if _, err := tx.ExecContext(ctx, `DELETE FROM shop_credentials WHERE shop = $1 AND grp = $2`, id, group); err != nil {
				return err
			}
			for _, c := range groups[group] {
				updated := c.Updated
				if updated.IsZero() {
					updated = t
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO shop_credentials (shop, grp, name, sealed, updated)
					VALUES ($1, $2, $3, $4, $5)`, id, group, c.Name, c.Sealed, micros(updated)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, ErrNotFound):
		return err
	case isForeignKey(err): // deleted since shopExists
		return shopNotFound(id)
	case err != nil:
		return fmt.Errorf("replace credentials %v of shop %q: %w", names, id, err)
	}
	return nil
}

// Credentials returns a shop's sealed credentials ordered by group and
// name; ErrNotFound if the shop does not exist.
func (s *Store) Credentials(ctx context.Context, id string) ([]shop.SealedCredential, error) {
	if checkText(id) != nil {
		return nil, shopNotFound(id) // no shop can have that id
	}
	creds, err := collect(ctx, s.read, func(r *sql.Rows) (shop.SealedCredential, error) {
		var c shop.SealedCredential
		var updated int64
		err := r.Scan(&c.Group, &c.Name, &c.Sealed, &updated)
		c.Updated = fromMicros(updated)
		return c, err
	}, `SELECT grp, name, sealed, updated FROM shop_credentials WHERE shop = $1 ORDER BY grp, name`, id)
	if err == nil && len(creds) == 0 {
		err = shopExists(ctx, s.read, id) // none, or no shop?
	}
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("read credentials of shop %q: %w", id, err)
	}
	return creds, nil
}

// DeleteCredentials deletes every credential of a shop; ErrNotFound if the
// shop does not exist.
func (s *Store) DeleteCredentials(ctx context.Context, id string) error {
	if checkText(id) != nil {
		return shopNotFound(id)
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM shop_credentials WHERE shop = $1`, id)
	if err != nil {
		return fmt.Errorf("delete credentials of shop %q: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("delete credentials of shop %q: %w", id, err)
	} else if n == 0 {
		if err := shopExists(ctx, s.read, id); err != nil {
			if errors.Is(err, ErrNotFound) {
				return err
			}
			return fmt.Errorf("delete credentials of shop %q: %w", id, err)
		}
	}
	return nil
}

// UpdateCredentials inserts or replaces the credentials given, by group
// and name, in one transaction, keeping the shop's others. ErrNotFound if
// the shop does not exist.
func (s *Store) UpdateCredentials(ctx context.Context, id string, creds []shop.SealedCredential) error {
	if err := checkText(id); err != nil {
		return fmt.Errorf("update credentials: %w", err)
	}
	for _, c := range creds {
		if err := checkText(c.Group, c.Name); err != nil {
			return fmt.Errorf("update credentials: %w", err)
		}
		if c.Group == "" || c.Name == "" {
			return fmt.Errorf("update credentials of shop %q: credential %q/%q needs a group and a name", id, c.Group, c.Name)
		}
	}
	t := now()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := shopExists(ctx, tx, id); err != nil {
			return err
		}
		for _, c := range creds {
			updated := c.Updated
			if updated.IsZero() {
				updated = t
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO shop_credentials (shop, grp, name, sealed, updated)
				VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (shop, grp, name) DO UPDATE SET sealed = excluded.sealed, updated = excluded.updated`,
				id, c.Group, c.Name, c.Sealed, micros(updated)); err != nil {
				return err
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, ErrNotFound):
		return err
	case isForeignKey(err): // deleted since shopExists
		return shopNotFound(id)
	case err != nil:
		return fmt.Errorf("update credentials of shop %q: %w", id, err)
	}
	return nil
}
