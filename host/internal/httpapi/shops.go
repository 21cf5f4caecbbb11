package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	jsonv2 "github.com/go-json-experiment/json"

	"github.com/syncrules/syncrules/host/internal/auth"
	"github.com/syncrules/syncrules/host/internal/compute"
	"github.com/syncrules/syncrules/host/internal/problem"
	"github.com/syncrules/syncrules/host/internal/store"
)

// shopRequest is the body of PUT /v1/shops/{shop}.
type shopRequest struct {
	Name       string              `json:"name"`
	Locations  []compute.Location  `json:"locations"`
	Warehouses []compute.Warehouse `json:"warehouses"`
}

// location and warehouse are how a shop stores and shows them: every flag
// explicit, so what the shop has never depends on a default.
type location struct {
	ID     string `json:"id"`
	Active bool   `json:"active"`
}

type warehouse struct {
	ID      string `json:"id"`
	Active  bool   `json:"active"`
	Default bool   `json:"default"`
}

type shopJSON struct {
	ID         string      `json:"id"`
	Name       string      `json:"name"`
	Locations  []location  `json:"locations"`
	Warehouses []warehouse `json:"warehouses"`
	Created    time.Time   `json:"created"`
	Updated    time.Time   `json:"updated"`
}

// shopOf decodes a stored shop; what was stored was validated, so a
// failure here is the server's.
func shopOf(s store.Shop) (shopJSON, error) {
	out := shopJSON{ID: s.ID, Name: s.Name, Created: s.Created, Updated: s.Updated, Locations: []location{}, Warehouses: []warehouse{}}
	if err := json.Unmarshal(s.Locations, &out.Locations); err != nil {
		return out, fmt.Errorf("shop %s: stored locations: %w", s.ID, err)
	}
	if err := json.Unmarshal(s.Warehouses, &out.Warehouses); err != nil {
		return out, fmt.Errorf("shop %s: stored warehouses: %w", s.ID, err)
	}
	return out, nil
}

// computeRequest is a compute request for the shop, with settings and
// items still to fill in.
func (s shopJSON) computeRequest() *compute.Request {
	req := &compute.Request{
		Locations:  make([]compute.Location, len(s.Locations)),
		Warehouses: make([]compute.Warehouse, len(s.Warehouses)),
	}
	for i, l := range s.Locations {
		req.Locations[i] = compute.Location{ID: l.ID, Active: compute.Flag{Set: true, Value: l.Active}}
	}
	for i, w := range s.Warehouses {
		req.Warehouses[i] = compute.Warehouse{ID: w.ID, Active: compute.Flag{Set: true, Value: w.Active}, Default: w.Default}
	}
	return req
}

func (h *Handler) listShops(c *gin.Context) {
	shops, err := h.opt.Store.Shops(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]shopJSON, len(shops))
	for i, s := range shops {
		if out[i], err = shopOf(s); err != nil {
			h.fail(c, err)
			return
		}
	}
	c.JSON(http.StatusOK, gin.H{"shops": out})
}

func (h *Handler) getShop(c *gin.Context) {
	shop, ok := h.loadShop(c)
	if !ok {
		return
	}
	c.JSON(http.StatusOK, shop)
}

// loadShop reads the shop of the path, answering 404 if there is none.
func (h *Handler) loadShop(c *gin.Context) (shopJSON, bool) {
	id := c.Param("shop")
	s, err := h.opt.Store.Shop(c.Request.Context(), id)
	if err != nil {
		h.fail(c, err)
		return shopJSON{}, false
	}
	shop, err := shopOf(s)
	if err != nil {
		h.fail(c, err)
		return shopJSON{}, false
	}
	return shop, true
}

// settingsConflict is a shop change that would break the shop's stored
// settings.
type settingsConflict struct{ in *compute.InputError }

func (e *settingsConflict) Error() string {
	return "the change breaks the stored settings: " + e.in.Error()
}

