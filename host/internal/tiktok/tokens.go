package tiktok

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Tokens are a shop's access and refresh tokens with their expiries (zero
// when unknown). Printing or logging Tokens never shows a token.
type Tokens struct {
	AccessToken      string
	AccessExpiresAt  time.Time
	RefreshToken     string
	RefreshExpiresAt time.Time
	// From the token endpoint, for display; empty when loaded from a store
	// that does not keep them.
	OpenID, SellerName, SellerBaseRegion string
}

// String shows the expiries and whether each token is set, never the tokens.
func (t Tokens) String() string {
	return fmt.Sprintf("tiktok.Tokens{access: %s, refresh: %s}",
		describeToken(t.AccessToken, t.AccessExpiresAt), describeToken(t.RefreshToken, t.RefreshExpiresAt))
}

// GoString is String, so %#v does not print the tokens either.
func (t Tokens) GoString() string { return t.String() }

// LogValue keeps the tokens out of structured logs.
func (t Tokens) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Bool("access_token_set", t.AccessToken != ""),
		slog.Time("access_expires_at", t.AccessExpiresAt),
		slog.Bool("refresh_token_set", t.RefreshToken != ""),
		slog.Time("refresh_expires_at", t.RefreshExpiresAt),
	)
}

func describeToken(tok string, exp time.Time) string {
	s := "unset"
	if tok != "" {
		s = "set"
	}
	if !exp.IsZero() {
		s += ", expires " + exp.UTC().Format(time.RFC3339)
	}
	return s
}

// TokenStore keeps a shop's tokens between calls and across restarts. Load
// returns the current pair; Save stores a renewed pair (the refresh token may
// change on every renewal, so a pair that is not saved may be lost for good).
// The client calls them with its own context and never concurrently for one
// Shop.
type TokenStore interface {
	Load(ctx context.Context) (Tokens, error)
	Save(ctx context.Context, t Tokens) error
}

// MemoryTokens is a TokenStore in memory, for tests and one-off commands.
type MemoryTokens struct{ Tokens Tokens }

func (m *MemoryTokens) Load(context.Context) (Tokens, error) { return m.Tokens, nil }

func (m *MemoryTokens) Save(_ context.Context, t Tokens) error {
	m.Tokens = t
	return nil
}

// tokenAnswer is the data of the token endpoints' answer.
type tokenAnswer struct {
	AccessToken          string      `json:"access_token"`
	AccessTokenExpireIn  json.Number `json:"access_token_expire_in"`
	RefreshToken         string      `json:"refresh_token"`
	RefreshTokenExpireIn json.Number `json:"refresh_token_expire_in"`
	OpenID               string      `json:"open_id"`
	SellerName           string      `json:"seller_name"`
	SellerBaseRegion     string      `json:"seller_base_region"`
}

// timestampAbove: an *_expire_in value above this is a Unix time (10^9 s is
// 2001-09-09), below it a number of seconds from now (10^9 s is 31 years).
const timestampAbove = 1_000_000_000

// expiry reads an *_expire_in value. TikTok's pages give it as a Unix
// timestamp; some public clients read it as seconds from now. Both are
// accepted: no token lives 31 years, and none expired before 2001.
func expiry(n json.Number, now time.Time) (time.Time, error) {
	if n == "" {
		return time.Time{}, nil
	}
	v, err := n.Int64()
	if err != nil {
		return time.Time{}, fmt.Errorf("expiry %q is not an integer", n.String())
	}
	switch {
	case v <= 0:
		return time.Time{}, nil
	case v > timestampAbove:
		return time.Unix(v, 0), nil
	default:
		return now.Add(time.Duration(v) * time.Second), nil
	}
}

func (a tokenAnswer) tokens(now time.Time) (Tokens, error) {
	if a.AccessToken == "" || a.RefreshToken == "" {
		return Tokens{}, errors.New("tiktok: the token endpoint answered without an access or refresh token")
	}
	accessExp, err := expiry(a.AccessTokenExpireIn, now)
	if err != nil {
		return Tokens{}, fmt.Errorf("tiktok: access_token_expire_in: %w", err)
	}
	refreshExp, err := expiry(a.RefreshTokenExpireIn, now)
	if err != nil {
		return Tokens{}, fmt.Errorf("tiktok: refresh_token_expire_in: %w", err)
	}
	return Tokens{
		AccessToken: a.AccessToken, AccessExpiresAt: accessExp,
		RefreshToken: a.RefreshToken, RefreshExpiresAt: refreshExp,
		OpenID: a.OpenID, SellerName: a.SellerName, SellerBaseRegion: a.SellerBaseRegion,
	}, nil
}

// ExchangeAuthCode trades the auth code TikTok gave a seller's browser,
// when the seller authorised the app, for the shop's first pair of tokens.
// An auth code works once and for a short time: a permanent error means the
// seller must authorise again.
func (c *Client) ExchangeAuthCode(ctx context.Context, authCode string) (Tokens, error) {
	if authCode == "" {
		return Tokens{}, errors.New("tiktok: empty auth code")
	}
	return c.tokenCall(ctx, "/api/v2/token/get", map[string]string{
		"auth_code": authCode, "grant_type": "authorized_code",
	})
}

// RefreshTokens renews a pair of tokens with its refresh token. A refresh
// token TikTok refuses (expired, revoked, already replaced) gives an error
// that matches ErrReauthorize; transient failures (rate limits, 5xx,
// connection errors) are retried and then returned as they are.
func (c *Client) RefreshTokens(ctx context.Context, refreshToken string) (Tokens, error) {
	if refreshToken == "" {
		return Tokens{}, fmt.Errorf("%w: no refresh token is stored", ErrReauthorize)
	}
	t, err := c.tokenCall(ctx, "/api/v2/token/refresh", map[string]string{
		"refresh_token": refreshToken, "grant_type": "refresh_token",
	})
	var api *APIError
	if err != nil && errors.As(err, &api) && !IsTransient(err) {
		return Tokens{}, fmt.Errorf("%w: %w", ErrReauthorize, err)
	}
	return t, err
}

