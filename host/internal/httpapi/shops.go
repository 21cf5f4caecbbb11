package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	jsonv2 "github.com/go-json-experiment/json"

	"github.com/syncrules/syncrules/host/internal/compute"
	"github.com/syncrules/syncrules/host/internal/problem"
	"github.com/syncrules/syncrules/host/internal/shop"
)

// shopRequest is the body of PUT /v1/shops/{shop}: active defaults to
// true; shopify_domain, locations and warehouses absent (or null) keep
// what the shop has.
type shopRequest struct {
	Name          string              `json:"name"`
	ShopifyDomain *string             `json:"shopify_domain"`
	Locations     []compute.Location  `json:"locations"`
	Warehouses    []compute.Warehouse `json:"warehouses"`
}

func (r shopRequest) input() shop.ShopInput {
	in := shop.ShopInput{Name: r.Name, ShopifyDomain: r.ShopifyDomain}
	if r.Locations != nil {
		in.Locations = make([]shop.Location, len(r.Locations))
		for i, l := range r.Locations {
			in.Locations[i] = shop.Location{ID: l.ID, Active: l.Active.Or(true)}
		}
	}
	if r.Warehouses != nil {
		in.Warehouses = make([]shop.Warehouse, len(r.Warehouses))
		for i, w := range r.Warehouses {
			in.Warehouses[i] = shop.Warehouse{ID: w.ID, Active: w.Active.Or(true), Default: w.Default}
		}
	}
	return in
}

// shopList is a page of GET /v1/shops.
type shopList struct {
	Shops []shop.Shop `json:"shops"`
	Next  string      `json:"next,omitempty"`
}

func (h *Handler) listShops(c *gin.Context) {
	var probs []compute.FieldError
	q := readPage(c, "shops", shop.DefaultPageSize, shop.MaxPageSize, 1, &probs)
	if malformedQuery(c, probs) {
		return
	}
	var after string
	if q.key != nil {
		after = q.key[0]
	}
	shops, more, err := h.svc.ShopPage(c.Request.Context(), principal(c), after, q.limit)
	if err != nil {
		h.fail(c, err)
		return
	}
	out := shopList{Shops: shops}
	if more {
		out.Next = encodeCursor("shops", shops[len(shops)-1].ID)
	}
	c.JSON(http.StatusOK, out)
}

func (h *Handler) getShop(c *gin.Context) {
	sh, err := h.svc.Shop(c.Request.Context(), principal(c), c.Param("shop"))
	if err != nil {
		h.fail(c, err)
		return
	}
	h.writeShop(c, http.StatusOK, sh)
}

// writeShop answers a shop with the ETag of its representation, or 304
// to a GET whose If-None-Match names it.
func (h *Handler) writeShop(c *gin.Context, status int, sh shop.Shop) {
	b, err := json.Marshal(sh)
	if err != nil {
		h.fail(c, fmt.Errorf("encoding shop %q: %w", sh.ID, err))
		return
	}
	tag := contentETag(b)
	if c.Request.Method == http.MethodGet && notModified(c, tag) {
		return
	}
	c.Header("ETag", tag)
	c.Data(status, "application/json; charset=utf-8", b)
}

