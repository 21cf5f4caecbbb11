package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/syncrules/syncrules/host/internal/shop"
)

type previewDoc struct {
	Items []struct {
		ID       string      `json:"id"`
		SKU      string      `json:"sku,omitempty"`
		Current  previewSide `json:"current"`
		Proposed previewSide `json:"proposed"`
		Changed  bool        `json:"changed"`
	} `json:"items"`
	Summary struct {
		Items   int `json:"items"`
		Changed int `json:"changed"`
		Failed  struct {
			Current  int `json:"current"`
			Proposed int `json:"proposed"`
		} `json:"failed"`
		Warehouses map[string]struct {
			Added   int64 `json:"added"`
			Removed int64 `json:"removed"`
		} `json:"warehouses"`
	} `json:"summary"`
	Warnings struct {
		Current  []warning `json:"current"`
		Proposed []warning `json:"proposed"`
	} `json:"warnings"`
}

type previewSide struct {
	Quantities orderedQuantities `json:"quantities"`
	Error      *itemError        `json:"error"`
}

// genShop draws a shop: up to four locations and one to three warehouses,
// any of them inactive.
func genShop(t rapidTB) (body string, locations, warehouses []string) {
	var locs, whs []string
	for i := range rapid.IntRange(0, 4).Draw(t.rt, "locations") {
		id := fmt.Sprintf("L%d", i)
		locations = append(locations, id)
		locs = append(locs, fmt.Sprintf(`{"id":%q,"active":%t}`, id, rapid.IntRange(0, 4).Draw(t.rt, "locActive") > 0))
	}
	def := rapid.IntRange(-1, 2).Draw(t.rt, "default")
	for i := range rapid.IntRange(1, 3).Draw(t.rt, "warehouses") {
		id := fmt.Sprintf("W%d", i)
		warehouses = append(warehouses, id)
		whs = append(whs, fmt.Sprintf(`{"id":%q,"active":%t,"default":%t}`, id, rapid.IntRange(0, 4).Draw(t.rt, "whActive") > 0, i == def))
	}
	return `{"locations":[` + strings.Join(locs, ",") + `],"warehouses":[` + strings.Join(whs, ",") + `]}`, locations, warehouses
}

