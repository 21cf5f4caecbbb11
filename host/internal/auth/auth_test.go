package auth_test

import (
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/syncrules/syncrules/host/internal/auth"
)

func TestParseScope(t *testing.T) {
	for _, tt := range []struct {
		name    string
		in      string
		want    auth.Scope
		wantErr string
	}{
		{"admin", "admin", auth.Scope{Kind: "admin"}, ""},
		{"shop", "shop:acme.myshopify.com", auth.Scope{Kind: "shop", Name: "acme.myshopify.com"}, ""},
		{"shop digit first", "shop:1_a-b", auth.Scope{Kind: "shop", Name: "1_a-b"}, ""},
		{"partner", "partner:acme-tools", auth.Scope{Kind: "partner", Name: "acme-tools"}, ""},
		{"empty", "", auth.Scope{}, `unknown scope "": use admin, shop:{id} or partner:{name}`},
		{"unknown", "foo", auth.Scope{}, `unknown scope "foo": use admin, shop:{id} or partner:{name}`},
		{"admin upper", "Admin", auth.Scope{}, `unknown scope "Admin"`},
		{"admin with name", "admin:x", auth.Scope{}, `unknown scope "admin:x"`},
		{"shop no colon", "shop", auth.Scope{}, `unknown scope "shop"`},
		{"shop empty id", "shop:", auth.Scope{}, `shop id "": must be 1 to 64 characters`},
		{"shop upper", "shop:Acme", auth.Scope{}, `shop id "Acme": must be`},
		{"shop dot first", "shop:.acme", auth.Scope{}, `shop id ".acme"`},
		{"shop slash", "shop:a/b", auth.Scope{}, `shop id "a/b"`},
		{"shop too long", "shop:" + strings.Repeat("a", 65), auth.Scope{}, `shop id "aaaa`},
		{"partner empty", "partner:", auth.Scope{}, `partner name "": must be 1 to 64 characters`},
		{"partner dot", "partner:a.b", auth.Scope{}, `partner name "a.b"`},
		{"partner underscore", "partner:a_b", auth.Scope{}, `partner name "a_b"`},
		{"space", " admin", auth.Scope{}, `unknown scope " admin"`},
		{"long input cut", strings.Repeat("x", 500), auth.Scope{}, `…: use admin`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := auth.ParseScope(tt.in)
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Fatalf("ParseScope(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
				}
				if s := got.String(); s != tt.in {
					t.Errorf("String() = %q, want %q", s, tt.in)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseScope(%q) error = %v, want it to contain %q", tt.in, err, tt.wantErr)
			}
			if len(err.Error()) > 400 {
				t.Errorf("error is %d bytes long", len(err.Error()))
			}
		})
	}
}

func TestValidNames(t *testing.T) {
	for _, tt := range []struct {
		in            string
		shop, partner bool
	}{
		{"acme", true, true},
		{"acme.myshopify.com", true, false},
		{"a", true, true},
		{"0", true, true},
		{"a-b", true, true},
		{"a_b", true, false},
		{strings.Repeat("a", 64), true, true},
		{strings.Repeat("a", 65), false, false},
		{"", false, false},
		{"-a", false, false},
		{".a", false, false},
		{"_a", false, false},
		{"A", false, false},
		{"é", false, false},
		{"a b", false, false},
		{"a:b", false, false},
		{"a/b", false, false},
		{"a\x00", false, false},
	} {
		if err := auth.ValidShopID(tt.in); (err == nil) != tt.shop {
			t.Errorf("ValidShopID(%q) = %v, want ok %v", tt.in, err, tt.shop)
		}
		if err := auth.ValidPartnerName(tt.in); (err == nil) != tt.partner {
			t.Errorf("ValidPartnerName(%q) = %v, want ok %v", tt.in, err, tt.partner)
		}
	}
}

