package shop

import (
	"context"
	"fmt"

	"github.com/syncrules/syncrules/host/internal/auth"
	"github.com/syncrules/syncrules/host/internal/compute"
)

// credentialGroups are the credentials a shop may store, by group, in the
// order they are shown.
var credentialGroups = []struct {
	name   string
	fields []string
}{
	{"shopify", []string{"access_token", "webhook_secret"}},
	{"tiktok", []string{"app_key", "app_secret", "access_token", "refresh_token", "shop_cipher"}},
}

// maxCredentialBytes bounds one credential.
const maxCredentialBytes = 4096

// Credentials are a shop's secrets for the platforms it sells on. A group
// given replaces every credential of that group; a nil field in it is
// removed. A nil group is kept as it is.
type Credentials struct {
	Shopify *ShopifyCredentials
	TikTok  *TikTokCredentials
}

// ShopifyCredentials are a shop's Shopify secrets.
type ShopifyCredentials struct {
	AccessToken, WebhookSecret *string
}

// TikTokCredentials are a shop's TikTok Shop secrets. The access and
// refresh tokens are the pair the seller's authorisation gave; connect
// and the sync renew them. ShopCipher may be left out when the tokens are
// for one shop only: connect finds it.
type TikTokCredentials struct {
	AppKey, AppSecret, AccessToken, RefreshToken, ShopCipher *string
}

// groups lists the given groups with their fields, in the order of
// credentialGroups.
func (c Credentials) groups() map[string][]*string {
	out := map[string][]*string{}
	if s := c.Shopify; s != nil {
		out["shopify"] = []*string{s.AccessToken, s.WebhookSecret}
	}
	if t := c.TikTok; t != nil {
		out["tiktok"] = []*string{t.AppKey, t.AppSecret, t.AccessToken, t.RefreshToken, t.ShopCipher}
	}
	return out
}

// CredentialState says whether a credential is set, never what it is.
type CredentialState struct {
	Set     bool       `json:"set"`
	Updated *Timestamp `json:"updated,omitempty"`
}

// CredentialStatus is the state of every credential a shop may have, by
// group and field.
type CredentialStatus map[string]map[string]CredentialState

// credentialAAD binds a sealed value to its shop and name, so a value
// copied to another row does not open.
func credentialAAD(shop, group, name string) []byte {
	return []byte(shop + "\x00" + group + "\x00" + name)
}

// PutCredentials seals and stores the credentials given and returns the
// state of all. A credential's value is never echoed, logged or returned:
// errors name the field, never what was in it.
func (s *Service) PutCredentials(ctx context.Context, p auth.Principal, id string, c Credentials) (CredentialStatus, error) {
	if err := CheckShop(p, id); err != nil {
		return nil, err
	}
	given := c.groups()
	var probs []compute.FieldError
	if len(given) == 0 {
		probs = append(probs, compute.FieldError{Detail: `send "shopify", "tiktok" or both`})
	}
	for _, g := range credentialGroups {
		for i, v := range given[g.name] {
			field := "/" + g.name + "/" + g.fields[i]
			if v != nil && *v == "" {
				probs = append(probs, compute.FieldError{Field: field, Detail: "must not be empty; leave the field out to remove it"})
			}
			if v != nil && len(*v) > maxCredentialBytes {
				probs = append(probs, compute.FieldError{Field: field, Detail: fmt.Sprintf("may have at most %d bytes, got %d", maxCredentialBytes, len(*v))})
			}
		}
	}
	if len(probs) > 0 {
		return nil, &Error{Code: InvalidCredentials, Fields: probs,
			Message: "The credentials are not valid; fix the fields listed."}
	}
	replace := map[string][]SealedCredential{}
	for _, g := range credentialGroups {
		values, ok := given[g.name]
		if !ok {
			continue
		}
		creds := []SealedCredential{}
		for i, v := range values {
			if v == nil {
				continue
			}
			sealed, err := s.sealer.Seal([]byte(*v), credentialAAD(id, g.name, g.fields[i]))
			if err != nil {
				return nil, fmt.Errorf("sealing a credential: %w", err)
			}
			creds = append(creds, SealedCredential{Group: g.name, Name: g.fields[i], Sealed: sealed})
		}
		replace[g.name] = creds
	}
	if err := s.store.ReplaceCredentials(ctx, id, replace); err != nil {
		return nil, storeError(id, err)
	}
	for group, creds := range replace {
		s.logChange("credentials replaced", p, "shop", id, "group", group, "fields", len(creds))
	}
	// A sync blocked by the old credentials (TikTok's re-authorisation)
	// takes up what waited.
	s.enqueuePending(context.WithoutCancel(ctx), id)
	return s.credentialStatus(ctx, id)
}

// CredentialStatus says which of a shop's credentials are set.
func (s *Service) CredentialStatus(ctx context.Context, p auth.Principal, id string) (CredentialStatus, error) {
	if err := CheckShop(p, id); err != nil {
		return nil, err
	}
	return s.credentialStatus(ctx, id)
}

func (s *Service) credentialStatus(ctx context.Context, id string) (CredentialStatus, error) {
	creds, err := s.store.Credentials(ctx, id)
	if err != nil {
		return nil, storeError(id, err)
	}
	out := CredentialStatus{}
	for _, g := range credentialGroups {
		out[g.name] = map[string]CredentialState{}
		for _, f := range g.fields {
			out[g.name][f] = CredentialState{}
		}
	}
	for _, cr := range creds {
		// Only the fields a caller sets: the service keeps others of its
		// own (the TikTok tokens' expiries).
		if _, ok := out[cr.Group][cr.Name]; ok {
			t := Timestamp(cr.Updated)
			out[cr.Group][cr.Name] = CredentialState{Set: true, Updated: &t}
		}
	}
	return out, nil
}

// DeleteCredentials forgets every credential of a shop.
func (s *Service) DeleteCredentials(ctx context.Context, p auth.Principal, id string) error {
	if err := CheckShop(p, id); err != nil {
		return err
	}
	if err := s.store.DeleteCredentials(ctx, id); err != nil {
		return storeError(id, err)
	}
	s.logChange("credentials deleted", p, "shop", id)
	return nil
}
