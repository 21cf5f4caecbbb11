package httpapi_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/syncrules/syncrules/host/internal/compute"
)

// smallLimits are the limits of the server the 413 cases run against.
var smallLimits = compute.Limits{MaxBodyBytes: 1024, MaxItems: 3, MaxLocations: 3, MaxWarehouses: 3, MaxCells: 16}

// seedItem is a valid item of the seed shop, with members added.
func seedItem(members string) string {
	if members != "" {
		members = "," + members
	}
	return `"items":[{"id":"v","available":{"A":1}` + members + `}]`
}

// withSettings is a seed request with the given settings.
func withSettings(settings string) string {
	return body(`"settings":{`+settings+`}`, seedShop, seedItem(""))
}

func TestComputeErrors(t *testing.T) {
	r := loadRule(t)
	servers := map[bool]*server{
		false: newServer(t, r, serverConfig{}),
		true:  newServer(t, r, serverConfig{limits: smallLimits}),
	}
	tests := []struct {
		name   string
		small  bool // run against the server with smallLimits
		query  string
		body   string
		status int
		fields []string // the JSON Pointers of the errors, in order
	}{
		// 400: not JSON of the documented shape.
		{name: "malformed JSON", body: `{"items":[}`, status: 400, fields: []string{"/items/0"}},
		{name: "not JSON at all", body: `items=1`, status: 400, fields: []string{""}},
		{name: "truncated JSON", body: body(seedShop, `"items":[{"id":"v","available":{"A":1`), status: 400, fields: []string{"/items/0"}},
		{name: "truncated after a member name", body: `{"items"`, status: 400, fields: []string{"/items"}},
		{name: "empty body", body: ``, status: 400, fields: []string{""}},
		{name: "blank body", body: " \n\t", status: 400, fields: []string{""}},
		{name: "a second value after the object", body: body(seedShop, seedItem("")) + ` {}`, status: 400, fields: []string{""}},
		{name: "an array, not an object", body: `[]`, status: 400, fields: []string{""}},
		{name: "tracked a string", body: body(seedShop, seedItem(`"tracked":"yes"`)), status: 400, fields: []string{"/items/0/tracked"}},
		{name: "continue_selling a number", body: body(seedShop, seedItem(`"continue_selling":1`)), status: 400, fields: []string{"/items/0/continue_selling"}},
		{name: "active a string", body: body(`"locations":[{"id":"A","active":"false"}],"warehouses":[{"id":"alpha","default":true}]`, seedItem("")), status: 400, fields: []string{"/locations/0/active"}},
		{name: "percentage a string", body: withSettings(`"percentage":"80"`), status: 400, fields: []string{"/settings/percentage"}},
		{name: "max_quantity a boolean", body: withSettings(`"max_quantity":true`), status: 400, fields: []string{"/settings/max_quantity"}},
		{name: "items an object", body: body(seedShop, `"items":{"id":"v"}`), status: 400, fields: []string{"/items"}},
		{name: "item id a number", body: body(seedShop, `"items":[{"id":40000000000123}]`), status: 400, fields: []string{"/items/0/id"}},
		{name: "available value a string", body: body(seedShop, `"items":[{"id":"v","available":{"A":"100"}}]`), status: 400, fields: []string{"/items/0/available/A"}},
		{name: "available an array", body: body(seedShop, `"items":[{"id":"v","available":[100]}]`), status: 400, fields: []string{"/items/0/available"}},
		{name: "tags not strings", body: body(seedShop, seedItem(`"tags":[1]`)), status: 400, fields: []string{"/items/0/tags/0"}},
		{name: "mappings an object", body: withSettings(`"mappings":{"location":"*","warehouse":"alpha"}`), status: 400, fields: []string{"/settings/mappings"}},
		{name: "unknown member at the top", body: body(seedShop, seedItem(""), `"shop":"x"`), status: 400, fields: []string{"/shop"}},
		{name: "unknown member in settings", body: withSettings(`"percent":80`), status: 400, fields: []string{"/settings/percent"}},
		{name: "unknown member in an item", body: body(seedShop, seedItem(`"inventory_policy":"CONTINUE"`)), status: 400, fields: []string{"/items/0/inventory_policy"}},
		{name: "unknown member in a mapping", body: withSettings(`"mappings":[{"location":"*","warehouse":"alpha","share":50}]`), status: 400, fields: []string{"/settings/mappings/0/share"}},
		{name: "duplicate member name", body: body(seedShop, `"items":[{"id":"v","id":"w"}]`), status: 400, fields: []string{"/items/0/id"}},
		{name: "explain not a boolean", query: "?explain=bogus", body: body(seedShop, seedItem("")), status: 400, fields: []string{"explain"}},
		{name: "explain empty", query: "?explain=", body: body(seedShop, seedItem("")), status: 400, fields: []string{"explain"}},

		// 422: well formed, but breaks an inventory rule.
		{name: "percentage over 100", body: withSettings(`"percentage":100.01`), status: 422, fields: []string{"/settings/percentage"}},
		{name: "percentage below 0", body: withSettings(`"percentage":-1`), status: 422, fields: []string{"/settings/percentage"}},
		{name: "percentage with three decimals", body: withSettings(`"percentage":33.333`), status: 422, fields: []string{"/settings/percentage"}},
		{name: "percentage 1e-3", body: withSettings(`"percentage":1e-3`), status: 422, fields: []string{"/settings/percentage"}},
		{name: "mapping from an unknown location", body: withSettings(`"mappings":[{"location":"Z","warehouse":"alpha"}]`), status: 422, fields: []string{"/settings/mappings/0/location"}},
		{name: "mapping to an unknown warehouse", body: withSettings(`"mappings":[{"location":"A","warehouse":"gamma"}]`), status: 422, fields: []string{"/settings/mappings/0/warehouse"}},
		{name: "mapping without a location", body: withSettings(`"mappings":[{"warehouse":"alpha"}]`), status: 422, fields: []string{"/settings/mappings/0/location"}},
		{name: "one location feeding two warehouses", body: withSettings(`"mappings":[{"location":"A","warehouse":"alpha"},{"location":"B","warehouse":"alpha"},{"location":"A","warehouse":"beta"}]`), status: 422, fields: []string{"/settings/mappings/2/location"}},
		{name: "the same mapping twice", body: withSettings(`"mappings":[{"location":"A","warehouse":"alpha"},{"location":"A","warehouse":"alpha"}]`), status: 422, fields: []string{"/settings/mappings/1"}},
		{name: "* with another mapping", body: withSettings(`"mappings":[{"location":"A","warehouse":"beta"},{"location":"*","warehouse":"alpha"}]`), status: 422, fields: []string{"/settings/mappings/1/location"}},
		{name: "no mappings and no default warehouse", body: body(`"locations":[{"id":"A"}],"warehouses":[{"id":"alpha"},{"id":"beta"}]`, seedItem("")), status: 422, fields: []string{"/settings/mappings"}},
		{name: "two default warehouses", body: body(`"locations":[{"id":"A"}],"warehouses":[{"id":"alpha","default":true},{"id":"beta","default":true}]`, seedItem("")), status: 422, fields: []string{"/warehouses/1/default"}},
		{name: "duplicate location ids", body: body(`"locations":[{"id":"A"},{"id":"A"}],"warehouses":[{"id":"alpha","default":true}]`, seedItem("")), status: 422, fields: []string{"/locations/1/id"}},
		{name: "location id *", body: body(`"locations":[{"id":"A"},{"id":"*"}],"warehouses":[{"id":"alpha","default":true}]`, seedItem("")), status: 422, fields: []string{"/locations/1/id"}},
		{name: "location without id", body: body(`"locations":[{"id":"A"},{"active":true}],"warehouses":[{"id":"alpha","default":true}]`, seedItem("")), status: 422, fields: []string{"/locations/1/id"}},
		{name: "duplicate warehouse ids", body: body(`"locations":[{"id":"A"}],"warehouses":[{"id":"alpha","default":true},{"id":"alpha"}]`, seedItem("")), status: 422, fields: []string{"/warehouses/1/id"}},
		{name: "an item naming an unknown location", body: body(seedShop, `"items":[{"id":"v","available":{"A":1,"Z":2}}]`), status: 422, fields: []string{"/items/0/available/Z"}},
		{name: "an unknown location id that needs escaping", body: body(seedShop, `"items":[{"id":"v","available":{"x/y~z":2}}]`), status: 422, fields: []string{"/items/0/available/x~1y~0z"}},
		{name: "duplicate item ids", body: body(seedShop, `"items":[{"id":"v"},{"id":"w"},{"id":"v"}]`), status: 422, fields: []string{"/items/2/id"}},
		{name: "item without id", body: body(seedShop, `"items":[{"sku":"TEE"}]`), status: 422, fields: []string{"/items/0/id"}},
		{name: "max_quantity 0", body: withSettings(`"max_quantity":0`), status: 422, fields: []string{"/settings/max_quantity"}},
		{name: "max_quantity 1000000", body: withSettings(`"max_quantity":1000000`), status: 422, fields: []string{"/settings/max_quantity"}},
		{name: "max_quantity not an integer", body: withSettings(`"max_quantity":10.5`), status: 422, fields: []string{"/settings/max_quantity"}},
		{name: "max_quantity negative", body: withSettings(`"max_quantity":-1`), status: 422, fields: []string{"/settings/max_quantity"}},
		{name: "available not an integer", body: body(seedShop, `"items":[{"id":"v","available":{"A":1.5}}]`), status: 422, fields: []string{"/items/0/available/A"}},
		{name: "available over int32", body: body(seedShop, `"items":[{"id":"v","available":{"A":2147483648}}]`), status: 422, fields: []string{"/items/0/available/A"}},
		{name: "available under int32", body: body(seedShop, `"items":[{"id":"v","available":{"B":-2147483649}}]`), status: 422, fields: []string{"/items/0/available/B"}},
		{name: "available beyond int64", body: body(seedShop, `"items":[{"id":"v","available":{"A":100000000000000000000}}]`), status: 422, fields: []string{"/items/0/available/A"}},
		{name: "missing items", body: body(seedShop), status: 422, fields: []string{"/items"}},
		{name: "null items", body: body(seedShop, `"items":null`), status: 422, fields: []string{"/items"}},

		// 413: over a configured limit.
		{name: "body over the limit", small: true, body: body(seedShop, `"items":[{"id":"`+strings.Repeat("v", 1024)+`"}]`), status: 413, fields: []string{""}},
		{name: "body far over the limit", small: true, body: body(seedShop, `"items":[{"id":"`+strings.Repeat("v", 4<<20)+`"}]`), status: 413, fields: []string{""}},
		{name: "more items than the limit", small: true, body: body(seedShop, `"items":[{"id":"a"},{"id":"b"},{"id":"c"},{"id":"d"}]`), status: 413, fields: []string{"/items"}},
		{name: "more locations than the limit", small: true, body: body(`"locations":[{"id":"A"},{"id":"B"},{"id":"C"},{"id":"D"}],"warehouses":[{"id":"alpha","default":true}]`, seedItem("")), status: 413, fields: []string{"/locations"}},
		{name: "more warehouses than the limit", small: true, body: body(`"locations":[{"id":"A"}],"warehouses":[{"id":"a","default":true},{"id":"b"},{"id":"c"},{"id":"d"}]`, seedItem("")), status: 413, fields: []string{"/warehouses"}},
		{name: "more cells than the limit", small: true, body: body(`"locations":[{"id":"A"},{"id":"B"},{"id":"C"}],"warehouses":[{"id":"a","default":true},{"id":"b"},{"id":"c"}]`, `"items":[{"id":"a"},{"id":"b"},{"id":"c"}]`), status: 413, fields: []string{"/items"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d %s", tt.status, tt.name), func(t *testing.T) {
			s := servers[tt.small]
			p := problemOf(t, s.post(t, "/v1/compute"+tt.query, tt.body), tt.status)
			if got := p.fields(); !slices.Equal(got, tt.fields) {
				t.Errorf("fields %q, want %q\n%+v", got, tt.fields, p.Errors)
			}
			for _, e := range p.Errors {
				if e.Detail == "" {
					t.Errorf("%q: no detail", e.Field)
				}
			}
		})
	}
}