func TestParseBearer(t *testing.T) {
	for _, tt := range []struct {
		name, header, want string
		ok                 bool
	}{
		{"plain", "Bearer srt_abc", "srt_abc", true},
		{"lower scheme", "bearer srt_abc", "srt_abc", true},
		{"upper scheme", "BEARER srt_abc", "srt_abc", true},
		{"token68 chars", "Bearer a-b.c_d~e+f/g==", "a-b.c_d~e+f/g==", true},
		{"empty header", "", "", false},
		{"scheme only", "Bearer", "", false},
		{"empty credential", "Bearer ", "", false},
		{"two spaces", "Bearer  srt_abc", "", false},
		{"two credentials", "Bearer a b", "", false},
		{"trailing space", "Bearer srt_abc ", "", false},
		{"tab", "Bearer\tsrt_abc", "", false},
		{"tab in credential", "Bearer a\tb", "", false},
		{"basic", "Basic dXNlcjpwYXNz", "", false},
		{"no scheme", "srt_abc", "", false},
		{"leading space", " Bearer srt_abc", "", false},
		{"control char", "Bearer a\x01", "", false},
		{"non-ascii", "Bearer é", "", false},
		{"prefix scheme", "Bearerx srt_abc", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := auth.ParseBearer(tt.header)
			if got != tt.want || ok != tt.ok {
				t.Errorf("ParseBearer(%q) = %q, %v; want %q, %v", tt.header, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func scopes(t *testing.T, ss ...string) []auth.Scope {
	t.Helper()
	var out []auth.Scope
	for _, s := range ss {
		sc, err := auth.ParseScope(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sc)
	}
	return out
}

func TestShopAccess(t *testing.T) {
	for _, tt := range []struct {
		name   string
		scopes []string
		shop   string
		want   auth.Access
	}{
		{"admin", []string{"admin"}, "acme", auth.Allowed},
		{"admin and other shop", []string{"shop:other", "admin"}, "acme", auth.Allowed},
		{"own shop", []string{"shop:acme"}, "acme", auth.Allowed},
		{"one of several shops", []string{"shop:other", "shop:acme"}, "acme", auth.Allowed},
		{"other shop hidden", []string{"shop:other"}, "acme", auth.Hidden},
		{"other shop and partner hidden", []string{"partner:p", "shop:other"}, "acme", auth.Hidden},
		{"prefix is not the shop", []string{"shop:acme"}, "acm", auth.Hidden},
		{"partner forbidden", []string{"partner:acme"}, "acme", auth.Forbidden},
		{"no scopes forbidden", nil, "acme", auth.Forbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := auth.Principal{TokenID: "tok_x", Scopes: scopes(t, tt.scopes...)}
			if got := p.ShopAccess(tt.shop); got != tt.want {
				t.Errorf("ShopAccess(%q) with %v = %v, want %v", tt.shop, tt.scopes, got, tt.want)
			}
		})
	}
	var zero auth.Access
	if zero != auth.Forbidden {
		t.Errorf("zero Access = %v, want forbidden", zero)
	}
}

func TestPrincipal(t *testing.T) {
	p := auth.Principal{Scopes: scopes(t, "partner:b", "shop:s", "partner:a", "partner:b")}
	if p.Admin() {
		t.Error("Admin() = true without the admin scope")
	}
	if !p.Partner("a") || !p.Partner("b") || p.Partner("s") || p.Partner("c") {
		t.Error("Partner() wrong")
	}
	if got := p.Partners(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("Partners() = %q, want [a b]", got)
	}
	if got := (auth.Principal{}).Partners(); got != nil {
		t.Errorf("Partners() of none = %q, want nil", got)
	}
	env := auth.EnvPrincipal()
	if env.TokenID != "env" || !env.Admin() || env.ShopAccess("any") != auth.Allowed {
		t.Errorf("EnvPrincipal() = %+v", env)
	}
}

func TestNewToken(t *testing.T) {
	const n = 1000
	seen := make(map[string]bool, n)
	ids := make(map[string]bool, n)
	for range n {
		tok, hash, id, err := auth.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		body, ok := strings.CutPrefix(tok, auth.TokenPrefix)
		if !ok {
			t.Fatalf("token %q lacks prefix %q", tok, auth.TokenPrefix)
		}
		raw, err := base64.RawURLEncoding.DecodeString(body)
		if err != nil || len(raw) != 32 {
			t.Fatalf("token body %q: %d bytes, %v; want 32 bytes of unpadded base64url", body, len(raw), err)
		}
		if hash != auth.HashToken(tok) {
			t.Fatal("hash is not HashToken(token)")
		}
		if want := "tok_" + hex.EncodeToString(hash[:6]); id != want || auth.TokenID(hash) != want {
			t.Fatalf("id = %q, want %q", id, want)
		}
		if strings.Contains(tok, id[4:]) {
			t.Fatalf("token %q contains its id %q", tok, id)
		}
		if got, ok := auth.ParseBearer("Bearer " + tok); !ok || got != tok {
			t.Fatalf("ParseBearer refuses token %q", tok)
		}
		if seen[tok] || ids[id] {
			t.Fatalf("token or id repeated after %d", len(seen))
		}
		seen[tok], ids[id] = true, true
	}
}

func TestHashToken(t *testing.T) {
	// printf srt_test | sha256sum
	h := auth.HashToken("srt_test")
	if got, want := hex.EncodeToString(h[:]), "b7bceee946c6aea59244308d2c2e8d93c502c36217c948cadc4f9a173b5aeca7"; got != want {
		t.Errorf("HashToken = %s, want %s", got, want)
	}
	if got, want := auth.TokenID(h), "tok_b7bceee946c6"; got != want {
		t.Errorf("TokenID = %q, want %q", got, want)
	}
}

func TestMatchEnvToken(t *testing.T) {
	for _, tt := range []struct {
		token, env string
		want       bool
	}{
		{"s3cret", "s3cret", true},
		{"", "", false},
		{"s3cret", "", false},
		{"", "s3cret", false},
		{"s3cret", "s3cre", false},
		{"s3cret", "s3cret ", false},
		{"S3CRET", "s3cret", false},
	} {
		if got := auth.MatchEnvToken(tt.token, tt.env); got != tt.want {
			t.Errorf("MatchEnvToken(%q, %q) = %v, want %v", tt.token, tt.env, got, tt.want)
		}
	}
}

// genScope draws a valid scope.
func genScope() *rapid.Generator[auth.Scope] {
	return rapid.OneOf(
		rapid.Just(auth.Scope{Kind: auth.KindAdmin}),
		rapid.Custom(func(t *rapid.T) auth.Scope {
			return auth.Scope{Kind: auth.KindShop, Name: rapid.StringMatching(`[a-z0-9][a-z0-9._-]{0,63}`).Draw(t, "shop")}
		}),
		rapid.Custom(func(t *rapid.T) auth.Scope {
			return auth.Scope{Kind: auth.KindPartner, Name: rapid.StringMatching(`[a-z0-9][a-z0-9-]{0,63}`).Draw(t, "partner")}
		}),
	)
}

func TestScopeRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genScope().Draw(t, "scope")
		got, err := auth.ParseScope(s.String())
		if err != nil || got != s {
			t.Fatalf("ParseScope(%q) = %+v, %v; want %+v", s.String(), got, err, s)
		}
	})
}

// Whatever ParseScope accepts, String gives back unchanged.
func TestParseScopeString(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := rapid.OneOf(
			rapid.String(),
			rapid.StringMatching(`(admin|shop|partner)?:?[a-zA-Z0-9._/ -]{0,70}`),
		).Draw(t, "in")
		if s, err := auth.ParseScope(in); err == nil && s.String() != in {
			t.Fatalf("ParseScope(%q).String() = %q", in, s.String())
		}
	})
}

func FuzzParseScope(f *testing.F) {
	for _, s := range []string{"admin", "shop:acme.myshopify.com", "partner:acme", "shop:", "foo", "partner:A", "shop:\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := auth.ParseScope(in)
		if err != nil {
			if s != (auth.Scope{}) {
				t.Fatalf("ParseScope(%q) returned %+v with error", in, s)
			}
			return
		}
		if s.String() != in {
			t.Fatalf("ParseScope(%q).String() = %q", in, s.String())
		}
		switch s.Kind {
		case auth.KindAdmin:
		case auth.KindShop:
			if auth.ValidShopID(s.Name) != nil {
				t.Fatalf("accepted invalid shop id %q", s.Name)
			}
		case auth.KindPartner:
			if auth.ValidPartnerName(s.Name) != nil {
				t.Fatalf("accepted invalid partner name %q", s.Name)
			}
		default:
			t.Fatalf("unknown kind %q", s.Kind)
		}
	})
}