func (h *Handler) putShop(c *gin.Context) {
	id := c.Param("shop")
	if err := auth.ValidShopID(id); err != nil {
		writeProblem(c, problem.New(http.StatusUnprocessableEntity, "The shop id in the path is not valid.", compute.FieldError{Field: "shop", Detail: err.Error()}))
		return
	}
	var req shopRequest
	if !h.readJSON(c, &req, "a JSON object with name, locations and warehouses") {
		return
	}
	var probs []compute.FieldError
	if req.Locations == nil {
		probs = append(probs, compute.FieldError{Field: "/locations", Detail: "is required: the shop's Shopify locations, as an array"})
	}
	if req.Warehouses == nil {
		probs = append(probs, compute.FieldError{Field: "/warehouses", Detail: "is required: the shop's TikTok Shop warehouses, as an array"})
	}
	probs = append(probs, CheckName("/name", req.Name)...)
	if len(probs) > 0 {
		h.fail(c, &compute.InputError{Kind: compute.Invalid, Errors: probs})
		return
	}
	// The compute service checks ids, duplicates and the default warehouse
	// exactly as it does for an inline request. What it says of settings
	// (none yet: no default warehouse to map to) is for PUT .../settings.
	check := &compute.Request{Locations: req.Locations, Warehouses: req.Warehouses, Items: []compute.Item{}}
	if _, err := h.opt.Compute.Compute(c.Request.Context(), check, compute.Options{}); err != nil {
		if _, err = splitSettings(err); err != nil {
			h.fail(c, err)
			return
		}
	}
	shop := shopJSON{ID: id, Name: req.Name, Locations: make([]location, len(req.Locations)), Warehouses: make([]warehouse, len(req.Warehouses))}
	for i, l := range req.Locations {
		shop.Locations[i] = location{ID: l.ID, Active: l.Active.Or(true)}
	}
	for i, w := range req.Warehouses {
		shop.Warehouses[i] = warehouse{ID: w.ID, Active: w.Active.Or(true), Default: w.Default}
	}
	locs, _ := json.Marshal(shop.Locations)
	whs, _ := json.Marshal(shop.Warehouses)
	ctx := c.Request.Context()
	created, err := h.opt.Store.PutShop(ctx, store.Shop{ID: id, Name: req.Name, Locations: locs, Warehouses: whs},
		func(cur store.Settings) error {
			if cur.Version == 0 {
				return nil
			}
			st, err := decodeSettings(cur.Doc)
			if err != nil {
				return err
			}
			err = h.checkSettings(ctx, shop, st)
			if in := (*compute.InputError)(nil); errors.As(err, &in) {
				return &settingsConflict{in}
			}
			return err
		})
	if err != nil {
		h.fail(c, err)
		return
	}
	saved, ok := h.loadShop(c)
	if !ok {
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		c.Header("Location", c.Request.URL.Path)
	}
	c.JSON(status, saved)
}

func (h *Handler) deleteShop(c *gin.Context) {
	id := c.Param("shop")
	err := h.opt.Store.DeleteShop(c.Request.Context(), id)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.opt.Logger.Info("shop deleted", "shop", id, "token", principal(c).TokenID)
	c.Status(http.StatusNoContent)
}

// decodeSettings decodes stored settings.
func decodeSettings(doc []byte) (*compute.Settings, error) {
	st := new(compute.Settings)
	if len(doc) == 0 {
		return st, nil
	}
	if err := compute.Decode(doc, st, "settings"); err != nil {
		return nil, fmt.Errorf("stored settings: %w", err)
	}
	return st, nil
}

// checkSettings validates settings against the shop's locations,
// warehouses and installed plugins as a compute request would; field
// errors point into the settings document.
func (h *Handler) checkSettings(ctx context.Context, shop shopJSON, st *compute.Settings) error {
	req := shop.computeRequest()
	req.Settings, req.Items = st, []compute.Item{}
	_, err := h.opt.Compute.Compute(ctx, req, compute.Options{})
	bad, rest := splitSettings(err)
	if bad != nil {
		return bad
	}
	return rest
}

// splitSettings parts the field errors of an InputError: those under
// /settings, moved to the root to point into a settings document, and the
// rest (nil if none). An error that is not an InputError is the rest.
func splitSettings(err error) (settings *compute.InputError, rest error) {
	var in *compute.InputError
	if !errors.As(err, &in) {
		return nil, err
	}
	var st, other []compute.FieldError
	for _, fe := range in.Errors {
		if fe.Field == "/settings" || strings.HasPrefix(fe.Field, "/settings/") {
			fe.Field = strings.TrimPrefix(fe.Field, "/settings")
			st = append(st, fe)
		} else {
			other = append(other, fe)
		}
	}
	if len(st) > 0 {
		settings = &compute.InputError{Kind: in.Kind, Errors: st}
	}
	if len(other) > 0 {
		rest = &compute.InputError{Kind: in.Kind, Errors: other}
	}
	return settings, rest
}

// settingsJSON is one version of a shop's settings.
type settingsJSON struct {
	Version  int64           `json:"version"`
	Settings json.RawMessage `json:"settings"`
	Created  *time.Time      `json:"created,omitempty"`
	Token    string          `json:"token,omitempty"`
}

func settingsOf(s store.Settings) settingsJSON {
	out := settingsJSON{Version: s.Version, Settings: json.RawMessage(s.Doc), Token: s.Token}
	if len(out.Settings) == 0 {
		out.Settings = json.RawMessage(`{}`)
	}
	if s.Version > 0 {
		t := s.Created
		out.Created = &t
	}
	return out
}

func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

func (h *Handler) getSettings(c *gin.Context) {
	id := c.Param("shop")
	s, err := h.opt.Store.Settings(c.Request.Context(), id)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Header("ETag", etag(s.Version))
	c.JSON(http.StatusOK, settingsOf(s))
}

