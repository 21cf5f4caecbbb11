package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

// seedShopBody is the product page's example shop: locations A and B, pickup
// warehouses alpha (the default) and beta.
const seedShopBody = `{"name":"Seed","locations":[{"id":"A"},{"id":"B"}],` +
	`"warehouses":[{"id":"alpha","default":true},{"id":"beta"}]}`

// putShop creates or replaces a shop as admin, which must succeed.
func (s *server) putShop(tb testing.TB, id, body string) shopDoc {
	tb.Helper()
	ex := s.as(testAdminToken).do(tb, http.MethodPut, "/v1/shops/"+id, "application/json", body)
	if ex.status != http.StatusCreated && ex.status != http.StatusOK {
		tb.Fatalf("PUT /v1/shops/%s: %d %s", id, ex.status, ex.body)
	}
	var doc shopDoc
	decodeStrict(tb, ex.body, &doc)
	return doc
}

// putSettings stores settings as the server's token, which must succeed.
func (s *server) putSettings(tb testing.TB, shop, settings string) settingsDoc {
	tb.Helper()
	ex := s.do(tb, http.MethodPut, "/v1/shops/"+shop+"/settings", "application/json", settings)
	if ex.status != http.StatusOK {
		tb.Fatalf("PUT settings of %s: %d %s", shop, ex.status, ex.body)
	}
	var doc settingsDoc
	decodeStrict(tb, ex.body, &doc)
	return doc
}

// createToken creates a token with scopes through the API.
func (s *server) createToken(tb testing.TB, scopes ...string) string {
	tb.Helper()
	body, _ := json.Marshal(map[string]any{"name": "test", "scopes": scopes})
	ex := s.as(testAdminToken).post(tb, "/v1/tokens", string(body))
	if ex.status != http.StatusCreated {
		tb.Fatalf("POST /v1/tokens %v: %d %s", scopes, ex.status, ex.body)
	}
	var doc struct {
		ID, Name, Token string
		Scopes          []string
		Created         string
	}
	decodeStrict(tb, ex.body, &doc)
	return doc.Token
}

type shopDoc struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	ShopifyDomain string `json:"shopify_domain"`
	Locations     []struct {
		ID     string `json:"id"`
		Active bool   `json:"active"`
	} `json:"locations"`
	Warehouses []struct {
		ID      string `json:"id"`
		Active  bool   `json:"active"`
		Default bool   `json:"default"`
	} `json:"warehouses"`
	Connected bool   `json:"connected"`
	Created   string `json:"created"`
	Updated   string `json:"updated"`
}

type settingsDoc struct {
	Version  int64           `json:"version"`
	Settings json.RawMessage `json:"settings"`
	Created  string          `json:"created"`
	Token    string          `json:"token"`
}

