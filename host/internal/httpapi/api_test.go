package httpapi_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncrules/syncrules/sdk/abi"
)

// seedShop is the seed's shop: two active locations, two active pickup
// warehouses, alpha the default.
const seedShop = `"locations":[{"id":"A"},{"id":"B"}],"warehouses":[{"id":"alpha","default":true},{"id":"beta"}]`

// body builds a request body from JSON members.
func body(members ...string) string { return "{" + strings.Join(members, ",") + "}" }

// itemsAB is one item with 100 available in A and 200 in B.
const itemsAB = `"items":[{"id":"gid://shopify/ProductVariant/40000000000123","available":{"A":100,"B":200}}]`

func TestComputeSeedExamples(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{})
	tests := []struct {
		name string
		body string
		want orderedQuantities
	}{
		{
			name: "985 at 80% is 788",
			body: body(`"settings":{"percentage":80}`,
				`"locations":[{"id":"A"}],"warehouses":[{"id":"alpha","default":true}]`,
				`"items":[{"id":"v","available":{"A":985}}]`),
			want: orderedQuantities{{"alpha", 788}},
		},
		{
			name: "all active locations to alpha is 100+200 in alpha",
			body: body(`"settings":{"mappings":[{"location":"*","warehouse":"alpha"}]}`, seedShop, itemsAB),
			want: orderedQuantities{{"alpha", 300}, {"beta", 0}},
		},
		{
			name: "80% of A to beta is 80 in beta and 0 in alpha",
			body: body(`"settings":{"percentage":80,"mappings":[{"location":"A","warehouse":"beta"}]}`, seedShop, itemsAB),
			want: orderedQuantities{{"alpha", 0}, {"beta", 80}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := s.compute(t, "", tt.body)
			checkQuantities(t, resp, tt.want)
			if len(resp.Warnings) != 0 {
				t.Errorf("warnings %+v, want none", resp.Warnings)
			}
		})
	}
}

// checkQuantities checks that resp has one item, without error or trace,
// with the quantities want.
func checkQuantities(t *testing.T, resp computeResponse, want orderedQuantities) {
	t.Helper()
	if len(resp.Items) != 1 {
		t.Fatalf("%d items, want 1", len(resp.Items))
	}
	it := resp.Items[0]
	if it.Error != nil || it.Trace != nil {
		t.Errorf("error %+v, trace %+v; want neither", it.Error, it.Trace)
	}
	if !slices.Equal(it.Quantities, want) {
		t.Errorf("quantities %v, want %v", it.Quantities, want)
	}
}