// tokenCall calls one of the two token endpoints. They are not signed: the
// app secret travels in the query, so the URL is never logged nor put in an
// error.
func (c *Client) tokenCall(ctx context.Context, path string, params map[string]string) (Tokens, error) {
	query := map[string]string{"app_key": c.opt.AppKey, "app_secret": c.opt.AppSecret}
	for k, v := range params {
		query[k] = v
	}
	var answer tokenAnswer
	if _, err := c.send(ctx, call{
		method: "GET", base: c.authBase, path: path, query: query, limiter: c.authLimiter,
	}, &answer); err != nil {
		return Tokens{}, err
	}
	return answer.tokens(c.opt.Now())
}

// tokenState is a Shop's cached tokens. sem (one slot) guards the rest and
// makes concurrent calls of the shop wait for one renewal rather than each
// renewing.
type tokenState struct {
	sem     chan struct{}
	loaded  bool
	cur     Tokens
	unsaved bool      // cur was renewed but Save failed: save it before use
	retryAt time.Time // after a failed early renewal, when to try again
}

func (s *Shop) lockTokens(ctx context.Context) error {
	select {
	case s.tok.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Shop) unlockTokens() { <-s.tok.sem }

// accessToken returns the token to send, renewing it first when it expires
// within Options.RefreshBefore.
func (s *Shop) accessToken(ctx context.Context) (string, error) {
	if err := s.lockTokens(ctx); err != nil {
		return "", err
	}
	defer s.unlockTokens()
	if err := s.loadLocked(ctx); err != nil {
		return "", err
	}
	t := &s.tok.cur
	if t.AccessToken == "" {
		return "", fmt.Errorf("%w: no access token is stored", ErrReauthorize)
	}
	now := s.c.opt.Now()
	if t.AccessExpiresAt.IsZero() || now.Before(t.AccessExpiresAt.Add(-s.c.opt.RefreshBefore)) {
		return t.AccessToken, nil
	}
	stillValid := now.Before(t.AccessExpiresAt)
	if stillValid && now.Before(s.tok.retryAt) {
		return t.AccessToken, nil
	}
	if err := s.renewLocked(ctx); err != nil {
		if !stillValid || s.tok.unsaved {
			return "", err
		}
		// The token still works: use it, and try again in a minute.
		s.tok.retryAt = now.Add(time.Minute)
		s.c.log.WarnContext(ctx, "tiktok: early renewal of the access token failed; using the current one until it expires",
			"expires_at", t.AccessExpiresAt, "error", err.Error())
		return t.AccessToken, nil
	}
	return t.AccessToken, nil
}

// renewAfterExpired is called when TikTok answered 105002 to the access
// token used. It returns the token to retry with: one another call or
// process has stored meanwhile, or a renewed one.
func (s *Shop) renewAfterExpired(ctx context.Context, used string) (string, error) {
	if err := s.lockTokens(ctx); err != nil {
		return "", err
	}
	defer s.unlockTokens()
	if s.tok.cur.AccessToken != used {
		return s.tok.cur.AccessToken, nil
	}
	if !s.tok.unsaved {
		stored, err := s.tokens.Load(ctx)
		if err != nil {
			return "", fmt.Errorf("tiktok: loading the shop's tokens: %w", err)
		}
		if stored.AccessToken != "" && stored.AccessToken != used {
			s.tok.cur = stored
			return stored.AccessToken, nil
		}
	}
	if err := s.renewLocked(ctx); err != nil {
		return "", err
	}
	return s.tok.cur.AccessToken, nil
}

func (s *Shop) loadLocked(ctx context.Context) error {
	if !s.tok.loaded {
		t, err := s.tokens.Load(ctx)
		if err != nil {
			return fmt.Errorf("tiktok: loading the shop's tokens: %w", err)
		}
		s.tok.cur, s.tok.loaded = t, true
	}
	if s.tok.unsaved {
		if err := s.tokens.Save(ctx, s.tok.cur); err != nil {
			return fmt.Errorf("tiktok: storing the shop's renewed tokens: %w", err)
		}
		s.tok.unsaved = false
	}
	return nil
}

// renewLocked renews the cached pair and stores it.
func (s *Shop) renewLocked(ctx context.Context) error {
	t := s.tok.cur
	now := s.c.opt.Now()
	if !t.RefreshExpiresAt.IsZero() && !now.Before(t.RefreshExpiresAt) {
		s.c.log.WarnContext(ctx, "tiktok: the refresh token has expired; the shop must authorise the app again",
			"refresh_expired_at", t.RefreshExpiresAt)
		return fmt.Errorf("%w: the refresh token expired at %s", ErrReauthorize, t.RefreshExpiresAt.UTC().Format(time.RFC3339))
	}
	fresh, err := s.c.RefreshTokens(ctx, t.RefreshToken)
	if err != nil {
		if errors.Is(err, ErrReauthorize) {
			s.c.log.WarnContext(ctx, "tiktok: the refresh token was refused; the shop must authorise the app again", "error", err.Error())
		}
		return err
	}
	s.tok.cur, s.tok.unsaved, s.tok.retryAt = fresh, true, time.Time{}
	if err := s.tokens.Save(ctx, fresh); err != nil {
		return fmt.Errorf("tiktok: renewed the access token but could not store it (tried again on the next call): %w", err)
	}
	s.tok.unsaved = false
	s.c.log.InfoContext(ctx, "tiktok: access token renewed", "tokens", fresh)
	return nil
}
