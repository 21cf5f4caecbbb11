package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/syncrules/syncrules/host/internal/auth"
	"github.com/syncrules/syncrules/host/internal/compute"
	"github.com/syncrules/syncrules/host/internal/shop"
)

// connect starts connecting a shop: 202 with the run, whose progress
// GET .../sync shows.
func (h *Handler) connect(c *gin.Context) {
	run, err := h.svc.Connect(c.Request.Context(), principal(c), c.Param("shop"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Header("Location", strings.TrimSuffix(c.Request.URL.Path, "/connect"))
	c.JSON(http.StatusAccepted, run)
}

// reconcile queues the shop's reconciliation: 202.
func (h *Handler) reconcile(c *gin.Context) {
	if err := h.svc.Reconcile(c.Request.Context(), principal(c), c.Param("shop")); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusAccepted)
}

func (h *Handler) syncStatus(c *gin.Context) {
	st, err := h.svc.SyncStatus(c.Request.Context(), principal(c), c.Param("shop"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, st)
}

// syncItemsJSON is a page of GET .../sync/items: variants (side shopify)
// or TikTok SKUs (side tiktok).
type syncItemsJSON struct {
	Items any    `json:"items"`
	Next  string `json:"next,omitempty"`
}

// linkStatuses are the values of ?status=.
var linkStatuses = []shop.LinkStatus{shop.LinkLinked, shop.LinkUnmatched, shop.LinkConflict}

func (h *Handler) syncItems(c *gin.Context) {
	var probs []compute.FieldError
	status := shop.LinkStatus(c.Query("status"))
	if v, ok := c.GetQuery("status"); ok && !slices.Contains(linkStatuses, status) {
		probs = append(probs, compute.FieldError{Field: "status", Detail: fmt.Sprintf("must be linked, unmatched or conflict, got %q; leave it out for every item", v)})
	}
	side := shop.ShopifySide
	if v, ok := c.GetQuery("side"); ok {
		side = shop.CatalogSide(v)
		if side != shop.ShopifySide && side != shop.TikTokSide {
			probs = append(probs, compute.FieldError{Field: "side", Detail: fmt.Sprintf("must be shopify (the variants) or tiktok (the TikTok Shop SKUs), got %q", v)})
		}
	}
	sku, bySKU := c.GetQuery("sku")
	switch {
	case bySKU && side != shop.ShopifySide:
		probs = append(probs, compute.FieldError{Field: "sku", Detail: "filters the variants (side shopify); leave side out or leave sku out"})
	case bySKU && (!utf8.ValidString(sku) || strings.IndexByte(sku, 0) >= 0):
		probs = append(probs, compute.FieldError{Field: "sku", Detail: "must be UTF-8 text without NUL"})
	}
	// A cursor belongs to its shop, side, status and SKU: one of another
	// list is refused rather than read as a place in this one.
	list := "sync-items:" + c.Param("shop") + ":" + string(side) + ":" + string(status)
	if bySKU {
		list += ":sku:" + sku
	}
	q := readPage(c, list, shop.DefaultPageSize, shop.MaxPageSize, 1, &probs)
	if malformedQuery(c, probs) {
		return
	}
	var after string
	if q.key != nil {
		after = q.key[0]
	}
	ctx, p, id := c.Request.Context(), principal(c), c.Param("shop")
	var (
		out  syncItemsJSON
		last string
		more bool
	)
	if side == shop.TikTokSide {
		skus, m, err := h.svc.TikTokSKUPage(ctx, p, id, status, after, q.limit)
		if err != nil {
			h.fail(c, err)
			return
		}
		for i := range skus {
			skus[i] = skuJSON(skus[i])
		}
		if len(skus) > 0 {
			last = skus[len(skus)-1].ID
		}
		out.Items, more = nonNil(skus), m
	} else {
		page := h.svc.VariantPage
		if bySKU {
			page = func(ctx context.Context, p auth.Principal, id string, status shop.LinkStatus, after string, limit int) ([]shop.Variant, bool, error) {
				return h.svc.VariantsWithSKU(ctx, p, id, sku, status, after, limit)
			}
		}
		variants, m, err := page(ctx, p, id, status, after, q.limit)
		if err != nil {
			h.fail(c, err)
			return
		}
		for i := range variants {
			variants[i] = variantJSON(variants[i])
		}
		if len(variants) > 0 {
			last = variants[len(variants)-1].ID
		}
		out.Items, more = nonNil(variants), m
	}
	if more && last != "" {
		out.Next = encodeCursor(list, last)
	}
	c.JSON(http.StatusOK, out)
}

// variantJSON and skuJSON answer empty lists and maps as [] and {}, never
// null, as the document says.
func variantJSON(v shop.Variant) shop.Variant {
	v.Tags = nonNil(v.Tags)
	if v.Available == nil {
		v.Available = map[string]int{}
	}
	return v
}

func skuJSON(k shop.TikTokSKU) shop.TikTokSKU {
	k.Warehouses = nonNil(k.Warehouses)
	if k.Quantities == nil {
		k.Quantities = map[string]int{}
	}
	return k
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
