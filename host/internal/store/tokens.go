package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/syncrules/syncrules/host/internal/shop"
)

// CreateToken stores a token; ErrExists if its id or hash is taken.
func (s *Store) CreateToken(ctx context.Context, t shop.Token) error {
	if err := checkText(append([]string{t.ID, t.Name}, t.Scopes...)...); err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	if t.Created.IsZero() {
		t.Created = now()
	}
	scopes, err := json.Marshal(t.Scopes)
	if err != nil {
		return fmt.Errorf("create token %s: %w", t.ID, err)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO tokens (id, name, scopes, hash, created) VALUES ($1, $2, $3, $4, $5)`,
		t.ID, t.Name, string(scopes), t.Hash[:], micros(t.Created))
	if isUnique(err) {
		return fmt.Errorf("token %s: %w", t.ID, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("create token %s: %w", t.ID, err)
	}
	return nil
}

const tokenColumns = `id, name, scopes, hash, created`

func scanToken(row interface{ Scan(...any) error }) (shop.Token, error) {
	var t shop.Token
	var scopes string
	var hash []byte
	var created int64
	if err := row.Scan(&t.ID, &t.Name, &scopes, &hash, &created); err != nil {
		return shop.Token{}, err
	}
	if err := json.Unmarshal([]byte(scopes), &t.Scopes); err != nil {
		return shop.Token{}, fmt.Errorf("scopes of token %s: %w", t.ID, err)
	}
	if copy(t.Hash[:], hash) != len(t.Hash) {
		return shop.Token{}, fmt.Errorf("token %s: stored hash has %d bytes, not 32", t.ID, len(hash))
	}
	t.Created = fromMicros(created)
	return t, nil
}

// TokenByHash returns the token with this hash, or ErrNotFound.
func (s *Store) TokenByHash(ctx context.Context, hash [32]byte) (shop.Token, error) {
	t, err := scanToken(s.read.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE hash = $1`, hash[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return shop.Token{}, fmt.Errorf("token: %w", ErrNotFound)
	}
	if err != nil {
		return shop.Token{}, fmt.Errorf("read token: %w", err)
	}
	return t, nil
}

// Tokens returns every token, oldest first.
func (s *Store) Tokens(ctx context.Context) ([]shop.Token, error) {
	tokens, err := collect(ctx, s.read, func(r *sql.Rows) (shop.Token, error) { return scanToken(r) },
		`SELECT `+tokenColumns+` FROM tokens ORDER BY created, id`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return tokens, nil
}

// TokensAfter returns at most limit tokens that come after the one
// after names, oldest first ((created, id) order; the zero TokenKey: from
// the first).
func (s *Store) TokensAfter(ctx context.Context, after shop.TokenKey, limit int) ([]shop.Token, error) {
	if err := checkText(after.ID); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	query, args := `SELECT `+tokenColumns+` FROM tokens ORDER BY created, id LIMIT $1`, []any{pageLimit(limit)}
	if after != (shop.TokenKey{}) {
		query = `SELECT ` + tokenColumns + ` FROM tokens WHERE created > $2 OR (created = $2 AND id > $3)
			ORDER BY created, id LIMIT $1`
		args = append(args, micros(after.Created), after.ID)
	}
	tokens, err := collect(ctx, s.read, func(r *sql.Rows) (shop.Token, error) { return scanToken(r) }, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return tokens, nil
}

// DeleteToken deletes a token, or returns ErrNotFound.
func (s *Store) DeleteToken(ctx context.Context, id string) error {
	if checkText(id) != nil {
		return fmt.Errorf("token %q: %w", id, ErrNotFound)
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM tokens WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete token %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("delete token %s: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("token %s: %w", id, ErrNotFound)
	}
	return nil
}
