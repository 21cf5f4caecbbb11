package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/syncrules/syncrules/host/internal/shop"
)

// CreateSession stores a session; ErrExists if its id hash is taken.
func (s *Store) CreateSession(ctx context.Context, sess shop.Session) error {
	if err := checkText(sess.TokenID); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO sessions (id_hash, token_id, token_hash, created, expires) VALUES ($1, $2, $3, $4, $5)`,
		sess.IDHash[:], sess.TokenID, sess.TokenHash[:], micros(sess.Created), micros(sess.Expires))
	if isUnique(err) {
		return fmt.Errorf("session: %w", ErrExists)
	}
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// SessionByHash returns the session with this id hash, or ErrNotFound.
// Like a token lookup it reads beside the writer: a page's request does not
// queue behind the sync's writes, and a session just committed is seen.
func (s *Store) SessionByHash(ctx context.Context, idHash [32]byte) (shop.Session, error) {
	sess := shop.Session{IDHash: idHash}
	var tokenHash []byte
	var created, expires int64
	err := s.read.QueryRowContext(ctx, `SELECT token_id, token_hash, created, expires FROM sessions WHERE id_hash = $1`, idHash[:]).
		Scan(&sess.TokenID, &tokenHash, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return shop.Session{}, fmt.Errorf("session: %w", ErrNotFound)
	}
	if err != nil {
		return shop.Session{}, fmt.Errorf("read session: %w", err)
	}
	if copy(sess.TokenHash[:], tokenHash) != len(sess.TokenHash) {
		return shop.Session{}, fmt.Errorf("session of token %s: stored token hash has %d bytes, not 32", sess.TokenID, len(tokenHash))
	}
	sess.Created, sess.Expires = fromMicros(created), fromMicros(expires)
	return sess, nil
}

// DeleteSession deletes a session, if it is still there.
func (s *Store) DeleteSession(ctx context.Context, idHash [32]byte) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = $1`, idHash[:]); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteTokenSessions deletes every session of a token.
func (s *Store) DeleteTokenSessions(ctx context.Context, tokenID string) error {
	if checkText(tokenID) != nil {
		return nil // no session can have it
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE token_id = $1`, tokenID); err != nil {
		return fmt.Errorf("delete the sessions of token %s: %w", tokenID, err)
	}
	return nil
}

// DeleteExpiredSessions deletes the sessions expired at or before t.
func (s *Store) DeleteExpiredSessions(ctx context.Context, t time.Time) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE expires <= $1`, micros(t)); err != nil {
		return fmt.Errorf("delete expired sessions: %w", err)
	}
	return nil
}
