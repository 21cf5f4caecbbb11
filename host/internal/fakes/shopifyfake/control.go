package shopifyfake

import (
	"errors"
	"net/http"
	"strings"

	"github.com/syncrules/syncrules/host/internal/fakes"
)

// State is the shop as the control API shows it.
type State struct {
	Domain    string          `json:"domain"`
	Locations []LocationState `json:"locations"`
	Variants  []VariantState  `json:"variants"`
}

// LocationState is a location in State.
type LocationState struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Active bool   `json:"active"`
}

// VariantState is a variant and its stock in State.
type VariantState struct {
	ID              string         `json:"id"`
	ProductID       string         `json:"product_id"`
	SKU             string         `json:"sku"`
	InventoryItemID string         `json:"inventory_item_id"`
	Tracked         bool           `json:"tracked"`
	InventoryPolicy string         `json:"inventory_policy"`
	Available       map[string]int `json:"available"`
}

// State returns the shop now.
func (s *Server) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := State{Domain: s.opts.ShopDomain, Locations: []LocationState{}, Variants: []VariantState{}}
	for _, l := range s.locations {
		st.Locations = append(st.Locations, LocationState{ID: l.id, Name: l.name, Active: l.active})
	}
	for _, v := range s.variants {
		avail := map[string]int{}
		for k, q := range v.item.levels {
			avail[k] = q
		}
		st.Variants = append(st.Variants, VariantState{ID: v.id, ProductID: v.product.id, SKU: v.sku,
			InventoryItemID: v.item.id, Tracked: v.item.tracked, InventoryPolicy: v.policy, Available: avail})
	}
	return st
}

// control serves the control API.
func (s *Server) control(w http.ResponseWriter, r *http.Request) {
	route := r.Method + " " + strings.TrimPrefix(r.URL.Path, fakes.ControlPrefix)
	if fakes.ServeRecording(w, r, route, s) {
		return
	}
	ok := func(v any) { fakes.WriteJSON(w, http.StatusOK, v) }
	bad := func(err error) { fakes.ControlError(w, http.StatusBadRequest, err) }
	done := func(err error) {
		if err != nil {
			bad(err)
			return
		}
		ok(map[string]bool{"ok": true})
	}
	switch route {
	case "GET state":
		ok(s.State())
	case "POST inventory":
		var b struct {
			InventoryItemID string `json:"inventory_item_id"`
			LocationID      string `json:"location_id"`
			Available       *int   `json:"available"`
		}
		if err := fakes.ReadControl(r, &b); err != nil {
			bad(err)
			return
		}
		if b.Available == nil {
			bad(errors.New("available is required"))
			return
		}
		done(s.SetAvailable(b.InventoryItemID, b.LocationID, *b.Available))
	case "POST inventory_item":
		var b struct {
			InventoryItemID string `json:"inventory_item_id"`
			Tracked         *bool  `json:"tracked"`
		}
		if err := fakes.ReadControl(r, &b); err != nil {
			bad(err)
			return
		}
		if b.Tracked == nil {
			bad(errors.New("tracked is required"))
			return
		}
		done(s.SetTracked(b.InventoryItemID, *b.Tracked))
	case "POST variant":
		var b struct {
			VariantID       string `json:"variant_id"`
			InventoryPolicy string `json:"inventory_policy"`
		}
		if err := fakes.ReadControl(r, &b); err != nil {
			bad(err)
			return
		}
		done(s.SetInventoryPolicy(b.VariantID, b.InventoryPolicy))
	case "POST location":
		var b struct {
			LocationID string `json:"location_id"`
			Active     *bool  `json:"active"`
		}
		if err := fakes.ReadControl(r, &b); err != nil {
			bad(err)
			return
		}
		if b.Active == nil {
			bad(errors.New("active is required"))
			return
		}
		done(s.SetLocationActive(b.LocationID, *b.Active))
	case "GET throttle":
		ok(s.Throttle())
	case "GET usage":
		ok(s.Usage())
	case "PUT throttle":
		var b struct {
			CurrentlyAvailable *float64 `json:"currentlyAvailable"`
		}
		if err := fakes.ReadControl(r, &b); err != nil {
			bad(err)
			return
		}
		if b.CurrentlyAvailable == nil {
			bad(errors.New("currentlyAvailable is required"))
			return
		}
		s.SetThrottle(*b.CurrentlyAvailable)
		ok(s.Throttle())
	case "GET webhooks":
		s.mu.Lock()
		set := WebhookSettings{URL: s.hooks.url, Duplicates: s.hooks.duplicates, Hold: s.hooks.hold}
		held := len(s.hooks.held)
		s.mu.Unlock()
		ok(map[string]any{"settings": set, "held": held, "deliveries": s.Deliveries()})
	case "PUT webhooks":
		var b WebhookSettings
		if err := fakes.ReadControl(r, &b); err != nil {
			bad(err)
			return
		}
		done(s.SetWebhooks(b))
	case "POST webhooks/release":
		var b struct {
			Reverse bool `json:"reverse"`
		}
		if err := fakes.ReadControl(r, &b); err != nil {
			bad(err)
			return
		}
		s.ReleaseWebhooks(b.Reverse)
		done(nil)
	case "POST webhooks/trigger":
		var b struct {
			Topic      string `json:"topic"`
			ID         string `json:"id"`
			LocationID string `json:"location_id"`
		}
		if err := fakes.ReadControl(r, &b); err != nil {
			bad(err)
			return
		}
		done(s.TriggerWebhook(b.Topic, b.ID, b.LocationID))
	default:
		fakes.ControlError(w, http.StatusNotFound, errors.New("no such control endpoint: "+route+" (see the README section on the fakes)"))
	}
}