func TestComputeDefaults(t *testing.T) {
	r := loadRule(t)
	s := newServer(t, r, serverConfig{})
	lowMax := newServer(t, r, serverConfig{maxQuantity: 99_999})
	tests := []struct {
		name   string
		server *server
		body   string
		want   orderedQuantities
	}{
		{
			name:   "no settings: 100% of every active location to the default warehouse",
			server: s,
			body:   body(seedShop, itemsAB),
			want:   orderedQuantities{{"alpha", 300}, {"beta", 0}},
		},
		{
			name:   "empty settings",
			server: s,
			body:   body(`"settings":{}`, seedShop, itemsAB),
			want:   orderedQuantities{{"alpha", 300}, {"beta", 0}},
		},
		{
			name:   "null settings members",
			server: s,
			body:   body(`"settings":{"percentage":null,"mappings":null,"max_quantity":null}`, seedShop, itemsAB),
			want:   orderedQuantities{{"alpha", 300}, {"beta", 0}},
		},
		{
			name:   "empty mappings map every active location to the default warehouse",
			server: s,
			body:   body(`"settings":{"percentage":80,"mappings":[]}`, seedShop, itemsAB),
			want:   orderedQuantities{{"alpha", 240}, {"beta", 0}},
		},
		{
			name:   "the default warehouse need not come first",
			server: s,
			body: body(`"locations":[{"id":"A"},{"id":"B"}],"warehouses":[{"id":"alpha"},{"id":"beta","default":true}]`,
				itemsAB),
			want: orderedQuantities{{"alpha", 0}, {"beta", 300}},
		},
		{
			name:   "active and tracked default to true, null too",
			server: s,
			body: body(`"locations":[{"id":"A","active":null},{"id":"B"}],"warehouses":[{"id":"alpha","default":true,"active":null},{"id":"beta"}]`,
				`"items":[{"id":"v","tracked":null,"available":{"A":100,"B":200}}]`),
			want: orderedQuantities{{"alpha", 300}, {"beta", 0}},
		},
		{
			name:   "max_quantity defaults to 999999: an untracked item gets it",
			server: s,
			body:   body(seedShop, `"items":[{"id":"v","tracked":false,"available":{"A":1}}]`),
			want:   orderedQuantities{{"alpha", 999_999}, {"beta", 0}},
		},
		{
			name:   "max_quantity defaults to 999999: a continue-selling item gets it",
			server: s,
			body:   body(seedShop, `"items":[{"id":"v","continue_selling":true,"available":{"A":-5}}]`),
			want:   orderedQuantities{{"alpha", 999_999}, {"beta", 0}},
		},
		{
			name:   "max_quantity defaults to 999999: the cap",
			server: s,
			body:   body(seedShop, `"items":[{"id":"v","available":{"A":1000000,"B":5}}]`),
			want:   orderedQuantities{{"alpha", 999_999}, {"beta", 0}},
		},
		{
			name:   "the default max_quantity is the server's configured one",
			server: lowMax,
			body:   body(seedShop, `"items":[{"id":"v","tracked":false}]`),
			want:   orderedQuantities{{"alpha", 99_999}, {"beta", 0}},
		},
		{
			name:   "a request's max_quantity overrides the server's",
			server: lowMax,
			body:   body(`"settings":{"max_quantity":999999}`, seedShop, `"items":[{"id":"v","tracked":false}]`),
			want:   orderedQuantities{{"alpha", 999_999}, {"beta", 0}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkQuantities(t, tt.server.compute(t, "", tt.body), tt.want)
		})
	}
}

func TestComputeRules(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{})
	const abc = `"locations":[{"id":"A"},{"id":"B"},{"id":"C"}],"warehouses":[{"id":"alpha","default":true},{"id":"beta"}]`
	item := func(members string) string { return `"items":[{"id":"v",` + members + `}]` }
	tests := []struct {
		name string
		body string
		want orderedQuantities
	}{
		{
			name: "negative stock is summed",
			body: body(seedShop, item(`"available":{"A":-50,"B":100}`)),
			want: orderedQuantities{{"alpha", 50}, {"beta", 0}},
		},
		{
			name: "only the total is clamped at 0",
			body: body(seedShop, item(`"available":{"A":-500,"B":100}`)),
			want: orderedQuantities{{"alpha", 0}, {"beta", 0}},
		},
		{
			name: "the percentage applies to the total, not per location",
			body: body(`"settings":{"percentage":50}`, seedShop, item(`"available":{"A":1,"B":1}`)),
			want: orderedQuantities{{"alpha", 1}, {"beta", 0}},
		},
		{
			name: "two decimals, rounded down",
			body: body(`"settings":{"percentage":33.33}`, seedShop, item(`"available":{"A":100,"B":200}`)),
			want: orderedQuantities{{"alpha", 99}, {"beta", 0}},
		},
		{
			name: "never rounded up",
			body: body(`"settings":{"percentage":99.99}`, seedShop, item(`"available":{"A":1}`)),
			want: orderedQuantities{{"alpha", 0}, {"beta", 0}},
		},
		{
			name: "0%",
			body: body(`"settings":{"percentage":0}`, seedShop, item(`"available":{"A":100}`)),
			want: orderedQuantities{{"alpha", 0}, {"beta", 0}},
		},
		{
			name: "capped at max_quantity",
			body: body(`"settings":{"max_quantity":10}`, seedShop, item(`"available":{"A":500}`)),
			want: orderedQuantities{{"alpha", 10}, {"beta", 0}},
		},
		{
			name: "several locations feed one warehouse",
			body: body(`"settings":{"percentage":80,"mappings":[{"location":"A","warehouse":"alpha"},{"location":"B","warehouse":"alpha"},{"location":"C","warehouse":"beta"}]}`,
				abc, item(`"available":{"A":10,"B":20,"C":5}`)),
			want: orderedQuantities{{"alpha", 24}, {"beta", 4}},
		},
		{
			name: "null and absent available count as nothing",
			body: body(`"locations":[{"id":"A"},{"id":"B"},{"id":"C"}],"warehouses":[{"id":"alpha","default":true}]`,
				item(`"available":{"A":null,"B":7}`)),
			want: orderedQuantities{{"alpha", 7}},
		},
		{
			name: "an untracked item gets max_quantity only where an active location feeds",
			body: body(`"settings":{"max_quantity":500,"mappings":[{"location":"A","warehouse":"beta"}]}`, seedShop,
				item(`"tracked":false,"available":{"A":1}`)),
			want: orderedQuantities{{"alpha", 0}, {"beta", 500}},
		},
		{
			name: "a sum beyond int32 is capped, not wrapped",
			body: body(seedShop, item(`"available":{"A":2147483647,"B":2147483647}`)),
			want: orderedQuantities{{"alpha", 999_999}, {"beta", 0}},
		},
		{
			name: "the smallest int32",
			body: body(seedShop, item(`"available":{"A":-2147483648,"B":2147483647}`)),
			want: orderedQuantities{{"alpha", 0}, {"beta", 0}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkQuantities(t, s.compute(t, "", tt.body), tt.want)
		})
	}
}

