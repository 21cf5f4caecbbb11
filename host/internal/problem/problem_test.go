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
	}{
		{"malformed", &compute.InputError{Kind: compute.Malformed, Errors: fields}, http.StatusBadRequest, "not valid JSON", true},
		{"invalid", &compute.InputError{Kind: compute.Invalid, Errors: fields}, http.StatusUnprocessableEntity, "fix the fields listed", true},
		{"too large", &compute.InputError{Kind: compute.TooLarge, Errors: fields}, http.StatusRequestEntityTooLarge, "over a configured limit", true},
		{"wrapped input error", fmt.Errorf("reading: %w", &compute.InputError{Kind: compute.Invalid, Errors: fields}), http.StatusUnprocessableEntity, "", true},
		{"deadline", fmt.Errorf("engine: waiting: %w", context.DeadlineExceeded), http.StatusServiceUnavailable, "busy", false},
		{"closed", engine.ErrClosed, http.StatusServiceUnavailable, "shutting down", false},
		{"store busy", fmt.Errorf("put settings: %w", store.ErrBusy), http.StatusServiceUnavailable, "Retry", false},
		{"rule failed", &compute.RuleError{Rule: "default", Err: errors.New("contract broken")}, http.StatusInternalServerError, "The default rule failed: contract broken", false},
		{"unexpected", errors.New("disk on fire at /secret/path"), http.StatusInternalServerError, "has been logged", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := From(tt.err)
			if p.Status != tt.wantStatus || p.Title != http.StatusText(tt.wantStatus) || p.Type != "about:blank" {
				t.Errorf("From() = %+v, want status %d with its title", p, tt.wantStatus)
			}
			if !strings.Contains(p.Detail, tt.wantDetail) {
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
