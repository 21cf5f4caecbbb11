// Package problem turns errors into RFC 9457 problem details. It is the one
// place that decides which error is which HTTP status, for the HTTP API and
// for the command line alike.
package problem

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/syncrules/syncrules/host/engine"
	"github.com/syncrules/syncrules/host/internal/compute"
	"github.com/syncrules/syncrules/host/internal/registry"
	"github.com/syncrules/syncrules/host/internal/shop"
)

// ContentType is the media type of a problem document.
const ContentType = "application/problem+json"

// Problem is an RFC 9457 problem document, with the list of field errors
// that tells a caller what to fix.
type Problem struct {
	Type   string               `json:"type"`
	Title  string               `json:"title"`
	Status int                  `json:"status"`
	Detail string               `json:"detail,omitempty"`
	Errors []compute.FieldError `json:"errors,omitempty"`
}

// New returns a problem with a status, its standard title and a detail.
func New(status int, detail string, errs ...compute.FieldError) Problem {
	return Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail, Errors: errs}
}

// statusOf is the HTTP status of each code of the application layer.
var statusOf = map[shop.Code]int{
	shop.Invalid:            http.StatusUnprocessableEntity,
	shop.NotFound:           http.StatusNotFound,
	shop.Conflict:           http.StatusConflict,
	shop.Forbidden:          http.StatusForbidden,
	shop.Unauthorized:       http.StatusUnauthorized,
	shop.Precondition:       http.StatusPreconditionFailed,
	shop.TooLarge:           http.StatusRequestEntityTooLarge,
	shop.Unavailable:        http.StatusServiceUnavailable,
	shop.InvalidToken:       http.StatusUnprocessableEntity,
	shop.InvalidCredentials: http.StatusUnprocessableEntity,
	shop.InvalidShop:        http.StatusUnprocessableEntity,
	shop.NoSettings:         http.StatusConflict,
	shop.BrokenSettings:     http.StatusConflict,
	shop.CredentialsRefused: http.StatusUnprocessableEntity,
}

// Type is a problem type of its own: one a client may need to tell apart
// from others of its status. Its URI is a reference with its full path,
// as RFC 9457 recommends of relative ones. Every other problem is
// about:blank, titled with its status's text.
type Type struct {
	URI, Title string
	Status     int
}

// typeOf is the problem type of the application layer's codes that have
// one; Status is statusOf's.
var typeOf = map[shop.Code]Type{
	shop.InvalidToken:       {URI: "/problems/invalid-token", Title: "The token's name or scopes are not valid"},
	shop.InvalidCredentials: {URI: "/problems/invalid-credentials", Title: "The credentials are not valid"},
	shop.InvalidShop:        {URI: "/problems/invalid-shop", Title: "The shop is not valid"},
	shop.NoSettings:         {URI: "/problems/no-settings", Title: "The shop has no settings to compute with"},
	shop.BrokenSettings:     {URI: "/problems/broken-settings", Title: "The shop's stored settings do not validate"},
	shop.CredentialsRefused: {URI: "/problems/credentials-refused", Title: "A platform refused the shop's credentials"},
}

// Types lists every problem type of its own, by URI, for the tests of the
// OpenAPI document that describes them.
func Types() map[string]Type {
	out := make(map[string]Type, len(typeOf))
	for code, t := range typeOf {
		t.Status = statusOf[code]
		out[t.URI] = t
	}
	return out
}

// From maps err to a problem. Input errors become 400, 413 or 422 and keep
// their field errors; a failing rule is 500; an exhausted deadline is 503.
// Anything unexpected is a 500 that reveals nothing of the error: the caller
// logs it.
func From(err error) Problem {
	var in *compute.InputError
	var rule *compute.RuleError
	var app *shop.Error
	switch {
	case errors.As(err, &app):
		p := New(statusOf[app.Code], app.Message, app.Fields...)
		if t, ok := typeOf[app.Code]; ok {
			p.Type, p.Title = t.URI, t.Title
		}
		return p
	case errors.As(err, &in):
		switch in.Kind {
		case compute.Malformed:
			return New(http.StatusBadRequest, "The request is not valid JSON of the expected shape.", in.Errors...)
		case compute.TooLarge:
			return New(http.StatusRequestEntityTooLarge, "The request is over a configured limit.", in.Errors...)
		default:
			return New(http.StatusUnprocessableEntity, "The request breaks the inventory rules; fix the fields listed.", in.Errors...)
		}
	case errors.Is(err, context.DeadlineExceeded):
		return New(http.StatusServiceUnavailable, "The service is busy: no rule instance was free in time. Retry later.")
	case errors.Is(err, shop.ErrInvalidText):
		return New(http.StatusUnprocessableEntity, "Text must be UTF-8 without NUL characters.")
	case errors.Is(err, shop.ErrBusy):
		return New(http.StatusServiceUnavailable, "Others kept changing the shop while this change was checked. Retry.")
	case errors.Is(err, engine.ErrClosed), errors.Is(err, context.Canceled):
		return New(http.StatusServiceUnavailable, "The service is shutting down. Retry later.")
	case errors.Is(err, registry.ErrInvalidName):
		return New(http.StatusUnprocessableEntity, "The plugin's name or version is not valid.", compute.FieldError{Field: registry.FieldOf(err), Detail: err.Error()})
	case errors.Is(err, registry.ErrTooLarge):
		return New(http.StatusRequestEntityTooLarge, "The module is over the size limit: "+err.Error()+".")
	case errors.Is(err, registry.ErrConflict):
		return New(http.StatusConflict, err.Error())
	case errors.Is(err, registry.ErrInUse):
		return New(http.StatusConflict, err.Error())
	case errors.Is(err, registry.ErrNotFound):
		return New(http.StatusNotFound, err.Error())
	case errors.Is(err, engine.ErrInvalidModule):
		return New(http.StatusUnprocessableEntity, "The module is refused: "+strings.TrimPrefix(err.Error(), engine.ErrInvalidModule.Error()+": "))
	case errors.As(err, &rule):
		return New(http.StatusInternalServerError, "The "+rule.Rule+" rule failed: "+rule.Err.Error())
	}
	return New(http.StatusInternalServerError, "An internal error occurred; it has been logged.")
}
