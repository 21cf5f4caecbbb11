package httpapi_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestShopWithoutSettings: a shop with no settings whose warehouses have
// no default has nothing to compute with. Its compute says exactly that
// (not that stored settings do not validate, since none are stored), and
// its preview tries a first set of settings.
func TestShopWithoutSettings(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{})
	const id = "acme.myshopify.com"
	s.putShop(t, id, `{"locations":[{"id":"A"}],"warehouses":[{"id":"alpha"},{"id":"beta"}]}`)
	items := `[{"id":"v-1","available":{"A":100}},{"id":"v-2","available":{"A":7}}]`

	p := problemOf(t, s.post(t, "/v1/shops/"+id+"/compute", `{"items":`+items+`}`), http.StatusConflict)
	if p.Type != "/problems/no-settings" || len(p.Errors) != 0 {
		t.Errorf("compute without settings: %+v, want a no-settings problem without field errors", p)
	}
	for _, want := range []string{`Shop "acme.myshopify.com" has no settings`, "none of its warehouses is the default",
		"PUT /v1/shops/acme.myshopify.com/settings", "preview"} {
		if !strings.Contains(p.Detail, want) {
			t.Errorf("compute without settings: detail %q, want it to say %q", p.Detail, want)
		}
	}

	ex := s.post(t, "/v1/shops/"+id+"/preview", `{"settings":{"mappings":[{"location":"A","warehouse":"beta"}]},"items":`+items+`}`)
	if ex.status != http.StatusOK {
		t.Fatalf("first preview: %d %s", ex.status, ex.body)
	}
	var pv previewDoc
	decodeStrict(t, ex.body, &pv)
	for _, it := range pv.Items {
		if it.Current.Error == nil || it.Current.Error.Code != "no_settings" || !it.Changed {
			t.Errorf("item %s: current %+v, changed %t; want a no_settings error, changed", it.ID, it.Current, it.Changed)
		}
		if len(it.Proposed.Quantities) != 2 || it.Proposed.Error != nil {
			t.Errorf("item %s: proposed %+v, want the quantities of both warehouses", it.ID, it.Proposed)
		}
	}
	if pv.Summary.Items != 2 || pv.Summary.Changed != 2 || pv.Summary.Failed.Current != 2 || pv.Summary.Failed.Proposed != 0 {
		t.Errorf("first preview summary %+v", pv.Summary)
	}

	// Proposed settings that do not work either are the caller's 422.
	bad := s.post(t, "/v1/shops/"+id+"/preview", `{"settings":{},"items":`+items+`}`)
	if p := problemOf(t, bad, http.StatusUnprocessableEntity); !slices.Equal(p.fields(), []string{"/settings/mappings"}) {
		t.Errorf("first preview of settings without mappings: fields %v, want /settings/mappings", p.fields())
	}

	s.putSettings(t, id, `{"mappings":[{"location":"A","warehouse":"beta"}]}`)
	if resp := s.shopCompute(t, id, `{"items":`+items+`}`); len(resp.Items) != 2 || resp.Items[0].Error != nil {
		t.Errorf("compute once settings are saved: %+v", resp)
	}

	// A default warehouse is enough: the default settings map every
	// location to it.
	s.putShop(t, "withdefault", `{"locations":[{"id":"A"}],"warehouses":[{"id":"alpha","default":true}]}`)
	s.shopCompute(t, "withdefault", `{"items":`+items+`}`)
}