func (h *Handler) putSettings(c *gin.Context) {
	id := c.Param("shop")
	var ifVersion int64
	ifMatch := c.GetHeader("If-Match") != ""
	if v := c.GetHeader("If-Match"); ifMatch {
		n, err := strconv.ParseInt(strings.Trim(strings.TrimPrefix(v, "W/"), `"`), 10, 64)
		if err != nil || n < 0 {
			writeProblem(c, problem.New(http.StatusBadRequest, "If-Match must be the ETag of GET .../settings, such as \"3\".",
				compute.FieldError{Field: "If-Match", Detail: fmt.Sprintf("got %q", v)}))
			return
		}
		ifVersion = n
	}
	st := new(compute.Settings)
	if !h.readJSON(c, st, "a JSON object of settings, {} for the defaults") {
		return
	}
	doc, err := jsonv2.Marshal(st)
	if err != nil {
		h.fail(c, fmt.Errorf("encoding settings: %w", err))
		return
	}
	refs := make([]store.PluginRef, len(st.Rules))
	for i, r := range st.Rules {
		refs[i] = store.PluginRef{Name: r.Plugin, Version: r.Version}
	}
	ctx := c.Request.Context()
	h.refs.RLock()
	defer h.refs.RUnlock()
	saved, err := h.opt.Store.PutSettings(ctx, id, store.PutSettings{
		Doc:       doc,
		Refs:      refs,
		Token:     principal(c).TokenID,
		IfMatch:   ifMatch,
		IfVersion: ifVersion,
		Check: func(s store.Shop) error {
			shop, err := shopOf(s)
			if err != nil {
				return err
			}
			return h.checkSettings(ctx, shop, st)
		},
	})
	switch {
	case errors.Is(err, store.ErrVersionMismatch):
		writeProblem(c, problem.New(http.StatusPreconditionFailed,
			fmt.Sprintf("The settings changed since version %d: GET them again, and send their new ETag in If-Match.", ifVersion)))
		return
	case err != nil:
		h.fail(c, err)
		return
	}
	h.opt.Logger.Info("settings changed", "shop", id, "version", saved.Version, "token", saved.Token)
	c.Header("ETag", etag(saved.Version))
	c.JSON(http.StatusOK, settingsOf(saved))
}

func (h *Handler) settingsHistory(c *gin.Context) {
	id := c.Param("shop")
	limit, before := 20, int64(0)
	var probs []compute.FieldError
	if v, ok := c.GetQuery("limit"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			probs = append(probs, compute.FieldError{Field: "limit", Detail: fmt.Sprintf("must be an integer from 1 to 100, got %q", v)})
		}
		limit = n
	}
	if v, ok := c.GetQuery("before"); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			probs = append(probs, compute.FieldError{Field: "before", Detail: fmt.Sprintf("must be a version, an integer of at least 1, got %q", v)})
		}
		before = n
	}
	if len(probs) > 0 {
		writeProblem(c, problem.New(http.StatusBadRequest, "The query is malformed.", probs...))
		return
	}
	list, err := h.opt.Store.SettingsHistory(c.Request.Context(), id, before, limit)
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]settingsJSON, len(list))
	for i, s := range list {
		out[i] = settingsOf(s)
	}
	c.JSON(http.StatusOK, gin.H{"history": out})
}

// shopComputeRequest is the body of POST /v1/shops/{shop}/compute: the
// settings, locations and warehouses are the shop's.
type shopComputeRequest struct {
	Items []compute.Item `json:"items"`
}

// shopState reads the shop and its current settings, decoded.
func (h *Handler) shopState(c *gin.Context) (shopJSON, *compute.Settings, bool) {
	id := c.Param("shop")
	s, st, err := h.opt.Store.ShopSettings(c.Request.Context(), id)
	if err != nil {
		h.fail(c, err)
		return shopJSON{}, nil, false
	}
	shop, err := shopOf(s)
	if err != nil {
		h.fail(c, err)
		return shopJSON{}, nil, false
	}
	settings, err := decodeSettings(st.Doc)
	if err != nil {
		h.fail(c, err)
		return shopJSON{}, nil, false
	}
	return shop, settings, true
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
	shop, settings, ok := h.shopState(c)
	if !ok {
		return
	}
	req := shop.computeRequest()
	req.Settings, req.Items = settings, body.Items
	ctx, cancel := context.WithTimeout(c.Request.Context(), h.opt.ComputeTimeout)
	defer cancel()
	resp, err := h.opt.Compute.Compute(ctx, req, opt)
	if err != nil {
		h.fail(c, storedBroken(err))
		return
	}
	h.writeResponse(c, resp)
}

// storedBroken turns input errors about the stored settings, which the
// caller did not send, into a conflict that says so. They happen when
// something the settings name has gone, such as a plugin version removed
// from the config.
func storedBroken(err error) error {
	if st, _ := splitSettings(err); st != nil && st.Kind == compute.Invalid {
		return &storedSettingsError{st}
	}
	return err
}

type storedSettingsError struct{ in *compute.InputError }

func (e *storedSettingsError) Error() string {
	return "the stored settings no longer validate: " + e.in.Error()
}
