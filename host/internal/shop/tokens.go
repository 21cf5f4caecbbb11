package shop

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/syncrules/syncrules/host/internal/auth"
	"github.com/syncrules/syncrules/host/internal/compute"
)

// MaxScopes bounds the scopes of one token.
const MaxScopes = 100

// Authenticate returns the principal of an Authorization header's bearer
// token: the admin token of the environment, or a stored token.
func (s *Service) Authenticate(ctx context.Context, authorization string) (auth.Principal, error) {
	token, ok := auth.ParseBearer(authorization)
	if !ok {
		return auth.Principal{}, Errorf(Unauthorized, "Send Authorization: Bearer <token>. An admin creates tokens with \"syncrules token create --scope ...\" or POST /v1/tokens.")
	}
	if auth.MatchEnvToken(token, s.admin) {
		return auth.EnvPrincipal(), nil
	}
	t, err := s.store.TokenByHash(ctx, auth.HashToken(token))
	switch {
	case errors.Is(err, ErrNotFound):
		return auth.Principal{}, Errorf(Unauthorized, "The bearer token is not valid: it is unknown or was revoked.")
	case err != nil:
		return auth.Principal{}, fmt.Errorf("looking up a token: %w", err)
	}
	return principalOf(t)
}

// CheckScopes parses the scopes of a new token, with the field errors of a
// request under field.
func CheckScopes(field string, scopes []string) ([]string, []compute.FieldError) {
	var probs []compute.FieldError
	if len(scopes) == 0 {
		probs = append(probs, compute.FieldError{Field: field, Detail: "is required: one or more of admin, shop:{id}, partner:{name}"})
	}
	if len(scopes) > MaxScopes {
		probs = append(probs, compute.FieldError{Field: field, Detail: fmt.Sprintf("may have at most %d scopes, got %d", MaxScopes, len(scopes))})
		return nil, probs
	}
	out := make([]string, 0, len(scopes))
	for i, sc := range scopes {
		scope, err := auth.ParseScope(sc)
		if err != nil {
			probs = append(probs, compute.FieldError{Field: fmt.Sprintf("%s/%d", field, i), Detail: err.Error()})
			continue
		}
		out = append(out, scope.String())
	}
	return out, probs
}

// NewToken is a token just created: Secret is shown this once.
type NewToken struct {
	Token
	Secret string
}

// CreateToken creates a token with a name and scopes. Admins only; field
// errors point under /name and /scopes.
func (s *Service) CreateToken(ctx context.Context, p auth.Principal, name string, scopes []string) (NewToken, error) {
	if err := CheckAdmin(p); err != nil {
		return NewToken{}, err
	}
	clean, probs := CheckScopes("/scopes", scopes)
	probs = append(probs, CheckName("/name", name)...)
	if len(probs) > 0 {
		return NewToken{}, &Error{Code: InvalidToken, Fields: probs,
			Message: "The token's name or scopes are not valid; fix the fields listed."}
	}
	secret, hash, id, err := auth.NewToken()
	if err != nil {
		return NewToken{}, err
	}
	t := Token{ID: id, Name: name, Scopes: clean, Hash: hash, Created: time.Now().UTC().Truncate(time.Microsecond)}
	if err := s.store.CreateToken(ctx, t); err != nil {
		return NewToken{}, err
	}
	s.log.Info("token created", "id", t.ID, "scopes", clean, "by", p.TokenID)
	return NewToken{Token: t, Secret: secret}, nil
}

// Tokens lists every token, oldest first, never their secrets. Admins
// only.
func (s *Service) Tokens(ctx context.Context, p auth.Principal) ([]Token, error) {
	if err := CheckAdmin(p); err != nil {
		return nil, err
	}
	return s.store.Tokens(ctx)
}

// RevokeToken deletes a token: it stops working at once. Admins only.
func (s *Service) RevokeToken(ctx context.Context, p auth.Principal, id string) error {
	if err := CheckAdmin(p); err != nil {
		return err
	}
	if id == auth.EnvTokenID {
		return Errorf(Conflict, "The env token comes from SYNCRULES_ADMIN_TOKEN: unset it and restart to revoke it.")
	}
	err := s.store.DeleteToken(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Errorf(NotFound, "No token %q.", id)
	}
	if err != nil {
		return err
	}
	// The sessions would fail anyway (they look the token up again on
	// each request); deleting them keeps the table small.
	if err := s.store.DeleteTokenSessions(ctx, id); err != nil {
		s.log.Warn("deleting a revoked token's sessions", "id", id, "err", err)
	}
	s.log.Info("token revoked", "id", id, "by", p.TokenID)
	return nil
}
