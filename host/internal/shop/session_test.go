package shop_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/auth"
	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/store/storetest"
)

// settableClock is a clock a test moves by hand.
type settableClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *settableClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *settableClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestSessions: a session works like its token until it expires, is
// signed out, or the token is revoked; the environment's admin token signs
// in too; the log never holds a token or a session id.
func TestSessions(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testSessions(t, false) })
	t.Run("postgres", func(t *testing.T) { testSessions(t, true) })
}

func testSessions(t *testing.T, postgres bool) {
	st := storetest.SQLite(t, t.TempDir())
	if postgres {
		st = storetest.Postgres(t)
	}
	const admin = "env-admin-token-0123456789abcdefghij"
	clock := &settableClock{now: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)}
	logs := &lockedBuffer{}
	svc := shop.New(shop.Options{Store: st, AdminToken: admin, Clock: clock.Now, Logger: slog.New(slog.NewTextHandler(io.MultiWriter(logs), nil))})
	t.Cleanup(svc.Close)
	ctx := context.Background()
	tok, err := svc.CreateToken(ctx, shop.Operator, "acme's page", []string{"shop:acme"})
	if err != nil {
		t.Fatal(err)
	}

	for _, bad := range []string{"", "srt_unknown", "srs_a-session-id-is-not-a-token"} {
		if _, err := svc.SignIn(ctx, bad); shop.CodeOf(err) != shop.Unauthorized {
			t.Errorf("SignIn(%q): %v, want Unauthorized", bad, err)
		}
	}
	sess, err := svc.SignIn(ctx, tok.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if sess.Principal.TokenID != tok.ID || sess.Principal.ShopAccess("acme") != auth.Allowed || sess.Principal.Admin() {
		t.Errorf("SignIn principal %+v, want the shop token's", sess.Principal)
	}
	if want := clock.Now().Add(shop.SessionTTL); !sess.Expires.Equal(want) {
		t.Errorf("expires %v, want %v", sess.Expires, want)
	}
	if !strings.HasPrefix(sess.ID, "srs_") || sess.ID == tok.Secret || sess.CSRF == "" || sess.CSRF != shop.CSRFToken(sess.ID) {
		t.Errorf("session id %q, CSRF %q: want a fresh srs_ id and its CSRF token", sess.ID, sess.CSRF)
	}
	other, err := svc.SignIn(ctx, tok.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if other.ID == sess.ID || other.CSRF == sess.CSRF {
		t.Error("two sign-ins share a session id or CSRF token")
	}

	check := func(name, id string, want shop.Code) {
		t.Helper()
		p, _, err := svc.SessionPrincipal(ctx, id)
		if got := shop.CodeOf(err); got != want {
			t.Errorf("%s: SessionPrincipal: %v, want code %q", name, err, want)
		}
		if err == nil && p.TokenID != tok.ID {
			t.Errorf("%s: principal %+v, want token %s", name, p, tok.ID)
		}
	}
	check("a fresh session", sess.ID, "")
	check("a token in place of a session id", tok.Secret, shop.Unauthorized)

	// CSRF: the session's own token only.
	for _, tt := range []struct {
		header string
		ok     bool
	}{{sess.CSRF, true}, {"", false}, {other.CSRF, false}, {sess.CSRF[:len(sess.CSRF)-1], false}} {
		if err := shop.CheckCSRF(sess.ID, tt.header); (err == nil) != tt.ok || (err != nil && shop.CodeOf(err) != shop.Forbidden) {
			t.Errorf("CheckCSRF(%q): %v, want ok %v", tt.header, err, tt.ok)
		}
	}

	// Expiry: a microsecond before works, at the expiry it does not.
	clock.Advance(shop.SessionTTL - time.Microsecond)
	check("a session a microsecond before its expiry", sess.ID, "")
	clock.Advance(time.Microsecond)
	check("an expired session", sess.ID, shop.Unauthorized)

	// Signing out ends that session only.
	clock.Advance(-shop.SessionTTL)
	third, err := svc.SignIn(ctx, tok.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.SignOut(ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	check("a signed-out session", other.ID, shop.Unauthorized)
	check("another session of the token", third.ID, "")

	// Revoking the token ends its sessions.
	if err := svc.RevokeToken(ctx, shop.Operator, tok.ID); err != nil {
		t.Fatal(err)
	}
	check("a session of a revoked token", third.ID, shop.Unauthorized)

	// The environment's admin token signs in as admin; another process
	// with another admin token does not take its sessions.
	envSess, err := svc.SignIn(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	if p, _, err := svc.SessionPrincipal(ctx, envSess.ID); err != nil || !p.Admin() || p.TokenID != auth.EnvTokenID {
		t.Errorf("the env token's session: %+v, %v; want the env admin", p, err)
	}
	changed := shop.New(shop.Options{Store: st, AdminToken: admin + "-rotated", Clock: clock.Now, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(changed.Close)
	if _, _, err := changed.SessionPrincipal(ctx, envSess.ID); shop.CodeOf(err) != shop.Unauthorized {
		t.Errorf("a session of a replaced admin token: %v, want Unauthorized", err)
	}

	for _, secret := range []string{tok.Secret, admin, sess.ID, third.ID, envSess.ID, sess.CSRF} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log holds a secret %q:\n%s", secret[:8], logs.String())
		}
	}
}
