package shop

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/syncrules/syncrules/host/internal/auth"
)

// SessionTTL is how long a session of the page lasts from sign-in; it is
// not extended by use, so a stolen cookie stops working at a known time.
const SessionTTL = 12 * time.Hour

// sessionPrefix starts every session id, as TokenPrefix starts tokens, so
// one pasted where a token belongs is recognised.
const sessionPrefix = "srs_"

// Session is a sign-in of the page as stored: found by the hash of its id
// (the cookie's value, which the store never sees), and valid until
// Expires while the token it was made from still works.
type Session struct {
	IDHash    [32]byte
	TokenID   string   // the token's public id; auth.EnvTokenID for the environment's
	TokenHash [32]byte // the token's SHA-256, looked up again on each request
	Created   time.Time
	Expires   time.Time
}

// SessionStore keeps the page's sessions.
type SessionStore interface {
	// CreateSession stores a session; ErrExists if its hash is taken.
	CreateSession(ctx context.Context, s Session) error
	// SessionByHash returns the session with this id hash, expired or
	// not, or ErrNotFound.
	SessionByHash(ctx context.Context, idHash [32]byte) (Session, error)
	// DeleteSession deletes a session; deleting one that is gone is not
	// an error.
	DeleteSession(ctx context.Context, idHash [32]byte) error
	// DeleteTokenSessions deletes every session of a token.
	DeleteTokenSessions(ctx context.Context, tokenID string) error
	// DeleteExpiredSessions deletes the sessions expired at or before t.
	DeleteExpiredSessions(ctx context.Context, t time.Time) error
}

// NewSession is a session just started: ID goes into the cookie, CSRF to
// the page, which sends it back in X-CSRF-Token with every change.
type NewSession struct {
	ID        string
	CSRF      string
	Principal auth.Principal
	Expires   time.Time
}

// SignIn starts a session of the page for a token (a stored token or the
// environment's admin token), answering Unauthorized if it does not work.
func (s *Service) SignIn(ctx context.Context, token string) (NewSession, error) {
	if token == "" || strings.HasPrefix(token, sessionPrefix) {
		return NewSession{}, Errorf(Unauthorized, "Paste a token (it starts with %q); an admin creates one with \"syncrules token create --scope shop:{id}\" or POST /v1/tokens.", auth.TokenPrefix)
	}
	hash := auth.HashToken(token)
	p, err := s.principalOfHash(ctx, hash)
	if err != nil {
		return NewSession{}, err
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return NewSession{}, fmt.Errorf("read random bytes for a session: %w", err)
	}
	id := sessionPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	now := s.clock().UTC().Truncate(time.Microsecond)
	sess := Session{IDHash: auth.HashToken(id), TokenID: p.TokenID, TokenHash: hash, Created: now, Expires: now.Add(SessionTTL)}
	// Sign-ins are rare: a good time to forget the sessions that ended.
	if err := s.store.DeleteExpiredSessions(ctx, now); err != nil {
		s.log.Warn("deleting expired sessions", "err", err)
	}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return NewSession{}, fmt.Errorf("storing a session: %w", err)
	}
	s.log.Info("session started", "token", p.TokenID, "expires", sess.Expires)
	return NewSession{ID: id, CSRF: CSRFToken(id), Principal: p, Expires: sess.Expires}, nil
}

// SessionPrincipal returns the principal of a session id (a cookie's
// value) and when the session expires; Unauthorized if the session is
// unknown, ended, expired, or its token was revoked.
func (s *Service) SessionPrincipal(ctx context.Context, id string) (auth.Principal, time.Time, error) {
	ended := Errorf(Unauthorized, "Your session has ended (signed out, expired or its token revoked): sign in again with a token.")
	if !strings.HasPrefix(id, sessionPrefix) {
		return auth.Principal{}, time.Time{}, ended
	}
	sess, err := s.store.SessionByHash(ctx, auth.HashToken(id))
	switch {
	case errors.Is(err, ErrNotFound):
		return auth.Principal{}, time.Time{}, ended
	case err != nil:
		return auth.Principal{}, time.Time{}, fmt.Errorf("looking up a session: %w", err)
	}
	if !s.clock().Before(sess.Expires) {
		return auth.Principal{}, time.Time{}, ended
	}
	p, err := s.principalOfHash(ctx, sess.TokenHash)
	if CodeOf(err) == Unauthorized {
		return auth.Principal{}, time.Time{}, ended
	}
	if err != nil {
		return auth.Principal{}, time.Time{}, err
	}
	return p, sess.Expires, nil
}

// SignOut ends a session; one already ended is not an error.
func (s *Service) SignOut(ctx context.Context, id string) error {
	if err := s.store.DeleteSession(ctx, auth.HashToken(id)); err != nil {
		return fmt.Errorf("deleting a session: %w", err)
	}
	return nil
}

// CSRFToken is the token a session's page sends in X-CSRF-Token: an HMAC
// of a fixed label keyed by the session id, so it need not be stored and
// cannot be computed without the id, which only the HttpOnly cookie holds.
func CSRFToken(sessionID string) string {
	m := hmac.New(sha256.New, []byte(sessionID))
	m.Write([]byte("syncrules csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// CheckCSRF answers Forbidden unless header is the session's CSRF token;
// the comparison takes the same time wherever they differ.
func CheckCSRF(sessionID, header string) error {
	if header == "" {
		return Errorf(Forbidden, "A change made with the session cookie needs the header X-CSRF-Token: send the csrf_token that POST or GET /v1/session answered.")
	}
	want := CSRFToken(sessionID)
	if subtle.ConstantTimeCompare([]byte(header), []byte(want)) != 1 {
		return Errorf(Forbidden, "The X-CSRF-Token header is not this session's: send the csrf_token that GET /v1/session answers.")
	}
	return nil
}

// principalOfHash returns the principal of the token with this hash: the
// environment's admin token or a stored one.
func (s *Service) principalOfHash(ctx context.Context, hash [32]byte) (auth.Principal, error) {
	if s.admin != "" {
		env := auth.HashToken(s.admin)
		if subtle.ConstantTimeCompare(hash[:], env[:]) == 1 {
			return auth.EnvPrincipal(), nil
		}
	}
	t, err := s.store.TokenByHash(ctx, hash)
	switch {
	case errors.Is(err, ErrNotFound):
		return auth.Principal{}, Errorf(Unauthorized, "The token is not valid: it is unknown or was revoked.")
	case err != nil:
		return auth.Principal{}, fmt.Errorf("looking up a token: %w", err)
	}
	return principalOf(t)
}

func principalOf(t Token) (auth.Principal, error) {
	p := auth.Principal{TokenID: t.ID}
	for _, sc := range t.Scopes {
		scope, err := auth.ParseScope(sc)
		if err != nil {
			return auth.Principal{}, fmt.Errorf("token %s has a stored scope that does not parse: %w", t.ID, err)
		}
		p.Scopes = append(p.Scopes, scope)
	}
	return p, nil
}
