package shop

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/syncrules/syncrules/host/internal/auth"
	"github.com/syncrules/syncrules/host/internal/compute"
)

// ShopInput is what a shop is created or replaced with. A nil Locations or
// Warehouses was not given, which is an error; an empty one is a shop with
// none.
type ShopInput struct {
	Name       string
	Locations  []Location
	Warehouses []Warehouse
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
const invalidShop = "The shop's name, locations or warehouses are not valid; fix the fields listed."

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
	var probs []compute.FieldError
	if in.Locations == nil {
		probs = append(probs, compute.FieldError{Field: "/locations", Detail: "is required: the shop's Shopify locations, as an array"})
	}
	if in.Warehouses == nil {
		probs = append(probs, compute.FieldError{Field: "/warehouses", Detail: "is required: the shop's TikTok Shop warehouses, as an array"})
	}
	probs = append(probs, CheckName("/name", in.Name)...)
	if len(probs) > 0 {
		return Shop{}, false, &Error{Code: InvalidShop, Fields: probs, Message: invalidShop}
	}
	sh := Shop{ID: id, Name: in.Name, Locations: in.Locations, Warehouses: in.Warehouses}
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
	if err != nil {
		return Shop{}, false, storeError(id, err)
	}
	saved, err := s.store.Shop(ctx, id)
	if err != nil {
		return Shop{}, false, storeError(id, err)
	}
	return saved, created, nil
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