// genSettings draws settings over the shop's ids; some are invalid (a
// location mapped twice, "*" with others, a percentage out of range).
func genSettings(t rapidTB, name string, locations, warehouses []string) string {
	var parts []string
	if rapid.Bool().Draw(t.rt, name+"HasPercentage") {
		bp := rapid.IntRange(0, 10_050).Draw(t.rt, name+"BasisPoints")
		parts = append(parts, fmt.Sprintf(`"percentage":%d.%02d`, bp/100, bp%100))
	}
	if rapid.Bool().Draw(t.rt, name+"HasMax") {
		parts = append(parts, fmt.Sprintf(`"max_quantity":%d`, rapid.IntRange(1, 999_999).Draw(t.rt, name+"Max")))
	}
	if n := rapid.IntRange(0, 3).Draw(t.rt, name+"Mappings"); n > 0 {
		sources := append([]string{"*"}, locations...)
		var ms []string
		for range n {
			ms = append(ms, fmt.Sprintf(`{"location":%q,"warehouse":%q}`,
				rapid.SampledFrom(sources).Draw(t.rt, name+"From"), rapid.SampledFrom(warehouses).Draw(t.rt, name+"To")))
		}
		parts = append(parts, `"mappings":[`+strings.Join(ms, ",")+`]`)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func genItems(t rapidTB, locations []string) string {
	var items []string
	for i := range rapid.IntRange(0, 5).Draw(t.rt, "items") {
		var avail []string
		for _, l := range locations {
			if rapid.IntRange(0, 3).Draw(t.rt, "stocked") > 0 {
				avail = append(avail, fmt.Sprintf(`%q:%d`, l, rapid.IntRange(-50, 2_000_000).Draw(t.rt, "available")))
			}
		}
		items = append(items, fmt.Sprintf(`{"id":"v%d","tracked":%t,"continue_selling":%t,"available":{%s}}`,
			i, rapid.IntRange(0, 5).Draw(t.rt, "tracked") > 0, rapid.IntRange(0, 5).Draw(t.rt, "continue") == 0, strings.Join(avail, ",")))
	}
	return `[` + strings.Join(items, ",") + `]`
}

// TestPreviewIsWhatComputeGives: for any shop, current settings, proposed
// settings and items, preview's "current" column is what the shop's
// compute gives now, and its "proposed" column is what it gives once the
// proposed settings are saved. Proposed settings preview refuses, saving
// refuses too. A shop with nothing to compute with yet (no settings, no
// default warehouse), whose compute answers 409, previews its first
// settings: every current side is a no_settings error.
func TestPreviewIsWhatComputeGives(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{})
	n := 0
	outer := t
	rapid.Check(t, func(rt *rapid.T) {
		t := rapidTB{outer, rt}
		n++
		id := fmt.Sprintf("shop-%d", n)
		shopBody, locations, warehouses := genShop(t)
		s.putShop(t, id, shopBody)
		path := "/v1/shops/" + id
		if rapid.Bool().Draw(t.rt, "hasCurrent") {
			// Invalid current settings are refused and leave the defaults.
			s.do(t, http.MethodPut, path+"/settings", "application/json", genSettings(t, "current", locations, warehouses))
		}
		proposed := genSettings(t, "proposed", locations, warehouses)
		items := genItems(t, locations)

		ex := s.post(t, path+"/preview", `{"settings":`+proposed+`,"items":`+items+`}`)
		beforeEx := s.post(t, path+"/compute", `{"items":`+items+`}`)
		saved := s.do(t, http.MethodPut, path+"/settings", "application/json", proposed)
		unsettled := beforeEx.status == http.StatusConflict
		switch ex.status {
		case http.StatusOK:
			if saved.status != http.StatusOK || (beforeEx.status != http.StatusOK && !unsettled) {
				t.Fatalf("preview answered 200, compute before saving %d, saving %d:\n%s\n%s", beforeEx.status, saved.status, beforeEx.body, saved.body)
			}
			if unsettled {
				if p := problemOf(t, beforeEx, http.StatusConflict); p.Type != "/problems/no-settings" {
					t.Fatalf("compute before saving: %s, want a no-settings problem", beforeEx.body)
				}
			}
		case http.StatusUnprocessableEntity:
			if saved.status != http.StatusUnprocessableEntity {
				t.Fatalf("preview answered 422, saving %d:\n%s\n%s", saved.status, ex.body, saved.body)
			}
			var pp, sp problemDoc
			decodeStrict(t, ex.body, &pp)
			decodeStrict(t, saved.body, &sp)
			// The same problems, at /settings/... in the preview body and at
			// the root of the settings body.
			if len(pp.fields()) != len(sp.fields()) {
				t.Fatalf("preview problems %v, saving problems %v", pp.fields(), sp.fields())
			}
			for i, f := range sp.fields() {
				if pp.fields()[i] != "/settings"+f {
					t.Fatalf("preview problems %v, saving problems %v", pp.fields(), sp.fields())
				}
			}
			return
		default:
			t.Fatalf("preview: %d %s", ex.status, ex.body)
		}
		var before computeResponse
		after := s.shopCompute(t, id, `{"items":`+items+`}`)
		var p previewDoc
		decodeStrict(t, ex.body, &p)
		if !unsettled {
			decodeStrict(t, beforeEx.body, &before)
		}
		if len(p.Items) != len(after.Items) || (!unsettled && len(p.Items) != len(before.Items)) {
			t.Fatalf("%d preview items, %d computed", len(p.Items), len(after.Items))
		}
		changed := 0
		for i, it := range p.Items {
			if !reflect.DeepEqual(it.Proposed.Quantities, after.Items[i].Quantities) || !reflect.DeepEqual(it.Proposed.Error, after.Items[i].Error) {
				t.Fatalf("item %s: proposed %+v, compute after saving %+v", it.ID, it.Proposed, after.Items[i])
			}
			switch {
			case unsettled:
				// Nothing computed before: a no_settings error on that side.
				if e := it.Current.Error; e == nil || e.Code != "no_settings" || it.Current.Quantities != nil {
					t.Fatalf("item %s: current %+v of a first preview, want a no_settings error", it.ID, it.Current)
				}
			case !reflect.DeepEqual(it.Current.Quantities, before.Items[i].Quantities) || !reflect.DeepEqual(it.Current.Error, before.Items[i].Error):
				t.Fatalf("item %s: current %+v, compute before saving %+v", it.ID, it.Current, before.Items[i])
			}
			if it.Changed != !reflect.DeepEqual(it.Current, it.Proposed) {
				t.Fatalf("item %s: changed %t, current %+v, proposed %+v", it.ID, it.Changed, it.Current, it.Proposed)
			}
			if it.Changed {
				changed++
			}
		}
		if p.Summary.Items != len(p.Items) || p.Summary.Changed != changed {
			t.Fatalf("summary %+v for %d items, %d changed", p.Summary, len(p.Items), changed)
		}
		if unsettled && (p.Summary.Failed.Current != len(p.Items) || len(p.Summary.Warehouses) != 0) {
			t.Fatalf("summary %+v of a first preview: want every current side failed, no units compared", p.Summary)
		}
		// Units per warehouse add up to the difference of the totals.
		for _, wh := range warehouses {
			if unsettled {
				break
			}
			var cur, prop int64
			for _, it := range p.Items {
				for _, q := range it.Current.Quantities {
					if q.Warehouse == wh {
						cur += q.Quantity
					}
				}
				for _, q := range it.Proposed.Quantities {
					if q.Warehouse == wh {
						prop += q.Quantity
					}
				}
			}
			d := p.Summary.Warehouses[wh]
			if d.Added-d.Removed != prop-cur {
				t.Fatalf("warehouse %s: added %d removed %d, totals %d -> %d", wh, d.Added, d.Removed, cur, prop)
			}
		}
		if !reflect.DeepEqual(p.Warnings.Proposed, nilIfEmpty(after.Warnings)) && !(len(p.Warnings.Proposed) == 0 && len(after.Warnings) == 0) {
			t.Fatalf("proposed warnings %+v, compute after saving %+v", p.Warnings.Proposed, after.Warnings)
		}
	})
}

func nilIfEmpty(w []warning) []warning {
	if len(w) == 0 {
		return nil
	}
	return w
}

// TestPreviewRequest: what preview refuses, and that it stores nothing.
func TestPreviewRequest(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{})
	s.putShop(t, "p", seedShopBody)
	s.putSettings(t, "p", `{"percentage":80}`)
	tests := []struct {
		body   string
		status int
		field  string
	}{
		{`{"items":[]}`, 422, "/settings"},
		{`{"settings":{"percentage":"80"},"items":[]}`, 400, "/settings/percentage"},
		{`{"settings":{},"items":[],"locations":[]}`, 400, "/locations"},
		{`{"settings":{"mappings":[{"location":"Q","warehouse":"alpha"}]},"items":[]}`, 422, "/settings/mappings/0/location"},
		// Without items it previews the shop's catalog, and still checks
		// the settings.
		{`{"settings":{"mappings":[{"location":"Q","warehouse":"alpha"}]}}`, 422, "/settings/mappings/0/location"},
		{`{"items":null}`, 422, "/settings"},
	}
	for _, tt := range tests {
		p := problemOf(t, s.post(t, "/v1/shops/p/preview", tt.body), tt.status)
		if f := p.fields(); len(f) == 0 || f[0] != tt.field {
			t.Errorf("%s: fields %v, want %s", tt.body, f, tt.field)
		}
	}
	var cur settingsDoc
	decodeStrict(t, s.do(t, http.MethodGet, "/v1/shops/p/settings", "", "").body, &cur)
	if cur.Version != 1 {
		t.Errorf("preview changed the settings: %+v", cur)
	}
	var ok previewDoc
	ex := s.post(t, "/v1/shops/p/preview", `{"settings":{"percentage":50},"items":[{"id":"v","available":{"A":10}}]}`)
	decodeStrict(t, ex.body, &ok)
	want, _ := json.Marshal(ok.Summary)
	if ok.Summary.Changed != 1 || ok.Summary.Warehouses["alpha"].Removed != 3 { // 8 -> 5
		t.Errorf("summary %s, want alpha 8 -> 5", want)
	}
}

