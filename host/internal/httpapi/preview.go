package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	jsonv2 "github.com/go-json-experiment/json"

	"github.com/syncrules/syncrules/host/internal/compute"
	"github.com/syncrules/syncrules/host/internal/problem"
)

// previewRequest is the body of POST /v1/shops/{shop}/preview.
type previewRequest struct {
	Settings *compute.Settings `json:"settings"`
	Items    []compute.Item    `json:"items"`
}

// previewSide is an item's result under one set of settings.
type previewSide struct {
	Quantities compute.Quantities `json:"quantities,omitzero"`
	Error      *compute.ItemError `json:"error,omitempty"`
}

type previewItem struct {
	ID       string      `json:"id"`
	Current  previewSide `json:"current"`
	Proposed previewSide `json:"proposed"`
	Changed  bool        `json:"changed"`
}

// unitsDelta is what a change does to one warehouse over every item whose
// quantities both settings compute.
type unitsDelta struct {
	Added   int64 `json:"added"`
	Removed int64 `json:"removed"`
}

type previewSummary struct {
	Items   int `json:"items"`
	Changed int `json:"changed"`
	// Failed counts items with an error instead of quantities.
	Failed struct {
		Current  int `json:"current"`
		Proposed int `json:"proposed"`
	} `json:"failed"`
	Warehouses map[string]*unitsDelta `json:"warehouses"`
}

type previewResponse struct {
	Items    []previewItem  `json:"items"`
	Summary  previewSummary `json:"summary"`
	Warnings struct {
		Current  []compute.Warning `json:"current"`
		Proposed []compute.Warning `json:"proposed"`
	} `json:"warnings"`
}

func (h *Handler) preview(c *gin.Context) {
	var body previewRequest
	if !h.readJSON(c, &body, "a JSON object with settings and items") {
		return
	}
	if body.Settings == nil {
		h.fail(c, &compute.InputError{Kind: compute.Invalid, Errors: []compute.FieldError{
			{Field: "/settings", Detail: "is required: the proposed settings ({} for the defaults)"}}})
		return
	}
	shop, current, ok := h.shopState(c)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), h.opt.ComputeTimeout)
	defer cancel()
	// Proposed first: the caller's errors, items or settings, are reported
	// at their place in the body before anything about the stored settings.
	req := shop.computeRequest()
	req.Settings, req.Items = body.Settings, body.Items
	proposed, err := h.opt.Compute.Compute(ctx, req, compute.Options{})
	if err != nil {
		h.fail(c, err)
		return
	}
	req = shop.computeRequest()
	req.Settings, req.Items = current, body.Items
	now, err := h.opt.Compute.Compute(ctx, req, compute.Options{})
	if err != nil {
		h.fail(c, storedBroken(err))
		return
	}
	out, err := comparePreview(now, proposed)
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

// comparePreview puts two results for the same items side by side.
func comparePreview(current, proposed *compute.Response) (*previewResponse, error) {
	if len(current.Items) != len(proposed.Items) {
		return nil, fmt.Errorf("preview: %d current results for %d proposed", len(current.Items), len(proposed.Items))
	}
	out := &previewResponse{Items: make([]previewItem, len(current.Items))}
	out.Summary.Items = len(current.Items)
	out.Summary.Warehouses = map[string]*unitsDelta{}
	out.Warnings.Current, out.Warnings.Proposed = current.Warnings, proposed.Warnings
	if out.Warnings.Current == nil {
		out.Warnings.Current = []compute.Warning{}
	}
	if out.Warnings.Proposed == nil {
		out.Warnings.Proposed = []compute.Warning{}
	}
	for i := range current.Items {
		cur, prop := current.Items[i], proposed.Items[i]
		it := previewItem{ID: cur.ID,
			Current:  previewSide{Quantities: cur.Quantities, Error: cur.Error},
			Proposed: previewSide{Quantities: prop.Quantities, Error: prop.Error}}
		if cur.Error != nil {
			out.Summary.Failed.Current++
		}
		if prop.Error != nil {
			out.Summary.Failed.Proposed++
		}
		switch {
		case cur.Error != nil || prop.Error != nil:
			it.Changed = (cur.Error == nil) != (prop.Error == nil) ||
				(cur.Error != nil && *cur.Error != *prop.Error)
		default:
			for wh, q := range prop.Quantities.All() {
				before, _ := cur.Quantities.Get(wh)
				d := out.Summary.Warehouses[wh]
				if d == nil {
					d = &unitsDelta{}
					out.Summary.Warehouses[wh] = d
				}
				switch diff := int64(q) - int64(before); {
				case diff > 0:
					d.Added += diff
					it.Changed = true
				case diff < 0:
					d.Removed -= diff
					it.Changed = true
				}
			}
		}
		if it.Changed {
			out.Summary.Changed++
		}
		out.Items[i] = it
	}
	return out, nil
}

// problemFor is the problem for errors only this package knows.
func problemFor(err error) (problem.Problem, bool) {
	var stored *storedSettingsError
	var conflict *settingsConflict
	switch {
	case errors.As(err, &stored):
		return problem.New(http.StatusConflict,
			"The shop's stored settings do not validate against the shop (or name a plugin version that has gone); change them with PUT .../settings.",
			stored.in.Errors...), true
	case errors.As(err, &conflict):
		return problem.New(http.StatusConflict,
			"The change would break the shop's current settings, at the fields listed; change the settings first.",
			conflict.in.Errors...), true
	}
	return problem.Problem{}, false
}
