package tiktokfake

import (
	"errors"
	"net/http"
	"strings"

	"github.com/syncrules/syncrules/host/internal/fakes"
)

// SKUState is a SKU's stock as the control API shows it.
type SKUState struct {
	ProductID  string           `json:"product_id"`
	SKUID      string           `json:"sku_id"`
	SellerSKU  string           `json:"seller_sku"`
	Warehouses []WarehouseStock `json:"warehouses"`
}

// WarehouseStock is a SKU's quantities in one warehouse.
type WarehouseStock struct {
	WarehouseID string `json:"warehouse_id"`
	Available   int    `json:"available"`
	Committed   int    `json:"committed"`
}

// WarehouseState is a warehouse as the control API shows it.
type WarehouseState struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Type         string `json:"type"`
	EffectStatus string `json:"effect_status"`
	IsDefault    bool   `json:"is_default"`
}

// Stock returns every SKU's quantities, in catalog order.
func (s *Server) Stock() []SKUState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []SKUState{}
	for _, p := range s.products {
		for _, k := range p.skus {
			st := SKUState{ProductID: p.id, SKUID: k.id, SellerSKU: k.sellerSKU, Warehouses: []WarehouseStock{}}
			for _, w := range k.stock {
				st.Warehouses = append(st.Warehouses, WarehouseStock{w.warehouse, w.available, w.committed})
			}
			out = append(out, st)
		}
	}
	return out
}

// Warehouses returns the warehouses.
func (s *Server) Warehouses() []WarehouseState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []WarehouseState{}
	for _, w := range s.warehouses {
		out = append(out, WarehouseState{w.id, w.name, w.typ, w.status, w.isDefault})
	}
	return out
}

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
	case "GET stock":
		ok(s.Stock())
	case "GET warehouses":
		ok(s.Warehouses())
	case "POST warehouse":
		var b struct {
			WarehouseID  string `json:"warehouse_id"`
			EffectStatus string `json:"effect_status"`
		}
		if err := fakes.ReadControl(r, &b); err != nil {
			bad(err)
			return
		}
		done(s.SetWarehouseStatus(b.WarehouseID, b.EffectStatus))
	case "POST order":
		var b struct {
			SKUID       string `json:"sku_id"`
			WarehouseID string `json:"warehouse_id"`
			Quantity    int    `json:"quantity"`
		}
		if err := fakes.ReadControl(r, &b); err != nil {
			bad(err)
			return
		}
		done(s.PlaceOrder(b.SKUID, b.WarehouseID, b.Quantity))
	case "GET tokens":
		ok(s.Tokens())
	case "POST tokens/expire":
		s.ExpireAccessTokens()
		done(nil)
	case "POST tokens/revoke":
		s.RevokeRefreshTokens()
		done(nil)
	default:
		fakes.ControlError(w, http.StatusNotFound, errors.New("no such control endpoint: "+route+" (see the README section on the fakes)"))
	}
}
