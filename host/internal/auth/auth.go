// Package auth holds what the host needs to decide who may do what: API
// tokens, the scopes a token carries, and the access decisions made from
// them. It does no I/O; the store keeps token hashes and the HTTP layer maps
// an Access to a status code.
//
// A token is shown once, at creation; only its SHA-256 hash is stored, so a
// leaked database does not leak working tokens. Tokens are 32 random bytes,
// which is why a plain hash (no salt, no slow KDF) is enough.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// TokenPrefix starts every token, so a leaked one is easy to recognise (and
// for secret scanners to find).
const TokenPrefix = "srt_"

// NewToken returns a fresh random token (TokenPrefix + base64url of 32
// random bytes, no padding), its SHA-256 hash, and its public id.
func NewToken() (token string, hash [32]byte, id string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", hash, "", fmt.Errorf("read random bytes for a token: %w", err)
	}
	token = TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	hash = HashToken(token)
	return token, hash, TokenID(hash), nil
}

// HashToken returns the SHA-256 of the whole token string, the form the
// store keeps and looks tokens up by.
func HashToken(token string) [32]byte {
	return sha256.Sum256([]byte(token))
}

// TokenID returns the public id of the token with this hash: "tok_" and the
// hex of its first 6 bytes. It names the token in lists and in the history
// of who wrote what, and reveals nothing usable about the token.
func TokenID(hash [32]byte) string {
	return "tok_" + hex.EncodeToString(hash[:6])
}

// ParseBearer returns the credential of an Authorization header of the form
// "Bearer <token>". The scheme is case-insensitive (RFC 9110); exactly one
// space separates it from a single credential of visible ASCII characters.
func ParseBearer(header string) (token string, ok bool) {
	scheme, cred, found := strings.Cut(header, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") || cred == "" {
		return "", false
	}
	for i := 0; i < len(cred); i++ {
		if c := cred[i]; c <= ' ' || c >= 0x7f {
			return "", false
		}
	}
	return cred, true
}

// EnvTokenID is the TokenID of the principal of the admin token given in the
// environment, which has no row in the store.
const EnvTokenID = "env"

// EnvPrincipal is the principal of the admin token given in the environment.
func EnvPrincipal() Principal {
	return Principal{TokenID: EnvTokenID, Scopes: []Scope{{Kind: KindAdmin}}}
}

// MatchEnvToken reports whether token is the admin token env; an empty env
// disables that token. Hashing both first makes the comparison constant
// time whatever their lengths.
func MatchEnvToken(token, env string) bool {
	if env == "" {
		return false
	}
	a, b := HashToken(token), HashToken(env)
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// Scope kinds.
const (
	KindAdmin   = "admin"
	KindShop    = "shop"
	KindPartner = "partner"
)

// Scope is one permission a token carries: "admin" (everything),
// "shop:{id}" (one shop's settings, credentials and computations) or
// "partner:{name}" (the plugins that partner owns).
type Scope struct {
	Kind string // KindAdmin, KindShop or KindPartner
	Name string // the shop id or partner name; empty for admin
}

// ParseScope parses "admin", "shop:{id}" or "partner:{name}".
func ParseScope(s string) (Scope, error) {
	if s == KindAdmin {
		return Scope{Kind: KindAdmin}, nil
	}
	if id, ok := strings.CutPrefix(s, KindShop+":"); ok {
		if err := ValidShopID(id); err != nil {
			return Scope{}, err
		}
		return Scope{Kind: KindShop, Name: id}, nil
	}
	if name, ok := strings.CutPrefix(s, KindPartner+":"); ok {
		if err := ValidPartnerName(name); err != nil {
			return Scope{}, err
		}
		return Scope{Kind: KindPartner, Name: name}, nil
	}
	return Scope{}, fmt.Errorf("unknown scope %s: use admin, shop:{id} or partner:{name}", quote(s))
}

// String returns the scope in the form ParseScope reads.
func (s Scope) String() string {
	if s.Kind == KindAdmin {
		return KindAdmin
	}
	return s.Kind + ":" + s.Name
}

// maxName bounds shop ids and partner names, which appear in URLs, scopes
// and database keys.
const maxName = 64

// ValidShopID checks a shop id: 1 to 64 characters, a lower-case letter or
// digit first, then lower-case letters, digits, '.', '_' or '-'. That admits
// a Shopify domain such as "acme.myshopify.com" and nothing that needs
// escaping in a URL path.
func ValidShopID(id string) error {
	if !validName(id, "._-") {
		return fmt.Errorf("shop id %s: must be 1 to %d characters, a lower-case letter or digit first, then lower-case letters, digits, '.', '_' or '-' (e.g. acme.myshopify.com)", quote(id), maxName)
	}
	return nil
}

// ValidPartnerName checks a partner name: 1 to 64 characters, a lower-case
// letter or digit first, then lower-case letters, digits or '-'.
func ValidPartnerName(n string) error {
	if !validName(n, "-") {
		return fmt.Errorf("partner name %s: must be 1 to %d characters, a lower-case letter or digit first, then lower-case letters, digits or '-' (e.g. acme-tools)", quote(n), maxName)
	}
	return nil
}

func validName(s, punct string) bool {
	if len(s) == 0 || len(s) > maxName {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case i > 0 && strings.IndexByte(punct, c) >= 0:
		default:
			return false
		}
	}
	return true
}

// quote quotes s for an error message, cut short so a huge input does not
// make a huge error.
func quote(s string) string {
	const max = 80
	if len(s) > max {
		return fmt.Sprintf("%q…", s[:max])
	}
	return fmt.Sprintf("%q", s)
}

// Principal is who a request acts as: the token's id and its scopes.
type Principal struct {
	TokenID string
	Scopes  []Scope
}

// Admin reports whether the principal holds the admin scope.
func (p Principal) Admin() bool {
	return slices.ContainsFunc(p.Scopes, func(s Scope) bool { return s.Kind == KindAdmin })
}

// Access is the decision on a request for a resource.
type Access int

// The zero Access is Forbidden, so a decision never made denies.
const (
	Forbidden Access = iota // 403: the principal may not do this
	Hidden                  // 404: another shop's resource, whose existence is not revealed
	Allowed
)

func (a Access) String() string {
	switch a {
	case Forbidden:
		return "forbidden"
	case Hidden:
		return "hidden"
	case Allowed:
		return "allowed"
	}
	return fmt.Sprintf("Access(%d)", int(a))
}

// ShopAccess decides access to the shop id. Admin and shop:{id} are
// Allowed. A principal holding some other shop's scope gets Hidden, so it
// cannot learn which other shops exist; anyone else (a partner, say) gets
// Forbidden.
func (p Principal) ShopAccess(id string) Access {
	if p.Admin() || slices.Contains(p.Scopes, Scope{Kind: KindShop, Name: id}) {
		return Allowed
	}
	if slices.ContainsFunc(p.Scopes, func(s Scope) bool { return s.Kind == KindShop }) {
		return Hidden
	}
	return Forbidden
}

// Partner reports whether the principal holds partner:{name}.
func (p Principal) Partner(name string) bool {
	return slices.Contains(p.Scopes, Scope{Kind: KindPartner, Name: name})
}

// Partners returns the names of the partners the principal acts for,
// sorted and without repeats; nil if none.
func (p Principal) Partners() []string {
	var names []string
	for _, s := range p.Scopes {
		if s.Kind == KindPartner {
			names = append(names, s.Name)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}