func TestComputeWarnings(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{})
	tests := []struct {
		name         string
		body         string
		want         orderedQuantities
		wantWarnings []warning // Message is checked to name wantNames
		wantNames    []string
	}{
		{
			name: "none",
			body: body(seedShop, itemsAB),
			want: orderedQuantities{{"alpha", 300}, {"beta", 0}},
		},
		{
			name: "inactive mapped location",
			body: body(`"settings":{"mappings":[{"location":"A","warehouse":"alpha"},{"location":"B","warehouse":"beta"}]}`,
				`"locations":[{"id":"A","active":false},{"id":"B"}],"warehouses":[{"id":"alpha"},{"id":"beta"}]`, itemsAB),
			want:         orderedQuantities{{"alpha", 0}, {"beta", 200}},
			wantWarnings: []warning{{Code: "inactive_location", Field: "/settings/mappings/0"}},
			wantNames:    []string{`"A"`},
		},
		{
			name: "inactive mapped warehouse",
			body: body(`"settings":{"mappings":[{"location":"A","warehouse":"alpha"},{"location":"B","warehouse":"beta"}]}`,
				`"locations":[{"id":"A"},{"id":"B"}],"warehouses":[{"id":"alpha"},{"id":"beta","active":false}]`, itemsAB),
			want:         orderedQuantities{{"alpha", 100}},
			wantWarnings: []warning{{Code: "inactive_warehouse", Field: "/settings/mappings/1"}},
			wantNames:    []string{`"beta"`},
		},
		{
			name: "every location to a warehouse when none is active",
			body: body(`"settings":{"mappings":[{"location":"*","warehouse":"alpha"}]}`,
				`"locations":[{"id":"A","active":false},{"id":"B","active":false}],"warehouses":[{"id":"alpha"},{"id":"beta"}]`, itemsAB),
			want:         orderedQuantities{{"alpha", 0}, {"beta", 0}},
			wantWarnings: []warning{{Code: "no_active_location", Field: "/settings/mappings/0"}},
			wantNames:    []string{`"alpha"`},
		},
		{
			name:         "the default mapping when no location is active",
			body:         body(`"locations":[{"id":"A","active":false}],"warehouses":[{"id":"alpha","default":true}]`, `"items":[{"id":"v","available":{"A":100}}]`),
			want:         orderedQuantities{{"alpha", 0}},
			wantWarnings: []warning{{Code: "no_active_location", Field: "/settings/mappings"}},
			wantNames:    []string{`"alpha"`},
		},
		{
			name: "inactive location and inactive warehouse together",
			body: body(`"settings":{"mappings":[{"location":"A","warehouse":"alpha"},{"location":"B","warehouse":"beta"},{"location":"C","warehouse":"gamma"}]}`,
				`"locations":[{"id":"A"},{"id":"B","active":false},{"id":"C"}],"warehouses":[{"id":"alpha"},{"id":"beta"},{"id":"gamma","active":false}]`,
				`"items":[{"id":"v","available":{"A":1,"B":2,"C":3}}]`),
			want: orderedQuantities{{"alpha", 1}, {"beta", 0}},
			wantWarnings: []warning{
				{Code: "inactive_location", Field: "/settings/mappings/1"},
				{Code: "inactive_warehouse", Field: "/settings/mappings/2"},
			},
			wantNames: []string{`"B"`, `"gamma"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := s.compute(t, "", tt.body)
			checkQuantities(t, resp, tt.want)
			if resp.Warnings == nil {
				t.Fatal("warnings absent, want an array")
			}
			if len(resp.Warnings) != len(tt.wantWarnings) {
				t.Fatalf("warnings %+v, want %+v", resp.Warnings, tt.wantWarnings)
			}
			for i, w := range resp.Warnings {
				want := tt.wantWarnings[i]
				if w.Code != want.Code || w.Field != want.Field || !hasText(t, w.Message, tt.wantNames[i]) {
					t.Errorf("warning %d: %+v, want code %s, field %s, a message naming %s", i, w, want.Code, want.Field, tt.wantNames[i])
				}
			}
		})
	}
}

func TestComputeOrder(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{})
	// Warehouses in an order that is not sorted, two of them inactive: the
	// quantities have the active ones, in request order.
	const shop = `"locations":[{"id":"A"}],"warehouses":[{"id":"zeta"},{"id":"alpha","active":false},{"id":"mu","default":true},{"id":"beta","active":false}]`
	const n = 200
	var items []string
	var want []orderedQuantities
	var ids []string
	for i := range n {
		id := fmt.Sprintf("gid://shopify/ProductVariant/%d", 40000000000000+(i*7919)%n) // a permutation of 0..n-1
		avail := (i * 37) % 1000
		ids = append(ids, id)
		items = append(items, fmt.Sprintf(`{"id":%q,"available":{"A":%d}}`, id, avail))
		want = append(want, orderedQuantities{{"zeta", 0}, {"mu", int64(avail)}})
	}
	if slices.IsSorted(ids) {
		t.Fatal("the ids are sorted: the test would not see a reordering")
	}
	resp := s.compute(t, "", body(shop, `"items":[`+strings.Join(items, ",")+`]`))
	if len(resp.Items) != n {
		t.Fatalf("%d items, want %d", len(resp.Items), n)
	}
	for i, it := range resp.Items {
		if it.ID != ids[i] || !slices.Equal(it.Quantities, want[i]) {
			t.Errorf("item %d: %s %v, want %s %v", i, it.ID, it.Quantities, ids[i], want[i])
		}
	}
}

func TestComputeExplain(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{})
	req := body(`"settings":{"percentage":80}`,
		`"locations":[{"id":"A"}],"warehouses":[{"id":"alpha","default":true},{"id":"beta"}]`,
		`"items":[{"id":"v","available":{"A":985}}]`)
	want := orderedQuantities{{"alpha", 788}, {"beta", 0}}
	tests := []struct {
		name      string
		query     string
		wantTrace bool
	}{
		{"no query", "", false},
		{"explain=false", "?explain=false", false},
		{"explain=true", "?explain=true", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := s.compute(t, tt.query, req)
			if len(resp.Items) != 1 {
				t.Fatalf("%d items, want 1", len(resp.Items))
			}
			it := resp.Items[0]
			if !slices.Equal(it.Quantities, want) {
				t.Errorf("quantities %v, want %v", it.Quantities, want)
			}
			if !tt.wantTrace {
				if it.Trace != nil {
					t.Errorf("trace %+v, want none", it.Trace)
				}
				return
			}
			if len(it.Trace) != 1 {
				t.Fatalf("trace %+v, want one stage", it.Trace)
			}
			st := it.Trace[0]
			if st.Stage != "default" || !slices.Equal(st.Quantities, want) {
				t.Errorf("stage %q with quantities %v, want default with %v", st.Stage, st.Quantities, want)
			}
			wantNotes := map[string]map[string]string{
				"alpha": {
					"basis": `"available"`, "available": `{"A":985}`, "sum": "985", "total": "985",
					"percentage": `"80"`, "exact": `"788"`, "floor": "788", "max_quantity": "999999", "capped": "false",
				},
				"beta": {"basis": `"unmapped"`},
			}
			if len(st.Warehouses) != len(wantNotes) {
				t.Errorf("notes on %d warehouses, want %d: %s", len(st.Warehouses), len(wantNotes), st.Warehouses)
			}
			for wh, attrs := range wantNotes {
				got := st.Warehouses[wh]
				if len(got) != len(attrs) {
					t.Errorf("%s: notes %s, want %v", wh, got, attrs)
				}
				for k, v := range attrs {
					if string(got[k]) != v {
						t.Errorf("%s.%s = %s, want %s", wh, k, got[k], v)
					}
				}
			}
		})
	}
}

func TestHealthz(t *testing.T) {
	r := loadRule(t)
	s := newServer(t, r, serverConfig{})
	sum := sha256.Sum256(r.wasm)

	ex := s.do(t, http.MethodGet, "/healthz", "", "")
	if ex.status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", ex.status, ex.body)
	}
	var health struct {
		Status      string `json:"status"`
		Version     string `json:"version"`
		DefaultRule struct {
			SHA256     string `json:"sha256"`
			ABIVersion uint32 `json:"abi_version"`
		} `json:"default_rule"`
	}
	decodeStrict(t, ex.body, &health)
	if health.Status != "ok" || health.Version != "test" {
		t.Errorf("status %q, version %q; want ok, test", health.Status, health.Version)
	}
	if want := hex.EncodeToString(sum[:]); health.DefaultRule.SHA256 != want {
		t.Errorf("sha256 %s, want the module's %s", health.DefaultRule.SHA256, want)
	}
	if health.DefaultRule.ABIVersion != abi.Version {
		t.Errorf("abi_version %d, want %d", health.DefaultRule.ABIVersion, abi.Version)
	}

	s.handler.Drain()
	ex = s.do(t, http.MethodGet, "/healthz", "", "")
	if ex.status != http.StatusServiceUnavailable || string(ex.body) != `{"status":"draining"}` {
		t.Errorf("after Drain: %d %s, want 503 {\"status\":\"draining\"}", ex.status, ex.body)
	}
	// Draining only turns the load balancer away: requests still in
	// flight or still arriving are served.
	checkQuantities(t, s.compute(t, "", body(seedShop, itemsAB)), orderedQuantities{{"alpha", 300}, {"beta", 0}})
}

func TestUnknownRoutes(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{})
	tests := []struct {
		name      string
		method    string
		path      string
		status    int
		wantAllow string
	}{
		{"unknown path", http.MethodGet, "/v2/compute", http.StatusNotFound, ""},
		{"unknown path, POST", http.MethodPost, "/compute", http.StatusNotFound, ""},
		{"GET compute", http.MethodGet, "/v1/compute", http.StatusMethodNotAllowed, "POST"},
		{"POST healthz", http.MethodPost, "/healthz", http.StatusMethodNotAllowed, "GET"},
		{"DELETE openapi.json", http.MethodDelete, "/openapi.json", http.StatusMethodNotAllowed, "GET"},
		// Not redirected to the path without the slash.
		{"healthz with a trailing slash", http.MethodGet, "/healthz/", http.StatusNotFound, ""},
		{"compute with a trailing slash", http.MethodPost, "/v1/compute/", http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex := s.do(t, tt.method, tt.path, "", "")
			p := problemOf(t, ex, tt.status)
			if !hasText(t, p.Detail, tt.path) {
				t.Errorf("detail %q does not name %s", p.Detail, tt.path)
			}
			if got := ex.header.Get("Allow"); !sameMethods(got, tt.wantAllow) {
				t.Errorf("Allow %q, want %q", got, tt.wantAllow)
			}
		})
	}
}

func TestComputeExactNumbers(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{})
	const shop = `"locations":[{"id":"A"}],"warehouses":[{"id":"alpha","default":true}]`
	t.Run("999999 and 2147483647 survive exactly", func(t *testing.T) {
		resp := s.compute(t, "?explain=true", body(`"settings":{"max_quantity":999999}`, shop,
			`"items":[{"id":"v","available":{"A":2147483647}}]`))
		if len(resp.Items) != 1 || len(resp.Items[0].Trace) != 1 {
			t.Fatalf("want one item with one stage: %+v", resp.Items)
		}
		it := resp.Items[0]
		if !slices.Equal(it.Quantities, orderedQuantities{{"alpha", 999_999}}) {
			t.Errorf("quantities %v, want alpha 999999", it.Quantities)
		}
		notes := it.Trace[0].Warehouses["alpha"]
		for k, want := range map[string]string{
			"available": `{"A":2147483647}`, "sum": "2147483647", "total": "2147483647", "exact": `"2147483647"`,
			"floor": "2147483647", "max_quantity": "999999", "capped": "true",
		} {
			if string(notes[k]) != want {
				t.Errorf("alpha.%s = %s, want %s", k, notes[k], want)
			}
		}
	})
	tests := []struct {
		name string
		body string
		want int64
	}{
		{"max_quantity 1e2", body(`"settings":{"max_quantity":1e2}`, shop, `"items":[{"id":"v","tracked":false}]`), 100},
		{"max_quantity 1E+2", body(`"settings":{"max_quantity":1E+2}`, shop, `"items":[{"id":"v","tracked":false}]`), 100},
		{"max_quantity 100.0", body(`"settings":{"max_quantity":100.0}`, shop, `"items":[{"id":"v","tracked":false}]`), 100},
		{"available 1e2", body(shop, `"items":[{"id":"v","available":{"A":1e2}}]`), 100},
		{"available 12.50e1", body(shop, `"items":[{"id":"v","available":{"A":12.50e1}}]`), 125},
		{"percentage 1e2", body(`"settings":{"percentage":1e2}`, shop, `"items":[{"id":"v","available":{"A":7}}]`), 7},
		{"percentage 3333e-2", body(`"settings":{"percentage":3333e-2}`, shop, `"items":[{"id":"v","available":{"A":300}}]`), 99},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkQuantities(t, s.compute(t, "", tt.body), orderedQuantities{{"alpha", tt.want}})
		})
	}
}

// runnerFunc is a compute.Runner that is not the default rule, for the
// failures the real one does not have.
type runnerFunc func(ctx context.Context, input []byte, read func(output []byte) error) error

func (f runnerFunc) Call(ctx context.Context, input []byte, read func(output []byte) error) error {
	return f(ctx, input, read)
}

func TestComputeServerErrors(t *testing.T) {
	r := loadRule(t)
	closed := loadRule(t)
	tests := []struct {
		name       string
		cfg        serverConfig
		prepare    func(t *testing.T)
		status     int
		wantDetail string
	}{
		{
			name: "the rule fails",
			cfg: serverConfig{runner: runnerFunc(func(context.Context, []byte, func([]byte) error) error {
				return errors.New("out of luck")
			})},
			status:     http.StatusInternalServerError,
			wantDetail: "The default rule failed: out of luck",
		},
		{
			name: "the rule breaks the output contract",
			cfg: serverConfig{runner: runnerFunc(func(_ context.Context, _ []byte, read func([]byte) error) error {
				return read([]byte("not an output"))
			})},
			status:     http.StatusInternalServerError,
			wantDetail: "The default rule failed",
		},
		{
			name: "no instance in time",
			cfg: serverConfig{computeTimeout: time.Millisecond, runner: runnerFunc(func(ctx context.Context, _ []byte, _ func([]byte) error) error {
				<-ctx.Done()
				return ctx.Err()
			})},
			status:     http.StatusServiceUnavailable,
			wantDetail: "busy",
		},
		{
			name: "the module is closed",
			cfg:  serverConfig{runner: closed.module},
			prepare: func(t *testing.T) {
				if err := closed.module.Close(context.Background()); err != nil {
					t.Fatal(err)
				}
			},
			status:     http.StatusServiceUnavailable,
			wantDetail: "shutting down",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, r, tt.cfg)
			if tt.prepare != nil {
				tt.prepare(t)
			}
			p := problemOf(t, s.post(t, "/v1/compute", body(seedShop, itemsAB)), tt.status)
			if !hasText(t, p.Detail, tt.wantDetail) {
				t.Errorf("detail %q, want it to contain %q", p.Detail, tt.wantDetail)
			}
		})
	}
}

// TestComputeResponseBytes checks the response bytes themselves: compact
// JSON, members in the documented order, nothing after the object.
func TestComputeResponseBytes(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{})
	ex := s.post(t, "/v1/compute", body(seedShop, itemsAB))
	want := `{"items":[{"id":"gid://shopify/ProductVariant/40000000000123","quantities":{"alpha":300,"beta":0}}],"warnings":[]}`
	if string(ex.body) != want {
		t.Errorf("body\n%s\nwant\n%s", ex.body, want)
	}
}
