package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// ClaimPlugin makes partner the owner of the plugin name unless a partner
// owns it already, and returns the owner: partner if the claim won.
// Concurrent claims agree on one owner.
func (s *Store) ClaimPlugin(ctx context.Context, name, partner string) (owner string, err error) {
	if err := checkText(name, partner); err != nil {
		return "", fmt.Errorf("claim plugin: %w", err)
	}
	// ON CONFLICT DO NOTHING waits for a concurrent claim to commit, so the
	// SELECT after it sees the winner.
	if _, err := s.db.ExecContext(ctx, `INSERT INTO plugin_owners (plugin, partner, created)
		VALUES ($1, $2, $3) ON CONFLICT (plugin) DO NOTHING`, name, partner, micros(now())); err != nil {
		return "", fmt.Errorf("claim plugin %s: %w", name, err)
	}
	owner, err = s.PluginOwner(ctx, name)
	if err == nil && owner == "" {
		// Claimed and then released in between: not possible today, as
		// nothing deletes owners.
		err = fmt.Errorf("claim plugin %s: the claim vanished", name)
	}
	return owner, err
}

// PluginOwner returns the partner owning the plugin name, or "" if none.
func (s *Store) PluginOwner(ctx context.Context, name string) (string, error) {
	if checkText(name) != nil {
		return "", nil
	}
	var owner string
	err := s.db.QueryRowContext(ctx, `SELECT partner FROM plugin_owners WHERE plugin = $1`, name).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read owner of plugin %s: %w", name, err)
	}
	return owner, nil
}
