package httpapi_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/syncrules/syncrules/host/internal/fakes/catalog"
)

// TestSyncItemsBySKU: ?sku= finds the variants a merchant knows by their
// seller SKU (the page's "why this number" search): the one linked
// variant of a SKU, both variants of a duplicate one page by page, none
// for an unknown SKU, combined with ?status=; a SKU filter on the TikTok
// side is refused, naming sku.
func TestSyncItemsBySKU(t *testing.T) {
	p := startPlatforms(t, catalog.Options{Products: 40, Variants: 3, Locations: 2, Seed: 5})
	s := newServer(t, loadRule(t), serverConfig{platforms: p.platforms})
	s.putShop(t, "acme", `{"shopify_domain":"`+p.shopify.ShopDomain()+`"}`)
	if ex := s.do(t, http.MethodPut, "/v1/shops/acme/credentials", "application/json", p.credentials(nil)); ex.status != http.StatusOK {
		t.Fatalf("credentials: %d %s", ex.status, ex.body)
	}
	s.connect(t, "acme")
	if st := s.waitRun(t, "acme"); st.Run.State != "succeeded" {
		t.Fatalf("connect: %+v", st.Run)
	}
	link := p.catalog.Links[len(p.catalog.Links)/2]
	ids := func(query string, limit int) []string {
		t.Helper()
		var out []string
		for _, v := range variantsOf(t, s.items(t, "acme", query, limit)) {
			out = append(out, number(v.VariantID))
		}
		return out
	}
	var duplicates []string
	for _, pr := range p.catalog.Products {
		for _, v := range pr.Variants {
			if v.SKU == catalog.DuplicateSKU {
				duplicates = append(duplicates, number(v.ID))
			}
		}
	}
	slices.Sort(duplicates)
	if len(duplicates) < 2 {
		t.Fatalf("the catalog has %d variants with %s, want at least 2", len(duplicates), catalog.DuplicateSKU)
	}
	tests := []struct {
		query string
		limit int
		want  []string
	}{
		{"sku=" + link.SellerSKU, 10, []string{number(link.VariantID)}},
		{"sku=" + link.SellerSKU + "&status=linked", 10, []string{number(link.VariantID)}},
		{"sku=" + link.SellerSKU + "&status=conflict", 10, nil},
		{"sku=" + catalog.DuplicateSKU, 1, duplicates},
		{"sku=" + catalog.DuplicateSKU + "&status=conflict", 10, duplicates},
		{"sku=NO-SUCH-SKU", 10, nil},
	}
	for _, tt := range tests {
		got := ids(tt.query, tt.limit)
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("items?%s (limit %d): %v, want %v", tt.query, tt.limit, got, tt.want)
		}
	}
	// The document cannot say that sku excludes side=tiktok: sent
	// without its checks.
	pr := problemOf(t, s.rawGet(t, "/v1/shops/acme/sync/items?side=tiktok&sku=X"), http.StatusBadRequest)
	if !slices.Equal(pr.fields(), []string{"sku"}) {
		t.Errorf("sku on the TikTok side: fields %v, want [sku]", pr.fields())
	}
	problemOf(t, s.do(t, http.MethodGet, "/v1/shops/nope/sync/items?sku=X", "", ""), http.StatusNotFound)
}