func (h *Handler) putShop(c *gin.Context) {
	id := c.Param("shop")
	if err := shop.CheckShopID(id); err != nil {
		h.fail(c, err)
		return
	}
	var req shopRequest
	if !h.readJSON(c, &req, "a JSON object with name, shopify_domain, locations and warehouses") {
		return
	}
	saved, created, err := h.svc.PutShop(c.Request.Context(), principal(c), id, req.input())
	if err != nil {
		h.fail(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		c.Header("Location", c.Request.URL.Path)
	}
	h.writeShop(c, status, saved)
}

func (h *Handler) deleteShop(c *gin.Context) {
	if err := h.svc.DeleteShop(c.Request.Context(), principal(c), c.Param("shop")); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// settingsJSON is one version of a shop's settings.
type settingsJSON struct {
	Version  int64           `json:"version"`
	Settings json.RawMessage `json:"settings"`
	Created  *shop.Timestamp `json:"created,omitempty"`
	Token    string          `json:"token,omitempty"`
}

func settingsOf(v shop.SettingsVersion) (settingsJSON, error) {
	doc, err := shop.EncodeSettings(v.Settings)
	if err != nil {
		return settingsJSON{}, err
	}
	out := settingsJSON{Version: v.Version, Settings: doc, Token: v.Token}
	if v.Version > 0 {
		t := shop.Timestamp(v.Created)
		out.Created = &t
	}
	return out, nil
}

func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// writeSettings answers one settings version with its ETag.
func (h *Handler) writeSettings(c *gin.Context, v shop.SettingsVersion) {
	out, err := settingsOf(v)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Header("ETag", etag(v.Version))
	c.JSON(http.StatusOK, out)
}

func (h *Handler) getSettings(c *gin.Context) {
	v, err := h.svc.Settings(c.Request.Context(), principal(c), c.Param("shop"))
	if err != nil {
		h.fail(c, err)
		return
	}
	// The ETag is the version If-Match takes: a version never changes, so
	// the same tag is the same answer.
	if notModified(c, etag(v.Version)) {
		return
	}
	h.writeSettings(c, v)
}

func (h *Handler) putSettings(c *gin.Context) {
	var ifMatch *int64
	if v := c.GetHeader("If-Match"); v != "" {
		n, err := strconv.ParseInt(strings.Trim(strings.TrimPrefix(v, "W/"), `"`), 10, 64)
		if err != nil || n < 0 {
			writeProblem(c, problem.New(http.StatusBadRequest, "If-Match must be the ETag of GET .../settings, such as \"3\".",
				compute.FieldError{Field: "If-Match", Detail: fmt.Sprintf("got %q", v)}))
			return
		}
		ifMatch = &n
	}
	st := new(compute.Settings)
	if !h.readJSON(c, st, "a JSON object of settings, {} for the defaults") {
		return
	}
	v, err := h.svc.PutSettings(c.Request.Context(), principal(c), c.Param("shop"), st, ifMatch)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.writeSettings(c, v)
}

// settingsHistoryJSON is a page of GET .../settings/history.
type settingsHistoryJSON struct {
	History []settingsJSON `json:"history"`
	Next    string         `json:"next,omitempty"`
}

func (h *Handler) settingsHistory(c *gin.Context) {
	// A cursor belongs to its shop's history: another shop's is refused
	// rather than read as a version of this one.
	list := "history:" + c.Param("shop")
	var probs []compute.FieldError
	q := readPage(c, list, shop.DefaultHistoryPageSize, shop.MaxHistoryPageSize, 1, &probs)
	var before int64
	if q.key != nil {
		n, err := strconv.ParseInt(q.key[0], 10, 64)
		if err != nil || n < 1 {
			probs = append(probs, compute.FieldError{Field: "cursor", Detail: "does not hold a settings version: send the next of the previous answer unchanged"})
		}
		before = n
	}
	if v, ok := c.GetQuery("before"); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		switch {
		case err != nil || n < 1:
			probs = append(probs, compute.FieldError{Field: "before", Detail: fmt.Sprintf("must be a version, an integer of at least 1, got %q", v)})
		case c.Query("cursor") != "":
			probs = append(probs, compute.FieldError{Field: "before", Detail: "cannot go with cursor: send one or the other"})
		}
		before = n
	}
	if malformedQuery(c, probs) {
		return
	}
	versions, more, err := h.svc.SettingsHistory(c.Request.Context(), principal(c), c.Param("shop"), before, q.limit)
	if err != nil {
		h.fail(c, err)
		return
	}
	out := settingsHistoryJSON{History: make([]settingsJSON, len(versions))}
	for i, v := range versions {
		if out.History[i], err = settingsOf(v); err != nil {
			h.fail(c, err)
			return
		}
	}
	if more {
		out.Next = encodeCursor(list, strconv.FormatInt(versions[len(versions)-1].Version, 10))
	}
	c.JSON(http.StatusOK, out)
}

// shopComputeRequest is the body of POST /v1/shops/{shop}/compute: the
// settings, locations and warehouses are the shop's.
type shopComputeRequest struct {
	Items []compute.Item `json:"items"`
}

func (h *Handler) shopCompute(c *gin.Context) {
	opt, ok := explainOption(c)
	if !ok {
		return
	}
	var body shopComputeRequest
	if !h.readJSON(c, &body, "a JSON object with items") {
		return
	}
	resp, err := h.svc.ComputeItems(c.Request.Context(), principal(c), c.Param("shop"), body.Items, opt)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.writeResponse(c, resp)
}

// previewRequest is the body of POST /v1/shops/{shop}/preview. Without
// items (absent or null) it previews the shop's imported catalog.
type previewRequest struct {
	Settings *compute.Settings `json:"settings"`
	Items    []compute.Item    `json:"items"`
}

func (h *Handler) preview(c *gin.Context) {
	var body previewRequest
	if !h.readJSON(c, &body, "a JSON object with settings, and items or none for the shop's catalog") {
		return
	}
	var out *shop.Preview
	var err error
	if body.Items == nil {
		out, err = h.svc.PreviewCatalog(c.Request.Context(), principal(c), c.Param("shop"), body.Settings)
	} else {
		out, err = h.svc.Preview(c.Request.Context(), principal(c), c.Param("shop"), body.Settings, body.Items)
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	b, err := jsonv2.Marshal(out, jsonv2.Deterministic(true))
	if err != nil {
		h.fail(c, fmt.Errorf("encoding the preview: %w", err))
		return
	}
	c.Data(http.StatusOK, "application/json", b)
}
