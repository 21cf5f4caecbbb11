package store

import (
	"context"
	"fmt"
)

// Remember stores value under name unless a value is stored there already,
// and returns the stored value: value if it was the first. Replicas
// starting together agree on one.
func (s *Store) Remember(ctx context.Context, name string, value []byte) ([]byte, error) {
	if err := checkText(name); err != nil {
		return nil, err
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO store_meta (name, value) VALUES ($1, $2)
		ON CONFLICT (name) DO NOTHING`, name, value); err != nil {
		return nil, fmt.Errorf("remember %s: %w", name, err)
	}
	var stored []byte
	if err := s.db.QueryRowContext(ctx, `SELECT value FROM store_meta WHERE name = $1`, name).Scan(&stored); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return stored, nil
}