func TestShopLifecycle(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{})

	shop := s.putShop(t, "seed.myshopify.com", seedShopBody)
	if shop.ID != "seed.myshopify.com" || shop.Name != "Seed" || len(shop.Locations) != 2 || !shop.Locations[0].Active ||
		len(shop.Warehouses) != 2 || !shop.Warehouses[0].Default || shop.Warehouses[1].Default {
		t.Fatalf("created shop %+v", shop)
	}
	ex := s.do(t, http.MethodPut, "/v1/shops/seed.myshopify.com", "application/json", seedShopBody)
	if ex.status != http.StatusOK {
		t.Fatalf("replacing the shop: %d %s", ex.status, ex.body)
	}
	ex = s.do(t, http.MethodGet, "/v1/shops", "", "")
	var list struct{ Shops []shopDoc }
	decodeStrict(t, ex.body, &list)
	if len(list.Shops) != 1 || list.Shops[0].ID != "seed.myshopify.com" {
		t.Fatalf("GET /v1/shops: %s", ex.body)
	}

	// No settings yet: version 0, the defaults.
	ex = s.do(t, http.MethodGet, "/v1/shops/seed.myshopify.com/settings", "", "")
	if ex.status != http.StatusOK || ex.header.Get("ETag") != `"0"` || !strings.Contains(string(ex.body), `"settings":{}`) {
		t.Fatalf("settings before any: %d %s %s", ex.status, ex.header.Get("ETag"), ex.body)
	}

	// The seed: 985 x 80% = 788 at alpha, beta unmapped gets 0.
	items := `{"items":[{"id":"v1","available":{"A":985}},{"id":"v2","available":{"A":100,"B":200}}]}`
	v1 := s.putSettings(t, "seed.myshopify.com", `{"percentage":80,"mappings":[{"location":"A","warehouse":"alpha"}]}`)
	if v1.Version != 1 || v1.Token != "env" {
		t.Fatalf("first settings: %+v", v1)
	}
	got := s.shopCompute(t, "seed.myshopify.com", items)
	if q := got.Items[0].Quantities; !reflect.DeepEqual(q, orderedQuantities{{"alpha", 788}, {"beta", 0}}) {
		t.Errorf("v1 quantities %v, want alpha 788, beta 0", q)
	}
	// The stored compute is the inline compute with the stored state.
	inline := s.compute(t, "", `{"settings":{"percentage":80,"mappings":[{"location":"A","warehouse":"alpha"}]},`+
		`"locations":[{"id":"A"},{"id":"B"}],"warehouses":[{"id":"alpha","default":true},{"id":"beta"}],`+strings.TrimPrefix(items, "{"))
	if !reflect.DeepEqual(got, inline) {
		t.Errorf("stored compute %+v\ninline compute %+v", got, inline)
	}

	// A version check: a stale ETag is 412 and changes nothing.
	ex = s.do(t, http.MethodGet, "/v1/shops/seed.myshopify.com/settings", "", "")
	tag := ex.header.Get("ETag")
	if tag != `"1"` {
		t.Fatalf("ETag %q, want \"1\"", tag)
	}
	req, _ := http.NewRequest(http.MethodPut, s.url+"/v1/shops/seed.myshopify.com/settings", strings.NewReader(`{"percentage":50}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	req.Header.Set("If-Match", `"0"`)
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusPreconditionFailed {
		t.Errorf("stale If-Match: %d, want 412", resp.StatusCode)
	}
	req.Body = http.NoBody
	req, _ = http.NewRequest(http.MethodPut, s.url+"/v1/shops/seed.myshopify.com/settings", strings.NewReader(`{"percentage":50}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	req.Header.Set("If-Match", tag)
	if resp, err = s.client.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") != `"2"` {
		t.Errorf("current If-Match: %d ETag %q, want 200 \"2\"", resp.StatusCode, resp.Header.Get("ETag"))
	}

	// Settings that break the shop's rules are refused at their field,
	// relative to the body, and nothing is stored.
	ex = s.do(t, http.MethodPut, "/v1/shops/seed.myshopify.com/settings", "application/json",
		`{"percentage":101,"mappings":[{"location":"Z","warehouse":"alpha"}]}`)
	p := problemOf(t, ex, http.StatusUnprocessableEntity)
	if fields := p.fields(); !slices.Contains(fields, "/percentage") || !slices.Contains(fields, "/mappings/0/location") {
		t.Errorf("invalid settings: fields %v, want /percentage and /mappings/0/location", fields)
	}

	// History, newest first, with paging.
	ex = s.do(t, http.MethodGet, "/v1/shops/seed.myshopify.com/settings/history", "", "")
	var hist struct{ History []settingsDoc }
	decodeStrict(t, ex.body, &hist)
	if len(hist.History) != 2 || hist.History[0].Version != 2 || hist.History[1].Version != 1 ||
		string(hist.History[0].Settings) != `{"percentage":50}` {
		t.Fatalf("history: %s", ex.body)
	}
	ex = s.do(t, http.MethodGet, "/v1/shops/seed.myshopify.com/settings/history?before=2&limit=1", "", "")
	decodeStrict(t, ex.body, &hist)
	if len(hist.History) != 1 || hist.History[0].Version != 1 {
		t.Fatalf("history before 2: %s", ex.body)
	}
	problemOf(t, s.do(t, http.MethodGet, "/v1/shops/seed.myshopify.com/settings/history?limit=0", "", ""), http.StatusBadRequest)

	// A shop change that would break the settings is refused: 409 names
	// the settings field.
	s.putSettings(t, "seed.myshopify.com", `{"mappings":[{"location":"B","warehouse":"beta"}]}`)
	ex = s.do(t, http.MethodPut, "/v1/shops/seed.myshopify.com", "application/json",
		`{"locations":[{"id":"A"}],"warehouses":[{"id":"alpha","default":true},{"id":"beta"}]}`)
	p = problemOf(t, ex, http.StatusConflict)
	if !slices.Contains(p.fields(), "/mappings/0/location") {
		t.Errorf("shop change breaking settings: %s", ex.body)
	}

	// Delete takes everything with it.
	if ex = s.do(t, http.MethodDelete, "/v1/shops/seed.myshopify.com", "", ""); ex.status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", ex.status, ex.body)
	}
	for _, path := range []string{"", "/settings", "/settings/history", "/credentials"} {
		problemOf(t, s.do(t, http.MethodGet, "/v1/shops/seed.myshopify.com"+path, "", ""), http.StatusNotFound)
	}
}