// TestProblemTypesSayWhatIsWrong: a token, credentials or a shop that is
// not valid has a problem type and title of its own, not those of a
// compute request that breaks the inventory rules.
func TestProblemTypesSayWhatIsWrong(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{})
	s.putShop(t, "acme", seedShopBody)
	for _, tt := range []struct {
		name, method, path, body string
		wantType, wantTitle      string
		wantField                string
	}{
		{"token scope", http.MethodPost, "/v1/tokens", `{"scopes":["shop:"]}`,
			"/problems/invalid-token", "The token's name or scopes are not valid", "/scopes/0"},
		{"credential", http.MethodPut, "/v1/shops/acme/credentials", `{"shopify":{"access_token":""}}`,
			"/problems/invalid-credentials", "The credentials are not valid", "/shopify/access_token"},
		{"shop", http.MethodPut, "/v1/shops/acme", `{"locations":[{"id":"A"}],"warehouses":[{"id":"w"},{"id":"w"}]}`,
			"/problems/invalid-shop", "The shop is not valid", "/warehouses/1/id"},
		{"connect", http.MethodPost, "/v1/shops/acme/sync/connect", "",
			"/problems/credentials-refused", "A platform refused the shop's credentials", "/shopify_domain"},
		{"inline compute", http.MethodPost, "/v1/compute", `{"locations":[],"warehouses":[],"items":[{"id":""}]}`,
			"about:blank", "Unprocessable Entity", "/items/0/id"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := problemOf(t, s.do(t, tt.method, tt.path, "application/json", tt.body), http.StatusUnprocessableEntity)
			if p.Type != tt.wantType || p.Title != tt.wantTitle {
				t.Errorf("type %q, title %q; want %q, %q", p.Type, p.Title, tt.wantType, tt.wantTitle)
			}
			if !strings.Contains(strings.Join(p.fields(), " "), tt.wantField) {
				t.Errorf("fields %v, want %s", p.fields(), tt.wantField)
			}
			if tt.wantType != "about:blank" && strings.Contains(p.Detail, "inventory rules") {
				t.Errorf("detail %q speaks of the inventory rules", p.Detail)
			}
		})
	}
}

// timestampRE is the one format of every time in an answer.
var timestampRE = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$`)

// TestTimestampsOneFormat: every time in every answer that has one is RFC
// 3339 in UTC with six fractional digits.
func TestTimestampsOneFormat(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{plugins: newPluginHost(t, pluginHostConfig{})})
	const id = "acme"
	put := func(method, path, body string) exchange {
		ex := s.do(t, method, path, "application/json", body)
		if ex.status >= 300 {
			t.Fatalf("%s %s: %d %s", method, path, ex.status, ex.body)
		}
		return ex
	}
	answers := map[string]exchange{
		"PUT shop":        put(http.MethodPut, "/v1/shops/"+id, seedShopBody),
		"PUT settings":    put(http.MethodPut, "/v1/shops/"+id+"/settings", `{"percentage":80}`),
		"PUT credentials": put(http.MethodPut, "/v1/shops/"+id+"/credentials", `{"shopify":{"access_token":"shpat_x"}}`),
		"POST token":      put(http.MethodPost, "/v1/tokens", `{"scopes":["shop:acme"]}`),
		"PUT plugin":      s.upload(t, "buffer", "1.0.0", pluginModule(t, "buffer")),
	}
	for _, path := range []string{"/v1/shops", "/v1/shops/" + id, "/v1/shops/" + id + "/settings", "/v1/shops/" + id + "/settings/history",
		"/v1/shops/" + id + "/credentials", "/v1/tokens", "/v1/plugins", "/v1/plugins/buffer", "/v1/plugins/buffer/versions/1.0.0"} {
		answers["GET "+path] = put(http.MethodGet, path, "")
	}
	for name, ex := range answers {
		var doc any
		if err := json.Unmarshal(ex.body, &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		times := 0
		walkTimes(doc, func(key, v string) {
			times++
			if !timestampRE.MatchString(v) {
				t.Errorf("%s: %s %q is not RFC 3339 in UTC with six fractional digits", name, key, v)
			}
		})
		if times == 0 {
			t.Errorf("%s: no time in %s", name, ex.body)
		}
	}
}

// walkTimes calls fn with every "created" and "updated" member of doc.
func walkTimes(doc any, fn func(key, v string)) {
	switch d := doc.(type) {
	case map[string]any:
		for k, v := range d {
			if s, ok := v.(string); ok && (k == "created" || k == "updated") {
				fn(k, s)
				continue
			}
			walkTimes(v, fn)
		}
	case []any:
		for _, v := range d {
			walkTimes(v, fn)
		}
	}
}
