package problem

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/syncrules/syncrules/host/engine"
	"github.com/syncrules/syncrules/host/internal/compute"
	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/store"
)

func TestFrom(t *testing.T) {
	fields := []compute.FieldError{{Field: "/items/0/id", Detail: "is required"}}
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantDetail string
		wantFields bool
		// wantType is the problem type, and wantTitle its title; by
		// default about:blank with the status's text.
		wantType, wantTitle string
	}{
		{"malformed", &compute.InputError{Kind: compute.Malformed, Errors: fields}, http.StatusBadRequest, "not valid JSON", true, "", ""},
		{"invalid", &compute.InputError{Kind: compute.Invalid, Errors: fields}, http.StatusUnprocessableEntity, "fix the fields listed", true, "", ""},
		{"too large", &compute.InputError{Kind: compute.TooLarge, Errors: fields}, http.StatusRequestEntityTooLarge, "over a configured limit", true, "", ""},
		{"wrapped input error", fmt.Errorf("reading: %w", &compute.InputError{Kind: compute.Invalid, Errors: fields}), http.StatusUnprocessableEntity, "fix the fields listed", true, "", ""},
		{"deadline", fmt.Errorf("engine: waiting: %w", context.DeadlineExceeded), http.StatusServiceUnavailable, "busy", false, "", ""},
		{"closed", engine.ErrClosed, http.StatusServiceUnavailable, "shutting down", false, "", ""},
		{"store busy", fmt.Errorf("put settings: %w", store.ErrBusy), http.StatusServiceUnavailable, "Retry", false, "", ""},
		{"rule failed", &compute.RuleError{Rule: "default", Err: errors.New("contract broken")}, http.StatusInternalServerError, "The default rule failed: contract broken", false, "", ""},
		{"unexpected", errors.New("disk on fire at /secret/path"), http.StatusInternalServerError, "has been logged", false, "", ""},
		{"generic code", &shop.Error{Code: shop.Conflict, Message: "clash"}, http.StatusConflict, "clash", false, "", ""},
		{"token scopes", &shop.Error{Code: shop.InvalidToken, Message: "bad scope", Fields: fields}, http.StatusUnprocessableEntity, "bad scope", true,
			"/problems/invalid-token", "The token's name or scopes are not valid"},
		{"credentials", &shop.Error{Code: shop.InvalidCredentials, Message: "empty", Fields: fields}, http.StatusUnprocessableEntity, "empty", true,
			"/problems/invalid-credentials", "The credentials are not valid"},
		{"shop", &shop.Error{Code: shop.InvalidShop, Message: "bad id", Fields: fields}, http.StatusUnprocessableEntity, "bad id", true,
			"/problems/invalid-shop", "The shop is not valid"},
		{"no settings", fmt.Errorf("compute: %w", &shop.Error{Code: shop.NoSettings, Message: "save settings"}), http.StatusConflict, "save settings", false,
			"/problems/no-settings", "The shop has no settings to compute with"},
		{"broken settings", &shop.Error{Code: shop.BrokenSettings, Message: "change them", Fields: fields}, http.StatusConflict, "change them", true,
			"/problems/broken-settings", "The shop's stored settings do not validate"},
		{"credentials refused", &shop.Error{Code: shop.CredentialsRefused, Message: "Shopify answered 401", Fields: fields}, http.StatusUnprocessableEntity, "Shopify answered 401", true,
			"/problems/credentials-refused", "A platform refused the shop's credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := From(tt.err)
			wantType, wantTitle := tt.wantType, tt.wantTitle
			if wantType == "" {
				wantType, wantTitle = "about:blank", http.StatusText(tt.wantStatus)
			}
			if p.Status != tt.wantStatus || p.Title != wantTitle || p.Type != wantType {
				t.Errorf("From() = %+v, want status %d, type %s, title %q", p, tt.wantStatus, wantType, wantTitle)
			}
			if tt.wantDetail == "" || !strings.Contains(p.Detail, tt.wantDetail) {
				t.Errorf("detail %q, want it to contain %q", p.Detail, tt.wantDetail)
			}
			if (len(p.Errors) > 0) != tt.wantFields {
				t.Errorf("errors = %v, want field errors: %t", p.Errors, tt.wantFields)
			}
			if strings.Contains(p.Detail, "/secret/path") {
				t.Errorf("detail %q leaks an internal error", p.Detail)
			}
		})
	}
}