// shopCompute posts items to a shop's compute, which must succeed.
func (s *server) shopCompute(tb testing.TB, shop, body string) computeResponse {
	tb.Helper()
	ex := s.post(tb, "/v1/shops/"+shop+"/compute", body)
	if ex.status != http.StatusOK {
		tb.Fatalf("POST /v1/shops/%s/compute: %d %s", shop, ex.status, ex.body)
	}
	var resp computeResponse
	decodeStrict(tb, ex.body, &resp)
	return resp
}

func TestShopValidation(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{})
	tests := []struct {
		name, id, body string
		status         int
		fields         []string
	}{
		{"an upper-case id", "Seed", seedShopBody, 422, []string{"shop"}},
		{"a domain that is not myshopify.com", "s", `{"shopify_domain":"acme.example.com"}`, 422, []string{"/shopify_domain"}},
		{"a domain with a path", "s", `{"shopify_domain":"acme.myshopify.com/admin"}`, 422, []string{"/shopify_domain"}},
		{"two defaults", "s", `{"locations":[],"warehouses":[{"id":"a","default":true},{"id":"b","default":true}]}`, 422, []string{"/warehouses/1/default"}},
		{"a duplicate location", "s", `{"locations":[{"id":"A"},{"id":"A"}],"warehouses":[]}`, 422, []string{"/locations/1/id"}},
		{"an unknown member", "s", `{"locations":[],"warehouses":[],"owner":"x"}`, 400, []string{"/owner"}},
		{"not JSON", "s", `{"locations":`, 400, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := problemOf(t, s.do(t, http.MethodPut, "/v1/shops/"+tt.id, "application/json", tt.body), tt.status)
			for _, f := range tt.fields {
				if !slices.Contains(p.fields(), f) {
					t.Errorf("fields %v, want %s", p.fields(), f)
				}
			}
		})
	}
	ex := s.do(t, http.MethodGet, "/v1/shops", "", "")
	if !strings.Contains(string(ex.body), `"shops":[]`) {
		t.Errorf("a refused shop was stored: %s", ex.body)
	}
}

// TestConcurrentSettings: writers racing on one shop each get their own
// version; none is lost, and the current settings are the last version.
func TestConcurrentSettings(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{})
	s.putShop(t, "race", seedShopBody)
	const writers, each = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				body := fmt.Sprintf(`{"percentage":%d}`, w*each+i)
				ex, err := s.try(http.MethodPut, "/v1/shops/race/settings", "application/json", strings.NewReader(body))
				if err == nil && ex.status != http.StatusOK {
					err = fmt.Errorf("PUT %s: %d %s", body, ex.status, ex.body)
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	ex := s.do(t, http.MethodGet, "/v1/shops/race/settings/history?limit=100", "", "")
	var hist struct{ History []settingsDoc }
	decodeStrict(t, ex.body, &hist)
	seen := map[string]bool{}
	for i, h := range hist.History {
		if want := int64(writers*each - i); h.Version != want {
			t.Errorf("history[%d] is version %d, want %d", i, h.Version, want)
		}
		seen[string(h.Settings)] = true
	}
	for n := range writers * each {
		if !seen[fmt.Sprintf(`{"percentage":%d}`, n)] {
			t.Errorf("percentage %d was lost", n)
		}
	}
	ex = s.do(t, http.MethodGet, "/v1/shops/race/settings", "", "")
	var cur settingsDoc
	decodeStrict(t, ex.body, &cur)
	if len(hist.History) > 0 && (cur.Version != hist.History[0].Version || string(cur.Settings) != string(hist.History[0].Settings)) {
		t.Errorf("current %+v is not the newest version %+v", cur, hist.History[0])
	}
}