// TestComputeReportsEveryProblem sends one request with a problem in each
// part and expects every one reported, in request order.
func TestComputeReportsEveryProblem(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{})
	req := body(
		`"settings":{"percentage":150,"max_quantity":0,"mappings":[{"location":"A","warehouse":"alpha"},{"location":"Z","warehouse":"beta"},{"location":"B","warehouse":"gamma"}]}`,
		`"locations":[{"id":"A"},{"id":"B"},{"id":"A"}]`,
		`"warehouses":[{"id":"alpha","default":true},{"id":"beta","default":true}]`,
		`"items":[{"id":"v","available":{"A":1.5,"Q":1,"B":2147483648}},{"id":"w"},{"id":"v"}]`,
	)
	want := []string{
		"/locations/2/id",
		"/warehouses/1/default",
		"/settings/percentage",
		"/settings/max_quantity",
		"/settings/mappings/1/location",
		"/settings/mappings/2/warehouse",
		"/items/0/available/A",
		"/items/0/available/Q",
		"/items/0/available/B",
		"/items/2/id",
	}
	p := problemOf(t, s.post(t, "/v1/compute", req), http.StatusUnprocessableEntity)
	if got := p.fields(); !slices.Equal(got, want) {
		t.Errorf("fields\n%q\nwant\n%q", got, want)
	}
}

// TestComputeReportsAtMost100Problems checks that a request with many
// problems gets the first 100 and a count of the rest.
func TestComputeReportsAtMost100Problems(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{})
	var items []string
	for range 150 {
		items = append(items, `{"id":"v","available":{"A":0.5}}`)
	}
	p := problemOf(t, s.post(t, "/v1/compute", body(seedShop, `"items":[`+strings.Join(items, ",")+`]`)), http.StatusUnprocessableEntity)
	// Item 0 has one problem, each later item two: 299 in all.
	if len(p.Errors) != 101 {
		t.Fatalf("%d errors, want 100 and a summary", len(p.Errors))
	}
	if p.Errors[0].Field != "/items/0/available/A" || p.Errors[1].Field != "/items/1/id" {
		t.Errorf("first errors %+v", p.Errors[:2])
	}
	if last := p.Errors[100]; last.Field != "" || !strings.Contains(last.Detail, "199 more") {
		t.Errorf("last error %+v, want a summary of 199 more problems", last)
	}
}
