package shop

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/syncrules/syncrules/host/internal/tiktok"
)

// The TikTok Shop tokens' expiries are kept as credentials of the tiktok
// group that the credential status does not list: the client renews the
// pair and stores it with them. Replacing the tiktok group (new tokens
// from the seller) drops them, so the new tokens' expiries are unknown
// until their first renewal.
const (
	credAccessExpires  = "access_expires_at"
	credRefreshExpires = "refresh_expires_at"
)

// openCredentials opens every credential of a shop, by "group/name".
func (s *Service) openCredentials(ctx context.Context, id string) (map[string]string, error) {
	creds, err := s.store.Credentials(ctx, id)
	if err != nil {
		return nil, storeError(id, err)
	}
	out := make(map[string]string, len(creds))
	for _, c := range creds {
		plain, err := s.sealer.Open(c.Sealed, credentialAAD(id, c.Group, c.Name))
		if err != nil {
			// Never the value: the name says which row to replace.
			return nil, fmt.Errorf("opening shop %q credential %s/%s (store it again): %w", id, c.Group, c.Name, err)
		}
		out[c.Group+"/"+c.Name] = string(plain)
	}
	return out, nil
}

// sealCredentials seals values of a group by name for UpdateCredentials.
func (s *Service) sealCredentials(id, group string, values map[string]string) ([]SealedCredential, error) {
	out := make([]SealedCredential, 0, len(values))
	for name, v := range values {
		sealed, err := s.sealer.Seal([]byte(v), credentialAAD(id, group, name))
		if err != nil {
			return nil, fmt.Errorf("sealing a credential: %w", err)
		}
		out = append(out, SealedCredential{Group: group, Name: name, Sealed: sealed})
	}
	return out, nil
}

// sealedTokens is a shop's TikTok Shop tokens, kept sealed among its
// credentials: a tiktok.TokenStore.
type sealedTokens struct {
	s    *Service
	shop string
}

var _ tiktok.TokenStore = (*sealedTokens)(nil)

// Load reads the shop's tokens; an expiry never stored is zero (unknown).
func (t *sealedTokens) Load(ctx context.Context) (tiktok.Tokens, error) {
	creds, err := t.s.openCredentials(ctx, t.shop)
	if err != nil {
		return tiktok.Tokens{}, err
	}
	tok := tiktok.Tokens{AccessToken: creds["tiktok/access_token"], RefreshToken: creds["tiktok/refresh_token"]}
	if tok.AccessExpiresAt, err = parseExpiry(creds["tiktok/"+credAccessExpires]); err != nil {
		return tiktok.Tokens{}, fmt.Errorf("shop %q: tiktok/%s: %w", t.shop, credAccessExpires, err)
	}
	if tok.RefreshExpiresAt, err = parseExpiry(creds["tiktok/"+credRefreshExpires]); err != nil {
		return tiktok.Tokens{}, fmt.Errorf("shop %q: tiktok/%s: %w", t.shop, credRefreshExpires, err)
	}
	return tok, nil
}

// Save stores a renewed pair with its expiries, keeping the shop's other
// credentials.
func (t *sealedTokens) Save(ctx context.Context, tok tiktok.Tokens) error {
	creds, err := t.s.sealCredentials(t.shop, "tiktok", map[string]string{
		"access_token":     tok.AccessToken,
		"refresh_token":    tok.RefreshToken,
		credAccessExpires:  formatExpiry(tok.AccessExpiresAt),
		credRefreshExpires: formatExpiry(tok.RefreshExpiresAt),
	})
	if err != nil {
		return err
	}
	if err := t.s.store.UpdateCredentials(ctx, t.shop, creds); err != nil {
		return fmt.Errorf("storing shop %q's renewed TikTok Shop tokens: %w", t.shop, err)
	}
	t.s.log.Info("tiktok tokens renewed", "shop", t.shop, "tokens", tok)
	return nil
}

// formatExpiry and parseExpiry keep an expiry as text; "" is unknown.
func formatExpiry(at time.Time) string {
	if at.IsZero() {
		return ""
	}
	return at.UTC().Format(time.RFC3339Nano)
}

func parseExpiry(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

// tiktokApp is the cached client of one app.
type tiktokApp struct {
	secret [32]byte // SHA-256 of the app secret the client signs with
	client *tiktok.Client
}

// tiktokClient returns the client of an app, one per app key so that the
// shops of an app share its rate limiters; a new secret makes a new one.
func (s *Service) tiktokClient(appKey, appSecret string) (*tiktok.Client, error) {
	sum := sha256.Sum256([]byte(appSecret))
	s.mu.Lock()
	defer s.mu.Unlock()
	if app, ok := s.tiktokApps[appKey]; ok && app.secret == sum {
		return app.client, nil
	}
	opt := s.platforms.TikTok
	opt.AppKey, opt.AppSecret = appKey, appSecret
	if opt.Logger == nil {
		opt.Logger = s.log
	}
	if opt.Paces == nil {
		opt.Paces = s.tiktokPaces
	}
	c, err := tiktok.New(opt)
	if err != nil {
		return nil, err
	}
	s.tiktokApps[appKey] = tiktokApp{secret: sum, client: c}
	return c, nil
}