// TestTextNoEngineStores: names with control characters are refused, and
// ids no engine can store (a NUL) are simply not found, on SQLite and on
// PostgreSQL alike: never a 500 from the database.
func TestTextNoEngineStores(t *testing.T) {
	for _, db := range testDatabases(t) {
		t.Run(db.name, func(t *testing.T) {
			s := newServer(t, loadRule(t), serverConfig{store: db.open(t)})
			p := problemOf(t, s.do(t, "PUT", "/v1/shops/ok", "application/json",
				`{"name":"a\u0000b","locations":[],"warehouses":[]}`), http.StatusUnprocessableEntity)
			if !slices.Contains(p.fields(), "/name") {
				t.Errorf("a NUL in a shop name: %+v", p)
			}
			problemOf(t, s.post(t, "/v1/tokens", `{"name":"\u001b[31mred","scopes":["admin"]}`), http.StatusUnprocessableEntity)
			for _, path := range []string{"/v1/shops/a%00b", "/v1/shops/a%00b/settings", "/v1/shops/a%00b/credentials", "/v1/shops/a%00b/settings/history"} {
				problemOf(t, s.do(t, "GET", path, "", ""), http.StatusNotFound)
			}
			problemOf(t, s.do(t, "DELETE", "/v1/shops/a%00b", "", ""), http.StatusNotFound)
			problemOf(t, s.do(t, "DELETE", "/v1/tokens/tok_%00", "", ""), http.StatusNotFound)
			problemOf(t, s.do(t, "PUT", "/v1/shops/a%00b", "application/json", seedShopBody), http.StatusUnprocessableEntity)
			// Location and warehouse ids are shown to merchants and sent to
			// the platforms: control characters and NUL are refused.
			p = problemOf(t, s.do(t, "PUT", "/v1/shops/nul-loc", "application/json",
				`{"locations":[{"id":"A\u0000"}],"warehouses":[{"id":"w\u001b","default":true}]}`), http.StatusUnprocessableEntity)
			if !slices.Contains(p.fields(), "/locations/0/id") || !slices.Contains(p.fields(), "/warehouses/0/id") {
				t.Errorf("control characters in ids: %+v", p)
			}
		})
	}
}

// TestShopOptionalFields: a shop may be created without locations and
// warehouses; shopify_domain, locations and warehouses left out or null
// keep what the shop has, "" removes the domain.
func TestShopOptionalFields(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{})
	steps := []struct {
		name, body string
		// want is the shop after the step: its domain and how many
		// locations and warehouses it has.
		domain                string
		locations, warehouses int
	}{
		{"created with a name alone", `{"name":"Acme"}`, "", 0, 0},
		{"a domain, in any case", `{"shopify_domain":"Acme-Store.MyShopify.com"}`, "acme-store.myshopify.com", 0, 0},
		{"locations and warehouses", seedShopBody, "acme-store.myshopify.com", 2, 2},
		{"left out: kept", `{"name":"Acme"}`, "acme-store.myshopify.com", 2, 2},
		{"null: kept", `{"shopify_domain":null,"locations":null,"warehouses":null}`, "acme-store.myshopify.com", 2, 2},
		{"empty: removed", `{"shopify_domain":"","locations":[],"warehouses":[]}`, "", 0, 0},
	}
	for _, st := range steps {
		got := s.putShop(t, "acme", st.body)
		if got.ShopifyDomain != st.domain || len(got.Locations) != st.locations || len(got.Warehouses) != st.warehouses || got.Connected {
			t.Errorf("%s: %+v; want domain %q, %d locations, %d warehouses, not connected", st.name, got, st.domain, st.locations, st.warehouses)
		}
	}
}
