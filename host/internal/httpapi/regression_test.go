package httpapi_test

import (
	"context"
	"net/http"
	"runtime"
	"strings"
	"testing"
)

// Regression tests for bugs found through the API, each fixed where it was.

// A boolean member given an object or an array is reported at its own JSON
// Pointer as the wrong type (it once read the '{' and skipped only the first
// member, then reported a syntax error or a pointer inside the value).
func TestFlagOfWrongKind(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{})
	tests := []struct {
		name      string
		tracked   string
		wantField string
		wantGot   string
	}{
		{"an empty object", `{}`, "/items/0/tracked", "got an object"},
		{"an object", `{"a":1}`, "/items/0/tracked", "got an object"},
		{"an empty array", `[]`, "/items/0/tracked", "got an array"},
		{"an array", `[true]`, "/items/0/tracked", "got an array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := problemOf(t, s.post(t, "/v1/compute", body(seedShop, seedItem(`"tracked":`+tt.tracked))), http.StatusBadRequest)
			if len(p.Errors) != 1 || p.Errors[0].Field != tt.wantField || !hasText(t, p.Errors[0].Detail, tt.wantGot) {
				t.Errorf("errors %+v, want one at %s that says %q", p.Errors, tt.wantField, tt.wantGot)
			}
		})
	}
}

// When no warehouse is active, every item still has quantities: {} (a
// missing object is the mark of a failed item, and these did not fail).
func TestNoActiveWarehouse(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{})
	resp := s.compute(t, "", body(`"locations":[{"id":"A"}],"warehouses":[{"id":"alpha","default":true,"active":false}]`, seedItem("")))
	if len(resp.Items) != 1 || resp.Items[0].Quantities == nil || len(resp.Items[0].Quantities) != 0 {
		t.Errorf("items %+v, want one with quantities {}", resp.Items)
	}
	if len(resp.Warnings) != 1 || resp.Warnings[0].Code != "inactive_warehouse" {
		t.Errorf("warnings %+v, want inactive_warehouse", resp.Warnings)
	}
}

// A number with a huge exponent is refused without building it: through
// big.Rat, 1e999999 once became a million-digit integer, so a small body
// cost megabytes and tens of milliseconds per value.
func TestHugeExponent(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{})
	var avail []string
	for _, id := range []string{"A", "B"} {
		avail = append(avail, `"`+id+`":1e999999`)
	}
	var items []string
	for _, id := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"} {
		items = append(items, `{"id":"`+id+`","available":{`+strings.Join(avail, ",")+`}}`)
	}
	req := body(`"settings":{"percentage":1e-999999,"max_quantity":1e999999}`, seedShop, `"items":[`+strings.Join(items, ",")+`]`)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	p := problemOf(t, s.post(t, "/v1/compute", req), http.StatusUnprocessableEntity)
	runtime.ReadMemStats(&after)
	if len(p.Errors) != 22 {
		t.Errorf("%d errors, want 22: %+v", len(p.Errors), p.Errors)
	}
	// The request is 600 bytes; rejecting it should allocate kilobytes.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
		t.Errorf("rejecting a %d-byte request allocated %d MB", len(req), alloc>>20)
	}
}

// After Engine.Close a compute is a 503 "shutting down", not a 500 trap:
// cli.serve closes the engine after a Shutdown that may have timed out.
func TestCallAfterEngineClose(t *testing.T) {
	r := loadRule(t)
	s := newServer(t, r, serverConfig{})
	if err := r.engine.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := problemOf(t, s.post(t, "/v1/compute", body(seedShop, itemsAB)), http.StatusServiceUnavailable)
	if !strings.Contains(p.Detail, "shutting down") {
		t.Errorf("detail %q, want shutting down", p.Detail)
	}
}