// rapidTB lets the test helpers fail a rapid property, which then shrinks;
// the rest of testing.TB is the test's.
type rapidTB struct {
	testing.TB
	rt *rapid.T
}

func (t rapidTB) Helper()                           {}
func (t rapidTB) Fatal(args ...any)                 { t.rt.Fatal(args...) }
func (t rapidTB) Fatalf(format string, args ...any) { t.rt.Fatalf(format, args...) }
func (t rapidTB) Error(args ...any)                 { t.rt.Error(args...) }
func (t rapidTB) Errorf(format string, args ...any) { t.rt.Errorf(format, args...) }
func (t rapidTB) Log(args ...any)                   { t.rt.Log(args...) }
func (t rapidTB) Logf(format string, args ...any)   { t.rt.Logf(format, args...) }

// TestPreviewCatalogThroughAPI: a preview without items covers the shop's
// imported catalog: the summary counts every variant, and the items listed
// are those that change most, with their SKU.
func TestPreviewCatalogThroughAPI(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{})
	s.putShop(t, "p", seedShopBody)
	s.putSettings(t, "p", `{"percentage":80}`)
	var variants []shop.Variant
	for i := range 30 {
		variants = append(variants, shop.Variant{ID: fmt.Sprint(1000 + i), SKU: fmt.Sprintf("S-%d", i), Tracked: true,
			InventoryPolicy: "DENY", Available: map[string]int{"A": 10 * i}})
	}
	if err := s.store.PutVariants(context.Background(), "p", 1, variants); err != nil {
		t.Fatal(err)
	}
	var got previewDoc
	decodeStrict(t, s.post(t, "/v1/shops/p/preview", `{"settings":{"percentage":50}}`).body, &got)
	// 80% to 50% of 10i: floor(8i) - floor(5i) = 3i units removed.
	if got.Summary.Items != 30 || got.Summary.Changed != 29 || got.Summary.Warehouses["alpha"].Removed != 3*29*30/2 {
		t.Errorf("summary %+v, want 30 items, 29 changed, %d units removed from alpha", got.Summary, 3*29*30/2)
	}
	if len(got.Items) != shop.PreviewTop || got.Items[0].ID != "1029" || got.Items[0].SKU != "S-29" {
		t.Errorf("%d items listed, the first %+v; want %d, the first 1029 (S-29)", len(got.Items), got.Items[0], shop.PreviewTop)
	}
}
