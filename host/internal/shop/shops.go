package shop

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/syncrules/syncrules/host/internal/auth"
	"github.com/syncrules/syncrules/host/internal/compute"
)

// ShopInput is what a shop is created or replaced with. A nil field was
// not given: the shop keeps what it has (a new shop has none). An empty
// Locations or Warehouses is a shop with none; an empty ShopifyDomain
// removes it.
//
// A connected shop's locations and warehouses come from the platforms:
// they may be given only as stored.
type ShopInput struct {
	Name          string
	ShopifyDomain *string
	Locations     []Location
	Warehouses    []Warehouse
}

// shopifyDomain is a shop's permanent myshopify domain.
var shopifyDomain = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*\.myshopify\.com$`)

// CheckShopifyDomain normalises a myshopify domain, which Shopify writes in
// lower case, and checks it; field is where it is in the request.
func CheckShopifyDomain(field, domain string) (string, []compute.FieldError) {
	d := strings.ToLower(domain)
	if len(d) > 255 || !shopifyDomain.MatchString(d) {
		return "", []compute.FieldError{{Field: field,
			Detail: "must be the shop's permanent myshopify domain, such as \"acme.myshopify.com\" (Shopify admin: Settings > Domains), not a custom domain or a URL"}}
	}
	return d, nil
}

// CheckName checks a name people gave a shop or token: it is shown in
// lists and terminals, so it has no control characters. field is where the
// name is in the request.
func CheckName(field, name string) []compute.FieldError {
	switch {
	case len(name) > 200:
		return []compute.FieldError{{Field: field, Detail: fmt.Sprintf("may have at most 200 bytes, got %d", len(name))}}
	case strings.ContainsFunc(name, unicode.IsControl):
		return []compute.FieldError{{Field: field, Detail: "must not contain control characters"}}
	}
	return nil
}

// invalidShop is the message of a shop that is not valid.
const invalidShop = "The shop's name, Shopify domain, locations or warehouses are not valid; fix the fields listed."

// CheckShopID checks the id of a shop to create.
func CheckShopID(id string) error {
	if err := auth.ValidShopID(id); err != nil {
		return &Error{Code: InvalidShop, Message: "The shop id in the path is not valid.",
			Fields: []compute.FieldError{{Field: "shop", Detail: err.Error()}}}
	}
	return nil
}

// computeRequest is a compute request for the shop, with settings and
// items still to fill in.
func computeRequest(sh Shop) *compute.Request {
	req := &compute.Request{
		Locations:  make([]compute.Location, len(sh.Locations)),
		Warehouses: make([]compute.Warehouse, len(sh.Warehouses)),
	}
	for i, l := range sh.Locations {
		req.Locations[i] = compute.Location{ID: l.ID, Active: compute.Flag{Set: true, Value: l.Active}}
	}
	for i, w := range sh.Warehouses {
		req.Warehouses[i] = compute.Warehouse{ID: w.ID, Active: compute.Flag{Set: true, Value: w.Active}, Default: w.Default}
	}
	return req
}

// Shop returns one shop.
func (s *Service) Shop(ctx context.Context, p auth.Principal, id string) (Shop, error) {
	if err := CheckShop(p, id); err != nil {
		return Shop{}, err
	}
	sh, err := s.store.Shop(ctx, id)
	return sh, storeError(id, err)
}

// PutShop creates or replaces a shop (admins only) and returns it as
// stored. Its locations and warehouses are checked as a compute request's
// are; a change that would break the shop's stored settings is a Conflict.
func (s *Service) PutShop(ctx context.Context, p auth.Principal, id string, in ShopInput) (Shop, bool, error) {
	if err := CheckAdmin(p); err != nil {
		return Shop{}, false, err
	}
	if err := CheckShopID(id); err != nil {
		return Shop{}, false, err
	}
	probs := CheckName("/name", in.Name)
	var domain string
	if in.ShopifyDomain != nil && *in.ShopifyDomain != "" {
		var bad []compute.FieldError
		domain, bad = CheckShopifyDomain("/shopify_domain", *in.ShopifyDomain)
		probs = append(probs, bad...)
	}
	if len(probs) > 0 {
		return Shop{}, false, &Error{Code: InvalidShop, Fields: probs, Message: invalidShop}
	}
	old, err := s.store.Shop(ctx, id)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Shop{}, false, storeError(id, err)
	}
	sh := Shop{ID: id, Name: in.Name, ShopifyDomain: old.ShopifyDomain, Locations: old.Locations, Warehouses: old.Warehouses}
	if in.ShopifyDomain != nil {
		sh.ShopifyDomain = domain
	}
	if old.Connected {
		var changed []compute.FieldError
		if in.Locations != nil && !slices.Equal(in.Locations, old.Locations) {
			changed = append(changed, compute.FieldError{Field: "/locations", Detail: "differs from the locations read from Shopify"})
		}
		if in.Warehouses != nil && !slices.Equal(in.Warehouses, old.Warehouses) {
			changed = append(changed, compute.FieldError{Field: "/warehouses", Detail: "differs from the warehouses read from TikTok Shop"})
		}
		if len(changed) > 0 {
			return Shop{}, false, connectedConflict(id, changed)
		}
	}
	if in.Locations != nil {
		sh.Locations = in.Locations
	}
	if in.Warehouses != nil {
		sh.Warehouses = in.Warehouses
	}
	if sh.Locations == nil {
		sh.Locations = []Location{}
	}
	if sh.Warehouses == nil {
		sh.Warehouses = []Warehouse{}
	}
	if sh.ShopifyDomain != "" && sh.ShopifyDomain != old.ShopifyDomain {
		if err := s.domainFree(ctx, id, sh.ShopifyDomain); err != nil {
			return Shop{}, false, err
		}
	}
	// The compute service checks ids, duplicates and the default warehouse
	// exactly as it does for an inline request. What it says of settings
	// (none yet: no default warehouse to map to) is for PutSettings.
	check := computeRequest(sh)
	check.Items = []compute.Item{}
	if _, err := s.compute.Compute(ctx, check, compute.Options{}); err != nil {
		if _, err = splitSettings(err); err != nil {
			return Shop{}, false, invalidAs(InvalidShop, invalidShop, err)
		}
	}
	created, err := s.store.PutShop(ctx, sh, func(cur StoredSettings) error {
		if cur.Version == 0 {
			return nil
		}
		st, err := DecodeSettings(cur.Doc)
		if err != nil {
			return err
		}
		err = s.checkSettings(ctx, sh, st)
		if in := (*compute.InputError)(nil); errors.As(err, &in) {
			return &Error{Code: Conflict, Fields: in.Errors,
				Message: "The change would break the shop's current settings, at the fields listed; change the settings first."}
		}
		return err
	})
	if errors.Is(err, ErrExists) && sh.ShopifyDomain != "" {
		// Another shop took the domain since domainFree looked.
		if err := s.domainFree(ctx, id, sh.ShopifyDomain); err != nil {
			return Shop{}, false, err
		}
	}
	if errors.Is(err, ErrConnected) {
		// Connected since the shop was read: what it was given, or kept,
		// is no longer what the platforms said.
		return Shop{}, false, connectedConflict(id, nil)
	}
	if err != nil {
		return Shop{}, false, storeError(id, err)
	}
	saved, err := s.store.Shop(ctx, id)
	if err != nil {
		return Shop{}, false, storeError(id, err)
	}
	return saved, created, nil
}

// domainFree says whether no shop but id has the Shopify domain.
func (s *Service) domainFree(ctx context.Context, id, domain string) error {
	other, err := s.store.ShopByDomain(ctx, domain)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil
	case err != nil:
		return err
	case other.ID == id:
		return nil
	}
	return &Error{Code: Conflict, Message: fmt.Sprintf("Shop %q already has the Shopify domain %q: a domain belongs to one shop, "+
		"since Shopify's webhooks name their shop by it. Remove it from %[1]q first (\"shopify_domain\": \"\").", other.ID, domain),
		Fields: []compute.FieldError{{Field: "/shopify_domain", Detail: fmt.Sprintf("is shop %q's", other.ID)}}}
}

// DeleteShop deletes a shop with its settings and credentials. Admins
// only.
func (s *Service) DeleteShop(ctx context.Context, p auth.Principal, id string) error {
	if err := CheckAdmin(p); err != nil {
		return err
	}
	if err := s.store.DeleteShop(ctx, id); err != nil {
		return storeError(id, err)
	}
	s.logChange("shop deleted", p, "shop", id)
	return nil
}

// connectedConflict is the error of a PUT that would change a connected
// shop's locations or warehouses.
func connectedConflict(id string, fields []compute.FieldError) error {
	return &Error{Code: Conflict, Fields: fields, Message: fmt.Sprintf(
		"Shop %q's locations and warehouses come from Shopify and TikTok Shop since the shop was connected; "+
			"leave them out, or reconnect (POST /v1/shops/%[1]s/sync/connect) to refresh them.", id)}
}
